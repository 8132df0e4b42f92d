"""``rnnkit forecast train|eval|predict``: the flags reach ``rnnkit.tasks.forecasting``, the tables and
forecasts are printed, the user's own CSV works end to end, a run resumes with data that moved, and bad
input or settings are one-line errors (exit code 2) naming the flags."""

import shutil
import time

import numpy as np
import pytest

from rnnkit.cli.main import main
from tiny_forecasts import TINY, is_png, noisy_season, results, train_losses, write_csv, write_series
from tiny_runs import one_line_error

FAST = ["--hidden", "4", "--epochs", "15", "--eval-every", "5", "--look-back", "6", "--no-progress"]


def table_rows(out: str) -> dict[str, tuple[float, float]]:
    """The rows "method  RMSE  MAE" of the tables printed in ``out`` (the last table's, if several)."""
    rows = {}
    for line in out.splitlines():
        words = line.split()
        try:
            rows[" ".join(words[:-2])] = (float(words[-2]), float(words[-1]))
        except (IndexError, ValueError):
            continue
    return rows


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast")
    data, _ = write_series(root / "data")
    run_dir = root / "run"
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(run_dir), "--horizon", "2", *FAST]) == 0
    return run_dir, data


def test_train_reports_the_model_and_both_baselines_and_draws_them(trained_run):
    run_dir, _ = trained_run
    scores = results(run_dir)
    assert set(scores["airline-passengers-1-step"]) == {"lstm", "persistence", "seasonal naive"}
    assert set(scores["airline-passengers-2-step"]) == {"lstm (direct)", "persistence", "seasonal naive"}
    for png in ("curves.png", "forecast-1.png", "forecast-2.png"):
        assert is_png(run_dir / png)


def test_eval_prints_a_table_of_rmse_and_mae(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "3-step-ahead" in out and "lstm (recursive)" in out and "seasonal naive" in out
    assert "RMSE" in out and "MAE" in out
    assert table_rows(out)["lstm (recursive)"][0] == pytest.approx(
        results(run_dir)["airline-passengers-3-step"]["lstm (recursive)"]["rmse"], abs=5e-4)


def test_eval_of_several_runs_averages_their_forecasts(trained_run, capsys):
    run_dir, data = trained_run
    other = run_dir.parent / "run-seed-1"
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(other), "--seed", "1", *FAST]) == 0
    capsys.readouterr()
    assert main(["forecast", "eval", str(run_dir), str(other)]) == 2            # where to write it, it must be told
    assert "give --out" in one_line_error(capsys.readouterr().err)
    assert main(["forecast", "eval", str(run_dir), str(other), "--out", str(run_dir.parent / "ensemble")]) == 0
    assert "lstm ensemble" in capsys.readouterr().out
    ensemble = results(run_dir.parent / "ensemble")["airline-passengers-1-step"]
    alone = [results(run)["airline-passengers-1-step"]["lstm"] for run in (run_dir, other)]
    assert set(ensemble) == {"lstm ensemble", "persistence", "seasonal naive"}
    assert ensemble["persistence"] == results(run_dir)["airline-passengers-1-step"]["persistence"]
    # the mean forecast's absolute error is at most the mean of the members' (triangle inequality)
    assert ensemble["lstm ensemble"]["mae"] <= (alone[0]["mae"] + alone[1]["mae"]) / 2 + 1e-9


def test_eval_on_the_validation_part_scores_its_points(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--part", "val"]) == 0
    assert "airline-passengers: 7 val points" in capsys.readouterr().out   # 15 % of the first 48 months
    assert set(results(run_dir)["airline-passengers-1-step-val"]) == {"lstm", "persistence", "seasonal naive"}
    assert is_png(run_dir / "forecast-1-val.png")


def test_eval_walks_forward_under_a_key_of_its_own(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--walk-forward", "0", "--out", str(tmp_path)]) == 0
    assert main(["forecast", "eval", str(run_dir), "--walk-forward", "3", "--out", str(tmp_path)]) == 0
    assert "walking forward 3 updates per point" in capsys.readouterr().out
    frozen, walked = (results(tmp_path)[key] for key in ("airline-passengers-1-step",
                                                         "airline-passengers-1-step-walk-forward-3"))
    assert walked["lstm"] != frozen["lstm"] and walked["seasonal naive"] == frozen["seasonal naive"]
    assert is_png(tmp_path / "forecast-1-walk-forward-3.png")


def test_walk_forward_is_one_step_only(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--steps", "2", "--walk-forward", "1"]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "one-step forecasts only" in error and "use --steps 1 or --walk-forward 0" in error


def test_an_ensemble_of_different_test_parts_is_a_one_line_error(trained_run, tmp_path, capsys):
    run_dir, data = trained_run
    other = tmp_path / "shorter-training"
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(other), "--train-fraction", "0.8",
                 "--max-steps", "2", *FAST]) == 0
    capsys.readouterr()
    assert main(["forecast", "eval", str(run_dir), str(other)]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "differ in train_fraction" in error and "the same series and --train-fraction" in error


def test_direct_forecast_beyond_the_horizon_is_a_one_line_error(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--steps", "3", "--strategy", "direct"]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "direct forecast reaches 2 steps" in error and "--strategy" in error and "--horizon 3" in error


def test_predict_prints_the_next_months_in_original_units(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "predict", str(run_dir), "--steps", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["1955-01", "1955-02", "1955-03"]
    assert all(100 < float(line.split("\t")[1]) < 400 for line in lines)


def test_refit_retrains_for_the_best_number_of_updates_and_cannot_resume(tmp_path, capsys):
    data, _ = write_series(tmp_path / "data")
    run_dir = tmp_path / "run"
    refit = ["--refit", *FAST, "--batch", "1", "--epochs", "2"]                # one window per update
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(run_dir), *refit]) == 0
    from rnnkit.tasks.forecasting import load_run
    early, run = load_run(run_dir / "early-stopping"), load_run(run_dir)
    assert run.spec.refit == {"updates": early.trainer["step"], "early_stopping_run": "early-stopping"}
    assert run.trainer["step"] == early.trainer["step"]
    capsys.readouterr()
    assert main(["forecast", "train", "--resume", str(run_dir), "--max-steps", "100", "--no-progress"]) == 2
    assert "is a refit run, which trains twice from the start and cannot resume" in one_line_error(
        capsys.readouterr().err)
    assert main(["forecast", "train", "--resume", str(run_dir), "--refit", "--no-progress"]) == 2
    assert "--refit trains twice from the start and cannot --resume" in one_line_error(capsys.readouterr().err)


def test_resume_needs_a_forecast_run(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["classify", "train", "--resume", str(run_dir), "--no-progress"]) == 2
    assert "holds a 'forecast' run, not a 'classify' run" in one_line_error(capsys.readouterr().err)


def test_resume_refuses_options_it_would_ignore(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "train", "--resume", str(run_dir), "--hidden", "5", "--no-progress"]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "but --hidden was given too" in error and "only --epochs, --max-steps" in error


def test_too_long_look_back_is_a_one_line_error(tmp_path, capsys):
    data, _ = write_series(tmp_path / "data")
    args = ["forecast", "train", "--data-dir", str(data), "--out", str(tmp_path / "run"), "--look-back", "40"]
    assert main(args) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "leave no training or validation window" in error and "use a shorter --look-back or --horizon" in error
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_log_transform_of_the_real_airline_series_trains(data_dir, tmp_path, capsys):
    args = ["forecast", "train", "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--log", *FAST]
    assert main(args) == 0
    assert "48 test points" in capsys.readouterr().out


def test_a_built_in_run_evaluated_on_a_csv_says_which_flag_to_use(trained_run, tmp_path, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--csv", str(tmp_path / "x.csv")]) == 2
    assert one_line_error(capsys.readouterr().err).endswith(
        "the run reads the built-in series airline-passengers: give --data-dir to say where it is now")


# -- the user's own CSV, end to end ----------------------------------------------------------


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """`forecast train --csv sales.csv --column units --date-column month` on 72 noisy months, 2018-01 .. 2023-12."""
    root = tmp_path_factory.mktemp("csv")
    path, values = write_csv(root / "sales.csv")
    run_dir = root / "run"
    args = ["forecast", "train", "--csv", str(path), "--column", "units", "--date-column", "month",
            "--out", str(run_dir), *TINY, "--epochs", "20", "--max-steps", "12", "--eval-every", "4"]
    assert main(args) == 0
    return run_dir, path, values


def test_a_csv_series_trains_and_reports_the_model_against_both_baselines(csv_run):
    run_dir, _, values = csv_run
    table = results(run_dir)["sales-1-step"]
    assert set(table) == {"lstm", "persistence", "seasonal naive"}
    persistence = np.sqrt(np.mean((values[48:] - values[47:71]) ** 2))
    seasonal = np.sqrt(np.mean((values[48:] - values[36:60]) ** 2))
    assert table["persistence"]["rmse"] == pytest.approx(persistence)
    assert table["seasonal naive"]["rmse"] == pytest.approx(seasonal)
    assert 0 < table["lstm"]["rmse"] < 5 * persistence                       # a forecast, not nonsense
    assert is_png(run_dir / "forecast-1.png") and is_png(run_dir / "curves.png")


def test_a_csv_series_evaluates(csv_run, capsys):
    run_dir, _, values = csv_run
    assert main(["forecast", "eval", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "sales: 24 test points, 1-step-ahead forecasts"
    rows = table_rows(out)
    assert set(rows) == {"lstm", "persistence", "seasonal naive"}
    assert all(rmse >= mae > 0 for rmse, mae in rows.values())
    assert rows["persistence"][0] == pytest.approx(np.sqrt(np.mean((values[48:] - values[47:71]) ** 2)), abs=5e-4)
    assert (run_dir / "results.json").is_file()


def test_a_csv_series_predicts_the_months_after_its_last_date(csv_run, capsys):
    run_dir, _, values = csv_run
    assert main(["forecast", "predict", str(run_dir), "--steps", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["2024-01", "2024-02", "2024-03"]   # the file ends 2023-12
    forecasts = np.array([float(line.split("\t")[1]) for line in lines])
    assert np.all((values.min() < forecasts) & (forecasts < 1.5 * values.max()))


def csv_with(tmp_path, line: int, row: str):
    """The 72-month CSV with line ``line`` of the file (1: the header) replaced by ``row``."""
    path, _ = write_csv(tmp_path / "sales.csv")
    lines = path.read_text().splitlines()
    lines[line - 1] = row
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("row,expected", [
    ("2018-05,north,abc", "line 6, column 'units': 'abc' is not a number"),
    ("2018-05,north,nan", "line 6, column 'units': 'nan' is not a finite number"),
    ("2018-05,north,inf", "line 6, column 'units': 'inf' is not a finite number"),
    ("2018-05,north,-inf", "line 6, column 'units': '-inf' is not a finite number"),
    ("2018-05,north,", "line 6, column 'units': the value is missing"),
    ("May 2018,north,1", "line 6, column 'month': 'May 2018' is not a date of the form"),
])
def test_a_bad_row_is_a_one_line_error_naming_line_and_column(tmp_path, capsys, row, expected):
    path = csv_with(tmp_path, 6, row)
    assert main(["forecast", "train", "--csv", str(path), "--column", "units", "--date-column", "month",
                 "--out", str(tmp_path / "run"), *TINY]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert str(path) in error and expected in error
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("problem,args,expected", [
    ("missing column", ["--column", "sold"],
     "has no column 'sold' (--column): its header has the columns 'month', 'region', 'units'"),
    ("no column", [], "which column of"),
    ("missing file", ["--column", "units", "--csv", "nowhere.csv"], "nowhere.csv does not exist"),
    ("--series too", ["--column", "units", "--series", "shampoo"], "give either --csv FILE or --series NAME, not both"),
    ("too few rows", ["--column", "units", "--date-column", "month", "--csv", "short.csv"],
     "holds 20 values: a series with a season of 12 steps needs at least 36"),
    ("too long a season", ["--column", "units", "--season", "30"],
     "needs at least 90 (3 seasons, and at least 12 values); use a longer series or a shorter --season"),
    ("--log of values <= 0", ["--column", "units", "--log", "--csv", "negative.csv"], "--log needs a positive series"),
])
def test_a_bad_file_or_setting_is_a_one_line_error(tmp_path, capsys, problem, args, expected):
    path, _ = write_csv(tmp_path / "sales.csv")
    write_csv(tmp_path / "short.csv", noisy_season(20))
    write_csv(tmp_path / "negative.csv", noisy_season() - 150)
    if "--csv" in args:
        at = args.index("--csv") + 1
        args = [*args[:at], str(tmp_path / args[at]), *args[at + 1:]]
    else:
        args = ["--csv", str(path), *args]
    assert main(["forecast", "train", *args, "--out", str(tmp_path / "run"), *TINY]) == 2
    error = one_line_error(capsys.readouterr().err)
    assert expected in error, problem
    if problem == "no column":
        assert error.endswith("is the series? give its --column")
    assert not (tmp_path / "run" / "checkpoints").exists()


# -- resuming with data that moved -----------------------------------------------------------


def test_a_run_of_a_built_in_series_resumes_from_a_new_data_dir_exactly(tmp_path, capsys):
    data, _ = write_series(tmp_path / "data")
    train = ["forecast", "train", "--data-dir", str(data), *TINY, "--epochs", "20"]
    assert main([*train, "--out", str(tmp_path / "whole"), "--max-steps", "14"]) == 0
    assert main([*train, "--out", str(tmp_path / "cut"), "--max-steps", "5"]) == 0
    data.rename(tmp_path / "moved")
    capsys.readouterr()
    resume = ["forecast", "train", "--resume", str(tmp_path / "cut"), "--max-steps", "14", "--no-progress"]
    assert main(resume) == 2                                                   # the old place is gone
    assert "not found" in one_line_error(capsys.readouterr().err)
    assert main([*resume, "--data-dir", str(tmp_path / "moved")]) == 0
    printed = capsys.readouterr()
    assert "resuming at step 5" in printed.err and "stopped (max steps) at step 14" in printed.err
    assert "airline-passengers: 24 test points" in printed.out                # scored on the moved data
    assert train_losses(tmp_path / "cut") == train_losses(tmp_path / "whole")
    assert len(train_losses(tmp_path / "whole")) == 14
    assert main(["forecast", "predict", str(tmp_path / "cut")]) == 0             # the run now reads it there
    assert capsys.readouterr().out.startswith("1955-01\t")


def test_a_run_of_a_csv_resumes_from_a_copy_elsewhere_exactly(tmp_path, capsys):
    path, _ = write_csv(tmp_path / "here" / "sales.csv")
    train = ["forecast", "train", "--csv", str(path), "--column", "units", "--date-column", "month", *TINY,
             "--epochs", "20"]
    assert main([*train, "--out", str(tmp_path / "whole"), "--max-steps", "14"]) == 0
    assert main([*train, "--out", str(tmp_path / "cut"), "--max-steps", "6"]) == 0
    moved = tmp_path / "there" / "sales.csv"
    moved.parent.mkdir()
    shutil.copy(path, moved)
    path.unlink()
    capsys.readouterr()
    resume = ["forecast", "train", "--resume", str(tmp_path / "cut"), "--max-steps", "14", "--no-progress"]
    assert main([*resume, "--data-dir", str(tmp_path)]) == 2                  # a CSV run: --csv says where
    assert one_line_error(capsys.readouterr().err).endswith("give --csv to say where it is now")
    assert main([*resume, "--column", "units", "--csv", str(moved)]) == 2    # the data's options stay
    assert "--column was given too" in one_line_error(capsys.readouterr().err)
    assert main([*resume, "--csv", str(moved)]) == 0
    printed = capsys.readouterr()
    assert "resuming at step 6" in printed.err and "sales: 24 test points" in printed.out
    assert train_losses(tmp_path / "cut") == train_losses(tmp_path / "whole")
    assert main(["forecast", "eval", str(tmp_path / "cut")]) == 0             # the run now reads it there
    assert main(["forecast", "predict", str(tmp_path / "cut"), "--steps", "2"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()[-2:]] == ["2024-01", "2024-02"]


@pytest.mark.parametrize("content", ["[1, 2]", "{\"k\": 3}"])
def test_eval_next_to_a_malformed_results_json_is_a_one_line_error_and_keeps_it(trained_run, tmp_path, capsys,
                                                                              content):
    run_dir, _ = trained_run
    copy = shutil.copytree(run_dir, tmp_path / "run")
    (copy / "results.json").write_text(content)
    assert main(["forecast", "eval", str(copy)]) == 2
    assert "results.json is not a results file of rnnkit" in one_line_error(capsys.readouterr().err)
    assert (copy / "results.json").read_text() == content


def test_predict_far_ahead_takes_time_linear_in_the_steps(trained_run, capsys):
    run_dir, _ = trained_run
    started = time.perf_counter()
    assert main(["forecast", "predict", str(run_dir), "--steps", "2000"]) == 0
    seconds = time.perf_counter() - started
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2000 and lines[0].startswith("1955-01\t")
    assert seconds < 30          # the quadratic predict took about two minutes for these 2000 steps
