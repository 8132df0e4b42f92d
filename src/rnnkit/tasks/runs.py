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

Where rnnkit writes: a run writes only into its run directory, which is new, empty, or an
rnnkit run (``new_run_dir``: an existing folder holding anything else is refused), and
which one process at a time may write (``rnnkit.training.lock``). Evaluations write
into the run directory of their one run, or into a folder the caller names (``report_dir``:
an ensemble of several runs needs one); a results.json there is merged into only if it
is one rnnkit wrote (``write_results``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from rnnkit.data.corpus import IDS_FILE
from rnnkit.data.images import FEATURES_FILE, INDEX_FILE
from rnnkit.data.tables import file_sha256
from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError
from rnnkit.module import Module
from rnnkit.plots import plot_curves
from rnnkit.training.atomic import atomic_write_text, check_replaceable
from rnnkit.training.checkpoint import (CHECKPOINTS_DIR, POINTER_FILE, checkpoint_name, list_checkpoints,
                                        load_checkpoint, prepare_run_dir, read_marks)
from rnnkit.training.config import TrainConfig
from rnnkit.training.lock import LOCK_FILE, run_lock
from rnnkit.training.loop import Trainer
from rnnkit.training.metrics_log import METRICS_FILE, read_metrics
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
    source: str = ""        # which checkpoint this is, in words: "RUN/checkpoints/step-00000040 (the best: ...)"

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


# What a run that saved no checkpoint yet may have left in its directory (a new run may start over there).
RUN_LEFTOVERS = {CHECKPOINTS_DIR, POINTER_FILE, METRICS_FILE, LOCK_FILE, IDS_FILE, "curves.png", FEATURES_FILE,
                 INDEX_FILE}


def holds_checkpoint(run_dir: Path) -> bool:
    return bool(list_checkpoints(run_dir)) or bool(read_marks(run_dir))


def check_new_run_dir(run_dir: Path) -> Path:
    """``run_dir``, if it is new, empty, or holds only what a run that saved no checkpoint left; a run
    with checkpoints only resuming may continue, and a folder holding anything else is refused."""
    if isinstance(run_dir, str) and not run_dir.strip():
        raise ConfigError("the `run_dir` is an empty path: name a folder for the run")
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a folder: pick another `run_dir`")
    if not run_dir.is_dir():
        return run_dir
    if holds_checkpoint(run_dir):
        raise ConfigError(f"{run_dir} already holds a run: resume it, or pick another `run_dir`")
    others = sorted(entry.name for entry in run_dir.iterdir() if entry.name not in RUN_LEFTOVERS)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ConfigError(f"{run_dir} is a folder that holds other files ({shown}): a run directory must be new "
                          "or empty; pick another `run_dir`")
    return run_dir


@contextlib.contextmanager
def new_run_dir(run_dir: Path):
    """``run_dir`` checked (``check_new_run_dir``), created and proven writable, and locked for this
    process during the ``with`` block, which holds all of the run's training (its sub-runs too: a
    refit's early-stopping run, a backtest's folds). If the block fails before any of them saved a
    checkpoint, a directory made here is deleted again."""
    run_dir = check_new_run_dir(run_dir)
    existed = run_dir.exists()
    prepare_run_dir(run_dir)
    try:
        with run_lock(run_dir):
            check_new_run_dir(run_dir)        # again, now that no other process can start a run here
            yield run_dir
    except BaseException:
        if not existed and not holds_checkpoint(run_dir) and not any(run_dir.rglob(POINTER_FILE)):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


@contextlib.contextmanager
def resumed_run_dir(run_dir: Path):
    """``run_dir`` locked for this process during the ``with`` block (a resumed run's whole training);
    a directory that does not exist is left to the checkpoint reader to refuse."""
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINTS_DIR).is_dir():
        yield run_dir
        return
    with run_lock(run_dir):
        yield run_dir


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
        progress: bool = True, echo=print, resumable: bool = True) -> TrainResult:
    """Train ``training_task`` (``rnnkit.training.loop``'s protocol) into ``run_dir`` (the caller holds its
    lock: ``new_run_dir``, ``resumed_run_dir``); with ``resume``, from its last checkpoint (and with
    ``new_lr``, if given, in place of the saved learning rate). ``echo`` gets what the run says (where it
    is, an interruption, a recovery from NaN); the loss curves go to RUN_DIR/curves.png once a validation
    ran. ``resumable`` False: the run is part of a workflow that cannot resume (an interruption says so)."""
    trainer = Trainer(training_task, config, run_dir, RunRecord(spec.TASK, spec.to_json()), progress=progress,
                      echo=echo, resumable=resumable)
    if resume:
        trainer.restore()
        if new_lr is not None:
            trainer.optimizer.lr = new_lr
        echo(f"resuming at step {trainer.step}")
    else:
        trainer.log.truncate_after(0)         # what a run that saved no checkpoint here logged is gone
    echo(f"run directory: {run_dir}")
    result = TrainResult(Path(run_dir), **trainer.fit())
    plot_loss_curves(Path(run_dir))
    return result


def plot_loss_curves(run_dir: Path) -> None:
    records = read_metrics(run_dir)
    if any(isinstance(record.get("val_loss"), (int, float)) and math.isfinite(record["val_loss"])
           for record in records):
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
    asked = which
    if which == "best" and (path / CHECKPOINTS_DIR).is_dir() and "best" not in read_marks(path):
        which = "last"
    tensors, spec, trainer = read_run(path, which, task)
    model = fresh_model(tensors, spec, path)
    model.load_state_dict(tensors["model"])
    return TrainedRun(path, spec, model.eval(), trainer, describe_checkpoint(path, asked, which, trainer))


def describe_checkpoint(path: Path, asked: str, which: str, trainer: dict) -> str:
    """Which checkpoint a run's model came from, and why: "RUN/checkpoints/step-00000040 (the best:
    val_loss 0.4167)", "(the last: no validation marked a best one)", or the checkpoint folder given."""
    if not (path / CHECKPOINTS_DIR).is_dir():
        return f"{path}"
    step = trainer.get("step")
    where = path / CHECKPOINTS_DIR / checkpoint_name(step) if isinstance(step, int) else path
    if which == "last":
        why = "" if asked == "last" else ": no validation marked a best one"
        return f"{where} (the last{why})"
    best = trainer.get("marked_best") or {}
    score = best.get("score", trainer.get("best_score")) if isinstance(best, dict) else None
    monitor = (trainer.get("config") or {}).get("monitor", "val_loss")
    return f"{where} (the best" + (f": {monitor} {score:.4f})" if isinstance(score, (int, float)) else ")")


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


def read_results(folder: Path) -> dict:
    """FOLDER/results.json as rnnkit wrote it ({key: {...}}), {} if there is none; a file of another shape
    (not JSON, or not an object of objects) is not rnnkit's, and is refused rather than replaced."""
    path = Path(folder) / RESULTS_FILE
    check_replaceable(path)
    if not path.exists():
        return {}
    try:
        existing = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError):
        existing = None
    if not (isinstance(existing, dict) and all(isinstance(value, dict) for value in existing.values())):
        kind = "not JSON" if existing is None else f"a JSON {type(existing).__name__}" if not isinstance(
            existing, dict) else "an object whose entries are not all objects"
        raise DataError(f"{path} is not a results file of rnnkit ({kind}): move it away, or write the results "
                        "into another folder (`out`)")
    return existing


def check_results_file(folder: Path) -> None:
    """Refuse now (before any figure is written) a results.json in ``folder`` that ``write_results``
    would refuse."""
    read_results(folder)


def write_results(folder: Path, key: str, results: dict) -> Path:
    """Merge ``{key: results}`` into FOLDER/results.json (written atomically; made if there is none, and
    refused if one is there that rnnkit did not write); its path."""
    folder = Path(folder)
    existing = read_results(folder)
    existing[key] = results
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULTS_FILE
    atomic_write_text(path, json.dumps(existing, indent=2, ensure_ascii=False) + "\n")
    return path


def report_dir(paths: list[Path], out: Path | None) -> Path:
    """Where an evaluation writes: ``out``, else the run directory of its one run (or checkpoint); an
    ensemble of several runs writes only where the caller says (``out``)."""
    if out is not None:
        return Path(out)
    if len(paths) > 1:
        raise ConfigError(f"an ensemble of {len(paths)} runs writes its figures and results.json only into a "
                          "folder you name: give `out`")
    path = Path(paths[0])
    return path.parent.parent if path.parent.name == CHECKPOINTS_DIR else path
