"""One online step of an LSTM with the truncated gradient, compiled (numba): one stream, float64.

The same arithmetic as the NumPy reference, which ``tests/test_online_compiled.py``
checks it against: the cell's forward step (``rnnkit.cells.lstm``), the traces and
the truncated gradient (``rnnkit.online.truncated``), the read-out and its gradient
(``rnnkit.online.network``). An online learner spends ~170 us a symbol in some
eighty small NumPy calls; here one call does a symbol's work in a few microseconds,
and the optimizer's update (``rnnkit.optim``, on θ) is left to NumPy.

Arrays are the learner's own, for one stream (batch 1), so that its state and
checkpoints do not depend on the path taken: the state buffers ``h_states``,
``c_states`` (2, H), slot 0 the state before the step and slot 1 after; gates (4H,)
in the order i, f, g, o; the traces (3, H, I + H + 1) over u = [x_t, h_{t-1}, 1] and
the peephole traces (2, H). Without peepholes the w_c* are zeros and never learn.
sigmoid(x) = (1 + tanh(x / 2)) / 2, as the reference computes it.
"""

from __future__ import annotations

import math

from numba import njit

KERNEL = dict(cache=True, nogil=True, error_model="numpy")


@njit(inline="always", **KERNEL)
def sigmoid(x):
    return 0.5 + 0.5 * math.tanh(0.5 * x)


@njit(**KERNEL)
def forward(x, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co, h_states, c_states, gates, tanh_c):
    """The LSTM step: slot 0 <- slot 1, then slot 1 <- the new state; gates and tanh(c_t) kept."""
    hidden, inputs = h_states.shape[1], x.shape[0]
    for k in range(hidden):
        h_states[0, k] = h_states[1, k]
        c_states[0, k] = c_states[1, k]
    h_prev, c_prev = h_states[0], c_states[0]
    for k in range(hidden):
        z = [0.0, 0.0, 0.0, 0.0]
        for q in range(4):
            row = q * hidden + k
            total = b_ih[row] + b_hh[row]
            for j in range(inputs):
                total += W_ih[row, j] * x[j]
            for j in range(hidden):
                total += W_hh[row, j] * h_prev[j]
            z[q] = total
        i = sigmoid(z[0] + w_ci[k] * c_prev[k])
        f = sigmoid(z[1] + w_cf[k] * c_prev[k])
        g = math.tanh(z[2])
        c = f * c_prev[k] + i * g
        o = sigmoid(z[3] + w_co[k] * c)
        gates[k], gates[hidden + k], gates[2 * hidden + k], gates[3 * hidden + k] = i, f, g, o
        c_states[1, k] = c
        tanh_c[k] = math.tanh(c)
        h_states[1, k] = o * tanh_c[k]


@njit(**KERNEL)
def advance_traces(x, h_prev, c_prev, gates, trace, peephole_trace):
    """ε^q = f ε^q + (∂c_t/∂a_q) u_t for q = i, f, g, and the peepholes' ε^ci, ε^cf."""
    hidden, inputs = h_prev.shape[0], x.shape[0]
    for k in range(hidden):
        i, f, g = gates[k], gates[hidden + k], gates[2 * hidden + k]
        dc_da = (g * i * (1.0 - i), c_prev[k] * f * (1.0 - f), i * (1.0 - g * g))
        for q in range(3):
            row = trace[q, k]
            for j in range(inputs):
                row[j] = f * row[j] + dc_da[q] * x[j]
            for j in range(hidden):
                row[inputs + j] = f * row[inputs + j] + dc_da[q] * h_prev[j]
            row[inputs + hidden] = f * row[inputs + hidden] + dc_da[q]
        for q in range(2):
            peephole_trace[q, k] = f * peephole_trace[q, k] + dc_da[q] * c_prev[k]


@njit(**KERNEL)
def readout(h, W_out, b_out, sigmoid_output, y):
    """y = out(W_out h + b_out)."""
    for m in range(y.shape[0]):
        total = b_out[m]
        for k in range(h.shape[0]):
            total += W_out[m, k] * h[k]
        y[m] = sigmoid(total) if sigmoid_output else total


@njit(**KERNEL)
def add_readout_gradient(h, y, target, W_out, dW_out, db_out, dh):
    """dy = y - target; dW_out += dy h^T; db_out += dy; dh = W_out^T dy."""
    for k in range(h.shape[0]):
        dh[k] = 0.0
    for m in range(y.shape[0]):
        dy = y[m] - target[m]
        db_out[m] += dy
        for k in range(h.shape[0]):
            dW_out[m, k] += dy * h[k]
            dh[k] += dy * W_out[m, k]


@njit(**KERNEL)
def add_truncated_gradient(dh, x, h_prev, c, gates, tanh_c, trace, peephole_trace,
                           dW_ih, dW_hh, db_ih, db_hh, dw_ci, dw_cf, dw_co, peephole):
    """δc = dh o tanh'(tanh c_t), δo = dh tanh(c_t) σ'(o); rows of i, f, g from δc ε, of o from δo u_t."""
    hidden, inputs = h_prev.shape[0], x.shape[0]
    for k in range(hidden):
        o = gates[3 * hidden + k]
        dc = dh[k] * o * (1.0 - tanh_c[k] * tanh_c[k])
        do = dh[k] * tanh_c[k] * o * (1.0 - o)
        for q in range(3):
            row, trace_row = q * hidden + k, trace[q, k]
            for j in range(inputs):
                dW_ih[row, j] += dc * trace_row[j]
            for j in range(hidden):
                dW_hh[row, j] += dc * trace_row[inputs + j]
            db_ih[row] += dc * trace_row[inputs + hidden]
            db_hh[row] += dc * trace_row[inputs + hidden]
        row = 3 * hidden + k
        for j in range(inputs):
            dW_ih[row, j] += do * x[j]
        for j in range(hidden):
            dW_hh[row, j] += do * h_prev[j]
        db_ih[row] += do
        db_hh[row] += do
        if peephole:
            dw_ci[k] += dc * peephole_trace[0, k]
            dw_cf[k] += dc * peephole_trace[1, k]
            dw_co[k] += do * c[k]


@njit(**KERNEL)
def learn_step(x, target, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co, W_out, b_out, sigmoid_output,
               h_states, c_states, gates, tanh_c, trace, peephole_trace, y, dh,
               dW_ih, dW_hh, db_ih, db_hh, dw_ci, dw_cf, dw_co, dW_out, db_out, peephole):
    """Forward one step, carry the traces, and add the step's truncated gradient; y is the output."""
    forward(x, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co, h_states, c_states, gates, tanh_c)
    advance_traces(x, h_states[0], c_states[0], gates, trace, peephole_trace)
    readout(h_states[1], W_out, b_out, sigmoid_output, y)
    add_readout_gradient(h_states[1], y, target, W_out, dW_out, db_out, dh)
    add_truncated_gradient(dh, x, h_states[0], c_states[1], gates, tanh_c, trace, peephole_trace,
                           dW_ih, dW_hh, db_ih, db_hh, dw_ci, dw_cf, dw_co, peephole)


@njit(**KERNEL)
def predict_step(x, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co, W_out, b_out, sigmoid_output,
                 h_states, c_states, gates, tanh_c, y):
    """Forward one step and read out, nothing learned."""
    forward(x, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co, h_states, c_states, gates, tanh_c)
    readout(h_states[1], W_out, b_out, sigmoid_output, y)
