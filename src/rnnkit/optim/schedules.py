"""Learning-rate schedules: each changes ``optimizer.lr`` once per epoch.

    StepLR              lr *= gamma at the end of every step_size-th epoch
    ExponentialAfter    lr *= factor at the end of epoch start_epoch and of every later one
                        (char-rnn: x0.97 per epoch after epoch 10)
    ReduceLROnPlateau   lr *= factor once a metric (validation loss, say) has failed to
                        improve for more than ``patience`` epochs in a row

Call ``step()`` at the end of each epoch (``step(metric)`` for ReduceLROnPlateau). As in
PyTorch, each multiplies the optimizer's *current* lr, so schedules compose with each
other and with changes made by hand. Their state dicts are plain JSON-able dicts.
"""

from __future__ import annotations

import math

from rnnkit.optim._state import load_scalar_state, scalar_state
from rnnkit.optim.optimizers import Optimizer


class Schedule:
    """Counts finished epochs; saves that count and the attributes named in ``state_names``."""

    state_names: tuple[str, ...] = ("epoch",)

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.epoch = 0  # epochs finished, i.e. calls to step()

    def state_dict(self) -> dict:
        return scalar_state(self, self.state_names)

    def load_state_dict(self, state: dict) -> None:
        load_scalar_state(self, state, self.state_names)


class StepLR(Schedule):
    """lr = lr0 * gamma^(epoch // step_size), as torch.optim.lr_scheduler.StepLR."""

    state_names = ("epoch", "step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if not (step_size >= 1 and 0 < gamma < math.inf):        # False for NaN too
            raise ValueError(f"need step_size >= 1 and a finite gamma > 0, got {step_size} and {gamma}")
        super().__init__(optimizer)
        self.step_size = step_size
        self.gamma = gamma

    def step(self) -> None:
        self.epoch += 1
        if self.epoch % self.step_size == 0:
            self.optimizer.lr *= self.gamma


class ExponentialAfter(Schedule):
    """lr = lr0 * factor^max(0, epoch - start_epoch + 1) after ``epoch`` finished epochs.

    This is char-rnn's decay: ``learning_rate_decay = 0.97`` applied at the end of each
    epoch from ``learning_rate_decay_after = 10`` on.
    """

    state_names = ("epoch", "start_epoch", "factor")

    def __init__(self, optimizer: Optimizer, start_epoch: int = 10, factor: float = 0.97) -> None:
        if not 0 < factor < math.inf:                            # False for NaN too
            raise ValueError(f"factor must be a finite number > 0, got {factor}")
        super().__init__(optimizer)
        self.start_epoch = start_epoch
        self.factor = factor

    def step(self) -> None:
        self.epoch += 1
        if self.epoch >= self.start_epoch:
            self.optimizer.lr *= self.factor


class ReduceLROnPlateau(Schedule):
    """Multiply lr by ``factor`` (down to ``min_lr``) when a metric to minimise stalls.

    An epoch improves on the best metric so far if ``metric < best * (1 - threshold)``;
    after more than ``patience`` epochs in a row without improvement, lr becomes
    ``max(lr * factor, min_lr)`` and the count restarts. Matches
    torch.optim.lr_scheduler.ReduceLROnPlateau in mode "min", threshold_mode "rel".
    """

    state_names = ("epoch", "factor", "patience", "threshold", "min_lr", "best", "bad_epochs")
    min_change = 1e-8  # smaller lr changes are skipped, as PyTorch's eps

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 0.5,
        patience: int = 2,
        threshold: float = 1e-4,
        min_lr: float = 0.0,
    ) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must lie in (0, 1), got {factor}")
        super().__init__(optimizer)
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.min_lr = min_lr
        self.best: float | None = None  # the lowest metric so far; None before the first
        self.bad_epochs = 0  # epochs in a row without improvement

    def step(self, metric: float) -> None:
        self.epoch += 1
        metric = float(metric)
        if self.best is None or metric < self.best * (1.0 - self.threshold):
            self.best = metric
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            reduced = max(self.optimizer.lr * self.factor, self.min_lr)
            if self.optimizer.lr - reduced > self.min_change:
                self.optimizer.lr = reduced
            self.bad_epochs = 0
