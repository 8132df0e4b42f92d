"""Evaluation metrics for classification (labels 0 ... C-1) and for forecasts (real values).

With C[i, j] the number of examples of true class i predicted as class j:

    accuracy     = sum_i C[i, i] / sum C
    precision_k  = C[k, k] / sum_i C[i, k]     (of the examples predicted k, the share truly k)
    recall_k     = C[k, k] / sum_j C[k, j]     (of the examples truly k, the share predicted k)
    f1_k         = 2 precision_k recall_k / (precision_k + recall_k)

A ratio with a zero denominator counts as 0. For errors e_t = y_hat_t - y_t:

    rmse = sqrt(mean_t e_t^2),    mae = mean_t |e_t|
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Counts C (num_classes, num_classes), rows the true classes, columns the predicted ones."""
    y_true, y_pred = _same_shape(y_true, y_pred)
    if num_classes is None:
        num_classes = int(max(y_true.max(), y_pred.max())) + 1
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of examples whose predicted label is the true one."""
    y_true, y_pred = _same_shape(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def precision_recall_f1(
    y_true: np.ndarray, y_pred: np.ndarray, average: str = "binary", positive: int = 1
) -> tuple[float, float, float]:
    """Precision, recall and F1 of the ``positive`` class ("binary"), or their means over classes ("macro").

    The macro mean runs over classes 0 ... max label, each class weighted equally.
    """
    num_classes = max(int(np.max(y_true)), int(np.max(y_pred)), positive) + 1
    counts = confusion_matrix(y_true, y_pred, num_classes)
    hits = np.diag(counts).astype(np.float64)
    precision = _ratio(hits, counts.sum(axis=0))
    recall = _ratio(hits, counts.sum(axis=1))
    f1 = _ratio(2 * precision * recall, precision + recall)
    if average == "binary":
        return float(precision[positive]), float(recall[positive]), float(f1[positive])
    if average == "macro":
        return float(precision.mean()), float(recall.mean()), float(f1.mean())
    raise ValueError(f"average is {average!r}: use 'binary' or 'macro'")


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error."""
    y_true, y_pred = _same_shape(y_true, y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean((y_pred - y_true) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    y_true, y_pred = _same_shape(y_true, y_pred, dtype=np.float64)
    return float(np.mean(np.abs(y_pred - y_true)))


def _same_shape(y_true, y_pred, dtype=np.int64) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true, dtype=dtype), np.asarray(y_pred, dtype=dtype)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need equal, non-empty shapes: true {y_true.shape}, predicted {y_pred.shape}")
    return y_true, y_pred


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64), where=denominator != 0)
