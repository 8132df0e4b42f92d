"""Backpropagation through time for one layer and one direction, shared by every cell.

Forward (rows are the batch, as in the code: x is (T, B, I)):

    xw = x W_ih^T + b_ih + b_hh               all T steps in one matrix product (``cell.input_bias``)
    for t = 0 .. T-1:  state_{t+1} = cell(xw[t], state_t)

Backward runs the same loop from T-1 down to 0, then forms the weight gradients
as single products over all steps (``dW_ih = dxw^T x``; ``dx = dxw W_ih``).

Variable lengths use a mask ``alive`` (T, B, 1), true while t < length[b]
(``rnnkit.layers.lengths``). A sequence that has ended keeps its state, so the
final state is each sequence's own last one, and its outputs are zero:

    state_{t+1} = alive_t ? cell(xw[t], state_t) : state_t
    y_t         = alive_t * h_{t+1}

and backward lets the state gradient pass a dead step unchanged:

    dstate_t = (1 - alive_t) * dstate_{t+1}  +  cell'(alive_t * dstate_{t+1})

Two regularisers act inside the loop (``rnnkit.layers.regularisers``). Recurrent
dropout's mask ``hidden_mask`` goes into the cell's cache, whose steps read
ĥ_{t-1} = h_{t-1} * m_h for W_hh (``rnnkit.cells.base``). Zoneout mixes each zoned
state after each step (``rnnkit.layers.zoneout``; d_t drawn in training, p in evaluation):

    state_{t+1} = d_t * state_t + (1 - d_t) * cell(xw[t], state_t)
    dstate_t    = around_t * dstate_{t+1}  +  cell'(through_t * dstate_{t+1})

with through_t = alive_t * (1 - d_t) and around_t = 1 - through_t per zoned state (the
padding rule above is the case d_t = 0).

Reading order: the files a backward pass of ``LSTM(...).backward(dy)`` goes through,
outermost first.

    layers/recurrent.py   RecurrentLayer.backward: the caller's layout back to (T, B, N); layers
                          top to bottom, each direction (the reverse one re-reversed within its
                          lengths, ``reverse_time``); the dropout masks between layers
    layers/time_loop.py   backward_through_time (here): the loop over t, dead steps, and the
                          weight gradients of W_ih and b_ih as products over all steps
    kernels/steps.py      which steps run: the NumPy reference or the compiled ones, chosen once
                          at forward (``kernels.step_strategy``) and kept in the ``SequenceCache``
    cells/lstm.py         step_backward: one step's equations, the reference (gru.py, rnn.py alike)
    kernels/lstm.py       the same gate arithmetic compiled (float32; gru.py alike)
    cells/base.py         accumulate_hidden_grads: dW_hh and db_hh as products over all steps
                          (LSTMCell's adds the peepholes and W_hr)

A forward pass runs the same files in the opposite order; ``cells/base.py`` also
says what a cell's buffers (``CellCache``) hold.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from rnnkit import kernels
from rnnkit.cells.base import Cell, CellCache, FreshArrays, flat
from rnnkit.kernels import Steps
from rnnkit.layers.zoneout import Zoneout, mix_states

SMALL_PRODUCT = 1 << 18          # multiply-adds of one step's hidden product
_blas = ThreadpoolController()


def blas_threads() -> int:
    """The BLAS threads NumPy may use now (threadpoolctl limits included)."""
    controllers = _blas.select(user_api="blas").lib_controllers
    return max((controller.get_num_threads() for controller in controllers), default=1)


class BlasThreads:
    """``with BlasThreads(n):`` NumPy's BLAS uses at most n threads inside, as before after.

    threadpoolctl's own ``limit`` context does the same in ~15 us; this one, which
    talks to the already-found libraries directly, takes ~4 us, which matters when
    it wraps a single generation step of ~100 us.
    """

    def __init__(self, threads: int):
        self.threads = threads
        self.controllers = _blas.select(user_api="blas").lib_controllers
        self.before: list[int] = []

    def __enter__(self):
        self.before = [controller.get_num_threads() for controller in self.controllers]
        for controller in self.controllers:
            controller.set_num_threads(min(self.threads, controller.get_num_threads()))
        return self

    def __exit__(self, *exc_info):
        for controller, threads in zip(self.controllers, self.before):
            controller.set_num_threads(threads)


def step_product(cell: Cell, batch: int) -> int:
    """Multiply-adds of one step's hidden product ĥ_{t-1} W_hh^T: B x (gates*H) x H_out."""
    return batch * cell.num_gates * cell.hidden_size * cell.output_size


def loop_threads(cell: Cell, batch: int):
    """One BLAS thread while a step's product is small (under ``SMALL_PRODUCT`` multiply-adds), else as set."""
    return BlasThreads(1) if step_product(cell, batch) < SMALL_PRODUCT else contextlib.nullcontext()


@dataclass
class SequenceCache:
    """What ``backward_through_time`` reads of one ``forward_through_time`` call."""

    x: np.ndarray                  # (T, B, I): the sequence, as this direction reads it
    alive: np.ndarray | None       # (T, B, 1): t < length[b]; None when no lengths were given
    cell: CellCache                # the cell's buffers: its states, and what its backward step reads
    steps: Steps                   # the steps the forward ran (reference or compiled); backward runs theirs
    zoneout: tuple[Zoneout | None, ...] = ()    # per state: how it was zoned out; () without zoneout


def forward_through_time(
    cell: Cell,
    p: dict[str, np.ndarray],
    x: np.ndarray,
    initial_state: tuple[np.ndarray, ...],
    alive: np.ndarray | None = None,
    space=FreshArrays,
    scratch=FreshArrays,
    hidden_mask: np.ndarray | None = None,
    zoneout: tuple[Zoneout | None, ...] = (),
) -> tuple[np.ndarray, tuple[np.ndarray, ...], SequenceCache]:
    """Run ``cell`` over ``x`` (T, B, I). Returns outputs (T, B, H_out), final state, cache.

    ``hidden_mask`` (B, H_out): recurrent dropout's m_h; ``zoneout``: one ``Zoneout`` or None
    per state (see the module's docstring); both kept in the cache for backward.

    Workspaces lend buffers: ``space`` those of the cache, which backward reads;
    ``scratch`` xw, which is spent when the loop ends (a stack's layers share one
    scratch per direction: they run one after the other, and backward's dxw, of the
    same shape, reuses the memory).
    """
    steps, batch, _ = x.shape
    weight_ih = p["weight_ih"]
    xw = scratch.empty("dxw", (steps, batch, weight_ih.shape[0]), x.dtype)
    np.dot(flat(x), weight_ih.T, out=flat(xw))    # (T*B, gates*H): one product for all steps
    xw += cell.input_bias(p)
    cache = SequenceCache(x, alive, cell.allocate(steps, batch, x.dtype, space), kernels.step_strategy(cell, x.dtype))
    cache.cell.hidden_mask, cache.zoneout = hidden_mask, tuple(zoneout)
    if zoneout and zoneout[0] is not None:        # the steps' own h~_t, before zoneout mixes h
        cache.cell.new_hidden = space.empty("new_hidden", (steps, batch, cell.output_size), x.dtype)
    states = cell.states(cache.cell)
    for buffer, state in zip(states, initial_state):
        buffer[0] = state
    weight_hh_T = cache.steps.weight_hh_T(p)
    with loop_threads(cell, batch):
        for t in range(steps):
            cache.steps.forward(p, weight_hh_T, xw[t], cache.cell, t)
            if zoneout:
                if cache.cell.new_hidden is not None:
                    cache.cell.new_hidden[t] = states[0][t + 1]
                mix_states(states, zoneout, t)
            if alive is not None:
                for buffer in states:             # ended sequences keep their state
                    np.copyto(buffer[t + 1], buffer[t], where=~alive[t])
    outputs = states[0][1:]
    if alive is not None:
        outputs = outputs * alive
    return outputs, tuple(buffer[steps] for buffer in states), cache


def backward_through_time(
    cell: Cell,
    p: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    cache: SequenceCache,
    doutputs: np.ndarray,
    dfinal_state: tuple[np.ndarray, ...],
    scratch=FreshArrays,
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Gradients w.r.t. the input and the initial state; parameter gradients added to ``grads``.

    ``scratch`` lends dxw and dhw, spent when this returns.
    """
    x, alive, step_backward = cache.x, cache.alive, cache.steps.backward
    steps, batch, _ = x.shape
    dxw, dhw = cell.grad_buffers(steps, batch, x.dtype, scratch)
    if alive is not None:
        doutputs = doutputs * alive               # padded outputs are constants
    dstate = list(dfinal_state)
    with loop_threads(cell, batch):
        for t in reversed(range(steps)):
            dstate[0] = dstate[0] + doutputs[t]
            if cache.zoneout:
                dstate = zoned_step_backward(step_backward, p, dstate, cache, t, dxw, dhw)
                continue
            if alive is None:
                dstate = list(step_backward(p, dstate, cache.cell, t, dxw, dhw))
                continue
            dead = ~alive[t]
            dstep = step_backward(p, [d * alive[t] for d in dstate], cache.cell, t, dxw, dhw)
            dstate = [d_through + d_kept * dead for d_through, d_kept in zip(dstep, dstate)]

    grads["weight_ih"] += flat(dxw).T @ flat(x)
    cell.accumulate_input_bias_grad(grads, dxw)
    cell.accumulate_hidden_grads(p, grads, cache.cell, dhw)
    dx = (flat(dxw) @ p["weight_ih"]).reshape(steps, batch, -1)
    return dx, tuple(dstate)


def zoned_step_backward(step_backward, p, dstate: list, cache: SequenceCache, t: int, dxw, dhw) -> list:
    """One backward step with zoneout: each state's gradient split into the part around the cell's step,
    ``around`` = d_t * dstate (all of it past a sequence's end), and the rest, which goes through it."""
    alive_t = None if cache.alive is None else cache.alive[t]
    arounds = []
    for zoneout, d in zip(cache.zoneout, dstate):
        if zoneout is not None:
            arounds.append(d * zoneout.around(t, alive_t, d.dtype))
        else:
            arounds.append(None if alive_t is None else d * ~alive_t)
    dstep = step_backward(p, [d if around is None else d - around for d, around in zip(dstate, arounds)],
                          cache.cell, t, dxw, dhw)
    return [d_through if around is None else d_through + around for d_through, around in zip(dstep, arounds)]
