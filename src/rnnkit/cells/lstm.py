"""The LSTM cell, with optional peephole connections and output projection.

Gates in PyTorch's order i, f, g, o (rows of W_ih, W_hh, b_ih, b_hh). For one step,
with ``xw_t = W_ih x_t + b_ih``:

    z_t = xw_t + W_hh h_{t-1} + b_hh                 pre-activations, (B, 4H)
    i   = sigmoid(z_i + w_ci * c_{t-1})              input gate
    f   = sigmoid(z_f + w_cf * c_{t-1})              forget gate
    g   = tanh(z_g)                                  candidate cell
    c_t = f * c_{t-1} + i * g
    o   = sigmoid(z_o + w_co * c_t)                  output gate
    m_t = o * tanh(c_t)
    h_t = m_t                   (or W_hr m_t with a projection, proj_size > 0)

Peepholes (Gers & Schmidhuber 2002) are the diagonal weights w_ci, w_cf, w_co:
i and f see the previous cell state, o sees the new one. All zero, the cell is
exactly PyTorch's ``nn.LSTM``.

Backward, given dh_t and dc_t (what flows back from step t+1 and the output):

    dm    = dh_t                (or W_hr^T dh_t; dW_hr += dh_t m_t^T)
    dz_o  = dm * tanh(c_t) * o (1 - o)
    dc    = dc_t + dm * o * (1 - tanh(c_t)^2) + dz_o * w_co
    dz_i  = dc * g * i (1 - i)
    dz_f  = dc * c_{t-1} * f (1 - f)
    dz_g  = dc * i * (1 - g^2)
    dc_{t-1} = dc * f + dz_i * w_ci + dz_f * w_cf
    dh_{t-1} = W_hh^T dz
    dw_ci += sum dz_i * c_{t-1},  dw_cf += sum dz_f * c_{t-1},  dw_co += sum dz_o * c_t
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.activations import sigmoid, sigmoid_grad, tanh_grad
from rnnkit import kernels
from rnnkit.cells.base import Cell, FreshArrays, flat


class LSTMCell(Cell):
    num_gates = 4
    state_names = ("h", "c")
    has_fused_step = True          # fused_step_forward/backward: rnnkit.kernels.lstm

    def __init__(self, hidden_size: int, proj_size: int = 0, peephole: bool = False):
        super().__init__(hidden_size)
        if not 0 <= proj_size < hidden_size:
            raise ValueError(f"proj_size must be 0 or in [1, hidden_size), got {proj_size}")
        self.proj_size = proj_size
        self.peephole = peephole
        self._zeros: dict = {}      # dtype -> zeros (H,): the peepholes of a cell without them

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

    def allocate(self, steps, batch, dtype, space=FreshArrays):
        cache = super().allocate(steps, batch, dtype, space)
        H = self.hidden_size
        cache.gates = space.empty("gates", (steps, batch, 4 * H), dtype)   # i, f, g, o after activation
        cache.tanh_c = space.empty("tanh_c", (steps, batch, H), dtype)
        cache.hidden_product = space.empty("hidden_product", (batch, 4 * H), dtype)  # W_hh h_{t-1}, one step
        if self.proj_size:
            cache.m = space.empty("m", (steps, batch, H), dtype)               # o * tanh(c), before W_hr
            cache.dh = space.empty("dh", (steps, batch, self.proj_size), dtype)
        return cache

    def step_forward(self, p, xw_t, cache, t):
        H = self.hidden_size
        h_prev, c_prev, c = cache.h[t], cache.c[t], cache.c[t + 1]
        z = xw_t                              # xw_t = W_ih x_t + b_ih + b_hh, ours to overwrite
        z += h_prev @ p["weight_hh"].T
        if self.peephole:
            z[:, :H] += p["weight_ci"] * c_prev
            z[:, H:2 * H] += p["weight_cf"] * c_prev
        gates = cache.gates[t]
        sigmoid(z[:, :2 * H], out=gates[:, :2 * H])
        np.tanh(z[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])
        input_gate, forget_gate, candidate = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H]

        np.multiply(forget_gate, c_prev, out=c)
        c += input_gate * candidate
        if self.peephole:
            z[:, 3 * H:] += p["weight_co"] * c
        output_gate = sigmoid(z[:, 3 * H:], out=gates[:, 3 * H:])
        tanh_c = np.tanh(c, out=cache.tanh_c[t])
        if self.proj_size:
            m = np.multiply(output_gate, tanh_c, out=cache.m[t])
            cache.h[t + 1] = m @ p["weight_hr"].T
        else:
            np.multiply(output_gate, tanh_c, out=cache.h[t + 1])

    def step_backward(self, p, dstate, cache, t, dxw, dhw):
        H = self.hidden_size
        dh, dc_next = dstate
        gates = cache.gates[t]
        input_gate, forget_gate = gates[:, :H], gates[:, H:2 * H]
        candidate, output_gate = gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        c_prev, tanh_c = cache.c[t], cache.tanh_c[t]
        if self.proj_size:
            cache.dh[t] = dh
            dh = dh @ p["weight_hr"]          # gradient w.r.t. m_t = o * tanh(c_t)

        dz = dxw[t]                           # (B, 4H), filled gate by gate
        dz_i, dz_f, dz_g, dz_o = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:3 * H], dz[:, 3 * H:]
        np.multiply(dh * tanh_c, sigmoid_grad(output_gate), out=dz_o)
        dcell = dc_next + dh * output_gate * tanh_grad(tanh_c)
        if self.peephole:
            dcell += dz_o * p["weight_co"]
        np.multiply(dcell * candidate, sigmoid_grad(input_gate), out=dz_i)
        np.multiply(dcell * c_prev, sigmoid_grad(forget_gate), out=dz_f)
        np.multiply(dcell * input_gate, tanh_grad(candidate), out=dz_g)

        dc_prev = dcell * forget_gate
        if self.peephole:
            dc_prev += dz_i * p["weight_ci"] + dz_f * p["weight_cf"]
        return dz @ p["weight_hh"], dc_prev

    def accumulate_hidden_grads(self, p, grads, cache, dhw):
        super().accumulate_hidden_grads(p, grads, cache, dhw)
        H = self.hidden_size
        if self.peephole:
            grads["weight_ci"] += np.einsum("tbh,tbh->h", dhw[..., :H], cache.c[:-1])
            grads["weight_cf"] += np.einsum("tbh,tbh->h", dhw[..., H:2 * H], cache.c[:-1])
            grads["weight_co"] += np.einsum("tbh,tbh->h", dhw[..., 3 * H:], cache.c[1:])
        if self.proj_size:
            grads["weight_hr"] += flat(cache.dh).T @ flat(cache.m)

    # -- the same step with the gate arithmetic compiled (float32; rnnkit.kernels) -----
    def fused_step_forward(self, p, xw_t, cache, t):
        """``step_forward``, with the lines from the sigmoids to h_t in one compiled pass."""
        lstm = kernels.load("lstm")
        hidden_weight_t = p.get("weight_hh_T", p["weight_hh"].T)    # contiguous in the time loop
        hidden_product = np.dot(cache.h[t], hidden_weight_t, out=cache.hidden_product)
        m = cache.m[t] if self.proj_size else cache.h[t + 1]
        lstm.forward(xw_t, hidden_product, cache.c[t], *self._peepholes(p),
                     cache.gates[t], cache.c[t + 1], cache.tanh_c[t], m)
        if self.proj_size:
            np.dot(m, p["weight_hr"].T, out=cache.h[t + 1])

    def fused_step_backward(self, p, dstate, cache, t, dxw, dhw):
        """``step_backward``, with the gate gradients in one compiled pass."""
        lstm = kernels.load("lstm")
        dh, dc_next = dstate
        if self.proj_size:
            cache.dh[t] = dh
            dh = dh @ p["weight_hr"]
        if not hasattr(cache, "dc_buffers"):      # the backward pass's own buffers
            cache.dc_buffers = (np.empty_like(cache.c[0]), np.empty_like(cache.c[0]))
            cache.dh_prev = np.empty_like(cache.h[0])
        # dc_{t-1} goes to the buffer that does not hold dc_t: the kernel's loop stays
        # vectorised only when its output does not alias an input (4x slower if it does)
        dc_prev = cache.dc_buffers[dc_next is cache.dc_buffers[0]]
        lstm.backward(dh, dc_next, cache.gates[t], cache.c[t], cache.tanh_c[t], *self._peepholes(p),
                      dxw[t], dc_prev)
        return np.dot(dxw[t], p["weight_hh"], out=cache.dh_prev), dc_prev

    def _peepholes(self, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w_ci, w_cf, w_co); zeros without peepholes."""
        if self.peephole:
            return p["weight_ci"], p["weight_cf"], p["weight_co"]
        zeros = self._zeros.get(p["weight_hh"].dtype)
        if zeros is None:
            zeros = self._zeros[p["weight_hh"].dtype] = np.zeros(self.hidden_size, p["weight_hh"].dtype)
        return zeros, zeros, zeros
