"""Training faults lose at most one checkpoint interval: NaN/inf, unwritable or full disks (the Trainer).

The same faults through the command line (one error line, resume, kill -9) are in test_cli_training_faults.py.
"""

import errno
import math
import os
import warnings

import numpy as np
import pytest

import rnnkit.training.checkpoint as checkpoint_module
from rnnkit.data.batches import split_train_val
from rnnkit.data.vocab import CharVocab
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.optim import Adam
from rnnkit.tasks.language_model import LanguageModelTask
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.loop import Trainer, TrainingDiverged, update
from rnnkit.training.metrics_log import read_metrics
from rnnkit.training.run_meta import RunRecord
from tiny_lm import TEXT


def make_trainer(run_dir, **options) -> Trainer:
    """A tiny character model that checkpoints every 5 updates."""
    vocab = CharVocab(TEXT)
    train_ids, val_ids = split_train_val(vocab.encode(TEXT))
    model = CharLM(CharLMConfig(vocab_size=len(vocab), hidden_size=8, num_layers=1, embedding_dim=4), rng=0)
    task = LanguageModelTask(model, vocab, train_ids, val_ids, batch_size=4, seq_len=8)
    config = TrainConfig(**({"max_steps": 12, "eval_every": 100, "checkpoint_every": 5, "sample_every": 0}
                            | options))
    return Trainer(task, config, run_dir, run=RunRecord("char-lm", {}), progress=False, echo=lambda _: None)


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


def tiny_model_step(model, poisoned: str | None = None):
    """A ``train_step`` for ``update``: forward, loss and backward of one batch of TEXT; ``poisoned`` makes the
    loss NaN or inf, or a gradient infinite."""
    vocab = CharVocab(TEXT)
    ids = vocab.encode(TEXT)[:33].reshape(-1, 1)

    def train_step():
        from rnnkit.losses import softmax_cross_entropy
        logits, _ = model(ids[:-1])
        loss, dlogits = softmax_cross_entropy(logits, ids[1:])
        model.backward(dlogits)
        if poisoned == "inf gradient":
            model.grads["decoder.weight"][0, 0] = np.inf
        return {"nan loss": math.nan, "inf loss": math.inf}.get(poisoned, float(loss)), ids[1:].size
    return train_step


@pytest.mark.parametrize("kind", ["nan loss", "inf loss", "inf gradient"])
@pytest.mark.parametrize("clip_norm", [5.0, 0.0], ids=["clipped", "unclipped"])
def test_update_raises_before_the_optimizer_steps_so_the_weights_stay_as_they_were(kind, clip_norm):
    """The regression of the one update step (rnnkit.training.loop.update): a NaN or inf never reaches the weights
    or the optimizer's state."""
    model = CharLM(CharLMConfig(vocab_size=len(set(TEXT)), hidden_size=8, num_layers=1, embedding_dim=4), rng=0)
    optimizer = Adam(model, lr=0.1)
    config = TrainConfig(clip_norm=clip_norm)
    before = {name: value.copy() for name, value in model.parameters().items()}
    with pytest.raises(TrainingDiverged, match="loss .*, gradient norm"):
        update(model, optimizer, config, tiny_model_step(model, kind))
    for name, value in model.parameters().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    assert optimizer.state_dict()[1]["step_count"] == 0

    loss, count = update(model, optimizer, config, tiny_model_step(model))     # a sound batch: one step
    assert math.isfinite(loss) and count == 32
    assert optimizer.state_dict()[1]["step_count"] == 1
    assert not np.array_equal(model.parameters()["decoder.weight"], before["decoder.weight"])


def test_update_starts_from_zero_gradients():
    """Gradients of an earlier (say, diverged) batch do not leak into the next update."""
    model = CharLM(CharLMConfig(vocab_size=len(set(TEXT)), hidden_size=8, num_layers=1, embedding_dim=4), rng=0)
    for grad in model.grads.values():
        grad[...] = np.nan
    update(model, Adam(model, lr=0.1), TrainConfig(), tiny_model_step(model))
    assert all(np.isfinite(value).all() for value in model.parameters().values())


@pytest.mark.parametrize("kind", ["nan loss", "inf loss", "inf gradient"])
def test_divergence_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, kind):
    trainer = make_trainer(tmp_path)
    poison(trainer, at_step=8, kind=kind)
    with pytest.raises(TrainingDiverged, match=r"at step 8: .*step-00000005"):
        trainer.fit()
    tensors, meta = load_checkpoint(tmp_path)
    assert meta["trainer"]["step"] == 5
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


def test_reduce_lr_halves_the_rate_again_at_each_new_divergence(tmp_path):
    trainer = make_trainer(tmp_path, on_nan="reduce-lr", lr=0.01)
    poison(trainer, at_step=8, kind="nan loss", times=3)
    assert trainer.fit()["step"] == 12
    rates = {r["step"]: r["lr"] for r in read_metrics(tmp_path) if "train_loss" in r}
    assert rates[5] == 0.01 and all(rates[step] == 0.01 / 8 for step in range(6, 13))


def test_reduce_lr_gives_up_after_repeated_divergence_without_advising_the_flag_in_use(tmp_path):
    trainer = make_trainer(tmp_path, on_nan="reduce-lr", lr=0.01)
    poison(trainer, at_step=8, kind="nan loss", times=100)
    gave_up = r"at step 8: .*step-00000005; it diverged again after the learning rate was halved 5 times, to " \
              r"0.0003125: resume with a lower `lr`"
    with pytest.raises(TrainingDiverged, match=gave_up) as error:
        trainer.fit()
    assert "on_nan" not in str(error.value)
    assert load_checkpoint(tmp_path)[1]["trainer"]["step"] == 5


@pytest.mark.parametrize("options", [{"lr": 1e38}, {"lr": 1e38, "on_nan": "reduce-lr"},
                                     {"lr": 1e39, "optimizer": "sgd"}])
def test_an_update_that_overflows_the_weights_is_a_divergence_not_a_crash_of_the_next_forward(tmp_path, options):
    trainer = make_trainer(tmp_path, **options)
    with pytest.raises(TrainingDiverged, match=r"diverged at step 1: the update made weights NaN or infinite .*; "
                                               r"no checkpoint was saved yet: start again with a lower `lr`"):
        trainer.fit()


def test_overflowing_weights_after_a_checkpoint_go_back_to_it_with_reduce_lr(tmp_path):
    trainer = make_trainer(tmp_path, on_nan="reduce-lr", lr=0.01)
    original = trainer.optimizer.step

    def overflowing_step():
        original()
        if trainer.step + 1 == 8 and trainer.lr_reductions == 0:
            trainer.model.parameters()["embedding.weight"][0, 0] = np.inf
    trainer.optimizer.step = overflowing_step
    assert trainer.fit()["step"] == 12
    assert all(np.isfinite(value).all() for value in trainer.model.parameters().values())


def test_an_update_keeps_numpy_overflow_warnings_to_itself(tmp_path):
    trainer = make_trainer(tmp_path, lr=1e38)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDiverged):
            trainer.fit()


# -- unwritable and full disks -------------------------------------------------------------------


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
    with pytest.raises(CheckpointError, match=r"step 10 .*No space left on device; step-00000005 is intact: free "
                                              r"some space, then resume"):
        trainer.fit()
    monkeypatch.undo()
    assert load_checkpoint(run)[1]["trainer"]["step"] == 5
    assert not [path for path in (run / "checkpoints").iterdir() if path.name.startswith(".tmp")]

    resumed = make_trainer(run)          # space freed: resume, and lose nothing but steps 6-10
    resumed.restore()
    resumed.fit()
    straight = make_trainer(tmp_path / "straight")
    straight.fit()
    assert train_losses(run) == train_losses(tmp_path / "straight")


def test_disk_full_before_the_first_checkpoint_advises_starting_again_not_resuming(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path / "run")
    fill_disk_from_step(monkeypatch, trainer, step=5, writer="atomic_write_bytes")
    with pytest.raises(CheckpointError, match=r"step 5 .*No space left on device; no checkpoint was saved yet, so "
                                              r"there is nothing to resume: free some space, then start the run again"):
        trainer.fit()
