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
"""

from __future__ import annotations

from dataclasses import dataclass

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


class Cell:
    """Base class: ``num_gates`` blocks of ``hidden_size`` rows in W_ih, W_hh, b_ih, b_hh."""

    num_gates = 1
    state_names: tuple[str, ...] = ("h",)

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
        """dW_hh += sum_t dhw[t]^T h_{t-1};  db_hh += sum_t dhw[t] (one product over all t)."""
        grads["weight_hh"] += flat(dhw).T @ flat(cache.h[:-1])
        grads["bias_hh"] += dhw.sum(axis=(0, 1))
