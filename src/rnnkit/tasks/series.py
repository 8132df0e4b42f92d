"""Forecasting's arithmetic: the series transform, splits, windows, forecasts in the series' own
units, the baselines, and the training task.

The series x is first made stationary and scaled (``SeriesTransform``):

    u_t = log x_t                     (optional, for a multiplicative trend or season)
    w_t = u_t - u_{t-s}               (optional seasonal differencing, s = the period)
    v_t = w_t - w_{t-1}               (optional first differencing)
    z_t = scale(v_t)                  (min-max or standard, fitted on the training part only)

so z starts ``offset = s + 1`` steps (at most) after x. The model reads the
``look_back`` values z_{t-L} ... z_{t-1} and predicts z_t ... z_{t+H-1} (H = horizon).
A prediction is turned back into the series' units with the values before it:

    v_hat = unscale(z_hat);  w_hat_t = v_hat + w_{t-1};  u_hat_t = w_hat_t + u_{t-s};  x_hat_t = exp u_hat_t

*One-step* forecasts use the actual past for every test point (a rolling forecast).
An *h-step* forecast starts from the actual past up to t-h and then either feeds
its own forecasts back in (``recursive``, a one-output model) or reads the h-th of
the H outputs of one model call (``direct``, h <= H).

Splits: the first ``train_fraction`` of the series trains (as the LSTM tutorial's
67 %), its last ``val_fraction`` serves for early stopping (a *refit* then trains
on all of the training part, validation windows included), and the rest is the
test part; every point of the test part is a test target, for the model and for
the baselines (persistence x_hat_t = x_{t-h}, seasonal naive x_hat_t = x_{t-ks},
ks the first multiple of s >= h) alike.

Backtests (``rnnkit.tasks.backtest``) and walk-forward updating
(``rnnkit.tasks.walk_forward``) are built on these pieces; the run spec and the workflows are
in ``rnnkit.tasks.forecasting``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.data.batches import EpochBatches
from rnnkit.data.timeseries import (MinMaxScaler, StandardScaler, difference, seasonal_naive_forecast,
                                    train_test_split_series)
from rnnkit.errors import CheckpointError, ConfigError, DataError
from rnnkit.losses import mse_loss
from rnnkit.metrics import mae, rmse
from rnnkit.models.forecaster import Forecaster
from rnnkit.tasks.epochs import EpochTask

SCALERS = {"minmax": MinMaxScaler, "standard": StandardScaler}
STRATEGIES = ("recursive", "direct")


@dataclass
class SeriesTransform:
    """x -> z and back (see the module doc). Fit it on the training part before use."""

    log: bool = False
    difference: bool = False
    seasonal_lag: int = 0                # 0: no seasonal differencing
    scaler: str = "minmax"
    scaler_state: str | None = None      # the fitted scaler's JSON

    def __post_init__(self):
        if self.scaler not in SCALERS:
            raise ConfigError(f"unknown scaler {self.scaler!r}: choose one of {', '.join(SCALERS)}")
        if not isinstance(self.seasonal_lag, int) or self.seasonal_lag < 0:
            raise ConfigError(f"seasonal lag must be 0 (none) or positive, got {self.seasonal_lag!r}")
        self._scaler = SCALERS[self.scaler].from_json(self.scaler_state) if self.scaler_state else None

    @property
    def offset(self) -> int:
        """How many steps z starts after x."""
        return self.seasonal_lag + int(self.difference)

    def fit(self, train_values: np.ndarray) -> "SeriesTransform":
        self._scaler = SCALERS[self.scaler]().fit(self.stationary(train_values))
        self.scaler_state = self._scaler.to_json()
        return self

    def log_values(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.log and np.any(x <= 0):
            raise DataError("`log` needs a positive series: it has values <= 0")
        return np.log(x) if self.log else x

    def stationary(self, x: np.ndarray) -> np.ndarray:
        """v: x after log and differencing, along axis 0 (time); ``offset`` values shorter."""
        v = self.log_values(x)
        if self.seasonal_lag:
            v = difference(v, self.seasonal_lag)
        if self.difference:
            v = difference(v, 1)
        return v

    def transform(self, x: np.ndarray) -> np.ndarray:
        """z (len(x) - offset, ...), z[k] belonging to x[k + offset]."""
        if self._scaler is None:
            raise ConfigError("the series transform is not fitted: call fit(train_values) first")
        return self._scaler.transform(self.stationary(x))

    def next_values(self, history: np.ndarray, z_hat: np.ndarray) -> np.ndarray:
        """x_hat_t from a predicted z_t and the series before t: ``history`` (C, N), N forecasts at once.

        Needs C >= offset past values (the last ``offset`` rows are used).
        """
        u = self.log_values(history)
        u_hat = self._scaler.inverse_transform(z_hat)
        if self.difference:
            u_hat = u_hat + u[-1] - (u[-1 - self.seasonal_lag] if self.seasonal_lag else 0.0)
        if self.seasonal_lag:
            u_hat = u_hat + u[-self.seasonal_lag]
        return np.exp(u_hat) if self.log else u_hat

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SeriesTransform":
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__):
            raise CheckpointError(f"the saved series transform {data!r} is malformed: the checkpoint is damaged")
        return cls(**data)


@dataclass
class SeriesSplit:
    """Which indices of a series of ``length`` values train, validate and test.

    ``train_end`` given (a backtest fold) replaces the one ``train_fraction`` gives.
    """

    length: int
    train_fraction: float = 0.67
    val_fraction: float = 0.15           # of the training part, its end
    train_end: int | None = None

    def __post_init__(self):
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val fraction must be in [0, 1), got {self.val_fraction}")
        if self.train_end is None:
            self.train_end = len(train_test_split_series(np.zeros(self.length), self.train_fraction)[0])
        elif not 0 < self.train_end < self.length:
            raise ConfigError(f"the training part must end inside the {self.length} values, not at {self.train_end}")
        self.val_start = self.train_end - max(1, round(self.val_fraction * self.train_end))

    @property
    def test_targets(self) -> np.ndarray:
        return np.arange(self.train_end, self.length)

    @property
    def val_targets(self) -> np.ndarray:
        """The held-out end of the training part: for early stopping and for comparing settings."""
        return np.arange(self.val_start, self.train_end)


def window_inputs(z: np.ndarray, targets: np.ndarray, look_back: int, offset: int) -> np.ndarray:
    """Model inputs (L, N, 1): row t of the result reads z at x-indices t-L ... t-1."""
    starts = np.asarray(targets) - look_back - offset          # z index of x[t - L]
    return z[starts[None, :] + np.arange(look_back)[:, None]][:, :, None]


def window_targets(z: np.ndarray, targets: np.ndarray, horizon: int, offset: int) -> np.ndarray:
    """Scaled targets (N, H): z at x-indices t ... t+H-1."""
    return z[np.asarray(targets)[:, None] - offset + np.arange(horizon)[None, :]]


def windows(z: np.ndarray, targets: np.ndarray, look_back: int, offset: int, horizon: int,
            dtype) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (L, N, 1) and scaled targets (N, H) of the windows of ``targets``, in the model's dtype."""
    return (window_inputs(z, targets, look_back, offset).astype(dtype),
            window_targets(z, targets, horizon, offset).astype(dtype))


def trainable_targets(first: int, end: int, look_back: int, offset: int, horizon: int) -> np.ndarray:
    """Targets t in [first, end) whose window starts at or after z's start and whose H targets end before ``end``."""
    return np.arange(max(first, look_back + offset), end - horizon + 1)


def split_windows(split: SeriesSplit, look_back: int, offset: int, horizon: int,
                  refit: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The targets of the training windows (a refit: the validation ones too) and of the validation windows."""
    train_end = split.train_end if refit else split.val_start
    train_targets = trainable_targets(0, train_end, look_back, offset, horizon)
    val_targets = trainable_targets(split.val_start, split.train_end, look_back, offset, horizon)
    if len(train_targets) == 0 or len(val_targets) == 0:
        raise DataError(f"{split.train_end} training values leave no training or validation window of "
                        f"look-back {look_back} + differencing {offset} + horizon {horizon}: "
                        "use a shorter `look_back` or `horizon`, or a larger `val_fraction`")
    return train_targets, val_targets


def forecast(model: Forecaster, transform: SeriesTransform, values: np.ndarray, targets: np.ndarray,
             look_back: int, steps: int = 1, strategy: str = "recursive") -> np.ndarray:
    """x_hat_t for each target t, forecast ``steps`` ahead from the actual values before t - steps + 1."""
    return forecast_paths(model, transform, values, np.asarray(targets) - steps + 1, look_back, steps, strategy)[-1]


def forecast_future(model, transform, values, look_back: int, steps: int, strategy: str,
                    progress=None) -> np.ndarray:
    """The next ``steps`` values after the end of the series (one pass: the h-th is the h-step forecast);
    ``progress(done, steps)`` is called after each."""
    values = np.asarray(values, dtype=np.float64)
    return forecast_paths(model, transform, values, np.array([len(values)]), look_back, steps, strategy,
                          progress)[:, 0]


def forecast_paths(model: Forecaster, transform: SeriesTransform, values: np.ndarray, origins: np.ndarray,
                   look_back: int, steps: int, strategy: str = "recursive", progress=None) -> np.ndarray:
    """(steps, N): from each origin o (N of them), the forecasts of x_o, ..., x_{o+steps-1} made from the
    actual values before o alone, row h-1 being h steps ahead. One model call per step and origin column
    (recursive), or one in all (direct); each step reads only the rows it needs, so a path costs time
    linear in ``steps``. ``progress(done, steps)`` is called after each step."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if strategy == "direct" and steps > model.config.horizon:
        raise ConfigError(f"a direct forecast reaches {model.config.horizon} steps (the model's horizon), "
                          f"not {steps}: use the recursive `strategy` or train with `horizon` {steps}")
    context = look_back + transform.offset                     # past values one forecast needs
    origins = np.asarray(origins)
    if origins.min() < context:
        raise DataError(f"target {int(origins.min()) + steps - 1} has fewer than {context} values before its "
                        "forecast origin: use a shorter `look_back`")
    values = np.asarray(values, dtype=np.float64)
    history = np.empty((context + steps, len(origins)))        # the actual past, then the forecasts
    history[:context] = values[origins[None, :] - context + np.arange(context)[:, None]]
    undo = transform.seasonal_lag + 1                          # past rows that turn a z back into an x
    model.eval()
    direct = _predict(model, transform, history[:context], look_back) if strategy == "direct" else None
    for h in range(steps):
        end = context + h
        z_hat = direct[:, h] if direct is not None else _predict(model, transform, history[end - context:end],
                                                                 look_back)[:, 0]
        history[end] = transform.next_values(history[end - undo:end], z_hat)
        if progress is not None:
            progress(h + 1, steps)
    model.train()
    return history[context:]


def _predict(model: Forecaster, transform: SeriesTransform, history: np.ndarray, look_back: int) -> np.ndarray:
    z = transform.transform(history)[-look_back:]                                  # (L, N)
    return model(z[:, :, None].astype(model.dtype)).astype(np.float64)


def mse_step(model: Forecaster, inputs: np.ndarray, expected: np.ndarray) -> float:
    """Forward and backward of the mean squared error of a batch of windows (gradients added to ``model``)."""
    model.train()
    loss, dprediction = mse_loss(model(inputs), expected)
    model.backward(dprediction)
    return float(loss)


def baseline_forecasts(values: np.ndarray, targets: np.ndarray, period: int, steps: int = 1) -> dict[str, np.ndarray]:
    """Persistence x_{t-h} and seasonal naive x_{t-ks} (ks the first multiple of the period >= h)."""
    return {"persistence": seasonal_naive_forecast(values, targets, lag=steps),
            "seasonal naive": seasonal_naive_forecast(values, targets, lag=period * math.ceil(steps / period))}


def error_table(actual: np.ndarray, forecasts: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """RMSE and MAE of each named forecast of ``actual``."""
    return {name: {"rmse": rmse(actual, f), "mae": mae(actual, f)} for name, f in forecasts.items()}


class ForecastingTask(EpochTask):
    """Windows of one series: shuffled mini-batches of the training targets; validation on the held-out end.

    ``refit``: train on the validation windows too (every window of the training part), for a number of
    updates chosen before on validation; its validation loss is then measured on windows it trained on.
    """

    unit = "window"

    def __init__(self, model: Forecaster, transform: SeriesTransform, values: np.ndarray, split: SeriesSplit,
                 look_back: int, batch_size: int, seed: int = 0, refit: bool = False):
        if look_back < 1 or batch_size < 1:
            raise ConfigError(f"look-back and batch size must be at least 1, got {look_back} and {batch_size}")
        self.model, self.transform, self.look_back = model, transform, look_back
        self.batch_size, self.seed = batch_size, seed
        horizon, offset = model.config.horizon, transform.offset
        self.z = transform.transform(values[:split.train_end])
        self.train_targets, self.val_targets = split_windows(split, look_back, offset, horizon, refit)
        self.batch_order = EpochBatches(self.epoch_batches)

    def _windows(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return windows(self.z, targets, self.look_back, self.transform.offset, self.model.config.horizon,
                       self.model.dtype)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.train_targets)
        return [order[k:k + self.batch_size] for k in range(0, len(order), self.batch_size)]

    def train_step(self, targets: np.ndarray) -> tuple[float, int]:
        return mse_step(self.model, *self._windows(targets)), len(targets)

    def evaluate(self) -> dict[str, float]:
        """Mean squared error of the scaled validation windows."""
        inputs, expected = self._windows(self.val_targets)
        self.model.eval()
        loss, _ = mse_loss(self.model(inputs), expected)
        self.model.train()
        return {"val_loss": float(loss)}
