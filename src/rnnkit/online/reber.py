"""The embedded Reber grammar learned online, epoch by epoch, as LSTM.java's Test.java runs it.

An epoch is a training pass and a validation pass, each over a fresh stream of
``symbols`` symbols (5,000) of the grammar (``rnnkit.data.reber.stream``), drawn one
after the other from the same generator:

    training    learner.learn at every symbol (the output scored is the one before the update)
    validation  learner.predict at every symbol: the state moves on, nothing learns

Each pass starts at the grammar's state 0 with the learner's state zeroed (``reset
="pass"``, LSTM.java's ``reset_at_begining``); ``"string"`` zeroes it before every
string too, ``"never"`` carries it from pass to pass. Each pass is scored as
``rnnkit.data.reber.score``: the long-transition error is the validation's number
that says whether the grammar is solved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.data import reber
from rnnkit.errors import ConfigError
from rnnkit.online.learner import OnlineLearner

RESETS = ("pass", "string", "never")


@dataclass(frozen=True)
class ReberEpoch:
    train: reber.ReberScore
    validation: reber.ReberScore

    def to_json(self) -> dict:
        return {"train": self.train.to_json(), "validation": self.validation.to_json()}


def reber_pass(learner: OnlineLearner, rng: np.random.Generator, learn: bool,
               symbols: int = reber.SYMBOLS_PER_EPOCH, reset: str = "pass") -> reber.ReberScore:
    """One pass over a fresh stream: learning (``learn``) or only predicting. Returns its score."""
    if reset not in RESETS:
        raise ConfigError(f"`reset` must be one of {', '.join(RESETS)}, got {reset!r}")
    data = reber.stream(rng, symbols)
    if reset != "never":
        learner.reset()
    string_starts = data.states == 1 if reset == "string" else None      # state 1: just read the outer B
    outputs = learner.run(data.inputs(learner.network.dtype), data.targets if learn else None, string_starts)
    return reber.score(outputs, data)


def reber_epoch(learner: OnlineLearner, rng: np.random.Generator, symbols: int = reber.SYMBOLS_PER_EPOCH,
                reset: str = "pass") -> ReberEpoch:
    """A training pass, then a validation pass, each on its own fresh stream from ``rng``."""
    train = reber_pass(learner, rng, True, symbols, reset)
    validation = reber_pass(learner, rng, False, symbols, reset)
    return ReberEpoch(train, validation)


def streak_summary(long_errors, streak: int = 100) -> dict:
    """What a run's validation long-transition errors (one per epoch) say about solving the grammar.

    ``first_zero``: the first epoch (from 0) with no error; ``solved_at``: the first epoch of
    the first run of ``streak`` error-free epochs in a row (None if none); ``longest_streak``;
    and, over the last 100 epochs, how many were error-free and the median error.
    """
    errors = np.asarray(long_errors, float)
    zero = errors == 0.0
    first_zero = int(np.argmax(zero)) if zero.any() else None
    solved_at, longest, run = None, 0, 0
    for epoch, solved in enumerate(zero):
        run = run + 1 if solved else 0
        longest = max(longest, run)
        if run == streak and solved_at is None:
            solved_at = epoch - streak + 1
    last = errors[-100:]
    return {"epochs": len(errors), "first_zero": first_zero, "solved_at": solved_at, "longest_streak": longest,
            "zeros_in_last_100": int((last == 0.0).sum()),
            "median_last_100": float(np.median(last)) if len(last) else None}
