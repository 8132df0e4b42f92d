"""Saving and restoring the scalar settings of optimizers and schedules as JSON-able dicts.

``scalar_state(obj, names)`` gives, say, ``{"type": "Adam", "lr": 0.001, "betas": [0.9, 0.999]}``
and ``load_scalar_state`` checks the type and that every name is present, then sets the
attributes back (lists become tuples again where the attribute is a tuple).
"""

from __future__ import annotations

from rnnkit.errors import CheckpointError


def scalar_state(obj, names: tuple[str, ...]) -> dict:
    """The attributes ``names`` of ``obj`` (numbers, tuples as lists) and its class name."""
    state = {"type": type(obj).__name__}
    for name in names:
        value = getattr(obj, name)
        state[name] = list(value) if isinstance(value, tuple) else value
    return state


def load_scalar_state(obj, state: dict, names: tuple[str, ...]) -> None:
    """Set the attributes ``names`` of ``obj`` from ``state``; CheckpointError if it doesn't fit."""
    kind = type(obj).__name__
    if state.get("type") != kind:
        raise CheckpointError(
            f"the saved state is for {state.get('type', 'an unknown type')}, not {kind}; "
            f"resume with the same {kind.lower()} settings or start afresh"
        )
    missing = [name for name in names if name not in state]
    if missing:
        raise CheckpointError(f"the saved {kind} state lacks {', '.join(missing)}")
    for name in names:
        value = state[name]
        setattr(obj, name, tuple(value) if isinstance(getattr(obj, name), tuple) else value)
