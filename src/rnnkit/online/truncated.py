"""The truncated online gradient of the original LSTM papers, as evolvingstuff's LSTM.java learns.

Hochreiter & Schmidhuber (1997), Gers, Schmidhuber & Cummins (2000) and Gers,
Schraudolph & Schmidhuber (2002) train LSTM online with a truncated form of
real-time recurrent learning. The truncation, in the LSTM cell's notation
(``rnnkit.cells.lstm``: pre-activations z of the gates i, f, g, o):

1. h_{t-1} enters step t as a constant input: no error flows through it to earlier steps;
2. the peephole sources c_{t-1} (into i and f) and c_t (into o) are constant inputs too;
3. what is left of the past is the constant error carousel c_t = f c_{t-1} + i g: the
   derivatives of c_t with respect to the weights into the gates i, f and the cell
   input g of its own unit, carried forward in *traces* scaled by the forget gate.

With u_t = [x_t, h_{t-1}, 1] (what every gate row reads; the 1 for both biases) and,
for the unit k, ε^q_t[k, :] = ∂c_t[k] / ∂(the row k of gate q's W_ih, W_hh, bias):

    ∂c_t/∂a_i = g σ'(i)      ∂c_t/∂a_f = c_{t-1} σ'(f)      ∂c_t/∂a_g = i tanh'(g)
    ε^q_t     = f ε^q_{t-1} + (∂c_t/∂a_q) u_t                     q = i, f, g
    ε^ci_t    = f ε^ci_{t-1} + (∂c_t/∂a_i) c_{t-1}                 peephole w_ci
    ε^cf_t    = f ε^cf_{t-1} + (∂c_t/∂a_f) c_{t-1}                 peephole w_cf

(σ' = s (1 - s), tanh' = 1 - g^2; ε is zero at a reset). The error of step t, given
dh = ∂E_t/∂h_t, enters the cell for this step only, and the output gate is learned
from it alone:

    δc = dh o tanh'(tanh c_t)            δo = dh tanh(c_t) σ'(o)
    ∂E_t/∂(row k of gate q) = δc[k] ε^q_t[k, :]           q = i, f, g
    ∂E_t/∂w_ci = δc ε^ci_t       ∂E_t/∂w_cf = δc ε^cf_t
    ∂E_t/∂(row k of gate o) = δo[k] u_t        ∂E_t/∂w_co = δo c_t

and the read-out layer from the same step's error (the learner's part). A trace is
(B, 3, H, I + H + 1): O(n^2) memory and time per step, as BPTT's step, and no
history. This is the exact gradient of E_t through the graph with h_{t-1}, c_{t-1}
in the peepholes and c_t in the output gate's peephole detached
(``tests/test_online_truncated.py`` checks it so with PyTorch's autograd). LSTM.java
differs in its cell (no tanh on c_t, the input gate's peephole sees f c_{t-1}, and
its peepholes have no traces), not in the rule.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnnkit.cells import LSTMCell
from rnnkit.cells.activations import sigmoid_grad, tanh_grad
from rnnkit.errors import ConfigError
from rnnkit.layers.time_loop import BlasThreads
from rnnkit.online.layout import ParameterLayout
from rnnkit.online.rtrl import check_sequence_arguments, layer_named
from rnnkit.online.single_step import SingleStep


def check_truncated_cell(cell) -> None:
    """ConfigError unless ``cell`` is an LSTM cell without projection."""
    if not isinstance(cell, LSTMCell):
        raise ConfigError(f"the truncated gradient is the LSTM's; for a {type(cell).__name__} "
                          "choose `gradient`='rtrl' or 'bptt'")
    if cell.proj_size:
        raise ConfigError("the truncated gradient does not support a projection: build the LSTM with `proj_size`=0")


class TruncatedLSTM:
    """The traces of a one-layer LSTM: ε^i, ε^f, ε^g over u_t, and ε^ci, ε^cf of the peepholes."""

    def __init__(self, cell: LSTMCell, input_size: int, batch: int = 1, dtype=np.float64):
        check_truncated_cell(cell)
        self.cell, self.input_size = cell, input_size
        H = cell.hidden_size
        self.trace = np.zeros((batch, 3, H, input_size + H + 1), dtype)      # ε^i, ε^f, ε^g
        self.peephole_trace = np.zeros((batch, 2, H), dtype)                # ε^ci, ε^cf
        self.u = np.zeros((batch, input_size + H + 1), dtype)               # u_t = [x_t, h_{t-1}, 1]

    def reset(self) -> None:
        """Forget the past: zero traces, as after a reset of the state."""
        self.trace.fill(0.0)
        self.peephole_trace.fill(0.0)

    def advance(self, p: Mapping[str, np.ndarray], x_t: np.ndarray, step: SingleStep) -> None:
        """Carry the traces over the step ``step`` just ran on ``x_t``."""
        cache, H, I = step.cache, self.cell.hidden_size, self.input_size
        i, f, g = (cache.gates[0][:, q * H:(q + 1) * H] for q in range(3))
        c_prev = cache.c[0]
        self.u[:, :I] = x_t
        self.u[:, I:I + H] = cache.h[0]
        self.u[:, I + H] = 1.0
        dc_da = np.stack([g * sigmoid_grad(i), c_prev * sigmoid_grad(f), i * tanh_grad(g)], axis=1)   # (B, 3, H)
        self.trace *= f[:, None, :, None]
        self.trace += dc_da[..., None] * self.u[:, None, None, :]
        if self.cell.peephole:
            self.peephole_trace *= f[:, None, :]
            self.peephole_trace += dc_da[:, :2] * c_prev[:, None, :]

    def add_gradient(self, dh: np.ndarray, step: SingleStep, grads: Mapping[str, np.ndarray]) -> None:
        """Add the truncated gradient of <dh, h_t> for the latest step to ``grads`` (cell names)."""
        cache, H, I = step.cache, self.cell.hidden_size, self.input_size
        o, tanh_c = cache.gates[0][:, 3 * H:], cache.tanh_c[0]
        dc = dh * o * tanh_grad(tanh_c)                                       # δc
        do = dh * tanh_c * sigmoid_grad(o)                                    # δo
        rows = np.empty((4 * H, I + H + 1), dh.dtype)                         # ∂E_t/∂[W_ih | W_hh | b] rows
        rows[:3 * H] = np.einsum("bk,bqkj->qkj", dc, self.trace).reshape(3 * H, -1)
        rows[3 * H:] = do.T @ self.u
        grads["weight_ih"] += rows[:, :I]
        grads["weight_hh"] += rows[:, I:I + H]
        grads["bias_ih"] += rows[:, -1]
        grads["bias_hh"] += rows[:, -1]
        if self.cell.peephole:
            grads["weight_ci"] += np.einsum("bk,bk->k", dc, self.peephole_trace[:, 0])
            grads["weight_cf"] += np.einsum("bk,bk->k", dc, self.peephole_trace[:, 1])
            grads["weight_co"] += np.einsum("bk,bk->k", do, cache.c[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The traces by name, for a checkpoint."""
        return {"trace": self.trace, "peephole_trace": self.peephole_trace}

    def load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.trace[...] = arrays["trace"]
        self.peephole_trace[...] = arrays["peephole_trace"]


def truncated_gradients(layer, x: np.ndarray, dy: np.ndarray, h0=None) -> dict[str, np.ndarray]:
    """The truncated gradient of sum_t <y_t, dy_t>, as ``rtrl_gradients`` the exact one.

    ``layer`` is a one-layer, one-direction ``LSTM`` (peepholes or not, no projection);
    ``x`` (T, B, I), ``dy`` (T, B, H), ``h0`` as its ``forward`` takes it. Returns a dict
    with the keys and shapes of ``layer.grads``: the sum over t of each step's truncated
    gradient of <dy_t, h_t>, all with the layer's present weights.
    """
    cell = layer.cell
    check_truncated_cell(cell)
    x, dy = check_sequence_arguments(layer, x, dy)
    steps, batch, _ = x.shape
    layout = ParameterLayout(cell.parameter_shapes(layer.input_size))
    p = layout.views(layout.flatten(layer.cell_parameters(0, 0), layer.dtype))
    grad = np.zeros(layout.size, layer.dtype)
    grads = layout.views(grad)
    step = SingleStep(cell, batch, layer.dtype)
    step.reset(tuple(state[0] for state in layer.initial_states(h0, batch, name="h0")))
    traces = TruncatedLSTM(cell, layer.input_size, batch, layer.dtype)
    with BlasThreads(1):                    # small products: threads only contend
        for t in range(steps):
            step(p, x[t])
            traces.advance(p, x[t], step)
            traces.add_gradient(dy[t], step, grads)
    return layer_named(layer, grads)
