"""One time step of a cell, through the cell's own NumPy ``step_forward``, with its state kept.

An online learner runs a sequence one symbol at a time, and its weights may change
between steps. ``SingleStep`` holds a cache of length 1 (``cell.allocate(1, B)``):
slot 0 of each state buffer is the state before the step, slot 1 the state after,
so after a call the cache holds everything the step computed (gates, c_t, ...) for
the gradient engines to read. Between steps the state lives in slot 1:

    step(p, x_t):   state[0] = state[1];   xw = x_t W_ih^T + b_ih + b_hh;   cell.step_forward(p, W_hh^T, xw, cache, 0)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnnkit.cells.base import Cell


class SingleStep:
    """A cell's state and the buffers of its latest step, for a batch of ``batch`` streams."""

    def __init__(self, cell: Cell, batch: int, dtype=np.float64):
        self.cell = cell
        self.cache = cell.allocate(1, batch, np.dtype(dtype))
        self.buffers = cell.states(self.cache)          # per state (h, or h and c): (2, B, size)
        self.reset()

    def reset(self, states: tuple[np.ndarray, ...] | None = None) -> None:
        """Set the state: zeros, or ``states`` (one (B, size) array per state name)."""
        for k, buffer in enumerate(self.buffers):
            buffer[1] = 0.0 if states is None else states[k]

    @property
    def state(self) -> tuple[np.ndarray, ...]:
        """The current state (views of the cache; copy to keep)."""
        return tuple(buffer[1] for buffer in self.buffers)

    @property
    def previous(self) -> tuple[np.ndarray, ...]:
        """The state before the latest step."""
        return tuple(buffer[0] for buffer in self.buffers)

    def __call__(self, p: Mapping[str, np.ndarray], x_t: np.ndarray) -> np.ndarray:
        """Advance one step on input ``x_t`` (B, I) with parameters ``p``; returns h_t (B, H_out), a view."""
        for buffer in self.buffers:
            buffer[0] = buffer[1]
        xw = x_t @ p["weight_ih"].T
        xw += self.cell.input_bias(p)
        self.cell.step_forward(p, p["weight_hh"].T, xw, self.cache, 0)
        return self.buffers[0][1]
