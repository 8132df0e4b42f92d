"""Zoneout (Krueger et al. 2016): each unit of a recurrent state keeps its previous value with probability p.

For one state s of a layer (the LSTM's h and c apart, each with its own p; the GRU's
and the RNN's h), with s~_t the value the cell computes at step t from s_{t-1}:

    training:    s_t = d_t * s_{t-1} + (1 - d_t) * s~_t       d_t ~ Bernoulli(p): per unit, step and sequence
    evaluation:  s_t = p * s_{t-1} + (1 - p) * s~_t           the expectation over d_t

s_t is what the next step reads and, for h, the layer's output y_t. The LSTM's
h~_t = o * tanh(c~_t) reads the cell's own new c~_t, not the zoned-out c_t, as in the
paper. Backward, given ds_t (w.r.t. s_t, from the output and from step t+1):

    ds~_t      = ds_t - d_t * ds_t          into the cell's backward step ((1 - d_t) * ds_t)
    ds_{t-1}  += d_t * ds_t                 around the cell

with d_t = p in evaluation. A step past a sequence's end keeps the whole state (d_t = 1
there), as ``rnnkit.layers.time_loop`` does without zoneout. The time loop mixes the
states after each step, whichever steps ran it (the NumPy reference or the compiled
kernels), so zoneout needs nothing from the kernels; ``Stepper`` (generation, evaluation
mode) mixes with the expectation, so that stepping equals ``forward`` in evaluation mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Zoneout:
    """How one state of one sequence is zoned out: the drawn d_t in training, the expectation p in evaluation."""

    p: float
    kept: np.ndarray | None     # (T, B, N) 0/1 in the layer's dtype: d_t, 1 where a unit keeps s_{t-1}; None: evaluation

    @classmethod
    def draw(cls, rng: np.random.Generator, p: float, shape: tuple[int, int, int], training: bool,
             dtype=np.float32) -> Zoneout | None:
        """d_t for a (T, B, N) state sequence from ``rng`` (training; float32 draws, a third faster than
        float64's for these T*B*N of them), or the expectation; None when p = 0."""
        if p == 0.0:
            return None
        return cls(p, (rng.random(shape, dtype=np.float32) < p).astype(dtype) if training else None)

    def mix(self, previous: np.ndarray, new: np.ndarray, t: int) -> None:
        """s_t = d_t * s_{t-1} + (1 - d_t) * s~_t, written over ``new`` (which holds s~_t).

        In training, as new - new * d_t + previous * d_t: exactly s_{t-1} or s~_t for finite
        values, and without a branch per unit (``np.putmask`` took 4x as long, its branches
        mispredicted on the random d_t; measured on (32, 256) steps).
        """
        if self.kept is not None:
            kept = self.kept[t]
            new -= new * kept
            new += previous * kept
            return
        new *= 1.0 - self.p
        new += self.p * previous

    def around(self, t: int, alive_t: np.ndarray | None, dtype):
        """d_t as the factor of ds_t that goes around step t (ds~_t = ds_t - d_t * ds_t goes through the
        cell's step); 1 past a sequence's end (``alive_t`` (B, 1) false)."""
        dtype = np.dtype(dtype)
        if self.kept is not None:
            return self.kept[t] if alive_t is None else np.where(alive_t, self.kept[t], dtype.type(1.0))
        if alive_t is None:
            return dtype.type(self.p)
        return np.where(alive_t, dtype.type(self.p), dtype.type(1.0))


def mix_states(states: Sequence[np.ndarray], zoneouts: Sequence[Zoneout | None], t: int) -> None:
    """Zone out step t of every state buffer (index t: before the step, t+1: after it) that has a ``Zoneout``."""
    for buffer, zoneout in zip(states, zoneouts):
        if zoneout is not None:
            zoneout.mix(buffer[t], buffer[t + 1], t)
