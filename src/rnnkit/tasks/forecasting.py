"""Time-series forecasting as a training task, and forecasts in the series' own units.

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

Backtesting (rolling-origin evaluation, Hyndman's time-series cross-validation) compares
settings on more than one block, inside the training part only. With n training values,
K folds and blocks of b points, fold k = 1 .. K has the forecast origin

    o_k = n - (K - k + 1) b           (so the last block ends at n)

and is a run of its own on the values [0, o_k): transform fitted on them, early stopping
on their last ``val_fraction``; its one-step forecasts are scored on [o_k, o_k + b), the
baselines on the very same points. ``backtest_splits`` gives the folds as ``SeriesSplit``s
whose "test part" is the block.

Walk-forward updating (``walk_forward``; the rolling refit of forecasting practice) lets
the model go on learning while it forecasts one step ahead. For the targets t in order:

    x_hat_t = the model's forecast from the values before t      (x_t and later are not read)
    x_t becomes known: N updates on mini-batches of the windows whose targets are all <= t

with the optimizer settings that trained the model (Adam's moments start afresh at the
first target, then carry on from point to point) and the transform fitted on the training
part, never refitted. N = 0 is the frozen model of ``forecast``. An ensemble walks each
member forward on its own and averages their forecasts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from rnnkit.data.timeseries import (MinMaxScaler, StandardScaler, difference, seasonal_naive_forecast,
                                    train_test_split_series)
from rnnkit.errors import CheckpointError, ConfigError, DataError
from rnnkit.losses import mse_loss
from rnnkit.metrics import mae, rmse
from rnnkit.models.forecaster import Forecaster
from rnnkit.optim import Optimizer
from rnnkit.tasks.epochs import EpochBatches, EpochTask
from rnnkit.training.config import TrainConfig, make_optimizer
from rnnkit.training.loop import TrainingDiverged, clip_gradients

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
            raise DataError("--log needs a positive series: it has values <= 0")
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
                        "use a shorter --look-back or --horizon, or a larger --val-fraction")
    return train_targets, val_targets


def backtest_splits(train_end: int, folds: int, block: int, val_fraction: float) -> list[SeriesSplit]:
    """The K folds of a backtest inside the first ``train_end`` values (see the module doc): fold k trains
    on [0, o_k) and is scored on [o_k, o_k + block); the last block ends at ``train_end``."""
    if folds < 1 or block < 1:
        raise ConfigError(f"a backtest needs at least one fold of at least one point, got {folds} of {block}")
    first = train_end - folds * block
    if first < 1:
        raise ConfigError(f"{folds} folds of {block} points need more than {folds * block} values, but the "
                          f"training part has {train_end}: use fewer --folds or a shorter --block")
    return [SeriesSplit(origin + block, val_fraction=val_fraction, train_end=origin)
            for origin in range(first, train_end, block)]


def check_backtest(splits: list[SeriesSplit], look_back: int, offset: int, horizon: int, period: int) -> None:
    """Every fold has training and validation windows, and every scored point a value one season before."""
    for number, split in enumerate(splits, start=1):
        where = f"backtest fold {number} of {len(splits)} trains on the first {split.train_end} values only"
        try:
            split_windows(split, look_back, offset, horizon)
        except DataError as error:
            raise DataError(f"{where}: {error}; or use fewer --folds or a shorter --block") from None
        if split.train_end < period:
            raise DataError(f"{where}, less than one season ({period}) before its first scored point, which "
                            "seasonal naive needs: use fewer --folds or a shorter --block")


def backtest_summary(splits: list[SeriesSplit], values: np.ndarray,
                     fold_forecasts: list[dict[str, np.ndarray]]) -> dict:
    """Each fold's errors, their mean over the folds, and the errors over all scored points together."""
    actual = [values[split.test_targets] for split in splits]
    folds = [{"fold": number, "origin": split.train_end, "end": split.length, "errors": error_table(a, f)}
             for number, (split, a, f) in enumerate(zip(splits, actual, fold_forecasts), start=1)]
    mean = {name: {metric: float(np.mean([fold["errors"][name][metric] for fold in folds]))
                   for metric in ("rmse", "mae")} for name in fold_forecasts[0]}
    pooled = {name: np.concatenate([f[name] for f in fold_forecasts]) for name in fold_forecasts[0]}
    return {"folds": folds, "mean": mean, "all": error_table(np.concatenate(actual), pooled)}


def forecast(model: Forecaster, transform: SeriesTransform, values: np.ndarray, targets: np.ndarray,
             look_back: int, steps: int = 1, strategy: str = "recursive") -> np.ndarray:
    """x_hat_t for each target t, forecast ``steps`` ahead from the actual values before t - steps + 1."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if strategy == "direct" and steps > model.config.horizon:
        raise ConfigError(f"a direct forecast reaches {model.config.horizon} steps (the model's horizon), "
                          f"not {steps}: use --strategy recursive or train with --horizon {steps}")
    context = look_back + transform.offset                     # past values one forecast needs
    origins = np.asarray(targets) - steps + 1
    if origins.min() < context:
        raise DataError(f"target {int(origins.min()) + steps - 1} has fewer than {context} values before its "
                        "forecast origin: use a shorter --look-back")
    values = np.asarray(values, dtype=np.float64)
    history = values[origins[None, :] - context + np.arange(context)[:, None]]      # (C, N)
    model.eval()
    if strategy == "direct":
        z_hat = _predict(model, transform, history, look_back)                      # (N, H)
        for h in range(steps):
            history = np.vstack([history, transform.next_values(history, z_hat[:, h])])
    else:
        for _ in range(steps):
            z_hat = _predict(model, transform, history[-context:], look_back)[:, 0]
            history = np.vstack([history, transform.next_values(history, z_hat)])
    model.train()
    return history[-1]


def forecast_future(model, transform, values, look_back: int, steps: int, strategy: str) -> np.ndarray:
    """The next ``steps`` values after the end of the series."""
    values = np.append(np.asarray(values, dtype=np.float64), np.zeros(steps))      # placeholders, never read
    end = len(values) - steps
    return np.array([forecast(model, transform, values[:end + h], np.array([end + h - 1]), look_back, h,
                              strategy)[0] for h in range(1, steps + 1)])


def _predict(model: Forecaster, transform: SeriesTransform, history: np.ndarray, look_back: int) -> np.ndarray:
    z = transform.transform(history)[-look_back:]                                  # (L, N)
    return model(z[:, :, None].astype(model.dtype)).astype(np.float64)


@dataclass
class WalkForward:
    """How a model learns while it forecasts (see the module doc): ``updates`` per known value, with the
    optimizer, learning rate, clipping, weight decay and seed of ``config`` and batches of ``batch_size``
    (a learning-rate schedule is not continued: the rate is ``config.lr``)."""

    updates: int
    config: TrainConfig
    batch_size: int


def walk_forward(model: Forecaster, transform: SeriesTransform, values: np.ndarray, targets: np.ndarray,
                 look_back: int, walk: WalkForward) -> np.ndarray:
    """One-step forecasts x_hat_t of ``targets`` (increasing), the model learning each x_t once it is known.

    x_hat_t is computed from ``values[:t]`` alone, then ``walk.updates`` updates on every window whose
    targets are all <= t. A copy of ``model`` walks; ``model`` itself is left as it is.
    """
    targets = np.asarray(targets)
    if walk.updates == 0:
        return forecast(model, transform, values, targets, look_back)
    if np.any(np.diff(targets) <= 0):
        raise ConfigError("walk-forward forecasts need their targets in increasing order")
    model, values = copy_model(model), np.asarray(values, dtype=np.float64)
    optimizer = make_optimizer(walk.config, model)             # fresh Adam moments at the first target
    forecasts = []
    for t in targets:
        forecasts.append(forecast(model, transform, values[:t], np.array([t]), look_back)[0])
        rng = np.random.default_rng([walk.config.seed, t])       # the batches depend on seed and t only
        learn(model, optimizer, transform, values[:t + 1], look_back, walk, rng)
    return np.array(forecasts)


def copy_model(model: Forecaster) -> Forecaster:
    """A new Forecaster with the same config, dtype and parameter values."""
    copy = Forecaster(model.config, model.dtype)
    copy.load_state_dict(model.state_dict())
    return copy


def learn(model: Forecaster, optimizer: Optimizer, transform: SeriesTransform, known: np.ndarray, look_back: int,
          walk: WalkForward, rng: np.random.Generator) -> None:
    """``walk.updates`` updates, each on ``walk.batch_size`` windows drawn (without replacement) from all
    the windows of ``known``."""
    offset, horizon = transform.offset, model.config.horizon
    z = transform.transform(known)
    candidates = trainable_targets(0, len(known), look_back, offset, horizon)
    model.set_rng(rng)                                        # dropout masks, if any
    for _ in range(walk.updates):
        batch = rng.choice(candidates, size=min(walk.batch_size, len(candidates)), replace=False)
        update(model, optimizer, *windows(z, batch, look_back, offset, horizon, model.dtype), walk.config)


def update(model: Forecaster, optimizer: Optimizer, inputs: np.ndarray, expected: np.ndarray,
           config: TrainConfig) -> float:
    """One update as the training loop makes it (``rnnkit.training.loop``): loss, backward, clip, step."""
    model.zero_grad()
    loss = mse_step(model, inputs, expected)
    norm = clip_gradients(model.grads, config)
    if not (math.isfinite(loss) and math.isfinite(norm)):
        raise TrainingDiverged(f"walk-forward updating diverged: loss {loss}, gradient norm {norm}; "
                               "walk forward with fewer updates, or train with a lower --lr")
    optimizer.step()
    return loss


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
