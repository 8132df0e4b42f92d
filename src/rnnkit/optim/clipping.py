"""Gradient clipping, in place on a dict of gradient arrays (such as ``module.grads``).

    clip_grad_norm:   ||g|| = sqrt(sum over all arrays and entries of g^2)
                      if ||g|| > max_norm:  g *= max_norm / (||g|| + 1e-6)   for every array
    clip_grad_value:  g = clip(g, -clip_value, clip_value)                   entry by entry

Norm clipping keeps the direction of the whole gradient and bounds its length, which
is what tames the exploding gradients of recurrent networks; both match
torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
"""

from __future__ import annotations

import math

import numpy as np


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping. A non-finite norm (inf or nan) leaves the
    gradients untouched and is returned, so the caller can skip the step. ``max_norm``
    must be >= 0 (``math.inf``: no clipping); a negative one would flip the gradient.
    """
    if not max_norm >= 0:                                     # False for NaN too
        raise ValueError(f"max_norm must be >= 0 (math.inf: no clipping), got {max_norm}")
    total_norm = math.sqrt(sum(float(np.vdot(grad, grad)) for grad in grads.values()))
    scale = max_norm / (total_norm + 1e-6)
    if scale < 1.0 and math.isfinite(total_norm):
        for grad in grads.values():
            grad *= scale
    return total_norm


def clip_grad_value(grads: dict[str, np.ndarray], clip_value: float) -> None:
    """Clip every gradient entry to [-clip_value, clip_value] (``clip_value`` >= 0)."""
    if not clip_value >= 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    for grad in grads.values():
        np.clip(grad, -clip_value, clip_value, out=grad)
