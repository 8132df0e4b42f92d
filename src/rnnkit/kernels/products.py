"""Matrix products for one time step of generation, where a call into NumPy costs more than the work."""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.fastmath import KERNEL, ZERO


@njit(**KERNEL)
def project(x, weight, out):
    """out = x weight^T, for x (B, K) and weight (N, K): one dot product per output.

    For a batch of one this is a matrix-vector product, which reads every weight
    once: its speed is that of memory, and on one thread that of NumPy's (1 MB of
    float32 weights in ~15 us here). What it saves is the call into NumPy.
    It runs on one thread: numba's ``parallel=True`` was faster (~11 us) but its
    compiled code, cached on disk, crashed when loaded with another thread count.
    """
    batch, inputs = x.shape
    for b in range(batch):
        row, result = x[b], out[b]
        for n in range(weight.shape[0]):
            weights, total = weight[n], ZERO
            for k in range(inputs):
                total += weights[k] * row[k]
            result[n] = total
