"""The embedded Reber grammar learned online (rnnkit/online/reber.py): LSTM.java's epoch of two passes."""

import numpy as np
import pytest

from rnnkit.data import reber
from rnnkit.errors import ConfigError
from rnnkit.online import OnlineConfig, build_learner, reber_epoch, reber_pass
from rnnkit.online.reber import streak_summary


def small_learner(**options):
    config = OnlineConfig(hidden_size=4, optimizer="adam", lr=0.01, forget_bias=1.0, **options)
    return build_learner(config, len(reber.SYMBOLS), len(reber.SYMBOLS), seed=0)


def test_an_epoch_is_a_training_pass_then_a_validation_pass_on_fresh_streams():
    learner = small_learner()
    rng, same = np.random.default_rng(0), np.random.default_rng(0)
    epoch = reber_epoch(learner, rng, symbols=400)
    training, validation = reber.stream(same, 400), reber.stream(same, 400)
    assert not np.array_equal(training.symbols, validation.symbols)
    assert epoch.train.steps == epoch.validation.steps == 400
    assert epoch.validation.long_transitions == int(validation.long.sum())
    assert set(epoch.to_json()) == {"train", "validation"}
    assert learner.steps_learned == 400


def test_validation_learns_nothing_and_starts_from_a_zero_state():
    learner = small_learner()
    reber_pass(learner, np.random.default_rng(1), learn=True, symbols=300)
    theta = learner.network.theta.copy()
    first = reber_pass(learner, np.random.default_rng(2), learn=False, symbols=300)
    again = reber_pass(learner, np.random.default_rng(2), learn=False, symbols=300)
    assert np.array_equal(theta, learner.network.theta) and first == again


def test_state_resets_as_the_task_says():
    rng = np.random.default_rng(3)
    data = reber.stream(np.random.default_rng(3), 200)
    learner = small_learner()
    reber_pass(learner, rng, learn=False, symbols=200, reset="string")
    by_string = learner.run(data.inputs(), resets=data.states == 1)
    learner.reset()
    carried = learner.run(data.inputs())
    starts = np.flatnonzero(data.states == 1)
    assert np.array_equal(by_string[:starts[1]], carried[:starts[1]])     # the same until the 2nd string
    assert not np.array_equal(by_string, carried)
    learner.run(data.inputs())
    state = tuple(s.copy() for s in learner.step.state)
    reber_pass(learner, np.random.default_rng(4), learn=False, symbols=1, reset="never")
    assert state[1].any() and all(np.array_equal(a, b) for a, b in zip(learner.step.previous, state))
    with pytest.raises(ConfigError, match="`reset`"):
        reber_pass(learner, rng, learn=False, reset="sometimes")


def test_streak_summary_finds_the_first_run_of_solved_epochs():
    errors = [0.5, 0.0, 0.1, 0.0, 0.0, 0.0, 0.2, 0.0]
    summary = streak_summary(errors, streak=3)
    assert summary == {"epochs": 8, "first_zero": 1, "solved_at": 3, "longest_streak": 3,
                       "zeros_in_last_100": 5, "median_last_100": 0.0}
    assert streak_summary([0.5, 0.0], streak=3)["solved_at"] is None
