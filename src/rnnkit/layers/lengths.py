"""Sequences of different lengths in one padded batch: sequence b is valid for t < lengths[b].

    valid_steps(lengths, T)[t, b, 0] = t < lengths[b]          (T, B, 1), broadcasts over features

The recurrent layers (``alive``: a sequence that has ended keeps its state and
outputs zeros) and the poolings over time (which look at valid steps only) read
the same mask.
"""

from __future__ import annotations

import numpy as np


def check_lengths(lengths, steps: int, batch: int) -> np.ndarray:
    """``lengths`` as an integer array (B,), each in [1, T]; ValueError if not."""
    lengths = np.asarray(lengths)
    if (lengths.shape != (batch,) or not np.issubdtype(lengths.dtype, np.integer)
            or lengths.min() < 1 or lengths.max() > steps):
        raise ValueError(f"lengths must be {batch} integers in [1, {steps}] (one per sequence, at most the "
                         f"padded length), got {lengths.tolist()!r}")
    return lengths


def valid_steps(lengths: np.ndarray, steps: int) -> np.ndarray:
    """The mask (T, B, 1): True where t < lengths[b]."""
    return (np.arange(steps)[:, None] < lengths)[:, :, None]
