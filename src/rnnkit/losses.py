"""Losses over sequences: softmax cross-entropy and mean squared error.

Each loss is a function returning ``(loss, grad)``: the scalar loss and its gradient
with respect to the prediction (the logits, or the predicted values), ready to be
passed to the output layer's ``backward``. There is nothing to cache, so no class.

Both take a ``mask`` marking which positions count (``False`` or 0 = padding, which
contributes neither loss nor gradient) and a ``reduction``:

    "sum"   L = sum_n  w_n l_n                    (the classic E = sum_t E_t)
    "mean"  L = sum_n  w_n l_n  /  sum_n w_n      (PyTorch's default)

where ``l_n`` is the loss at position ``n`` and ``w_n`` its weight (mask times class
weight). If nothing counts (every position masked) the loss and gradient are zero.
"""

from __future__ import annotations

import numpy as np

from rnnkit.layers.embedding import check_indices

REDUCTIONS = ("mean", "sum")


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(x)_i = x_i - log sum_j exp(x_j)  =  (x_i - m) - log sum_j exp(x_j - m)."""
    shifted, _, sums = _shifted_exponentials(x, axis)
    return shifted - np.log(sums)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j)  =  exp(x_i - m) / sum_j exp(x_j - m)."""
    _, exps, sums = _shifted_exponentials(x, axis)
    exps /= sums
    return exps


def _shifted_exponentials(x: np.ndarray, axis: int):
    """x - m, exp(x - m) and sum_j exp(x_j - m) along ``axis``, where m = max_j x_j.

    Subtracting the maximum makes every exponent <= 0, so nothing overflows, and the
    largest term of the sum is 1, so its logarithm is safe too.
    """
    shifted = x - np.max(x, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return shifted, exps, np.sum(exps, axis=axis, keepdims=True)


def softmax_cross_entropy(
    logits: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray | None = None,
    reduction: str = "mean",
    class_weights: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Cross-entropy of softmax(logits) against integer class targets, and dL/dlogits.

    For logits ``z`` of shape (..., V) and targets ``y`` of shape (...), at each position n

        p_n = softmax(z_n)                     l_n = -log p_n[y_n]
        w_n = mask_n * class_weights[y_n]      (each factor 1 when not given)
        L   = sum_n w_n l_n / D                D = sum_n w_n ("mean") or 1 ("sum")

    and, since d(-log p[y]) / dz = p - onehot(y),

        dL/dz_n = w_n / D * (p_n - onehot(y_n))

    With ``class_weights`` and "mean", D = sum_n w_n is PyTorch's weighted mean.
    Targets at masked positions are ignored (they may be any integer, e.g. -100).
    """
    targets = np.asarray(targets)
    num_classes = logits.shape[-1]
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"targets: expected shape {logits.shape[:-1]} (logits' without the class axis), "
            f"got {targets.shape}"
        )
    weights = _position_weights(mask, targets.shape)  # w_n, shape (...)
    # masked targets may be anything (-100, say): read them as class 0, which weighs 0
    targets = check_indices(np.where(weights != 0, targets, 0), num_classes, name="targets")
    if class_weights is not None:
        class_weights = np.asarray(class_weights)
        if class_weights.shape != (num_classes,):
            raise ValueError(
                f"class_weights: expected shape ({num_classes},), got {class_weights.shape}"
            )
        weights = weights * class_weights[targets]
    scale = weights / _normaliser(weights, reduction)  # w_n / D, shape (...)

    target_slots = targets[..., None]  # (..., 1), indexes the class axis
    shifted, exps, sums = _shifted_exponentials(logits, axis=-1)  # (..., V), (..., V), (..., 1)
    target_log_probs = (np.take_along_axis(shifted, target_slots, axis=-1) - np.log(sums))[..., 0]
    loss = -float(np.sum(scale * target_log_probs))  # log p_n[y_n] summed with weights w_n / D

    grad = exps  # becomes p_n, then p_n - onehot(y_n), then scaled by w_n / D
    grad /= sums
    target_probs = np.take_along_axis(grad, target_slots, axis=-1)
    np.put_along_axis(grad, target_slots, target_probs - 1, axis=-1)
    grad *= scale[..., None].astype(grad.dtype, copy=False)
    return loss, grad


def mse_loss(
    pred: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray | None = None,
    reduction: str = "mean",
) -> tuple[float, np.ndarray]:
    """Mean (or summed) squared error, and dL/dpred.

        L = sum_i m_i (pred_i - target_i)^2 / D       dL/dpred_i = 2 m_i (pred_i - target_i) / D

    with D the number of unmasked elements ("mean", as PyTorch) or 1 ("sum"). The mask
    may cover leading axes only, e.g. a (T, B) mask for (T, B, D) predictions masks
    whole time steps.
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"target: expected shape {pred.shape} (pred's), got {target.shape}")
    mask_shape = pred.shape if mask is None else pred.shape[: np.ndim(mask)]
    weights = _position_weights(mask, mask_shape)
    # m_i for every element: the mask repeated along the axes it leaves out
    weights = weights.reshape(mask_shape + (1,) * (pred.ndim - len(mask_shape)))
    weights = np.broadcast_to(weights, pred.shape)
    error = pred - target
    scale = weights / _normaliser(weights, reduction)  # m_i / D
    loss = float(np.sum(scale * error * error))
    grad = (2.0 * scale).astype(error.dtype, copy=False) * error
    return loss, grad


# -- shared by both losses ---------------------------------------------------------------
def _position_weights(mask: np.ndarray | None, shape: tuple) -> np.ndarray:
    """The mask as float64 weights of ``shape`` (all ones without a mask)."""
    if mask is None:
        return np.ones(shape)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask: expected shape {shape}, got {mask.shape}")
    return mask.astype(np.float64)


def _normaliser(weights: np.ndarray, reduction: str) -> float:
    """D: the total weight for "mean" (1 if that is 0, so the loss is 0), 1 for "sum"."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    if reduction == "sum":
        return 1.0
    total = float(np.sum(weights))
    return total if total != 0.0 else 1.0
