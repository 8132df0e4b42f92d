"""Training faults through the command line: a NaN is one error line and resume continues, kill -9 at random
moments loses nothing a resume cannot redo, a read-only output directory is refused before training."""

import math
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from rnnkit.cli.main import main
from rnnkit.tasks.language_model import LanguageModelTask
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.metrics_log import read_metrics
from tiny_runs import TINY_MODEL, one_line_error, train, write_corpus


def train_losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["train_loss"] for r in read_metrics(run_dir) if "train_loss" in r}


def test_divergence_through_the_cli_is_one_error_line_and_resume_with_lower_lr_works(
        tmp_path, capsys, monkeypatch):
    original = LanguageModelTask.train_step
    calls = []

    def diverging(self, batch):
        calls.append(1)
        loss, count = original(self, batch)
        return (math.nan if len(calls) == 8 else loss), count

    monkeypatch.setattr(LanguageModelTask, "train_step", diverging)
    run = tmp_path / "run"
    assert train(write_corpus(tmp_path), run, "--max-steps", "12") == 2
    line = one_line_error(capsys.readouterr().err, alone=False)
    assert "diverged at step 8" in line and "step-00000005" in line
    assert "lower --lr or --clip-norm and resume, or set --on-nan to 'reduce-lr'" in line
    assert main(["train", "--resume", str(run), "--lr", "1e-3", "--no-progress", "--sample-length", "0"]) == 0
    assert sorted(train_losses(run)) == list(range(1, 13))


def test_resuming_a_run_that_reached_max_steps_trains_no_further(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(write_corpus(tmp_path), run, "--max-steps", "5") == 0
    assert main(["train", "--resume", str(run), "--max-steps", "5", "--no-progress", "--sample-length", "0"]) == 0
    assert load_checkpoint(run)[1]["trainer"]["step"] == 5
    assert max(train_losses(run)) == 5


# -- kill -9 -----------------------------------------------------------------------------------

KILLED_RUN = ["--max-steps", "40", "--checkpoint-every", "1", "--eval-every", "7"]


def start_training(argv) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnkit", "train", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(path, seconds=60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), f"{path} did not appear within {seconds} s"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_training_killed_at_random_moments_resumes_to_the_uninterrupted_losses(tmp_path, capsys):
    corpus = write_corpus(tmp_path)
    assert train(corpus, tmp_path / "straight", *KILLED_RUN, "--checkpoint-every", "40") == 0
    expected = train_losses(tmp_path / "straight")

    seed = random.randrange(2**32)
    delays = random.Random(seed).sample(range(0, 1000), 3)
    run, restored = tmp_path / "killed", 0
    for kill_number, delay_ms in enumerate(delays):
        argv = ["--resume", str(run)] if kill_number else [str(corpus), "--out", str(run), *TINY_MODEL, *KILLED_RUN]
        process = start_training(argv)
        try:
            wait_for(run / "checkpoints.json")
            time.sleep(delay_ms / 1000)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        _, meta = load_checkpoint(run)                       # always loadable
        step = meta["trainer"]["step"]
        assert step >= restored, f"seed {seed}: went back from {restored} to {step}"
        restored = step
        print(f"kill {kill_number} after {delay_ms} ms: restored step {restored}")

    assert main(["train", "--resume", str(run), "--no-progress", "--sample-length", "0"]) == 0
    resumed = train_losses(run)
    assert sorted(resumed) == list(range(1, 41)), f"seed {seed}"
    assert resumed == expected, f"seed {seed}: losses after a restore differ"


# -- unwritable disks ----------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_output_directory_is_refused_before_training(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories; see the simulated test below")
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert train(write_corpus(tmp_path), parent / "run", "--max-steps", "2") == 2
    finally:
        parent.chmod(0o755)
    assert "cannot write to the run directory" in one_line_error(capsys.readouterr().err)


# -- one writer per run, and Ctrl-C -------------------------------------------------------------

LONG_RUN = ["--max-steps", "1000000", "--checkpoint-every", "5", "--eval-every", "1000"]


@pytest.mark.skipif(sys.platform == "win32", reason="flock and SIGKILL are POSIX")
def test_a_second_writer_is_refused_while_the_first_lives_and_accepted_once_it_is_killed(tmp_path, capsys):
    corpus, run = write_corpus(tmp_path), tmp_path / "run"
    process = start_training([str(corpus), "--out", str(run), *TINY_MODEL, *LONG_RUN])
    try:
        wait_for(run / "checkpoints.json")
        for argv in (["train", "--resume", str(run), "--no-progress", "--sample-length", "0"],
                     ["classify", "train", "--resume", str(run), "--no-progress"]):
            assert main(argv) == 2
            line = one_line_error(capsys.readouterr().err)
            assert f"{run} is being written by another rnnkit process (process {process.pid})" in line
        assert process.poll() is None                       # the first writer was left alone
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    step = load_checkpoint(run)[1]["trainer"]["step"]
    assert main(["train", "--resume", str(run), "--max-steps", str(step + 2), "--no-progress",
                 "--sample-length", "0"]) == 0              # the kernel dropped the lock with the process
    assert load_checkpoint(run)[1]["trainer"]["step"] == step + 2


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT as a signal is POSIX")
def test_ctrl_c_saves_a_checkpoint_and_exits_130_so_a_shell_chain_stops(tmp_path):
    corpus, run = write_corpus(tmp_path), tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "rnnkit", "train", str(corpus), "--out", str(run),
                                *TINY_MODEL, *LONG_RUN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(run / "checkpoints.json")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    step = load_checkpoint(run)[1]["trainer"]["step"]
    assert f"interrupted: saved {run / 'checkpoints' / f'step-{step:08d}'}; resume {run} to continue" in err


@pytest.mark.parametrize("command", [["train", "CORPUS", *TINY_MODEL], ["classify", "train", "--data", "LABELLED",
                                                                         "--hidden", "4", "--embedding", "4",
                                                                         "--no-progress"]],
                         ids=["train", "classify train"])
@pytest.mark.parametrize("options", [["--lr", "1e38"], ["--lr", "1e38", "--on-nan", "reduce-lr"],
                                     ["--optimizer", "sgd", "--lr", "1e39"]], ids=" ".join)
def test_an_overflowing_learning_rate_is_one_error_line_not_a_crash(tmp_path, capsys, command, options):
    from labelled_texts import labelled_rows, write_labelled
    places = {"CORPUS": str(write_corpus(tmp_path)),
              "LABELLED": str(write_labelled(tmp_path / "texts.csv", labelled_rows(10), header=("text", "label")))}
    argv = [places.get(arg, arg) for arg in command] + ["--out", str(tmp_path / "run"), "--max-steps", "5", *options]
    assert main(argv) == 2
    line = one_line_error(capsys.readouterr().err, alone=False)        # after "run directory: ..."
    assert "diverged at step 1: the update made weights NaN or infinite" in line
    assert "no checkpoint was saved yet: start again with a lower --lr or --clip-norm" in line
    assert not (tmp_path / "run").exists()
