"""tanh and sigmoid for the compiled kernels: float32, branch-free, so that loops vectorise.

numba compiles ``math.tanh`` to a scalar library call (~25 ns an element here, against
~0.4 ns for NumPy's SIMD ``np.tanh``), which stops the loop around it from being
vectorised. These replace it with arithmetic only:

    tanh(x) ~= x P(x^2) / Q(x^2)        for |x| <= CLIP, and +-1 beyond

P has degree 6 and Q degree 3 in u = x^2 (numerator odd of degree 13, denominator
even of degree 6). The coefficients were fitted here to minimise the relative error
on [0, CLIP] (iterated linearised least squares, Q's coefficients kept positive so
that it has no root): relative error 1.7e-9 in exact arithmetic, and at most
3.3e-7 absolute when evaluated in float32 (NumPy's own float32 tanh: 6e-8).
``CLIP`` is where float32 tanh rounds to 1. ``tests/test_kernels.py`` checks the
accuracy over the float32 range.

    sigmoid(x) = (1 + tanh(x / 2)) / 2
"""

from __future__ import annotations

import numpy as np
from numba import float32, njit

CLIP = float32(7.90531110763549805)
P0, P1, P2, P3 = float32(0.9999999994393395), float32(0.13129583819823062), \
    float32(0.003155269195087666), float32(1.1706537830772214e-05)
P4, P5, P6 = float32(-2.2595520647273814e-08), float32(6.51763369259951e-11), float32(-1.2018401310603967e-13)
Q1, Q2, Q3 = float32(0.46462916047505093), float32(0.024698344594815205), float32(0.00026216945429335855)
ONE, HALF, ZERO = float32(1.0), float32(0.5), float32(0.0)

# error_model="numpy": a division by zero gives inf instead of a Python exception; the
# check for the exception is what stops LLVM from vectorising a loop with a division.
# nogil: the time loop runs slices of the batch on threads at once.
KERNEL = dict(fastmath=True, error_model="numpy", cache=True, nogil=True)


@njit(inline="always", **KERNEL)
def tanh(x):
    x = min(max(x, -CLIP), CLIP)
    u = x * x
    numerator = ((((((P6 * u + P5) * u + P4) * u + P3) * u + P2) * u + P1) * u + P0)
    denominator = ((Q3 * u + Q2) * u + Q1) * u + ONE
    return x * numerator / denominator


@njit(inline="always", **KERNEL)
def sigmoid(x):
    return HALF + HALF * tanh(HALF * x)


@njit(inline="always")
def gate(a, b, k, hidden):
    """Row ``b`` of a (B, gates*H) array, gate block ``k``: a contiguous (H,) view.

    Kernels read and write every gate through its own view, never as ``row[k*H + j]``:
    with offsets into one row LLVM cannot prove that the stores miss the loads, and
    the loop stays scalar (measured 5-8x slower).
    """
    return a[b, k * hidden:(k + 1) * hidden]


@njit(**KERNEL)
def tanh_array(x, out):
    """``out[:] = tanh(x)`` for 1-D arrays: what the tests measure the approximation on."""
    for j in range(x.shape[0]):
        out[j] = tanh(x[j])


def approximate_tanh(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32).ravel()
    out = np.empty_like(x)
    tanh_array(x, out)
    return out
