"""Gradient-descent optimizers with PyTorch's update rules, acting in place on a Module.

An optimizer reads ``module.parameters()`` and ``module.grads`` (dicts of live arrays
with the same keys) and updates each parameter array in place. With g the gradient,
plus ``weight_decay * param`` when weight decay is on (L2 regularisation), one step is

    SGD       b = momentum b + (1 - dampening) g   (b = g at the first step)
              p -= lr (g + momentum b  if nesterov  else  b)     (p -= lr g without momentum)
    Adagrad   s += g^2                                p -= lr g / (sqrt(s) + eps)
    RMSprop   v = alpha v + (1 - alpha) g^2           p -= lr g / (sqrt(v) + eps)
              (with momentum: b = momentum b + g / (sqrt(v) + eps),  p -= lr b)
    Adam      m = beta1 m + (1 - beta1) g             v = beta2 v + (1 - beta2) g^2
              p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)
    AdamW     p -= lr weight_decay p  (decoupled, instead of adding to g), then Adam

Per-parameter buffers keep PyTorch's names (``exp_avg`` for m, ``exp_avg_sq`` for v,
``square_avg``, ``momentum_buffer``), except Adagrad's s, ``sum_sq`` (PyTorch: ``sum``).
Updates write through one scratch array per parameter, so a step allocates nothing
(except ``g + weight_decay * p`` when coupled weight decay is on).
"""

from __future__ import annotations

import math

import numpy as np

from rnnkit.errors import CheckpointError
from rnnkit.module import Module
from rnnkit.optim._state import load_scalar_state, scalar_state


class Optimizer:
    """Shared machinery: buffers, the step loop, weight decay, state dicts.

    A subclass passes its buffer names and hyperparameters to ``__init__`` (they become
    attributes, so a schedule can change ``lr``) and implements
    ``_update(param, grad, work, **buffers)``, which updates ``param`` in place;
    ``work`` is a scratch array shaped like ``param`` whose contents are free to overwrite.
    """

    def __init__(self, module: Module, buffer_names: tuple[str, ...], **hyperparameters) -> None:
        for name, value in hyperparameters.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not (
                    math.isfinite(value) and value >= 0):    # lr, eps, momentum, ...: NaN fails every comparison
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        self.module = module
        self.hyperparameter_names = tuple(hyperparameters)
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self.step_count = 0
        parameters = module.parameters()
        self.state = {  # parameter name -> buffer name -> array shaped like the parameter
            name: {buffer: np.zeros_like(param) for buffer in buffer_names}
            for name, param in parameters.items()
        }
        self._work = {name: np.empty_like(param) for name, param in parameters.items()}

    def step(self) -> None:
        """Update every parameter in place from its current gradient."""
        self.step_count += 1
        grads = self.module.grads
        for name, param in self.module.parameters().items():
            self._update(param, grads[name], self._work[name], **self.state[name])

    def zero_grad(self) -> None:
        self.module.zero_grad()

    def _update(self, param: np.ndarray, grad: np.ndarray, work: np.ndarray, **buffers) -> None:
        raise NotImplementedError

    def _decayed(self, param: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """g + weight_decay * param: the gradient of the loss plus (weight_decay / 2) |param|^2."""
        return grad + self.weight_decay * param if self.weight_decay else grad

    # -- state dicts --------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, scalars): copies of the buffers keyed ``"<buffer>.<parameter>"``
        (``"exp_avg.rnn.weight_ih_l0"``), and the JSON-able hyperparameters and step count."""
        arrays = {key: array.copy() for key, array in self._named_buffers().items()}
        return arrays, scalar_state(self, self._scalar_names())

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict) -> None:
        """Restore buffers, hyperparameters and step count; CheckpointError if they do not fit."""
        own = self._named_buffers()
        missing, unexpected = sorted(set(own) - set(arrays)), sorted(set(arrays) - set(own))
        if missing or unexpected:
            raise CheckpointError(
                f"optimizer state does not fit the model: missing {missing or 'nothing'}, "
                f"unexpected {unexpected or 'nothing'}"
            )
        for key, target in own.items():
            value = np.asarray(arrays[key])
            if value.shape != target.shape:
                raise CheckpointError(
                    f"optimizer state {key}: expected shape {target.shape}, got {value.shape}"
                )
        if isinstance(scalars, dict) and not (isinstance(scalars.get("step_count"), int)
                                              and scalars["step_count"] >= 0):
            raise CheckpointError(f"the saved step count {scalars.get('step_count')!r} is not a count of steps: "
                                  "the optimizer state is damaged")
        load_scalar_state(self, scalars, self._scalar_names())
        for key, target in own.items():
            target[...] = arrays[key]

    def _named_buffers(self) -> dict[str, np.ndarray]:
        """Every buffer (the live array) keyed ``"<buffer>.<parameter>"``."""
        return {
            f"{buffer}.{name}": array
            for name, buffers in self.state.items()
            for buffer, array in buffers.items()
        }

    def _scalar_names(self) -> tuple[str, ...]:
        return ("step_count", *self.hyperparameter_names)


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:                                # False for NaN too
        raise ValueError(f"{name} must lie in [0, 1), got {value}")


# -- in-place building blocks of the updates ----------------------------------------------
def _decay_towards(average: np.ndarray, value: np.ndarray, decay: float) -> None:
    """average = decay * average + (1 - decay) * value, in place and without temporaries,
    computed as decay * (average - value) + value."""
    average -= value
    average *= decay
    average += value


def _divide_by_root(grad: np.ndarray, accumulator: np.ndarray, eps: float, out: np.ndarray):
    """out = grad / (sqrt(accumulator) + eps), the per-entry step of Adagrad and RMSprop."""
    np.sqrt(accumulator, out=out)
    out += eps
    return np.divide(grad, out, out=out)


def _descend(param: np.ndarray, direction: np.ndarray, lr: float, work: np.ndarray) -> None:
    """param -= lr * direction, through ``work`` (which may be ``direction`` itself)."""
    np.multiply(direction, lr, out=work)
    param -= work


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as torch.optim.SGD."""

    def __init__(
        self,
        module: Module,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        _check_fraction("momentum", momentum)
        if nesterov and (momentum == 0.0 or dampening != 0.0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0")
        buffers = ("momentum_buffer",) if momentum else ()
        super().__init__(
            module, buffers, lr=lr, momentum=momentum, nesterov=nesterov,
            weight_decay=weight_decay, dampening=dampening,
        )

    def _update(self, param, grad, work, momentum_buffer=None):
        grad = self._decayed(param, grad)
        direction = grad
        if momentum_buffer is not None:
            if self.step_count == 1:
                momentum_buffer[...] = grad
            else:
                momentum_buffer *= self.momentum
                np.multiply(grad, 1.0 - self.dampening, out=work)
                momentum_buffer += work
            direction = momentum_buffer
            if self.nesterov:
                direction = np.multiply(momentum_buffer, self.momentum, out=work)
                direction += grad
        _descend(param, direction, self.lr, work)


class Adagrad(Optimizer):
    """Adagrad: each entry's step shrinks with its summed squared gradients, as torch.optim.Adagrad.

    PyTorch (and so rnnkit) adds eps outside the square root, min-char-rnn's
    ``sqrt(s + 1e-8)`` inside. The sum s is the buffer ``sum_sq`` (PyTorch's ``sum``).
    """

    def __init__(
        self,
        module: Module,
        lr: float = 0.01,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
    ) -> None:
        super().__init__(module, ("sum_sq",), lr=lr, eps=eps, weight_decay=weight_decay)
        for buffers in self.state.values():
            buffers["sum_sq"].fill(initial_accumulator_value)

    def _update(self, param, grad, work, sum_sq):
        grad = self._decayed(param, grad)
        sum_sq += np.multiply(grad, grad, out=work)  # s += g^2
        _descend(param, _divide_by_root(grad, sum_sq, self.eps, out=work), self.lr, work)


class RMSprop(Optimizer):
    """RMSprop: steps scaled by a running RMS of the gradients, as torch.optim.RMSprop."""

    def __init__(
        self,
        module: Module,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        _check_fraction("alpha", alpha)
        _check_fraction("momentum", momentum)
        buffers = ("square_avg", "momentum_buffer") if momentum else ("square_avg",)
        super().__init__(
            module, buffers, lr=lr, alpha=alpha, eps=eps, momentum=momentum,
            weight_decay=weight_decay,
        )

    def _update(self, param, grad, work, square_avg, momentum_buffer=None):
        grad = self._decayed(param, grad)
        np.multiply(grad, grad, out=work)
        _decay_towards(square_avg, work, self.alpha)  # v = alpha v + (1 - alpha) g^2
        direction = _divide_by_root(grad, square_avg, self.eps, out=work)
        if momentum_buffer is not None:
            momentum_buffer *= self.momentum
            momentum_buffer += direction  # b = momentum b + g / (sqrt(v) + eps)
            direction = momentum_buffer
        _descend(param, direction, self.lr, work)


class Adam(Optimizer):
    """Adam: steps from bias-corrected running means of g and g^2, as torch.optim.Adam.

    With ``weight_decay`` it adds ``weight_decay * p`` to g (L2); AdamW decouples it.
    """

    def __init__(
        self,
        module: Module,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        _check_fraction("betas[0]", betas[0])
        _check_fraction("betas[1]", betas[1])
        super().__init__(
            module, ("exp_avg", "exp_avg_sq"), lr=lr, betas=tuple(betas), eps=eps,
            weight_decay=weight_decay,
        )

    def _update(self, param, grad, work, exp_avg, exp_avg_sq):
        self._adam_step(param, self._decayed(param, grad), work, exp_avg, exp_avg_sq)

    def _adam_step(self, param, grad, work, exp_avg, exp_avg_sq) -> None:
        beta1, beta2 = self.betas
        _decay_towards(exp_avg, grad, beta1)  # m = beta1 m + (1 - beta1) g
        np.multiply(grad, grad, out=work)
        _decay_towards(exp_avg_sq, work, beta2)  # v = beta2 v + (1 - beta2) g^2
        bias_correction1 = 1.0 - beta1**self.step_count
        bias_correction2 = 1.0 - beta2**self.step_count
        denominator = np.sqrt(exp_avg_sq, out=work)
        denominator /= np.sqrt(bias_correction2)
        denominator += self.eps  # sqrt(v / (1 - beta2^t)) + eps
        direction = np.divide(exp_avg, denominator, out=work)
        _descend(param, direction, self.lr / bias_correction1, work)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW:
    p -= lr * weight_decay * p, then the Adam step on the plain gradient."""

    def __init__(
        self,
        module: Module,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(module, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _update(self, param, grad, work, exp_avg, exp_avg_sq):
        param *= 1.0 - self.lr * self.weight_decay
        self._adam_step(param, grad, work, exp_avg, exp_avg_sq)
