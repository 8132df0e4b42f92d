"""The part of the training-task protocol (``rnnkit.training.loop``) that tasks of shuffled
mini-batches share: epochs whose batch order depends only on the seed and the epoch number.

A subclass sets ``self.batch_order = EpochBatches(self.epoch_batches)`` (the one resumable
batch iterator, ``rnnkit.data.batches``) and writes ``epoch_batches(epoch)`` (each batch the
example indices it holds, shuffled with ``default_rng([seed, epoch])``, say), ``train_step``
and ``evaluate``. ``TeacherForcedTask`` is the whole task of a decoder trained on whole
target sequences (translation, captioning).
"""

from __future__ import annotations

import numpy as np

from rnnkit.data.batches import EpochBatches
from rnnkit.data.padding import bucket_batches
from rnnkit.errors import ConfigError
from rnnkit.models.decoding import evaluation_mode
from rnnkit.models.seq2seq import label_smoothed_cross_entropy


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


class TeacherForcedTask(EpochTask):
    """A decoder's training on whole targets: batches of examples of similar length, in an order
    fixed by seed and epoch; a step feeds the target's tokens in (teacher forcing), takes the
    model's own loss (label smoothing included) and runs backward. Validation is the plain mean
    negative log-likelihood per target token (no smoothing, no dropout).

    A subclass says what an example's length is (``example_lengths``: what batches are bucketed
    by) and how a batch of its parts (``part.batch(indices)``) enters the model (``logits``).
    """

    unit = "token"
    eval_batch = 64

    def __init__(self, model, train, val, batch_size: int, seed: int = 0):
        if batch_size < 1:
            raise ConfigError(f"`batch_size` must be at least 1, got {batch_size}")
        self.model, self.train_set, self.val_set = model, train, val
        self.batch_size, self.seed = batch_size, seed
        self.lengths = self.example_lengths(train)
        self.batch_order = EpochBatches(self.epoch_batches)

    def example_lengths(self, part) -> list[int]:
        raise NotImplementedError

    def logits(self, batch) -> np.ndarray:
        raise NotImplementedError

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        return bucket_batches(self.lengths, self.batch_size, rng)

    def train_step(self, indices: np.ndarray) -> tuple[float, int]:
        batch = self.train_set.batch(indices)
        self.model.train()
        loss, dlogits = self.model.loss(self.logits(batch), batch)
        self.model.backward(dlogits)
        return float(loss), int(batch.target_tokens)

    def held_out_loss(self, part) -> float:
        """Mean negative log-likelihood per target token of ``part``."""
        total = tokens = 0.0
        with evaluation_mode(self.model):
            for indices in bucket_batches(self.example_lengths(part), self.eval_batch, None, shuffle=False):
                batch = part.batch(indices)
                loss, _ = label_smoothed_cross_entropy(self.logits(batch), batch.target_outputs, batch.target_mask)
                total, tokens = total + loss * batch.target_tokens, tokens + batch.target_tokens
        return total / max(tokens, 1)

    def evaluate(self) -> dict[str, float]:
        return {"val_loss": self.held_out_loss(self.val_set)}
