"""What every task shares: run directories, new and resumed training, loading trained runs, results.

A *task* module (``language_model``, ``classification``, ``forecasting``) owns a typed
*run spec*, a dataclass that says where the data comes from, how it is prepared, and
the model's config. The spec is all a run needs besides the trainer's state; it goes
into every checkpoint (``rnnkit.training.run_meta``) and comes back from it as the same
dataclass. A spec class provides::

    TASK                                   the task's name, e.g. "classify"
    to_json() -> dict / from_json(dict)    (from_json also reads the layouts of older releases)
    build_model(rng=None) -> Module        a fresh model of the spec's config
    check_fits(stored_tensors)             optional: refuse a config the stored tensors do not fit,
                                           before anything is allocated

This module then gives every task the same verbs: ``fit`` (a new or a resumed run,
with one run-directory guard and one set of resume rules), ``load_run`` (the one
way to get a trained model back) and ``load_ensemble``, and the results files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from rnnkit.data.tables import file_sha256
from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError
from rnnkit.module import Module
from rnnkit.plots import plot_curves
from rnnkit.training.atomic import atomic_write_text
from rnnkit.training.checkpoint import load_checkpoint, prepare_run_dir, read_marks
from rnnkit.training.config import TrainConfig
from rnnkit.training.loop import Trainer
from rnnkit.training.metrics_log import read_metrics
from rnnkit.training.run_meta import RunRecord, upgrade_meta
from rnnkit.training.trained import checked_model

# The TrainConfig fields a resumed run may change: how long to go on, and how carefully after a
# divergence. Every other field, and the whole run spec, comes from the checkpoint.
RESUMABLE = ("epochs", "max_steps", "max_minutes", "lr", "clip_norm", "on_nan")
RESULTS_FILE = "results.json"


@dataclass
class TrainResult:
    """How a training run ended: why, at which step, and the best validation score (None if none ran)."""

    run_dir: Path
    stop_reason: str
    step: int
    monitor: str
    best_score: float | None


@dataclass
class TrainedRun:
    """A trained model (in eval mode) with its run spec and the trainer's state at its checkpoint."""

    path: Path
    spec: object
    model: Module
    trainer: dict

    @property
    def config(self) -> TrainConfig:
        """The training options the run was trained with."""
        return saved_config(self.trainer, self.path)


def saved_config(trainer: dict, path) -> TrainConfig:
    """The TrainConfig saved in a checkpoint's trainer state."""
    try:
        return TrainConfig(**trainer["config"])
    except (KeyError, TypeError, RnnkitError) as error:
        raise CheckpointError(f"{path}: the checkpoint's training options are damaged ({error})") from None


SIMPLE_TYPES = {"str": (str, "a string"), "int": (int, "an integer"), "float": ((int, float), "a number"),
                "bool": (bool, "true or false")}


def check_field_types(spec) -> None:
    """Each field of dataclass ``spec`` annotated with a plain type (str, int, float, bool, list[str],
    optionally ``| None``) holds one; so a run spec from a damaged checkpoint is refused when it is
    read, not deep inside a workflow."""
    for field in dataclasses.fields(spec):
        kind = str(field.type)
        base = kind.removesuffix(" | None")
        value = getattr(spec, field.name)
        if value is None and base != kind:
            continue
        if base == "list[str]":
            fits, what = isinstance(value, list) and all(isinstance(item, str) for item in value), "a list of strings"
        elif base in SIMPLE_TYPES:
            types, what = SIMPLE_TYPES[base]
            fits = isinstance(value, types) and (base == "bool" or not isinstance(value, bool))
        else:
            continue
        if not fits:
            raise ConfigError(f"`{field.name}` must be {what}, got {value!r}")


# -- run directories -------------------------------------------------------------------------


def default_run_dir(name: str) -> Path:
    """runs/NAME-DATE-TIME"""
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_new_run_dir(run_dir: Path) -> Path:
    """``run_dir``, unless it already holds a run (which only resuming may continue)."""
    if (Path(run_dir) / "checkpoints").exists():
        raise ConfigError(f"{run_dir} already holds a run: resume it, or pick another `run_dir`")
    return Path(run_dir)


@contextlib.contextmanager
def new_run_dir(run_dir: Path):
    """Check that ``run_dir`` is new and writable before any work; delete it again if setup fails."""
    check_new_run_dir(run_dir)
    existed = run_dir.exists()
    prepare_run_dir(run_dir)
    try:
        yield run_dir
    except BaseException:
        if not existed:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


# -- training --------------------------------------------------------------------------------


def resumed_config(trainer: dict, changes: dict, path) -> TrainConfig:
    """The training options saved in ``trainer`` (a checkpoint's trainer state) with ``changes`` (only
    RESUMABLE fields; None means unchanged)."""
    refused = sorted(name for name, value in changes.items() if value is not None and name not in RESUMABLE)
    if refused:
        raise ConfigError(f"a resumed run keeps its own options, so {', '.join(f'`{n}`' for n in refused)} "
                          f"cannot change; only {', '.join(f'`{n}`' for n in RESUMABLE)} can")
    config = saved_config(trainer, path)
    return replace(config, **{name: value for name, value in changes.items() if value is not None})


def check_same_file(path: str, sha256: str | None, argument: str) -> None:
    """A resumed run's data file is there and is the one it was trained on (when its SHA-256 was kept)."""
    if not Path(path).exists():
        raise DataError(f"{path} does not exist: if the data moved, give its new place as `{argument}`")
    if sha256 is not None and file_sha256(path) != sha256:
        raise ConfigError(f"{path} is not the file the run was trained on (its SHA-256 differs): "
                          "resume needs the same data")


def fit(training_task, spec, config: TrainConfig, run_dir: Path, resume: bool = False, new_lr: float | None = None,
        progress: bool = True, echo=print) -> TrainResult:
    """Train ``training_task`` (``rnnkit.training.loop``'s protocol) into ``run_dir``; with ``resume``, from
    its last checkpoint (and with ``new_lr``, if given, in place of the saved learning rate). ``echo``
    gets what the run says (where it is, an interruption, a recovery from NaN); the loss curves go to
    RUN_DIR/curves.png once a validation ran."""
    trainer = Trainer(training_task, config, run_dir, RunRecord(spec.TASK, spec.to_json()), progress=progress,
                      echo=echo)
    if resume:
        trainer.restore()
        if new_lr is not None:
            trainer.optimizer.lr = new_lr
        echo(f"resuming at step {trainer.step}")
    echo(f"run directory: {run_dir}")
    result = TrainResult(Path(run_dir), **trainer.fit())
    plot_loss_curves(Path(run_dir))
    return result


def plot_loss_curves(run_dir: Path) -> None:
    records = read_metrics(run_dir)
    if any("val_loss" in record for record in records):
        plot_curves(records, run_dir / "curves.png", title=f"Loss of {run_dir.name}")


def read_run(path: Path, which: str = "last", task: str | None = None) -> tuple[dict, object, dict]:
    """The tensors, the spec (of its task's class) and the trainer state of a run's checkpoint."""
    from rnnkit.tasks import spec_class
    tensors, meta = load_checkpoint(path, which)
    meta = upgrade_meta(meta)
    if task is not None and meta.get("task") != task:
        raise CheckpointError(f"{path} holds a {meta.get('task')!r} run, not a {task!r} run: "
                              "use the command that trained it")
    try:
        spec = spec_class(meta.get("task")).from_json(meta["spec"])
    except RnnkitError as error:
        raise CheckpointError(f"{path}: {error}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise CheckpointError(f"{path}: the checkpoint's run spec is invalid ({error!r}); "
                              "it is damaged or was not written by rnnkit") from None
    return tensors, spec, meta["trainer"]


def fresh_model(tensors: dict, spec, path: Path) -> Module:
    """A new model of ``spec`` that the stored model tensors fit (checked; not yet loaded)."""
    def build(stored: dict) -> Module:
        if hasattr(spec, "check_fits"):
            spec.check_fits(stored)
        return spec.build_model()
    return checked_model(tensors.get("model", {}), build, path)


# -- trained runs ----------------------------------------------------------------------------


def load_run(path: str | Path, which: str = "best", task: str | None = None) -> TrainedRun:
    """The model of a run directory or checkpoint folder, in eval mode, with its spec and trainer state.

    ``which="best"`` falls back to the last checkpoint when the run never recorded a best one;
    ``task`` given, a run of another task is refused.
    """
    path = Path(path)
    if which == "best" and (path / "checkpoints").is_dir() and "best" not in read_marks(path):
        which = "last"
    tensors, spec, trainer = read_run(path, which, task)
    model = fresh_model(tensors, spec, path)
    model.load_state_dict(tensors["model"])
    return TrainedRun(path, spec, model.eval(), trainer)


def load_ensemble(paths: list[Path], which: str, task: str, shared: Callable[[object], dict],
                  needs: str) -> list[TrainedRun]:
    """Several runs scored as one ensemble; every run's ``shared(spec)`` (a dict of what members must
    have in common) must equal the first run's, else one ConfigError naming what differs and what an
    ensemble ``needs``."""
    if not paths:
        raise ConfigError("an ensemble needs at least one run")
    runs = [load_run(path, which, task) for path in paths]
    first = shared(runs[0].spec)
    for run in runs[1:]:
        differing = [key for key, value in shared(run.spec).items() if first.get(key) != value]
        if differing:
            raise ConfigError(f"{run.path} and {paths[0]} differ in {', '.join(differing)}: an ensemble needs {needs}")
    return runs


# -- results ---------------------------------------------------------------------------------


def write_results(folder: Path, key: str, results: dict) -> None:
    """Merge ``{key: results}`` into FOLDER/results.json (written atomically)."""
    path = folder / RESULTS_FILE
    try:
        existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        existing = {}
    existing[key] = results
    atomic_write_text(path, json.dumps(existing, indent=2, ensure_ascii=False) + "\n")


def report_dir(paths: list[Path], out: Path | None) -> Path:
    """``out``, else the run directory of one run (or checkpoint), or the folder that holds all of several."""
    if out is not None:
        return out
    folders = [path.parent.parent if path.parent.name == "checkpoints" else path for path in map(Path, paths)]
    if len(folders) == 1:
        return folders[0]
    return Path(os.path.commonpath([folder.resolve() for folder in folders]))
