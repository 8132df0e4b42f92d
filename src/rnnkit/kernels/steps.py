"""How a cell's time steps run: its NumPy reference, or the gate arithmetic compiled.

A time loop (or a stepper) asks ``rnnkit.kernels.step_strategy(cell, dtype)`` once
for its ``Steps`` and then runs, at every step,

    steps.forward(p, weight_hh_T, xw_t, cache, t)          state t -> state t+1, in ``cache``
    dstate = steps.backward(p, dstate, cache, t, dxw, dhw)

with the cell's equations (``rnnkit.cells``) and the same arguments as the cell's
``step_forward`` / ``step_backward``. ``weight_hh_T`` is W_hh^T as the caller holds
it: a time loop, whose weights stay put while it runs, asks ``steps.weight_hh_T(p)``
once (the compiled steps' product is ~25 % faster on a contiguous copy); a stepper,
whose weights may train between its steps, passes the view ``p["weight_hh"].T``.

The compiled steps do the products in NumPy and the elementwise gate arithmetic
in one call of a numba kernel (``rnnkit.kernels.lstm``, ``rnnkit.kernels.gru``),
which this module loads on first use only. Recurrent dropout lives in those NumPy
products (ĥ_{t-1} W_hh^T and (dhw W_hh) * m_h, ``rnnkit.cells.base``), so the kernels
need nothing for it; zoneout and weight dropout happen outside the steps
(``rnnkit.layers.zoneout``, ``rnnkit.layers.weight_drop``).
"""

from __future__ import annotations

import numpy as np

from rnnkit import kernels
from rnnkit.cells.base import Cell
from rnnkit.cells.gru import GRUCache, GRUCell
from rnnkit.cells.lstm import LSTMCache, LSTMCell


class Steps:
    """The interface: ``forward`` and ``backward`` of one step, and the W_hh^T a sequence passes."""

    compiled = False

    def __init__(self, cell: Cell):
        self.cell = cell

    def weight_hh_T(self, p) -> np.ndarray:
        """W_hh^T for a whole sequence, whose weights do not change while it runs."""
        return p["weight_hh"].T

    def forward(self, p, weight_hh_T, xw_t, cache, t) -> None:
        raise NotImplementedError

    def backward(self, p, dstate, cache, t, dxw, dhw) -> tuple[np.ndarray, ...]:
        raise NotImplementedError


class ReferenceSteps(Steps):
    """The cell's own NumPy steps: what the equations say, in float32 and float64."""

    def forward(self, p, weight_hh_T, xw_t, cache, t) -> None:
        self.cell.step_forward(p, weight_hh_T, xw_t, cache, t)

    def backward(self, p, dstate, cache, t, dxw, dhw) -> tuple[np.ndarray, ...]:
        return self.cell.step_backward(p, dstate, cache, t, dxw, dhw)


class CompiledSteps(Steps):
    """Compiled gate arithmetic; the matrix products stay NumPy's."""

    compiled = True

    def weight_hh_T(self, p) -> np.ndarray:
        """A contiguous copy of W_hh^T: h_{t-1} W_hh^T is ~25 % faster on it than on the view."""
        return np.ascontiguousarray(p["weight_hh"].T)


class CompiledLSTMSteps(CompiledSteps):
    """``LSTMCell.step_forward`` / ``step_backward``, the lines from the sigmoids to m_t in one kernel call."""

    def __init__(self, cell: LSTMCell):
        super().__init__(cell)
        self._zeros: dict = {}      # dtype -> zeros (H,): the peepholes of a cell without them

    def forward(self, p, weight_hh_T, xw_t, cache: LSTMCache, t) -> None:
        lstm = kernels.load("lstm")
        hidden_product = np.dot(cache.hidden_input(t), weight_hh_T, out=cache.hidden_product)
        m = cache.m[t] if self.cell.proj_size else cache.h[t + 1]
        lstm.forward(xw_t, hidden_product, cache.c[t], *self.peepholes(p),
                     cache.gates[t], cache.c[t + 1], cache.tanh_c[t], m)
        if self.cell.proj_size:
            np.dot(m, p["weight_hr"].T, out=cache.h[t + 1])

    def backward(self, p, dstate, cache: LSTMCache, t, dxw, dhw) -> tuple[np.ndarray, ...]:
        lstm = kernels.load("lstm")
        dh, dc_next = dstate
        dm = dh
        if self.cell.proj_size:
            cache.dh[t] = dh
            dm = dh @ p["weight_hr"]
        # dc_prev goes to the buffer that does not hold dc_next: the kernel's loop stays
        # vectorised only when its output does not alias an input (4x slower if it does)
        dc_prev = cache.dc_buffers[dc_next is cache.dc_buffers[0]]
        lstm.backward(dm, dc_next, cache.gates[t], cache.c[t], cache.tanh_c[t], *self.peepholes(p),
                      dxw[t], dc_prev)
        return cache.hidden_input_grad(np.dot(dxw[t], p["weight_hh"], out=cache.dh_prev)), dc_prev

    def peepholes(self, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w_ci, w_cf, w_co) as the kernels take them; zeros without peepholes."""
        if self.cell.peephole:
            return p["weight_ci"], p["weight_cf"], p["weight_co"]
        dtype = p["weight_hh"].dtype
        zeros = self._zeros.get(dtype)
        if zeros is None:
            zeros = self._zeros[dtype] = np.zeros(self.cell.hidden_size, dtype)
        return zeros, zeros, zeros


class CompiledGRUSteps(CompiledSteps):
    """``GRUCell.step_forward`` / ``step_backward`` (reset after), the gate arithmetic in one kernel call."""

    def forward(self, p, weight_hh_T, xw_t, cache: GRUCache, t) -> None:
        gru = kernels.load("gru")
        hidden_product = np.dot(cache.hidden_input(t), weight_hh_T, out=cache.hidden_product)
        gru.forward(xw_t, hidden_product, p["bias_hh"][2 * self.cell.hidden_size:], cache.h[t],
                    cache.gates[t], cache.reset_term[t], cache.h[t + 1])

    def backward(self, p, dstate, cache: GRUCache, t, dxw, dhw) -> tuple[np.ndarray, ...]:
        gru = kernels.load("gru")
        (dh,) = dstate
        gru.backward(dh, cache.gates[t], cache.reset_term[t], cache.h[t], dxw[t], dhw[t], cache.dh_prev)
        cache.dh_prev += cache.hidden_input_grad(np.dot(dhw[t], p["weight_hh"], out=cache.dh_product))
        return (cache.dh_prev,)


def compiled_steps_class(cell: Cell) -> type[CompiledSteps] | None:
    """The compiled steps of ``cell``: an LSTM's, a reset-after GRU's; None for the others."""
    if isinstance(cell, LSTMCell):
        return CompiledLSTMSteps
    if isinstance(cell, GRUCell) and cell.reset_after:
        return CompiledGRUSteps
    return None
