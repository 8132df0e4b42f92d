"""A recurrent layer's forward and backward passes, replayed with every step kept.

``RecurrentLayer.forward`` keeps its time loops' caches for its own ``backward`` only,
and ``backward`` returns the gradients of the input and the initial state, not those
of the states in between. To look inside, this module runs the same public pieces
(``RecurrentLayer.cell_parameters``, ``layers.time_loop.forward_through_time`` and the
cells' ``step_backward``) and keeps what they compute at every step.

Forward, for a unidirectional stack (eval mode: no dropout between layers):

    y^0 = x;   for k = 0 .. L-1:  y^{k+1}, cache_k = forward_through_time(cell, p_k, y^k, state0_k)

Backward through one layer records the gradient of the loss with respect to each
state, given the gradient of the layer's outputs ``dy`` (T, B, H) and of its final
state. At step t (from T-1 down to 0), with ``dstate`` what flows into state t+1 from
step t+1:

    dh_{t+1} = dh_carried + dy_t                     all of h_{t+1}'s gradient
    dstate_t = cell.step_backward(p, dstate_{t+1}, cache, t)       carried into state t

For an LSTM the gradient carried into c_t holds h_t fixed (the state is the pair
(h_t, c_t)); ``total_c_gradients`` adds the path through h_t = o * tanh(c_t), so that
it is the whole derivative dL/dc_t, as autograd reports for a tensor c_t (the line
``dc`` of ``rnnkit.cells.lstm``):

    dL/dc_t = dc_carried + dm * o * (1 - tanh(c_t)^2) + dz_o * w_co,
    dm = dh_t (or dh_t W_hr),   dz_o = dm * tanh(c_t) * o (1 - o)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.activations import sigmoid_grad, tanh_grad
from rnnkit.cells.lstm import LSTMCell
from rnnkit.errors import ConfigError
from rnnkit.layers.time_loop import SequenceCache, forward_through_time


def check_unidirectional(layer, argument: str = "layer") -> None:
    """ConfigError unless ``layer`` runs forward in time only."""
    if layer.bidirectional:
        raise ConfigError(f"`{argument}` is bidirectional: inspect one direction at a time with a "
                          "unidirectional layer")


def check_single_layer(layer, argument: str = "layer") -> None:
    """ConfigError unless ``layer`` is one unidirectional layer."""
    check_unidirectional(layer, argument)
    if layer.num_layers != 1:
        raise ConfigError(f"`{argument}` has {layer.num_layers} layers: pass a single-layer RNN, LSTM or GRU "
                          "(one layer of a stack: see rnnkit.inspect.replay.run_layers)")


def check_layer_index(layer, index: int, argument: str = "layer_index") -> int:
    """``index`` as a non-negative layer number (negative counts from the top); ConfigError if none."""
    if not -layer.num_layers <= index < layer.num_layers:
        raise ConfigError(f"`{argument}` is {index} but the stack has {layer.num_layers} layer(s)")
    return index % layer.num_layers


def time_major(layer, x: np.ndarray) -> np.ndarray:
    """``x`` as the layer's forward takes it ((T, I), (T, B, I) or batch-first) -> (T, B, I), checked."""
    x = np.asarray(x)
    if x.ndim not in (2, 3) or x.shape[-1] != layer.input_size:
        raise ConfigError(f"`x` must be (T, B, {layer.input_size}) or (T, {layer.input_size}), got shape {x.shape}")
    layer.check_array("x", x)
    if x.ndim == 2:
        return x[:, None, :]
    return x.transpose(1, 0, 2) if layer.batch_first else x


def run_layers(layer, x: np.ndarray, hx=None) -> list[SequenceCache]:
    """Every layer's forward of a unidirectional stack over time-major ``x`` (T, B, I), caches kept.

    ``hx`` is the initial state as ``layer.forward`` takes it (None: zeros). Index k of
    the result is layer k's cache: ``cache.cell.h[t]`` its hidden state before step t
    (``h[0]`` the initial one), its other states and gates beside (see ``rnnkit.cells``).
    """
    check_unidirectional(layer)
    if any(layer.regularisers.zoneout(layer.cell)):     # the one regulariser that acts in evaluation mode
        raise ConfigError("the layer has zoneout (`zoneout_h`, `zoneout_c`), which the replay does not mix into "
                          "its states: inspect a layer built without it")
    initial = layer.initial_states(hx, x.shape[1])
    caches = []
    layer_input = np.ascontiguousarray(x)
    for k in range(layer.num_layers):
        params = layer.cell_parameters(k)
        layer_input, _, cache = forward_through_time(layer.cell, params, layer_input,
                                                     tuple(state[k] for state in initial))
        caches.append(cache)
    return caches


@dataclass
class StateGradients:
    """What backpropagation through one layer carried into each of its states."""

    states: dict[str, np.ndarray]    # name ("h", "c") -> (T+1, B, size): index t the state before step t
    dx: np.ndarray                   # (T, B, I): the gradient of the layer's input


def backward_states(layer, index: int, cache: SequenceCache, dfinal: tuple[np.ndarray, ...],
                    dy: np.ndarray | None = None) -> StateGradients:
    """Backpropagate through layer ``index`` of ``layer`` (its ``cache`` from ``run_layers``).

    ``dfinal``: the gradient of each final state (``cell.state_names`` order), (B, size);
    ``dy``: of the outputs (T, B, H_out), None for zero. The parameters' gradients are
    computed on the way (the cells' steps write them) but thrown away: the layer's
    ``grads`` do not change. An LSTM's "c" entries are whole derivatives dL/dc_t
    (see the module's docstring).
    """
    cell, params = layer.cell, layer.cell_parameters(index)
    steps, batch, _ = cache.x.shape
    dxw, dhw = cell.grad_buffers(steps, batch, cache.x.dtype)
    recorded = {name: np.zeros((steps + 1, batch, size), cache.x.dtype)
                for name, size in zip(cell.state_names, cell.state_sizes)}
    dstate = [np.array(d, dtype=cache.x.dtype) for d in dfinal]
    for t in reversed(range(steps)):
        if dy is not None:
            dstate[0] = dstate[0] + dy[t]
        record_step(cell, params, cache, t + 1, dstate, recorded)
        dstate = list(cell.step_backward(params, dstate, cache.cell, t, dxw, dhw))
    for name, d in zip(cell.state_names, dstate):
        recorded[name][0] = d
    dx = (dxw.reshape(-1, dxw.shape[-1]) @ params["weight_ih"]).reshape(steps, batch, -1)
    return StateGradients(recorded, dx)


def record_step(cell, params, cache: SequenceCache, state_index: int, dstate, recorded) -> None:
    """Store the gradients of state ``state_index`` (h whole; an LSTM's c made whole)."""
    recorded["h"][state_index] = dstate[0]
    if isinstance(cell, LSTMCell):
        recorded["c"][state_index] = total_c_gradient(cell, params, cache, state_index - 1, dstate[0], dstate[1])


def total_c_gradient(cell: LSTMCell, params, cache: SequenceCache, t: int, dh: np.ndarray,
                     dc_carried: np.ndarray) -> np.ndarray:
    """dL/dc_{t+1} = dc_carried + dm * o * (1 - tanh(c_{t+1})^2) + dz_o * w_co (``rnnkit.cells.lstm``'s ``dc``)."""
    H = cell.hidden_size
    output_gate, tanh_c = cache.cell.gates[t][:, 3 * H:], cache.cell.tanh_c[t]
    dm = dh @ params["weight_hr"] if cell.proj_size else dh
    dc = dc_carried + dm * output_gate * tanh_grad(tanh_c)
    if cell.peephole:
        dc = dc + dm * tanh_c * sigmoid_grad(output_gate) * params["weight_co"]
    return dc
