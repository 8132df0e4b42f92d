"""The GRU cell's gate arithmetic for one time step, compiled; the reset-after form only.

The same equations as ``rnnkit.cells.gru`` (its docstring derives them). With
``xw`` = W_ih x_t + b_ih (+ b_hh for r and z) and ``hw`` = W_hh h_{t-1}:

    r = sigmoid(xw_r + hw_r)        z = sigmoid(xw_z + hw_z)
    q = hw_n + b_hn                 n = tanh(xw_n + r * q)
    h_t = n + z * (h_{t-1} - n)

and backward, given dh_t:

    dn_pre = dh_t * (1 - z) * (1 - n^2)
    dz_pre = dh_t * (h_{t-1} - n) * z (1 - z)
    dr_pre = dn_pre * q * r (1 - r)
    dxw = [dr_pre, dz_pre, dn_pre]     dhw = [dr_pre, dz_pre, dn_pre * r]
    dh_{t-1} = dh_t * z  (+ W_hh^T dhw, the caller's product)

Arrays are float32: gates (r, z, n), hw, dxw, dhw (B, 3H); the rest (B, H); b_hn (H,).
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.fastmath import KERNEL, ONE, sigmoid, tanh


@njit(**KERNEL)
def forward(xw, hw, b_hn, h_prev, gates, reset_term, h):
    batch, hidden = h_prev.shape
    for b in range(batch):
        x_, r_, gate = xw[b], hw[b], gates[b]
        reset_, update_, candidate_ = gate[:hidden], gate[hidden:2 * hidden], gate[2 * hidden:]
        hp, q_, hb = h_prev[b], reset_term[b], h[b]
        for j in range(hidden):
            reset = sigmoid(x_[j] + r_[j])
            update = sigmoid(x_[hidden + j] + r_[hidden + j])
            q = r_[2 * hidden + j] + b_hn[j]
            candidate = tanh(x_[2 * hidden + j] + reset * q)
            reset_[j], update_[j], candidate_[j], q_[j] = reset, update, candidate, q
            hb[j] = candidate + update * (hp[j] - candidate)


@njit(**KERNEL)
def backward(dh, gates, reset_term, h_prev, dxw, dhw, dh_through):
    batch, hidden = h_prev.shape
    for b in range(batch):
        gate, dx_, dhid = gates[b], dxw[b], dhw[b]
        reset_, update_, candidate_ = gate[:hidden], gate[hidden:2 * hidden], gate[2 * hidden:]
        dhb, hp, q_, through = dh[b], h_prev[b], reset_term[b], dh_through[b]
        for j in range(hidden):
            reset, update, candidate, d = reset_[j], update_[j], candidate_[j], dhb[j]
            dn_pre = d * (ONE - update) * (ONE - candidate * candidate)
            dz_pre = d * (hp[j] - candidate) * update * (ONE - update)
            dr_pre = dn_pre * q_[j] * reset * (ONE - reset)
            dx_[j], dx_[hidden + j], dx_[2 * hidden + j] = dr_pre, dz_pre, dn_pre
            dhid[j], dhid[hidden + j], dhid[2 * hidden + j] = dr_pre, dz_pre, dn_pre * reset
            through[j] = d * update
