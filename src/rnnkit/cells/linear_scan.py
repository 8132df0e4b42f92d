"""The linear recurrence of the minimal RNNs, forward and backward: two ways to solve it.

For coefficients a_t, b_t (T, B, H) and a start h_0 (B, H), every product elementwise,

    h_t = a_t * h_{t-1} + b_t                     t = 1 .. T

Backward, given dy_t = dL/dh_t from the outputs (t = 1 .. T) and dh_n from the final
state: the gradient G_t of the loss w.r.t. h_t through every later step is the same
kind of recurrence, run backwards in time,

    G_T = dy_T + dh_n,     G_t = dy_t + a_{t+1} * G_{t+1}
    da_t = G_t * h_{t-1}   db_t = G_t           dh_0 = a_1 * G_1

so the backward pass is a forward scan of the reversed sequence with coefficients
a_{t+1}, inputs dy_t and start dh_n (``reverse_scan``).

The two ways (``SCANS``):

- ``"sequential"``: the loop above, one (B, H) multiply-add per step: one rounding
  per step, any signs, O(T) steps of O(BH) work.
- ``"log"``: the log-space form of Feng et al. (2024, appendix B; Heinsen 2023), a
  prefix sum and a prefix log-sum-exp, which a parallel machine evaluates in
  O(log T) depth. With a*_t = sum_{s<=t} log a_s and b_s > 0,

      h_t = exp(a*_t) * h_0 + exp(a*_t + logcumsumexp_{s<=t}(log b_s - a*_s))

  The h_0 term is kept apart, so h_0 may have any sign (the paper's code instead
  passes it through log g, which changes a carried state). Inputs of either sign,
  as backward's dy, are split into their positive and negative parts, each
  scanned in log space: h = scan(log b+) - scan(log b-). In float32 the size of a*_t
  costs precision: relative errors of 5e-5 at a*_T = -576 (T = 1000) and 1.2e-4 at
  -1692 (T = 3000), against 1.3e-7 for the sequential loop (measured against float64).

Which one a layer runs is its ``scan`` option; ``DEFAULT_SCAN`` is the sequential
loop, which was 10-30x faster than the log-space scan on this machine's CPU (the numbers
are in ``rnnkit.layers.min_rnn``).
"""

from __future__ import annotations

import numpy as np

SCANS = ("sequential", "log")
DEFAULT_SCAN = "sequential"


def check_scan(scan: str) -> str:
    if scan not in SCANS:
        raise ValueError(f"scan must be one of {', '.join(SCANS)}, got {scan!r}")
    return scan


# -- the sequential loop ---------------------------------------------------------------------


def sequential_scan(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """h (T+1, B, H) with h[0] = h0 and h[t] = a[t-1] * h[t-1] + b[t-1] (a, b (T, B, H), 0-based)."""
    steps = a.shape[0]
    h = np.empty((steps + 1,) + h0.shape, np.result_type(a, h0))
    h[0] = h0
    for t in range(steps):
        np.multiply(a[t], h[t], out=h[t + 1])
        h[t + 1] += b[t]
    return h


# -- the log-space scan ----------------------------------------------------------------------


def log_scan(log_a: np.ndarray, log_b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """``sequential_scan(exp(log_a), exp(log_b), h0)`` in log space. ``log_a`` must be finite
    (0 < a); ``log_b`` may hold -inf (b = 0)."""
    a_star = prefix(np.add, log_a)                                     # a*_t = log prod_{s<=t} a_s
    accumulated = prefix(logaddexp, log_b - a_star)                    # logcumsumexp over time
    h = np.empty((log_a.shape[0] + 1,) + h0.shape, np.result_type(log_a, h0))
    h[0] = h0
    h[1:] = np.exp(a_star) * h0 + np.exp(a_star + accumulated)
    return h


def prefix(operation, x: np.ndarray) -> np.ndarray:
    """The running ``operation`` over time (axis 0): out[t] = operation(out[t-1], x[t]).

    A loop over t of whole (B, H) operations: NumPy's ``np.cumsum(axis=0)`` and
    ``np.logaddexp.accumulate(axis=0)`` took 22 and 70 ms on a (100, 32, 256) float32
    array here, this loop 0.19 ms (add) and ~3 ms (``logaddexp``).
    """
    out = np.empty_like(x)
    out[0] = x[0]
    for t in range(1, x.shape[0]):
        operation(out[t - 1], x[t], out=out[t])
    return out


def logaddexp(p: np.ndarray, q: np.ndarray, out: np.ndarray) -> np.ndarray:
    """log(exp(p) + exp(q)) = max(p, q) + log1p(exp(-|p - q|)), -inf where both are -inf.

    The same as ``np.logaddexp``, which took ~50 ns an element here against ~4 for these five passes.
    """
    larger = np.maximum(p, q)
    with np.errstate(invalid="ignore"):                 # -inf - -inf: NaN, replaced below
        gap = np.abs(p - q)
    np.negative(gap, out=gap)
    np.exp(gap, out=gap)
    np.log1p(gap, out=gap)
    gap += larger
    np.copyto(out, np.where(np.isnan(gap), larger, gap))
    return out


def signed_log_scan(log_a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """``log_scan`` for inputs b of either sign: the scans of b's positive and negative parts, subtracted."""
    with np.errstate(divide="ignore"):
        positive = np.log(np.maximum(b, 0.0))
        negative = np.log(np.maximum(-b, 0.0))
    return log_scan(log_a, positive, h0) - log_scan(log_a, negative, np.zeros_like(h0))


# -- backward: the same recurrence, reversed in time -----------------------------------------


def reverse_scan(a: np.ndarray, dy: np.ndarray, dh_n: np.ndarray, scan: str = DEFAULT_SCAN,
                 log_a: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(G, dh_0): G (T, B, H) the gradients w.r.t. h_1 .. h_T, and w.r.t. h_0.

    The sequential scan runs G_t = dy_t + a_{t+1} G_{t+1} from G_T = dy_T + dh_n as written.
    The log scan reads it as a forward scan of the reversed sequence, whose coefficient
    at reversed step r >= 1 is a_{T-r+1} (at r = 0 it is 1, so that the start dh_n enters
    as it is), with ``log_a`` (finite) for log a.
    """
    if scan == "log":
        reversed_log_a = np.concatenate([np.zeros_like(log_a[:1]), log_a[:0:-1]])
        G = np.ascontiguousarray(signed_log_scan(reversed_log_a, dy[::-1], dh_n)[:0:-1])
    else:
        G = np.empty(dy.shape, np.result_type(dy, dh_n))
        np.add(dy[-1], dh_n, out=G[-1])
        for t in range(dy.shape[0] - 2, -1, -1):
            np.multiply(a[t + 1], G[t + 1], out=G[t])
            G[t] += dy[t]
    return G, a[0] * G[0]
