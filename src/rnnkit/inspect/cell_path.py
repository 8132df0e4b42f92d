"""The LSTM's cell path: how much of dc_t/dc_{t-d} is the product of forget gates.

The state of an LSTM is the pair (h_t, c_t). With h_{t-1} held fixed, one step
(``rnnkit.cells.lstm``: c_t = f * c_{t-1} + i * g, i and f seeing c_{t-1} through the
peepholes w_ci, w_cf) has the diagonal Jacobian

    D_t = dc_t/dc_{t-1} |_h = f_t + c_{t-1} * f_t (1 - f_t) * w_cf + g_t * i_t (1 - i_t) * w_ci

and the path that stays in the cell from c_{t-d} to c_t contributes diag(D_t ... D_{t-d+1}):
a product of forget gates, not of tanh' W_hh factors, so it need not vanish. The
whole Jacobian J_{t,d} = dc_t/dc_{t-d} (h_{t-d} held fixed) adds every path that leaves
the cell at some step s (c_s -> h_s = o_s tanh(c_s) -> the gates of step s+1) and comes
back. ``lstm_cell_path`` measures J by backpropagation: the rows of dc_t = I (H unit
vectors, dh_t = 0) carried back d steps by the cell's own ``step_backward`` are the rows
of J_{t,d}. It returns, for each end t and distance d,

    measured       ||J_{t,d}||_F
    cell_path      ||prod_s D_s||_F         (the diagonal path; = forget product without peepholes)
    forget_product ||prod_s f_s||_F
    through_h      ||J_{t,d} - diag(prod_s D_s)||_F     what the paths through h add
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnkit.cells.activations import sigmoid_grad
from rnnkit.cells.lstm import LSTMCell
from rnnkit.errors import ConfigError
from rnnkit.inspect.figures import new_figure, save_png
from rnnkit.inspect.replay import check_layer_index, check_unidirectional, run_layers, time_major


class StepScratch:
    """The ``dxw``/``dhw`` a cell's ``step_backward`` writes into at step t: one (B, gates*H) buffer for every t.

    A backward pass that needs neither the weight gradients nor dx keeps no (T, B, gates*H) arrays.
    """

    def __init__(self, rows: int, columns: int, dtype):
        self.buffer = np.empty((rows, columns), dtype)

    def __getitem__(self, t: int) -> np.ndarray:
        return self.buffer


def lstm_cell_path(layer, x: np.ndarray, ends=None, max_distance: int = 50, layer_index: int = 0,
                   hx=None) -> dict[str, np.ndarray]:
    """J_{t,d} = dc_t/dc_{t-d} of layer ``layer_index`` measured along one sequence, beside the cell path.

    ``layer``: an LSTM (unidirectional, without projection); ``x`` one sequence, (T, I) or
    (T, 1, I); ``ends``: the state indices t (1 .. T) where J is measured (None: up to
    32 evenly spaced ones, each at least ``max_distance`` from the start); ``hx``: the
    initial state. Returns "ends" (E,), "distance" (D,) = 1 .. max_distance, and
    "measured", "cell_path", "forget_product", "through_h", each (E, D) (see the module).
    """
    check_lstm(layer)
    x = time_major(layer, x)
    if x.shape[1] != 1:
        raise ConfigError(f"`x` must be one sequence, (T, I) or (T, 1, I), got batch {x.shape[1]}")
    index = check_layer_index(layer, layer_index)
    steps = x.shape[0]
    if not 1 <= max_distance <= steps:
        raise ConfigError(f"`max_distance` must be in 1 .. {steps} (the sequence's length), got {max_distance}")
    ends = default_ends(steps, max_distance) if ends is None else check_ends(ends, steps, max_distance)
    cache = run_layers(layer, x, hx)[index]
    params = layer.cell_parameters(index)
    results = [jacobian_norms(layer.cell, params, cache, t, max_distance) for t in ends]
    out = {name: np.array([result[name] for result in results]) for name in results[0]}
    return {"ends": np.asarray(ends), "distance": np.arange(1, max_distance + 1), **out}


def check_lstm(layer) -> None:
    check_unidirectional(layer)
    if not isinstance(layer.cell, LSTMCell):
        raise ConfigError(f"`layer` is a {type(layer).__name__}: the cell path is the LSTM's")
    if layer.cell.proj_size:
        raise ConfigError("`layer` has a projection (proj_size > 0): the cell path is measured without one")


def default_ends(steps: int, max_distance: int, count: int = 32) -> np.ndarray:
    return np.unique(np.linspace(max_distance, steps, min(count, steps - max_distance + 1)).round().astype(int))


def check_ends(ends, steps: int, max_distance: int) -> np.ndarray:
    ends = np.asarray(ends, dtype=np.int64).reshape(-1)
    if ends.size == 0 or ends.min() < max_distance or ends.max() > steps:
        raise ConfigError(f"`ends` must lie in {max_distance} .. {steps} (at least `max_distance` from the "
                          f"start, at most the sequence's length), got {ends.tolist()}")
    return ends


def jacobian_norms(cell: LSTMCell, params, cache, end: int, max_distance: int) -> dict[str, np.ndarray]:
    """The four norms of the module's docstring for one end t, d = 1 .. max_distance."""
    H = cell.hidden_size
    dtype = cache.x.dtype
    dstate = (np.zeros((H, H), dtype), np.eye(H, dtype=dtype))      # row j: the gradient of c_t[j]
    scratch = StepScratch(H, 4 * H, dtype)
    cell_path, forget_product = np.ones(H), np.ones(H)
    norms = {name: np.empty(max_distance) for name in ("measured", "cell_path", "forget_product", "through_h")}
    for d in range(1, max_distance + 1):
        step = end - d                                                # the step from c_{t-d} to c_{t-d+1}
        dstate = cell.step_backward(params, dstate, cache.cell, step, scratch, scratch)
        forget_gate = cache.cell.gates[step, 0, H:2 * H]
        cell_path = cell_path * cell_diagonal(cell, params, cache, step)
        forget_product = forget_product * forget_gate
        jacobian = dstate[1]                                          # rows: dc_t[j] / dc_{t-d}
        norms["measured"][d - 1] = np.linalg.norm(jacobian)
        norms["cell_path"][d - 1] = np.linalg.norm(cell_path)
        norms["forget_product"][d - 1] = np.linalg.norm(forget_product)
        norms["through_h"][d - 1] = np.linalg.norm(jacobian - np.diag(cell_path))
    return norms


def cell_diagonal(cell: LSTMCell, params, cache, step: int) -> np.ndarray:
    """D = f + c_prev * f (1 - f) * w_cf + g * i (1 - i) * w_ci at ``step`` (the cache's only sequence)."""
    H = cell.hidden_size
    gates = cache.cell.gates[step, 0]
    input_gate, forget_gate, candidate = gates[:H], gates[H:2 * H], gates[2 * H:3 * H]
    if not cell.peephole:
        return forget_gate.astype(np.float64)
    c_prev = cache.cell.c[step, 0]
    return (forget_gate + c_prev * sigmoid_grad(forget_gate) * params["weight_cf"]
            + candidate * sigmoid_grad(input_gate) * params["weight_ci"]).astype(np.float64)


def plot_cell_path(result: dict[str, np.ndarray], path: str | Path, title: str = "The LSTM's cell path"):
    """Left: the four norms against d (geometric mean over the ends, log scale); right: the share of
    ||J|| that the paths through h add, ||J - diag(prod D)|| / ||J||, per end (thin) and its median."""
    figure = new_figure(width=11.0, height=4.0)
    norms_axes, share_axes = figure.subplots(1, 2)
    distance = result["distance"]
    labels = {"measured": r"measured $\|\partial c_t/\partial c_{t-d}\|$",
              "cell_path": r"cell path $\|\prod D_s\|$ (f, and the peephole terms)",
              "forget_product": r"$\|\prod f_s\|$", "through_h": r"through h: $\|J - \mathrm{diag}\prod D_s\|$"}
    styles = {"measured": "-", "cell_path": "--", "forget_product": ":", "through_h": "-."}
    for name, label in labels.items():
        means = geometric_mean(result[name])
        norms_axes.plot(distance, np.where(means > 0, means, np.nan), styles[name], label=label)   # 0 at d = 1
    norms_axes.set(yscale="log", xlabel="distance d (steps)", ylabel="Frobenius norm (geometric mean over t)",
                   title=title)
    norms_axes.legend(fontsize="small")
    share = result["through_h"] / np.maximum(result["measured"], np.finfo(float).tiny)
    for row in share:
        share_axes.plot(distance, row, color="tab:gray", alpha=0.25, linewidth=0.8)
    share_axes.plot(distance, np.median(share, axis=0), color="tab:red", label="median over t")
    share_axes.set(xlabel="distance d (steps)", ylabel=r"$\|J - \mathrm{diag}\prod D_s\| \,/\, \|J\|$",
                   title="What the paths through h add", ylim=(0, None))
    share_axes.legend(fontsize="small")
    save_png(figure, path)
    return figure


def geometric_mean(values: np.ndarray) -> np.ndarray:
    """exp(mean(log v)) over axis 0, zeros kept apart (they give 0)."""
    with np.errstate(divide="ignore"):
        return np.exp(np.log(values).mean(axis=0))
