"""The LSTM cell, with optional peephole connections and output projection.

Gates in PyTorch's order i, f, g, o (columns of z; rows of W_ih, W_hh, b_ih, b_hh).
For one step, with ``xw_t = x_t W_ih^T + b_ih + b_hh``:

    z_t = xw_t + ĥ_{t-1} W_hh^T                      pre-activations, (B, 4H); ĥ: see below
    i   = sigmoid(z_i + w_ci * c_{t-1})              input gate
    f   = sigmoid(z_f + w_cf * c_{t-1})              forget gate
    g   = tanh(z_g)                                  candidate cell
    c_t = f * c_{t-1} + i * g
    o   = sigmoid(z_o + w_co * c_t)                  output gate
    m_t = o * tanh(c_t)
    h_t = m_t                   (or m_t W_hr^T with a projection, proj_size > 0)

ĥ_{t-1} is h_{t-1}, or h_{t-1} * m_h with recurrent dropout (``rnnkit.cells.base``).
Peepholes (Gers & Schmidhuber 2002) are the diagonal weights w_ci, w_cf, w_co:
i and f see the previous cell state, o sees the new one. All zero, the cell is
exactly PyTorch's ``nn.LSTM``.

Backward, given dh and dc_next, the gradients w.r.t. h_t and c_t that flow back
from the output and from step t+1:

    dm      = dh                (or dh W_hr; dW_hr += dh^T m_t)       w.r.t. m_t
    dz_o    = dm * tanh(c_t) * o (1 - o)
    dc      = dc_next + dm * o * (1 - tanh(c_t)^2) + dz_o * w_co      all of c_t's gradient
    dz_i    = dc * g * i (1 - i)
    dz_f    = dc * c_{t-1} * f (1 - f)
    dz_g    = dc * i * (1 - g^2)
    dc_prev = dc * f + dz_i * w_ci + dz_f * w_cf                      w.r.t. c_{t-1}
    dh_prev = (dz W_hh) * m_h                                         w.r.t. h_{t-1} (no m_h: dz W_hh)
    dw_ci += sum dz_i * c_{t-1},  dw_cf += sum dz_f * c_{t-1},  dw_co += sum dz_o * c_t
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.activations import sigmoid, sigmoid_grad, tanh_grad
from rnnkit.cells.base import Cell, CellCache, FreshArrays, flat


def gates_forward(p, z, c_prev, c, gates, peephole: bool) -> np.ndarray:
    """The gates i, f, g, o (into ``gates``, (B, 4H)) from their pre-activations ``z`` (peepholes
    added to it), and the new cell state ``c`` = f * c_prev + i * g: the equations above, from i to
    o. Returns o, a view of ``gates``. The layer-normalised LSTM shares it."""
    H = c.shape[-1]
    if peephole:
        z[:, :H] += p["weight_ci"] * c_prev
        z[:, H:2 * H] += p["weight_cf"] * c_prev
    sigmoid(z[:, :2 * H], out=gates[:, :2 * H])
    np.tanh(z[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])
    input_gate, forget_gate, candidate = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H]
    np.multiply(forget_gate, c_prev, out=c)
    c += input_gate * candidate
    if peephole:
        z[:, 3 * H:] += p["weight_co"] * c
    return sigmoid(z[:, 3 * H:], out=gates[:, 3 * H:])


def gates_backward(p, dz, dc, gates, c_prev, peephole: bool) -> np.ndarray:
    """dz_i, dz_f, dz_g (into ``dz``, whose dz_o the caller has filled) from ``dc``, the gradient
    w.r.t. c_t without the peephole's term, which is added here: the equations above, from dc to
    dc_prev. Returns dc_prev."""
    H = c_prev.shape[-1]
    input_gate, forget_gate, candidate = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H]
    dz_i, dz_f, dz_g, dz_o = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:3 * H], dz[:, 3 * H:]
    if peephole:
        dc += dz_o * p["weight_co"]
    np.multiply(dc * candidate, sigmoid_grad(input_gate), out=dz_i)
    np.multiply(dc * c_prev, sigmoid_grad(forget_gate), out=dz_f)
    np.multiply(dc * input_gate, tanh_grad(candidate), out=dz_g)
    dc_prev = dc * forget_gate
    if peephole:
        dc_prev += dz_i * p["weight_ci"] + dz_f * p["weight_cf"]
    return dc_prev


def accumulate_peephole_grads(grads, dz, c) -> None:
    """dw_ci, dw_cf, dw_co summed over all steps: ``dz`` (T, B, 4H), ``c`` (T+1, B, H) the cell states."""
    H = c.shape[-1]
    grads["weight_ci"] += np.einsum("tbh,tbh->h", dz[..., :H], c[:-1])
    grads["weight_cf"] += np.einsum("tbh,tbh->h", dz[..., H:2 * H], c[:-1])
    grads["weight_co"] += np.einsum("tbh,tbh->h", dz[..., 3 * H:], c[1:])


@dataclass
class LSTMCache(CellCache):
    """The LSTM's buffers of one sequence; ``h`` (T+1, B, H_out) as every cell's."""

    c: np.ndarray                          # (T+1, B, H): c[t] the cell state before step t
    gates: np.ndarray                      # (T, B, 4H): i, f, g, o after their activations
    tanh_c: np.ndarray                     # (T, B, H): tanh(c_t)
    m: np.ndarray | None                   # (T, B, H): m_t = o * tanh(c_t), before W_hr; None without projection
    dh: np.ndarray | None                  # (T, B, P): dh at step t, kept for dW_hr; None without projection
    hidden_product: np.ndarray             # (B, 4H): h_{t-1} W_hh^T of the step running (compiled steps)
    dc_buffers: tuple[np.ndarray, np.ndarray]   # (B, H) each: dc_next and dc_prev of compiled backward steps
    dh_prev: np.ndarray                    # (B, H_out): dh_prev of compiled backward steps


class LSTMCell(Cell):
    num_gates = 4
    state_names = ("h", "c")
    masks_hidden_input = True

    def __init__(self, hidden_size: int, proj_size: int = 0, peephole: bool = False):
        super().__init__(hidden_size)
        if not 0 <= proj_size < hidden_size:
            raise ValueError(f"proj_size must be 0 or in [1, hidden_size), got {proj_size}")
        self.proj_size = proj_size
        self.peephole = peephole

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.output_size, self.hidden_size)

    def parameter_shapes(self, input_size):
        shapes = super().parameter_shapes(input_size)
        if self.peephole:
            for name in ("weight_ci", "weight_cf", "weight_co"):
                shapes[name] = (self.hidden_size,)
        if self.proj_size:
            shapes["weight_hr"] = (self.proj_size, self.hidden_size)
        return shapes

    def allocate(self, steps, batch, dtype, space=FreshArrays) -> LSTMCache:
        H = self.hidden_size
        return LSTMCache(
            h=self.new_outputs(steps, batch, dtype),
            c=space.empty("c", (steps + 1, batch, H), dtype),
            gates=space.empty("gates", (steps, batch, 4 * H), dtype),
            tanh_c=space.empty("tanh_c", (steps, batch, H), dtype),
            m=space.empty("m", (steps, batch, H), dtype) if self.proj_size else None,
            dh=space.empty("dh", (steps, batch, self.proj_size), dtype) if self.proj_size else None,
            hidden_product=space.empty("hidden_product", (batch, 4 * H), dtype),
            dc_buffers=(np.empty((batch, H), dtype), np.empty((batch, H), dtype)),
            dh_prev=np.empty((batch, self.output_size), dtype),
        )

    def step_forward(self, p, weight_hh_T, xw_t, cache: LSTMCache, t):
        z = xw_t                              # xw_t = x_t W_ih^T + b_ih + b_hh, ours to overwrite
        z += cache.hidden_input(t) @ weight_hh_T
        output_gate = gates_forward(p, z, cache.c[t], cache.c[t + 1], cache.gates[t], self.peephole)
        tanh_c = np.tanh(cache.c[t + 1], out=cache.tanh_c[t])
        if self.proj_size:
            m = np.multiply(output_gate, tanh_c, out=cache.m[t])
            cache.h[t + 1] = m @ p["weight_hr"].T
        else:
            np.multiply(output_gate, tanh_c, out=cache.h[t + 1])

    def step_backward(self, p, dstate, cache: LSTMCache, t, dxw, dhw):
        H = self.hidden_size
        dh, dc_next = dstate
        output_gate, tanh_c = cache.gates[t][:, 3 * H:], cache.tanh_c[t]
        dm = dh
        if self.proj_size:
            cache.dh[t] = dh
            dm = dh @ p["weight_hr"]

        dz = dxw[t]                           # (B, 4H), filled gate by gate
        np.multiply(dm * tanh_c, sigmoid_grad(output_gate), out=dz[:, 3 * H:])
        dc = dc_next + dm * output_gate * tanh_grad(tanh_c)
        dc_prev = gates_backward(p, dz, dc, cache.gates[t], cache.c[t], self.peephole)
        return cache.hidden_input_grad(dz @ p["weight_hh"]), dc_prev

    def accumulate_hidden_grads(self, p, grads, cache: LSTMCache, dhw):
        super().accumulate_hidden_grads(p, grads, cache, dhw)
        if self.peephole:
            accumulate_peephole_grads(grads, dhw, cache.c)
        if self.proj_size:
            grads["weight_hr"] += flat(cache.dh).T @ flat(cache.m)
