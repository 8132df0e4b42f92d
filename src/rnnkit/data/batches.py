"""Batches for truncated backpropagation through time, laid out as char-rnn lays them.

The id stream is cut into ``batch_size`` equal contiguous lanes, one per batch
column::

    lane 0: ids[0  : L]          L = num_batches * seq_len
    lane 1: ids[L  : 2L]
    ...

Batch k holds the k-th window of ``seq_len`` ids of every lane: ``x`` of shape
(seq_len, batch_size), time-major, and the targets ``y``, the same windows one
character further on. Window k+1 of a lane starts right where window k ended.
So the hidden state a model ends batch k with is the right initial state for
batch k+1: the network reads each lane as one long text, while gradients flow
back at most ``seq_len`` steps. Start each epoch from a zero state. The last
few ids that do not fill a whole batch are left out.

The position (epoch, next batch) is a small JSON-able dict, so a resumed run
continues with exactly the batch it would have seen next.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from rnnkit.errors import CheckpointError, ConfigError, DataError


def split_train_val(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The first ``1 - val_fraction`` of the stream to train on, the rest to validate on.

    Contiguous, as nanoGPT splits Tiny Shakespeare: no validation text leaks into training.
    """
    if not 0 <= val_fraction < 1:
        raise ConfigError(
            f"val_fraction={val_fraction} must be at least 0 and below 1 "
            "(0.1 keeps the last 10% for validation)"
        )
    split = int(len(ids) * (1 - val_fraction))
    return ids[:split], ids[split:]


class ContiguousBatches:
    """Time-major ``(x, y)`` batches whose lanes continue from one batch to the next."""

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int) -> None:
        if batch_size < 1 or seq_len < 1:
            raise ConfigError(
                f"batch size {batch_size} and sequence length {seq_len} must both be at least 1"
            )
        ids = np.asarray(ids)
        needed = batch_size * seq_len + 1
        if len(ids) < needed:
            raise DataError(
                f"the text has {len(ids)} characters, but one batch of {batch_size} lanes "
                f"x {seq_len} steps needs {needed}: use a smaller --batch or --seq-len, "
                "or a longer text"
            )
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.num_batches = (len(ids) - 1) // (batch_size * seq_len)
        used = self.num_batches * batch_size * seq_len
        self._inputs = ids[:used].reshape(batch_size, -1)  # lane b is row b
        self._targets = ids[1 : used + 1].reshape(batch_size, -1)
        self.epoch = 0
        self.batch = 0  # the index of the next batch to hand out

    def __len__(self) -> int:
        return self.num_batches

    def batch_at(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``k`` of an epoch: inputs and targets, each of shape (seq_len, batch_size)."""
        window = slice(k * self.seq_len, (k + 1) * self.seq_len)
        return (
            np.ascontiguousarray(self._inputs[:, window].T),
            np.ascontiguousarray(self._targets[:, window].T),
        )

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The rest of the current epoch, in order; the position moves past each batch handed out."""
        for k in range(self.batch, self.num_batches):
            self.batch = k + 1
            if self.batch == self.num_batches:
                self.epoch, self.batch = self.epoch + 1, 0
            yield self.batch_at(k)

    def state_dict(self) -> dict:
        """The position, and the layout it refers to, as JSON-able data."""
        return {"epoch": self.epoch, "batch": self.batch, **self._layout()}

    def load_state_dict(self, state: dict) -> None:
        """Resume at a saved position; batch size, sequence length and batches per epoch must match."""
        saved_layout = {key: state.get(key) for key in self._layout()}
        if saved_layout != self._layout():
            raise CheckpointError(
                f"the saved data position is for batches {saved_layout}, "
                f"but these are {self._layout()}: resume with the same corpus, --batch and --seq-len"
            )
        epoch, batch = state.get("epoch"), state.get("batch")
        valid = isinstance(epoch, int) and isinstance(batch, int) and epoch >= 0
        if not (valid and 0 <= batch < self.num_batches):
            raise CheckpointError(
                f"the saved data position (epoch {epoch!r}, batch {batch!r}) is invalid for "
                f"{self.num_batches} batches per epoch: the checkpoint is damaged"
            )
        self.epoch, self.batch = epoch, batch

    def _layout(self) -> dict:
        return {
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "num_batches": self.num_batches,
        }
