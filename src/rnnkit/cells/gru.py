"""The GRU cell, in both of its published forms.

Gates in PyTorch's order r, z, n (rows of W_ih, W_hh, b_ih, b_hh). With
``xw_t = W_ih x_t + b_ih`` and ``hw_t = W_hh h_{t-1} + b_hh``:

    r   = sigmoid(xw_r + hw_r)                       reset gate
    z   = sigmoid(xw_z + hw_z)                       update gate
    n   = tanh(xw_n + r * (W_hn h_{t-1} + b_hn))     reset after  (PyTorch, cuDNN)
    n   = tanh(xw_n + W_hn (r * h_{t-1}) + b_hn)     reset before (Cho et al. 2014)
    h_t = (1 - z) * n + z * h_{t-1}

Backward, given dh_t:

    dn_pre = dh_t * (1 - z) * (1 - n^2)
    dz_pre = dh_t * (h_{t-1} - n) * z (1 - z)
    reset after:   dr_pre = dn_pre * (W_hn h_{t-1} + b_hn) * r (1 - r)
                   d(W_hn h_{t-1} + b_hn) = dn_pre * r
    reset before:  d(r h_{t-1}) = W_hn^T dn_pre
                   dr_pre = d(r h_{t-1}) * h_{t-1} * r (1 - r)
    dh_{t-1} = dh_t * z + W_hh^T dhw   (+ d(r h_{t-1}) * r, reset before)

The input and hidden pre-activation gradients differ in the n block, so this
cell keeps two gradient buffers, ``dxw`` and ``dhw``.
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells.activations import sigmoid, sigmoid_grad, tanh_grad
from rnnkit import kernels
from rnnkit.cells.base import Cell, FreshArrays, flat


class GRUCell(Cell):
    num_gates = 3
    state_names = ("h",)

    def __init__(self, hidden_size: int, reset_after: bool = True):
        super().__init__(hidden_size)
        self.reset_after = reset_after

    @property
    def has_fused_step(self) -> bool:
        """fused_step_forward/backward (rnnkit.kernels.gru) exist for the reset-after form."""
        return self.reset_after

    def input_bias(self, p):
        """b_ih + b_hh, but for b_hn with reset after: it stays inside r * (W_hn h + b_hn)."""
        if not self.reset_after:
            return super().input_bias(p)
        bias = p["bias_ih"] + p["bias_hh"]
        bias[2 * self.hidden_size:] = p["bias_ih"][2 * self.hidden_size:]
        return bias

    def allocate(self, steps, batch, dtype, space=FreshArrays):
        cache = super().allocate(steps, batch, dtype, space)
        H = self.hidden_size
        cache.gates = space.empty("gates", (steps, batch, 3 * H), dtype)   # r, z, n after activation
        # reset after: W_hn h_{t-1} + b_hn;  reset before: r * h_{t-1}
        cache.reset_term = space.empty("reset_term", (steps, batch, H), dtype)
        cache.hidden_product = space.empty("hidden_product", (batch, 3 * H), dtype)  # W_hh h_{t-1}, one step
        return cache

    def grad_buffers(self, steps, batch, dtype, space=FreshArrays):
        shape = (steps, batch, 3 * self.hidden_size)
        return space.empty("dxw", shape, dtype), space.empty("dhw", shape, dtype)

    def step_forward(self, p, xw_t, cache, t):
        H = self.hidden_size
        h_prev, gates = cache.h[t], cache.gates[t]
        W_hh = p["weight_hh"]                  # xw_t holds b_ih + b_hh but for b_hn (reset after)
        if self.reset_after:
            hw = h_prev @ W_hh.T                              # (B, 3H)
            hw[:, 2 * H:] += p["bias_hh"][2 * H:]
            xw_t[:, :2 * H] += hw[:, :2 * H]
            sigmoid(xw_t[:, :2 * H], out=gates[:, :2 * H])
            reset = gates[:, :H]
            cache.reset_term[t] = hw[:, 2 * H:]
            n_pre = xw_t[:, 2 * H:]
            n_pre += reset * hw[:, 2 * H:]
        else:
            xw_t[:, :2 * H] += h_prev @ W_hh[:2 * H].T
            sigmoid(xw_t[:, :2 * H], out=gates[:, :2 * H])
            reset_h = np.multiply(gates[:, :H], h_prev, out=cache.reset_term[t])
            n_pre = xw_t[:, 2 * H:]
            n_pre += reset_h @ W_hh[2 * H:].T
        update, candidate = gates[:, H:2 * H], gates[:, 2 * H:]
        np.tanh(n_pre, out=candidate)
        h = cache.h[t + 1]
        np.subtract(h_prev, candidate, out=h)          # h_t = n + z * (h_{t-1} - n)
        h *= update
        h += candidate

    def step_backward(self, p, dstate, cache, t, dxw, dhw):
        H = self.hidden_size
        (dh,) = dstate
        h_prev, gates, reset_term = cache.h[t], cache.gates[t], cache.reset_term[t]
        reset, update, candidate = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
        W_hh = p["weight_hh"]
        dx, dhid = dxw[t], dhw[t]

        dn_pre = np.multiply(dh * (1.0 - update), tanh_grad(candidate), out=dx[:, 2 * H:])
        np.multiply(dh * (h_prev - candidate), sigmoid_grad(update), out=dx[:, H:2 * H])
        if self.reset_after:
            np.multiply(dn_pre * reset_term, sigmoid_grad(reset), out=dx[:, :H])
            dhid[:, :2 * H] = dx[:, :2 * H]
            np.multiply(dn_pre, reset, out=dhid[:, 2 * H:])
            return (dh * update + dhid @ W_hh,)
        dreset_h = dn_pre @ W_hh[2 * H:]               # gradient w.r.t. r * h_{t-1}
        np.multiply(dreset_h * h_prev, sigmoid_grad(reset), out=dx[:, :H])
        dhid[...] = dx
        dh_prev = dh * update + dhid[:, :2 * H] @ W_hh[:2 * H] + dreset_h * reset
        return (dh_prev,)

    def accumulate_hidden_grads(self, p, grads, cache, dhw):
        if self.reset_after:
            super().accumulate_hidden_grads(p, grads, cache, dhw)
            return
        H = self.hidden_size
        grads["weight_hh"][:2 * H] += flat(dhw[..., :2 * H]).T @ flat(cache.h[:-1])
        grads["weight_hh"][2 * H:] += flat(dhw[..., 2 * H:]).T @ flat(cache.reset_term)
        grads["bias_hh"] += dhw.sum(axis=(0, 1))

    # -- the same step with the gate arithmetic compiled (float32, reset after) --------
    def fused_step_forward(self, p, xw_t, cache, t):
        """``step_forward`` (reset after), the gate arithmetic in one compiled pass."""
        gru = kernels.load("gru")
        hidden_weight_t = p.get("weight_hh_T", p["weight_hh"].T)    # contiguous in the time loop
        hidden_product = np.dot(cache.h[t], hidden_weight_t, out=cache.hidden_product)
        gru.forward(xw_t, hidden_product, p["bias_hh"][2 * self.hidden_size:], cache.h[t],
                    cache.gates[t], cache.reset_term[t], cache.h[t + 1])

    def fused_step_backward(self, p, dstate, cache, t, dxw, dhw):
        """``step_backward`` (reset after), the gate gradients in one compiled pass."""
        gru = kernels.load("gru")
        (dh,) = dstate
        if not hasattr(cache, "dh_prev"):         # the backward pass's own buffers
            cache.dh_prev = np.empty_like(cache.h[0])
            cache.dh_product = np.empty_like(cache.h[0])
        gru.backward(dh, cache.gates[t], cache.reset_term[t], cache.h[t], dxw[t], dhw[t], cache.dh_prev)
        cache.dh_prev += np.dot(dhw[t], p["weight_hh"], out=cache.dh_product)
        return (cache.dh_prev,)
