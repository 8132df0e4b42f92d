"""The LSTM cell's gate arithmetic for one time step, compiled: one pass over the batch.

The same equations as ``rnnkit.cells.lstm`` (its docstring derives them), with the
pre-activations split into ``xw`` (W_ih x_t + b_ih + b_hh, from before the loop)
and ``hw`` (W_hh h_{t-1}, this step's product), so that nothing writes z back:

    i = sigmoid(z_i + w_ci * c_{t-1})      f = sigmoid(z_f + w_cf * c_{t-1})
    g = tanh(z_g)                          c_t = f * c_{t-1} + i * g
    o = sigmoid(z_o + w_co * c_t)          m_t = o * tanh(c_t)

and backward, given dm (= dh_t, or W_hr^T dh_t with a projection) and dc_t:

    dz_o = dm * tanh(c_t) * o (1 - o)
    dc   = dc_t + dm * o * (1 - tanh(c_t)^2) + dz_o * w_co
    dz_i = dc * g * i (1 - i)     dz_f = dc * c_{t-1} * f (1 - f)     dz_g = dc * i * (1 - g^2)
    dc_{t-1} = dc * f + dz_i * w_ci + dz_f * w_cf

Without peepholes the w_c* are zeros. Arrays are float32: gates and dz (B, 4H) in the
order i, f, g, o; the rest (B, H); w_c* (H,). ``dc_prev`` may be ``dc_next`` itself.
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.fastmath import KERNEL, ONE, sigmoid, tanh


@njit(**KERNEL)
def forward(xw, hw, c_prev, w_ci, w_cf, w_co, gates, c, tanh_c, m):
    batch, hidden = c_prev.shape
    for b in range(batch):
        z, r, gate = xw[b], hw[b], gates[b]
        i_, f_, g_, o_ = gate[:hidden], gate[hidden:2 * hidden], gate[2 * hidden:3 * hidden], gate[3 * hidden:]
        cp, cb, tb, mb = c_prev[b], c[b], tanh_c[b], m[b]
        for j in range(hidden):
            input_gate = sigmoid(z[j] + r[j] + w_ci[j] * cp[j])
            forget_gate = sigmoid(z[hidden + j] + r[hidden + j] + w_cf[j] * cp[j])
            candidate = tanh(z[2 * hidden + j] + r[2 * hidden + j])
            cell = forget_gate * cp[j] + input_gate * candidate
            output_gate = sigmoid(z[3 * hidden + j] + r[3 * hidden + j] + w_co[j] * cell)
            tanh_cell = tanh(cell)
            i_[j], f_[j], g_[j], o_[j] = input_gate, forget_gate, candidate, output_gate
            cb[j], tb[j], mb[j] = cell, tanh_cell, output_gate * tanh_cell


@njit(**KERNEL)
def backward(dm, dc_next, gates, c_prev, tanh_c, w_ci, w_cf, w_co, dz, dc_prev):
    batch, hidden = c_prev.shape
    for b in range(batch):
        gate, d = gates[b], dz[b]
        i_, f_, g_, o_ = gate[:hidden], gate[hidden:2 * hidden], gate[2 * hidden:3 * hidden], gate[3 * hidden:]
        dz_i, dz_f, dz_g, dz_o = d[:hidden], d[hidden:2 * hidden], d[2 * hidden:3 * hidden], d[3 * hidden:]
        dmb, dcn, cp, tb, dcp = dm[b], dc_next[b], c_prev[b], tanh_c[b], dc_prev[b]
        for j in range(hidden):
            input_gate, forget_gate, candidate, output_gate = i_[j], f_[j], g_[j], o_[j]
            tanh_cell = tb[j]
            d_output = dmb[j] * tanh_cell * output_gate * (ONE - output_gate)
            dcell = dcn[j] + dmb[j] * output_gate * (ONE - tanh_cell * tanh_cell) + d_output * w_co[j]
            d_input = dcell * candidate * input_gate * (ONE - input_gate)
            d_forget = dcell * cp[j] * forget_gate * (ONE - forget_gate)
            dz_i[j], dz_f[j], dz_o[j] = d_input, d_forget, d_output
            dz_g[j] = dcell * input_gate * (ONE - candidate * candidate)
            dcp[j] = dcell * forget_gate + d_input * w_ci[j] + d_forget * w_cf[j]
