"""Training options, and the optimizer and learning-rate schedule they name.

Every field of ``TrainConfig`` carries, in its ``dataclasses.field`` metadata, a one-line
``help`` (the command line builds its flags' help from it and adds the default itself),
and where it has one, its valid ``range`` (a ``Range``) or its ``choices``. These are the
one place where the valid values are written down: ``TrainConfig.__post_init__`` checks
every field with ``check``, and the command line checks its options at parse time with
``problem`` (the same test, the message without the field's name), so the library and
the command line cannot disagree. A range can depend on another field (``decay`` lies in
(0, 1) only for the plateau schedule): ``value_range(name, values)`` gives the range
that applies when the other fields have ``values``.

The constants the optimizers and schedules used to hide are fields with their former
values as defaults (``rmsprop_alpha`` 0.95, ``adagrad_eps`` 1e-8, ``plateau_patience`` 2),
so a train config saved by an older run, which lacks them, builds the very same
optimizer and schedule. ``weight_decay`` 0 with ``adamw`` means AdamW's customary 0.01
(``ADAMW_DEFAULT_WEIGHT_DECAY``), as before: AdamW without weight decay would be Adam.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields
from typing import Mapping

from rnnkit.errors import ConfigError
from rnnkit.module import Module
from rnnkit.optim import SGD, Adagrad, Adam, AdamW, ExponentialAfter, Optimizer, ReduceLROnPlateau, RMSprop, StepLR

OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad", "rmsprop")
SCHEDULES = ("none", "step", "char-rnn", "plateau")
ON_NAN = ("stop", "reduce-lr")
ADAMW_DEFAULT_WEIGHT_DECAY = 0.01   # adamw's decoupled weight decay when `weight_decay` is 0


@dataclass(frozen=True)
class Range:
    """The numbers from ``minimum`` to ``maximum`` (either None: unbounded), each end
    included or not; ``describe()`` says it in words, as error messages use it."""

    minimum: float | None = None
    maximum: float | None = None
    include_minimum: bool = True
    include_maximum: bool = False

    def __contains__(self, value) -> bool:      # False for NaN, as every comparison is
        if self.minimum is not None and not (value >= self.minimum if self.include_minimum else value > self.minimum):
            return False
        if self.maximum is not None and not (value <= self.maximum if self.include_maximum else value < self.maximum):
            return False
        return True

    def describe(self) -> str:
        low, high = _number(self.minimum), _number(self.maximum)
        if self.maximum is not None:
            if self.minimum is None:
                return f"must be {'at most' if self.include_maximum else 'below'} {high}"
            return (f"must lie in {'[' if self.include_minimum else '('}{low}, "
                    f"{high}{']' if self.include_maximum else ')'}")
        if self.minimum is None:
            return "may be any number"
        if self.minimum == 0:
            return "must not be negative" if self.include_minimum else "must be positive"
        return f"must be at least {low}" if self.include_minimum else f"must be greater than {low}"


def _number(value) -> str:
    """1 rather than 1.0 in messages; None stays None."""
    return None if value is None else f"{value:g}"


NOT_NEGATIVE = Range(0)
POSITIVE = Range(0, include_minimum=False)
AT_LEAST_ONE = Range(1)
FRACTION = Range(0, 1)                                     # [0, 1)
OPEN_FRACTION = Range(0, 1, include_minimum=False)         # (0, 1)


def option(default, help: str, range: Range | None = None, choices: tuple[str, ...] | None = None,
           range_by: tuple[str, Mapping[str, Range]] | None = None):
    """A TrainConfig field: its default, one line of help (without the default) and its valid values.

    ``range_by = (other_field, {value_of_other_field: Range})`` narrows ``range`` when the
    other field has one of those values.
    """
    metadata = {"help": help}
    if range is not None:
        metadata["range"] = range
    if choices is not None:
        metadata["choices"] = choices
    if range_by is not None:
        metadata["range_by"] = range_by
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    epochs: int = option(10, "passes over the training data", AT_LEAST_ONE)
    max_steps: int = option(0, "stop after this many updates (0: no limit)", NOT_NEGATIVE)
    max_minutes: float = option(0.0, "stop after this much training time in minutes (0: no limit)", NOT_NEGATIVE)
    optimizer: str = option("adam", "the optimizer", choices=OPTIMIZERS)
    lr: float = option(2e-3, "learning rate", POSITIVE)
    momentum: float = option(0.0, "momentum of sgd and rmsprop", FRACTION)
    weight_decay: float = option(
        0.0, "L2 penalty added to the gradient, or with adamw the decoupled decay "
             f"(0 with adamw means {ADAMW_DEFAULT_WEIGHT_DECAY})", NOT_NEGATIVE)
    rmsprop_alpha: float = option(0.95, "rmsprop: decay of the running mean of squared gradients", FRACTION)
    adagrad_eps: float = option(1e-8, "adagrad: added to the root of the summed squared gradients", POSITIVE)
    clip_norm: float = option(5.0, "largest global gradient norm (0: no clipping)", NOT_NEGATIVE)
    clip_value: float = option(0.0, "largest gradient entry (0: no clipping)", NOT_NEGATIVE)
    schedule: str = option("none", "learning-rate schedule: times decay every decay_after epochs (step), every "
                                   "epoch from epoch decay_after on (char-rnn), or when validation stalls (plateau)",
                           choices=SCHEDULES)
    decay: float = option(0.97, "factor of the step, char-rnn and plateau schedules", POSITIVE,
                          range_by=("schedule", {"plateau": OPEN_FRACTION}))
    decay_after: int = option(10, "char-rnn: first epoch to decay; step: decay every this many epochs", AT_LEAST_ONE)
    plateau_patience: int = option(
        2, "plateau: validations without improvement tolerated before the rate decays "
           "(it decays at the next one)", NOT_NEGATIVE)
    eval_every: int = option(200, "updates between validations", AT_LEAST_ONE)
    log_every: int = option(1, "updates averaged into one line of metrics.jsonl", AT_LEAST_ONE)
    sample_every: int = option(1000, "updates between printed samples (0: never)", NOT_NEGATIVE)
    checkpoint_every: int = option(500, "updates between checkpoints", AT_LEAST_ONE)
    patience: int = option(0, "stop after this many validations without improvement (0: never)", NOT_NEGATIVE)
    min_delta: float = option(1e-4, "a validation metric improves only by more than this", NOT_NEGATIVE)
    monitor: str = option("val_loss", "the validation metric that picks the best checkpoint and drives patience")
    on_nan: str = option("stop", "on a NaN or infinite loss: stop, or go back to the last checkpoint "
                                 "with half the learning rate", choices=ON_NAN)
    seed: int = option(0, "seed of the random generator (initialisation, dropout, data order, samples)",
                       NOT_NEGATIVE)

    def __post_init__(self):
        values = asdict(self)
        for name, value in values.items():
            check(name, value, values)

    @property
    def monitor_maximized(self) -> bool:
        """Accuracies and F1 scores are better higher; losses and errors lower."""
        return self.monitor.endswith(("accuracy", "f1"))

    @property
    def effective_weight_decay(self) -> float:
        """The weight decay the optimizer gets: ``weight_decay``, but 0.01 for adamw when that is 0."""
        if self.optimizer == "adamw" and self.weight_decay == 0:
            return ADAMW_DEFAULT_WEIGHT_DECAY
        return self.weight_decay

    def to_json(self) -> dict:
        return asdict(self)


_FIELDS = {f.name: f for f in fields(TrainConfig)}


def help_text(name: str) -> str:
    """The one-line help of field ``name`` (without its default)."""
    return _field(name).metadata["help"]


def choices(name: str) -> tuple[str, ...] | None:
    """The values field ``name`` may take, if it is a choice; else None."""
    return _field(name).metadata.get("choices")


def value_range(name: str, values: Mapping | None = None) -> Range | None:
    """The range field ``name`` must lie in when the other fields have ``values``
    (missing ones: their defaults); None if it has none."""
    metadata = _field(name).metadata
    if "range_by" in metadata:
        other, ranges = metadata["range_by"]
        other_value = (values or {}).get(other, _FIELDS[other].default)
        if other_value in ranges:
            return ranges[other_value]
    return metadata.get("range")


def problem(name: str, value, values: Mapping | None = None) -> str | None:
    """What is wrong with ``value`` for field ``name`` (e.g. "must lie in [0, 1), got 5"),
    given the other fields' ``values``; None if nothing is."""
    spec = _field(name)
    default = spec.default
    if isinstance(default, str):
        allowed = spec.metadata.get("choices")
        if not isinstance(value, str):
            return f"must be a string, got {value!r}"
        if allowed is not None and value not in allowed:
            return f"must be one of {', '.join(allowed)}, got {value!r}"
        return None
    if isinstance(default, int) and not (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
        return f"must be an integer, got {value!r}"
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return f"must be a number, got {value!r}"
    if not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    valid = value_range(name, values)
    if valid is not None and value not in valid:
        condition = ""
        other = spec.metadata.get("range_by", (None, {}))
        if valid is not spec.metadata.get("range") and other[0] is not None:
            condition = f" with `{other[0]}` {(values or {}).get(other[0])!r}"
        return f"{valid.describe()}{condition}, got {value!r}"
    return None


def check(name: str, value, values: Mapping | None = None):
    """``value`` if it suits field ``name`` (given the others' ``values``); else ConfigError
    naming the field, such as "`momentum` must lie in [0, 1), got 5"."""
    wrong = problem(name, value, values)
    if wrong is not None:
        raise ConfigError(f"`{name}` {wrong}")
    return value


def _field(name: str):
    try:
        return _FIELDS[name]
    except KeyError:
        raise ConfigError(f"unknown training option `{name}`: choose one of {', '.join(_FIELDS)}") from None


def make_optimizer(config: TrainConfig, model: Module) -> Optimizer:
    name, lr, weight_decay = config.optimizer, config.lr, config.effective_weight_decay
    if name == "adam":
        return Adam(model, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return AdamW(model, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return SGD(model, lr=lr, momentum=config.momentum, weight_decay=weight_decay)
    if name == "adagrad":
        return Adagrad(model, lr=lr, eps=config.adagrad_eps, weight_decay=weight_decay)
    return RMSprop(model, lr=lr, alpha=config.rmsprop_alpha, momentum=config.momentum, weight_decay=weight_decay)


def make_schedule(config: TrainConfig, optimizer: Optimizer):
    """The schedule, stepped once per epoch (plateau: once per validation); None for "none"."""
    if config.schedule == "step":
        return StepLR(optimizer, step_size=config.decay_after, gamma=config.decay)
    if config.schedule == "char-rnn":
        return ExponentialAfter(optimizer, start_epoch=config.decay_after, factor=config.decay)
    if config.schedule == "plateau":
        return ReduceLROnPlateau(optimizer, factor=config.decay, patience=config.plateau_patience)
    return None
