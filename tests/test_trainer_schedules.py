"""The plateau schedule inside the Trainer: when the rate decays, read from metrics.jsonl.

The Trainer steps the plateau schedule once per validation (every ``eval_every`` updates)
with the validation loss; after more than ``plateau_patience`` validations in a row
without improvement, the rate is multiplied by ``decay``. The rate logged at step s is
the one update s used, so a decay decided at the validation after step s shows from
step s + 1 on.
"""

import numpy as np
import pytest

from rnnkit.data.batches import split_train_val
from rnnkit.data.vocab import CharVocab
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks.language_model import LanguageModelTask
from rnnkit.training.config import TrainConfig
from rnnkit.training.loop import Trainer
from rnnkit.training.metrics_log import read_metrics
from rnnkit.training.run_meta import RunRecord

TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n" * 8
LR, DECAY, EVAL_EVERY = 0.01, 0.5, 2


def make_trainer(run_dir, **options) -> Trainer:
    vocab = CharVocab(TEXT)
    train_ids, val_ids = split_train_val(vocab.encode(TEXT))
    model = CharLM(CharLMConfig(vocab_size=len(vocab), cell="gru", hidden_size=6, num_layers=1, embedding_dim=4),
                   rng=0)
    task = LanguageModelTask(model, vocab, train_ids, val_ids, batch_size=4, seq_len=8, sample_length=10)
    config = TrainConfig(**({"epochs": 100, "lr": LR, "schedule": "plateau", "decay": DECAY,
                             "eval_every": EVAL_EVERY, "checkpoint_every": 1000, "sample_every": 0} | options))
    return Trainer(task, config, run_dir, RunRecord("char-lm", {}), progress=False)


def logged_rates(run_dir) -> dict[int, float]:
    return {r["step"]: r["lr"] for r in read_metrics(run_dir) if "lr" in r}


def scripted(trainer, losses_by_validation):
    """Make validation report ``losses_by_validation[k]`` at the (k+1)-th validation, whenever it runs."""
    trainer.task.evaluate = lambda: {"val_loss": losses_by_validation[trainer.step // EVAL_EVERY - 1]}


# validation:  1    2    3    4    5    6    7    8    9    10   11   12
# after step:  2    4    6    8    10   12   14   16   18   20   22   24
SCRIPT = [3.0, 2.0, 2.5, 2.4, 2.2, 2.1, 2.05, 1.0, 1.2, 1.1, 1.0, 1.0]


@pytest.mark.parametrize("patience, decays_after", [
    # best 2.0 at validation 2; 3, 4 tolerated, 5 decays (step 10); 6, 7 tolerated (2.05 is no
    # improvement on 2.0), 8 improves, 9, 10 tolerated, 11 decays (step 22; 1.0 is no improvement on 1.0)
    (2, [10, 22]),
    # 3, 4, 5 tolerated, 6 decays (step 12); 7 tolerated, 8 improves, 9, 10, 11 tolerated, 12 decays (step 24)
    (3, [12, 24]),
    # every validation without improvement decays: 3, 4, 5, 6, 7 (steps 6-14), 9, 10, 11, 12 (steps 18-24)
    (0, [6, 8, 10, 12, 14, 18, 20, 22, 24]),
])
def test_plateau_decays_the_rate_after_plateau_patience_validations_without_improvement(
        tmp_path, patience, decays_after):
    trainer = make_trainer(tmp_path, max_steps=24, plateau_patience=patience)
    scripted(trainer, SCRIPT)
    trainer.fit()
    rates = logged_rates(tmp_path)
    assert sorted(rates) == list(range(1, 25))
    for step in range(1, 25):
        decays = sum(1 for decided in decays_after if decided < step)
        assert rates[step] == pytest.approx(LR * DECAY**decays, rel=1e-12), f"step {step}"
    assert trainer.optimizer.lr == pytest.approx(LR * DECAY ** len(decays_after), rel=1e-12)


def test_plateau_decays_when_real_training_stops_improving(tmp_path):
    """No script: a rate of 1e-7 moves the validation loss by far less than the schedule's relative
    threshold of 1e-4, so every validation after the first counts as no improvement."""
    trainer = make_trainer(tmp_path, max_steps=16, lr=1e-7, plateau_patience=1)
    trainer.fit()
    val = [r["val_loss"] for r in read_metrics(tmp_path) if "val_loss" in r]
    assert len(val) == 8 and max(val) - min(val) < 1e-4 * min(val)
    rates = logged_rates(tmp_path)
    # validations after steps 2, 4, ...: the first sets the best; the 2nd is tolerated, the 3rd decays (step 6),
    # the 4th is tolerated, the 5th decays (step 10), the 7th (step 14)
    expected = {step: 1e-7 * DECAY ** sum(1 for decided in (6, 10, 14) if decided < step) for step in range(1, 17)}
    assert rates == pytest.approx(expected, rel=1e-12)


def test_plateau_counting_survives_a_resume(tmp_path):
    """Stopped between the validations that count towards a decay, a resumed run decays at the same step."""
    straight = make_trainer(tmp_path / "straight", max_steps=24)
    scripted(straight, SCRIPT)
    straight.fit()

    first = make_trainer(tmp_path / "resumed", max_steps=9)          # after validation 4: two without improvement
    scripted(first, SCRIPT)
    first.fit()
    assert first.schedule.bad_epochs == 2 and first.optimizer.lr == LR
    second = make_trainer(tmp_path / "resumed", max_steps=24)
    scripted(second, SCRIPT)
    second.restore()
    assert second.step == 9 and second.schedule.bad_epochs == 2 and second.schedule.best == 2.0
    second.fit()
    assert logged_rates(tmp_path / "resumed") == logged_rates(tmp_path / "straight")
    np.testing.assert_array_equal(second.optimizer.lr, straight.optimizer.lr)
