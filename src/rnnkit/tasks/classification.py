"""Text classification as a training task (see ``rnnkit.training.loop``).

Texts are tokenised (words for English, characters for Chinese), numbered by a
``Vocabulary`` built on the training texts only, cut to ``max_len`` tokens, and
batched by length (``bucket_batches``): each batch is padded to its longest text
and carries the lengths, so the model reads every text only up to its own end.

The loss is the mean softmax cross-entropy over the batch, optionally with class
weights w_c against imbalance; "balanced" weights are w_c = N / (C n_c), so every
class contributes as much as it would in a balanced corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from rnnkit.data.padding import bucket_batches, pad_batch
from rnnkit.data.tokenize import Vocabulary, tokenize_chinese, tokenize_words
from rnnkit.errors import ConfigError, DataError
from rnnkit.losses import softmax, softmax_cross_entropy
from rnnkit.metrics import accuracy, confusion_matrix, precision_recall_f1
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.tasks.epochs import EpochBatches, EpochTask

TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"words": tokenize_words, "chinese": tokenize_chinese}
EVAL_BATCH = 256


@dataclass
class EncodedTexts:
    """Token-id sequences (each non-empty) and their labels."""

    sequences: list[np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences])


def tokenize(texts: Sequence[str], tokenizer: str) -> list[list[str]]:
    if tokenizer not in TOKENIZERS:
        raise ConfigError(f"unknown tokenizer {tokenizer!r}: choose one of {', '.join(TOKENIZERS)}")
    return [TOKENIZERS[tokenizer](text) for text in texts]


def encode_texts(texts: Sequence[str], tokenizer: str, vocab: Vocabulary, max_len: int) -> list[np.ndarray]:
    """Each text's first ``max_len`` token ids; a text without tokens becomes the one id <unk>."""
    encoded = []
    for tokens in tokenize(texts, tokenizer):
        ids = vocab.encode(tokens[:max_len])
        encoded.append(ids if len(ids) else np.array([Vocabulary.UNK_ID]))
    return encoded


def encode_examples(examples: Sequence[tuple[str, int]], tokenizer: str, vocab: Vocabulary,
                    max_len: int) -> EncodedTexts:
    if not examples:
        raise DataError("no examples to encode: the data file is empty")
    texts, labels = zip(*examples)
    return EncodedTexts(encode_texts(texts, tokenizer, vocab, max_len), np.asarray(labels, dtype=np.int64))


def class_weights(labels: np.ndarray, num_classes: int, spec: str) -> np.ndarray | None:
    """None for "none"; N / (C n_c) for "balanced"; else comma-separated weights, one per class."""
    if spec == "none":
        return None
    if spec == "balanced":
        counts = np.bincount(labels, minlength=num_classes)
        if np.any(counts == 0):
            raise DataError(f"class {int(np.argmin(counts))} has no training example: cannot balance weights")
        return len(labels) / (num_classes * counts)
    try:
        weights = np.array([float(w) for w in spec.split(",")])
    except ValueError:
        raise ConfigError(f"class weights {spec!r}: use none, balanced, or numbers like 1,2.5") from None
    if weights.shape != (num_classes,) or np.any(weights <= 0):
        raise ConfigError(f"class weights {spec!r}: give {num_classes} positive numbers, one per class")
    return weights


def predict_probabilities(model: SequenceClassifier, sequences: Sequence[np.ndarray],
                          batch_size: int = EVAL_BATCH) -> np.ndarray:
    """p(class | text) (N, C) in evaluation mode, batching texts of similar length together."""
    model.eval()
    probabilities = np.zeros((len(sequences), model.config.num_classes))
    for batch in bucket_batches([len(s) for s in sequences], batch_size, rng=None, shuffle=False):
        ids, lengths = pad_batch([sequences[i] for i in batch])
        probabilities[batch] = softmax(model(ids, lengths).astype(np.float64))
    model.train()
    return probabilities


def ensemble_probabilities(models: Sequence[SequenceClassifier], sequences: Sequence[np.ndarray],
                           batch_size: int = EVAL_BATCH) -> np.ndarray:
    """The mean of several classifiers' p(class | text) (N, C): an ensemble, e.g. of seeds, sharing one vocabulary."""
    if not models:
        raise ConfigError("an ensemble needs at least one model")
    return np.mean([predict_probabilities(model, sequences, batch_size) for model in models], axis=0)


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray,
                           weights: np.ndarray | None = None) -> dict:
    """Loss (mean cross-entropy), accuracy, F1 (of class 1 for two classes, else macro) and confusion matrix."""
    num_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    loss, _ = softmax_cross_entropy(np.log(np.maximum(probabilities, 1e-300)), labels, class_weights=weights)
    _, _, f1 = precision_recall_f1(labels, predicted, average="binary" if num_classes == 2 else "macro")
    return {"loss": loss, "accuracy": accuracy(labels, predicted), "f1": f1,
            "confusion": confusion_matrix(labels, predicted, num_classes)}


class ClassificationTask(EpochTask):
    def __init__(self, model: SequenceClassifier, train: EncodedTexts, val: EncodedTexts, batch_size: int,
                 seed: int = 0, weights: np.ndarray | None = None):
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        num_classes = model.config.num_classes
        for name, part in (("training", train), ("validation", val)):
            if len(part) == 0:
                raise DataError(f"the {name} set is empty")
            if part.labels.min() < 0 or part.labels.max() >= num_classes:
                raise DataError(f"{name} labels must lie in [0, {num_classes}), got up to {part.labels.max()}")
        self.model, self.train_set, self.val_set = model, train, val
        self.batch_size, self.seed, self.weights = batch_size, seed, weights
        self.batch_order = EpochBatches(self.epoch_batches)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The example indices of each batch of ``epoch``: bucketed by length, in an order fixed by seed and epoch."""
        rng = np.random.default_rng([self.seed, epoch])
        return bucket_batches(self.train_set.lengths, self.batch_size, rng)

    def train_step(self, batch: np.ndarray) -> tuple[float, int]:
        ids, lengths = pad_batch([self.train_set.sequences[i] for i in batch])
        self.model.train()
        logits = self.model(ids, lengths)
        loss, dlogits = softmax_cross_entropy(logits, self.train_set.labels[batch], class_weights=self.weights)
        self.model.backward(dlogits)
        return float(loss), len(batch)

    def evaluate(self) -> dict[str, float]:
        metrics = classification_metrics(self.val_set.labels, predict_probabilities(self.model, self.val_set.sequences),
                                          self.weights)
        return {"val_loss": metrics["loss"], "val_accuracy": metrics["accuracy"], "val_f1": metrics["f1"]}
