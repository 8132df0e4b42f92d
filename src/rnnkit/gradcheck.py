"""Check hand-derived gradients against central finite differences (float64).

For a scalar function ``f`` of arrays ``x``, the numerical gradient of one entry is

    df/dx_i  ~=  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

with an error of order ``eps**2`` (truncation) plus ``|f| * 1e-16 / eps`` (rounding).
``gradcheck`` perturbs every entry of every named array in place, compares with the
analytic gradient and reports, per array, the *relative error*

    max_i |analytic_i - numeric_i|  /  max(max_i |analytic_i|, max_i |numeric_i|)

which is scale-free and robust to entries that are themselves near zero. A correct
backward pass in float64 gives errors around 1e-9 to 1e-11; a wrong one, 1e-2 or more.

Typical use, with a random upstream gradient ``dy`` turning outputs into a scalar::

    def loss():
        y, _ = layer(x)
        return float(np.sum(y * dy))

    layer.zero_grad(); y, _ = layer(x); dx, _ = layer.backward(dy)
    arrays = {"x": x, **layer.parameters()}
    grads = {"x": dx, **layer.grads}
    result = gradcheck(loss, arrays, grads)
    assert result.max_error < 1e-6, result
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class GradcheckResult:
    """Relative error per checked array; ``max_error`` over all of them."""

    errors: dict[str, float] = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        """The largest error; a NaN among them counts as inf (``max`` would skip it after a number)."""
        return max((error if error == error else float("inf") for error in self.errors.values()), default=0.0)

    @property
    def worst(self) -> str:
        return max(self.errors, key=self.errors.get) if self.errors else ""

    def __str__(self) -> str:
        rows = ", ".join(f"{name}: {err:.2e}" for name, err in self.errors.items())
        return f"gradcheck max relative error {self.max_error:.2e} ({self.worst}); {rows}"


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``f()`` with respect to ``x``, perturbing ``x`` in place."""
    if x.dtype != np.float64:
        raise TypeError(f"gradcheck needs float64 arrays, got {x.dtype}")
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)  # views into x and grad
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + eps
        f_plus = f()
        flat_x[i] = original - eps
        f_minus = f()
        flat_x[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max |a - n| / max(max |a|, max |n|); 0 when both are exactly zero; inf when either holds a NaN or
    an infinity (a gradient, or a function, that is not finite fails every check)."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    if analytic.shape != numeric.shape:
        raise ValueError(f"shape mismatch: analytic {analytic.shape}, numeric {numeric.shape}")
    if not (np.isfinite(analytic).all() and np.isfinite(numeric).all()):
        return float("inf")
    scale = max(np.max(np.abs(analytic), initial=0.0), np.max(np.abs(numeric), initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric)) / scale)


def gradcheck(
    f: Callable[[], float],
    arrays: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    eps: float = 1e-6,
) -> GradcheckResult:
    """Compare ``analytic[name]`` with the numerical gradient of ``f`` for every array.

    ``arrays`` are perturbed in place (and restored), so ``f`` must read them:
    pass the very arrays the computation uses (a layer's ``parameters()``, its input).
    """
    result = GradcheckResult()
    for name, x in arrays.items():
        if name not in analytic:
            raise KeyError(f"no analytic gradient for {name!r}")
        numeric = numerical_gradient(f, x, eps)
        result.errors[name] = relative_error(analytic[name], numeric)
    return result
