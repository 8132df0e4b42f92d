"""A fresh model for a checkpoint's stored tensors, trusting nothing in it.

A checkpoint stores its model's config and tensors. ``checked_model`` checks, in
order: that the config builds a model (``build`` may first compare it with the stored
tensors' shapes, so that a hostile meta.json cannot make rnnkit allocate a huge
model); that the stored tensors are exactly that model's names, shapes and dtypes;
and that they are finite. Only then may the caller load them
(``rnnkit.tasks.runs.load_run`` is the one place that does).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.module import Module
from rnnkit.training.checkpoint import check_tensors


def checked_model(stored: dict[str, np.ndarray], build: Callable[[dict], Module], path) -> Module:
    """``build(stored)``, a fresh model, once the stored tensors are checked to fit it (not yet loaded)."""
    try:
        model = build(stored)
    except RnnkitError as error:
        raise CheckpointError(f"{path}: {error}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise CheckpointError(f"{path}: the checkpoint's model description is invalid ({error}); "
                              "it is damaged or was not written by rnnkit") from None
    expected = {name: (value.shape, value.dtype) for name, value in model.parameters().items()}
    check_tensors(stored, expected, what="model")
    broken = [name for name, value in stored.items() if not np.isfinite(value).all()]
    if broken:
        raise CheckpointError(f"{path}: the model's {', '.join(broken)} hold NaN or inf: "
                              "the checkpoint is damaged or was saved after training diverged")
    return model
