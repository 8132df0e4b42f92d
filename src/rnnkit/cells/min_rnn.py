"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates that read x_t only.

Rows are the batch, as in the code. Every gate of a step is a block of one input
projection ``xw_t = x_t W_ih^T + b_ih`` (there is no W_hh), so a whole sequence's
gates are one matrix product over (T*B, I), and what is left is the linear
recurrence of ``rnnkit.cells.linear_scan``:

    minGRU    xw_t = [k_z, k_h]             rows of W_ih: [z; h~] (PyTorch's GRU order without r)
              u_t  = k_z
    minLSTM   xw_t = [k_i, k_f, k_h]        rows of W_ih: [i; f; h~] (PyTorch's LSTM order without o)
              u_t  = softplus(-k_f) - softplus(-k_i)          = log i_t - log f_t
    both      z_t  = sigmoid(u_t)            the minGRU's update gate; the minLSTM's i'_t = i_t / (f_t + i_t)
              a_t  = sigmoid(-u_t) = 1 - z_t                   the minLSTM's f'_t = f_t / (f_t + i_t)
              h~_t = g(k_h)                  g(x) = x + 0.5 for x >= 0, sigmoid(x) for x < 0
              h_t  = a_t * h_{t-1} + z_t * h~_t                (a_t, b_t = z_t * h~_t for the scan)

with i_t = sigmoid(k_i), f_t = sigmoid(k_f): the minLSTM's normalised gates are
sigmoid(+-(log i_t - log f_t)), computed without dividing. This is the paper's
log-space form (its appendix B): h~ goes through g, which keeps it positive, so the
log-space scan applies (log b_t = -softplus(-u_t) + log g(k_h), log a_t = -softplus(u_t)).
The paper's plain form, h~_t = k_h, is not implemented. Unlike the paper's code the
initial state h_0 enters as it is (zeros by default), not through g, so that a state
carried from one window to the next (truncated BPTT, generation) continues the
sequence exactly.

Backward, given da_t and db_t (from the scan's reverse recurrence):

    du    = (db * h~ - da) * z * a
    dk_h  = db * z * g'(k_h)                 g'(x) = 1 for x >= 0, sigmoid(x) (1 - sigmoid(x)) for x < 0
    minGRU   dk_z = du
    minLSTM  dk_i = du * sigmoid(-k_i)       dk_f = -du * sigmoid(-k_f)

The gates of a step read nothing of h_{t-1}, so the weight gradients are single
products over all steps, dW_ih = dxw^T x, outside any loop (``rnnkit.layers.min_rnn``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.activations import sigmoid, sigmoid_grad
from rnnkit.cells.base import Cell


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), without overflow.

    (``np.logaddexp(0, x)`` is the same and took ~50 ns an element here, against ~2 for this.)
    """
    out = np.abs(x)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(x, 0.0)
    return out


def g_and_slope(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g(x), g'(x)): x + 0.5 and 1 for x >= 0, sigmoid(x) and sigmoid(x) (1 - sigmoid(x)) below.

    g is positive, continuous at 0 (0.5) and linear above it; its slope jumps there from 1/4 to 1.
    """
    s = sigmoid(x)
    positive = x >= 0
    return np.where(positive, x + 0.5, s), np.where(positive, 1.0, sigmoid_grad(s))


def log_g(x: np.ndarray) -> np.ndarray:
    """log g(x): log(x + 0.5) for x >= 0, -softplus(-x) below."""
    return np.where(x >= 0, np.log(np.maximum(x, 0.0) + 0.5), -softplus(-x))


def sigmoid_pair(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid(u), sigmoid(-u)) from one tanh: 1/2 + tanh(u/2)/2 and 1/2 - tanh(u/2)/2, the very
    numbers ``sigmoid`` gives for each."""
    half = np.multiply(u, 0.5)
    np.tanh(half, out=half)
    half *= 0.5
    return 0.5 + half, 0.5 - half


@dataclass
class MinGates:
    """A sequence's gates, as backward reads them; each (T, B, H) (or (B, H) for one step)."""

    update: np.ndarray             # z_t = sigmoid(u_t)
    decay: np.ndarray              # a_t = sigmoid(-u_t) = 1 - z_t
    candidate: np.ndarray          # h~_t = g(k_h)
    candidate_slope: np.ndarray    # g'(k_h)

    def inputs(self) -> np.ndarray:
        """b_t = z_t * h~_t, the recurrence's input term."""
        return self.update * self.candidate


@dataclass
class MinLSTMGates(MinGates):
    input_slope: np.ndarray        # sigmoid(-k_i) = 1 - i_t: d softplus(-k_i) / d(-k_i)
    forget_slope: np.ndarray       # sigmoid(-k_f) = 1 - f_t


class MinCell(Cell):
    """What minGRU and minLSTM share: the parameters, the gates after u, their backward, one step.

    A ``Cell`` for what a ``RecurrentLayer`` reads of its cell (sizes, state names,
    ``parameter_shapes``, ``input_bias``, ``initial_value``); the time loop's per-step
    methods do not apply: ``rnnkit.layers.min_rnn`` runs its own parallel forward.
    """

    num_gates = 2
    state_names = ("h",)

    def parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        """``weight_ih`` (gates*H, I) and ``bias_ih`` (gates*H,): PyTorch's names; there is no W_hh."""
        rows = self.num_gates * self.hidden_size
        return {"weight_ih": (rows, input_size), "bias_ih": (rows,)}

    def input_bias(self, p) -> np.ndarray:
        """The bias of the input projection xw = x W_ih^T + b_ih."""
        return p["bias_ih"]

    def _blocks(self, xw: np.ndarray) -> list[np.ndarray]:
        H = self.hidden_size
        return [xw[..., k * H:(k + 1) * H] for k in range(self.num_gates)]

    # -- forward ------------------------------------------------------------------------------
    def update_preactivation(self, xw: np.ndarray) -> np.ndarray:
        """u_t, whose sigmoid is z_t."""
        return self._blocks(xw)[0]

    def gates(self, xw: np.ndarray) -> MinGates:
        """The gates of every step of ``xw`` (..., gates*H)."""
        u, k_h = self.update_preactivation(xw), self._blocks(xw)[-1]
        return MinGates(*sigmoid_pair(u), *g_and_slope(k_h))

    def log_coefficients(self, xw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log a_t, log b_t) = (-softplus(u_t), -softplus(-u_t) + log g(k_h)), for the log-space scan."""
        u, k_h = self.update_preactivation(xw), self._blocks(xw)[-1]
        return -softplus(u), -softplus(-u) + log_g(k_h)

    def step(self, xw_t: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        """One step, for generation: h_t = a_t * h_{t-1} + z_t * h~_t."""
        gates = self.gates(xw_t)
        return gates.decay * h_prev + gates.inputs()

    # -- backward -----------------------------------------------------------------------------
    def gates_backward(self, gates: MinGates, ddecay: np.ndarray, dinputs: np.ndarray) -> np.ndarray:
        """dxw (..., gates*H) from the gradients w.r.t. a_t and b_t."""
        dxw = np.empty(ddecay.shape[:-1] + (self.num_gates * self.hidden_size,), ddecay.dtype)
        blocks = self._blocks(dxw)
        du = (dinputs * gates.candidate - ddecay) * gates.update * gates.decay
        np.multiply(dinputs * gates.update, gates.candidate_slope, out=blocks[-1])
        self.update_preactivation_backward(gates, du, blocks)
        return dxw

    def update_preactivation_backward(self, gates: MinGates, du: np.ndarray, blocks: list[np.ndarray]) -> None:
        """Write the gradients of the gate blocks that u_t reads into ``blocks`` of dxw."""
        blocks[0][...] = du


class MinGRUCell(MinCell):
    """minGRU: z_t = sigmoid(k_z), h_t = (1 - z_t) * h_{t-1} + z_t * g(k_h)."""

    num_gates = 2


class MinLSTMCell(MinCell):
    """minLSTM: h_t = f'_t * h_{t-1} + i'_t * g(k_h) with f'_t, i'_t the gates normalised to sum 1."""

    num_gates = 3

    def update_preactivation(self, xw: np.ndarray) -> np.ndarray:
        k_i, k_f, _ = self._blocks(xw)
        return softplus(-k_f) - softplus(-k_i)

    def gates(self, xw: np.ndarray) -> MinLSTMGates:
        k_i, k_f, k_h = self._blocks(xw)
        u = softplus(-k_f) - softplus(-k_i)
        return MinLSTMGates(*sigmoid_pair(u), *g_and_slope(k_h), sigmoid(-k_i), sigmoid(-k_f))

    def update_preactivation_backward(self, gates: MinLSTMGates, du, blocks) -> None:
        np.multiply(du, gates.input_slope, out=blocks[0])
        np.multiply(-du, gates.forget_slope, out=blocks[1])
