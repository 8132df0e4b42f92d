"""Two baselines a model of piano rolls must beat, scored on the model's own frames.

Every score here, as for the models, is the negative log-likelihood of frames 2 .. T of
each piece given the frames before (the first frame has no past to predict it from;
Bai et al. 2018 score the same T - 1 frames per piece), summed over the 88 keys
treated as independent Bernoulli variables and averaged over the predicted frames:

    NLL = - (1 / N) sum_pieces sum_{t=2..T} sum_k [ v_tk log p_tk + (1 - v_tk) log(1 - p_tk) ]

in nats per frame, N = sum_pieces (T - 1).

- ``MarginalKeys``: p_tk = p_k, how often key k sounds in a predicted training frame,
  with additive smoothing a:  p_k = (n_k + a) / (N + 2a).
- ``PreviousFrameKeys``: "repeat the previous frame", smoothed. Each key keeps sounding
  or stays silent as it did one frame before, with probabilities counted per key on the
  training frames:

      p_tk = P_k(on | on)   = (n_k(on -> on)  + a) / (n_k(on)  + 2a)     if v_{t-1,k} = 1
             P_k(on | off)  = (n_k(off -> on) + a) / (n_k(off) + 2a)     if v_{t-1,k} = 0

  A bare repetition (p = v_{t-1}) gives -log 0 to every change; the per-key transition
  counts are the smoothing that keeps the prediction of "same as before" and prices each
  change by how often that key changes. With a = 1/2 (Krichevsky-Trofimov) on the JSB
  chorales' test split: 11.09 (marginal) and 10.49 (previous frame).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rnnkit.data.piano_roll import check_roll
from rnnkit.errors import ConfigError, DataError
from rnnkit.losses_music import FrameScore


def bernoulli_frame_nll(probabilities: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """-sum_k [v_k log p_k + (1 - v_k) log(1 - p_k)] per frame: (T, K), (T, K) -> (T,)."""
    frames = frames.astype(bool)
    return -np.where(frames, np.log(probabilities), np.log1p(-probabilities)).sum(axis=-1)


def predicted_pairs(rolls: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(previous frames, predicted frames): frames 1 .. T-1 and 2 .. T of every piece, stacked."""
    rolls = [check_roll(roll, "rolls") for roll in rolls]
    if not rolls or all(len(roll) < 2 for roll in rolls):
        raise DataError("no piece has two frames: there is no frame to predict")
    return (np.concatenate([roll[:-1] for roll in rolls]), np.concatenate([roll[1:] for roll in rolls]))


def _check_smoothing(smoothing: float) -> float:
    if not smoothing > 0:
        raise ConfigError(f"`smoothing` must be positive (probabilities of 0 or 1 give infinite NLL), got {smoothing}")
    return float(smoothing)


class MarginalKeys:
    """p_tk = p_k: each key sounds with its training frequency, whatever came before."""

    def __init__(self, smoothing: float = 0.5):
        self.smoothing = _check_smoothing(smoothing)
        self.key_probabilities: np.ndarray | None = None     # p_k (K,)

    def fit(self, rolls: Sequence[np.ndarray]) -> MarginalKeys:
        _, frames = predicted_pairs(rolls)
        self.key_probabilities = (frames.sum(axis=0) + self.smoothing) / (len(frames) + 2 * self.smoothing)
        return self

    def probabilities(self, previous: np.ndarray) -> np.ndarray:
        """p (T, K) of the frames following ``previous`` (T, K)."""
        return np.broadcast_to(_fitted(self, self.key_probabilities), previous.shape)


class PreviousFrameKeys:
    """p_tk = P_k(on | v_{t-1,k}): each key repeats its previous state, with counted probabilities."""

    def __init__(self, smoothing: float = 0.5):
        self.smoothing = _check_smoothing(smoothing)
        self.stay_on: np.ndarray | None = None       # P_k(on | on)  (K,)
        self.turn_on: np.ndarray | None = None       # P_k(on | off) (K,)

    def fit(self, rolls: Sequence[np.ndarray]) -> PreviousFrameKeys:
        previous, frames = predicted_pairs(rolls)
        a = self.smoothing
        on_counts, off_counts = previous.sum(axis=0), (~previous).sum(axis=0)
        self.stay_on = ((previous & frames).sum(axis=0) + a) / (on_counts + 2 * a)
        self.turn_on = ((~previous & frames).sum(axis=0) + a) / (off_counts + 2 * a)
        return self

    def probabilities(self, previous: np.ndarray) -> np.ndarray:
        return np.where(previous.astype(bool), _fitted(self, self.stay_on), self.turn_on)


def _fitted(baseline, array: np.ndarray | None) -> np.ndarray:
    if array is None:
        raise ConfigError(f"{type(baseline).__name__} has not been fitted: call fit(training rolls) first")
    return array


def score(baseline: MarginalKeys | PreviousFrameKeys, rolls: Sequence[np.ndarray]) -> FrameScore:
    """The baseline's NLL of frames 2 .. T of every piece."""
    previous, frames = predicted_pairs(rolls)
    return FrameScore(float(bernoulli_frame_nll(baseline.probabilities(previous), frames).sum()), len(frames))
