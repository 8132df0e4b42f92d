"""The GRU cell's gate arithmetic for one time step, compiled; the reset-after form only.

The same equations as ``rnnkit.cells.gru`` (its docstring derives them). With
``xw`` = x_t W_ih^T + b_ih + b_hh but for b_hn, and ``hw`` = h_{t-1} W_hh^T:

    r = sigmoid(xw_r + hw_r)        z = sigmoid(xw_z + hw_z)
    q = hw_n + b_hn                 n = tanh(xw_n + r * q)          (q: the cell's reset_term)
    h_t = n + z * (h_{t-1} - n)

and backward, given dh (w.r.t. h_t):

    dn_pre = dh * (1 - z) * (1 - n^2)
    dz_pre = dh * (h_{t-1} - n) * z (1 - z)
    dr_pre = dn_pre * q * r (1 - r)
    dxw = [dr_pre, dz_pre, dn_pre]     dhw = [dr_pre, dz_pre, dn_pre * r]
    dh_through = dh * z                (dh_prev = dh_through + dhw W_hh, the caller's product)

Arrays are float32: gates (r, z, n), hw, dxw, dhw (B, 3H); the rest (B, H); b_hn (H,).
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.fastmath import KERNEL, ONE, gate, sigmoid, tanh


@njit(inline="always")
def gate_rows(a, b, hidden):
    """Row ``b`` of a (B, 3H) array as its three gate blocks r, z, n, each an (H,) view."""
    return gate(a, b, 0, hidden), gate(a, b, 1, hidden), gate(a, b, 2, hidden)


@njit(**KERNEL)
def forward(xw, hw, b_hn, h_prev, gates, reset_term, h):
    batch, hidden = h_prev.shape
    for b in range(batch):
        x_r, x_z, x_n = gate_rows(xw, b, hidden)
        h_r, h_z, h_n = gate_rows(hw, b, hidden)
        reset_, update_, candidate_ = gate_rows(gates, b, hidden)
        hp, q_, hb = h_prev[b], reset_term[b], h[b]
        for j in range(hidden):
            reset = sigmoid(x_r[j] + h_r[j])
            update = sigmoid(x_z[j] + h_z[j])
            q = h_n[j] + b_hn[j]
            candidate = tanh(x_n[j] + reset * q)
            reset_[j] = reset
            update_[j] = update
            candidate_[j] = candidate
            q_[j] = q
            hb[j] = candidate + update * (hp[j] - candidate)


@njit(**KERNEL)
def backward(dh, gates, reset_term, h_prev, dxw, dhw, dh_through):
    batch, hidden = h_prev.shape
    for b in range(batch):
        reset_, update_, candidate_ = gate_rows(gates, b, hidden)
        dx_r, dx_z, dx_n = gate_rows(dxw, b, hidden)
        dh_r, dh_z, dh_n = gate_rows(dhw, b, hidden)
        dhb, hp, q_, through = dh[b], h_prev[b], reset_term[b], dh_through[b]
        for j in range(hidden):
            reset, update, candidate, d = reset_[j], update_[j], candidate_[j], dhb[j]
            dn_pre = d * (ONE - update) * (ONE - candidate * candidate)
            dz_pre = d * (hp[j] - candidate) * update * (ONE - update)
            dr_pre = dn_pre * q_[j] * reset * (ONE - reset)
            dx_r[j] = dr_pre
            dx_z[j] = dz_pre
            dx_n[j] = dn_pre
            dh_r[j] = dr_pre
            dh_z[j] = dz_pre
            dh_n[j] = dn_pre * reset
            through[j] = d * update
