"""An online learner's settings as one JSON-able dataclass, and the learner they build.

    config = OnlineConfig(cell="lstm", hidden_size=15, peephole=True, gradient="truncated",
                          optimizer="sgd", lr=0.1, forget_bias=1.0)
    learner = build_learner(config, input_size=7, output_size=7, seed=0)
    schedule = build_schedule(config, learner.optimizer)      # None, or step() after each epoch

The network's weights are drawn from ``seed`` (the layer's, then the read-out's):
rnnkit's initialisation, U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's, or U(-init_range,
init_range) for every weight and bias when ``init_range`` is set (LSTM.java: 0.1);
``peephole_range`` then redraws the peepholes from U(-r, r) (0: they start at zero,
so that the cell starts as one without peepholes). ``forget_bias`` then sets the
forget gate's bias (b_ih's forget block; b_hh's to zero), so that the gate starts at
sigmoid(forget_bias).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.online.learner import OnlineLearner
from rnnkit.online.network import OUTPUTS, OnlineNetwork
from rnnkit.online.rules import GRADIENTS
from rnnkit.optim import SGD, Adam, ExponentialAfter, Optimizer

CELLS = ("lstm", "gru", "rnn")
OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass
class OnlineConfig:
    cell: str = "lstm"                  # lstm | gru | rnn
    hidden_size: int = 15
    peephole: bool = True               # lstm
    reset_after: bool = True            # gru: PyTorch's form, or Cho et al.'s (False)
    nonlinearity: str = "tanh"          # rnn
    forget_bias: float | None = None    # lstm: the forget gate's initial bias
    init_range: float | None = None     # U(-r, r) for every weight; None: rnnkit's U(-1/sqrt(H), 1/sqrt(H))
    peephole_range: float | None = None # lstm: U(-r, r) for the peepholes (0: they start at zero); None: as the rest
    output: str = "sigmoid"             # sigmoid (cross-entropy) | linear (squared error)
    gradient: str = "truncated"         # truncated | rtrl | bptt
    window: int = 20                    # bptt: the steps backpropagated through, h
    update_every: int | None = None     # bptt: the steps between updates, h' (None: window)
    optimizer: str = "sgd"              # sgd | momentum | adam
    lr: float = 0.1
    momentum: float = 0.9               # momentum
    betas: tuple[float, float] = (0.9, 0.999)   # adam
    eps: float = 1e-8                   # adam
    lr_decay: float = 1.0               # lr *= lr_decay at the end of each epoch from lr_decay_after on
    lr_decay_after: int = 0
    compiled: bool | None = None        # None: numba where it applies

    def __post_init__(self):
        for name, value, choices in (("cell", self.cell, CELLS), ("output", self.output, OUTPUTS),
                                     ("gradient", self.gradient, GRADIENTS),
                                     ("optimizer", self.optimizer, OPTIMIZERS)):
            if value not in choices:
                raise ConfigError(f"`{name}` must be one of {', '.join(choices)}, got {value!r}")
        if not isinstance(self.hidden_size, int) or self.hidden_size < 1:
            raise ConfigError(f"`hidden_size` must be a positive integer, got {self.hidden_size!r}")
        for name in ("lr", "eps", "lr_decay"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"`{name}` must be positive, got {getattr(self, name)!r}")
        if self.gradient == "truncated" and self.cell != "lstm":
            raise ConfigError(f"`gradient`='truncated' is the LSTM's; for `cell`={self.cell!r} choose 'rtrl' or 'bptt'")
        self.betas = tuple(self.betas)

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "betas": list(self.betas)}

    @classmethod
    def from_json(cls, data: dict) -> OnlineConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown online settings: {', '.join(unknown)}")
        return cls(**data)

    def optimizer_factory(self):
        """The ``rnnkit.optim`` optimizer these settings name, as a function of a Module."""
        if self.optimizer == "adam":
            return partial(Adam, lr=self.lr, betas=self.betas, eps=self.eps)
        return partial(SGD, lr=self.lr, momentum=self.momentum if self.optimizer == "momentum" else 0.0)


def build_schedule(config: OnlineConfig, optimizer: Optimizer) -> ExponentialAfter | None:
    """The learning-rate schedule of ``config`` (stepped once per epoch), or None for a constant lr."""
    if config.lr_decay == 1.0:
        return None
    return ExponentialAfter(optimizer, start_epoch=config.lr_decay_after, factor=config.lr_decay)


def build_network(config: OnlineConfig, input_size: int, output_size: int, seed: int | None = None) -> OnlineNetwork:
    """The network ``config`` describes, its weights drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    H, options = config.hidden_size, dict(dtype=np.float64, rng=rng)
    if config.cell == "lstm":
        layer = LSTM(input_size, H, peephole=config.peephole, **options)
    elif config.cell == "gru":
        layer = GRU(input_size, H, reset_after=config.reset_after, **options)
    else:
        layer = RNN(input_size, H, nonlinearity=config.nonlinearity, **options)
    network = OnlineNetwork(layer, output_size, config.output, rng=rng)
    if config.init_range is not None:
        network.theta[...] = rng.uniform(-config.init_range, config.init_range, network.theta.shape)
    if config.peephole_range is not None and config.cell == "lstm" and config.peephole:
        for name in ("weight_ci", "weight_cf", "weight_co"):
            peephole = network.cell_params[name]
            peephole[...] = rng.uniform(-config.peephole_range, config.peephole_range, peephole.shape)
    if config.forget_bias is not None:
        if config.cell != "lstm":
            raise ConfigError("`forget_bias` is the LSTM's; leave it unset for a GRU or an RNN")
        forget = slice(H, 2 * H)
        network.cell_params["bias_ih"][forget] = config.forget_bias
        network.cell_params["bias_hh"][forget] = 0.0
    return network


def build_learner(config: OnlineConfig, input_size: int, output_size: int, seed: int | None = None) -> OnlineLearner:
    """An ``OnlineLearner`` with the network, gradient and optimizer of ``config``."""
    network = build_network(config, input_size, output_size, seed)
    return OnlineLearner(network, config.gradient, config.optimizer_factory(), config.window,
                         config.update_every, config.compiled)
