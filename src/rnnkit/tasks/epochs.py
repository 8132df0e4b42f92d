"""Epochs of mini-batches whose order depends only on the seed and the epoch number.

A task hands ``EpochBatches`` a function ``epoch -> list of batches`` (each batch
the example indices it holds, shuffled with ``default_rng([seed, epoch])``, say). The
position (epoch, next batch) is then all a checkpoint needs to resume with exactly
the batch an uninterrupted run would have seen next.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from rnnkit.errors import CheckpointError


class EpochBatches:
    def __init__(self, batches_of_epoch: Callable[[int], list[np.ndarray]]):
        self.batches_of_epoch = batches_of_epoch
        self.num_batches = len(batches_of_epoch(0))
        self.epoch, self.position = 0, 0       # the next batch is batch `position` of epoch `epoch`

    def __iter__(self) -> Iterator[np.ndarray]:
        """The rest of the current epoch; the position moves past each batch handed out."""
        batches = self.batches_of_epoch(self.epoch)
        for k in range(self.position, len(batches)):
            self.position = k + 1
            if self.position == len(batches):
                self.epoch, self.position = self.epoch + 1, 0
            yield batches[k]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "num_batches": self.num_batches}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or state.get("num_batches") != self.num_batches:
            saved = state.get("num_batches") if isinstance(state, dict) else None
            raise CheckpointError(f"the saved data position is for {saved} batches per epoch, these data give "
                                  f"{self.num_batches}: resume with the same data and --batch")
        epoch, position = state.get("epoch"), state.get("position")
        if not (isinstance(epoch, int) and isinstance(position, int) and epoch >= 0
                and 0 <= position < self.num_batches):
            raise CheckpointError(f"the saved data position (epoch {epoch!r}, batch {position!r}) is invalid: "
                                  "the checkpoint is damaged")
        self.epoch, self.position = epoch, position


class EpochTask:
    """The part of the training-task protocol (``rnnkit.training.loop``) that a task walking
    ``EpochBatches`` shares: a subclass sets ``self.batch_order = EpochBatches(self.epoch_batches)``
    and writes ``epoch_batches``, ``train_step`` and ``evaluate``."""

    unit = "seq"
    batch_order: EpochBatches

    @property
    def epoch(self) -> int:
        return self.batch_order.epoch

    def batches(self):
        return iter(self.batch_order)

    def sample(self, rng) -> None:
        return None

    def state(self) -> tuple[dict, dict]:
        return {}, self.batch_order.state_dict()

    def load_state(self, tensors: dict, state: dict) -> None:
        self.batch_order.load_state_dict(state)
