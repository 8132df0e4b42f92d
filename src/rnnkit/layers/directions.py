"""A bidirectional layer's two directions at once, on two threads.

The two directions of a layer read the same input and share nothing else: each has
its own parameters, gradients, buffers and time loop. Their loops are mostly BLAS
products and compiled kernels, which release the GIL, so on two cores they can run
side by side: the forward direction on the calling thread, the reverse one on a
worker, each with one BLAS thread, the two threads that BLAS would otherwise have
shared within each product. One after the other, the small per-step products of a
bidirectional layer split each over two BLAS threads that meet at every call;
side by side, each thread runs its own loop without waiting for the other.

They run side by side when (``concurrent``):
- the cell's steps are compiled (``rnnkit.kernels.enabled``: a float32 LSTM or
  reset-after GRU with the kernels on). The NumPy steps make a dozen small NumPy
  calls a step, between which the two threads wait for each other's GIL: an RNN
  20×20×200×200 took 5.3 ms on two threads against 4.2 one after the other; and the
  NumPy reference (``RNNKIT_KERNELS=numpy``) stays one direction after the other;
- a step's product is not small (``SMALL_PRODUCT`` multiply-adds or more): at
  1×25×100×100 handing the reverse direction to the worker cost more than it saved
  (an LSTM 1.47 against 0.92 ms);
- NumPy's BLAS may use two threads or more (``blas_threads``): whoever limits it to
  one, with ``OPENBLAS_NUM_THREADS=1`` or threadpoolctl, gets one thread in all; and
- nobody turned them off with ``allow(False)`` (benchmarks do, to compare).

Whatever a direction draws from the layer's random generator is drawn before either
runs, in the order of the sequential code, so results do not depend on the threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from rnnkit import kernels
from rnnkit.layers.time_loop import SMALL_PRODUCT, BlasThreads, blas_threads, step_product

Result = TypeVar("Result")
_worker: ThreadPoolExecutor | None = None
_allowed = True


def allow(on: bool) -> None:
    """Let the directions run at once where they can (True, the default), or never (False)."""
    global _allowed
    _allowed = bool(on)


def concurrent(cell, batch: int, dtype) -> bool:
    """Whether a layer of ``cell`` runs its two directions at once on a batch of ``batch`` in ``dtype``."""
    return (_allowed and kernels.enabled(cell, dtype) and step_product(cell, batch) >= SMALL_PRODUCT
            and blas_threads() >= 2)


def both(first: Callable[[], Result], second: Callable[[], Result], at_once: bool) -> tuple[Result, Result]:
    """``(first(), second())``; with ``at_once``, the two on two threads, each with one BLAS thread."""
    if not at_once:
        return first(), second()
    with BlasThreads(1):
        future = worker().submit(second)
        try:
            result = first()
        finally:
            second_result = future.result()       # wait for it even if first raised
    return result, second_result


def worker() -> ThreadPoolExecutor:
    global _worker
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-reverse")
    return _worker


def _forget_worker() -> None:
    """A forked child has no worker thread: it makes its own on first use."""
    global _worker
    _worker = None


os.register_at_fork(after_in_child=_forget_worker)
