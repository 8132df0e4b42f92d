"""Exploding gradients, and what clipping does about them.

A recurrent matrix with spectral radius rho > 1 makes the product of step Jacobians
(``rnnkit.inspect.gradients``) grow like rho^d where the units are not saturated. ``clipping_experiment`` trains
the same initial model on the same batches of the adding problem three times, with
plain SGD,

    none     p -= lr g
    value    p -= lr clip(g, -clip_value, clip_value)                   entry by entry
    norm     p -= lr g * min(1, max_norm / ||g||)                       the whole gradient

(``rnnkit.optim.clip_grad_value``, ``clip_grad_norm``), and records each update's loss
and the global gradient norm ||g|| before clipping. A run whose loss or norm stops
being finite stops there; the rest of its curve is NaN.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.inspect.figures import new_figure, save_png
from rnnkit.inspect.memory import TASKS, MemoryModel
from rnnkit.optim import SGD, clip_grad_norm, clip_grad_value

MODES = ("none", "value", "norm")


@dataclass
class ClippingSetup:
    """A configuration that explodes: a tanh RNN whose W_hh starts with spectral radius 2, SGD at lr 0.1.

    tanh keeps the states bounded, so the forward pass stays sane while the gradients
    through its unsaturated stretches grow (Pascanu et al. 2013's cliffs); without
    clipping, one such update throws the weights far out and the loss follows.

    ``nonlinearity`` applies to ``cell="rnn"`` only; other cells ("lstm", "gru", see
    ``rnnkit.inspect.memory.CELLS``) get all their recurrent blocks rescaled together.
    """

    cell: str = "rnn"
    nonlinearity: str = "tanh"
    hidden_size: int = 32
    length: int = 50                 # T of the adding problem
    spectral_radius: float = 2.0
    steps: int = 300
    batch_size: int = 32
    lr: float = 0.1
    clip_value: float = 0.1
    max_norm: float = 1.0
    seed: int = 0


def exploding_model(setup: ClippingSetup) -> MemoryModel:
    """The adding-problem model of ``setup``, its W_hh rescaled to the spectral radius asked for."""
    options = {"nonlinearity": setup.nonlinearity} if setup.cell == "rnn" else {}
    model = MemoryModel(TASKS["adding"], setup.cell, setup.hidden_size, dtype=np.float64, rng=setup.seed, **options)
    weight = model.rnn.parameters()["weight_hh_l0"]
    weight *= setup.spectral_radius / np.abs(np.linalg.eigvals(weight)).max()
    return model


def clipping_experiment(setup: ClippingSetup | None = None) -> dict[str, dict[str, np.ndarray]]:
    """{mode: {"loss": (steps,), "grad_norm": (steps,)}} for mode in none, value, norm (see the module);
    ``setup`` None: ``ClippingSetup()``."""
    setup = setup or ClippingSetup()
    start = exploding_model(setup)
    return {mode: train_with_clipping(copy.deepcopy(start), setup, mode) for mode in MODES}


def train_with_clipping(model: MemoryModel, setup: ClippingSetup, mode: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([setup.seed, 2])          # the same batches for every mode
    optimizer = SGD(model, lr=setup.lr)
    losses, norms = np.full(setup.steps, np.nan), np.full(setup.steps, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(setup.steps):
            batch = model.task.make_batch(setup.batch_size, setup.length, rng=rng, dtype=np.float64)
            y = model(batch)
            loss, dy = model.task.loss(y, batch)
            losses[step] = loss
            if not np.isfinite(loss):
                break
            model.zero_grad()
            model.backward(dy)
            norms[step] = norm = clip_grad_norm(model.grads, setup.max_norm if mode == "norm" else np.inf)
            if not np.isfinite(norm):
                break
            if mode == "value":
                clip_grad_value(model.grads, setup.clip_value)
            optimizer.step()
            if not all(np.isfinite(p).all() for p in model.parameters().values()):
                break
    return {"loss": losses, "grad_norm": norms}


def plot_clipping(results: dict[str, dict[str, np.ndarray]], path: str | Path, setup: ClippingSetup | None = None):
    """Training loss and gradient norm against the update, one line per mode (log scale; an x where a run
    stopped being finite), and the clipped runs' loss on a linear scale beside the trivial MSE 1/24."""
    figure = new_figure(width=14.0, height=3.8)
    loss_axes, norm_axes, zoom_axes = figure.subplots(1, 3)
    labels = {"none": "no clipping", "value": "clip by value", "norm": "clip by global norm"}
    for mode, curves in results.items():
        for axes, key in ((loss_axes, "loss"), (norm_axes, "grad_norm")):
            plot_curve(axes, curves[key], labels.get(mode, mode))
        if mode != "none":
            zoom_axes.plot(np.arange(1, len(curves["loss"]) + 1), curves["loss"], label=labels.get(mode, mode),
                           linewidth=1.0, color=loss_axes.get_lines()[-1].get_color())
    loss_axes.set(yscale="log", xlabel="update", ylabel="training loss (MSE)", title="Loss")
    norm_axes.set(yscale="log", xlabel="update", ylabel=r"$\|g\|$ before clipping", title="Gradient norm")
    zoom_axes.axhline(1 / 24, color="gray", linestyle=":", linewidth=1.0, label="predict 0.5 (MSE 1/24)")
    zoom_axes.set(xlabel="update", ylabel="training loss (MSE)", title="The clipped runs", ylim=(0, None))
    if setup is not None:
        norm_axes.axhline(setup.max_norm, color="gray", linestyle=":", linewidth=0.8)
        figure.suptitle(f"{setup.nonlinearity} RNN, H = {setup.hidden_size}, spectral radius "
                        f"{setup.spectral_radius:g}, adding problem T = {setup.length}, SGD lr {setup.lr:g}; "
                        f"clip value {setup.clip_value:g}, max norm {setup.max_norm:g}", fontsize="medium")
    for axes in (loss_axes, norm_axes, zoom_axes):
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    save_png(figure, path)
    return figure


def plot_curve(axes, values: np.ndarray, label: str) -> None:
    """``values`` against the update (from 1), an x at the last finite one if the run stopped early."""
    line, = axes.plot(np.arange(1, len(values) + 1), values, label=label, linewidth=1.0)
    finite = np.flatnonzero(np.isfinite(values))
    if len(finite) < len(values) and len(finite):
        axes.plot(finite[-1] + 1, values[finite[-1]], "x", color=line.get_color(), markersize=9)
