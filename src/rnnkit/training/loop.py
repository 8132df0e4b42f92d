"""The training loop shared by every task: update, clip, validate, checkpoint, resume.

One update is

    zero_grad -> task.train_step(batch) (forward, loss, backward) -> clip -> optimizer.step()

A *task* (language model, classifier, forecaster) supplies the data and the model:

    task.model                          the Module being trained
    task.epoch                          the epoch the next batch belongs to
    task.batches()                      the rest of the current epoch's batches
    task.train_step(batch) -> (loss, n) mean loss of the batch and its number of tokens
    task.evaluate() -> dict             at least {"val_loss": ...}
    task.sample(rng) -> str | None      something to show while training
    task.state() -> (tensors, json)     what a resume needs beyond model and optimizer
    task.load_state(tensors, json)
    task.unit                           what n counts ("char", "seq", ...)

A checkpoint holds the model, the optimizer, the schedule, the random generator,
the task's state (data position, carried hidden state) and the step, so a resumed
run repeats exactly the updates the uninterrupted run would have made. Ctrl-C
saves a checkpoint and stops; a NaN stops with a message naming the step (or, with
``on_nan="reduce-lr"``, goes back to the last checkpoint with half the rate).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rnnkit.errors import CheckpointError, ConfigError, RnnkitError
from rnnkit.optim import clip_grad_norm, clip_grad_value
from rnnkit.optim.schedules import ReduceLROnPlateau
from rnnkit.training.checkpoint import (checkpoint_name, load_checkpoint, mark, prepare_run_dir, prune,
                                        rng_from_json, rng_state_to_json, save_checkpoint)
from rnnkit.training.config import TrainConfig, make_optimizer, make_schedule
from rnnkit.training.metrics_log import MetricsLog
from rnnkit.training.run_meta import RunRecord, checkpoint_meta, upgrade_meta

MAX_LR_REDUCTIONS = 5


def clip_gradients(grads: dict[str, np.ndarray], config: TrainConfig) -> float:
    """Clip in place as ``config`` says (by value, then by global norm); the norm before clipping."""
    if config.clip_value:
        clip_grad_value(grads, config.clip_value)
    return clip_grad_norm(grads, config.clip_norm or math.inf)


class TrainingDiverged(RnnkitError):
    """The loss or the gradient became NaN or infinite."""


def update(model, optimizer, config: TrainConfig, train_step) -> tuple[float, int]:
    """One update: zero_grad -> ``train_step()`` (forward, loss, backward; returns the loss and what it
    counted) -> clip -> ``optimizer.step()``. A NaN or infinite loss or gradient norm raises
    ``TrainingDiverged`` before the step, so the weights stay as they were."""
    model.zero_grad()
    loss, count = train_step()
    norm = clip_gradients(model.grads, config)
    if not (math.isfinite(loss) and math.isfinite(norm)):
        raise TrainingDiverged(f"loss {loss}, gradient norm {norm}")
    optimizer.step()
    return loss, count


class Trainer:
    def __init__(self, task, config: TrainConfig, run_dir: str | Path, run: RunRecord,
                 progress: bool = True, echo=print):
        """``run``: what describes the run beyond the trainer's state (the task's name and run spec); it is
        saved beside the trainer's state in every checkpoint, never merged with it."""
        self.task, self.config, self.run = task, config, run
        self.run_dir = prepare_run_dir(run_dir)
        self.model = task.model
        self.optimizer = make_optimizer(config, self.model)
        self.schedule = make_schedule(config, self.optimizer)
        self.rng = np.random.default_rng(config.seed)
        self.model.set_rng(self.rng)
        self.step = 0
        self.best_score: float | None = None      # the best value of config.monitor so far
        self.evals_without_improvement = 0
        self.last_checkpoint: str | None = None
        self.lr_reductions = 0
        self.log_window = empty_log_window()      # the updates since the last metrics line
        self.progress, self.echo = progress, echo
        self.log = MetricsLog(self.run_dir)

    # -- checkpoints -----------------------------------------------------------------
    def save(self, best: bool = False) -> str:
        name = checkpoint_name(self.step)
        optimizer_arrays, optimizer_scalars = self.optimizer.state_dict()
        task_tensors, task_state = self.task.state()
        tensors = {"model": self.model.state_dict(), "optimizer": optimizer_arrays, "task": task_tensors}
        trainer = dict(config=self.config.to_json(), step=self.step,
                       optimizer=optimizer_scalars, task_state=task_state, rng=rng_state_to_json(self.rng),
                       schedule=self.schedule.state_dict() if self.schedule else None,
                       best_score=self.best_score,
                       evals_without_improvement=self.evals_without_improvement, log_window=self.log_window)
        meta = checkpoint_meta(self.run, trainer)
        try:
            save_checkpoint(self.run_dir, name, tensors, meta)
            mark(self.run_dir, last=name, best=name if best else None)
            prune(self.run_dir)
        except OSError as error:   # disk full, volume gone read-only, ...
            kept = f"{self.last_checkpoint} is intact" if self.last_checkpoint else "no checkpoint was saved yet"
            raise CheckpointError(
                f"cannot save the checkpoint of step {self.step} in {self.run_dir / 'checkpoints'}: "
                f"{error.strerror or error}; {kept}: free some space, then resume {self.run_dir}") from None
        self.last_checkpoint = name
        return name

    def restore(self, path: str | Path | None = None) -> None:
        """Continue from a checkpoint (default: this run's last one)."""
        tensors, meta = load_checkpoint(path or self.run_dir)
        try:
            state = upgrade_meta(meta)["trainer"]
            self.model.load_state_dict(tensors["model"])
            self.optimizer.load_state_dict(tensors["optimizer"], state["optimizer"])
            if self.schedule:
                self.schedule.load_state_dict(state["schedule"])
            self.task.load_state(tensors.get("task", {}), state["task_state"])
            self.rng.bit_generator.state = rng_from_json(state["rng"]).bit_generator.state
            self.step = int(state["step"])
            if self.step < 0:
                raise CheckpointError(f"the checkpoint's step {self.step} is negative: it is damaged")
            best = state.get("best_score")
            self.best_score = None if best is None else float(best)
            self.evals_without_improvement = int(state.get("evals_without_improvement", 0))
            self.log_window = log_window_from_json(state.get("log_window", empty_log_window()))
        except (AttributeError, KeyError, TypeError, ValueError) as error:   # a field of the wrong JSON type
            if isinstance(error, RnnkitError):
                raise
            raise CheckpointError(f"checkpoint does not fit this run: {error!r}") from error
        self.last_checkpoint = checkpoint_name(self.step)
        self.log.truncate_after(self.step)

    # -- the loop ----------------------------------------------------------------------
    def fit(self) -> dict:
        """Train until the epochs, steps or minutes run out, validation stops improving, or Ctrl-C."""
        started = time.perf_counter()
        bar = tqdm(total=self.config.max_steps or None, initial=self.step, disable=not self.progress,
                   unit="step", dynamic_ncols=True)
        stop_reason = self._out_of_steps()
        with _CtrlC() as ctrl_c:
            try:
                while stop_reason is None and self.task.epoch < self.config.epochs:
                    stop_reason = self._run_epoch(bar, started, ctrl_c)
            finally:
                bar.close()
        if self.step and self.last_checkpoint != checkpoint_name(self.step):
            self.save()
        if stop_reason == "interrupted":
            self.echo(f"interrupted: saved {self.run_dir / 'checkpoints' / checkpoint_name(self.step)}; "
                      f"resume {self.run_dir} to continue")
        return {"stop_reason": stop_reason or "finished", "step": self.step,
                "monitor": self.config.monitor, "best_score": self.best_score}

    def _run_epoch(self, bar, started: float, ctrl_c: "_CtrlC") -> str | None:
        """The rest of the current epoch; a stop reason, or None to go on."""
        epoch = self.task.epoch
        for batch in self.task.batches():
            tick = time.perf_counter()
            try:
                loss, count = self._update(batch)
            except TrainingDiverged:
                if self.config.on_nan == "stop" or self.lr_reductions >= MAX_LR_REDUCTIONS:
                    raise
                self._back_off()
                return None
            seconds = time.perf_counter() - tick
            speed = count / max(seconds, 1e-9)
            self._log_update(epoch, loss, count, seconds)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", **{f"{self.task.unit}/s": f"{speed:,.0f}"})
            if self.task.epoch != epoch and self.schedule and not isinstance(self.schedule, ReduceLROnPlateau):
                self.schedule.step()
            stop = self._after_update(bar) or self._out_of_budget(started)
            if ctrl_c.pressed:
                stop = "interrupted"
            if stop:
                return stop
        return None

    def _log_update(self, epoch: int, loss: float, count: int, seconds: float) -> None:
        """Add an update to the window; every ``log_every`` updates, write the window's mean loss and speed."""
        window = self.log_window
        window["loss"] += loss
        window["updates"] += 1
        window["count"] += count
        window["seconds"] += seconds
        if self.step % self.config.log_every == 0:
            self.log.append({"step": self.step, "epoch": epoch, "train_loss": window["loss"] / window["updates"],
                             "lr": self.optimizer.lr,
                             f"{self.task.unit}s_per_s": window["count"] / max(window["seconds"], 1e-9)})
            self.log_window = empty_log_window()

    def _update(self, batch) -> tuple[float, int]:
        try:
            loss, count = update(self.model, self.optimizer, self.config, lambda: self.task.train_step(batch))
        except TrainingDiverged as error:
            where = self.run_dir / "checkpoints" / self.last_checkpoint if self.last_checkpoint else None
            raise TrainingDiverged(
                f"training diverged at step {self.step + 1}: {error}; "
                + (f"the last good checkpoint is {where}; " if where else "no checkpoint was saved yet; ")
                + "lower `lr` or `clip_norm` and resume, or set `on_nan` to 'reduce-lr'") from None
        self.step += 1
        return loss, count

    def _after_update(self, bar) -> str | None:
        """Validation, samples and checkpoints that fall due after this step; a stop reason or None."""
        config, stop = self.config, None
        is_best = False
        if self.step % config.eval_every == 0:
            metrics = self.task.evaluate()
            self.log.append({"step": self.step, **metrics})
            bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            if isinstance(self.schedule, ReduceLROnPlateau):
                self.schedule.step(metrics["val_loss"])
            if config.monitor not in metrics:
                raise ConfigError(f"cannot select on {config.monitor!r}: validation reports {sorted(metrics)}")
            if self._improves(metrics[config.monitor]):
                self.best_score, self.evals_without_improvement, is_best = metrics[config.monitor], 0, True
            else:
                self.evals_without_improvement += 1
                if config.patience and self.evals_without_improvement >= config.patience:
                    stop = "early stopping"
        if config.sample_every and self.step % config.sample_every == 0:
            text = self.task.sample(np.random.default_rng(config.seed + self.step))
            if text:
                bar.write(f"--- sample at step {self.step} ---\n{text}\n---")
        if is_best or self.step % config.checkpoint_every == 0:
            self.save(best=is_best)
        return stop or self._out_of_steps()

    def _out_of_steps(self) -> str | None:
        return "max steps" if self.config.max_steps and self.step >= self.config.max_steps else None

    def _improves(self, value: float) -> bool:
        """Whether ``value`` of the monitored metric beats the best by more than ``min_delta``."""
        if self.best_score is None:
            return math.isfinite(value)
        if self.config.monitor_maximized:
            return value > self.best_score + self.config.min_delta
        return value < self.best_score - self.config.min_delta

    def _out_of_budget(self, started: float) -> str | None:
        minutes = (time.perf_counter() - started) / 60
        return "time limit" if self.config.max_minutes and minutes >= self.config.max_minutes else None

    def _back_off(self) -> None:
        """After a NaN: reload the last checkpoint and halve the learning rate."""
        if self.last_checkpoint is None:
            raise TrainingDiverged(f"training diverged at step {self.step + 1} before any checkpoint; lower `lr`")
        self.restore()
        self.lr_reductions += 1
        self.optimizer.lr *= 0.5
        self.echo(f"loss or gradient became NaN or inf: back to step {self.step} with lr {self.optimizer.lr:g}")


def empty_log_window() -> dict:
    """Sums over the updates since the last metrics line: loss, updates, tokens, seconds."""
    return {"loss": 0.0, "updates": 0, "count": 0, "seconds": 0.0}


def log_window_from_json(data) -> dict:
    """A saved window, checked to have the keys of an empty one, each a number of the same kind."""
    window = empty_log_window()
    if not isinstance(data, dict) or data.keys() != window.keys():
        raise CheckpointError("the checkpoint's log_window is damaged")
    return {key: type(window[key])(data[key]) for key in window}


class _CtrlC:
    """Turns the first Ctrl-C into a flag checked between updates, so no update is cut in half.

    A second Ctrl-C interrupts at once. Outside the main thread, signals stay as they are.
    """

    def __init__(self):
        self.pressed = False
        self._previous = None

    def __enter__(self) -> "_CtrlC":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
