"""Synthetic long-time-lag problems: the adding problem, copy memory, temporal order.

Each generator draws a batch of fresh sequences from ``rng`` and returns a
``MemoryBatch``: inputs ``x`` (T, B, I) time-major, zero past each sequence's length,
``lengths`` (B,), and targets. ``T`` (``length``) sets the time lag to bridge.

Adding problem (Hochreiter & Schmidhuber 1997, experiment 4). Each step reads a pair
(value, marker), the value uniform in [-1, 1]. A sequence's length is drawn from
[T, T + T/10]. One of the first ten pairs is marked (its value X1), then one of the
first T/2 - 1 pairs not yet marked (X2); the markers of the first and last pair are
-1 unless marked, all others 0 (and the value is 0 when the very first pair is a marked one).
The target, read at the last step, is

    y = 0.5 + (X1 + X2) / 4                       solved: |prediction - y| < 0.04

``variant="tcn2018"`` is the form of Le et al. 2015 and Bai et al. 2018 (TCN): length
exactly T, values uniform in [0, 1], one marker in each half, target X1 + X2 (always
predicting 1 gives MSE 1/6; TCN reports 0.1767).

Copy memory (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016's form, as TCN 2018):
T + 20 steps: ten symbols drawn from 1..8, T - 1 blanks (0), the delimiter 9, ten
blanks. The target is blank for the first T + 10 steps, then the ten symbols again.
Inputs are one-hot over the 10 symbols; guessing blanks and then uniformly among 8
gives cross-entropy 10 log 8 / (T + 20) per step.

Temporal order (Hochreiter & Schmidhuber 1997, experiment 6a; ``relevant=3`` is 6b).
Symbols a, b, c, d, X, Y, B, E one-hot; a sequence of length in [T, T + T/10] starts
with E, ends with B, and is otherwise random among a-d, but for X or Y at positions
t1 in [0.1 T, 0.2 T] and t2 in [0.5 T, 0.6 T] (6b: t1, t2 in [0.33 T, 0.43 T],
t3 in [0.66 T, 0.76 T]). The class, read at the last step, is the order of the X/Y
symbols written as a binary number, X = 0 and Y = 1 (XX, XY, YX, YY = 0, 1, 2, 3:
the paper's Q, R, S, U).

Embedded Reber grammar (Hochreiter & Schmidhuber 1997, experiment 1; the grammar and its
never-reset stream are ``rnnkit.data.reber``'s): each sequence is T symbols of the
stream from its start state, one-hot over B T P S X V E; the target at each step is the
set of symbols that may come next (a 0/1 7-vector). The lag to bridge is the inner
string's length, which T does not set; T only sets how many strings a sequence holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.data import reber
from rnnkit.errors import ConfigError

ADDING_VARIANTS = ("hochreiter1997", "tcn2018")
ADDING_TOLERANCE = 0.04
COPY_SYMBOLS, COPY_COUNT, COPY_BLANK, COPY_DELIMITER = 8, 10, 0, 9
ORDER_SYMBOLS = "abcdXYBE"
ORDER_WINDOWS = {2: ((0.1, 0.2), (0.5, 0.6)), 3: ((0.1, 0.2), (0.33, 0.43), (0.66, 0.76))}


@dataclass
class MemoryBatch:
    """A batch of one memory task."""

    x: np.ndarray          # (T_max, B, I): inputs, zero past each length
    lengths: np.ndarray    # (B,) int: each sequence's length
    targets: np.ndarray    # adding (B,) float; temporal order (B,) int class; copy (T_max, B) int per step;
                           # Reber (T, B, 7) float: 1 for each symbol that may follow


def check_batch_and_length(batch: int, length: int, shortest: int) -> None:
    for name, value, low in (("batch", batch, 1), ("length", length, shortest)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"`{name}` must be an integer of at least {low}, got {value!r}")


def drawn_lengths(rng, batch: int, length: int) -> np.ndarray:
    """Lengths uniform in [T, T + T // 10]."""
    return rng.integers(length, length + length // 10 + 1, batch)


def adding_problem(batch: int, length: int, rng=None, variant: str = "hochreiter1997",
                   dtype=np.float32) -> MemoryBatch:
    """A batch of the adding problem (see the module); ``targets`` (B,) the value to output at the end."""
    if variant not in ADDING_VARIANTS:
        raise ConfigError(f"`variant` must be one of {', '.join(ADDING_VARIANTS)}, got {variant!r}")
    check_batch_and_length(batch, length, 4 if variant == "tcn2018" else 22)
    rng = np.random.default_rng(rng)
    if variant == "tcn2018":
        return adding_tcn(batch, length, rng, dtype)
    lengths = drawn_lengths(rng, batch, length)
    x = np.zeros((lengths.max(), batch, 2), dtype)
    rows = np.arange(batch)
    values = rng.uniform(-1.0, 1.0, (lengths.max(), batch))
    x[:, :, 0] = values * (np.arange(lengths.max())[:, None] < lengths)
    first = rng.integers(0, 10, batch)
    second = second_marks(rng, first, length // 2)
    x[0, :, 1] = -1.0
    x[lengths - 1, rows, 1] = -1.0
    x[first, rows, 1] = 1.0
    x[second, rows, 1] = 1.0
    x[0, x[0, :, 1] == 1.0, 0] = 0.0                    # a marked first pair has value 0
    targets = 0.5 + (x[first, rows, 0] + x[second, rows, 0]) / 4.0
    return MemoryBatch(x, lengths, targets.astype(dtype))


def second_marks(rng, first: np.ndarray, span: int) -> np.ndarray:
    """One of positions 0 .. span-1 other than ``first`` (the first span - 1 unmarked pairs), uniformly."""
    draws = rng.integers(0, span - 1, len(first))
    return draws + (draws >= first)


def adding_tcn(batch: int, length: int, rng, dtype) -> MemoryBatch:
    half = length // 2
    values = rng.uniform(0.0, 1.0, (length, batch))
    first, second = rng.integers(0, half, batch), rng.integers(half, length, batch)
    x = np.zeros((length, batch, 2), dtype)
    x[:, :, 0] = values
    rows = np.arange(batch)
    x[first, rows, 1] = x[second, rows, 1] = 1.0
    targets = values[first, rows] + values[second, rows]
    return MemoryBatch(x, np.full(batch, length), targets.astype(dtype))


def copy_memory(batch: int, length: int, rng=None, dtype=np.float32) -> MemoryBatch:
    """A batch of copy memory (see the module): ``targets`` (T + 20, B) the symbol due at each step."""
    check_batch_and_length(batch, length, 1)
    rng = np.random.default_rng(rng)
    steps = length + 2 * COPY_COUNT
    symbols = rng.integers(1, COPY_SYMBOLS + 1, (COPY_COUNT, batch))
    ids = np.full((steps, batch), COPY_BLANK)
    ids[:COPY_COUNT] = symbols
    ids[length + COPY_COUNT - 1] = COPY_DELIMITER
    targets = np.full((steps, batch), COPY_BLANK)
    targets[-COPY_COUNT:] = symbols
    x = np.eye(COPY_DELIMITER + 1, dtype=dtype)[ids]
    return MemoryBatch(x, np.full(batch, steps), targets)


def copy_memory_baseline(length: int) -> float:
    """Cross-entropy per step of blanks then a uniform guess among the 8 symbols: 10 log 8 / (T + 20)."""
    return COPY_COUNT * np.log(COPY_SYMBOLS) / (length + 2 * COPY_COUNT)


def temporal_order(batch: int, length: int, rng=None, relevant: int = 2, dtype=np.float32) -> MemoryBatch:
    """A batch of temporal order (see the module); ``targets`` (B,) the class in 0 .. 2**relevant - 1."""
    if relevant not in ORDER_WINDOWS:
        raise ConfigError(f"`relevant` must be 2 or 3 (experiments 6a, 6b), got {relevant!r}")
    check_batch_and_length(batch, length, 20)
    rng = np.random.default_rng(rng)
    lengths = drawn_lengths(rng, batch, length)
    ids = rng.integers(0, 4, (lengths.max(), batch))                       # a, b, c, d
    rows = np.arange(batch)
    ids[0] = ORDER_SYMBOLS.index("E")
    ids[lengths - 1, rows] = ORDER_SYMBOLS.index("B")
    bits = rng.integers(0, 2, (relevant, batch))                           # X = 0, Y = 1
    for (low, high), bit in zip(ORDER_WINDOWS[relevant], bits):
        positions = rng.integers(int(low * length), int(high * length) + 1, batch)
        ids[positions, rows] = ORDER_SYMBOLS.index("X") + bit
    x = np.eye(len(ORDER_SYMBOLS), dtype=dtype)[ids]
    x *= (np.arange(lengths.max())[:, None] < lengths)[..., None]
    classes = (bits * (2 ** np.arange(relevant)[::-1, None])).sum(axis=0)
    return MemoryBatch(x, lengths, classes)


def embedded_reber(batch: int, length: int, rng=None, dtype=np.float32) -> MemoryBatch:
    """A batch of the embedded Reber stream (see the module): ``targets`` (T, B, 7) the next-symbol sets."""
    check_batch_and_length(batch, length, 1)
    rng = np.random.default_rng(rng)
    streams = [reber.stream(rng, length) for _ in range(batch)]
    x = np.stack([stream.inputs(dtype) for stream in streams], axis=1)
    targets = np.stack([stream.targets for stream in streams], axis=1).astype(dtype)
    return MemoryBatch(x, np.full(batch, length), targets)
