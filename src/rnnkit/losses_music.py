"""The loss of a piano-roll model: negative log-likelihood in nats per predicted frame.

A model of frames gives log p_tb = log p(v_tb | v_<t,b), the log-probability of frame t
of piece b given the frames before (``rnnkit.models.music``). Over a padded batch,
with m_tb = 1 for the frames that count and 0 otherwise,

    L = - (1 / N) sum_{t,b} m_tb log p_tb          N = sum_{t,b} m_tb
    dL / d log p_tb = - m_tb / N

The frames that count (``scored_frames``): t < lengths[b], and t >= 1 unless
``first_frame``. Bai et al. 2018 (and ``rnnkit.baselines_music``) score frames 2 .. T
of each piece, whose past is not empty; a model that also learns how pieces begin
(to generate from nothing) can train with ``first_frame=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import DataError
from rnnkit.layers.lengths import check_lengths, valid_steps


@dataclass(frozen=True)
class FrameScore:
    """A summed NLL (nats) over ``frames`` scored frames."""

    total_nats: float
    frames: int

    @property
    def nats_per_frame(self) -> float:
        return self.total_nats / self.frames


def scored_frames(lengths: np.ndarray, steps: int, first_frame: bool = False) -> np.ndarray:
    """The mask m (T, B) of frames that count: within each piece, and past its first frame unless ``first_frame``."""
    lengths = check_lengths(lengths, steps, len(lengths))
    mask = valid_steps(lengths, steps)[:, :, 0]
    if not first_frame:
        mask[0] = False
    return mask


def frame_nll(log_probs: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    """(L, dL/d log p) for log-probabilities (T, B) of frames and the mask (T, B) of those that count."""
    if mask.shape != log_probs.shape:
        raise ValueError(f"mask: expected shape {log_probs.shape} (log_probs'), got {mask.shape}")
    count = int(mask.sum())
    if count == 0:
        raise DataError("no frame to score: every piece of the batch has a single frame")
    weights = mask.astype(log_probs.dtype) / log_probs.dtype.type(count)
    return -float(np.sum(weights * log_probs, dtype=np.float64)), -weights
