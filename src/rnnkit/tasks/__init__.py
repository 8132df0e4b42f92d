"""The tasks: each module owns a typed run spec and the workflows of its task (see docs/architecture.md).

    language_model   next-character or next-word models of text (rnnkit train / sample / eval)
    classification   labelled texts (rnnkit classify)
    forecasting      one series, one step or several ahead (rnnkit forecast), with backtest and walk_forward
    translation      sentence pairs, encoder-decoder with attention and beam search (rnnkit translate)
    music            piano rolls of polyphonic music, from JSON or MIDI (rnnkit music)
    captioning       captions of images, from their features or the images themselves (rnnkit caption)
"""

from __future__ import annotations

import importlib

from rnnkit.errors import CheckpointError

# task name (as saved in a checkpoint) -> module of rnnkit.tasks that owns its run spec, ``Spec``
TASKS = {"char-lm": "language_model", "classify": "classification", "forecast": "forecasting",
         "translate": "translation", "music": "music", "caption": "captioning"}


def spec_class(task: str):
    """The run-spec class of ``task``."""
    if task not in TASKS:
        raise CheckpointError(f"the checkpoint is of an unknown task {task!r}: rnnkit knows {', '.join(TASKS)}")
    return importlib.import_module(f"rnnkit.tasks.{TASKS[task]}").Spec
