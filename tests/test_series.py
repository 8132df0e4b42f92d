"""The arithmetic of forecasting (``rnnkit.tasks.series``): the transform and its inverse, splits,
windows, forecasts in the series' own units, the baselines, and the training task."""

import numpy as np
import pytest

from rnnkit.data.timeseries import load_series
from rnnkit.errors import ConfigError, DataError
from rnnkit.optim import Adam
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.tasks.series import (ForecastingTask, SeriesSplit, SeriesTransform, baseline_forecasts, error_table,
                                 forecast, forecast_future, window_inputs, window_targets)

MONTHS = np.arange(72)
SERIES = 100 + 2 * MONTHS + 10 * np.sin(2 * np.pi * MONTHS / 12)      # trend + yearly season, all positive


class Oracle:
    """A stand-in model that predicts the scaled value it is told, to test the plumbing exactly."""

    def __init__(self, z_next, horizon=1):
        self.z_next, self.dtype = z_next, np.float64
        self.config = ForecasterConfig(horizon=horizon)

    def __call__(self, x):
        return np.tile(self.z_next, (x.shape[1], self.config.horizon))

    def eval(self):
        return self

    def train(self):
        return self


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("difference,seasonal_lag", [(False, 0), (True, 0), (False, 12), (True, 12)])
def test_transform_then_next_values_recovers_the_series(log, difference, seasonal_lag):
    transform = SeriesTransform(log=log, difference=difference, seasonal_lag=seasonal_lag).fit(SERIES[:48])
    z = transform.transform(SERIES)
    offset = transform.offset
    targets = np.arange(offset + 5, 72)
    history = np.vstack([SERIES[targets - k] for k in range(max(offset, 1), 0, -1)])   # (offset, N) before t
    recovered = transform.next_values(history, z[targets - offset])
    np.testing.assert_allclose(recovered, SERIES[targets], rtol=1e-12)


def test_scaler_is_fitted_on_the_training_part_only():
    transform = SeriesTransform(scaler="minmax").fit(SERIES[:48])
    z = transform.transform(SERIES)
    assert z[:48].min() == 0 and z[:48].max() == 1 and z[48:].max() > 1


def test_windows_read_the_look_back_values_before_each_target():
    z = np.arange(30.0)
    inputs = window_inputs(z, np.array([10, 20]), look_back=3, offset=2)
    assert inputs.shape == (3, 2, 1) and inputs[:, 0, 0].tolist() == [5, 6, 7]
    assert window_targets(z, np.array([10]), horizon=2, offset=2).tolist() == [[8, 9]]


def test_zero_change_forecast_with_seasonal_differencing_is_the_seasonal_naive_one():
    transform = SeriesTransform(seasonal_lag=12).fit(SERIES[:48])
    no_change = transform._scaler.transform(0.0)                    # the z of x_t - x_{t-12} = 0
    targets = np.arange(48, 72)
    predicted = forecast(Oracle(no_change), transform, SERIES, targets, look_back=6)
    np.testing.assert_allclose(predicted, baseline_forecasts(SERIES, targets, 12)["seasonal naive"])


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_multi_step_forecasts_of_a_linear_trend_are_exact(strategy):
    line = 5.0 + 3.0 * np.arange(40)
    transform = SeriesTransform(difference=True).fit(line[:30] + np.arange(30) % 2)   # any fitted scale
    step = transform._scaler.transform(3.0)                          # z of a difference of 3
    targets = np.arange(30, 40)
    predicted = forecast(Oracle(step, horizon=3), transform, line, targets, look_back=4, steps=3, strategy=strategy)
    np.testing.assert_allclose(predicted, line[targets])


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_future_forecasts_continue_the_series_after_its_end(strategy):
    line = 5.0 + 3.0 * np.arange(40)
    transform = SeriesTransform(difference=True).fit(line[:30] + np.arange(30) % 2)
    step = transform._scaler.transform(3.0)
    future = forecast_future(Oracle(step, horizon=3), transform, line[:30], look_back=4, steps=3, strategy=strategy)
    np.testing.assert_allclose(future, line[30:33])


class CountingModel:
    """A small real forecaster whose calls are counted."""

    def __init__(self, horizon=1):
        self.model = Forecaster(ForecasterConfig(hidden_size=4, horizon=horizon), dtype="float64", rng=0)
        self.config, self.dtype, self.calls = self.model.config, self.model.dtype, 0

    def __call__(self, x):
        self.calls += 1
        return self.model(x)

    def eval(self):
        self.model.eval()
        return self

    def train(self):
        self.model.train()
        return self


@pytest.mark.parametrize("strategy, horizon", [("recursive", 1), ("direct", 5)])
def test_future_forecasts_are_the_per_horizon_forecasts_in_one_linear_pass(strategy, horizon):
    transform = SeriesTransform(log=True, difference=True, seasonal_lag=12).fit(SERIES[:48])
    model = CountingModel(horizon)
    future = forecast_future(model, transform, SERIES, look_back=6, steps=5, strategy=strategy)
    assert model.calls == (5 if strategy == "recursive" else 1)         # one call per step, not one per step pair
    padded = np.append(SERIES, np.zeros(5))                              # what the quadratic definition read
    each = [forecast(model, transform, padded[:len(SERIES) + h], np.array([len(SERIES) + h - 1]), 6, h, strategy)[0]
            for h in range(1, 6)]
    np.testing.assert_array_equal(future, each)                          # the same numbers, bit for bit


def test_a_long_future_costs_one_model_call_per_step_and_reports_progress():
    transform = SeriesTransform(difference=True).fit(SERIES[:48])
    model, reported = CountingModel(), []
    forecast_future(model, transform, SERIES, look_back=6, steps=3000, strategy="recursive",
                    progress=lambda done, total: reported.append((done, total)))
    assert model.calls == 3000 and reported[-1] == (3000, 3000) and len(reported) == 3000


def test_direct_forecast_beyond_the_horizon_is_a_config_error():
    transform = SeriesTransform().fit(SERIES[:48])
    with pytest.raises(ConfigError, match="direct forecast reaches 1 steps .*: use the recursive `strategy` or "
                                          "train with `horizon` 2"):
        forecast(Oracle(0.0), transform, SERIES, np.arange(48, 72), 6, steps=2, strategy="direct")


def test_baselines_at_longer_horizons_use_older_values():
    targets = np.arange(24, 30)
    baselines = baseline_forecasts(SERIES, targets, period=12, steps=13)
    np.testing.assert_array_equal(baselines["persistence"], SERIES[targets - 13])
    np.testing.assert_array_equal(baselines["seasonal naive"], SERIES[targets - 24])


def test_training_lowers_the_validation_error():
    model = Forecaster(ForecasterConfig(hidden_size=8), dtype=np.float64, rng=0)
    transform = SeriesTransform(difference=True).fit(SERIES[:48])
    task = ForecastingTask(model, transform, SERIES, SeriesSplit(72, 0.67), look_back=12, batch_size=8)
    before = task.evaluate()["val_loss"]
    optimizer = Adam(model, lr=0.01)
    for _ in range(30):
        for batch in task.batches():
            model.zero_grad()
            task.train_step(batch)
            optimizer.step()
    assert task.evaluate()["val_loss"] < 0.2 * before


def test_a_too_short_training_part_is_a_data_error():
    model = Forecaster(ForecasterConfig(), rng=0)
    transform = SeriesTransform(difference=True, seasonal_lag=12).fit(SERIES[:24])
    with pytest.raises(DataError, match="leave no training or validation window .*: use a shorter `look_back` or "
                                        "`horizon`, or a larger `val_fraction`"):
        ForecastingTask(model, transform, SERIES[:36], SeriesSplit(36, 0.67), look_back=12, batch_size=8)


def test_log_of_a_non_positive_series_is_a_data_error():
    with pytest.raises(DataError, match="`log` needs a positive series"):
        SeriesTransform(log=True).fit(np.array([1.0, 0.0, 2.0]))


def test_baselines_on_airline_passengers_match_the_reference(data_dir):
    series = load_series("airline-passengers", data_dir / "time_series")
    split = SeriesSplit(len(series.values), 0.67)
    table = error_table(series.values[split.test_targets],
                        baseline_forecasts(series.values, split.test_targets, series.period))
    assert table["persistence"]["rmse"] == pytest.approx(48.04, abs=0.01)
    assert table["seasonal naive"]["rmse"] == pytest.approx(41.85, abs=0.01)


def test_the_split_parts_tile_the_series_in_order():
    split = SeriesSplit(108, 0.67, val_fraction=0.25)
    assert split.train_end == 72 and split.val_start == 54
    assert split.val_targets.tolist() == list(range(54, 72))
    assert split.test_targets.tolist() == list(range(72, 108))


def test_a_refit_trains_on_the_validation_windows_too_and_never_reads_the_test_part():
    split = SeriesSplit(72, 0.67, val_fraction=0.25)                 # train 0..35, validation 36..47, test 48..
    transform = SeriesTransform(difference=True).fit(SERIES[:split.train_end])
    garbled = np.concatenate([SERIES[:split.train_end], np.full(72 - split.train_end, np.nan)])

    def task(refit):
        model = Forecaster(ForecasterConfig(hidden_size=4), dtype=np.float64, rng=0)
        return ForecastingTask(model, transform, garbled, split, look_back=6, batch_size=8, refit=refit)

    plain, refit = task(False), task(True)
    assert len(refit.train_targets) == len(plain.train_targets) + len(plain.val_targets)
    assert refit.train_targets.max() == split.train_end - 1                # the last training month, no test one
    losses = [refit.train_step(batch)[0] for batch in refit.batches()]     # NaN test values would show here
    assert np.all(np.isfinite(losses)) and np.isfinite(refit.evaluate()["val_loss"])
