"""The part of the training-task protocol (``rnnkit.training.loop``) that tasks of shuffled
mini-batches share: epochs whose batch order depends only on the seed and the epoch number.

A subclass sets ``self.batch_order = EpochBatches(self.epoch_batches)`` (the one resumable
batch iterator, ``rnnkit.data.batches``) and writes ``epoch_batches(epoch)`` (each batch the
example indices it holds, shuffled with ``default_rng([seed, epoch])``, say), ``train_step``
and ``evaluate``.
"""

from __future__ import annotations

from rnnkit.data.batches import EpochBatches


class EpochTask:
    unit = "seq"
    batch_order: EpochBatches

    @property
    def epoch(self) -> int:
        return self.batch_order.epoch

    @property
    def batches_per_epoch(self) -> int:
        return self.batch_order.num_batches

    @property
    def batch(self) -> int:
        """The index of the next batch in its epoch."""
        return self.batch_order.batch

    def batches(self):
        return iter(self.batch_order)

    def sample(self, rng) -> None:
        return None

    def state(self) -> tuple[dict, dict]:
        return {}, self.batch_order.state_dict()

    def load_state(self, tensors: dict, state: dict) -> None:
        self.batch_order.load_state_dict(state)
