"""Stacked, bidirectional recurrent layers with PyTorch's API: ``RNN``, ``LSTM``, ``GRU``.

    y, h_n = rnn(x, h0=None, lengths=None)            dx, dh0 = rnn.backward(dy, dh_n)
    y, (h_n, c_n) = lstm(x, (h0, c0))                 dx, (dh0, dc0) = lstm.backward(dy, (dh_n, dc_n))

Shapes as ``torch.nn.RNN``: ``x`` is (T, B, I), (B, T, I) with ``batch_first``, or
(T, I) unbatched; ``y`` is (T, B, D*H_out) and each state (num_layers*D, B, H_out),
D = 2 if bidirectional else 1. Parameters carry PyTorch's names
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``, ...), so state dicts
move both ways; LSTM peepholes add ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}``.

Composition:
- layer k > 0 reads the concatenated [forward, backward] output of layer k-1;
- the backward direction reads each sequence reversed *within its own length*;
- dropout acts on every layer's output but the last, in training mode only, and
  its masks are reused by ``backward``;
- ``lengths`` (B,) on a padded batch gives the results of a PyTorch PackedSequence:
  zero outputs past each end, final states at each sequence's own last step.
"""

from __future__ import annotations

import numpy as np

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.cells.base import Cell, Workspace
from rnnkit.layers.stepper import Stepper
from rnnkit.layers.time_loop import backward_through_time, forward_through_time
from rnnkit.module import Module


def reverse_time(a: np.ndarray, reverse_index: np.ndarray | None) -> np.ndarray:
    """Reverse (T, B, ...) along time, each sequence within its own length when padded.

    ``reverse_index[t, b] = length[b] - 1 - t`` for t < length[b], else t; the map
    is its own inverse, so the same call undoes it.
    """
    if reverse_index is None:
        return a[::-1]
    return a[reverse_index, np.arange(a.shape[1])]


class RecurrentLayer(Module):
    """The stacking, direction and masking logic shared by RNN, LSTM and GRU."""

    def __init__(
        self,
        cell: Cell,
        input_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=np.float32,
        rng=None,
    ):
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", cell.hidden_size),
                            ("num_layers", num_layers)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.cell = cell
        self.input_size, self.hidden_size = input_size, cell.hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = dropout, bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.rng = np.random.default_rng(rng)   # a Generator passes through unchanged
        self._cell_params: list[tuple[dict, dict]] = []   # per (layer, direction): params, grads
        self._create_parameters()
        # the time loop's buffers, kept between calls (see Workspace): each (layer, direction)
        # has its own for the caches; all share one scratch for xw / dxw
        self._workspaces = [Workspace() for _ in self._cell_params]
        self._scratch = Workspace()

    # -- parameters -------------------------------------------------------------------
    def _create_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, as PyTorch."""
        bound = 1.0 / np.sqrt(self.hidden_size)
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.cell.output_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                params, grads = {}, {}
                for name, shape in self.cell.parameter_shapes(layer_input).items():
                    if name.startswith("bias") and not self.bias:
                        params[name] = np.zeros(shape, self.dtype)   # not a parameter
                        grads[name] = np.zeros(shape, self.dtype)
                        continue
                    value = self.rng.uniform(-bound, bound, shape).astype(self.dtype)
                    params[name] = self.register_parameter(name + suffix, value)
                    grads[name] = self._grads[name + suffix]
                self._cell_params.append((params, grads))

    # -- state packing: RNN/GRU use a bare array, LSTM a tuple (h, c) ------------------
    def _state_tuple(self, state) -> tuple:
        count = len(self.cell.state_names)
        if state is None:
            return (None,) * count
        if count == 1:
            return (state,)
        if not isinstance(state, (tuple, list)) or len(state) != count:
            raise ValueError(f"{type(self).__name__} state must be a tuple {self.cell.state_names}")
        return tuple(state)

    def _state_out(self, states: list[np.ndarray]):
        return states[0] if len(states) == 1 else tuple(states)

    # -- checks -------------------------------------------------------------------------
    def _check_input(self, x) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.ndim not in (2, 3):
            shape = getattr(x, "shape", None)
            raise ValueError(f"x must be a 2-D (T, I) or 3-D array, got shape {shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"x: expected last dimension input_size={self.input_size}, got shape {x.shape}")
        self._check_dtype("x", x)
        if x.shape[0] == 0 or (x.ndim == 3 and x.shape[1] == 0):
            raise ValueError(f"x: sequence length and batch size must be positive, got shape {x.shape}")
        return x

    def _check_dtype(self, name: str, a: np.ndarray) -> None:
        if a.dtype != self.dtype:
            raise ValueError(
                f"{name} has dtype {a.dtype} but the layer computes in {self.dtype}: "
                f"pass {name}.astype(np.{self.dtype}) or build the layer with dtype=np.{a.dtype}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or inf")

    def _check_states(self, states: tuple, batch: int, name: str) -> list[np.ndarray]:
        """Each state as (num_layers*D, B, size); zeros where None."""
        out = []
        for state_name, size, state in zip(self.cell.state_names, self.cell.state_sizes, states):
            shape = (self.num_layers * self.num_directions, batch, size)
            if state is None:
                out.append(np.zeros(shape, self.dtype))
                continue
            state = np.asarray(state)
            if self._unbatched:
                state = state[:, None, :] if state.ndim == 2 else state
            if state.shape != shape:
                expected = (shape[0], shape[2]) if self._unbatched else shape
                raise ValueError(f"{name} ({state_name}): expected shape {expected}, got {np.shape(state)}")
            self._check_dtype(f"{name} ({state_name})", state)
            out.append(state)
        return out

    def _check_lengths(self, lengths, steps: int, batch: int) -> np.ndarray:
        lengths = np.asarray(lengths)
        if lengths.shape != (batch,) or not np.issubdtype(lengths.dtype, np.integer):
            raise ValueError(f"lengths must be {batch} integers (one per sequence), got {lengths!r}")
        if lengths.min() < 1 or lengths.max() > steps:
            raise ValueError(f"lengths must lie in [1, {steps}] (the padded length), got {lengths.tolist()}")
        return lengths

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, hx=None, lengths=None):
        """Run the stack over ``x``. Returns ``(y, h_n)``, or ``(y, (h_n, c_n))`` for LSTM."""
        x = self._check_input(x)
        self._unbatched = x.ndim == 2
        if self._unbatched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        steps, batch, _ = x.shape
        initial = self._check_states(self._state_tuple(hx), batch, "hx")

        alive = reverse_index = None
        if lengths is not None:
            lengths = self._check_lengths(lengths, steps, batch)
            time = np.arange(steps)[:, None]
            alive = (time < lengths)[:, :, None]                    # (T, B, 1)
            reverse_index = np.where(time < lengths, lengths - 1 - time, time)
        self._reverse_index = reverse_index

        finals = [np.empty_like(state) for state in initial]
        self._caches, self._dropout_masks = [], []
        layer_input = np.ascontiguousarray(x)
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                params, _ = self._cell_params[k]
                sequence = layer_input if direction == 0 else reverse_time(layer_input, reverse_index)
                y, final, cache = forward_through_time(
                    self.cell, params, sequence, tuple(s[k] for s in initial), alive, self._workspaces[k], self._scratch)
                outputs.append(y if direction == 0 else reverse_time(y, reverse_index))
                self._caches.append(cache)
                for buffer, state in zip(finals, final):
                    buffer[k] = state
            layer_input = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=-1)
            if layer < self.num_layers - 1 and self.training and self.dropout > 0:
                keep = self.rng.random(layer_input.shape) >= self.dropout
                mask = keep.astype(self.dtype) / (1.0 - self.dropout)
                self._dropout_masks.append(mask)
                layer_input = layer_input * mask
        return self._to_user_layout(layer_input), self._state_out([self._squeeze(s) for s in finals])

    def step(self, x_t: np.ndarray, hx=None):
        """One time step of a unidirectional stack, for generation: x_t (B, I) -> (y_t, state).

        As ``forward`` on a sequence of length 1 in eval mode, with states shaped as
        ``forward``'s, but nothing is kept for ``backward``. For many steps in a row
        ``stepper()`` is faster: it keeps its buffers and state between steps.
        """
        if x_t.ndim != 2 or x_t.shape[1] != self.input_size:
            raise ValueError(f"x_t: expected shape (B, {self.input_size}), got {x_t.shape}")
        stepper = self.stepper(hx, batch=x_t.shape[0])
        return stepper(x_t), stepper.state

    def stepper(self, hx=None, batch: int = 1) -> Stepper:
        """A ``Stepper`` starting from state ``hx``: many single steps, each only its arithmetic."""
        return Stepper(self, hx, batch)

    def _to_user_layout(self, a: np.ndarray) -> np.ndarray:
        """(T, B, N) time-major -> the caller's layout (batch_first or unbatched)."""
        if self._unbatched:
            return a[:, 0, :]
        return a.transpose(1, 0, 2) if self.batch_first else a

    def _from_user_layout(self, a: np.ndarray) -> np.ndarray:
        if self._unbatched:
            return a[:, None, :]
        return a.transpose(1, 0, 2) if self.batch_first else a

    def _squeeze(self, state: np.ndarray) -> np.ndarray:
        return state[:, 0, :] if self._unbatched else state

    # -- backward -----------------------------------------------------------------------
    def backward(self, dy: np.ndarray, dhx=None):
        """Gradients w.r.t. ``x`` and the initial state(s); parameter gradients add to ``grads``.

        ``dy`` has the shape of ``y``; ``dhx`` that of the returned state (None: zero).
        """
        if not getattr(self, "_caches", None):
            raise RuntimeError("backward() called before forward()")
        dy = self._from_user_layout(np.asarray(dy, self.dtype))
        expected = self._caches[-1].x.shape[:2] + (self.cell.output_size * self.num_directions,)
        if dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected} (time-major), got {dy.shape}")
        batch = dy.shape[1]
        dfinals = self._check_states(self._state_tuple(dhx), batch, "dh_n")
        dinitials = [np.zeros_like(d) for d in dfinals]
        reverse_index, out_size = self._reverse_index, self.cell.output_size

        doutput = dy
        for layer in reversed(range(self.num_layers)):
            dinput = 0.0
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                params, grads = self._cell_params[k]
                dy_direction = doutput[..., direction * out_size:(direction + 1) * out_size]
                if direction == 1:
                    dy_direction = reverse_time(dy_direction, reverse_index)
                dx, dinitial = backward_through_time(self.cell, params, grads, self._caches[k], dy_direction,
                                                     tuple(d[k] for d in dfinals), self._scratch)
                dinput = dinput + (dx if direction == 0 else reverse_time(dx, reverse_index))
                for buffer, d in zip(dinitials, dinitial):
                    buffer[k] = d
            if layer > 0 and self._dropout_masks:
                dinput = dinput * self._dropout_masks[layer - 1]
            doutput = dinput
        return self._to_user_layout(doutput), self._state_out([self._squeeze(d) for d in dinitials])

    def __repr__(self) -> str:
        options = [f"{self.input_size}, {self.hidden_size}"]
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                options.append(f"{name}={getattr(self, name)}")
        return f"{type(self).__name__}({', '.join(options)})"


class RNN(RecurrentLayer):
    """Elman RNN: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, act = tanh or relu."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", **options):
        super().__init__(RNNCell(hidden_size, nonlinearity), input_size, num_layers, **options)


class LSTM(RecurrentLayer):
    """LSTM (gates i, f, g, o), with optional peepholes and output projection; see ``rnnkit.cells.lstm``.

    ``forget_bias`` sets the forget-gate block of ``bias_ih`` to that value and of
    ``bias_hh`` to zero, so the forget gate starts at sigmoid(forget_bias).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, proj_size=0, peephole=False,
                 forget_bias=None, **options):
        super().__init__(LSTMCell(hidden_size, proj_size, peephole), input_size, num_layers, **options)
        self.proj_size, self.peephole = proj_size, peephole
        if forget_bias is not None:
            forget = slice(hidden_size, 2 * hidden_size)
            for params, _ in self._cell_params:
                params["bias_ih"][forget] = forget_bias
                params["bias_hh"][forget] = 0.0


class GRU(RecurrentLayer):
    """GRU (gates r, z, n), reset-after as PyTorch or reset-before as Cho et al.; see ``rnnkit.cells.gru``."""

    def __init__(self, input_size, hidden_size, num_layers=1, reset_after=True, **options):
        super().__init__(GRUCell(hidden_size, reset_after), input_size, num_layers, **options)
        self.reset_after = reset_after
