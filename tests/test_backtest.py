"""Rolling-origin evaluation (``rnnkit forecast backtest``): folds, per-fold scaling, baselines, walking
forward inside each block, the CLI."""

import json

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.data.timeseries import StandardScaler, difference
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.forecasting import backtest_splits, backtest_summary, check_backtest, split_windows

# A tiny model on a 72-month series: train_end 48, folds at 36 and 42, a few updates each.
TINY = ["--hidden", "3", "--look-back", "4", "--epochs", "2", "--eval-every", "2", "--batch", "8",
        "--val-fraction", "0.25", "--no-progress"]
FOLDS = ["--folds", "2", "--block", "6"]


def write_series(root, test_values=None):
    """Six years of a monthly series under the airline file's name; ``test_values`` replaces its last third."""
    folder = root / "time_series"
    folder.mkdir(parents=True)
    months = np.arange(72)
    values = (100 + 2 * months + 15 * np.sin(2 * np.pi * months / 12)).round()
    text = [f"{v:.0f}" for v in values]
    if test_values is not None:
        text[48:] = [test_values] * 24                                       # int(72 * 0.67) = 48 train
    rows = [f'"{1949 + m // 12}-{m % 12 + 1:02d}",{v}' for m, v in zip(months, text)]
    (folder / "airline-passengers.csv").write_text('"Month","Passengers"\n' + "\n".join(rows) + "\n")
    return root, values


def backtest(data, out, *options):
    return main(["forecast", "backtest", "--data-dir", str(data), "--out", str(out), *FOLDS, *TINY, *options])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("backtest")
    data, values = write_series(root / "data")
    assert backtest(data, root / "out", "--seeds", "2") == 0
    return root / "out", values


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
                                          "has 48: use fewer --folds or a shorter --block"):
        backtest_splits(48, folds=4, block=12, val_fraction=0.25)
    splits = backtest_splits(72, folds=4, block=6, val_fraction=0.25)
    with pytest.raises(DataError, match="backtest fold 1 of 4 trains on the first 48 values only: .* "
                                        "or use fewer --folds or a shorter --block"):
        check_backtest(splits, look_back=24, offset=12, horizon=1, period=12)
    check_backtest(splits, look_back=12, offset=12, horizon=1, period=12)    # the default layout fits
    with pytest.raises(DataError, match="less than one season"):
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
    out, values = run
    summary = json.loads((out / "results.json").read_text())["airline-passengers-backtest"]
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


def test_each_fold_fits_its_scaler_on_its_own_values_and_can_be_evaluated_again(run, capsys):
    from rnnkit.training.checkpoint import load_checkpoint

    out, values = run
    for number, origin in ((1, 36), (2, 42)):
        _, meta = load_checkpoint(out / f"fold-{number}" / "seed-0", "best")
        expected = StandardScaler().fit(difference(difference(values[:origin], 12), 1))
        assert json.loads(meta["transform"]["scaler_state"]) == json.loads(expected.to_json())
        assert meta["data"]["backtest"] == {"fold": number, "origin": origin, "end": origin + 6}
    summary = json.loads((out / "results.json").read_text())["airline-passengers-backtest"]
    capsys.readouterr()
    assert main(["forecast", "eval", str(out / "fold-2" / "seed-0"), "--out", str(out / "again")]) == 0
    assert "6 test points" in capsys.readouterr().out                         # the fold's block, not the test part
    again = json.loads((out / "again" / "results.json").read_text())["airline-passengers-1-step"]
    assert again["lstm"]["rmse"] == pytest.approx(summary["folds"][1]["errors"]["lstm seed 0"]["rmse"])


def test_the_test_part_is_never_read(run, tmp_path):
    out, _ = run
    data, _ = write_series(tmp_path / "data", test_values="nan")              # every test month garbled
    assert backtest(data, tmp_path / "out", "--seeds", "2") == 0
    garbled = json.loads((tmp_path / "out" / "results.json").read_text())["airline-passengers-backtest"]
    original = json.loads((out / "results.json").read_text())["airline-passengers-backtest"]
    assert garbled == original


def test_walking_forward_each_fold_stays_inside_its_block_and_the_training_part(run, tmp_path):
    from rnnkit.cli.forecast import load_ensemble, walk_settings
    from rnnkit.tasks.forecasting import walk_forward

    data, values = write_series(tmp_path / "data")
    assert backtest(data, tmp_path / "walked", "--walk-forward", "2") == 0
    summary = json.loads((tmp_path / "walked" / "results.json").read_text())["airline-passengers-backtest"]
    assert summary["setup"]["walk_forward"] == 2
    frozen = json.loads((run[0] / "results.json").read_text())["airline-passengers-backtest"]
    assert summary["folds"][0]["errors"]["lstm"] != frozen["folds"][0]["errors"]["lstm seed 0"]
    for fold in summary["folds"]:                    # the same walk with every value after the block garbled
        (member,), _ = load_ensemble([tmp_path / "walked" / f"fold-{fold['fold']}" / "seed-0"], "best")
        garbled = values.copy()
        garbled[fold["end"]:] = np.nan
        targets = np.arange(fold["origin"], fold["end"])
        walked = walk_forward(member.model, member.transform, garbled, targets, member.look_back,
                              walk_settings(member.meta, 2))
        assert np.sqrt(np.mean((walked - values[targets]) ** 2)) == pytest.approx(fold["errors"]["lstm"]["rmse"],
                                                                                  rel=1e-12)
    data, _ = write_series(tmp_path / "garbled", test_values="nan")          # every test month garbled
    assert backtest(data, tmp_path / "garbled-out", "--walk-forward", "2") == 0
    garbled = json.loads((tmp_path / "garbled-out" / "results.json").read_text())["airline-passengers-backtest"]
    assert garbled == summary


def test_impossible_settings_and_resume_are_one_line_errors(run, tmp_path, capsys):
    data = tmp_path / "data"
    write_series(data)
    assert backtest(data, tmp_path / "a", "--folds", "8") == 2                 # 8 x 6 = 48 points: no fold left
    assert capsys.readouterr().err.strip().endswith("use fewer --folds or a shorter --block")
    assert backtest(data, tmp_path / "b", "--look-back", "20") == 2            # fold 1 has 36 values only
    error = capsys.readouterr().err.strip()
    assert "backtest fold 1 of 2" in error and len(error.splitlines()) == 1
    assert backtest(data, tmp_path / "c", "--resume", str(run[0])) == 2
    assert "cannot --resume" in capsys.readouterr().err
    assert backtest(data, run[0]) == 2                                         # OUT already holds a backtest
    assert "already holds a backtest" in capsys.readouterr().err


def test_help_explains_the_folds(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["forecast", "backtest", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--folds" in out and "--block" in out and "test part is never read" in out
    assert "--walk-forward" in out and "never beyond the block" in out
