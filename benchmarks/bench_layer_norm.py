"""What layer normalisation costs: a training step of rnnkit's LN-LSTM and LN-GRU against the plain cells and
against the same layer-normalised cells written with torch autograd, in one process.

    python benchmarks/bench_layer_norm.py                # batch 32 x 50 steps, input 64, hidden 256, float32
    python benchmarks/bench_layer_norm.py --quick        # 2 rounds, LSTM only, without the NumPy-path and nn.LSTM runs
    python benchmarks/bench_layer_norm.py --threads 1    # one core for both libraries

A step is one layer's forward and backward with a fixed upstream gradient (dy), as
``bench_layers.py``. rnnkit's layer-normalised cells run on the NumPy steps (no compiled
kernel); the plain cells run on the compiled ones (float32, numba) and, for the cost of
losing them, on the NumPy steps too (``kernels.use("numpy")`` inside that run). The torch
version is the paper's equations (``rnnkit.cells.layer_norm_lstm``, ``layer_norm_gru``)
written as a torch user would: x W_ih^T and its normalisation for all steps at once,
then a Python loop over the steps, ``torch.nn.functional.layer_norm`` for each LN.
The runs take turns (``common.paired_rounds``); a ratio is the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from common import (add_summary_argument, add_threads_argument, layer_run, paired_rounds, print_table, set_threads,
                    torch_layer_run, write_summary)

from rnnkit.layers.recurrent import GRU, LSTM

BATCH, STEPS, INPUT, HIDDEN = 32, 50, 64, 256
EPS = 1e-5


def torch_ln_lstm_step(params, x, h, c):
    """h_t = o * tanh(LN(c_t)), z = LN(x W_ih^T) + LN(h W_hh^T) + b; x W_ih^T normalised for all steps before."""
    outputs = []
    for x_norm in x:
        z = x_norm + torch.nn.functional.layer_norm(h @ params["weight_hh"].T, (4 * HIDDEN,),
                                                    params["ln_hh_weight"], params["ln_hh_bias"], EPS)
        i, f, g, o = z.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(torch.nn.functional.layer_norm(
            c, (HIDDEN,), params["ln_cell_weight"], params["ln_cell_bias"], EPS))
        outputs.append(h)
    return torch.stack(outputs)


def torch_ln_gru_step(params, x, h, _):
    """n = tanh(u_n + r * v_n) with u, v the normalised projections (reset after)."""
    outputs = []
    for u in x:
        v = torch.nn.functional.layer_norm(h @ params["weight_hh"].T, (3 * HIDDEN,),
                                           params["ln_hh_weight"], params["ln_hh_bias"], EPS) + params["bias_hh"]
        u_r, u_z, u_n = u.chunk(3, dim=1)
        v_r, v_z, v_n = v.chunk(3, dim=1)
        r, z = torch.sigmoid(u_r + v_r), torch.sigmoid(u_z + v_z)
        n = torch.tanh(u_n + r * v_n)
        h = n + z * (h - n)
        outputs.append(h)
    return torch.stack(outputs)


def torch_layer_norm_run(layer, x, dy, sequence):
    """The torch autograd version of ``layer`` (its own weights), forward and backward."""
    params = {name: torch.tensor(np.array(value), requires_grad=True)
              for name, value in layer.cell_parameters().items()}
    x, dy = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(dy)
    rows = params["weight_ih"].shape[0]

    def run():
        for value in (*params.values(), x):
            value.grad = None
        x_norm = torch.nn.functional.layer_norm(x @ params["weight_ih"].T, (rows,), params["ln_ih_weight"],
                                                params["ln_ih_bias"], EPS) + params["bias_ih"]
        if sequence is torch_ln_lstm_step:
            x_norm = x_norm + params["bias_hh"]
        zeros = torch.zeros(x.shape[1], HIDDEN)
        y = sequence(params, x_norm, zeros, zeros)
        y.backward(dy)
    return run


def runs_for(cell: str, quick: bool) -> dict:
    layer_class, torch_class, sequence = {"LSTM": (LSTM, torch.nn.LSTM, torch_ln_lstm_step),
                                          "GRU": (GRU, torch.nn.GRU, torch_ln_gru_step)}[cell]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS, BATCH, INPUT)).astype(np.float32)
    dy = rng.standard_normal((STEPS, BATCH, HIDDEN)).astype(np.float32)
    plain, normed = layer_class(INPUT, HIDDEN, rng=0), layer_class(INPUT, HIDDEN, layer_norm=True, rng=0)
    module = torch_class(INPUT, HIDDEN)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in plain.state_dict().items()})
    runs = {
        "rnnkit compiled": layer_run(plain, x, dy),
        "rnnkit NumPy": layer_run(plain, x, dy, backend="numpy"),
        "rnnkit LN": layer_run(normed, x, dy),
        "torch nn": torch_layer_run(module, x, dy),
        "torch LN": torch_layer_norm_run(normed, x, dy, sequence),
    }
    return {name: run for name, run in runs.items() if not quick or name not in ("rnnkit NumPy", "torch nn")}


RATIOS = {"ln_over_compiled": ("rnnkit LN", "rnnkit compiled"), "ln_over_numpy": ("rnnkit LN", "rnnkit NumPy"),
          "ln_over_torch_ln": ("rnnkit LN", "torch LN"), "torch_ln_over_torch": ("torch LN", "torch nn")}


def ratio(times: dict[str, list[float]], ours: str, theirs: str) -> float | None:
    """Median of per-round ratios; None when one of the two did not run (--quick)."""
    if ours not in times or theirs not in times:
        return None
    return statistics.median(a / b for a, b in zip(times[ours], times[theirs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 7, the LSTM only")
    add_threads_argument(parser)
    add_summary_argument(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    rounds, cells = (2, ["LSTM"]) if args.quick else (7, ["LSTM", "GRU"])
    figures, rows = {}, []
    for cell in cells:
        times = paired_rounds(runs_for(cell, args.quick), rounds)
        for name, seconds in times.items():
            rows.append([f"{cell} {name}", statistics.median(seconds)])
        ratios = {key: ratio(times, ours, theirs) for key, (ours, theirs) in RATIOS.items()}
        figures[cell.lower()] = {**ratios, **{f"{name} s": statistics.median(s) for name, s in times.items()}}
    print_table(["run", "s/step"], rows,
                title=f"training step (forward + backward), batch {BATCH} x {STEPS} steps, input {INPUT}, "
                      f"hidden {HIDDEN}, float32, {args.threads or 'all'} thread(s)")
    print_table(["cell", "LN / compiled", "LN / NumPy path", "LN / torch LN", "torch LN / torch"],
                [[cell, *(figures[cell.lower()][key] or "-" for key in RATIOS)] for cell in cells],
                title="ratios (median of per-round ratios; rnnkit LN runs on the NumPy steps)")
    write_summary(args.summary, figures)


if __name__ == "__main__":
    main()
