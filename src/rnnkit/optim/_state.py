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
    if not isinstance(state, dict) or state.get("type") != kind:
        saved = state.get("type", "an unknown type") if isinstance(state, dict) else "an unknown type"
        raise CheckpointError(
            f"the saved state is for {saved}, not {kind}; "
            f"resume with the same {kind.lower()} settings or start afresh"
        )
    missing = [name for name in names if name not in state]
    if missing:
        raise CheckpointError(f"the saved {kind} state lacks {', '.join(missing)}")
    wrong = [name for name in names if not _same_kind(state[name], getattr(obj, name))]
    if wrong:
        raise CheckpointError(
            f"the saved {kind} state has malformed {', '.join(wrong)} "
            f"(expected {', '.join(repr(getattr(obj, name)) for name in wrong)} or alike): it is damaged"
        )
    for name in names:
        value = state[name]
        setattr(obj, name, tuple(value) if isinstance(getattr(obj, name), tuple) else value)


def _same_kind(value, current) -> bool:
    """Whether a loaded ``value`` can replace ``current``: a number for a number, a number or None
    for None, a bool for a bool, a list as long as a tuple and made of the same kinds."""
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, tuple):
        return isinstance(value, list) and len(value) == len(current) and all(map(_same_kind, value, current))
    if isinstance(current, (int, float)):
        return isinstance(value, (int, float))
    if current is None:                       # a value not known yet, e.g. the best metric so far
        return value is None or isinstance(value, (int, float))
    return type(value) is type(current)
