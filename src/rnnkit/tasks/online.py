"""The embedded Reber grammar learned online, as a task: a run directory, checkpoints, metrics, curves.

Each epoch is LSTM.java's: a training pass and a validation pass over fresh streams of
``symbols`` symbols, the learner updating at every symbol (``rnnkit.online``). After each
epoch the run directory gets a line of metrics.jsonl (training and validation error,
long-transition errors) and a checkpoint of the learner (weights, traces, optimizer state,
the random generator), so ``resume`` continues exactly where the run stopped::

    spec = OnlineReberSpec(OnlineConfig(cell="lstm", hidden_size=15, gradient="truncated"))
    history = train(spec, epochs=200, run_dir=Path("runs/reber"), seed=0)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data import reber
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.inspect.figures import new_figure, save_png
from rnnkit.online import OnlineConfig, build_learner, reber_epoch
from rnnkit.online.reber import RESETS, streak_summary
from rnnkit.tasks import runs
from rnnkit.training.checkpoint import (checkpoint_name, load_checkpoint, mark, prepare_run_dir, prune,
                                        rng_from_json, rng_state_to_json, save_checkpoint)
from rnnkit.training.metrics_log import MetricsLog, read_metrics
from rnnkit.training.run_meta import RunRecord, checkpoint_meta, upgrade_meta

TASK = "online-reber"
CURVES_FILE = "reber.png"
# The setting examples/online_reber.py chose: a peephole LSTM of 15 cells, forget-gate bias 1,
# a linear read-out trained with squared error, the truncated gradient, Adam at 1e-3 (beta2 0.9999).
DEFAULT_LEARNER = OnlineConfig(cell="lstm", hidden_size=15, peephole=True, forget_bias=1.0, output="linear",
                               gradient="truncated", optimizer="adam", lr=1e-3, betas=(0.9, 0.9999))


@dataclass
class OnlineReberSpec:
    """The learner's settings, when its state is reset (each ``pass``, each ``string``, or ``never``),
    and the symbols per pass."""

    TASK = TASK
    learner: OnlineConfig = field(default_factory=lambda: dataclasses.replace(DEFAULT_LEARNER))
    reset: str = "pass"
    symbols: int = reber.SYMBOLS_PER_EPOCH

    def __post_init__(self):
        if self.reset not in RESETS:
            raise ConfigError(f"`reset` must be one of {', '.join(RESETS)}, got {self.reset!r}")
        if not (isinstance(self.symbols, int) and self.symbols >= 1):
            raise ConfigError(f"`symbols` must be a positive integer, got {self.symbols!r}")

    def to_json(self) -> dict:
        return {"learner": self.learner.to_json(), "reset": self.reset, "symbols": self.symbols}

    @classmethod
    def from_json(cls, data: dict) -> "OnlineReberSpec":
        return cls(OnlineConfig.from_json(data["learner"]), data["reset"], data["symbols"])


def train(spec: OnlineReberSpec, epochs: int, run_dir: Path, seed: int = 0, echo=print) -> list[dict]:
    """A new run of ``epochs`` epochs into ``run_dir`` (weights and streams drawn from ``seed``); the
    validation numbers of every epoch."""
    runs.check_new_run_dir(Path(run_dir))
    learner = build_learner(spec.learner, len(reber.SYMBOLS), len(reber.SYMBOLS), seed)
    return run_epochs(spec, learner, stream_rng(seed), 0, epochs, prepare_run_dir(run_dir), echo)


def stream_rng(seed: int) -> np.random.Generator:
    """The generator of a run's streams: apart from the weights' (drawn from ``seed`` itself), and the
    one examples/online_reber.py uses, so that a seed gives the same run in both."""
    return np.random.default_rng([seed, 1])


def resume(run_dir: Path, epochs: int, echo=print) -> list[dict]:
    """Continue the run in ``run_dir`` from its last checkpoint up to ``epochs`` epochs in all."""
    tensors, meta = load_checkpoint(run_dir)
    meta = upgrade_meta(meta)
    if meta.get("task") != TASK:
        raise CheckpointError(f"{run_dir} holds a {meta.get('task')!r} run, not an online Reber run")
    try:
        spec, state = OnlineReberSpec.from_json(meta["spec"]), meta["trainer"]
        learner = build_learner(spec.learner, len(reber.SYMBOLS), len(reber.SYMBOLS), 0)
        learner.load_state(tensors["learner"], state["learner"])
        rng, done = rng_from_json(state["rng"]), int(state["epoch"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{run_dir}: the checkpoint is damaged ({error!r})") from None
    MetricsLog(run_dir).truncate_after(done)
    echo(f"resuming at epoch {done}")
    return run_epochs(spec, learner, rng, done, epochs, Path(run_dir), echo)


def run_epochs(spec: OnlineReberSpec, learner, rng, done: int, epochs: int, run_dir: Path, echo) -> list[dict]:
    """Epochs ``done`` + 1 .. ``epochs``, each logged, printed and checkpointed; then the curves."""
    log = MetricsLog(run_dir)
    for epoch in range(done + 1, epochs + 1):
        result = reber_epoch(learner, rng, spec.symbols, spec.reset)
        record = {"step": epoch, "train_error": result.train.output_error, "train_long_error": result.train.long_error,
                  "val_error": result.validation.output_error, "val_long_error": result.validation.long_error}
        log.append(record)
        echo(f"epoch {epoch}: train error {record['train_error']:.4f} (long {record['train_long_error']:.3f}), "
             f"validation error {record['val_error']:.4f} (long {record['val_long_error']:.3f})")
        save(run_dir, spec, learner, rng, epoch)
    history = [record for record in read_metrics(run_dir) if "val_long_error" in record]
    plot_reber(history, run_dir / CURVES_FILE)
    return history


def save(run_dir: Path, spec: OnlineReberSpec, learner, rng, epoch: int) -> None:
    arrays, learner_meta = learner.state()
    trainer = {"epoch": epoch, "step": epoch, "learner": learner_meta, "rng": rng_state_to_json(rng)}
    name = checkpoint_name(epoch)
    save_checkpoint(run_dir, name, {"learner": arrays}, checkpoint_meta(RunRecord(TASK, spec.to_json()), trainer))
    mark(run_dir, last=name)
    prune(run_dir)


def summary(history: list[dict], streak: int = 100) -> dict:
    """When the validation long-transition error first reached 0, and the first ``streak`` of zeros,
    as the epochs (``step``, from 1) that the run printed and logged."""
    result = streak_summary([record["val_long_error"] for record in history], streak)
    for key in ("first_zero", "solved_at"):
        if result[key] is not None:
            result[key] = history[result[key]]["step"]
    return result


def plot_reber(history: list[dict], path: Path) -> None:
    """Training and validation error, and the long-transition errors, per epoch."""
    figure = new_figure(9, 3.5)
    error_axes, long_axes = figure.subplots(1, 2)
    epochs = [record["step"] for record in history]
    for axes, key, title in ((error_axes, "error", "share of outputs wrong"),
                             (long_axes, "long_error", "long-transition error")):
        axes.plot(epochs, [record[f"train_{key}"] for record in history], label="training pass")
        axes.plot(epochs, [record[f"val_{key}"] for record in history], label="validation pass")
        axes.set(xlabel="epoch", title=title)
        axes.grid(alpha=0.3)
        axes.legend()
    save_png(figure, path)

