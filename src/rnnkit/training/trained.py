"""Loading a trained model back from a checkpoint, trusting nothing in it.

Every task stores ``task``, its model's config and the model's tensors. Loading
checks, in order: that the checkpoint is of the expected task; that the config
builds a model (``build`` may first compare it with the stored tensors' shapes, so
that a hostile meta.json cannot make rnnkit allocate a huge model); that the
stored tensors are exactly that model's names, shapes and dtypes; and that they
are finite. Only then are they loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from rnnkit.errors import CheckpointError, RnnkitError
from rnnkit.module import Module
from rnnkit.training.checkpoint import check_tensors, load_checkpoint, read_marks

# build(meta, stored_model_tensors) -> a fresh model of the checkpoint's config
Builder = Callable[[dict, dict], Module]


def load_trained_model(path: str | Path, which: str, task: str, build: Builder) -> tuple[Module, dict]:
    """The model of a run directory or checkpoint folder, in eval mode, and the checkpoint's meta.

    ``which="best"`` falls back to the last checkpoint when the run never recorded a best one.
    """
    path = Path(path)
    if which == "best" and (path / "checkpoints").is_dir() and "best" not in read_marks(path):
        which = "last"
    tensors, meta = load_checkpoint(path, which)
    model = checked_model(tensors, meta, task, build, path)
    model.load_state_dict(tensors["model"])
    return model.eval(), meta


def checked_model(tensors: dict, meta: dict, task: str, build: Builder, path) -> Module:
    """A fresh model of the checkpoint's config whose parameters the stored tensors fit (not yet loaded)."""
    if meta.get("task") != task:
        raise CheckpointError(f"{path} holds a {meta.get('task')!r} model, not a {task!r} model: "
                              "use the command that trained it")
    stored = tensors.get("model", {})
    try:
        model = build(meta, stored)
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
