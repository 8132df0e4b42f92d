"""Training options, and the optimizer and learning-rate schedule they name."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rnnkit.errors import ConfigError
from rnnkit.module import Module
from rnnkit.optim import SGD, Adagrad, Adam, AdamW, ExponentialAfter, Optimizer, ReduceLROnPlateau, RMSprop, StepLR

OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad", "rmsprop")
SCHEDULES = ("none", "step", "char-rnn", "plateau")


@dataclass
class TrainConfig:
    epochs: int = 10
    max_steps: int = 0              # stop after this many updates (0: no limit)
    max_minutes: float = 0.0        # stop after this much training time (0: no limit)
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.0           # sgd (and rmsprop)
    weight_decay: float = 0.0
    clip_norm: float = 5.0          # global gradient norm limit (0: off)
    clip_value: float = 0.0         # elementwise gradient limit (0: off)
    schedule: str = "none"          # none | step | char-rnn | plateau
    decay: float = 0.97             # factor of step / char-rnn / plateau schedules
    decay_after: int = 10           # char-rnn: first epoch to decay; step: every this many epochs
    eval_every: int = 200           # updates between validations
    log_every: int = 1              # updates averaged into one line of metrics.jsonl
    sample_every: int = 1000        # updates between printed samples (0: never)
    checkpoint_every: int = 500     # updates between checkpoints
    patience: int = 0               # stop after this many validations without improvement (0: never)
    min_delta: float = 1e-4         # a validation metric improves only by more than this
    monitor: str = "val_loss"       # the metric that picks the best checkpoint and drives early stopping
    on_nan: str = "stop"            # stop | reduce-lr: restore the last checkpoint and halve the lr
    seed: int = 0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if self.on_nan not in ("stop", "reduce-lr"):
            raise ConfigError(f"on_nan must be 'stop' or 'reduce-lr', got {self.on_nan!r}")
        if not self.lr > 0:
            raise ConfigError(f"learning rate must be positive, got {self.lr}")
        for name in ("epochs", "eval_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("max_steps", "max_minutes", "momentum", "weight_decay", "clip_norm", "clip_value",
                     "sample_every", "patience", "min_delta"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")

    @property
    def monitor_maximized(self) -> bool:
        """Accuracies and F1 scores are better higher; losses and errors lower."""
        return self.monitor.endswith(("accuracy", "f1"))

    def to_json(self) -> dict:
        return asdict(self)


def make_optimizer(config: TrainConfig, model: Module) -> Optimizer:
    name, lr = config.optimizer, config.lr
    if name == "adam":
        return Adam(model, lr=lr, weight_decay=config.weight_decay)
    if name == "adamw":
        return AdamW(model, lr=lr, weight_decay=config.weight_decay or 0.01)
    if name == "sgd":
        return SGD(model, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if name == "adagrad":
        return Adagrad(model, lr=lr, eps=1e-8, weight_decay=config.weight_decay)
    return RMSprop(model, lr=lr, alpha=0.95, momentum=config.momentum, weight_decay=config.weight_decay)


def make_schedule(config: TrainConfig, optimizer: Optimizer):
    """The schedule, stepped once per epoch (plateau: once per validation); None for "none"."""
    if config.schedule == "step":
        return StepLR(optimizer, step_size=config.decay_after, gamma=config.decay)
    if config.schedule == "char-rnn":
        return ExponentialAfter(optimizer, start_epoch=config.decay_after, factor=config.decay)
    if config.schedule == "plateau":
        return ReduceLROnPlateau(optimizer, factor=config.decay, patience=2)
    return None
