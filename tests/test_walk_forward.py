"""Walk-forward updating of one-step forecasts (``rnnkit.tasks.walk_forward``): no look-ahead, N = 0 is the
frozen model, members walk on their own with their training run's settings, evaluate walks under a key of
its own. (``forecast eval --walk-forward N`` is tested in test_cli_forecast.py.)"""

import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.optim import Adam
from rnnkit.tasks import forecasting
from rnnkit.tasks.forecasting import Member, SeriesSource, method_forecasts
from rnnkit.tasks.series import SeriesTransform, forecast
from rnnkit.tasks.walk_forward import WalkForward, copy_model, learn, walk_forward
from rnnkit.training.config import TrainConfig
from rnnkit.training.loop import TrainingDiverged
from tiny_forecasts import is_png, results, tiny_config, tiny_spec, write_series

MONTHS = np.arange(72)
SERIES = 100 + 2 * MONTHS + 15 * np.sin(2 * np.pi * MONTHS / 12) + np.random.default_rng(0).normal(0, 3, 72)
TARGETS = np.arange(48, 72)
LOOK_BACK = 4


def tiny_model(horizon=1, dtype=np.float64):
    model = Forecaster(ForecasterConfig(hidden_size=4, horizon=horizon), dtype=dtype, rng=0)
    transform = SeriesTransform(difference=True, seasonal_lag=12).fit(SERIES[:48])
    return model, transform


def walk(updates, batch_size=8):
    return WalkForward(updates, TrainConfig(lr=0.01), batch_size)


@pytest.mark.parametrize("horizon", [1, 2])
def test_the_forecast_of_x_t_never_depends_on_x_t_or_later(horizon):
    model, transform = tiny_model(horizon)
    every_window = walk(3, batch_size=100)                         # so that any window read would show
    walked = walk_forward(model, transform, SERIES, TARGETS, LOOK_BACK, every_window)
    for t in (48, 49, 55, 71):                                     # garble x_t and everything after it
        garbled = SERIES.copy()
        garbled[t:] = np.random.default_rng(t).uniform(-1e3, 1e3, len(SERIES) - t)
        again = walk_forward(model, transform, garbled, TARGETS, LOOK_BACK, every_window)
        known = TARGETS <= t
        np.testing.assert_array_equal(again[known], walked[known])  # bit for bit, x_t's own forecast included
        if t < 71:
            assert not np.any(again[~known] == walked[~known])      # while the values after t do reach later ones


def test_no_updates_is_the_frozen_model_and_updates_change_the_forecasts():
    model, transform = tiny_model()
    before = model.state_dict()
    frozen = forecast(model, transform, SERIES, TARGETS, LOOK_BACK)
    np.testing.assert_array_equal(walk_forward(model, transform, SERIES, TARGETS, LOOK_BACK, walk(0)), frozen)
    walked = walk_forward(model, transform, SERIES, TARGETS, LOOK_BACK, walk(5))
    assert walked[0] == pytest.approx(frozen[0], rel=1e-12)        # nothing learned before the first target
    assert np.all(walked[1:] != frozen[1:])
    for name, value in model.state_dict().items():                 # a copy walked; the model is as it was
        np.testing.assert_array_equal(value, before[name])


def test_walking_forward_learns_a_level_shift_the_frozen_model_never_saw():
    season = 100 + 15 * np.sin(2 * np.pi * MONTHS / 12)
    model = Forecaster(ForecasterConfig(hidden_size=4), dtype=np.float64, rng=0)
    transform = SeriesTransform().fit(season[:48])                 # no differencing: the level matters
    learn(model, Adam(model, lr=0.01), transform, season[:48], LOOK_BACK, walk(150),    # trained on 4 years
          np.random.default_rng(0))
    shifted = season + 20 * (MONTHS >= 48)                          # the level jumps after training
    frozen = forecast(model, transform, shifted, TARGETS, LOOK_BACK)
    walked = walk_forward(model, transform, shifted, TARGETS, LOOK_BACK, walk(20))
    second_year = TARGETS >= 60
    errors = [np.sqrt(np.mean((f - shifted[TARGETS])[second_year] ** 2)) for f in (frozen, walked)]
    assert errors[1] < 0.6 * errors[0]                              # 3.4 against 7.8


def test_targets_must_increase():
    model, transform = tiny_model()
    with pytest.raises(ConfigError, match="increasing order"):
        walk_forward(model, transform, SERIES, TARGETS[::-1], LOOK_BACK, walk(1))


def test_copy_model_is_a_new_model_with_the_same_values():
    model, _ = tiny_model()
    copy = copy_model(model)
    assert copy is not model and copy.config == model.config and copy.dtype == model.dtype
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(copy.state_dict()[name], value)
        assert copy.state_dict()[name] is not value


def test_a_diverging_walk_says_what_to_do():
    model, transform = tiny_model()
    garbled = SERIES.copy()
    garbled[48] = np.nan                                           # a NaN loss once x_48 is known
    with pytest.raises(TrainingDiverged, match="walk-forward updating diverged: .*fewer updates, or train with a "
                                               "lower `lr`"):
        walk_forward(model, transform, garbled, TARGETS, LOOK_BACK, walk(1, batch_size=100))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs (seeds 0 and 1) on a 72-month series whose test part is months 48-71."""
    root = tmp_path_factory.mktemp("walk")
    data, _ = write_series(root / "data")
    paths = [root / f"seed-{seed}" for seed in (0, 1)]
    for seed, path in enumerate(paths):
        forecasting.train(tiny_spec(SeriesSource.built_in("airline-passengers", data)), tiny_config(seed=seed), path,
                          progress=False, echo=lambda _: None)
    return paths, data


def test_an_ensemble_walks_each_member_on_its_own_and_averages(runs):
    paths, _ = runs
    members, _ = forecasting.load_members(paths, "best")
    assert all(isinstance(member, Member) for member in members)
    forecasts = method_forecasts(members, SERIES, TARGETS, 12, labels=["a", "b"], walk=2)
    for label, member in zip("ab", members):
        alone = walk_forward(member.model, member.transform, SERIES, TARGETS, member.look_back,
                             WalkForward(2, member.config, member.batch_size))
        np.testing.assert_array_equal(forecasts[label], alone)
    np.testing.assert_array_equal(forecasts["lstm ensemble"], (forecasts["a"] + forecasts["b"]) / 2)
    member = members[1]                                            # the training run's own settings
    assert (member.config.seed, member.config.lr, member.batch_size) == (1, 3e-3, 8)


def test_evaluate_walks_forward_under_a_key_of_its_own(runs):
    paths, _ = runs
    members, spec = forecasting.load_members(paths[:1])
    frozen_scores = forecasting.evaluate(members, spec, paths[0], walk=0)
    walked_scores = forecasting.evaluate(members, spec, paths[0], walk=3)
    assert "walking forward" not in frozen_scores.title
    assert walked_scores.title == "airline-passengers: 24 test points, 1-step-ahead forecasts, walking forward 3 " \
                                  "updates per point"
    saved = results(paths[0])
    frozen, walked = saved["airline-passengers-1-step"], saved["airline-passengers-1-step-walk-forward-3"]
    assert (frozen, walked) == (frozen_scores.table, walked_scores.table)
    assert walked["lstm"] != frozen["lstm"] and walked["seasonal naive"] == frozen["seasonal naive"]
    assert is_png(paths[0] / "forecast-1-walk-forward-3.png")


def test_walk_forward_is_one_step_only(runs):
    paths, _ = runs
    members, spec = forecasting.load_members(paths[:1])
    with pytest.raises(ConfigError, match="one-step forecasts only, not 2-step ones: use `steps` 1 or "
                                          "`walk_forward` 0"):
        forecasting.evaluate(members, spec, paths[0], steps=2, walk=1)
