"""``rnnkit online reber``: epochs printed, metrics and a checkpoint per epoch, curves, exact resume."""

import json

from rnnkit.cli.main import main
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.metrics_log import read_metrics
from tiny_runs import one_line_error

FAST = ["--cells", "4", "--seed", "3"]


def test_a_run_prints_each_epoch_and_writes_metrics_checkpoints_and_curves(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["online", "reber", *FAST, "--epochs", "2", "--out", str(run)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("validation error") == 2 and "first error-free validation epoch" in captured.out
    records = read_metrics(run)
    assert [r["step"] for r in records] == [1, 2]
    assert all(0 <= r["val_long_error"] <= 1 and 0 <= r["train_error"] <= 1 for r in records)
    assert (run / "reber.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((run / "checkpoints.json").read_text())["last"] == "step-00000002"


def test_a_resumed_run_repeats_the_uninterrupted_one_exactly(tmp_path, capsys):
    assert main(["online", "reber", *FAST, "--epochs", "3", "--out", str(tmp_path / "straight")]) == 0
    assert main(["online", "reber", *FAST, "--epochs", "1", "--out", str(tmp_path / "resumed")]) == 0
    assert main(["online", "reber", "--resume", str(tmp_path / "resumed"), "--epochs", "3"]) == 0
    assert read_metrics(tmp_path / "resumed") == read_metrics(tmp_path / "straight")


def test_bad_settings_are_one_line_errors(tmp_path, capsys):
    assert main(["online", "reber", "--cell", "gru", "--gradient", "truncated", "--out", str(tmp_path / "a")]) == 2
    assert "is the LSTM's" in one_line_error(capsys.readouterr().err)
    assert main(["online", "reber", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no checkpoint at" in one_line_error(capsys.readouterr().err)
    assert main(["online", "reber", *FAST, "--epochs", "1", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["online", "reber", "--resume", str(tmp_path / "b"), "--cells", "9"]) == 2
    assert "--cells" in one_line_error(capsys.readouterr().err)


def test_output_chooses_the_read_out_the_run_learns_with(tmp_path, capsys):
    for output in ("sigmoid", None):
        run = tmp_path / f"run-{output}"
        extra = ["--output", output] if output else []
        assert main(["online", "reber", *FAST, *extra, "--epochs", "1", "--out", str(run)]) == 0
        _, meta = load_checkpoint(run)
        assert meta["spec"]["learner"]["output"] == (output or "linear")
