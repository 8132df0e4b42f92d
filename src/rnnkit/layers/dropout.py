"""Inverted dropout: zero each unit with probability p in training, scale the rest by 1/(1-p).

With a mask M drawn once per forward, M_i = 1/(1-p) with probability 1-p and 0 otherwise,

    forward:   y = x * M          (so E[y] = x: nothing to rescale at evaluation time)
    backward:  dx = dy * M        (the same mask)

In evaluation mode, or with p = 0, dropout is the identity. ``dropout_mask`` draws M
for this layer and for the recurrent layers, between their layers.

Variational ("locked") dropout (Gal & Ghahramani 2016) draws one mask per sequence and
applies it at every time step: for x (T, B, N), M is (1, B, N) and

    y_t = x_t * M  for every t          dx_t = dy_t * M

(``locked_dropout_mask``; the recurrent layers' ``input_dropout``, ``locked_dropout`` and
``output_dropout``, see ``rnnkit.layers.regularisers``).
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
        self._mask = dropout_mask(self.rng, x.shape, self.p, x.dtype)
        return x * self._mask

    __call__ = forward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dy -> dL/dx = dy * M, with the mask M of the last forward."""
        return dy if self._mask is None else dy * self._mask


def dropout_mask(rng: np.random.Generator, shape: tuple[int, ...], p: float, dtype,
                 uniform_dtype=np.float32) -> np.ndarray:
    """M of ``shape``: 1/(1-p) where a uniform draw from ``rng`` is >= p (probability 1-p), else 0.

    ``uniform_dtype`` is the precision of the draws, which decides the random numbers
    a seed gives: ``Dropout`` draws float32, the recurrent layers float64 (as each
    always has, so that fixed-seed runs and resumed training repeat).
    """
    dtype = np.dtype(dtype)
    keep = rng.random(shape, dtype=uniform_dtype) >= p
    return keep.astype(dtype) / dtype.type(1.0 - p)


def locked_dropout_mask(rng: np.random.Generator, shape: tuple[int, ...], p: float, dtype) -> np.ndarray:
    """M (1, B, N) for a time-major (T, B, N) sequence: one mask per sequence, the same at every step.

    Drawn as ``dropout_mask`` with float64 draws, as the recurrent layers draw theirs.
    """
    return dropout_mask(rng, (1, *shape[1:]), p, dtype, uniform_dtype=np.float64)
