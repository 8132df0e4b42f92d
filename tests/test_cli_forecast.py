import json

import numpy as np
import pytest

from rnnkit.cli.main import main

FAST = ["--hidden", "4", "--epochs", "15", "--eval-every", "5", "--look-back", "6", "--no-progress"]


def write_airline_lookalike(root):
    """Six years of a monthly series with trend and season, under the airline file's name."""
    folder = root / "time_series"
    folder.mkdir(parents=True)
    months = np.arange(72)
    values = 100 + 2 * months + 15 * np.sin(2 * np.pi * months / 12)
    rows = [f'"{1949 + m // 12}-{m % 12 + 1:02d}",{v:.0f}' for m, v in zip(months, values)]
    (folder / "airline-passengers.csv").write_text('"Month","Passengers"\n' + "\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast")
    data = write_airline_lookalike(root / "data")
    run_dir = root / "run"
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(run_dir), "--horizon", "2", *FAST]) == 0
    return run_dir, data


def test_train_reports_the_model_and_both_baselines_and_draws_them(trained_run):
    run_dir, _ = trained_run
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["airline-passengers-1-step"]) == {"lstm", "persistence", "seasonal naive"}
    assert set(results["airline-passengers-2-step"]) == {"lstm (direct)", "persistence", "seasonal naive"}
    for png in ("curves.png", "forecast-1.png", "forecast-2.png"):
        assert (run_dir / png).read_bytes().startswith(b"\x89PNG")


def test_eval_prints_a_table_of_rmse_and_mae(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "3-step-ahead" in out and "lstm (recursive)" in out and "seasonal naive" in out


def test_eval_of_several_runs_averages_their_forecasts(trained_run, capsys):
    run_dir, data = trained_run
    other = run_dir.parent / "run-seed-1"
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(other), "--seed", "1", *FAST]) == 0
    capsys.readouterr()
    assert main(["forecast", "eval", str(run_dir), str(other)]) == 0
    assert "lstm ensemble" in capsys.readouterr().out
    ensemble = json.loads((run_dir.parent / "results.json").read_text())["airline-passengers-1-step"]
    alone = [json.loads((run / "results.json").read_text())["airline-passengers-1-step"]["lstm"]
             for run in (run_dir, other)]
    assert set(ensemble) == {"lstm ensemble", "persistence", "seasonal naive"}
    assert ensemble["persistence"] == json.loads((run_dir / "results.json").read_text())[
        "airline-passengers-1-step"]["persistence"]
    # the mean forecast's absolute error is at most the mean of the members' (triangle inequality)
    assert ensemble["lstm ensemble"]["mae"] <= (alone[0]["mae"] + alone[1]["mae"]) / 2 + 1e-9


def test_eval_on_the_validation_part_scores_its_points(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--part", "val"]) == 0
    assert "airline-passengers: 7 val points" in capsys.readouterr().out   # 15 % of the first 48 months
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["airline-passengers-1-step-val"]) == {"lstm", "persistence", "seasonal naive"}
    assert (run_dir / "forecast-1-val.png").read_bytes().startswith(b"\x89PNG")


def test_an_ensemble_of_different_test_parts_is_a_one_line_error(trained_run, tmp_path, capsys):
    run_dir, data = trained_run
    other = tmp_path / "shorter-training"
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(other), "--train-fraction", "0.8",
                 "--max-steps", "2", *FAST]) == 0
    capsys.readouterr()
    assert main(["forecast", "eval", str(run_dir), str(other)]) == 2
    error = capsys.readouterr().err.strip()
    assert "differ in train_fraction" in error and len(error.splitlines()) == 1


def test_direct_forecast_beyond_the_horizon_is_a_one_line_error(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "eval", str(run_dir), "--steps", "3", "--strategy", "direct"]) == 2
    assert "direct forecast reaches 2 steps" in capsys.readouterr().err


def test_predict_prints_the_next_months_in_original_units(trained_run, capsys):
    run_dir, _ = trained_run
    assert main(["forecast", "predict", str(run_dir), "--steps", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["1955-01", "1955-02", "1955-03"]
    assert all(100 < float(line.split("\t")[1]) < 400 for line in lines)


def test_refit_retrains_for_the_best_number_of_updates_without_the_test_part(tmp_path):
    from rnnkit.training.checkpoint import load_checkpoint

    data = write_airline_lookalike(tmp_path / "data")
    runs = [tmp_path / "run", tmp_path / "run-other-test-part"]
    refit = ["--refit", *FAST, "--batch", "1", "--epochs", "2"]                # one window per update
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(runs[0]), *refit]) == 0
    path = data / "time_series" / "airline-passengers.csv"
    lines = path.read_text().splitlines()
    lines[49:] = [f"{line.split(',')[0]},{10 * int(line.split(',')[1])}" for line in lines[49:]]   # test months
    path.write_text("\n".join(lines) + "\n")
    assert main(["forecast", "train", "--data-dir", str(data), "--out", str(runs[1]), *refit]) == 0
    (refit, meta), (other, _) = [load_checkpoint(run, "best") for run in runs]
    _, early = load_checkpoint(runs[0] / "early-stopping", "best")
    assert meta["refit"] == {"updates": early["step"], "early_stopping_run": "early-stopping"}
    assert meta["step"] == early["step"] and load_checkpoint(runs[0], "last")[1]["step"] == early["step"]
    # training months 0-40 hold 22 windows after look-back 6 + differencing 13, validation months 41-47 seven more
    assert early["task_state"]["num_batches"] == 22 and meta["task_state"]["num_batches"] == 22 + 7
    for name, value in refit["model"].items():          # ten times other test values: the very same model
        np.testing.assert_array_equal(value, other["model"][name])


def test_resume_needs_a_forecast_run(trained_run, tmp_path, capsys):
    run_dir, data = trained_run
    assert main(["classify", "train", "--resume", str(run_dir), "--no-progress"]) == 2
    assert "is not a classify run" in capsys.readouterr().err


def test_too_long_look_back_is_a_one_line_error(tmp_path, capsys):
    data = write_airline_lookalike(tmp_path / "data")
    args = ["forecast", "train", "--data-dir", str(data), "--out", str(tmp_path / "run"), "--look-back", "40"]
    assert main(args) == 2
    assert "leave no training or validation window" in capsys.readouterr().err


def test_log_transform_of_the_real_airline_series_trains(data_dir, tmp_path, capsys):
    args = ["forecast", "train", "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--log", *FAST]
    assert main(args) == 0
    assert "48 test points" in capsys.readouterr().out
