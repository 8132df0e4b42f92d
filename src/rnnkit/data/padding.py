"""Batches of variable-length token sequences: padding, and bucketing by length.

A batch of B sequences of lengths L_1 ... L_B becomes one (T, B) array of ids with
T = max_b L_b, where column b holds sequence b followed by ``T - L_b`` pad ids. The
lengths go along, so that a masked recurrence stops updating sequence b after step L_b.
Padding costs ``sum_b (T - L_b)`` wasted steps; ``bucket_batches`` keeps that small by
putting sequences of similar length in the same batch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rnnkit.errors import ConfigError, DataError


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int = 0, time_major: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of ids into one padded int64 array.

    Returns ``ids`` of shape (T, B) (or (B, T) when ``time_major`` is False) and
    ``lengths`` of shape (B,), where T is the longest length.
    """
    if len(sequences) == 0:
        raise DataError("pad_batch got an empty batch: pass at least one sequence")
    lengths = np.array([len(sequence) for sequence in sequences], dtype=np.int64)
    if np.any(lengths == 0):
        empty = int(np.argmin(lengths))
        raise DataError(f"sequence {empty} of the batch is empty: drop empty texts before batching")
    ids = np.full((len(sequences), int(lengths.max())), pad_id, dtype=np.int64)
    for row, sequence in zip(ids, sequences):
        row[: len(sequence)] = sequence
    return (ids.T.copy() if time_major else ids), lengths


def bucket_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None, shuffle: bool = True
) -> list[np.ndarray]:
    """Split example indices into batches of similar sequence length.

    The indices are sorted by length (ties broken at random when ``shuffle``) and cut
    into consecutive batches of ``batch_size`` (the last one may be smaller); with
    ``shuffle`` the order of the batches is then shuffled, so an epoch does not run from
    short to long sequences. Without ``shuffle`` the result is deterministic and ``rng``
    is not used.
    """
    if batch_size < 1:
        raise ConfigError(f"`batch_size` is {batch_size}: it must be at least 1")
    lengths = np.asarray(lengths)
    tie_breaker = rng.random(len(lengths)) if shuffle else np.arange(len(lengths))
    order = np.lexsort((tie_breaker, lengths))  # by length, then by tie_breaker
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
