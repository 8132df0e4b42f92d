"""Bag-of-words logistic regression: the baseline a recurrent text classifier must beat.

A text becomes a vector x over the vocabulary: x_v = 1 if token v occurs in it
(``binary=True``) or x_v = the number of times it occurs. The model is

    p(y = 1 | x) = sigmoid(w . x + b)

fitted by minimising the mean binary cross-entropy plus an L2 penalty on w,

    L = -(1/N) sum_n [y_n log p_n + (1 - y_n) log(1 - p_n)] + (l2 / 2) |w|^2

whose gradient is dL/dw = (1/N) X^T (p - y) + l2 w and dL/db = (1/N) sum_n (p_n - y_n).
Training is full-batch gradient descent with heavy-ball momentum:
v <- momentum v - learning_rate g, theta <- theta + v.

X is never built as a dense (N, V) array: ``SparseMatrix`` keeps its non-zero entries
(document n, token v, value x_nv), so X w and X^T r are sums over those entries.

Word order is ignored: that is what a recurrent network adds. With counts instead of
binary features, long texts give large x_nv; lower the learning rate (or keep binary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rnnkit.errors import DataError


@dataclass(frozen=True)
class SparseMatrix:
    """An (n_rows, n_columns) matrix kept as its non-zero entries (rows[k], columns[k], values[k])."""

    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]

    def dot(self, w: np.ndarray) -> np.ndarray:
        """X w: for each row n, sum_v x_nv w_v."""
        return np.bincount(self.rows, weights=self.values * w[self.columns], minlength=self.shape[0])

    def transpose_dot(self, r: np.ndarray) -> np.ndarray:
        """X^T r: for each column v, sum_n x_nv r_n."""
        return np.bincount(self.columns, weights=self.values * r[self.rows], minlength=self.shape[1])


def bag_of_words(documents: Sequence[Sequence[int]], vocab_size: int, binary: bool = True) -> SparseMatrix:
    """The (N, vocab_size) matrix X with x_nv = [token v occurs in document n], or its count."""
    rows, token_ids, values = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
    for n, document in enumerate(documents):
        ids, counts = np.unique(np.asarray(document, dtype=np.int64), return_counts=True)
        rows.append(np.full(len(ids), n))
        token_ids.append(ids)
        values.append(np.ones(len(ids)) if binary else counts.astype(np.float64))
    token_ids = np.concatenate(token_ids)
    if token_ids.size and (token_ids.min() < 0 or token_ids.max() >= vocab_size):
        raise DataError(f"token ids outside [0, {vocab_size}): encode with the vocabulary the model was made for")
    return SparseMatrix(np.concatenate(rows), token_ids, np.concatenate(values), (len(documents), vocab_size))


class BagOfWordsLogisticRegression:
    """Binary classifier over token-id sequences (``Vocabulary.encode`` output)."""

    def __init__(self, vocab_size: int, l2: float = 1e-4, binary: bool = True):
        self.vocab_size, self.l2, self.binary = vocab_size, l2, binary
        self.weights = np.zeros(vocab_size)
        self.bias = 0.0

    def fit(
        self,
        documents: Sequence[Sequence[int]],
        labels: Sequence[int],
        steps: int = 1000,
        learning_rate: float = 2.0,
        momentum: float = 0.9,
    ) -> BagOfWordsLogisticRegression:
        """Minimise L (see the module doc) from w = 0, b = 0 with ``steps`` full-batch steps."""
        x = bag_of_words(documents, self.vocab_size, self.binary)
        y = np.asarray(labels, dtype=np.float64)
        if len(y) != len(documents) or len(y) == 0:
            raise DataError(f"{len(documents)} documents and {len(y)} labels: pass one label per document")
        self.weights, self.bias = np.zeros(self.vocab_size), 0.0
        velocity_w, velocity_b = np.zeros(self.vocab_size), 0.0
        for _ in range(steps):
            residual = _sigmoid(x.dot(self.weights) + self.bias) - y  # p - y
            grad_w = x.transpose_dot(residual) / len(y) + self.l2 * self.weights
            grad_b = residual.mean()
            velocity_w = momentum * velocity_w - learning_rate * grad_w
            velocity_b = momentum * velocity_b - learning_rate * grad_b
            self.weights += velocity_w
            self.bias += velocity_b
        return self

    def predict_proba(self, documents: Sequence[Sequence[int]]) -> np.ndarray:
        """p(y = 1 | x) for each document, shape (N,)."""
        x = bag_of_words(documents, self.vocab_size, self.binary)
        return _sigmoid(x.dot(self.weights) + self.bias)

    def predict(self, documents: Sequence[Sequence[int]]) -> np.ndarray:
        """Labels 0 or 1, shape (N,): 1 where p(y = 1 | x) > 1/2."""
        return (self.predict_proba(documents) > 0.5).astype(np.int64)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), computed without overflow for large |z|."""
    return np.exp(-np.logaddexp(0.0, -z))
