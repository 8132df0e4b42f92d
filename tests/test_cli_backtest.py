"""``rnnkit forecast backtest``: the flags reach ``rnnkit.tasks.backtest`` and its tables are printed;
impossible settings are one-line errors naming the flags; the help explains the folds."""

import contextlib
import io
import json

import pytest

from rnnkit.cli.main import main
from rnnkit.tasks import backtest as backtests
from rnnkit.tasks.backtest import Backtest
from rnnkit.tasks.forecasting import SeriesSource
from tiny_forecasts import FOLDS, TINY, results, tiny_config, tiny_spec, write_csv, write_series
from tiny_runs import one_line_error


def backtest(data, out, *options):
    return main(["forecast", "backtest", "--data-dir", str(data), "--out", str(out), *FOLDS, *TINY, *options])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A backtest with two seeds; OUT, the data directory, a folder for more, and what it printed."""
    root = tmp_path_factory.mktemp("cli-backtest")
    data, _ = write_series(root / "data")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert backtest(data, root / "out", "--seeds", "2") == 0
    return root / "out", data, root, (out.getvalue(), err.getvalue())


def test_backtest_prints_each_fold_then_the_summary_and_matches_the_library(run):
    out, data, root, (stdout, stderr) = run
    lines = stdout.splitlines()
    titles = [line for line in lines if line.startswith(("fold ", "airline-passengers: backtest"))]
    assert titles == ["fold 1: trained on values 0-35, scored on 36-41",
                      "fold 2: trained on values 0-41, scored on 42-47",
                      "airline-passengers: backtest, mean over 2 folds of 6 one-step forecasts",
                      "airline-passengers: backtest, all 12 points together"]
    assert sum(line.startswith("lstm ensemble") for line in lines) == 4
    assert f"run directory: {out / 'fold-1' / 'seed-0'}" in stderr           # where each run is, on stderr
    assert f"wrote {out / 'results.json'}" in stderr                          # and what else it wrote
    summary = results(out)["airline-passengers-backtest"]
    assert summary["setup"] == {"folds": 2, "block": 6, "seeds": [0, 1], "train_end": 48, "walk_forward": 0}
    library = backtests.run_backtest(tiny_spec(SeriesSource.built_in("airline-passengers", data)), tiny_config(),
                                     root / "library", Backtest(2, 6, seeds=2), progress=False,
                                     echo=lambda _: None, report=lambda _: None)
    assert summary == json.loads(json.dumps(library))                         # the flags mean the same


def test_a_fold_run_can_be_evaluated_again(run, capsys):
    out = run[0]
    assert main(["forecast", "eval", str(out / "fold-2" / "seed-0"), "--out", str(out / "again")]) == 0
    assert "6 test points" in capsys.readouterr().out                         # the fold's block, not the test part


def test_walk_forward_is_passed_on(run, tmp_path, capsys):
    data = run[1]
    assert backtest(data, tmp_path / "walked", "--walk-forward", "2") == 0
    assert "walking forward 2 updates per point" in capsys.readouterr().out
    assert results(tmp_path / "walked")["airline-passengers-backtest"]["setup"]["walk_forward"] == 2


def test_a_csv_series_backtests_too(tmp_path, capsys):
    path, _ = write_csv(tmp_path / "sales.csv")
    assert main(["forecast", "backtest", "--csv", str(path), "--column", "units", "--date-column", "month",
                 "--out", str(tmp_path / "out"), *FOLDS, *TINY]) == 0
    assert "sales: backtest, mean over 2 folds" in capsys.readouterr().out
    assert results(tmp_path / "out")["sales-backtest"]["setup"]["train_end"] == 48


def test_impossible_settings_and_resume_are_one_line_errors(run, tmp_path, capsys):
    out, data = run[:2]
    assert backtest(data, tmp_path / "a", "--folds", "8") == 2                 # 8 x 6 = 48 points: no fold left
    assert one_line_error(capsys.readouterr().err).endswith("use fewer --folds or a shorter --block")
    assert backtest(data, tmp_path / "b", "--look-back", "20") == 2            # fold 1 has 36 values only
    error = one_line_error(capsys.readouterr().err)
    assert "backtest fold 1 of 2" in error and "use a shorter --look-back" in error
    assert backtest(data, tmp_path / "c", "--resume", str(tmp_path / "somewhere")) == 2
    assert "cannot --resume" in one_line_error(capsys.readouterr().err)
    assert backtest(data, out) == 2                                            # OUT already holds a backtest
    assert "already holds a backtest" in one_line_error(capsys.readouterr().err)


def test_help_explains_the_folds(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["forecast", "backtest", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--folds" in out and "--block" in out and "test part is never read" in out
    assert "--walk-forward" in out and "never beyond the block" in out
