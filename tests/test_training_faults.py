"""Training faults lose at most one checkpoint interval: NaN/inf, kill -9, unwritable or full disks."""

import errno
import math
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import rnnkit.training.checkpoint as checkpoint_module
from rnnkit.cli.main import main
from rnnkit.data.batches import split_train_val
from rnnkit.data.vocab import CharVocab
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks.language_model import LanguageModelTask
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.loop import Trainer, TrainingDiverged
from rnnkit.training.metrics_log import read_metrics
from tiny_runs import TEXT, TINY_MODEL, one_line_error, train, write_corpus


def make_trainer(run_dir, **options) -> Trainer:
    """A tiny character model that checkpoints every 5 updates."""
    vocab = CharVocab(TEXT)
    train_ids, val_ids = split_train_val(vocab.encode(TEXT))
    model = CharLM(CharLMConfig(vocab_size=len(vocab), hidden_size=8, num_layers=1, embedding_dim=4), rng=0)
    task = LanguageModelTask(model, vocab, train_ids, val_ids, batch_size=4, seq_len=8)
    config = TrainConfig(**({"max_steps": 12, "eval_every": 100, "checkpoint_every": 5, "sample_every": 0}
                            | options))
    return Trainer(task, config, run_dir, meta={"task": "char-lm"}, progress=False, echo=lambda _: None)


def poison(trainer: Trainer, at_step: int, kind: str, times: int = 1) -> None:
    """Make update number ``at_step`` produce a NaN/inf loss or an inf gradient, ``times`` times."""
    original, left = trainer.task.train_step, [times]

    def train_step(batch):
        loss, count = original(batch)
        if trainer.step + 1 == at_step and left[0]:
            left[0] -= 1
            if kind == "inf gradient":
                trainer.model.grads["decoder.weight"][0, 0] = np.inf
            else:
                loss = {"nan loss": math.nan, "inf loss": math.inf}[kind]
        return loss, count

    trainer.task.train_step = train_step


def train_losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["train_loss"] for r in read_metrics(run_dir) if "train_loss" in r}


# -- NaN and inf -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nan loss", "inf loss", "inf gradient"])
def test_divergence_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, kind):
    trainer = make_trainer(tmp_path)
    poison(trainer, at_step=8, kind=kind)
    with pytest.raises(TrainingDiverged, match=r"at step 8: .*step-00000005"):
        trainer.fit()
    tensors, meta = load_checkpoint(tmp_path)
    assert meta["step"] == 5
    assert all(np.isfinite(value).all() for value in tensors["model"].values())
    assert max(train_losses(tmp_path)) == 7 and all(map(math.isfinite, train_losses(tmp_path).values()))


def test_reduce_lr_goes_back_to_the_checkpoint_with_half_the_rate_and_finishes(tmp_path):
    trainer = make_trainer(tmp_path, on_nan="reduce-lr", lr=0.01)
    poison(trainer, at_step=8, kind="nan loss")
    result = trainer.fit()
    assert result["step"] == 12
    records = [r for r in read_metrics(tmp_path) if "train_loss" in r]
    assert [r["step"] for r in records] == list(range(1, 13))     # steps 6-7 redone, logged once
    assert {r["step"]: r["lr"] for r in records}[5] == 0.01
    assert all(r["lr"] == 0.005 for r in records if r["step"] > 5)


def test_reduce_lr_gives_up_after_repeated_divergence(tmp_path):
    trainer = make_trainer(tmp_path, on_nan="reduce-lr")
    poison(trainer, at_step=8, kind="nan loss", times=100)
    with pytest.raises(TrainingDiverged, match="at step 8"):
        trainer.fit()
    assert load_checkpoint(tmp_path)[1]["step"] == 5


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
    assert "diverged at step 8" in line and "--resume" in line
    assert main(["train", "--resume", str(run), "--lr", "1e-3", "--no-progress", "--sample-length", "0"]) == 0
    assert sorted(train_losses(run)) == list(range(1, 13))


def test_resuming_a_run_that_reached_max_steps_trains_no_further(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(write_corpus(tmp_path), run, "--max-steps", "5") == 0
    assert main(["train", "--resume", str(run), "--max-steps", "5", "--no-progress", "--sample-length", "0"]) == 0
    assert load_checkpoint(run)[1]["step"] == 5
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
        assert meta["step"] >= restored, f"seed {seed}: went back from {restored} to {meta['step']}"
        restored = meta["step"]
        print(f"kill {kill_number} after {delay_ms} ms: restored step {restored}")

    assert main(["train", "--resume", str(run), "--no-progress", "--sample-length", "0"]) == 0
    resumed = train_losses(run)
    assert sorted(resumed) == list(range(1, 41)), f"seed {seed}"
    assert resumed == expected, f"seed {seed}: losses after a restore differ"


# -- unwritable and full disks -------------------------------------------------------------------


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


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.ENOSPC])
def test_unwritable_or_full_run_directory_is_detected_before_training(tmp_path, monkeypatch, code):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(checkpoint_module.tempfile, "TemporaryFile", refuse)
    with pytest.raises(ConfigError, match=r"cannot write to the run directory .*: " + os.strerror(code)):
        make_trainer(tmp_path / "run")


def fill_disk_from_step(monkeypatch, trainer: Trainer, step: int, writer: str, call: int = 1) -> None:
    """From ``step`` on, the ``call``-th use of ``writer`` in a checkpoint save raises ENOSPC."""
    original, calls = getattr(checkpoint_module, writer), []

    def write(*args, **kwargs):
        if trainer.step >= step:
            calls.append(1)
            if len(calls) >= call:
                raise OSError(errno.ENOSPC, "No space left on device")
        return original(*args, **kwargs)

    monkeypatch.setattr(checkpoint_module, writer, write)


@pytest.mark.parametrize("writer, call", [("atomic_write_bytes", 1), ("atomic_write_bytes", 2),
                                          ("atomic_write_text", 1), ("atomic_write_text", 2)],
                         ids=["first tensor file", "second tensor file", "meta.json", "checkpoints.json"])
def test_disk_full_at_a_checkpoint_stops_with_a_clear_error_and_keeps_the_previous_one(
        tmp_path, monkeypatch, writer, call):
    run = tmp_path / "run"
    trainer = make_trainer(run)
    fill_disk_from_step(monkeypatch, trainer, step=10, writer=writer, call=call)
    with pytest.raises(CheckpointError, match=r"step 10 .*No space left on device; step-00000005 is intact"):
        trainer.fit()
    monkeypatch.undo()
    assert load_checkpoint(run)[1]["step"] == 5
    assert not [path for path in (run / "checkpoints").iterdir() if path.name.startswith(".tmp")]

    resumed = make_trainer(run)          # space freed: resume, and lose nothing but steps 6-10
    resumed.restore()
    resumed.fit()
    straight = make_trainer(tmp_path / "straight")
    straight.fit()
    assert train_losses(run) == train_losses(tmp_path / "straight")
