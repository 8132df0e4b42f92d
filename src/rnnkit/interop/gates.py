"""Gate orders: each format stacks the same gate blocks in its own order.

A weight or bias of G gates holds G blocks of H rows (PyTorch, ONNX) or columns (Keras):

    format    LSTM           GRU
    rnnkit    i, f, g, o     r, z, n      (PyTorch's)
    Keras     i, f, c, o     z, r, h      (c = g, h = n)
    ONNX      i, o, f, c     z, r, h      (LSTM peepholes P: i, o, f)

An order below lists, for each block of the target, the rnnkit block it takes.
"""

from __future__ import annotations

import numpy as np

LSTM_TO_ONNX = (0, 3, 1, 2)       # i, f, g, o -> i, o, f, c
GRU_TO_ONNX = (1, 0, 2)           # r, z, n -> z, r, h
GRU_TO_KERAS = (1, 0, 2)          # r, z, n -> z, r, h
SAME = None


def reorder_gates(a: np.ndarray, order: tuple[int, ...] | None, axis: int = 0) -> np.ndarray:
    """``a`` with its gate blocks along ``axis`` taken in ``order`` (None: unchanged)."""
    if order is None:
        return a
    blocks = np.split(a, len(order), axis=axis)
    return np.concatenate([blocks[k] for k in order], axis=axis)


def inverse(order: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The order that undoes ``order``: reorder_gates(reorder_gates(a, o), inverse(o)) == a."""
    if order is None:
        return None
    undone = [0] * len(order)
    for position, block in enumerate(order):
        undone[block] = position
    return tuple(undone)
