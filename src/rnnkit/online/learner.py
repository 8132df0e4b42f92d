"""Learning online: one symbol at a time, forward one step, update the weights, carry the state.

    learner = OnlineLearner(network, gradient="truncated", optimizer=partial(SGD, lr=0.1))
    for x_t, target_t in stream:
        y_t = learner.learn(x_t, target_t)      # forward, gradient of this step's loss, optimizer step
    y_t = learner.predict(x_t)                  # forward only: the state moves on, nothing learns
    learner.reset()                             # zero state (where a task resets it)

At each step t the learner runs the cell one step (``SingleStep``), the read-out
(``OnlineNetwork``), adds the gradient of the step's loss E_t, and lets the optimizer
(one of ``rnnkit.optim``'s, stepping the network's θ at once) update the weights.
How the gradient reaches the weights of the recurrent layer is the ``gradient``
(``rnnkit.online.rules``):

    "truncated"  LSTM only: the traces of the original LSTM papers (``truncated``),
                 O(n^2) a step; the exact gradient of E_t with h_{t-1} and the
                 peephole sources held constant
    "rtrl"       exact real-time recurrent learning (``rtrl``), O(n^4) a step: the
                 gradient of E_t through the whole past, with the past's weights taken
                 as today's (Williams & Zipser's approximation once weights move)
    "bptt"       truncated backpropagation through time, BPTT(h; h') (Williams & Peng
                 1990): every h' = ``update_every`` steps, the errors of those steps
                 backpropagated through the last h = ``window`` steps (``h >= h'``),
                 with the present weights, from the state the stream had h steps ago

Truncated and RTRL update at every step; BPTT every h' steps, with the read-out's
gradients of those steps summed. A reset (``reset``), and any ``predict`` between
learning steps, starts the gradient's memory afresh from the state of that moment
(traces, sensitivities and window emptied): the past before it counts as constant.

The whole of a learner's state is arrays and JSON (``state`` / ``load_state``): the
weights θ, the recurrent state, the gradient's memory, the optimizer's buffers, and
counters, so that a task can checkpoint it between epochs and resume exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import numpy as np

from rnnkit import kernels
from rnnkit.cells import LSTMCell
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.layers.time_loop import BlasThreads
from rnnkit.module import Module
from rnnkit.online.network import OnlineNetwork
from rnnkit.online.rules import make_rule
from rnnkit.online.single_step import SingleStep
from rnnkit.optim import SGD, Optimizer

DEFAULT_OPTIMIZER = partial(SGD, lr=0.1)


class CompiledLSTMSteps:
    """A float64 LSTM's steps for one stream through numba kernels (``rnnkit.online.compiled``).

    ``forward`` and ``predict`` serve every gradient; ``learn``, the whole of a learning
    step, the truncated one. The kernels (loaded on first use) read and write the
    learner's own arrays: θ's views, the state buffers and gates of its ``SingleStep``
    (so that RTRL and BPTT read them as after the NumPy step), the traces of its
    ``TruncatedRule``, and θ's gradient.
    """

    def __init__(self, learner: OnlineLearner):
        if not self.fits(learner):
            raise ConfigError("the compiled steps are those of a float64 LSTM learning one stream")
        from rnnkit.online import compiled
        self.kernels = compiled
        network, cache = learner.network, learner.step.cache
        p, grads, H = network.cell_params, network.cell_grads, network.cell.hidden_size
        peephole = network.cell.peephole
        names = ("weight_ci", "weight_cf", "weight_co")
        peepholes = tuple(p[name] if peephole else np.zeros(H) for name in names)    # zeros: never learned
        self.cell_params = (p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"], *peepholes)
        self.readout = (network.output_weight, network.output_bias, network.output == "sigmoid")
        self.state = (cache.h[:, 0], cache.c[:, 0], cache.gates[0, 0], cache.tanh_c[0, 0])
        self.h = cache.h[1]                                  # (1, H): the state after the step
        self.y, self.dh = np.zeros(network.output_size), np.zeros(H)
        if learner.gradient == "truncated":
            traces = learner.rule.traces
            self.traces = (traces.trace[0], traces.peephole_trace[0])
            peephole_grads = tuple(grads[name] if peephole else np.zeros(H) for name in names)
            self.grads = (grads["weight_ih"], grads["weight_hh"], grads["bias_ih"], grads["bias_hh"],
                          *peephole_grads, network.output_weight_grad, network.output_bias_grad, peephole)

    @staticmethod
    def fits(learner: OnlineLearner) -> bool:
        network = learner.network
        return (isinstance(network.cell, LSTMCell) and not network.cell.proj_size
                and network.dtype == np.float64 and learner.step.cache.h.shape[1] == 1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The cell's step on x (I,); returns h_t (1, H), a view of the state buffer."""
        self.kernels.forward(x, *self.cell_params, *self.state)
        return self.h

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.kernels.predict_step(x, *self.cell_params, *self.readout, *self.state, self.y)
        return self.y.copy()

    def learn(self, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Forward, traces and the truncated gradient of the step, in one call."""
        self.kernels.learn_step(x, target, *self.cell_params, *self.readout, *self.state, *self.traces,
                                self.y, self.dh, *self.grads)
        return self.y.copy()


class OnlineLearner:
    """Learns a stream one step at a time: ``learn``, ``predict``, ``run`` over a stream, ``reset``.

    ``optimizer`` makes an ``rnnkit.optim`` optimizer for a Module (e.g. ``partial(Adam, lr=1e-3)``);
    it is given ``network.flat``, the whole θ as one parameter. Streams are one at a time
    (batch 1): ``x_t`` is (I,), ``target_t`` (O,). ``compiled``: run a float64 LSTM's
    steps through the numba kernels (``rnnkit.online.compiled``: the forward step for
    every gradient, the whole learning step for the truncated one); None: where they
    apply and ``rnnkit.kernels.compiled()`` (numba installed, ``RNNKIT_KERNELS`` not numpy).
    """

    def __init__(self, network: OnlineNetwork, gradient: str = "truncated",
                 optimizer: Callable[[Module], Optimizer] = DEFAULT_OPTIMIZER,
                 window: int = 20, update_every: int | None = None, compiled: bool | None = None):
        self.network, self.gradient = network, gradient
        self.step = SingleStep(network.cell, 1, network.dtype)
        self.rule = make_rule(gradient, network, self.step, window, update_every)
        self.optimizer = optimizer(network.flat)
        if compiled is None:
            compiled = kernels.compiled() and CompiledLSTMSteps.fits(self)
        self.compiled = CompiledLSTMSteps(self) if compiled else None
        self.pending = 0            # steps whose errors are in the gradient, not yet applied
        self.steps_learned = 0

    def reset(self, state: tuple[np.ndarray, ...] | None = None) -> None:
        """Zero the state (or set it: one (H,) array per state name), and start the gradient's memory afresh.

        Errors taken but not yet applied (BPTT between updates) are applied first.
        """
        if self.pending:
            self.update()
        self.step.reset(None if state is None else tuple(np.reshape(s, (1, -1)) for s in state))
        self.rule.reset()

    def learn(self, x_t: np.ndarray, target_t: np.ndarray) -> np.ndarray:
        """One step on input ``x_t``, then learn from its loss against ``target_t``. Returns y_t (O,),
        the output before the update."""
        x = np.reshape(x_t, (1, -1)).astype(self.network.dtype, copy=False)
        target = np.reshape(target_t, (1, -1)).astype(self.network.dtype, copy=False)
        if self.compiled and self.gradient == "truncated":
            y = self.compiled.learn(x[0], target[0])
        else:
            y = self.learn_step(x, target)
        self.pending += 1
        self.steps_learned += 1
        if self.pending >= self.rule.update_every:
            self.update()
        return y

    def learn_step(self, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The step of ``learn`` on (1, I) and (1, O): forward, the rule's memory, the gradient."""
        network = self.network
        h = self.compiled.forward(x[0]) if self.compiled else self.step(network.cell_params, x)
        self.rule.advance(x)
        y = network.readout(h)
        self.rule.add_error(network.add_readout_gradient(h, y, target))
        return y[0]

    def update(self) -> None:
        """Apply the gradient taken so far: flush the rule, step the optimizer, zero the gradient."""
        self.rule.flush()
        self.optimizer.step()
        self.network.grad.fill(0.0)
        self.pending = 0

    def predict(self, x_t: np.ndarray) -> np.ndarray:
        """One step on ``x_t`` without learning: returns y_t (O,). The gradient's memory restarts."""
        if self.pending:
            self.update()
        self.rule.reset()
        return self.predict_step(np.reshape(x_t, (1, -1)).astype(self.network.dtype, copy=False))

    def predict_step(self, x: np.ndarray) -> np.ndarray:
        """Forward (1, I) -> y_t (O,), compiled where the learner is."""
        if self.compiled:
            return self.compiled.predict(x[0])
        return self.network.readout(self.step(self.network.cell_params, x))[0]

    def run(self, inputs: np.ndarray, targets: np.ndarray | None = None,
            resets: np.ndarray | None = None) -> np.ndarray:
        """Run a stream: ``inputs`` (N, I); with ``targets`` (N, O) learn at every step, else predict.

        ``resets`` (N,) bool marks the steps before which the state is zeroed. Returns the
        outputs (N, O), each made before that step's update.
        """
        inputs = np.asarray(inputs, self.network.dtype)
        outputs = np.empty((len(inputs), self.network.output_size), self.network.dtype)
        if targets is None:
            if self.pending:
                self.update()
            self.rule.reset()
        with BlasThreads(1):                    # one stream's products are small: threads only contend
            for t in range(len(inputs)):
                if resets is not None and resets[t]:
                    self.reset()
                if targets is None:
                    outputs[t] = self.predict_step(inputs[t:t + 1])
                else:
                    outputs[t] = self.learn(inputs[t], targets[t])
        if targets is not None and self.pending:
            self.update()
        return outputs

    # -- checkpoints ---------------------------------------------------------------------
    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, JSON): everything to resume exactly, for a checkpoint.

        Arrays: ``theta``; ``state_h`` (and ``state_c``); the rule's memory (``trace``,
        ``sensitivity_h``, ``window_inputs``, ...); the optimizer's buffers as
        ``optimizer.<buffer>.theta``; and the gradient taken but not yet applied, ``grad``.
        JSON: the gradient's name, the counters and the optimizer's scalars.
        """
        arrays = {"theta": self.network.theta.copy(), "grad": self.network.grad.copy()}
        for name, value in zip(self.network.cell.state_names, self.step.state):
            arrays[f"state_{name}"] = value.copy()
        arrays.update({name: np.array(value) for name, value in self.rule.arrays().items()})
        optimizer_arrays, optimizer_scalars = self.optimizer.state_dict()
        arrays.update({f"optimizer.{name}": value for name, value in optimizer_arrays.items()})
        meta = {"gradient": self.gradient, "pending": self.pending, "steps_learned": self.steps_learned,
                "optimizer": optimizer_scalars}
        return arrays, meta

    def load_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping) -> None:
        """Restore what ``state`` gave; CheckpointError if it is another learner's."""
        if meta.get("gradient") != self.gradient:
            raise CheckpointError(f"the saved learner used the gradient {meta.get('gradient')!r}, "
                                  f"not {self.gradient!r}: resume with the same `gradient`")
        theta = np.asarray(arrays.get("theta"))
        if theta.shape != self.network.theta.shape:
            raise CheckpointError(f"the saved weights have shape {theta.shape}, the network "
                                  f"{self.network.theta.shape}: resume with the same network")
        prefix = "optimizer."
        self.optimizer.load_state_dict({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)},
                                       dict(meta["optimizer"]))
        self.network.theta[...] = theta
        self.network.grad[...] = arrays["grad"]
        self.step.reset(tuple(np.asarray(arrays[f"state_{name}"]) for name in self.network.cell.state_names))
        self.rule.load_arrays(arrays)
        self.pending, self.steps_learned = int(meta["pending"]), int(meta["steps_learned"])
