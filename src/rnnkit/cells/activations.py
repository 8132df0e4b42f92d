"""Elementwise nonlinearities used by the cells, and their derivatives written in terms of outputs.

    sigmoid(x) = 1 / (1 + exp(-x)) = (1 + tanh(x / 2)) / 2

The tanh form never overflows (``exp(-x)`` does for large negative float32 ``x``)
and NumPy's ``tanh`` is fast. Backward passes reuse the stored outputs:

    d sigmoid / dx = s (1 - s)        d tanh / dx = 1 - t^2        d relu / dx = [y > 0]
"""

import numpy as np


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def sigmoid_grad(s: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid at the point where it output ``s``."""
    return s * (1.0 - s)


def tanh_grad(t: np.ndarray) -> np.ndarray:
    """Derivative of tanh at the point where it output ``t``."""
    return 1.0 - t * t
