"""What every recurrent cell shares: its parameter shapes, its buffers, its hidden-weight gradient.

A cell is the math of *one time step*. Rows are the batch, as in the code: x_t is
(B, I), h_t (B, H_out), so a product reads ``x_t W_ih^T``. The time loop
(``rnnkit.layers.time_loop``) calls a cell, for one layer and one direction, as

    xw[t]  = x_t W_ih^T + b_ih + b_hh         (all t at once, before the loop; ``input_bias``)
    cell.step_forward(p, weight_hh_T, xw[t], cache, t)
    ...
    dstate = cell.step_backward(p, dstate, cache, t, dxw, dhw)

so ``xw_t`` holds both biases (but for the GRU's b_hn in its reset-after form, see
``GRUCell.input_bias``), and a step adds only ``h_{t-1} W_hh^T``, with ``weight_hh_T``
(= W_hh^T) passed by the caller. ``cache`` (a ``CellCache``) holds every buffer of the
sequence, preallocated once: the states (``cache.h[t]`` is the hidden state *before*
step t, so ``cache.h[0] = h0`` and ``cache.h[T]`` the final one) and whatever the
backward pass needs. The backward step writes the gradient of the pre-activations
into ``dxw[t]`` (w.r.t. ``xw_t``) and ``dhw[t]`` (w.r.t. the hidden projection
``h_{t-1} W_hh^T + b_hh``); for most cells the two are the same array. The weight
gradients are then single matrix products over all time steps, after the loop:

    dW_ih = sum_t dxw[t]^T x_t         dW_hh = sum_t dhw[t]^T h_{t-1}

(``accumulate_input_bias_grad`` adds db_ih = sum_t dxw[t], ``accumulate_hidden_grads``
the rest.) A cell that normalises the projections (``rnnkit.cells.layer_norm``) gets
xw_t without biases and adds them after the normalisation itself.

The same steps compiled (float32 LSTM and GRU) are in ``rnnkit.kernels.steps``.

Recurrent dropout (Gal & Ghahramani 2016; ``RecurrentLayer(recurrent_dropout=p)``) puts
one mask m_h (B, H_out) per sequence on the state where it enters W_hh, and nowhere
else (the GRU's interpolation z * h_{t-1} reads h_{t-1} itself):

    ĥ_{t-1} = h_{t-1} * m_h            (``CellCache.hidden_input(t)``; h_{t-1} when m_h is None)
    step t reads ĥ_{t-1} W_hh^T        dW_hh = sum_t dhw[t]^T ĥ_{t-1}
    dh_{t-1} += (dhw[t] W_hh) * m_h    (``CellCache.hidden_input_grad``)

A cell whose steps do this says so with ``masks_hidden_input = True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class Workspace:
    """Buffers that a layer keeps from one call to the next, by name.

    A fresh array of tens of MB costs its first touch: page faults and the kernel
    zeroing memory, ~10 % of a training step measured on the character model. A
    layer that passes its workspace to ``allocate`` and ``grad_buffers`` gets the
    same arrays back at every call of the same shape. Only buffers that nothing
    outside the layer keeps may live here: the outputs ``h`` are always new.
    """

    def __init__(self):
        self._buffers: dict[str, np.ndarray] = {}

    def empty(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            buffer = self._buffers[name] = np.empty(shape, dtype)
        return buffer


class FreshArrays:
    """The workspace of one-off calls: every buffer is a new array."""

    @staticmethod
    def empty(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        return np.empty(shape, dtype)


def flat(a: np.ndarray) -> np.ndarray:
    """(T, B, N) -> (T*B, N), so that a sum over time and batch is one matrix product."""
    return a.reshape(-1, a.shape[-1])


@dataclass
class CellCache:
    """The buffers of one sequence, for one layer and direction: the RNN cell's, and the base of the others'."""

    h: np.ndarray    # (T+1, B, H_out): h[t] the hidden state before step t; the layer's output, always a new array
    # (B, H_out): recurrent dropout's mask m_h (``RecurrentLayer(recurrent_dropout=p)``), one per sequence,
    # 1/(1-p) or 0; None without it. Keyword-only, so every subclass's own fields stay positional.
    hidden_mask: np.ndarray | None = field(default=None, kw_only=True)
    # (T, B, H_out): h~_t, the step's own new h before zoneout mixed it into h[t+1] (``rnnkit.layers.zoneout``);
    # None without zoneout of h, where h[t+1] is h~_t. Kept by the time loop.
    new_hidden: np.ndarray | None = field(default=None, kw_only=True)

    def hidden_input(self, t: int) -> np.ndarray:
        """What W_hh reads at step t: ĥ_{t-1} = h_{t-1} * m_h, or ``h[t]`` itself without recurrent dropout."""
        return self.h[t] if self.hidden_mask is None else self.h[t] * self.hidden_mask

    def hidden_inputs(self) -> np.ndarray:
        """ĥ of every step, (T, B, H_out): what dW_hh = sum_t dhw[t]^T ĥ_{t-1} multiplies."""
        return self.h[:-1] if self.hidden_mask is None else self.h[:-1] * self.hidden_mask

    def step_output(self, t: int) -> np.ndarray:
        """h~_t as step t computed it (for a backward step that reads its own output): ``h[t + 1]``, or
        what it was before zoneout mixed h_{t-1} into it."""
        return self.h[t + 1] if self.new_hidden is None else self.new_hidden[t]

    def hidden_input_grad(self, dhidden_input: np.ndarray) -> np.ndarray:
        """dĥ_{t-1} -> its part of dh_{t-1}: dĥ * m_h, in place (the array itself without recurrent dropout)."""
        if self.hidden_mask is not None:
            dhidden_input *= self.hidden_mask
        return dhidden_input


class Cell:
    """Base class: ``num_gates`` blocks of ``hidden_size`` rows in W_ih, W_hh, b_ih, b_hh."""

    num_gates = 1
    state_names: tuple[str, ...] = ("h",)
    # whether the steps read h_{t-1} for W_hh through ``CellCache.hidden_input`` (and its gradient through
    # ``hidden_input_grad``), so that recurrent dropout reaches them; a layer refuses recurrent dropout otherwise
    masks_hidden_input = False

    def __init__(self, hidden_size: int):
        self.hidden_size = hidden_size

    @property
    def output_size(self) -> int:
        """Size of h_t, the cell's output and the input of W_hh."""
        return self.hidden_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.output_size,)

    def parameter_shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of the parameters, by PyTorch's names without the ``_l{k}`` suffix."""
        gate_rows = self.num_gates * self.hidden_size
        return {
            "weight_ih": (gate_rows, input_size),
            "weight_hh": (gate_rows, self.output_size),
            "bias_ih": (gate_rows,),
            "bias_hh": (gate_rows,),
        }

    def initial_value(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray | None:
        """The starting value of parameter ``name``; None: the layer draws it as PyTorch does, U(-1/sqrt(H), 1/sqrt(H)).

        A cell whose parameters include some that must start elsewhere (a layer
        normalisation's gains at 1) returns those; no random number is drawn for them.
        """
        return None

    def input_bias(self, p) -> np.ndarray:
        """The bias added to the input projection before the loop: b_ih + b_hh.

        Adding b_hh there rather than at every step changes nothing, as the two
        are summed anyway; a cell whose b_hh (or part of it) is not simply summed
        (the GRU's b_hn inside r * (...)) overrides this.
        """
        return p["bias_ih"] + p["bias_hh"]

    def allocate(self, steps: int, batch: int, dtype, space=FreshArrays) -> CellCache:
        """Buffers for one sequence: the states (steps + 1 entries) and what backward needs.

        ``h`` is the layer's output and always a new array; the rest come from ``space``.
        """
        return CellCache(h=self.new_outputs(steps, batch, dtype))

    def new_outputs(self, steps: int, batch: int, dtype) -> np.ndarray:
        """The buffer of h: (steps + 1, B, H_out), index t the state before step t."""
        return np.empty((steps + 1, batch, self.output_size), dtype)

    def states(self, cache: CellCache) -> tuple[np.ndarray, ...]:
        """The state buffers, in ``state_names`` order; index t is the state before step t."""
        return tuple(getattr(cache, name) for name in self.state_names)

    def grad_buffers(self, steps: int, batch: int, dtype, space=FreshArrays) -> tuple[np.ndarray, np.ndarray]:
        """``(dxw, dhw)`` buffers, (T, B, gates*H). One array when both gradients are equal."""
        dpre = space.empty("dxw", (steps, batch, self.num_gates * self.hidden_size), dtype)
        return dpre, dpre

    def accumulate_input_bias_grad(self, grads, dxw) -> None:
        """db_ih += sum_t dxw[t]: b_ih is part of xw (``input_bias``), so its gradient is xw's.

        A cell that adds b_ih elsewhere (after a normalisation of x W_ih^T) overrides this.
        """
        grads["bias_ih"] += dxw.sum(axis=(0, 1))

    def accumulate_hidden_grads(self, p, grads, cache: CellCache, dhw) -> None:
        """dW_hh += sum_t dhw[t]^T ĥ_{t-1};  db_hh += sum_t dhw[t] (one product over all t)."""
        grads["weight_hh"] += flat(dhw).T @ flat(cache.hidden_inputs())
        grads["bias_hh"] += dhw.sum(axis=(0, 1))
