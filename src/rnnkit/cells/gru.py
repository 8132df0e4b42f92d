"""The GRU cell, in both of its published forms.

Gates in PyTorch's order r, z, n (rows of W_ih, W_hh, b_ih, b_hh). The input
projection ``xw_t = x_t W_ih^T + b_ih + b_hh`` holds both biases but for b_hn in
the reset-after form, where b_hn stays inside r * (...) (see ``input_bias``); with
``hw = ĥ_{t-1} W_hh^T`` and W_hn, b_hn the n blocks of W_hh, b_hh:

    r   = sigmoid(xw_r + hw_r)                           reset gate
    z   = sigmoid(xw_z + hw_z)                           update gate
    n   = tanh(xw_n + r * (ĥ_{t-1} W_hn^T + b_hn))       reset after  (PyTorch, cuDNN)
    n   = tanh(xw_n + (r * ĥ_{t-1}) W_hn^T)              reset before (Cho et al. 2014; b_hn in xw_n)
    h_t = (1 - z) * n + z * h_{t-1}

ĥ_{t-1} is h_{t-1}, or h_{t-1} * m_h with recurrent dropout (``rnnkit.cells.base``): the
mask reaches W_hh only, not the interpolation. ``reset_term`` is what the backward pass
keeps of the n line: ĥ_{t-1} W_hn^T + b_hn (reset after) or r * ĥ_{t-1} (reset before).

Backward, given dh (w.r.t. h_t, from the output and from step t+1), into dxw (w.r.t.
xw_t) and dhw (w.r.t. the hidden projection hw + b_hh; reset before, its n block is
(r * h_{t-1}) W_hn^T), each in blocks [r, z, n]:

    dn_pre = dh * (1 - z) * (1 - n^2)
    dz_pre = dh * (h_{t-1} - n) * z (1 - z)
    reset after:   dr_pre   = dn_pre * reset_term * r (1 - r)
                   dxw = [dr_pre, dz_pre, dn_pre]      dhw = [dr_pre, dz_pre, dn_pre * r]
                   dh_prev  = dh * z + (dhw W_hh) * m_h
    reset before:  dreset_h = dn_pre W_hn                       w.r.t. r * ĥ_{t-1}
                   dr_pre   = dreset_h * ĥ_{t-1} * r (1 - r)
                   dxw = dhw = [dr_pre, dz_pre, dn_pre]
                   dh_prev  = dh * z + (dhw_rz W_hh,rz) * m_h + (dreset_h * r) * m_h   (rz: the r and z blocks)

(without recurrent dropout, no * m_h).

The input and hidden pre-activation gradients differ in the n block, so this
cell keeps two gradient buffers, ``dxw`` and ``dhw``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.activations import sigmoid, sigmoid_grad, tanh_grad
from rnnkit.cells.base import Cell, CellCache, FreshArrays, flat


def interpolate(n_pre, h_prev, gates, h) -> None:
    """n = tanh(n_pre) into ``gates``' n block, and h_t = (1 - z) * n + z * h_{t-1} into ``h``."""
    H = h.shape[-1]
    update, candidate = gates[:, H:2 * H], gates[:, 2 * H:]
    np.tanh(n_pre, out=candidate)
    np.subtract(h_prev, candidate, out=h)          # h_t = n + z * (h_{t-1} - n)
    h *= update
    h += candidate


def reset_after_forward(u, v, h_prev, gates, reset_term, h) -> None:
    """One reset-after step from the input part ``u`` = xw_t (ours to overwrite) and the hidden
    part ``v`` = ĥ_{t-1} W_hh^T with b_hn in its n block, both (B, 3H): r, z = sigmoid(u + v),
    n = tanh(u_n + r * v_n), h_t; ``reset_term`` keeps v_n. The layer-normalised GRU shares it."""
    H = h.shape[-1]
    u[:, :2 * H] += v[:, :2 * H]
    sigmoid(u[:, :2 * H], out=gates[:, :2 * H])
    reset_term[...] = v[:, 2 * H:]
    n_pre = u[:, 2 * H:]
    n_pre += gates[:, :H] * v[:, 2 * H:]
    interpolate(n_pre, h_prev, gates, h)


def interpolate_backward(dh, h_prev, gates, du) -> np.ndarray:
    """dn_pre and dz_pre into ``du``'s n and z blocks; returns dn_pre."""
    H = h_prev.shape[-1]
    update, candidate = gates[:, H:2 * H], gates[:, 2 * H:]
    dn_pre = np.multiply(dh * (1.0 - update), tanh_grad(candidate), out=du[:, 2 * H:])
    np.multiply(dh * (h_prev - candidate), sigmoid_grad(update), out=du[:, H:2 * H])
    return dn_pre


def reset_after_backward(dh, h_prev, gates, reset_term, du, dv) -> None:
    """The reset-after step's pre-activation gradients: ``du`` = [dr, dz, dn] (w.r.t. u) and
    ``dv`` = [dr, dz, dn * r] (w.r.t. v). dh_prev is the caller's: dh * z + dv's way back."""
    H = h_prev.shape[-1]
    dn_pre = interpolate_backward(dh, h_prev, gates, du)
    np.multiply(dn_pre * reset_term, sigmoid_grad(gates[:, :H]), out=du[:, :H])
    dv[:, :2 * H] = du[:, :2 * H]
    np.multiply(dn_pre, gates[:, :H], out=dv[:, 2 * H:])


@dataclass
class GRUCache(CellCache):
    """The GRU's buffers of one sequence; ``h`` (T+1, B, H) as every cell's."""

    gates: np.ndarray              # (T, B, 3H): r, z, n after their activations
    reset_term: np.ndarray         # (T, B, H): h_{t-1} W_hn^T + b_hn (reset after) or r * h_{t-1} (reset before)
    hidden_product: np.ndarray     # (B, 3H): h_{t-1} W_hh^T of the step running (compiled steps)
    dh_prev: np.ndarray            # (B, H): dh_prev of compiled backward steps
    dh_product: np.ndarray         # (B, H): dhw W_hh of compiled backward steps


class GRUCell(Cell):
    num_gates = 3
    state_names = ("h",)
    masks_hidden_input = True

    def __init__(self, hidden_size: int, reset_after: bool = True):
        super().__init__(hidden_size)
        self.reset_after = reset_after

    def input_bias(self, p):
        """b_ih + b_hh, but for b_hn with reset after: it stays inside r * (h W_hn^T + b_hn)."""
        if not self.reset_after:
            return super().input_bias(p)
        bias = p["bias_ih"] + p["bias_hh"]
        bias[2 * self.hidden_size:] = p["bias_ih"][2 * self.hidden_size:]
        return bias

    def allocate(self, steps, batch, dtype, space=FreshArrays) -> GRUCache:
        H = self.hidden_size
        return GRUCache(
            h=self.new_outputs(steps, batch, dtype),
            gates=space.empty("gates", (steps, batch, 3 * H), dtype),
            reset_term=space.empty("reset_term", (steps, batch, H), dtype),
            hidden_product=space.empty("hidden_product", (batch, 3 * H), dtype),
            dh_prev=np.empty((batch, H), dtype),
            dh_product=np.empty((batch, H), dtype),
        )

    def grad_buffers(self, steps, batch, dtype, space=FreshArrays):
        shape = (steps, batch, 3 * self.hidden_size)
        return space.empty("dxw", shape, dtype), space.empty("dhw", shape, dtype)

    def step_forward(self, p, weight_hh_T, xw_t, cache: GRUCache, t):
        H = self.hidden_size
        h_prev, gates = cache.h[t], cache.gates[t]
        if self.reset_after:                   # xw_t holds b_ih + b_hh but for b_hn
            hw = cache.hidden_input(t) @ weight_hh_T          # (B, 3H)
            hw[:, 2 * H:] += p["bias_hh"][2 * H:]
            reset_after_forward(xw_t, hw, h_prev, gates, cache.reset_term[t], cache.h[t + 1])
            return
        hidden_input = cache.hidden_input(t)   # reset before: xw_t holds b_ih + b_hh
        xw_t[:, :2 * H] += hidden_input @ weight_hh_T[:, :2 * H]
        sigmoid(xw_t[:, :2 * H], out=gates[:, :2 * H])
        reset_h = np.multiply(gates[:, :H], hidden_input, out=cache.reset_term[t])
        n_pre = xw_t[:, 2 * H:]
        n_pre += reset_h @ weight_hh_T[:, 2 * H:]
        interpolate(n_pre, h_prev, gates, cache.h[t + 1])

    def step_backward(self, p, dstate, cache: GRUCache, t, dxw, dhw):
        H = self.hidden_size
        (dh,) = dstate
        h_prev, gates, reset_term = cache.h[t], cache.gates[t], cache.reset_term[t]
        reset, update = gates[:, :H], gates[:, H:2 * H]
        W_hh = p["weight_hh"]
        dx, dhid = dxw[t], dhw[t]

        if self.reset_after:
            reset_after_backward(dh, h_prev, gates, reset_term, dx, dhid)
            return (dh * update + cache.hidden_input_grad(dhid @ W_hh),)
        dn_pre = interpolate_backward(dh, h_prev, gates, dx)
        dreset_h = dn_pre @ W_hh[2 * H:]               # gradient w.r.t. r * ĥ_{t-1}
        np.multiply(dreset_h * cache.hidden_input(t), sigmoid_grad(reset), out=dx[:, :H])
        dhid[...] = dx
        dh_prev = (dh * update + cache.hidden_input_grad(dhid[:, :2 * H] @ W_hh[:2 * H])
                   + cache.hidden_input_grad(dreset_h * reset))
        return (dh_prev,)

    def accumulate_hidden_grads(self, p, grads, cache: GRUCache, dhw):
        if self.reset_after:
            super().accumulate_hidden_grads(p, grads, cache, dhw)
            return
        H = self.hidden_size
        grads["weight_hh"][:2 * H] += flat(dhw[..., :2 * H]).T @ flat(cache.hidden_inputs())
        grads["weight_hh"][2 * H:] += flat(dhw[..., 2 * H:]).T @ flat(cache.reset_term)
        grads["bias_hh"] += dhw.sum(axis=(0, 1))
