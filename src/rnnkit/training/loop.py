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
    task.batches_per_epoch, task.batch  optional: batches in an epoch, the next one's index (for the ETA)

A checkpoint holds the model, the optimizer, the schedule, the random generator,
the task's state (data position, carried hidden state) and the step, so a resumed
run repeats exactly the updates the uninterrupted run would have made. Ctrl-C
saves a checkpoint and stops; a NaN or infinite loss, gradient or weight stops with a
message naming the step (or, with ``on_nan="reduce-lr"``, goes back to the last
checkpoint with the rate halved, again at each new divergence).

A run that ends between two validations (out of steps, epochs or time) validates its
final model too, so "best" is never older than the end of the run. That validation is
logged and may mark the final checkpoint best, but it leaves the state early stopping
reads (``best_score``, ``evals_without_improvement``) as the scheduled validations made
it: a run resumed from there stops where the uninterrupted run would have. The best
score over all validations, the final ones included, is ``marked_best``.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from pathlib import Path

import numpy as np

from rnnkit.errors import CheckpointError, ConfigError, RnnkitError
from rnnkit.optim import clip_grad_norm, clip_grad_value
from rnnkit.optim.schedules import ReduceLROnPlateau
from rnnkit.training.checkpoint import (checkpoint_name, load_checkpoint, mark, prepare_run_dir, prune,
                                        rng_from_json, rng_state_to_json, save_checkpoint)
from rnnkit.training.config import TrainConfig, make_optimizer, make_schedule
from rnnkit.training.metrics_log import MetricsLog
from rnnkit.training.progress import Progress, total_steps
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
    ``TrainingDiverged`` before the step, so the weights stay as they were; a step that makes a weight
    NaN or infinite (an overflowing learning rate) raises it after the step, before any later forward
    pass reads that weight."""
    model.zero_grad()
    with np.errstate(over="ignore", invalid="ignore"):      # overflow is caught by its result, just below
        loss, count = train_step()
        norm = clip_gradients(model.grads, config)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise TrainingDiverged(f"loss {loss}, gradient norm {norm}")
        optimizer.step()
    if not weights_finite(model):
        raise TrainingDiverged(f"the update made weights NaN or infinite (loss {loss:.4g}, gradient norm {norm:.4g})")
    return loss, count


def weights_finite(model) -> bool:
    """Whether every parameter of ``model`` is finite (an overflowing step makes some inf or NaN)."""
    return all(np.isfinite(param).all() for param in model.parameters().values())


class Trainer:
    def __init__(self, task, config: TrainConfig, run_dir: str | Path, run: RunRecord,
                 progress: bool = True, echo=print, resumable: bool = True):
        """``run``: what describes the run beyond the trainer's state (the task's name and run spec); it is
        saved beside the trainer's state in every checkpoint, never merged with it. ``resumable`` False
        (a run that is one part of a workflow that cannot resume): an interruption does not advise resuming."""
        self.task, self.config, self.run = task, config, run
        self.run_dir = prepare_run_dir(run_dir)
        self.model = task.model
        self.optimizer = make_optimizer(config, self.model)
        self.schedule = make_schedule(config, self.optimizer)
        self.rng = np.random.default_rng(config.seed)
        self.model.set_rng(self.rng)
        self.step = 0
        self.best_score: float | None = None      # the best scheduled validation's config.monitor: early stopping's
        self.marked_best: dict | None = None      # {"step", "score"} of the checkpoint marked best (any validation)
        self.evals_without_improvement = 0
        self.last_checkpoint: str | None = None
        self.last_validation = 0                  # the step of the last validation (0: none)
        self.lr_reductions = 0
        self.log_window = empty_log_window()      # the updates since the last metrics line
        self.progress, self.echo, self.resumable = progress, echo, resumable
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
                       best_score=self.best_score, marked_best=self.marked_best,
                       evals_without_improvement=self.evals_without_improvement, log_window=self.log_window)
        meta = checkpoint_meta(self.run, trainer)
        try:
            save_checkpoint(self.run_dir, name, tensors, meta)
            mark(self.run_dir, last=name, best=name if best else None)
            prune(self.run_dir)
        except OSError as error:   # disk full, volume gone read-only, ...
            then = (f"{self.last_checkpoint} is intact: free some space, then resume {self.run_dir}"
                    if self.last_checkpoint else "no checkpoint was saved yet, so there is nothing to resume: "
                                                 "free some space, then start the run again")
            raise CheckpointError(
                f"cannot save the checkpoint of step {self.step} in {self.run_dir / 'checkpoints'}: "
                f"{error.strerror or error}; {then}") from None
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
            self.marked_best = marked_best_from_json(state.get("marked_best"), self.best_score)
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
        """Train until the epochs, steps or minutes run out, validation stops improving, or Ctrl-C; a run
        that ends between validations validates its final model too."""
        started = time.perf_counter()
        bar = Progress(self._total_steps(), self.step, self.config.max_minutes, enabled=self.progress)
        stop_reason = self._out_of_steps()
        with _CtrlC() as ctrl_c:
            try:
                while stop_reason is None and self.task.epoch < self.config.epochs:
                    stop_reason = self._run_epoch(bar, started, ctrl_c)
            finally:
                bar.close()
        final_is_best = False
        if self.step and self.last_validation != self.step and stop_reason != "interrupted":
            final_is_best = self._validate(bar, scheduled=False)
        if self.step and (final_is_best or self.last_checkpoint != checkpoint_name(self.step)):
            self.save(best=final_is_best)
        if stop_reason == "interrupted":
            saved = self.run_dir / "checkpoints" / checkpoint_name(self.step)
            self.echo(f"interrupted: saved {saved}; resume {self.run_dir} to continue" if self.resumable
                      else f"interrupted at step {self.step}")
        return {"stop_reason": stop_reason or "finished", "step": self.step, "monitor": self.config.monitor,
                "best_score": self.marked_best["score"] if self.marked_best else None}

    def _total_steps(self) -> int | None:
        """Where the run ends if neither time nor early stopping stops it first; None if unknown."""
        per_epoch = getattr(self.task, "batches_per_epoch", None)
        return total_steps(self.config.max_steps, self.config.epochs, per_epoch, self.step, self.task.epoch,
                           getattr(self.task, "batch", 0) if per_epoch else 0)

    def _run_epoch(self, bar: Progress, started: float, ctrl_c: "_CtrlC") -> str | None:
        """The rest of the current epoch; a stop reason, or None to go on."""
        epoch = self.task.epoch
        for batch in self.task.batches():
            tick = time.perf_counter()
            try:
                loss, count = self._update(batch)
            except TrainingDiverged as error:
                if self.config.on_nan == "stop":
                    raise self._diverged(error) from None
                self._back_off(error)
                return None
            seconds = time.perf_counter() - tick
            speed = count / max(seconds, 1e-9)
            self._log_update(epoch, loss, count, seconds)
            bar.update(self.step, loss=f"{loss:.3f}", **{f"{self.task.unit}/s": f"{speed:,.0f}"})
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
            raise TrainingDiverged(f"training diverged at step {self.step + 1}: {error}") from None
        self.step += 1
        return loss, count

    def _diverged(self, error: TrainingDiverged, gave_up: str = "") -> TrainingDiverged:
        """The error that stops a diverged run: where it diverged, the last good checkpoint, what to do."""
        where = self.run_dir / "checkpoints" / self.last_checkpoint if self.last_checkpoint else None
        if where is None:
            advice = "no checkpoint was saved yet: start again with a lower `lr` or `clip_norm`"
        elif gave_up:
            advice = f"the last good checkpoint is {where}; {gave_up}: resume with a lower `lr` or `clip_norm`"
        else:
            advice = (f"the last good checkpoint is {where}; lower `lr` or `clip_norm` and resume, "
                      "or set `on_nan` to 'reduce-lr'")
        return TrainingDiverged(f"{error}; {advice}")

    def _after_update(self, bar: Progress) -> str | None:
        """Validation, samples and checkpoints that fall due after this step; a stop reason or None."""
        config, stop = self.config, None
        is_best = False
        if self.step % config.eval_every == 0:
            is_best = self._validate(bar, scheduled=True)
            if config.patience and self.evals_without_improvement >= config.patience:
                stop = "early stopping"
        if config.sample_every and self.step % config.sample_every == 0:
            text = self.task.sample(np.random.default_rng(config.seed + self.step))
            if text:
                bar.write(f"--- sample at step {self.step} ---\n{text}\n---")
        if is_best or self.step % config.checkpoint_every == 0:
            self.save(best=is_best)
        return stop or self._out_of_steps()

    def _validate(self, bar: Progress, scheduled: bool) -> bool:
        """Validate now, log and show the metrics; whether this step's checkpoint becomes the best. Only a
        ``scheduled`` validation moves ``best_score`` and ``evals_without_improvement`` (see the module doc)."""
        metrics = self.task.evaluate()
        self.log.append({"step": self.step, **metrics})
        self.last_validation = self.step
        bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                  + ("" if scheduled else " (the final model)"))
        if self.config.monitor not in metrics:
            raise ConfigError(f"cannot select on {self.config.monitor!r}: validation reports {sorted(metrics)}")
        value = metrics[self.config.monitor]
        if scheduled:
            if isinstance(self.schedule, ReduceLROnPlateau):
                self.schedule.step(metrics["val_loss"])
            if self._improves(value, self.best_score):
                self.best_score, self.evals_without_improvement = value, 0
            else:
                self.evals_without_improvement += 1
        if not self._improves(value, self.marked_best["score"] if self.marked_best else None):
            return False
        self.marked_best = {"step": self.step, "score": value}
        return True

    def _out_of_steps(self) -> str | None:
        return "max steps" if self.config.max_steps and self.step >= self.config.max_steps else None

    def _improves(self, value: float, best: float | None) -> bool:
        """Whether ``value`` of the monitored metric beats ``best`` by more than ``min_delta``."""
        if best is None:
            return math.isfinite(value)
        if self.config.monitor_maximized:
            return value > best + self.config.min_delta
        return value < best - self.config.min_delta

    def _out_of_budget(self, started: float) -> str | None:
        minutes = (time.perf_counter() - started) / 60
        return "time limit" if self.config.max_minutes and minutes >= self.config.max_minutes else None

    def _back_off(self, error: TrainingDiverged) -> None:
        """After a divergence under ``on_nan="reduce-lr"``: reload the last checkpoint and go on with half the
        learning rate that diverged (so each new divergence halves it again), at most MAX_LR_REDUCTIONS times."""
        if self.last_checkpoint is None:
            raise self._diverged(error) from None
        if self.lr_reductions >= MAX_LR_REDUCTIONS:
            raise self._diverged(error, f"it diverged again after the learning rate was halved "
                                        f"{MAX_LR_REDUCTIONS} times, to {self.optimizer.lr:g}") from None
        diverged_lr = self.optimizer.lr
        self.restore()
        self.lr_reductions += 1
        self.optimizer.lr = diverged_lr * 0.5
        self.echo(f"{error}: back to step {self.step} with lr {self.optimizer.lr:g}")


def empty_log_window() -> dict:
    """Sums over the updates since the last metrics line: loss, updates, tokens, seconds."""
    return {"loss": 0.0, "updates": 0, "count": 0, "seconds": 0.0}


def marked_best_from_json(data, best_score: float | None) -> dict | None:
    """The saved {"step", "score"} of the best-marked checkpoint; a checkpoint written before final
    validations existed marks the best scheduled validation's (step unknown)."""
    if data is None:
        return None if best_score is None else {"step": None, "score": best_score}
    if not (isinstance(data, dict) and isinstance(data.get("score"), (int, float))):
        raise CheckpointError("the checkpoint's marked_best is damaged")
    return {"step": data.get("step"), "score": float(data["score"])}


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
