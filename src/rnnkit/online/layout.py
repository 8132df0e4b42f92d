"""Every parameter of a network as one vector θ, and each named parameter a view of it.

Real-time recurrent learning carries ∂h_t/∂θ, a (B, H, P) array over all P
parameters at once, so the parameters are laid out one after the other in θ:

    θ = [W_ih.ravel(), W_hh.ravel(), b_ih, b_hh, (w_ci, w_cf, w_co), ...]

in the order of the shapes given. ``ParameterLayout.views(θ)`` gives the named
arrays (writing them writes θ); ``block(a, name)`` the part of any array whose
last axis runs over θ that belongs to one parameter, shaped like it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnnkit.module import Module


class ParameterLayout:
    """Where each named parameter lies in θ: an offset and a shape, in the order given."""

    def __init__(self, shapes: Mapping[str, tuple[int, ...]]):
        self.shapes = dict(shapes)
        self.offsets: dict[str, int] = {}
        offset = 0
        for name, shape in self.shapes.items():
            self.offsets[name] = offset
            offset += int(np.prod(shape, dtype=np.int64))
        self.size = offset

    def span(self, name: str) -> slice:
        """The indices of ``name`` in θ."""
        start = self.offsets[name]
        return slice(start, start + int(np.prod(self.shapes[name], dtype=np.int64)))

    def block(self, a: np.ndarray, name: str) -> np.ndarray:
        """The view of ``a`` (..., P) at ``name``'s indices, shaped (..., *shape of name)."""
        return a[..., self.span(name)].reshape(a.shape[:-1] + self.shapes[name])

    def views(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Every parameter as a view of ``theta`` (P,)."""
        return {name: self.block(theta, name) for name in self.shapes}

    def flatten(self, params: Mapping[str, np.ndarray], dtype=np.float64) -> np.ndarray:
        """A new θ holding ``params`` (every name of the layout, each of its shape)."""
        theta = np.empty(self.size, dtype)
        for name, view in self.views(theta).items():
            view[...] = params[name]
        return theta


class FlatParameters(Module):
    """θ and its gradient as a Module with one parameter ``theta``: an optimizer updates it in one pass.

    rnnkit's optimizers step every parameter of a Module; stepping the single vector θ
    instead of a network's ten named views costs one pass of each update's arithmetic
    instead of ten (an online learner updates at every symbol).
    """

    def __init__(self, theta: np.ndarray, grad: np.ndarray):
        super().__init__()
        self.register_parameter("theta", theta)
        self._grads["theta"] = grad
