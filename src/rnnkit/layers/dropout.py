"""Inverted dropout: zero each unit with probability p in training, scale the rest by 1/(1-p).

With a mask M drawn once per forward, M_i = 1/(1-p) with probability 1-p and 0 otherwise,

    forward:   y = x * M          (so E[y] = x: nothing to rescale at evaluation time)
    backward:  dx = dy * M        (the same mask)

In evaluation mode, or with p = 0, dropout is the identity.
"""

from __future__ import annotations

import numpy as np

from rnnkit.module import Module


class Dropout(Module):
    """Inverted dropout with drop probability ``p`` in [0, 1); no parameters."""

    def __init__(self, p: float, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p: dropout probability must lie in [0, 1), got {p}")
        self.p = p
        self.rng = np.random.default_rng(rng)
        self._mask: np.ndarray | None = None  # M, or None when dropout is the identity

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x * M in training mode; ``x`` itself (no copy) in evaluation mode or with p = 0."""
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self._mask = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self._mask

    __call__ = forward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dy -> dL/dx = dy * M, with the mask M of the last forward."""
        return dy if self._mask is None else dy * self._mask
