"""The LSTM cell's gate arithmetic for one time step, compiled: one pass over the batch.

The same equations as ``rnnkit.cells.lstm`` (its docstring derives them), with the
pre-activations split into ``xw`` (x_t W_ih^T + b_ih + b_hh, from before the loop)
and ``hw`` (h_{t-1} W_hh^T, this step's product), so that nothing writes z back:

    i = sigmoid(z_i + w_ci * c_{t-1})      f = sigmoid(z_f + w_cf * c_{t-1})
    g = tanh(z_g)                          c_t = f * c_{t-1} + i * g
    o = sigmoid(z_o + w_co * c_t)          m_t = o * tanh(c_t)

and backward, given dm (= dh, or dh W_hr with a projection) and dc_next (w.r.t. c_t):

    dz_o = dm * tanh(c_t) * o (1 - o)
    dc   = dc_next + dm * o * (1 - tanh(c_t)^2) + dz_o * w_co
    dz_i = dc * g * i (1 - i)     dz_f = dc * c_{t-1} * f (1 - f)     dz_g = dc * i * (1 - g^2)
    dc_{t-1} = dc * f + dz_i * w_ci + dz_f * w_cf

Without peepholes the w_c* are zeros. Arrays are float32: gates and dz (B, 4H) in the
order i, f, g, o; the rest (B, H); w_c* (H,). ``dc_prev`` may be ``dc_next`` itself,
but the loop then runs without SIMD (about 4x slower).
"""

from __future__ import annotations

from numba import njit

from rnnkit.kernels.fastmath import KERNEL, ONE, gate, sigmoid, tanh
from rnnkit.kernels.products import project


@njit(inline="always")
def gate_rows(a, b, hidden):
    """Row ``b`` of a (B, 4H) array as its four gate blocks i, f, g, o, each an (H,) view."""
    return gate(a, b, 0, hidden), gate(a, b, 1, hidden), gate(a, b, 2, hidden), gate(a, b, 3, hidden)


@njit(**KERNEL)
def forward(xw, hw, c_prev, w_ci, w_cf, w_co, gates, c, tanh_c, m):
    batch, hidden = c_prev.shape
    for b in range(batch):
        x_i, x_f, x_g, x_o = gate_rows(xw, b, hidden)
        h_i, h_f, h_g, h_o = gate_rows(hw, b, hidden)
        i_, f_, g_, o_ = gate_rows(gates, b, hidden)
        cp, cb, tb, mb = c_prev[b], c[b], tanh_c[b], m[b]
        for j in range(hidden):
            input_gate = sigmoid(x_i[j] + h_i[j] + w_ci[j] * cp[j])
            forget_gate = sigmoid(x_f[j] + h_f[j] + w_cf[j] * cp[j])
            candidate = tanh(x_g[j] + h_g[j])
            cell = forget_gate * cp[j] + input_gate * candidate
            output_gate = sigmoid(x_o[j] + h_o[j] + w_co[j] * cell)
            tanh_cell = tanh(cell)
            i_[j] = input_gate
            f_[j] = forget_gate
            g_[j] = candidate
            o_[j] = output_gate
            cb[j] = cell
            tb[j] = tanh_cell
            mb[j] = output_gate * tanh_cell


@njit(**KERNEL)
def backward(dm, dc_next, gates, c_prev, tanh_c, w_ci, w_cf, w_co, dz, dc_prev):
    batch, hidden = c_prev.shape
    for b in range(batch):
        i_, f_, g_, o_ = gate_rows(gates, b, hidden)
        dz_i, dz_f, dz_g, dz_o = gate_rows(dz, b, hidden)
        dmb, dcn, cp, tb, dcp = dm[b], dc_next[b], c_prev[b], tanh_c[b], dc_prev[b]
        for j in range(hidden):
            input_gate, forget_gate, candidate, output_gate = i_[j], f_[j], g_[j], o_[j]
            tanh_cell = tb[j]
            d_output = dmb[j] * tanh_cell * output_gate * (ONE - output_gate)
            dc = dcn[j] + dmb[j] * output_gate * (ONE - tanh_cell * tanh_cell) + d_output * w_co[j]
            d_input = dc * candidate * input_gate * (ONE - input_gate)
            d_forget = dc * cp[j] * forget_gate * (ONE - forget_gate)
            dz_i[j] = d_input
            dz_f[j] = d_forget
            dz_g[j] = dc * input_gate * (ONE - candidate * candidate)
            dz_o[j] = d_output
            dcp[j] = dc * forget_gate + d_input * w_ci[j] + d_forget * w_cf[j]


# -- generation: a whole stack of layers for one time step, in one call ---------------

@njit(**KERNEL)
def stack_step(first_projection, weights_ih, biases_ih, biases_hh, weights_hh, peepholes, hs, cs,
               xw, hw, gates, tanh_c):
    """One time step of a stack of LSTM layers without projection, for generation.

    Per layer k, on the state buffers hs[k], cs[k] (2, B, H), [0] now and [1] next:

        xw = first_projection                        (k = 0: x_t W_ih^T + b_ih + b_hh, given)
             h^(k-1)_t W_ih^T + b_ih + b_hh          (k > 0)
        hw = h^(k)_{t-1} W_hh^T
        (h, c)^(k)_t = forward(xw, hw, c^(k)_{t-1})  as in training
        [0] <- [1]

    xw, hw, gates (B, 4H) and tanh_c (B, H) are scratch; peepholes[k] is (w_ci, w_cf, w_co).
    """
    for k in range(len(weights_hh)):
        h, c = hs[k], cs[k]
        if k == 0:
            xw[:] = first_projection
        else:
            project(hs[k - 1][0], weights_ih[k], xw)
            xw += biases_ih[k] + biases_hh[k]
        project(h[0], weights_hh[k], hw)
        w_ci, w_cf, w_co = peepholes[k]
        forward(xw, hw, c[0], w_ci, w_cf, w_co, gates, c[1], tanh_c, h[1])
        h[0] = h[1]
        c[0] = c[1]
