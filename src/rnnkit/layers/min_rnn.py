"""Stacked minGRU and minLSTM layers (Feng et al. 2024), with the recurrent layers' API.

    y, h_n = layer(x, h0=None, lengths=None)          dx, dh0 = layer.backward(dy, dh_n)

Shapes, ``batch_first``, unbatched (T, I) input, ``num_layers``, ``bidirectional``,
``dropout`` between layers and ``lengths`` as ``rnnkit.layers.recurrent`` (whose
``RecurrentLayer`` this extends; its ``cell_parameters``, ``initial_states``,
``check_array`` and ``pack_state`` hold here too). Parameters, per layer and
direction: ``weight_ih_l{k}`` (gates*H, I) and ``bias_ih_l{k}`` (``_reverse`` for the
backward direction), rows [z; h~] (minGRU) or [i; f; h~] (minLSTM); there is no
``weight_hh``. The cells' equations are in ``rnnkit.cells.min_rnn``.

Training runs each layer and direction in parallel over time (``forward``):

    xw  = x W_ih^T + b_ih                    all T steps in one product over (T*B, I)
    a, b = gates(xw)                         elementwise over (T, B, H)
    h   = scan(a, b, h_0)                    h_t = a_t * h_{t-1} + b_t (``rnnkit.cells.linear_scan``)

and backward in reverse: G = reverse_scan(a, dy, dh_n); da_t = G_t * h_{t-1}, db_t = G_t;
dxw = gates'(da, db); dW_ih = dxw^T x, db_ih = sum dxw, dx = dxw W_ih (single products).

``lengths``: a sequence that has ended keeps its state (a_t = 1, b_t = 0 past its end)
and outputs zeros, as the other recurrent layers; its final state is its own last one.

``scan``: "sequential" (the default: a loop over t of one (B, H) multiply-add) or
"log" (the paper's log-space scan: a running sum and a running log-sum-exp). Measured
on the shared 2-core machine, one thread, float32 (``python benchmarks/bench_min_rnn.py``,
its "scan" table), forward and reverse:

    T x B x H        sequential      log
    100 x 32 x 256   0.35, 0.37 ms   4.5, 11.9 ms
    100 x 64 x 384   1.35, 1.56 ms   14.1, 49.8 ms

so the sequential loop is the default; the log-space scan is there for what the paper
did, and agrees with it to rounding (tests/test_min_rnn.py). Either way the scan is a
small part of a training step (28 ms for the minGRU at 32 x 100 x 64 x 256 in the same
run), whose time goes to the gates' elementwise passes and the input product with its
two gradient products.

Generation runs one step at a time (``stepper``): per layer xw_t = x_t W_ih^T + b_ih,
then h_t = a_t * h_{t-1} + b_t: the sequential equations, equal to ``forward``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.base import flat
from rnnkit.cells.linear_scan import DEFAULT_SCAN, check_scan, log_scan, reverse_scan, sequential_scan
from rnnkit.cells.min_rnn import MinCell, MinGates, MinGRUCell, MinLSTMCell
from rnnkit.layers.dropout import dropout_mask
from rnnkit.layers.lengths import check_lengths, valid_steps
from rnnkit.layers.recurrent import Layout, RecurrentLayer, check_options, reverse_time
from rnnkit.layers.stepper import StepperBase


@dataclass
class MinSequenceCache:
    """What the backward pass of one layer and direction reads of its forward pass."""

    x: np.ndarray                    # (T, B, I): the sequence, as this direction reads it
    alive: np.ndarray | None         # (T, B, 1): t < length[b]; None without lengths
    gates: MinGates                  # z, a, h~ and the slopes backward needs
    h: np.ndarray                    # (T+1, B, H): h[0] = h_0, h[t] the state after step t
    decay: np.ndarray                # (T, B, H): a_t, 1 past a sequence's end
    log_decay: np.ndarray | None     # (T, B, H): log a_t, for the log-space reverse scan; else None


@dataclass
class MinStackCache:
    """What ``MinRNNLayer.backward`` reads of the last ``forward`` call."""

    layout: Layout
    reverse_index: np.ndarray | None     # (T, B) for ``reverse_time``; None without lengths
    sequences: list[MinSequenceCache]    # per (layer, direction), index layer * D + direction
    dropout_masks: list[np.ndarray]      # per gap between layers, in training mode with dropout


class MinRNNLayer(RecurrentLayer):
    """The stack of a min cell: parallel over time in ``forward``, one step at a time in ``stepper``."""

    def __init__(self, cell: MinCell, input_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, rng=None, scan: str = DEFAULT_SCAN):
        check_options(input_size, cell.hidden_size, num_layers,
                      dict(bias=bias, batch_first=batch_first, dropout=dropout, bidirectional=bidirectional))
        super().__init__(cell, input_size, num_layers, bias=bias, batch_first=batch_first, dropout=dropout,
                         bidirectional=bidirectional, dtype=dtype, rng=rng)
        self.scan = check_scan(scan)

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, hx=None, lengths=None):
        """Run the stack over ``x``. Returns ``(y, h_n)``."""
        x = self._check_input(x)
        layout = Layout(unbatched=x.ndim == 2, batch_first=self.batch_first)
        x = layout.to_time_major(x)
        steps, batch, _ = x.shape
        (h0,) = self.initial_states(hx, batch, layout)
        alive = reverse_index = None
        if lengths is not None:
            lengths = check_lengths(lengths, steps, batch)
            alive = valid_steps(lengths, steps)                    # (T, B, 1)
            time = np.arange(steps)[:, None]
            reverse_index = np.where(alive[:, :, 0], lengths - 1 - time, time)

        h_n = np.empty_like(h0)
        sequences, dropout_masks = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                sequence = layer_input if direction == 0 else reverse_time(layer_input, reverse_index)
                cache = self._forward_sequence(self._cell_params[k][0], sequence, h0[k], alive)
                y = cache.h[1:] if alive is None else cache.h[1:] * alive
                outputs.append(y if direction == 0 else reverse_time(y, reverse_index))
                sequences.append(cache)
                h_n[k] = cache.h[steps]
            layer_input = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=-1)
            if layer < self.num_layers - 1 and self.training and self.dropout > 0:
                mask = dropout_mask(self.rng, layer_input.shape, self.dropout, self.dtype, uniform_dtype=np.float64)
                dropout_masks.append(mask)
                layer_input = layer_input * mask
        self._cache = MinStackCache(layout, reverse_index, sequences, dropout_masks)
        return layout.to_caller(layer_input), layout.state_to_caller(h_n)

    def _forward_sequence(self, p, x, h0, alive) -> MinSequenceCache:
        """One layer and direction over x (T, B, I) from h0 (B, H): the gates, then the scan."""
        steps, batch, _ = x.shape
        xw = (flat(x) @ p["weight_ih"].T).reshape(steps, batch, -1)    # one product for all steps
        xw += self.cell.input_bias(p)
        gates = self.cell.gates(xw)
        log_decay = None
        if self.scan == "log":
            log_decay, log_inputs = self.cell.log_coefficients(xw)
            if alive is not None:                                      # past the end: a = 1, b = 0
                log_decay = np.where(alive, log_decay, 0.0)
                log_inputs = np.where(alive, log_inputs, -np.inf)
            h = log_scan(log_decay, log_inputs, h0)
            decay = np.exp(log_decay)
        else:
            decay, inputs = gates.decay, gates.inputs()
            if alive is not None:
                decay = np.where(alive, decay, 1.0)
                inputs = np.where(alive, inputs, 0.0)
            h = sequential_scan(decay, inputs, h0)
        return MinSequenceCache(x, alive, gates, h.astype(self.dtype, copy=False),
                                decay.astype(self.dtype, copy=False), log_decay)

    def stepper(self, hx=None, batch: int = 1) -> MinStepper:
        """A ``MinStepper`` starting from state ``hx``: one step at a time, for generation."""
        return MinStepper(self, hx, batch)

    # -- backward -----------------------------------------------------------------------
    def backward(self, dy: np.ndarray, dhx=None):
        """Gradients w.r.t. ``x`` and ``h0``; parameter gradients add to ``grads``."""
        cache = self._cache
        if cache is None:
            raise RuntimeError("backward() called before forward()")
        layout = cache.layout
        dy = layout.to_time_major(np.asarray(dy, self.dtype))
        expected = cache.sequences[-1].x.shape[:2] + (self.hidden_size * self.num_directions,)
        if dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected} (time-major), got {dy.shape}")
        (dh_n,) = self.initial_states(dhx, dy.shape[1], layout, name="dh_n")
        dh0 = np.zeros_like(dh_n)
        H, reverse_index = self.hidden_size, cache.reverse_index

        doutput = dy
        for layer in reversed(range(self.num_layers)):
            dinput = 0.0
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                dy_direction = doutput[..., direction * H:(direction + 1) * H]
                if direction == 1:
                    dy_direction = reverse_time(dy_direction, reverse_index)
                dx, dh0[k] = self._backward_sequence(*self._cell_params[k], cache.sequences[k], dy_direction, dh_n[k])
                dinput = dinput + (dx if direction == 0 else reverse_time(dx, reverse_index))
            if layer > 0 and cache.dropout_masks:
                dinput = dinput * cache.dropout_masks[layer - 1]
            doutput = dinput
        return layout.to_caller(doutput), layout.state_to_caller(dh0)

    def _backward_sequence(self, p, grads, cache: MinSequenceCache, dy, dh_n) -> tuple[np.ndarray, np.ndarray]:
        """(dx, dh0) of one layer and direction; adds dW_ih and db_ih to ``grads``."""
        x, alive = cache.x, cache.alive
        if alive is not None:
            dy = dy * alive                                  # padded outputs are constants
        G, dh0 = reverse_scan(cache.decay, dy, dh_n, self.scan, cache.log_decay)
        ddecay, dinputs = G * cache.h[:-1], G
        if alive is not None:                                # a = 1 and b = 0 past the end are constants
            ddecay, dinputs = ddecay * alive, dinputs * alive
        dxw = self.cell.gates_backward(cache.gates, ddecay, dinputs)
        grads["weight_ih"] += flat(dxw).T @ flat(x)
        grads["bias_ih"] += dxw.sum(axis=(0, 1))
        dx = (flat(dxw) @ p["weight_ih"]).reshape(x.shape)
        return dx, dh0

    def __repr__(self) -> str:
        text = super().__repr__()
        return text if self.scan == DEFAULT_SCAN else f"{text[:-1]}, scan={self.scan!r})"


class MinStepper(StepperBase):
    """One step at a time through a min stack, for generation: ``y_t = stepper(x_t)``, ``stepper.state``.

    As ``forward`` on a sequence of length 1 in eval mode. ``from_projection(xw)`` takes
    the first layer's x_t W_ih^T + b_ih instead of x_t (``CharLM``'s table of it per
    character). It reads the layer's own weight arrays, so it follows training; its
    state is its own. The interface of ``rnnkit.layers.stepper.Stepper``.
    """

    compiled = False           # no compiled whole-stack step: callers use NumPy products around it

    def __init__(self, layer: MinRNNLayer, hx=None, batch: int = 1):
        super().__init__(layer, hx, batch)
        (h,) = layer.initial_states(hx, batch)
        self._h = h.copy()                                   # (num_layers, B, H)

    def _run(self, x_t, first_projection) -> np.ndarray:
        layer_input = x_t
        for k, params in enumerate(self._params):
            if k == 0 and first_projection is not None:
                xw = first_projection
            else:
                xw = layer_input @ params["weight_ih"].T + self.cell.input_bias(params)
            self._h[k] = self.cell.step(xw, self._h[k])
            layer_input = self._h[k]
        return layer_input.copy()

    @property
    def state(self) -> np.ndarray:
        """The current state (num_layers, B, H), as ``forward`` returns it."""
        return self._h.copy()


class MinGRU(MinRNNLayer):
    """minGRU: h_t = (1 - z_t) * h_{t-1} + z_t * g(k_h), z_t = sigmoid(k_z); see ``rnnkit.cells.min_rnn``."""

    def __init__(self, input_size, hidden_size, num_layers=1, **options):
        super().__init__(MinGRUCell(hidden_size), input_size, num_layers, **options)


class MinLSTM(MinRNNLayer):
    """minLSTM: h_t = f'_t * h_{t-1} + i'_t * g(k_h), f'_t + i'_t = 1; see ``rnnkit.cells.min_rnn``."""

    def __init__(self, input_size, hidden_size, num_layers=1, **options):
        super().__init__(MinLSTMCell(hidden_size), input_size, num_layers, **options)
