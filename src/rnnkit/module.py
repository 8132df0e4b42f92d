"""The base class of every layer and model: parameters, gradients, state dicts.

A ``Module`` owns NumPy arrays (its parameters) and, for each one, a gradient
array of the same shape in ``module.grads``. A layer's ``backward`` *adds* to
its gradients (as PyTorch's autograd does), ``zero_grad()`` clears them, and an
optimizer updates the parameter arrays in place.

Modules compose: assigning a Module to an attribute registers it as a child, and
``parameters()``, ``grads`` and ``state_dict()`` of the parent then hold the
child's entries under dotted names (``"rnn.weight_ih_l0"``), as in PyTorch.
"""

from __future__ import annotations

import numpy as np


class Module:
    """Parameters, gradients, train/eval mode and state dicts, shared by all layers."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_grads", {})
        object.__setattr__(self, "_modules", {})
        self.training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    # -- parameters ---------------------------------------------------------------
    def register_parameter(self, name: str, value: np.ndarray) -> np.ndarray:
        """Make ``value`` a trainable parameter with a zero gradient beside it."""
        self._parameters[name] = value
        self._grads[name] = np.zeros_like(value)
        return value

    def parameters(self) -> dict[str, np.ndarray]:
        """All parameters, children's under dotted names. The arrays themselves, not copies."""
        named = dict(self._parameters)
        for child_name, child in self._modules.items():
            for name, value in child.parameters().items():
                named[f"{child_name}.{name}"] = value
        return named

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradient arrays with the same keys as ``parameters()`` (live references)."""
        named = dict(self._grads)
        for child_name, child in self._modules.items():
            for name, value in child.grads.items():
                named[f"{child_name}.{name}"] = value
        return named

    def zero_grad(self) -> None:
        for grad in self.grads.values():
            grad.fill(0.0)

    # -- modes --------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode: dropout is active."""
        self.training = mode
        for child in self._modules.values():
            child.train(mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: dropout is the identity."""
        return self.train(False)

    def set_rng(self, rng: np.random.Generator) -> None:
        """Draw every random number (dropout masks) of this module and its children from ``rng``."""
        if hasattr(self, "rng"):
            self.rng = rng
        for child in self._modules.values():
            child.set_rng(rng)

    # -- state dicts --------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, keyed as ``parameters()``."""
        return {name: value.copy() for name, value in self.parameters().items()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters in place, checking names and shapes.

        Values may be NumPy arrays or anything ``np.asarray`` accepts (a torch
        tensor's ``.detach().numpy()``, say); they are cast to each parameter's dtype.
        """
        own = self.parameters()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise KeyError(
                f"state dict does not match {type(self).__name__}: "
                f"missing {missing or 'nothing'}, unexpected {unexpected or 'nothing'}"
            )
        for name, target in own.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"{name}: expected shape {target.shape}, got {value.shape}"
                )
            target[...] = value.astype(target.dtype, copy=False)
