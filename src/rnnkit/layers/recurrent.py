"""Stacked, bidirectional recurrent layers with PyTorch's API: ``RNN``, ``LSTM``, ``GRU``.

    y, h_n = rnn(x, h0=None, lengths=None)            dx, dh0 = rnn.backward(dy, dh_n)
    y, (h_n, c_n) = lstm(x, (h0, c0))                 dx, (dh0, dc0) = lstm.backward(dy, (dh_n, dc_n))

Shapes as ``torch.nn.RNN``: ``x`` is (T, B, I), (B, T, I) with ``batch_first``, or
(T, I) unbatched; ``y`` is (T, B, D*H_out) and each state (num_layers*D, B, H_out),
D = 2 if bidirectional else 1. Parameters carry PyTorch's names
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``, ...), so state dicts
move both ways; LSTM peepholes add ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}``;
``layer_norm=True`` (LSTM, GRU) adds the gains and biases ``ln_ih_weight_l{k}``, ``ln_ih_bias_l{k}``,
``ln_hh_weight_l{k}``, ``ln_hh_bias_l{k}`` and, for the LSTM, ``ln_cell_weight_l{k}``, ``ln_cell_bias_l{k}``.

Composition:
- layer k > 0 reads the concatenated [forward, backward] output of layer k-1;
- the backward direction reads each sequence reversed *within its own length*; the two
  directions run at once on two threads where that is faster (``rnnkit.layers.directions``);
- dropout acts on every layer's output but the last, in training mode only
  (``dropout_mask``, from the layer's ``rng``), and its masks are reused by ``backward``;
- ``lengths`` (B,) on a padded batch gives the results of a PyTorch PackedSequence:
  zero outputs past each end, final states at each sequence's own last step;
- the regularisers, all off by default (``rnnkit.layers.regularisers``): ``input_dropout``,
  ``locked_dropout``, ``output_dropout`` (one mask per sequence on the stack's input, between
  layers, on its output), ``recurrent_dropout`` (on h_{t-1} where W_hh reads it),
  ``weight_dropout`` (DropConnect on W_hh) and ``zoneout_h``, ``zoneout_c``.

What other modules (a ``Stepper``, a model) may read of a layer, besides its
constructor's arguments: ``cell_parameters(layer, direction)``, ``initial_states(hx,
batch)``, ``check_array(name, a)`` and ``pack_state(states)``. What one call needs
for its ``backward`` (its layout, unbatched or batch-first; the time loops' caches;
the dropout masks) is in that call's ``StackCache``, not on the layer, so stepping
between a ``forward`` and its ``backward`` changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from rnnkit.cells import GRUCell, LayerNormGRUCell, LayerNormLSTMCell, LSTMCell, RNNCell
from rnnkit.cells.base import Cell, Workspace
from rnnkit.layers import directions
from rnnkit.layers.dropout import dropout_mask
from rnnkit.layers.lengths import check_lengths, valid_steps
from rnnkit.layers.regularisers import Regularisers, StackNoise
from rnnkit.layers.stepper import Stepper
from rnnkit.layers.time_loop import SequenceCache, backward_through_time, forward_through_time
from rnnkit.module import Module


def run_directions(runs: list, at_once: bool) -> list:
    """The results of a layer's one or two direction calls; two on two threads ``at_once``
    (``rnnkit.layers.directions``)."""
    return [runs[0]()] if len(runs) == 1 else list(directions.both(*runs, at_once))


def reverse_time(a: np.ndarray, reverse_index: np.ndarray | None) -> np.ndarray:
    """Reverse (T, B, ...) along time, each sequence within its own length when padded.

    ``reverse_index[t, b] = length[b] - 1 - t`` for t < length[b], else t; the map
    is its own inverse, so the same call undoes it.
    """
    if reverse_index is None:
        return a[::-1]
    return a[reverse_index, np.arange(a.shape[1])]


@dataclass(frozen=True)
class Layout:
    """How a call's arrays are laid out: (T, B, N) time-major inside, the caller's outside."""

    unbatched: bool           # x was (T, I): every result drops the batch axis
    batch_first: bool         # x was (B, T, I): outputs are (B, T, N) (states stay (layers, B, N))

    def to_time_major(self, a: np.ndarray) -> np.ndarray:
        """The caller's (T, N), (B, T, N) or (T, B, N) -> (T, B, N)."""
        if self.unbatched:
            return a[:, None, :]
        return a.transpose(1, 0, 2) if self.batch_first else a

    def to_caller(self, a: np.ndarray) -> np.ndarray:
        """(T, B, N) -> the caller's layout."""
        if self.unbatched:
            return a[:, 0, :]
        return a.transpose(1, 0, 2) if self.batch_first else a

    def state_to_caller(self, state: np.ndarray) -> np.ndarray:
        """(layers, B, N) -> (layers, N) for unbatched input; states are never batch-first."""
        return state[:, 0, :] if self.unbatched else state


BATCHED = Layout(unbatched=False, batch_first=False)


@dataclass
class StackCache:
    """What ``RecurrentLayer.backward`` reads of the last ``forward`` call."""

    layout: Layout
    reverse_index: np.ndarray | None     # (T, B) for ``reverse_time``; None without lengths
    sequences: list[SequenceCache]       # per (layer, direction), index layer * D + direction
    dropout_masks: list[np.ndarray]      # per gap between layers, in training mode with dropout; else empty
                                         # (locked_dropout's are (1, B, N): one per sequence)
    noise: StackNoise                    # the other regularisers' masks outside the time loops


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
        input_dropout: float = 0.0,
        locked_dropout: float = 0.0,
        output_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        zoneout_h: float = 0.0,
        zoneout_c: float = 0.0,
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
        self.regularisers = Regularisers(input_dropout, locked_dropout, output_dropout, recurrent_dropout,
                                         weight_dropout, zoneout_h, zoneout_c)
        self.regularisers.check(cell, dropout)
        self.num_directions = 2 if bidirectional else 1
        self.rng = np.random.default_rng(rng)   # a Generator passes through unchanged
        self._cell_params: list[tuple[dict, dict]] = []   # per (layer, direction): params, grads
        self._create_parameters()
        # the time loop's buffers, kept between calls (see Workspace): each (layer, direction)
        # has its own for the caches; the layers share one scratch for xw / dxw, and a second one
        # serves the reverse direction while the two run at once (``rnnkit.layers.directions``;
        # a workspace holds nothing until it is used)
        self._workspaces = [Workspace() for _ in self._cell_params]
        self._scratches = [Workspace() for _ in range(self.num_directions)]
        self._cache: StackCache | None = None

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
                    value = self.cell.initial_value(name, shape, self.dtype)
                    if value is None:
                        value = self.rng.uniform(-bound, bound, shape).astype(self.dtype)
                    params[name] = self.register_parameter(name + suffix, value)
                    grads[name] = self._grads[name + suffix]
                self._cell_params.append((params, grads))

    def cell_parameters(self, layer: int = 0, direction: int = 0) -> Mapping[str, np.ndarray]:
        """The parameters of one layer and direction by the cell's names (``weight_ih``, ``bias_hh``, ...).

        A read-only mapping of the layer's own arrays, which training updates in place;
        without ``bias``, the biases are zeros that are not parameters.
        """
        if not (0 <= layer < self.num_layers and 0 <= direction < self.num_directions):
            raise IndexError(f"no layer {layer}, direction {direction}: the layer has {self.num_layers} "
                             f"layer(s) and {self.num_directions} direction(s)")
        return MappingProxyType(self._cell_params[layer * self.num_directions + direction][0])

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

    def pack_state(self, states: list[np.ndarray]):
        """Per-state arrays in ``cell.state_names`` order -> the caller's form: a bare array, or (h, c)."""
        return states[0] if len(states) == 1 else tuple(states)

    # -- checks -------------------------------------------------------------------------
    def _check_input(self, x) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.ndim not in (2, 3):
            shape = getattr(x, "shape", None)
            raise ValueError(f"x must be a 2-D (T, I) or 3-D array, got shape {shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"x: expected last dimension input_size={self.input_size}, got shape {x.shape}")
        self.check_array("x", x)
        if x.shape[0] == 0 or (x.ndim == 3 and x.shape[1] == 0):
            raise ValueError(f"x: sequence length and batch size must be positive, got shape {x.shape}")
        return x

    def check_array(self, name: str, a: np.ndarray, part: str = "") -> None:
        """ValueError naming argument ``name`` (and ``part`` of it) unless ``a`` has the layer's dtype and is finite."""
        where = name + (f" ({part})" if part else "")
        if a.dtype != self.dtype:
            other = (f" or build the layer with dtype=np.{a.dtype}" if a.dtype in (np.float32, np.float64)
                     else "")                                    # the only dtypes a layer takes
            raise ValueError(f"{where} has dtype {a.dtype} but the layer computes in {self.dtype}: "
                             f"pass {name}.astype(np.{self.dtype}){other}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where} contains NaN or inf")

    def initial_states(self, hx, batch: int, layout: Layout = BATCHED, name: str = "hx") -> list[np.ndarray]:
        """Each state of ``hx`` as a checked (num_layers*D, B, size) array; zeros where ``hx`` is None.

        ``layout.unbatched``: ``hx`` holds (num_layers*D, size) arrays, as an unbatched ``forward`` takes.
        """
        out = []
        for state_name, size, state in zip(self.cell.state_names, self.cell.state_sizes, self._state_tuple(hx)):
            shape = (self.num_layers * self.num_directions, batch, size)
            if state is None:
                out.append(np.zeros(shape, self.dtype))
                continue
            state = np.asarray(state)
            if layout.unbatched:
                state = state[:, None, :] if state.ndim == 2 else state
            if state.shape != shape:
                expected = (shape[0], shape[2]) if layout.unbatched else shape
                raise ValueError(f"{name} ({state_name}): expected shape {expected}, got {np.shape(state)}")
            self.check_array(name, state, state_name)
            out.append(state)
        return out

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, hx=None, lengths=None):
        """Run the stack over ``x``. Returns ``(y, h_n)``, or ``(y, (h_n, c_n))`` for LSTM."""
        x = self._check_input(x)
        layout = Layout(unbatched=x.ndim == 2, batch_first=self.batch_first)
        x = layout.to_time_major(x)
        steps, batch, _ = x.shape
        initial = self.initial_states(hx, batch, layout)

        alive = reverse_index = None
        if lengths is not None:
            lengths = check_lengths(lengths, steps, batch)
            alive = valid_steps(lengths, steps)                    # (T, B, 1)
            time = np.arange(steps)[:, None]
            reverse_index = np.where(alive[:, :, 0], lengths - 1 - time, time)

        finals = [np.empty_like(state) for state in initial]
        sequences, dropout_masks = [], []
        regularisers, noise = self.regularisers, StackNoise()
        at_once = self._directions_at_once(batch)
        noise.input_mask = regularisers.locked_mask(self.rng, regularisers.input_dropout, x, self.training)
        layer_input = np.ascontiguousarray(x if noise.input_mask is None else x * noise.input_mask)
        for layer in range(self.num_layers):
            runs = []                                                  # each direction's time loop, to call
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                params, _ = self._cell_params[k]
                noise.weight_drops.append(regularisers.weight_drop(self.rng, params, self.training))
                if noise.weight_drops[k] is not None:
                    params = noise.weight_drops[k].params              # W~_hh in place of W_hh
                sequence = layer_input if direction == 0 else reverse_time(layer_input, reverse_index)
                runs.append(functools.partial(
                    forward_through_time, self.cell, params, sequence, tuple(s[k] for s in initial), alive,
                    self._workspaces[k], self._scratches[direction if at_once else 0],
                    **regularisers.sequence_noise(self.rng, self.cell, steps, batch, self.dtype, self.training)))
            outputs = []
            for direction, (y, final, cache) in enumerate(run_directions(runs, at_once)):
                k = layer * self.num_directions + direction
                outputs.append(y if direction == 0 else reverse_time(y, reverse_index))
                sequences.append(cache)
                for buffer, state in zip(finals, final):
                    buffer[k] = state
            layer_input = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=-1)
            if layer < self.num_layers - 1 and self.training and self.dropout > 0:
                mask = dropout_mask(self.rng, layer_input.shape, self.dropout, self.dtype, uniform_dtype=np.float64)
                dropout_masks.append(mask)
                layer_input = layer_input * mask
            elif layer < self.num_layers - 1 and self.training and regularisers.locked_dropout > 0:
                mask = regularisers.locked_mask(self.rng, regularisers.locked_dropout, layer_input, self.training)
                dropout_masks.append(mask)
                layer_input = layer_input * mask
        noise.output_mask = regularisers.locked_mask(self.rng, regularisers.output_dropout, layer_input, self.training)
        if noise.output_mask is not None:
            layer_input = layer_input * noise.output_mask
        self._cache = StackCache(layout, reverse_index, sequences, dropout_masks, noise)
        return layout.to_caller(layer_input), self.pack_state([layout.state_to_caller(s) for s in finals])

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

    # -- backward -----------------------------------------------------------------------
    def backward(self, dy: np.ndarray, dhx=None):
        """Gradients w.r.t. ``x`` and the initial state(s); parameter gradients add to ``grads``.

        ``dy`` has the shape of ``y``; ``dhx`` that of the returned state (None: zero).
        """
        cache = self._cache
        if cache is None:
            raise RuntimeError("backward() called before forward()")
        layout = cache.layout
        dy = layout.to_time_major(np.asarray(dy, self.dtype))
        expected = cache.sequences[-1].x.shape[:2] + (self.cell.output_size * self.num_directions,)
        if dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected} (time-major), got {dy.shape}")
        batch = dy.shape[1]
        dfinals = self.initial_states(dhx, batch, layout, name="dh_n")
        dinitials = [np.zeros_like(d) for d in dfinals]
        reverse_index, out_size = cache.reverse_index, self.cell.output_size

        noise = cache.noise
        doutput = dy if noise.output_mask is None else dy * noise.output_mask
        at_once = self._directions_at_once(batch)
        for layer in reversed(range(self.num_layers)):
            runs = []                                                  # each direction's backward loop, to call
            for direction in range(self.num_directions):
                dy_direction = doutput[..., direction * out_size:(direction + 1) * out_size]
                if direction == 1:
                    dy_direction = reverse_time(dy_direction, reverse_index)
                k = layer * self.num_directions + direction
                runs.append(functools.partial(self._backward_direction, k, self._scratches[direction if at_once else 0],
                                              dy_direction, tuple(d[k] for d in dfinals)))
            dinput = 0.0
            for direction, (dx, dinitial) in enumerate(run_directions(runs, at_once)):
                k = layer * self.num_directions + direction
                dinput = dinput + (dx if direction == 0 else reverse_time(dx, reverse_index))
                for buffer, d in zip(dinitials, dinitial):
                    buffer[k] = d
            if layer > 0 and cache.dropout_masks:
                dinput = dinput * cache.dropout_masks[layer - 1]
            doutput = dinput
        if noise.input_mask is not None:
            doutput = doutput * noise.input_mask
        return layout.to_caller(doutput), self.pack_state([layout.state_to_caller(d) for d in dinitials])

    def _directions_at_once(self, batch: int) -> bool:
        """Whether this layer's two directions run on two threads for a batch of ``batch``."""
        return self.bidirectional and directions.concurrent(self.cell, batch, self.dtype)

    def _backward_direction(self, k: int, scratch: Workspace, dy: np.ndarray, dfinal: tuple[np.ndarray, ...]):
        """``backward_through_time`` of layer-and-direction ``k`` (dy in its own time order): (dx, dinitial)."""
        params, grads = self._cell_params[k]
        weight_drop = self._cache.noise.weight_drops[k]
        if weight_drop is not None:                                   # the steps ran W~_hh: dW~_hh, then dW_hh
            params, layer_grads, grads = weight_drop.params, grads, weight_drop.sequence_grads(grads)
        dx, dinitial = backward_through_time(self.cell, params, grads, self._cache.sequences[k], dy, dfinal, scratch)
        if weight_drop is not None:
            weight_drop.add_weight_grad(grads, layer_grads)
        return dx, dinitial

    def __repr__(self) -> str:
        options = [f"{self.input_size}, {self.hidden_size}"]
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                options.append(f"{name}={getattr(self, name)}")
        options += [f"{name}={value}" for name, value in self.regularisers.changed().items()]
        return f"{type(self).__name__}({', '.join(options)})"


def check_options(input_size, hidden_size, num_layers, options: dict, **switches) -> None:
    """ValueError naming the argument unless the sizes are positive integers, ``dropout`` a number in
    [0, 1) and each of ``switches`` and of the boolean ``options`` (bias, batch_first, bidirectional)
    True or False: checked before a cell is built, so that an error names what is wrong
    (``bidirectional="no"`` would otherwise build a bidirectional layer)."""
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name in ("bias", "batch_first", "bidirectional"):
        if name in options:
            switches[name] = options[name]
    for name, value in switches.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    dropout = options.get("dropout", 0.0)
    if isinstance(dropout, (bool, np.bool_)) or not isinstance(dropout, (int, float, np.number)) \
            or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")


class RNN(RecurrentLayer):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act = tanh or relu."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", **options):
        check_options(input_size, hidden_size, num_layers, options)
        super().__init__(RNNCell(hidden_size, nonlinearity), input_size, num_layers, **options)


class LSTM(RecurrentLayer):
    """LSTM (gates i, f, g, o), with optional peepholes and output projection; see ``rnnkit.cells.lstm``.

    ``forget_bias`` sets the forget-gate block of ``bias_ih`` to that value and of
    ``bias_hh`` to zero, so the forget gate starts at sigmoid(forget_bias).
    ``layer_norm=True``: the layer-normalised LSTM of Ba et al. 2016 (``rnnkit.cells.layer_norm_lstm``),
    on the NumPy steps (no compiled kernel); not with ``proj_size``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, proj_size=0, peephole=False,
                 forget_bias=None, layer_norm=False, **options):
        check_options(input_size, hidden_size, num_layers, options, peephole=peephole, layer_norm=layer_norm)
        if isinstance(proj_size, (bool, np.bool_)) or not isinstance(proj_size, (int, np.integer)):
            raise ValueError(f"proj_size must be an integer, 0 or in [1, hidden_size), got {proj_size!r}")
        if forget_bias is not None and not (isinstance(forget_bias, (int, float, np.number))
                                            and not isinstance(forget_bias, (bool, np.bool_))
                                            and np.isfinite(forget_bias)):
            raise ValueError(f"forget_bias must be None or a finite number, got {forget_bias!r}")
        if layer_norm and proj_size:
            raise ValueError(f"`layer_norm` has no projection: build the LSTM with `proj_size=0`, got {proj_size}")
        cell = LayerNormLSTMCell(hidden_size, peephole) if layer_norm else LSTMCell(hidden_size, proj_size, peephole)
        super().__init__(cell, input_size, num_layers, **options)
        self.proj_size, self.peephole, self.layer_norm = proj_size, peephole, layer_norm
        if forget_bias is not None:
            forget = slice(hidden_size, 2 * hidden_size)
            for params, _ in self._cell_params:
                params["bias_ih"][forget] = forget_bias
                params["bias_hh"][forget] = 0.0


class GRU(RecurrentLayer):
    """GRU (gates r, z, n), reset-after as PyTorch or reset-before as Cho et al.; see ``rnnkit.cells.gru``.

    ``layer_norm=True``: both projections layer-normalised (``rnnkit.cells.layer_norm_gru``), reset-after
    only, on the NumPy steps (no compiled kernel).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, reset_after=True, layer_norm=False, **options):
        check_options(input_size, hidden_size, num_layers, options, reset_after=reset_after, layer_norm=layer_norm)
        if layer_norm and not reset_after:
            raise ValueError("`layer_norm` is reset-after only: build the GRU with `reset_after=True`")
        cell = LayerNormGRUCell(hidden_size) if layer_norm else GRUCell(hidden_size, reset_after)
        super().__init__(cell, input_size, num_layers, **options)
        self.reset_after, self.layer_norm = reset_after, layer_norm
