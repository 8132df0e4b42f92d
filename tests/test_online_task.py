"""The online Reber task (rnnkit/tasks/online.py): a run's streams and the epochs its summary names."""

import dataclasses

import numpy as np

from rnnkit.data import reber
from rnnkit.online import OnlineConfig, build_learner, reber_epoch
from rnnkit.tasks.online import OnlineReberSpec, stream_rng, summary, train

TINY = OnlineConfig(hidden_size=3, output="linear", optimizer="adam", lr=1e-3)


def test_a_run_of_seed_s_is_the_learner_of_seed_s_on_the_streams_of_stream_rng(tmp_path):
    history = train(OnlineReberSpec(TINY, symbols=300), epochs=2, run_dir=tmp_path / "run", seed=5, echo=lambda _: None)
    learner = build_learner(dataclasses.replace(TINY), len(reber.SYMBOLS), len(reber.SYMBOLS), 5)
    rng = stream_rng(5)
    again = [reber_epoch(learner, rng, symbols=300).validation for _ in range(2)]
    assert [r["val_error"] for r in history] == [score.output_error for score in again]
    assert [r["val_long_error"] for r in history] == [score.long_error for score in again]


def test_stream_rng_is_not_the_generator_the_weights_are_drawn_from():
    assert not np.array_equal(stream_rng(0).random(8), np.random.default_rng(0).random(8))


def test_summary_names_epochs_as_the_run_numbers_them():
    errors = [0.5, 0.0, 0.2, 0.0, 0.0, 0.0]
    history = [{"step": epoch, "val_long_error": error} for epoch, error in enumerate(errors, start=1)]
    result = summary(history, streak=3)
    assert (result["first_zero"], result["solved_at"], result["longest_streak"]) == (2, 4, 3)
    assert summary(history[:3], streak=3)["solved_at"] is None
