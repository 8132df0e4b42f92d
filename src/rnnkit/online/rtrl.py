"""Real-time recurrent learning (Williams & Zipser 1989): the exact gradient, carried forward in time.

BPTT runs the sequence forward, then backward, and sums. RTRL carries instead, at
every step, the sensitivities of the state to every parameter, S_h = ∂h_t/∂θ (and
S_c = ∂c_t/∂θ for the LSTM), each (B, H, P) over the P parameters of θ (laid out
by ``ParameterLayout``). The gradient of sum_t <dy_t, h_t> is then summed as it goes,

    grad += sum_b dy_t[b] S_h[b]              (one (H,) x (H, P) product per stream)

so that an online learner has the exact gradient of the error of step t at step t.
The sensitivities follow the forward step differentiated in all P directions at once
(forward mode). Write ``d`` for that derivative, a (B, rows, P) array; a
pre-activation that reads a weight gets an "immediate" term

    [W ← s]        ∂(s W^T)_k / ∂W_kj = s_j, at W_kj's index in θ (and [b] = 1 at b_k's)

and every path through the previous state goes through S_h (and S_c). Per cell, in
the notation of its module (``rnnkit.cells``), with σ' = s (1 - s), tanh' = 1 - t^2:

RNN    da  = W_hh S_h + [W_ih ← x_t] + [W_hh ← h_{t-1}] + [b_ih] + [b_hh]
       S_h ← act'(a_t) da                                  (tanh: 1 - h_t^2; relu: [h_t > 0])

LSTM   dz  = W_hh S_h + [W_ih ← x_t] + [W_hh ← h_{t-1}] + [b_ih] + [b_hh]      blocks i, f, g, o
       dz_i += w_ci S_c + [w_ci ← c_{t-1}]      dz_f += w_cf S_c + [w_cf ← c_{t-1}]     (peepholes)
       S_c ← c_{t-1} σ'(f) dz_f + f S_c + g σ'(i) dz_i + i tanh'(g) dz_g                (new S_c)
       dz_o += w_co S_c + [w_co ← c_t]                                                   (new S_c)
       S_h ← tanh(c_t) σ'(o) dz_o + o tanh'(tanh c_t) S_c

GRU    reset after:   dhw = W_hh S_h + [W_hh ← h_{t-1}] + [b_hh]                        blocks r, z, n
                      dr = σ'(r) (dhw_r + [W_ih,r ← x_t] + [b_ih,r]),  dz likewise
                      dn = tanh'(n) (r dhw_n + reset_term dr + [W_ih,n ← x_t] + [b_ih,n])
       reset before:  dr = σ'(r) (W_hh,r S_h + [W_hh,r ← h_{t-1}] + [W_ih,r ← x_t] + [b_ih,r] + [b_hh,r]), dz likewise
                      d(rh) = dr h_{t-1} + r S_h
                      dn = tanh'(n) (W_hn d(rh) + [W_hn ← r h_{t-1}] + [W_ih,n ← x_t] + [b_ih,n] + [b_hh,n])
       S_h ← (1 - z) dn + (h_{t-1} - n) dz + z S_h

Cost per step, with n ~ H ~ I and P = O(G H (I + H)) = O(n^2) parameters: the
product W_hh S_h is (G H x H) times (H x P), O(G^2 H^3 (I + H)) = O(n^4) time (BPTT:
O(n^2) a step); S_h and S_c hold B H P = O(n^3) numbers, whatever the sequence's
length (BPTT: O(T n) for the states it keeps).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.cells.activations import sigmoid_grad, tanh_grad
from rnnkit.cells.base import Cell
from rnnkit.errors import ConfigError
from rnnkit.layers.time_loop import BlasThreads
from rnnkit.online.layout import ParameterLayout
from rnnkit.online.single_step import SingleStep


def add_source(target: np.ndarray, layout: ParameterLayout, name: str, source, first_row: int = 0) -> None:
    """The immediate term [name ← source]: ``target`` (B, R, P) gets, for k < R, at row k,

        matrix W:  target[:, k, index of W[first_row + k, j]] += source[:, j]
        vector v:  target[:, k, index of v[first_row + k]]    += source[:, k]   (or a scalar, 1 for a bias)
    """
    block = layout.block(target, name)               # (B, R, *shape of name), a view of target
    rows = np.arange(target.shape[1])
    if block.ndim == 4:
        block[:, rows, first_row + rows, :] += source[:, None, :]
    else:
        block[:, rows, first_row + rows] += source


def rows_times(weight: np.ndarray, sens: np.ndarray) -> np.ndarray:
    """weight (R, H) times each stream's sensitivities (B, H, P) -> (B, R, P), as one 2-D product.

    (``np.matmul`` broadcasting the (R, H) matrix over B does not call BLAS: ~10x slower.)
    """
    batch, hidden, size = sens.shape
    product = weight @ sens.transpose(1, 0, 2).reshape(hidden, batch * size)
    return product.reshape(-1, batch, size).transpose(1, 0, 2)


def column(a: np.ndarray) -> np.ndarray:
    """(B, H) -> (B, H, 1): a per-unit factor that multiplies every parameter's sensitivity."""
    return a[..., None]


def rnn_sensitivities(cell: RNNCell, p, layout, x_t, cache, sens_h):
    """S_h of the RNN after the step in ``cache`` (see the module's equations)."""
    h_prev, h = cache.h[0], cache.h[1]
    da = rows_times(p["weight_hh"], sens_h)
    add_input_sources(da, layout, x_t, h_prev)
    slope = tanh_grad(h) if cell.nonlinearity == "tanh" else (h > 0).astype(h.dtype)
    return (column(slope) * da,)


def add_input_sources(dz, layout, x_t, h_prev) -> None:
    """[W_ih ← x_t] + [W_hh ← h_{t-1}] + [b_ih] + [b_hh] over all gate rows."""
    add_source(dz, layout, "weight_ih", x_t)
    add_source(dz, layout, "weight_hh", h_prev)
    add_source(dz, layout, "bias_ih", 1.0)
    add_source(dz, layout, "bias_hh", 1.0)


def lstm_sensitivities(cell: LSTMCell, p, layout, x_t, cache, sens_h, sens_c):
    """S_h and S_c of the LSTM after the step in ``cache``."""
    H = cell.hidden_size
    c_prev, c, tanh_c = cache.c[0], cache.c[1], cache.tanh_c[0]
    gates = cache.gates[0]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dz = rows_times(p["weight_hh"], sens_h)                          # (B, 4H, P)
    add_input_sources(dz, layout, x_t, cache.h[0])
    dz_i, dz_f, dz_g, dz_o = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:3 * H], dz[:, 3 * H:]
    if cell.peephole:
        dz_i += column(p["weight_ci"]) * sens_c
        add_source(dz_i, layout, "weight_ci", c_prev)
        dz_f += column(p["weight_cf"]) * sens_c
        add_source(dz_f, layout, "weight_cf", c_prev)
    new_sens_c = column(f) * sens_c
    new_sens_c += column(c_prev * sigmoid_grad(f)) * dz_f
    new_sens_c += column(g * sigmoid_grad(i)) * dz_i
    new_sens_c += column(i * tanh_grad(g)) * dz_g
    if cell.peephole:
        dz_o += column(p["weight_co"]) * new_sens_c
        add_source(dz_o, layout, "weight_co", c)
    new_sens_h = column(tanh_c * sigmoid_grad(o)) * dz_o
    new_sens_h += column(o * tanh_grad(tanh_c)) * new_sens_c
    return new_sens_h, new_sens_c


def gru_sensitivities(cell: GRUCell, p, layout, x_t, cache, sens_h):
    """S_h of the GRU (either form) after the step in ``cache``."""
    H = cell.hidden_size
    h_prev, reset_term = cache.h[0], cache.reset_term[0]
    gates = cache.gates[0]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    W_hh = p["weight_hh"]
    if cell.reset_after:
        dhw = rows_times(W_hh, sens_h)                               # (B, 3H, P)
        add_source(dhw, layout, "weight_hh", h_prev)
        add_source(dhw, layout, "bias_hh", 1.0)
        da_rz = dhw[:, :2 * H]                                      # dhw_rz, becoming the r, z pre-activations'
    else:
        da_rz = rows_times(W_hh[:2 * H], sens_h)
        add_source(da_rz, layout, "weight_hh", h_prev)
        add_source(da_rz, layout, "bias_hh", 1.0)
    add_source(da_rz, layout, "weight_ih", x_t)
    add_source(da_rz, layout, "bias_ih", 1.0)
    dr = column(sigmoid_grad(r)) * da_rz[:, :H]
    dz = column(sigmoid_grad(z)) * da_rz[:, H:]
    if cell.reset_after:
        dn_pre = column(r) * dhw[:, 2 * H:] + column(reset_term) * dr
    else:
        reset_h_tangent = column(h_prev) * dr + column(r) * sens_h
        dn_pre = rows_times(W_hh[2 * H:], reset_h_tangent)
        add_source(dn_pre, layout, "weight_hh", reset_term, first_row=2 * H)
        add_source(dn_pre, layout, "bias_hh", 1.0, first_row=2 * H)
    add_source(dn_pre, layout, "weight_ih", x_t, first_row=2 * H)
    add_source(dn_pre, layout, "bias_ih", 1.0, first_row=2 * H)
    dn = column(tanh_grad(n)) * dn_pre
    new_sens_h = column(1.0 - z) * dn
    new_sens_h += column(h_prev - n) * dz
    new_sens_h += column(z) * sens_h
    return (new_sens_h,)


SENSITIVITIES = {RNNCell: rnn_sensitivities, LSTMCell: lstm_sensitivities, GRUCell: gru_sensitivities}


def check_rtrl_cell(cell: Cell) -> None:
    """ConfigError unless RTRL knows ``cell``: RNN, LSTM (peepholes or not, no projection), GRU."""
    if type(cell) not in SENSITIVITIES:
        raise ConfigError(f"RTRL knows the RNN, LSTM and GRU cells, not {type(cell).__name__}")
    if getattr(cell, "proj_size", 0):
        raise ConfigError("RTRL does not support an LSTM with a projection: build it with `proj_size`=0")


class RTRL:
    """The sensitivities of one layer's state to its parameters, carried from step to step.

    ``layout`` lays out the cell's parameters (its names: ``weight_ih``, ...) in θ;
    the sensitivities are (B, H, layout.size) arrays, zero after ``reset``.
    """

    def __init__(self, cell: Cell, layout: ParameterLayout, batch: int = 1, dtype=np.float64):
        check_rtrl_cell(cell)
        self.cell, self.layout = cell, layout
        self.update = SENSITIVITIES[type(cell)]
        shape = (batch, cell.hidden_size, layout.size)
        self.sensitivities = [np.zeros(shape, dtype) for _ in cell.state_names]   # S_h (and S_c)

    def reset(self) -> None:
        """Forget the past: the state now depends on no parameter (as a fresh initial state)."""
        for sens in self.sensitivities:
            sens.fill(0.0)

    def advance(self, p: Mapping[str, np.ndarray], x_t: np.ndarray, step: SingleStep) -> None:
        """Carry the sensitivities over the step ``step`` just ran on ``x_t`` with parameters ``p``."""
        self.sensitivities = list(self.update(self.cell, p, self.layout, x_t, step.cache, *self.sensitivities))

    def add_gradient(self, dh: np.ndarray, grad: np.ndarray) -> None:
        """grad (P,) += the gradient of <dh, h_t> for the latest step: sum_b dh[b] S_h[b]."""
        grad += np.einsum("bh,bhp->p", dh, self.sensitivities[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The sensitivities by name, for a checkpoint."""
        return {f"sensitivity_{name}": sens for name, sens in zip(self.cell.state_names, self.sensitivities)}

    def load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        for name, sens in zip(self.cell.state_names, self.sensitivities):
            sens[...] = arrays[f"sensitivity_{name}"]


def rtrl_gradients(layer, x: np.ndarray, dy: np.ndarray, h0=None) -> dict[str, np.ndarray]:
    """The gradient of sum_t <y_t, dy_t> by RTRL: a dict with the keys and shapes of ``layer.grads``.

    ``layer`` is a one-layer, one-direction ``RNN``, ``LSTM`` (peepholes or not) or ``GRU``
    (either form); ``x`` is (T, B, I), ``dy`` (T, B, H), ``h0`` the initial state as the
    layer's ``forward`` takes it (None: zeros). The same numbers as ``layer.backward(dy)``
    adds to ``layer.grads`` after ``layer(x, h0)``, computed forward in time; the layer's
    gradients are left alone.
    """
    cell = layer.cell
    check_rtrl_cell(cell)
    x, dy = check_sequence_arguments(layer, x, dy)
    steps, batch, _ = x.shape
    layout = ParameterLayout(cell.parameter_shapes(layer.input_size))
    p = layout.views(layout.flatten(layer.cell_parameters(0, 0), layer.dtype))
    step = SingleStep(cell, batch, layer.dtype)
    step.reset(tuple(state[0] for state in layer.initial_states(h0, batch, name="h0")))
    rtrl = RTRL(cell, layout, batch, layer.dtype)
    grad = np.zeros(layout.size, layer.dtype)
    with BlasThreads(1):                    # small products: threads only contend
        for t in range(steps):
            step(p, x[t])
            rtrl.advance(p, x[t], step)
            rtrl.add_gradient(dy[t], grad)
    return layer_named(layer, layout.views(grad))


def check_sequence_arguments(layer, x, dy) -> tuple[np.ndarray, np.ndarray]:
    """ConfigError unless ``layer`` is one layer, one direction, and ``x`` (T, B, I), ``dy`` (T, B, H) fit it."""
    if getattr(layer, "num_layers", None) != 1 or getattr(layer, "bidirectional", True):
        raise ConfigError("online gradients need a single-layer, unidirectional layer: "
                          "build it with `num_layers`=1 and `bidirectional`=False")
    x, dy = np.asarray(x), np.asarray(dy)
    if x.ndim != 3 or x.shape[2] != layer.input_size:
        raise ConfigError(f"`x` must be (T, B, {layer.input_size}) (time-major), got shape {x.shape}")
    expected = x.shape[:2] + (layer.cell.output_size,)
    if dy.shape != expected:
        raise ConfigError(f"`dy` must be {expected}, the outputs' shape, got {dy.shape}")
    return x.astype(layer.dtype, copy=False), dy.astype(layer.dtype, copy=False)


def layer_named(layer, by_cell_name: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cell-named arrays (``weight_ih``) -> the layer's gradient names (``weight_ih_l0``), its keys only."""
    return {name: by_cell_name[name[:-len("_l0")]].copy() for name in layer.grads}
