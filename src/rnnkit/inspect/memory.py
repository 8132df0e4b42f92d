"""Memory tasks, reproduced: each cell trained on each task, success against the time lag T.

The tasks are ``rnnkit.data.memory_tasks``'s. A model is one recurrent layer and a
linear read-out,

    y = h_n W^T + b           at each sequence's last step (adding, temporal order)
    y_t = h_t W^T + b         at every step (copy memory, embedded Reber)

trained with Adam on fresh batches, the global gradient norm clipped, until a time
budget is spent or the task is solved. A sequence counts as processed correctly by
its task's criterion:

    adding          |y - target| < 0.04                          (Hochreiter & Schmidhuber 1997)
    temporal order  softmax(y)[class] > 0.7, i.e. every output within 0.3 of its one-hot target
    copy memory     the ten recalled symbols all right (argmax of y_t over the last ten steps)
    embedded Reber  every output at every step within 0.5 of its 0/1 target (MSE on the next-symbol set)

and a run is *solved* when at least ``solve_share`` of a fixed test set of fresh
sequences is processed correctly. ``memory_task_table`` runs every (task, cell, T,
seed) and returns one row per run; ``plot_memory_success`` draws the share of test
sequences right against T, one panel per task, one line per cell.

Cells: "rnn" (tanh), "lstm" (PyTorch's initialisation: the forget gate starts near
sigmoid(0) = 0.5), "lstm-fb1" (forget-gate bias 1: it starts near 0.73), "gru".
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rnnkit.data import memory_tasks
from rnnkit.data.memory_tasks import MemoryBatch
from rnnkit.errors import ConfigError
from rnnkit.inspect.figures import new_figure, save_png, write_text
from rnnkit.layers.linear import Linear
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.losses import mse_loss, softmax, softmax_cross_entropy
from rnnkit.module import Module
from rnnkit.optim import Adam, clip_grad_norm

CELLS: dict[str, Callable] = {
    "rnn": lambda inputs, hidden, **options: RNN(inputs, hidden, **options),
    "lstm": lambda inputs, hidden, **options: LSTM(inputs, hidden, **options),
    "lstm-fb1": lambda inputs, hidden, **options: LSTM(inputs, hidden, forget_bias=1.0, **options),
    "gru": lambda inputs, hidden, **options: GRU(inputs, hidden, **options),
}


@dataclass(frozen=True)
class MemoryTask:
    """A task: its batches, the read-out's size, where it reads, its loss and its criterion."""

    name: str
    make_batch: Callable[..., MemoryBatch]       # (batch, length, rng) -> MemoryBatch
    inputs: int
    outputs: int
    every_step: bool                             # read out at every step (copy) or at the last one
    loss: Callable                               # (y, batch) -> (loss, dL/dy)
    correct: Callable                            # (y, batch) -> (B,) bool
    trivial_loss: Callable                       # (batch) -> the loss of the best input-blind prediction


def adding_loss(y, batch):
    loss, grad = mse_loss(y[:, 0], batch.targets)
    return loss, grad[:, None]


def adding_correct(y, batch):
    return np.abs(y[:, 0] - batch.targets) < memory_tasks.ADDING_TOLERANCE


def order_loss(y, batch):
    return softmax_cross_entropy(y, batch.targets)


def order_correct(y, batch):
    return softmax(y)[np.arange(len(batch.targets)), batch.targets] > 0.7


def reber_loss(y, batch):
    return mse_loss(y, batch.targets)


def reber_correct(y, batch):
    """Every output at every step within 0.5 of its 0/1 target (the 1997 criterion)."""
    return np.all(np.abs(y - batch.targets) < 0.5, axis=(0, 2))


def variance_of_targets(batch):
    """MSE of predicting the targets' mean (per output): what a model that ignores its input can reach."""
    targets = batch.targets.reshape(-1, batch.targets.shape[-1]) if batch.targets.ndim == 3 else batch.targets
    return float(np.var(targets, axis=0).mean())


def class_entropy(batch):
    """Cross-entropy of predicting the classes' frequencies: ln 4 for temporal order's four classes."""
    frequencies = np.bincount(batch.targets) / len(batch.targets)
    frequencies = frequencies[frequencies > 0]
    return float(-(frequencies * np.log(frequencies)).sum())


def copy_baseline(batch):
    """Blanks, then a uniform guess among the 8 symbols: 10 log 8 / (T + 20)."""
    return float(memory_tasks.copy_memory_baseline(batch.x.shape[0] - 2 * memory_tasks.COPY_COUNT))


def copy_loss(y, batch):
    return softmax_cross_entropy(y, batch.targets)


def copy_correct(y, batch):
    recalled = slice(-memory_tasks.COPY_COUNT, None)
    return np.all(y[recalled].argmax(axis=-1) == batch.targets[recalled], axis=0)


TASKS = {
    "adding": MemoryTask("adding", memory_tasks.adding_problem, 2, 1, False, adding_loss, adding_correct,
                         variance_of_targets),
    "temporal_order": MemoryTask("temporal_order", memory_tasks.temporal_order, 8, 4, False, order_loss,
                                 order_correct, class_entropy),
    "copy": MemoryTask("copy", memory_tasks.copy_memory, 10, 10, True, copy_loss, copy_correct, copy_baseline),
    "reber": MemoryTask("reber", memory_tasks.embedded_reber, 7, 7, True, reber_loss, reber_correct,
                        variance_of_targets),
}


class MemoryModel(Module):
    """One recurrent layer and a linear read-out (see the module): ``y = model(batch)``, ``model.backward(dy)``."""

    def __init__(self, task: MemoryTask, cell: str, hidden_size: int, dtype=np.float32, rng=None, **layer_options):
        """``layer_options`` go to the recurrent layer (``nonlinearity="relu"`` for an RNN, say)."""
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"unknown `cell` {cell!r}: choose one of {', '.join(CELLS)}")
        rng = np.random.default_rng(rng)
        self.task = task
        self.rnn = CELLS[cell](task.inputs, hidden_size, dtype=dtype, rng=rng, **layer_options)
        self.readout = Linear(hidden_size, task.outputs, dtype=dtype, rng=rng)

    def forward(self, batch: MemoryBatch) -> np.ndarray:
        x = batch.x.astype(self.rnn.dtype, copy=False)
        self._input_shape = x.shape
        y, state = self.rnn(x, lengths=batch.lengths)
        if self.task.every_step:
            return self.readout(y)
        h_n = state[0] if isinstance(state, tuple) else state
        return self.readout(h_n[0])

    def backward(self, dy: np.ndarray) -> None:
        dhidden = self.readout.backward(dy)
        if self.task.every_step:
            self.rnn.backward(dhidden)
            return
        steps, batch, _ = self._input_shape
        dh_n = dhidden[None]
        self.rnn.backward(np.zeros((steps, batch, self.rnn.hidden_size), self.rnn.dtype),
                          (dh_n, None) if isinstance(self.rnn, LSTM) else dh_n)


@dataclass
class MemoryRunConfig:
    """How each run of ``memory_task_table`` trains."""

    hidden_size: int = 32
    batch_size: int = 32
    lr: float = 0.01                 # Adam
    clip_norm: float = 1.0
    time_budget_s: float = 60.0      # wall-clock seconds per run
    max_steps: int = 1_000_000
    test_size: int = 500
    eval_every: int = 100
    solve_share: float = 0.95        # solved: this share of the test set processed correctly


def train_memory_task(task: str, cell: str, length: int, config: MemoryRunConfig | None = None,
                      seed: int = 0) -> dict:
    """Train one model on ``task`` at lag ``length`` until solved or out of time (``config`` None: the
    defaults). Returns its row: task, cell, T, seed, steps, seconds, test_loss, test_accuracy (share
    right), trivial_loss (the test loss of the best input-blind prediction), solved, solved_at_step."""
    config = config or MemoryRunConfig()
    if task not in TASKS:
        raise ConfigError(f"unknown `task` {task!r}: choose one of {', '.join(TASKS)}")
    spec = TASKS[task]
    rng = np.random.default_rng(seed)
    model = MemoryModel(spec, cell, config.hidden_size, rng=rng)
    optimizer = Adam(model, lr=config.lr)
    test = spec.make_batch(config.test_size, length, rng=np.random.default_rng([seed, 1]))
    started, step, result = time.perf_counter(), 0, {"test_loss": np.nan, "test_accuracy": 0.0}
    solved_at = None
    while step < config.max_steps and time.perf_counter() - started < config.time_budget_s:
        train_step(model, optimizer, spec.make_batch(config.batch_size, length, rng=rng), config.clip_norm)
        step += 1
        if step % config.eval_every == 0:
            result = evaluate(model, test)
            if result["test_accuracy"] >= config.solve_share:
                solved_at = step
                break
    if solved_at is None:
        result = evaluate(model, test)
    return {"task": task, "cell": cell, "T": length, "seed": seed, "steps": step,
            "seconds": round(time.perf_counter() - started, 1), **result, "trivial_loss": spec.trivial_loss(test),
            "solved": result["test_accuracy"] >= config.solve_share, "solved_at_step": solved_at}


def train_step(model: MemoryModel, optimizer, batch: MemoryBatch, clip_norm: float | None) -> tuple[float, float]:
    """One update; returns the loss and the gradient's global norm before clipping."""
    y = model(batch)
    loss, dy = model.task.loss(y, batch)
    model.zero_grad()
    model.backward(dy.astype(y.dtype, copy=False))
    norm = clip_grad_norm(model.grads, clip_norm if clip_norm else np.inf)
    optimizer.step()
    return loss, norm


def evaluate(model: MemoryModel, test: MemoryBatch) -> dict:
    y = model(test)
    loss, _ = model.task.loss(y, test)
    return {"test_loss": float(loss), "test_accuracy": float(model.task.correct(y, test).mean())}


def memory_task_table(tasks, cells, lengths, seeds=(0,), config: MemoryRunConfig | None = None,
                      csv_path: str | Path | None = None, png_path: str | Path | None = None,
                      progress: Callable[[dict], None] | None = None) -> list[dict]:
    """``train_memory_task`` for every task x cell x T x seed; rows written to ``csv_path`` and drawn
    into ``png_path`` (each when given) as they are complete. ``progress`` is called with each row."""
    config = config or MemoryRunConfig()
    rows = []
    for task in tasks:
        for length in lengths:
            for cell in cells:
                for seed in seeds:
                    rows.append(train_memory_task(task, cell, length, config, seed))
                    if progress:
                        progress(rows[-1])
                    if csv_path is not None:
                        write_memory_csv(rows, csv_path, config)
    if png_path is not None:
        plot_memory_success(rows, png_path, config)
    return rows


ROW_FIELDS = ("task", "cell", "T", "seed", "steps", "seconds", "test_loss", "trivial_loss", "test_accuracy",
              "solved", "solved_at_step")


def write_memory_csv(rows: list[dict], path: str | Path, config: MemoryRunConfig | None = None) -> None:
    """The rows as CSV (atomically); a first comment line records the run configuration."""
    text = io.StringIO()
    if config is not None:
        text.write("# " + ", ".join(f"{key}={value}" for key, value in asdict(config).items()) + "\n")
    writer = csv.DictWriter(text, ROW_FIELDS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "test_loss": f"{row['test_loss']:.5g}", "trivial_loss": f"{row['trivial_loss']:.5g}",
                         "test_accuracy": f"{row['test_accuracy']:.4f}"})
    write_text(path, text.getvalue())


def summarise(rows: list[dict]) -> dict[tuple[str, str, int], dict]:
    """(task, cell, T) -> mean test accuracy, share of runs solved, mean test loss / trivial loss, runs."""
    groups: dict[tuple[str, str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["cell"], row["T"]), []).append(row)
    return {key: {"accuracy": float(np.mean([r["test_accuracy"] for r in group])),
                  "solved": float(np.mean([r["solved"] for r in group])),
                  "relative_loss": float(np.mean([r["test_loss"] / r["trivial_loss"] for r in group])),
                  "runs": len(group)}
            for key, group in groups.items()}


def plot_memory_success(rows: list[dict], path: str | Path, config: MemoryRunConfig | None = None):
    """Per task (a column): the share of test sequences right against T (top; a filled marker: every
    run of that point solved the task) and the test loss over the trivial loss (bottom; 1: no better than
    ignoring the input, 0: perfect). One line per cell, means over seeds."""
    summary = summarise(rows)
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    cells = list(dict.fromkeys(row["cell"] for row in rows))
    figure = new_figure(width=4.2 * len(tasks), height=6.4)
    panels = figure.subplots(2, len(tasks), squeeze=False, sharex="col")
    for column, task in enumerate(tasks):
        accuracy_axes, loss_axes = panels[0, column], panels[1, column]
        for offset, cell in enumerate(cells):
            points = sorted((T, s) for (t, c, T), s in summary.items() if t == task and c == cell)
            if points:
                plot_cell_points(accuracy_axes, loss_axes, points, cell, 0.012 * (offset - (len(cells) - 1) / 2))
        lags = sorted({T for (t, _, T) in summary if t == task})
        accuracy_axes.set(ylabel="share of test sequences right", ylim=(-0.05, 1.05), title=task.replace("_", " "))
        loss_axes.axhline(1.0, color="gray", linestyle=":", linewidth=0.8)
        loss_axes.set(xscale="log", xlabel="time lag T", ylabel="test loss / trivial loss", ylim=(0, None))
        loss_axes.set_xticks(lags, [str(T) for T in lags])
        loss_axes.minorticks_off()
        for axes in (accuracy_axes, loss_axes):
            axes.grid(True, alpha=0.3)
    handles, labels = panels[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(cells))
    if config is not None:
        figure.suptitle(f"H = {config.hidden_size}, {config.time_budget_s:g} s per run, Adam lr {config.lr:g}, "
                        f"clip {config.clip_norm:g}; filled: solved (>= {config.solve_share:.0%})", fontsize="medium")
    save_png(figure, path)
    return figure


def plot_cell_points(accuracy_axes, loss_axes, points, cell: str, shift: float) -> None:
    """One cell's line in both panels; ``shift`` (in units of the accuracy axis) keeps equal lines apart."""
    lags = [T for T, _ in points]
    line, = accuracy_axes.plot(lags, [s["accuracy"] + shift for _, s in points], "-", label=cell)
    colour = line.get_color()
    for T, s in points:
        accuracy_axes.plot(T, s["accuracy"] + shift, "o", color=colour,
                           markerfacecolor=colour if s["solved"] == 1.0 else "white")
    loss_axes.plot(lags, [s["relative_loss"] for _, s in points], "o-", color=colour, markersize=4)
