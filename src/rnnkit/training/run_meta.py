"""What a checkpoint's meta.json says about its run, and how older layouts are read.

Since run format 2 the meta of a checkpoint has three parts that never mix::

    {"run_format": 2,
     "task": "classify",                 which task wrote it (rnnkit.tasks.TASKS)
     "spec": {...},                      the task's run spec: data, preprocessing, model config
     "trainer": {"config": {...},        the TrainConfig
                 "step": 1200, ...}}     and the trainer's own state (optimizer scalars,
                                         schedule, RNG, data position, best score, ...)

Format 1 (releases before the task protocol) kept all of these as keys of one flat
dict. ``upgrade_meta`` turns a format-1 meta into format 2: the trainer's keys go into
"trainer" (``train_config`` becomes ``config``), everything else but "task" into
"spec"; the task's spec then reads its format-1 layout (``from_json`` of each spec).
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import CheckpointError

RUN_FORMAT = 2
# The keys of a format-1 meta that belonged to the trainer, not to the run's description.
TRAINER_KEYS_V1 = ("train_config", "step", "optimizer", "task_state", "rng", "schedule", "best_score",
                   "evals_without_improvement", "log_window")


@dataclass(frozen=True)
class RunRecord:
    """What describes a run beyond the trainer's state: its task's name and its spec as JSON."""

    task: str
    spec: dict


def checkpoint_meta(run: RunRecord, trainer: dict) -> dict:
    """The meta.json content of a checkpoint (see the module doc)."""
    return {"run_format": RUN_FORMAT, "task": run.task, "spec": run.spec, "trainer": trainer}


def upgrade_meta(meta: dict) -> dict:
    """``meta`` of any run format in today's layout (format 2); a newer format is refused."""
    version = meta.get("run_format", 1)
    if version == RUN_FORMAT:
        if not (isinstance(meta.get("spec"), dict) and isinstance(meta.get("trainer"), dict)):
            raise CheckpointError("the checkpoint's meta.json lacks its spec or trainer part: it is damaged")
        return meta
    if version != 1:
        raise CheckpointError(f"the checkpoint was written in run format {version!r}; this rnnkit reads formats "
                              f"1 to {RUN_FORMAT}: use the rnnkit release that wrote it")
    trainer = {("config" if key == "train_config" else key): meta[key] for key in TRAINER_KEYS_V1 if key in meta}
    spec = {key: value for key, value in meta.items() if key not in (*TRAINER_KEYS_V1, "task", "run_format")}
    return {"run_format": RUN_FORMAT, "task": meta.get("task"), "spec": spec, "trainer": trainer}
