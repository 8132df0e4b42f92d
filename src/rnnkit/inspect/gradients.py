"""How far back a gradient reaches: the norm of dL/dstate_k against the step k.

Backpropagation through time multiplies one Jacobian per step. For the plain RNN,
with a_t = xw_t + h_{t-1} W_hh^T and h_t = tanh(a_t),

    dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) W_hh          (rows are the batch)

so d steps back the gradient has been multiplied by d such factors; with tanh
(derivative <= 1) and a recurrent matrix of small norm they shrink it. The LSTM
carries part of its gradient along c_t = f * c_{t-1} + i * g, where the factor is
the forget gate f (see ``rnnkit.inspect.cell_path``).

``state_gradient_norms(layer, x, dh_T)`` measures this on one layer: the only gradient
entering is dh_T at the last hidden state h_T (dc_T = 0 and no output gradient), and
entry k is the Frobenius norm over the batch of dL/dstate_k, where L = sum(dh_T * h_T).

``loss_gradient_by_distance(model, ids, ...)`` does the same for a character model on
real text: for windows ending at position t, the gradient of the loss at t alone,

    E_t = -log softmax(h_t W_out^T + b_out)[x_{t+1}],     g_d = ||dE_t / dh_{t-d}||  (per window)

and averages g_d over the windows, for d = 0 .. max_distance.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.inspect.figures import new_figure, save_png, write_text
from rnnkit.inspect.replay import (backward_states, check_layer_index, check_single_layer, check_unidirectional,
                                   run_layers, time_major)
from rnnkit.losses import softmax


def state_gradient_norms(layer, x: np.ndarray, dh_T: np.ndarray | None = None, hx=None) -> dict[str, np.ndarray]:
    """{"h": (T+1,), and "c": (T+1,) for an LSTM}: ||dL/dh_k||_F and ||dL/dc_k||_F over the batch.

    ``layer``: a single-layer, unidirectional RNN, LSTM or GRU (a stack or a
    bidirectional layer is a ConfigError); ``x`` (T, B, I) as its forward takes it;
    ``dh_T`` (B, H_out) the gradient entering at h_T, all ones when None; ``hx`` the
    initial state (None: zeros). L = sum(dh_T * h_T), so entry T of "h" is ||dh_T||.
    An LSTM's "c" entry k is the whole derivative dL/dc_k, the path through
    h_k = o * tanh(c_k) included (what autograd reports for c_k), so entry T is
    ||dh_T * o_T * (1 - tanh(c_T)^2)||, not 0, although no gradient enters at c_T.
    """
    check_single_layer(layer)
    x = time_major(layer, x)
    (cache,) = run_layers(layer, x, hx)
    batch = x.shape[1]
    dh_T = initial_gradient(layer, dh_T, batch)
    dfinal = (dh_T,) + tuple(np.zeros((batch, size), layer.dtype) for size in layer.cell.state_sizes[1:])
    recorded = backward_states(layer, 0, cache, dfinal).states
    return {name: np.sqrt(np.einsum("tbh,tbh->t", g, g, dtype=np.float64)) for name, g in recorded.items()}


def initial_gradient(layer, dh_T, batch: int) -> np.ndarray:
    """``dh_T`` checked as (B, H_out) of the layer's dtype; all ones when None."""
    shape = (batch, layer.cell.output_size)
    if dh_T is None:
        return np.ones(shape, layer.dtype)
    dh_T = np.asarray(dh_T)
    if dh_T.shape != shape:
        raise ConfigError(f"`dh_T` must have shape {shape} (batch, hidden), got {dh_T.shape}")
    return dh_T.astype(layer.dtype)


def loss_gradient_by_distance(model, ids: np.ndarray, max_distance: int = 100, windows: int = 64,
                              warmup: int = 50, layer_index: int = -1, rng=None) -> dict[str, np.ndarray]:
    """||dE_t / dh_{t-d}|| for d = 0 .. max_distance, averaged over ``windows`` positions t of ``ids``.

    ``model``: a character model (``rnnkit.models.char_lm.CharLM``: ``embedding``,
    a unidirectional ``rnn`` stack, ``decoder``); ``ids`` (N,) the encoded text. Each
    window reads ``warmup + max_distance + 1`` characters from a zero state and ends at t;
    ``layer_index`` picks whose hidden state h is meant (the top by default; a lower
    layer's gradient flows through the layers above it too). Returns "distance",
    "mean", "median", "q10" and "q90" (over the windows), each (max_distance + 1,).
    """
    check_unidirectional(model.rnn, "model")
    index = check_layer_index(model.rnn, layer_index)
    if max_distance < 1 or windows < 1 or warmup < 0:
        raise ConfigError("`max_distance` and `windows` must be positive and `warmup` not negative")
    length = warmup + max_distance + 1
    inputs, targets = random_windows(np.asarray(ids), length, windows, rng)
    norms = window_gradient_norms(model, inputs, targets, index)[::-1][:max_distance + 1]   # by distance
    return {"distance": np.arange(max_distance + 1), "mean": norms.mean(axis=1),
            "median": np.median(norms, axis=1), "q10": np.quantile(norms, 0.1, axis=1),
            "q90": np.quantile(norms, 0.9, axis=1)}


def random_windows(ids: np.ndarray, length: int, count: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``count`` windows of ``length`` ids (length, count) at random starts, and the id after each."""
    if ids.ndim != 1 or len(ids) < length + 1:
        raise DataError(f"the text has {len(ids)} characters; windows of {length} and the one after "
                        "need more: pass a longer text or a smaller `max_distance`/`warmup`")
    starts = np.random.default_rng(rng).integers(0, len(ids) - length, count)
    windows = ids[starts[None, :] + np.arange(length)[:, None]]
    return windows.astype(np.int64), ids[starts + length].astype(np.int64)


def window_gradient_norms(model, inputs: np.ndarray, targets: np.ndarray, index: int) -> np.ndarray:
    """(T+1, B): ||dE / dh_k|| of layer ``index`` per state k and window, E the loss at the last step."""
    caches = run_layers(model.rnn, model.embedding(inputs))
    top = caches[-1].cell.h[-1]                                           # (B, H): h_t of the top layer
    logits = top @ model.decoder.weight.T
    if model.decoder.bias is not None:
        logits = logits + model.decoder.bias
    dlogits = softmax(logits)
    dlogits[np.arange(len(targets)), targets] -= 1.0                      # dE/dlogits = p - onehot
    dtop = dlogits @ model.decoder.weight
    rnn, batch = model.rnn, len(targets)
    dy = None
    for k in reversed(range(index, rnn.num_layers)):
        dfinal = [np.zeros((batch, size), rnn.dtype) for size in rnn.cell.state_sizes]
        if k == rnn.num_layers - 1:
            dfinal[0] = dtop
        gradients = backward_states(rnn, k, caches[k], tuple(dfinal), dy)
        dy = gradients.dx
    h = gradients.states["h"]
    return np.sqrt(np.einsum("tbh,tbh->tb", h, h, dtype=np.float64))


# -- the picture and the table ------------------------------------------------------------------------------

def plot_gradient_distance(profiles: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]], path: str | Path,
                           title: str = "Gradient of the loss at t against distance d"):
    """One panel per cell ("rnn", "lstm", "gru", ...), one colour per stage ("init", "trained"), log scale.

    ``profiles[cell][stage]`` is a ``loss_gradient_by_distance`` result: its median over the
    windows (solid), their 10-90 % range (band) and their mean (dotted; a few windows with
    large gradients can lift it above the band). Returns the figure.
    """
    if not profiles:
        raise ConfigError("`profiles` is empty: nothing to plot")
    figure = new_figure(width=4.0 * len(profiles), height=3.6)
    panels = figure.subplots(1, len(profiles), sharey=True, squeeze=False)[0]
    for axes, (cell, stages) in zip(panels, profiles.items()):
        for stage, profile in stages.items():
            line, = axes.plot(profile["distance"], profile["median"], label=f"{stage}: median, 10-90 %")
            axes.fill_between(profile["distance"], profile["q10"], profile["q90"], color=line.get_color(),
                              alpha=0.15, linewidth=0)
            axes.plot(profile["distance"], profile["mean"], ":", color=line.get_color(), linewidth=1.0,
                      label=f"{stage}: mean")
        axes.set(yscale="log", xlabel="distance d (characters)", title=cell.upper())
        axes.grid(True, which="major", alpha=0.3)
        axes.legend(fontsize="small")
    panels[0].set_ylabel(r"$\|\partial E_t / \partial h_{t-d}\|$")
    figure.suptitle(title)
    save_png(figure, path)
    return figure


def write_gradient_distance_csv(profiles: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
                                path: str | Path) -> None:
    """One row per (cell, stage, distance): mean, median, q10, q90; written atomically."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["cell", "stage", "distance", "mean", "median", "q10", "q90"])
    for cell, stages in profiles.items():
        for stage, profile in stages.items():
            for d, mean, median, q10, q90 in zip(profile["distance"], profile["mean"], profile["median"],
                                                 profile["q10"], profile["q90"]):
                writer.writerow([cell, stage, int(d), f"{mean:.6g}", f"{median:.6g}", f"{q10:.6g}", f"{q90:.6g}"])
    write_text(path, text.getvalue())


def compare_gradient_distance(models: Mapping[str, Mapping[str, object]], ids: np.ndarray, png: str | Path,
                              csv_path: str | Path | None = None, **options) -> dict:
    """``loss_gradient_by_distance`` of every ``models[cell][stage]`` on the same windows, drawn and tabled.

    ``options`` go to ``loss_gradient_by_distance`` (``rng`` fixes the windows, the same for
    every model). Returns the profiles, ``profiles[cell][stage]``.
    """
    seed = options.pop("rng", 0)
    profiles = {cell: {stage: loss_gradient_by_distance(model, ids, rng=seed, **options)
                       for stage, model in stages.items()} for cell, stages in models.items()}
    plot_gradient_distance(profiles, png)
    if csv_path is not None:
        write_gradient_distance_csv(profiles, csv_path)
    return profiles
