"""Compiled kernels (numba) for the elementwise math of one time step, in float32.

The NumPy code in ``rnnkit.cells`` is the reference: it is what the equations say,
line by line, and it runs everywhere, in float32 and float64. Its weak spot is
the gate arithmetic of a step: some fifteen NumPy calls, each a pass over a
(B, 4H) array, that cost as much as the step's matrix product. A kernel here does
the same arithmetic in one pass; the matrix products stay NumPy's.

Which steps a sequence runs is chosen once, by ``step_strategy(cell, dtype)``: the
cell's own NumPy steps (``ReferenceSteps``) or, for a float32 LSTM or reset-after
GRU, the compiled ones (``rnnkit.kernels.steps``). Both take W_hh^T from the
caller. ``tests/test_kernels.py`` checks that they agree.

Kernels run for float32 layers when numba is installed; float64 (the gradient
checks) always runs the reference. ``RNNKIT_KERNELS=numpy`` in the environment, or
``rnnkit.kernels.use("numpy")``, turns them off.

numba compiles a kernel on its first call (seconds) and caches it on disk, in
``__pycache__`` beside this package or numba's user cache. A cached kernel is
recompiled when its own file changes, not when a file it calls into does: after
editing ``fastmath.py`` or ``products.py``, delete that ``__pycache__``. Kernels are
not ``parallel=True``: numba's cached parallel code crashed here when loaded under
another ``NUMBA_NUM_THREADS``.
"""

from __future__ import annotations

import functools
import importlib
import os
import warnings

import numpy as np

from rnnkit.kernels.steps import ReferenceSteps, Steps, compiled_steps_class

BACKENDS = ("numba", "numpy")
_backend = os.environ.get("RNNKIT_KERNELS", "numba")
if _backend not in BACKENDS:
    warnings.warn(f"RNNKIT_KERNELS={_backend!r} is not one of {BACKENDS}; using numba", stacklevel=1)
    _backend = "numba"


def use(backend: str) -> None:
    """Choose ``"numba"`` (compiled kernels where a cell has them) or ``"numpy"`` (the reference)."""
    global _backend
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    _backend = backend


def backend() -> str:
    return _backend


@functools.cache
def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def compiled() -> bool:
    """Whether the compiled kernels are on (the backend is numba and numba is installed)."""
    return _backend == "numba" and numba_available()


def enabled(cell, dtype) -> bool:
    """Whether ``cell``'s steps run through the compiled kernels for arrays of ``dtype``."""
    return compiled() and np.dtype(dtype) == np.float32 and compiled_steps_class(cell) is not None


def step_strategy(cell, dtype) -> Steps:
    """The steps a sequence of ``dtype`` runs through: compiled where ``enabled``, else the NumPy reference."""
    return compiled_steps_class(cell)(cell) if enabled(cell, dtype) else ReferenceSteps(cell)


@functools.cache
def load(cell_name: str):
    """A kernel module (``"lstm"``, ``"gru"``, ``"products"``, ``"sampling"``), imported on first use:
    numba loads only then."""
    return importlib.import_module(f"rnnkit.kernels.{cell_name}")
