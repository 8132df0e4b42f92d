"""rnnkit/training/loop.py with the language-model task: exact resume, schedules, early stopping."""

import numpy as np
import pytest

from rnnkit.data.batches import split_train_val
from rnnkit.data.vocab import CharVocab
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks.language_model import LanguageModelTask
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.loop import Trainer
from rnnkit.training.metrics_log import read_metrics
from rnnkit.training.run_meta import RunRecord

TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n" * 20


def make_trainer(run_dir, **options) -> Trainer:
    vocab = CharVocab(TEXT)
    train_ids, val_ids = split_train_val(vocab.encode(TEXT))
    config = CharLMConfig(vocab_size=len(vocab), cell="lstm", hidden_size=8, num_layers=2, embedding_dim=4,
                          dropout=0.2)
    task = LanguageModelTask(CharLM(config, rng=0), vocab, train_ids, val_ids, batch_size=8, seq_len=10,
                             sample_length=20)
    train_config = TrainConfig(**({"epochs": 50, "eval_every": 4, "checkpoint_every": 5, "sample_every": 0,
                                   "schedule": "char-rnn", "decay_after": 1, "decay": 0.9} | options))
    return Trainer(task, train_config, run_dir, run=RunRecord("char-lm", {}), progress=False)


def train_losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["train_loss"] for r in read_metrics(run_dir) if "train_loss" in r}


def test_resumed_run_repeats_the_uninterrupted_losses_exactly(tmp_path):
    straight = make_trainer(tmp_path / "straight", max_steps=40)
    straight.fit()
    assert straight.task.epoch >= 1            # the run crosses an epoch boundary (state reset, lr decay)

    first_half = make_trainer(tmp_path / "resumed", max_steps=17)
    first_half.fit()
    second_half = make_trainer(tmp_path / "resumed", max_steps=40)
    second_half.restore()
    assert second_half.step == 17
    second_half.fit()

    expected, resumed = train_losses(tmp_path / "straight"), train_losses(tmp_path / "resumed")
    assert sorted(resumed) == list(range(1, 41))
    assert resumed == expected                  # bit for bit, every step
    np.testing.assert_array_equal(second_half.model.parameters()["rnn.weight_hh_l1"],
                                  straight.model.parameters()["rnn.weight_hh_l1"])


def test_checkpoints_keep_best_and_last_and_hold_the_step(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=12)
    trainer.fit()
    _, meta = load_checkpoint(tmp_path)
    assert meta["trainer"]["step"] == 12
    _, best = load_checkpoint(tmp_path, which="best")
    assert best["trainer"]["best_score"] == min(r["val_loss"] for r in read_metrics(tmp_path) if "val_loss" in r)
    assert len(list((tmp_path / "checkpoints").iterdir())) <= 2


def test_checkpoints_keep_the_run_record_apart_from_the_trainer_state(tmp_path):
    trainer = Trainer(make_trainer(tmp_path / "x").task, TrainConfig(max_steps=2, sample_every=0), tmp_path / "run",
                      run=RunRecord("char-lm", {"seq_len": 10}), progress=False)
    trainer.fit()
    _, meta = load_checkpoint(tmp_path / "run")
    assert (meta["run_format"], meta["task"], meta["spec"]) == (2, "char-lm", {"seq_len": 10})
    assert meta["trainer"]["config"] == TrainConfig(max_steps=2, sample_every=0).to_json()
    assert {"step", "optimizer", "task_state", "rng", "schedule", "best_score", "evals_without_improvement",
            "log_window"} <= set(meta["trainer"])


def test_training_lowers_the_validation_loss(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=80, lr=3e-2)
    trainer.fit()
    val = [r["val_loss"] for r in read_metrics(tmp_path) if "val_loss" in r]
    assert val[-1] < val[0] - 0.5


def test_a_run_that_ends_between_validations_validates_its_final_model(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=10, lr=0.01)             # validations at 4 and 8, then 10
    result = trainer.fit()
    validations = {r["step"]: r["val_loss"] for r in read_metrics(tmp_path) if "val_loss" in r}
    assert sorted(validations) == [4, 8, 10]
    assert result["best_score"] == min(validations.values())
    _, best = load_checkpoint(tmp_path, which="best")
    assert best["trainer"]["step"] == min(validations, key=validations.get)
    assert best["trainer"]["marked_best"] == {"step": best["trainer"]["step"], "score": result["best_score"]}


def scripted(trainer: Trainer, scores: dict[int, float]) -> Trainer:
    """``trainer`` whose validation at step s reports the val_loss ``scores[s]``."""
    trainer.task.evaluate = lambda: {"val_loss": scores[trainer.step]}
    return trainer


def test_the_final_validation_leaves_early_stopping_as_the_uninterrupted_run_has_it(tmp_path):
    scores = {4: 1.0, 8: 1.1, 10: 0.1, 12: 1.2, 16: 1.3, 20: 1.4}     # the final model of a run to 10 scores best
    straight = scripted(make_trainer(tmp_path / "straight", max_steps=20, patience=2), scores).fit()
    first = scripted(make_trainer(tmp_path / "resumed", max_steps=10, patience=2), scores).fit()
    assert first["best_score"] == 0.1                                   # the final validation marked step 10 best
    resumed = scripted(make_trainer(tmp_path / "resumed", max_steps=20, patience=2), scores)
    resumed.restore()
    result = resumed.fit()
    assert straight["stop_reason"] == result["stop_reason"] == "early stopping"
    assert straight["step"] == result["step"] == 12                     # patience counts scheduled validations only
    assert train_losses(tmp_path / "resumed") == train_losses(tmp_path / "straight")
    assert load_checkpoint(tmp_path / "resumed", which="best")[1]["trainer"]["step"] == 10
    assert result["best_score"] == 0.1


def test_the_progress_total_of_an_epoch_run_is_its_batches_and_of_a_resumed_one_the_rest(tmp_path):
    trainer = make_trainer(tmp_path, epochs=3)
    per_epoch = trainer.task.batches_per_epoch
    assert per_epoch > 1 and trainer._total_steps() == 3 * per_epoch
    assert make_trainer(tmp_path / "capped", epochs=3, max_steps=5)._total_steps() == 5
    first = make_trainer(tmp_path / "resumed", epochs=3, max_steps=per_epoch + 2)
    first.fit()
    resumed = make_trainer(tmp_path / "resumed", epochs=3)
    resumed.restore()
    assert resumed._total_steps() == 3 * per_epoch


def test_early_stopping_stops_after_patience_validations(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=400, lr=1e-6, patience=2)   # too small a rate to improve
    result = trainer.fit()
    assert result["stop_reason"] == "early stopping"
    assert result["step"] < 400


def test_char_rnn_schedule_decays_the_rate_once_per_epoch(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=40, lr=1e-3)
    trainer.fit()
    rates = {r["epoch"]: r["lr"] for r in read_metrics(tmp_path) if "lr" in r}
    epochs = sorted(rates)
    assert len(epochs) >= 3
    for earlier, later in zip(epochs, epochs[1:]):
        assert np.isclose(rates[later], rates[earlier] * 0.9)


def test_monitoring_a_maximised_metric_keeps_the_highest(tmp_path):
    trainer = make_trainer(tmp_path, max_steps=12, monitor="val_accuracy")
    trainer.task.evaluate = iter([{"val_loss": 1.0, "val_accuracy": a} for a in (0.5, 0.7, 0.6)]).__next__
    result = trainer.fit()
    assert result["best_score"] == 0.7
    _, best = load_checkpoint(tmp_path, which="best")
    assert best["trainer"]["step"] == 8         # the second validation, every 4 steps


def test_log_every_averages_updates_and_resumes_exactly(tmp_path):
    per_step = make_trainer(tmp_path / "per-step", max_steps=24)
    per_step.fit()
    losses = train_losses(tmp_path / "per-step")

    make_trainer(tmp_path / "windowed", max_steps=10, log_every=4).fit()   # stops inside a window
    resumed = make_trainer(tmp_path / "windowed", max_steps=24, log_every=4)
    resumed.restore()
    resumed.fit()
    windowed = train_losses(tmp_path / "windowed")
    assert sorted(windowed) == [4, 8, 12, 16, 20, 24]
    for step, mean in windowed.items():
        assert mean == pytest.approx(np.mean([losses[s] for s in range(step - 3, step + 1)]), rel=1e-12)
