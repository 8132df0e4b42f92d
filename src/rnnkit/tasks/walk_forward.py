"""Walk-forward updating (``walk_forward``; the rolling refit of forecasting practice) lets
the model go on learning while it forecasts one step ahead. For the targets t in order:

    x_hat_t = the model's forecast from the values before t      (x_t and later are not read)
    x_t becomes known: N updates on mini-batches of the windows whose targets are all <= t

with the optimizer settings that trained the model (Adam's moments start afresh at the
first target, then carry on from point to point) and the transform fitted on the training
part, never refitted. N = 0 is the frozen model of ``forecast``. An ensemble walks each
member forward on its own and averages their forecasts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.models.forecaster import Forecaster
from rnnkit.optim import Optimizer
from rnnkit.tasks.series import SeriesTransform, forecast, mse_step, trainable_targets, windows
from rnnkit.training.config import TrainConfig, make_optimizer
from rnnkit.training.loop import TrainingDiverged, update


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
        inputs, expected = windows(z, batch, look_back, offset, horizon, model.dtype)
        try:
            update(model, optimizer, walk.config, lambda: (mse_step(model, inputs, expected), len(batch)))
        except TrainingDiverged as error:
            raise TrainingDiverged(f"walk-forward updating diverged: {error}; walk forward with fewer "
                                   "updates, or train with a lower `lr`") from None
