"""Running a recurrent stack one time step at a time, for generation.

    stepper = lstm.stepper(hx)          # the state to start from (None: zeros)
    y_t = stepper(x_t)                  # x_t (B, I) -> the top layer's output (B, H_out)
    h_n, c_n = stepper.state            # the state now, shaped as forward's

Each call is ``forward`` on a sequence of length 1 in eval mode (no dropout; zoneout
mixes each state with its expectation, ``rnnkit.layers.zoneout``), with
the work of a step cut to its arithmetic: buffers are allocated once, and the
state is checked when the stepper is built rather than at every step.
What remains per layer is

    xw  = x_t W_ih^T + (b_ih + b_hh)          one vector-matrix product
    state = cell(xw, state)                   the cell's own step (compiled where it can be:
                                              ``rnnkit.kernels.step_strategy``)

For a float32 LSTM stack without projection, with the compiled kernels on, the
whole step of every layer is one compiled call (``rnnkit.kernels.lstm.stack_step``):
the same products and gate arithmetic, without a NumPy call per operation in between.
Its products run on one thread, so it is used only while they are small (a step's
products up to ``SMALL_PRODUCT`` multiply-adds per layer, hidden size 256 at batch 1):
measured per step at batch 1, 2 layers, 71 against 109 us at H = 256, but 137 against
119 us at H = 384, where NumPy's products on two threads win.

A model whose first input is a lookup (an embedding, or a one-hot vector) can
skip the first product by passing ``xw`` of the first layer directly:
``stepper.from_projection(xw)``; ``CharLM.stepper`` does this with a table of
``embedding W_ih^T + b`` per character.

The stepper reads the layer's own weight arrays (``RecurrentLayer.cell_parameters``),
which training updates in place, so it stays right while they train; its state is its own.
"""

from __future__ import annotations

import numpy as np

from rnnkit import kernels
from rnnkit.cells.lstm import LSTMCell
from rnnkit.layers.time_loop import SMALL_PRODUCT, loop_threads, step_product
from rnnkit.layers.zoneout import mix_states


class StepperBase:
    """What every stepper shares (``Stepper`` here, ``rnnkit.layers.min_rnn.MinStepper``): the
    layer's parameters, the checks, and the two ways in; a subclass writes ``_run``."""

    def __init__(self, layer, hx=None, batch: int = 1):
        if layer.bidirectional:
            raise ValueError("a stepper runs forward in time; a bidirectional layer needs the whole sequence")
        self.layer, self.cell, self.batch = layer, layer.cell, batch
        self._params = [layer.cell_parameters(k) for k in range(layer.num_layers)]

    def __call__(self, x_t: np.ndarray) -> np.ndarray:
        """x_t (B, I) -> y_t (B, H_out)."""
        layer = self.layer
        if x_t.shape != (self.batch, layer.input_size):
            raise ValueError(f"x_t: expected shape ({self.batch}, {layer.input_size}), got {x_t.shape}")
        layer.check_array("x_t", x_t)
        return self._run(x_t, None)

    def from_projection(self, xw: np.ndarray) -> np.ndarray:
        """As ``__call__``, given the first layer's x_t W_ih^T + b_ih + b_hh (B, gates*H) instead of x_t."""
        return self._run(None, xw)

    def _run(self, x_t, first_projection) -> np.ndarray:
        raise NotImplementedError


class Stepper(StepperBase):
    def __init__(self, layer, hx=None, batch: int = 1):
        super().__init__(layer, hx, batch)
        states = layer.initial_states(hx, batch)
        self._weights_hh_T = [p["weight_hh"].T for p in self._params]   # views: they follow training
        self._steps = kernels.step_strategy(layer.cell, layer.dtype)
        gate_rows = layer.cell.num_gates * layer.cell.hidden_size
        self._caches, self._projections = [], []
        for k in range(layer.num_layers):
            cache = self.cell.allocate(1, batch, layer.dtype)      # index 0: the state, 1: the next one
            for buffer, state in zip(self.cell.states(cache), states):
                buffer[0] = state[k]
            self._caches.append(cache)
            self._projections.append(np.empty((batch, gate_rows), layer.dtype))
        zoneout = layer.regularisers.evaluation_zoneout(layer.cell)         # the fused kernel has none
        self._zoneout = zoneout if any(zoneout) else ()
        self.compiled = (isinstance(layer.cell, LSTMCell) and not layer.cell.proj_size and self._steps.compiled
                         and step_product(layer.cell, batch) <= SMALL_PRODUCT and not any(self._zoneout))
        # what ``kernels.lstm.stack_step`` takes after the first projection, when ``compiled``
        self.kernel_arguments = self._stack_step_arguments() if self.compiled else None

    def _stack_step_arguments(self) -> tuple:
        """What ``kernels.lstm.stack_step`` takes after the first projection: per layer the
        weights and the state buffers, then scratch. The parameters are the layer's own
        arrays, which training updates in place, so the stepper stays right while they train."""
        params = self._params
        weights = tuple(tuple(p[name] for p in params) for name in ("weight_ih", "bias_ih", "bias_hh", "weight_hh"))
        gate_rows, dtype = self.cell.num_gates * self.cell.hidden_size, self.layer.dtype
        scratch = (np.empty((self.batch, gate_rows), dtype),                # hw = h W_hh^T
                   np.empty((self.batch, gate_rows), dtype),                # gates
                   np.empty((self.batch, self.cell.hidden_size), dtype))    # tanh(c)
        return (*weights, tuple(self._steps.peepholes(p) for p in params),
                tuple(cache.h for cache in self._caches), tuple(cache.c for cache in self._caches),
                self._projections[-1], *scratch)

    def _run(self, x_t, first_projection) -> np.ndarray:
        if self.compiled:
            return self._stack_step(x_t, first_projection)
        with loop_threads(self.cell, self.batch):        # one thread for a small step's products
            return self._layers(x_t, first_projection)

    def _layers(self, x_t, first_projection) -> np.ndarray:
        cell, layer_input = self.cell, x_t
        for k, (params, weight_hh_T, cache, xw) in enumerate(
                zip(self._params, self._weights_hh_T, self._caches, self._projections)):
            if k == 0 and first_projection is not None:
                xw[...] = first_projection                  # the step overwrites its xw
            else:
                self._project(params, layer_input, xw)
            self._steps.forward(params, weight_hh_T, xw, cache, 0)
            mix_states(cell.states(cache), self._zoneout, 0)
            for buffer in cell.states(cache):
                buffer[0] = buffer[1]                       # the next state becomes the state
            layer_input = cache.h[0]
        return layer_input.copy()

    def _stack_step(self, x_t, first_projection) -> np.ndarray:
        """``_layers`` for an LSTM stack, in one call of the compiled kernel."""
        if first_projection is None:
            first_projection = self._project(self._params[0], x_t, self._projections[0])
        kernels.load("lstm").stack_step(first_projection, *self.kernel_arguments)
        return self.top_hidden.copy()

    @property
    def top_hidden(self) -> np.ndarray:
        """The top layer's h now (B, H_out): the stepper's own buffer, which the next step overwrites."""
        return self._caches[-1].h[0]

    def _project(self, params, layer_input, xw) -> np.ndarray:
        """xw = layer_input W_ih^T + b_ih + b_hh, into ``xw``."""
        np.dot(layer_input, params["weight_ih"].T, out=xw)
        xw += self.cell.input_bias(params)
        return xw

    @property
    def state(self):
        """The current state, shaped as ``forward``'s: (num_layers, B, size) per state."""
        stacked = [np.stack([getattr(cache, name)[0] for cache in self._caches])
                   for name in self.cell.state_names]
        return self.layer.pack_state(stacked)
