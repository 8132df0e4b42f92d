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

from typing import Callable, Iterator, Sequence

import numpy as np

from rnnkit.errors import CheckpointError, ConfigError, DataError


def split_train_val(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The first ``1 - val_fraction`` of the stream to train on, the rest to validate on.

    Contiguous, as nanoGPT splits Tiny Shakespeare: no validation text leaks into training.
    """
    if not 0 <= val_fraction < 1:
        raise ConfigError(
            f"`val_fraction` is {val_fraction}: it must be at least 0 and below 1 "
            "(0.1 keeps the last 10% for validation)"
        )
    split = int(len(ids) * (1 - val_fraction))
    return ids[:split], ids[split:]


class EpochBatches:
    """Epochs of batches, and where the walk through them stands: the one resumable batch iterator.

    ``batches_of_epoch(epoch)`` gives the batches of an epoch as a sequence (a task's shuffled
    index arrays, ordered by ``default_rng([seed, epoch])`` say, or the windows of a
    ``ContiguousBatches``). The position (epoch, next batch) is then all a checkpoint needs
    to resume with exactly the batch an uninterrupted run would have seen next; ``layout``
    (with the number of batches per epoch) says what the position refers to, and a resume
    with another layout is refused with the advice ``same`` ("resume with ...").
    """

    def __init__(self, batches_of_epoch: Callable[[int], Sequence], layout: dict | None = None,
                 same: str = "the same data and `batch_size`") -> None:
        self.batches_of_epoch = batches_of_epoch
        self.layout = {**(layout or {}), "num_batches": len(batches_of_epoch(0))}
        self.same = same
        self.epoch, self.batch = 0, 0  # the next batch is batch `batch` of epoch `epoch`

    @property
    def num_batches(self) -> int:
        return self.layout["num_batches"]

    def __iter__(self) -> Iterator:
        """The rest of the current epoch; the position moves past each batch handed out."""
        batches = self.batches_of_epoch(self.epoch)
        for k in range(self.batch, len(batches)):
            self.batch = k + 1
            if self.batch == len(batches):
                self.epoch, self.batch = self.epoch + 1, 0
            yield batches[k]

    def state_dict(self) -> dict:
        """The position, and the layout it refers to, as JSON-able data."""
        return {"epoch": self.epoch, "batch": self.batch, **self.layout}

    def load_state_dict(self, state: dict) -> None:
        """Resume at a saved position (run format 1 of the shuffled tasks called the batch "position")."""
        if not isinstance(state, dict):
            raise CheckpointError("the saved data position is not a JSON object: the checkpoint is damaged")
        saved_layout = {key: state.get(key) for key in self.layout}
        if saved_layout != self.layout:
            raise CheckpointError(
                f"the saved data position is for batches {saved_layout}, "
                f"but these are {self.layout}: resume with {self.same}"
            )
        epoch, batch = state.get("epoch"), state.get("batch", state.get("position"))
        valid = isinstance(epoch, int) and isinstance(batch, int) and epoch >= 0
        if not (valid and 0 <= batch < self.num_batches):
            raise CheckpointError(
                f"the saved data position (epoch {epoch!r}, batch {batch!r}) is invalid for "
                f"{self.num_batches} batches per epoch: the checkpoint is damaged"
            )
        self.epoch, self.batch = epoch, batch


class ContiguousBatches:
    """Time-major ``(x, y)`` batches whose lanes continue from one batch to the next.

    A sequence of the batches of an epoch (``batch_at``); iterating walks an
    ``EpochBatches`` over it, which keeps the position for resuming.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int) -> None:
        if batch_size < 1 or seq_len < 1:
            raise ConfigError(
                f"`batch_size` {batch_size} and `seq_len` {seq_len} must both be at least 1"
            )
        ids = np.asarray(ids)
        needed = batch_size * seq_len + 1
        if len(ids) < needed:
            raise DataError(
                f"the text has {len(ids)} characters, but one batch of {batch_size} lanes "
                f"x {seq_len} steps needs {needed}: use a smaller `batch_size` or `seq_len`, "
                "or a longer text"
            )
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.num_batches = (len(ids) - 1) // (batch_size * seq_len)
        used = self.num_batches * batch_size * seq_len
        self._inputs = ids[:used].reshape(batch_size, -1)  # lane b is row b
        self._targets = ids[1 : used + 1].reshape(batch_size, -1)
        self.order = EpochBatches(lambda epoch: self, {"batch_size": batch_size, "seq_len": seq_len},
                                  same="the same corpus, `batch_size` and `seq_len`")

    def __len__(self) -> int:
        return self.num_batches

    def __getitem__(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batch_at(k)

    def batch_at(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``k`` of an epoch: inputs and targets, each of shape (seq_len, batch_size)."""
        window = slice(k * self.seq_len, (k + 1) * self.seq_len)
        return (
            np.ascontiguousarray(self._inputs[:, window].T),
            np.ascontiguousarray(self._targets[:, window].T),
        )

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The rest of the current epoch, in order; the position moves past each batch handed out."""
        return iter(self.order)

    @property
    def epoch(self) -> int:
        return self.order.epoch

    @property
    def batch(self) -> int:
        """The index of the next batch to hand out."""
        return self.order.batch

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)
