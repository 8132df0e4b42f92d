"""Pooling over time: one vector per sequence from a padded (T, B, H) recurrent output.

Sequence b of a padded batch is valid for t < L_b (``lengths``); with the mask
m_tb = [t < L_b] (``rnnkit.layers.lengths.valid_steps``) the three poolings are

    last:   p_b = y[L_b - 1, b]                       (the final state)
    mean:   p_b = (1 / L_b) sum_t m_tb y[t, b]
    max:    p_b = max_{t : m_tb} y[t, b]              (per feature)

and their backward passes route dL/dp_b back to the steps that produced it:

    last:   dy[L_b - 1, b] = dp_b
    mean:   dy[t, b]       = m_tb dp_b / L_b
    max:    dy[t, b, j]    = dp_bj  where t is the (first) argmax of feature j, else 0

For a bidirectional output [forward | backward] (``num_directions=2``) the final
state of the backward direction, which reads sequence b from L_b - 1 down to 0, is
its output at step 0, so "last" takes y[L_b - 1, b, :H] and y[0, b, H:]: the same
vectors as the layer's h_n. Without ``lengths`` every sequence is valid for all T steps.
"""

from __future__ import annotations

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.layers.lengths import check_lengths, valid_steps
from rnnkit.module import Module


def full_lengths(lengths: np.ndarray | None, steps: int, batch: int) -> np.ndarray:
    """``lengths``, or T for every sequence when None, after checking they fit (T, B)."""
    if lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    return check_lengths(lengths, steps, batch)


class TimePooling(Module):
    """Base of the poolings: no parameters, ``pooled = pool(y, lengths)``, ``dy = pool.backward(dpooled)``."""

    def __init__(self, num_directions: int = 1):
        super().__init__()
        if num_directions not in (1, 2):
            raise ValueError(f"num_directions must be 1 or 2, got {num_directions}")
        self.num_directions = num_directions
        self._shape: tuple | None = None

    def forward(self, y: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """(T, B, H) padded outputs -> (B, H) pooled vectors."""
        if y.ndim != 3:
            raise ValueError(f"y must be (T, B, H), got shape {y.shape}")
        steps, batch, _ = y.shape
        self._shape = y.shape
        return self._pool(y, full_lengths(lengths, steps, batch))

    def backward(self, dpooled: np.ndarray) -> np.ndarray:
        """dL/dpooled (B, H) -> dL/dy (T, B, H), zero at padded steps."""
        if self._shape is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        if dpooled.shape != (self._shape[1], self._shape[2]):
            raise ValueError(f"dpooled: expected shape {(self._shape[1], self._shape[2])}, got {dpooled.shape}")
        return self._unpool(dpooled)


class StepSelection(TimePooling):
    """A pooling that picks one step per (sequence, feature): ``self._steps`` (B, H) says which."""

    def _pool(self, y, lengths):
        self._steps = self._select(y, lengths)
        return np.take_along_axis(y, self._steps[None], axis=0)[0]

    def _unpool(self, dpooled):
        dy = np.zeros(self._shape, dpooled.dtype)
        np.put_along_axis(dy, self._steps[None], dpooled[None], axis=0)
        return dy


class LastPooling(StepSelection):
    """The final state of each direction: y[L_b - 1, b, :H] (forward) and y[0, b, H:] (backward)."""

    def _select(self, y, lengths):
        return self._final_steps(lengths, y.shape[2])

    def _final_steps(self, lengths, features):
        steps = np.repeat((lengths - 1)[:, None], features, axis=1)
        if self.num_directions == 2:
            if features % 2:
                raise ValueError(f"a bidirectional output has an even feature size, got {features}")
            steps[:, features // 2:] = 0
        return steps


class MeanPooling(TimePooling):
    """The mean of the valid steps: (1 / L_b) sum_{t < L_b} y[t, b]."""

    def _pool(self, y, lengths):
        self._weights = valid_steps(lengths, len(y)) / lengths[None, :, None].astype(y.dtype)
        return np.sum(y * self._weights, axis=0)

    def _unpool(self, dpooled):
        return (self._weights * dpooled[None]).astype(dpooled.dtype)


class MaxPooling(StepSelection):
    """The largest value of each feature over the valid steps (the first such step on ties)."""

    def _select(self, y, lengths):
        return np.argmax(np.where(valid_steps(lengths, len(y)), y, -np.inf), axis=0)


POOLINGS = {"last": LastPooling, "mean": MeanPooling, "max": MaxPooling}


def make_pooling(name: str, num_directions: int = 1) -> TimePooling:
    if name not in POOLINGS:
        raise ConfigError(f"unknown pooling {name!r}: choose one of {', '.join(POOLINGS)}")
    return POOLINGS[name](num_directions)
