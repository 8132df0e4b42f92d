"""How the error of a step reaches the recurrent weights: the three gradients of an online learner.

An ``OnlineLearner`` runs the cell one step (its ``SingleStep``), then asks its rule to

    advance(x_t)     carry the rule's memory over the step that just ran
    add_error(dh)    take the step's error dh = ∂E_t/∂h_t, and add what it can to θ's gradient
    flush()          every ``update_every`` steps, before the optimizer: add the rest

    TruncatedRule    the LSTM papers' truncated gradient: traces (``rnnkit.online.truncated``)
    RTRLRule         exact real-time recurrent learning: sensitivities (``rnnkit.online.rtrl``)
    WindowBPTTRule   BPTT(h; h'): the last h inputs and the states before them; at a flush,
                     the layer's own BPTT (``rnnkit.layers.time_loop``) over them, with the
                     present weights, the errors of the last h' steps fed in

``reset()`` empties the memory: what came before counts as constant. ``arrays()`` and
``load_arrays()`` give and take that memory for a checkpoint.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.layers.time_loop import backward_through_time, forward_through_time
from rnnkit.online.network import OnlineNetwork
from rnnkit.online.rtrl import RTRL
from rnnkit.online.single_step import SingleStep
from rnnkit.online.truncated import TruncatedLSTM

GRADIENTS = ("truncated", "rtrl", "bptt")


class GradientRule:
    """How the error of a step reaches the recurrent weights; the learner calls, per step,

    ``advance(x_t)`` after the forward step, ``add_error(dh)`` with dh = ∂E_t/∂h_t, and,
    every ``update_every`` steps, ``flush()`` before the optimizer steps.
    """

    update_every = 1

    def __init__(self, network: OnlineNetwork, step: SingleStep):
        self.network, self.step = network, step

    def reset(self) -> None:
        """Start afresh from the present state: nothing before it depends on the weights."""

    def advance(self, x_t: np.ndarray) -> None:
        """Carry the memory over the step ``self.step`` just ran on ``x_t``."""

    def add_error(self, dh: np.ndarray) -> None:
        """Take the error of the latest step, ∂E_t/∂h_t (B, H)."""

    def flush(self) -> None:
        """Before an update: every error taken is in the network's gradient."""

    def arrays(self) -> dict[str, np.ndarray]:
        return {}

    def load_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        pass


class TruncatedRule(GradientRule):
    """The truncated gradient (``TruncatedLSTM``): traces, and the error into the cell for one step."""

    def __init__(self, network, step):
        super().__init__(network, step)
        self.traces = TruncatedLSTM(network.cell, network.input_size, step.cache.h.shape[1], network.dtype)

    def reset(self):
        self.traces.reset()

    def advance(self, x_t):
        self.traces.advance(self.network.cell_params, x_t, self.step)

    def add_error(self, dh):
        self.traces.add_gradient(dh, self.step, self.network.cell_grads)

    def arrays(self):
        return self.traces.arrays()

    def load_arrays(self, arrays):
        self.traces.load_arrays(arrays)


class RTRLRule(GradientRule):
    """Exact RTRL (``RTRL``): the sensitivities of the state to the cell's parameters."""

    def __init__(self, network, step):
        super().__init__(network, step)
        self.rtrl = RTRL(network.cell, network.recurrent_layout, step.cache.h.shape[1], network.dtype)
        self.recurrent_grad = network.grad[:network.recurrent_size]

    def reset(self):
        self.rtrl.reset()

    def advance(self, x_t):
        self.rtrl.advance(self.network.cell_params, x_t, self.step)

    def add_error(self, dh):
        self.rtrl.add_gradient(dh, self.recurrent_grad)

    def arrays(self):
        return self.rtrl.arrays()

    def load_arrays(self, arrays):
        self.rtrl.load_arrays(arrays)


class WindowBPTTRule(GradientRule):
    """BPTT(h; h'): the last ``window`` inputs and the states before them, and the errors not yet used."""

    def __init__(self, network, step, window: int, update_every: int | None = None):
        super().__init__(network, step)
        update_every = window if update_every is None else update_every
        if not (isinstance(window, int) and isinstance(update_every, int) and 1 <= update_every <= window):
            raise ConfigError(f"BPTT needs 1 <= `update_every` <= `window`, got {update_every!r} and {window!r}")
        self.window, self.update_every = window, update_every
        self.inputs: deque[np.ndarray] = deque(maxlen=window)      # x_t (B, I), oldest first
        self.states: deque[tuple] = deque(maxlen=window)           # the state before each of them
        self.errors: list[np.ndarray] = []                          # dh of the latest steps, not yet used

    def reset(self):
        self.inputs.clear()
        self.states.clear()
        self.errors.clear()

    def advance(self, x_t):
        self.inputs.append(np.array(x_t))
        self.states.append(tuple(s.copy() for s in self.step.previous))

    def add_error(self, dh):
        self.errors.append(np.array(dh))

    def flush(self):
        if not self.errors:
            return
        network, cell = self.network, self.network.cell
        x = np.stack(self.inputs)                                   # (T, B, I)
        _, final, cache = forward_through_time(cell, network.cell_params, x, self.states[0])
        dy = np.zeros(x.shape[:2] + (cell.output_size,), network.dtype)
        dy[len(self.inputs) - len(self.errors):] = self.errors
        backward_through_time(cell, network.cell_params, network.cell_grads, cache, dy,
                              tuple(np.zeros_like(s) for s in final))
        self.errors.clear()

    def arrays(self):
        batch, names = self.step.cache.h.shape[1], self.network.cell.state_names
        arrays = {"window_inputs": stacked(self.inputs, (batch, self.network.input_size)),
                  "window_errors": stacked(self.errors, (batch, self.network.cell.output_size))}
        for k, name in enumerate(names):
            arrays[f"window_{name}"] = stacked([states[k] for states in self.states], self.step.buffers[k].shape[1:])
        return arrays

    def load_arrays(self, arrays):
        self.reset()
        self.inputs.extend(np.array(x) for x in arrays["window_inputs"])
        names = self.network.cell.state_names
        self.states.extend(zip(*(np.array(arrays[f"window_{name}"]) for name in names)))
        self.errors.extend(np.array(e) for e in arrays["window_errors"])


def make_rule(gradient: str, network: OnlineNetwork, step: SingleStep, window: int = 20,
              update_every: int | None = None) -> GradientRule:
    """The ``GradientRule`` named ``gradient``: "truncated", "rtrl" or "bptt"."""
    if gradient == "truncated":
        return TruncatedRule(network, step)
    if gradient == "rtrl":
        return RTRLRule(network, step)
    if gradient == "bptt":
        return WindowBPTTRule(network, step, window, update_every)
    raise ConfigError(f"`gradient` must be one of {', '.join(GRADIENTS)}, got {gradient!r}")


def stacked(arrays, shape: tuple[int, ...]) -> np.ndarray:
    """The arrays of one ``shape`` stacked on a new first axis, (0, *shape) if there are none."""
    return np.stack(list(arrays)) if len(arrays) else np.zeros((0, *shape))
