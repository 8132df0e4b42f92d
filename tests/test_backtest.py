"""Rolling-origin evaluation (``rnnkit.tasks.backtest``): folds, per-fold scaling, baselines, walking
forward inside each block, through the Python API. (``forecast backtest`` is tested in test_cli_backtest.py.)"""

import json

import numpy as np
import pytest

from rnnkit.data.timeseries import StandardScaler, difference
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks import backtest as backtests
from rnnkit.tasks import forecasting
from rnnkit.tasks.backtest import Backtest, backtest_splits, backtest_summary, check_backtest, summary_scores
from rnnkit.tasks.forecasting import SeriesSource
from rnnkit.tasks.series import split_windows
from rnnkit.tasks.walk_forward import WalkForward, walk_forward
from tiny_forecasts import results, tiny_config, tiny_spec, write_series

# TINY on a 72-month series: train_end 48, folds at 36 and 42, a few updates each.
FOLDS = {"folds": 2, "block": 6}


def quiet(_):
    """An ``echo`` that says nothing."""


def backtest(data, out, report=quiet, config=None, **options):
    """A backtest of TINY runs, 2 folds of 6, on the airline look-alike in ``data``; its summary."""
    spec_options = {key: options.pop(key) for key in list(options) if key in ("look_back",)}
    spec = tiny_spec(SeriesSource.built_in("airline-passengers", data), **spec_options)
    return backtests.run_backtest(spec, config or tiny_config(), out, Backtest(**{**FOLDS, **options}),
                                  progress=False, echo=quiet, report=report)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("backtest")
    data, values = write_series(root / "data")
    reports = []
    summary = backtest(data, root / "out", reports.append, seeds=2)
    return root / "out", values, summary, reports


def test_folds_tile_the_end_of_the_training_part_and_never_reach_past_it():
    splits = backtest_splits(72, folds=4, block=6, val_fraction=0.25)
    assert [s.train_end for s in splits] == [48, 54, 60, 66]                 # the forecast origins
    assert [s.test_targets.tolist() for s in splits] == [list(range(o, o + 6)) for o in (48, 54, 60, 66)]
    assert [s.val_start for s in splits] == [36, 40, 45, 50]      # the last round(0.25 o) values (16.5 -> 16)
    assert max(s.test_targets.max() for s in splits) == 71                    # the last training month
    for s in splits:                                                          # a fold trains only before its block
        train, val = split_windows(s, look_back=12, offset=12, horizon=1)
        assert train.max() < s.val_start <= val.min() and val.max() < s.train_end == s.test_targets.min()


def test_too_many_folds_or_too_early_a_first_fold_are_clear_errors():
    with pytest.raises(ConfigError, match="4 folds of 12 points need more than 48 values, but the training part "
                                          "has 48: use fewer `folds` or a shorter `block`"):
        backtest_splits(48, folds=4, block=12, val_fraction=0.25)
    with pytest.raises(ConfigError, match="at least one fold of at least one point, got 0 of 6"):
        backtest_splits(48, folds=0, block=6, val_fraction=0.25)
    splits = backtest_splits(72, folds=4, block=6, val_fraction=0.25)
    with pytest.raises(DataError, match="backtest fold 1 of 4 trains on the first 48 values only: .* "
                                        "or use fewer `folds` or a shorter `block`"):
        check_backtest(splits, look_back=24, offset=12, horizon=1, period=12)
    check_backtest(splits, look_back=12, offset=12, horizon=1, period=12)    # the default layout fits
    with pytest.raises(DataError, match="less than one season .*: use fewer `folds` or a shorter `block`"):
        check_backtest(backtest_splits(20, 3, 5, 0.25), look_back=1, offset=0, horizon=1, period=12)


def test_summary_means_the_fold_errors_and_pools_the_points():
    splits = backtest_splits(10, folds=2, block=2, val_fraction=0.25)
    values = np.arange(10.0)
    forecasts = [{"m": values[s.test_targets] + shift} for s, shift in zip(splits, (1.0, 3.0))]
    summary = backtest_summary(splits, values, forecasts)
    assert [(f["origin"], f["end"]) for f in summary["folds"]] == [(6, 8), (8, 10)]
    assert summary["mean"]["m"] == {"rmse": 2.0, "mae": 2.0}
    assert summary["all"]["m"]["rmse"] == pytest.approx(np.sqrt(5.0)) and summary["all"]["m"]["mae"] == 2.0


def test_backtest_writes_every_fold_with_baselines_on_the_same_points(run):
    out, values, returned, _ = run
    summary = results(out)["airline-passengers-backtest"]
    assert summary == json.loads(json.dumps(returned))                        # what run_backtest returns
    assert summary["setup"] == {"folds": 2, "block": 6, "seeds": [0, 1], "train_end": 48, "walk_forward": 0}
    assert [(f["origin"], f["end"]) for f in summary["folds"]] == [(36, 42), (42, 48)]
    methods = {"lstm ensemble", "lstm seed 0", "lstm seed 1", "persistence", "seasonal naive"}
    for fold in summary["folds"]:
        targets = np.arange(fold["origin"], fold["end"])
        assert set(fold["errors"]) == methods
        for name, lag in (("persistence", 1), ("seasonal naive", 12)):
            error = values[targets] - values[targets - lag]
            assert fold["errors"][name]["rmse"] == pytest.approx(np.sqrt(np.mean(error ** 2)))
            assert fold["errors"][name]["mae"] == pytest.approx(np.mean(np.abs(error)))
    assert set(summary["mean"]) == set(summary["all"]) == methods
    assert summary["mean"]["persistence"]["rmse"] == pytest.approx(
        np.mean([f["errors"]["persistence"]["rmse"] for f in summary["folds"]]))
    for fold, seed in ((1, 0), (1, 1), (2, 0), (2, 1)):                        # a run directory per fold and seed
        assert (out / f"fold-{fold}" / f"seed-{seed}" / "checkpoints").is_dir()


def test_each_fold_is_reported_as_it_finishes_and_the_summary_titles_its_tables(run):
    _, _, summary, reports = run
    assert [report.splitlines()[0] for report in reports] == ["fold 1: trained on values 0-35, scored on 36-41",
                                                              "fold 2: trained on values 0-41, scored on 42-47"]
    assert all("lstm ensemble" in report and "seasonal naive" in report for report in reports)
    mean, pooled = summary_scores(summary, "airline-passengers")
    assert mean.title == "airline-passengers: backtest, mean over 2 folds of 6 one-step forecasts"
    assert pooled.title == "airline-passengers: backtest, all 12 points together"
    assert (mean.table, pooled.table) == (summary["mean"], summary["all"])
    walked = dict(summary, setup=dict(summary["setup"], walk_forward=2))
    assert summary_scores(walked, "x")[0].title.endswith(", walking forward 2 updates per point")


def test_each_fold_fits_its_scaler_on_its_own_values_and_can_be_evaluated_again(run):
    out, values, summary, _ = run
    for number, origin in ((1, 36), (2, 42)):
        spec = forecasting.load_run(out / f"fold-{number}" / "seed-0").spec
        expected = StandardScaler().fit(difference(difference(values[:origin], 12), 1))
        assert json.loads(spec.transform.scaler_state) == json.loads(expected.to_json())
        assert spec.fold == {"fold": number, "origin": origin, "end": origin + 6}
    members, spec = forecasting.load_members([out / "fold-2" / "seed-0"])
    scores = forecasting.evaluate(members, spec, out / "again")
    assert "6 test points" in scores.title                                    # the fold's block, not the test part
    again = results(out / "again")["airline-passengers-1-step"]
    assert again["lstm"]["rmse"] == pytest.approx(summary["folds"][1]["errors"]["lstm seed 0"]["rmse"])


def test_runs_of_different_folds_are_no_ensemble(run):
    out = run[0]
    with pytest.raises(ConfigError, match="differ in backtest fold"):
        forecasting.load_members([out / "fold-1" / "seed-0", out / "fold-2" / "seed-0"])


def test_the_test_part_is_never_read(run, tmp_path):
    data, _ = write_series(tmp_path / "data", test_values="1e9")              # every test month garbled
    garbled = backtest(data, tmp_path / "out", seeds=2)
    assert garbled == run[2]
    assert results(tmp_path / "out") == results(run[0])


def test_walking_forward_each_fold_stays_inside_its_block_and_the_training_part(run, tmp_path):
    data, values = write_series(tmp_path / "data")
    summary = backtest(data, tmp_path / "walked", walk_forward=2)
    assert summary["setup"]["walk_forward"] == 2
    frozen = run[2]
    assert summary["folds"][0]["errors"]["lstm"] != frozen["folds"][0]["errors"]["lstm seed 0"]
    for fold in summary["folds"]:                    # the same walk with every value after the block garbled
        (member,), _ = forecasting.load_members([tmp_path / "walked" / f"fold-{fold['fold']}" / "seed-0"], "best")
        garbled = values.copy()
        garbled[fold["end"]:] = np.nan
        targets = np.arange(fold["origin"], fold["end"])
        walked = walk_forward(member.model, member.transform, garbled, targets, member.look_back,
                              WalkForward(2, member.config, member.batch_size))
        assert np.sqrt(np.mean((walked - values[targets]) ** 2)) == pytest.approx(fold["errors"]["lstm"]["rmse"],
                                                                                  rel=1e-12)
    data, _ = write_series(tmp_path / "garbled", test_values="1e9")          # every test month garbled
    assert backtest(data, tmp_path / "garbled-out", walk_forward=2) == summary


def test_impossible_settings_are_clear_errors_before_any_training(run, tmp_path):
    data, _ = write_series(tmp_path / "data")
    with pytest.raises(ConfigError, match="use fewer `folds` or a shorter `block`$"):
        backtest(data, tmp_path / "a", folds=8)                                # 8 x 6 = 48 points: no fold left
    with pytest.raises(DataError, match="backtest fold 1 of 2"):
        backtest(data, tmp_path / "b", look_back=20)                           # fold 1 has 36 values only
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(ConfigError, match="already holds a backtest"):
        backtest(data, run[0])                                                 # OUT already holds a backtest


class PressedCtrlC:
    """A Ctrl-C that was pressed before the first update (in place of ``rnnkit.training.loop._CtrlC``)."""

    pressed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def test_an_interrupted_backtest_stops_and_never_advises_a_resume_it_cannot_do(tmp_path, monkeypatch):
    data, _ = write_series(tmp_path / "data")
    monkeypatch.setattr("rnnkit.training.loop._CtrlC", PressedCtrlC)
    said = []
    spec = tiny_spec(SeriesSource.built_in("airline-passengers", data))
    with pytest.raises(KeyboardInterrupt):
        backtests.run_backtest(spec, tiny_config(), tmp_path / "out", Backtest(**FOLDS), progress=False,
                               echo=said.append, report=quiet)
    interrupted = [line for line in said if line.startswith("interrupted")]
    assert interrupted == ["interrupted at step 1"]
    assert not any("resume" in line for line in said)


def test_an_interrupted_refit_does_not_advise_resuming_either(tmp_path, monkeypatch):
    data, _ = write_series(tmp_path / "data")
    monkeypatch.setattr("rnnkit.training.loop._CtrlC", PressedCtrlC)
    said = []
    with pytest.raises(KeyboardInterrupt):
        forecasting.train(tiny_spec(SeriesSource.built_in("airline-passengers", data)), tiny_config(),
                          tmp_path / "run", refit=True, progress=False, echo=said.append)
    assert [line for line in said if line.startswith("interrupted")] and not any("resume" in line for line in said)
