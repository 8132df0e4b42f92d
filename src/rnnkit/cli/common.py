"""What ``rnnkit classify`` and ``rnnkit forecast`` share: learning flags, run directories,
training with checkpoints and resume, loading a trained model back, and results files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from rnnkit.cli.options import non_negative, positive
from rnnkit.errors import ConfigError
from rnnkit.plots import plot_curves
from rnnkit.training.atomic import atomic_write_text
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from rnnkit.training.loop import Trainer
from rnnkit.training.metrics_log import read_metrics
from rnnkit.training.trained import checked_model, load_trained_model

BUDGET_FLAGS = ("epochs", "max_steps", "max_minutes")   # what may change when resuming
RESULTS_FILE = "results.json"


def register_actions(subcommands, name: str, help: str, description: str, actions) -> None:
    """``rnnkit NAME ACTION``: one subcommand whose actions register themselves (train, eval, predict)."""
    parser = subcommands.add_parser(name, help=help, description=description,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for register_action in actions:
        register_action(subparsers)


def default_data_dir() -> Path:
    return Path(os.environ.get("RNNKIT_DATA", "../shared/data"))


def add_data_dir_argument(group) -> None:
    group.add_argument("--data-dir", type=Path, default=default_data_dir(),
                       help="folder of the datasets (default $RNNKIT_DATA or ../shared/data)")


def add_learning_arguments(parser, epochs: int, lr: float, eval_every: int, patience: int,
                           monitors: tuple[str, ...] = ("val_loss",)) -> None:
    """The optimisation and run flags of a training command, with this task's defaults."""
    learning = parser.add_argument_group("learning")
    learning.add_argument("--epochs", type=positive(int), help=f"passes over the training data ({epochs})")
    learning.add_argument("--max-steps", type=non_negative(int), help="stop after this many updates (0: no limit)")
    learning.add_argument("--max-minutes", type=non_negative(float), help="stop after this much time (0: no limit)")
    learning.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="(adam)")
    learning.add_argument("--lr", type=positive(float), default=lr, help=f"learning rate ({lr:g})")
    learning.add_argument("--weight-decay", type=non_negative(float), default=0.0, help="L2 penalty (0)")
    learning.add_argument("--clip-norm", type=non_negative(float), default=5.0,
                          help="largest global gradient norm, 0 for none (5)")
    learning.add_argument("--schedule", choices=SCHEDULES, default="none", help="learning-rate schedule (none)")
    learning.add_argument("--patience", type=non_negative(int), default=patience,
                          help=f"stop after this many validations without improvement, 0 never ({patience})")
    learning.add_argument("--monitor", choices=monitors, default=monitors[0],
                          help=f"validation metric that picks the best checkpoint and drives --patience ({monitors[0]})")
    learning.add_argument("--seed", type=int, default=0)
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=Path, help="run directory (default runs/NAME-DATE-TIME)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR exactly")
    run.add_argument("--eval-every", type=positive(int), default=eval_every,
                     help=f"updates between validations and best-checkpoint saves ({eval_every})")
    run.add_argument("--checkpoint-every", type=positive(int), default=500, help="updates between checkpoints (500)")
    run.add_argument("--log-every", type=positive(int), default=1,
                     help="updates averaged into one line of metrics.jsonl (1)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(default_epochs=epochs)


def train_config(args) -> TrainConfig:
    return TrainConfig(
        epochs=args.epochs or args.default_epochs, max_steps=args.max_steps or 0, max_minutes=args.max_minutes or 0.0,
        optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay, clip_norm=args.clip_norm,
        schedule=args.schedule, eval_every=args.eval_every, sample_every=0, checkpoint_every=args.checkpoint_every,
        log_every=args.log_every, patience=args.patience, monitor=args.monitor, seed=args.seed)


def resumed_config(args, meta: dict) -> TrainConfig:
    """The saved training options, with the budget flags given on the command line."""
    saved = dict(meta["train_config"])
    for flag in BUDGET_FLAGS:
        if getattr(args, flag) is not None:
            saved[flag] = getattr(args, flag)
    return TrainConfig(**saved)


def new_run_dir(args, name: str) -> Path:
    run_dir = args.out or Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if (run_dir / "checkpoints").exists():
        raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pick another --out")
    return run_dir


def resumed_run(run_dir: Path, task: str, build) -> tuple[dict, object]:
    """The meta of a run's last checkpoint, and a fresh model its tensors fit (``Trainer.restore`` loads them)."""
    tensors, meta = load_checkpoint(run_dir)
    if meta.get("task") != task:
        raise ConfigError(f"{run_dir} is not a {task} run (task {meta.get('task')!r})")
    return meta, checked_model(tensors, meta, task, build, run_dir)


def stop_summary(result: dict, unit: str = "") -> str:
    """Why and when training stopped, and the best validation score (if a validation ran)."""
    best = result["best_score"]
    scored = "no validation ran" if best is None else f"best {result['monitor']} {best:.4f}{unit}"
    return f"stopped ({result['stop_reason']}) at step {result['step']}; {scored}"


def train(task, config: TrainConfig, run_dir: Path, meta: dict, args, resume: bool) -> dict:
    """Fit ``task`` (from the last checkpoint when resuming); draw the loss curves into RUN_DIR/curves.png."""
    trainer = Trainer(task, config, run_dir, meta, progress=not args.no_progress)
    if resume:
        trainer.restore()
        print(f"resuming at step {trainer.step}", file=sys.stderr)
    print(f"run directory: {run_dir}", file=sys.stderr)
    result = trainer.fit()
    print(stop_summary(result), file=sys.stderr)
    records = read_metrics(run_dir)
    if any("val_loss" in record for record in records):
        plot_curves(records, run_dir / "curves.png", title=f"Loss of {run_dir.name}")
    return result


def add_model_path_arguments(parser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    add_which_argument(parser)


def add_run_dirs_arguments(parser, members_share: str) -> None:
    """One run (or checkpoint), or several scored as an ensemble; ``members_share`` says what they must share."""
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR_OR_CHECKPOINT",
                        help=f"one run, or several ({members_share}, e.g. seeds) scored as an ensemble")
    add_which_argument(parser)


def load_ensemble(paths: list[Path], which: str, task: str, build, data_keys: tuple[str, ...],
                  meta_keys: tuple[str, ...], needs: str) -> list[tuple[object, dict]]:
    """(model, meta) of each run; every run must agree with the first on ``data_keys`` of its
    data and on ``meta_keys``, else one ConfigError saying which differ and what an ensemble ``needs``."""
    loaded = [load_trained_model(path, which, task, build) for path in paths]
    first = loaded[0][1]
    for path, (_, meta) in zip(paths[1:], loaded[1:]):
        differing = [key for key in data_keys if meta["data"].get(key) != first["data"].get(key)]
        differing += [key for key in meta_keys if meta.get(key) != first.get(key)]
        if differing:
            raise ConfigError(f"{path} and {paths[0]} differ in {', '.join(differing)}: an ensemble needs {needs}")
    return loaded


def add_which_argument(parser) -> None:
    parser.add_argument("--which", choices=("best", "last"), default="best",
                        help="which checkpoint of each run directory (best)")


def write_results(run_dir: Path, key: str, results: dict) -> None:
    """Merge ``{key: results}`` into RUN_DIR/results.json (written atomically)."""
    path = run_dir / RESULTS_FILE
    try:
        existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        existing = {}
    existing[key] = results
    atomic_write_text(path, json.dumps(existing, indent=2, ensure_ascii=False) + "\n")


def report_dir(path: Path, out: Path | None) -> Path:
    """Where eval writes its PNG and results: --out, else the run directory of ``path``."""
    if out is not None:
        return out
    return path.parent.parent if path.parent.name == "checkpoints" else path


def ensemble_report_dir(paths: list[Path], out: Path | None) -> Path:
    """--out, else the run directory of one run, or the folder that holds all of several runs."""
    folders = [report_dir(path, out) for path in paths]
    if out is not None or len(folders) == 1:
        return folders[0]
    return Path(os.path.commonpath([folder.resolve() for folder in folders]))
