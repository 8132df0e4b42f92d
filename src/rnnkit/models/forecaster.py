"""The forecaster: an LSTM/GRU stack reads a window of past values; a Linear layer maps
its last output to the next value(s).

For a window x (T, B, F) of T past steps (F features, 1 for a univariate series):

    h_t     = stack(x_t, h_{t-1})                 t = 1 .. T
    y_hat   = h_T W^T + c                         (B, horizon)

``horizon`` > 1 predicts the next ``horizon`` values at once (the *direct* multi-step
strategy); with horizon 1 a longer forecast feeds each prediction back as input
(the *recursive* strategy, see ``rnnkit.tasks.forecasting``). Trained with mean
squared error, whose gradient enters the Linear layer and reaches the stack at step T only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.linear import Linear
from rnnkit.layers.pooling import LastPooling
from rnnkit.models.char_lm import RECURRENT_LAYERS
from rnnkit.models.json_config import JsonConfig, check_positive_ints, check_probability
from rnnkit.module import Module


@dataclass
class ForecasterConfig(JsonConfig):
    cell: str = "lstm"
    input_size: int = 1
    hidden_size: int = 32
    num_layers: int = 1
    horizon: int = 1                     # values predicted at once (direct multi-step when > 1)
    dropout: float = 0.0                 # between recurrent layers and before the output layer

    def __post_init__(self):
        if self.cell not in RECURRENT_LAYERS:
            raise ConfigError(f"unknown `cell` {self.cell!r}: choose one of {', '.join(RECURRENT_LAYERS)}")
        check_positive_ints(self, "input_size", "hidden_size", "num_layers", "horizon")
        check_probability("dropout", self.dropout)


class Forecaster(Module):
    """``y_hat = model(x)`` with x (T, B, input_size), y_hat (B, horizon); ``model.backward(dy_hat)``."""

    def __init__(self, config: ForecasterConfig, dtype=np.float32, rng=None):
        super().__init__()
        self.config = config
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(rng)
        self.rnn = RECURRENT_LAYERS[config.cell](
            config.input_size, config.hidden_size, config.num_layers, dropout=config.dropout, dtype=dtype, rng=rng)
        self.last_step = LastPooling()
        self.dropout = Dropout(config.dropout, rng=rng)
        self.output = Linear(config.hidden_size, config.horizon, dtype=dtype, rng=rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 3:
            raise ValueError(f"x must be a (T, B, {self.config.input_size}) window batch, got shape {x.shape}")
        hidden, _ = self.rnn(x)
        return self.output(self.dropout(self.last_step(hidden)))

    def backward(self, dprediction: np.ndarray) -> None:
        dhidden = self.last_step.backward(self.dropout.backward(self.output.backward(dprediction)))
        self.rnn.backward(dhidden)
