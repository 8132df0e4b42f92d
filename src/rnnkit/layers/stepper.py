"""Running a recurrent stack one time step at a time, for generation.

    stepper = lstm.stepper(hx)          # the state to start from (None: zeros)
    y_t = stepper(x_t)                  # x_t (B, I) -> the top layer's output (B, H_out)
    h_n, c_n = stepper.state            # the state now, shaped as forward's

Each call is ``forward`` on a sequence of length 1 in eval mode (no dropout), with
the work of a step cut to its arithmetic: buffers are allocated once, biases summed
once, and inputs are checked when the stepper is built rather than at every step.
What remains per layer is

    xw  = x_t W_ih^T + (b_ih + b_hh)          one vector-matrix product
    state = cell(xw, state)                   the cell's own step (compiled where it can be)

A model whose first input is a lookup (an embedding, or a one-hot vector) can
skip the first product by passing ``xw`` of the first layer directly:
``stepper.from_projection(xw)``; ``CharLM.stepper`` does this with a table of
``embedding W_ih^T + b`` per character.

The stepper reads the weights at every call, so it stays right while they train;
its state is its own.
"""

from __future__ import annotations

import numpy as np

from rnnkit.layers.time_loop import loop_threads, step_functions


class Stepper:
    def __init__(self, layer, hx=None, batch: int = 1):
        if layer.bidirectional:
            raise ValueError("a stepper runs forward in time; a bidirectional layer needs the whole sequence")
        layer._unbatched = False
        states = layer._check_states(layer._state_tuple(hx), batch, "hx")
        self.layer, self.cell, self.batch = layer, layer.cell, batch
        self._step_forward, _ = step_functions(layer.cell, layer.dtype)
        gate_rows = layer.cell.num_gates * layer.cell.hidden_size
        self._caches, self._projections = [], []
        for k in range(layer.num_layers):
            cache = self.cell.allocate(1, batch, layer.dtype)      # index 0: the state, 1: the next one
            for buffer, state in zip(self.cell.states(cache), states):
                buffer[0] = state[k]
            self._caches.append(cache)
            self._projections.append(np.empty((batch, gate_rows), layer.dtype))

    def __call__(self, x_t: np.ndarray) -> np.ndarray:
        """x_t (B, I) -> y_t (B, H_out)."""
        layer = self.layer
        if x_t.shape != (self.batch, layer.input_size):
            raise ValueError(f"x_t: expected shape ({self.batch}, {layer.input_size}), got {x_t.shape}")
        layer._check_dtype("x_t", x_t)
        return self._run(x_t, None)

    def from_projection(self, xw: np.ndarray) -> np.ndarray:
        """As ``__call__``, given the first layer's x_t W_ih^T + b_ih + b_hh (B, gates*H) instead of x_t."""
        return self._run(None, xw)

    def _run(self, x_t, first_projection) -> np.ndarray:
        with loop_threads(self.cell, self.batch):        # one thread for a small step's products
            return self._layers(x_t, first_projection)

    def _layers(self, x_t, first_projection) -> np.ndarray:
        cell, layer_input = self.cell, x_t
        for k, ((params, _), cache, xw) in enumerate(zip(self.layer._cell_params, self._caches, self._projections)):
            if k == 0 and first_projection is not None:
                xw[...] = first_projection                  # the step overwrites its xw
            else:
                np.dot(layer_input, params["weight_ih"].T, out=xw)
                xw += cell.input_bias(params)
            self._step_forward(params, xw, cache, 0)
            for buffer in cell.states(cache):
                buffer[0] = buffer[1]                       # the next state becomes the state
            layer_input = cache.h[0]
        return layer_input.copy()

    @property
    def state(self):
        """The current state, shaped as ``forward``'s: (num_layers, B, size) per state."""
        stacked = [np.stack([getattr(cache, name)[0] for cache in self._caches])
                   for name in self.cell.state_names]
        return self.layer._state_out(stacked)
