"""The vanilla (Elman) RNN cell.

Forward, for one step with input projection ``xw_t = x_t W_ih^T + b_ih + b_hh``:

    a_t = xw_t + ĥ_{t-1} W_hh^T         ĥ_{t-1} = h_{t-1} * m_h with recurrent dropout, else h_{t-1}
    h_t = act(a_t)                      act = tanh or relu

Backward, given dh (w.r.t. h_t, from the output and from step t+1):

    da      = dh * act'(a_t)            tanh: 1 - h_t^2     relu: [h_t > 0]
    dh_prev = (da W_hh) * m_h           w.r.t. h_{t-1} (no * m_h without recurrent dropout; ``cells.base``)
    (dW_ih, dW_hh, biases: summed over t after the loop, see ``Cell``)
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.activations import relu, tanh_grad
from rnnkit.cells.base import Cell


class RNNCell(Cell):
    num_gates = 1
    state_names = ("h",)
    masks_hidden_input = True

    def __init__(self, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__(hidden_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def step_forward(self, p, weight_hh_T, xw_t, cache, t):
        a = xw_t                              # xw_t = x_t W_ih^T + b_ih + b_hh, ours to overwrite
        a += cache.hidden_input(t) @ weight_hh_T
        if self.nonlinearity == "tanh":
            np.tanh(a, out=cache.h[t + 1])
        else:
            cache.h[t + 1] = relu(a)

    def step_backward(self, p, dstate, cache, t, dxw, dhw):
        (dh,) = dstate
        h = cache.step_output(t)              # h_t itself, unless zoneout mixed h_{t-1} into it
        da = dxw[t]
        if self.nonlinearity == "tanh":
            np.multiply(dh, tanh_grad(h), out=da)
        else:
            np.multiply(dh, h > 0, out=da)
        return (cache.hidden_input_grad(da @ p["weight_hh"]),)
