"""What the regularisers cost: a training step of a 2-layer LSTM and GRU with each option on, against the same
layer with every option off, on the compiled steps and on the NumPy steps; and the LSTM with all of them
against the same equations written by hand with torch autograd (torch's nn.LSTM has none of them).

    python benchmarks/bench_regularisers.py                  # batch 32 x 50 steps, input 64, hidden 256, float32
    python benchmarks/bench_regularisers.py --quick          # 2 rounds, LSTM only, a few options
    python benchmarks/bench_regularisers.py --threads 1      # one core for both libraries
    python benchmarks/bench_regularisers.py --threads 1 --cpu-time   # CPU time: for a machine others keep busy

A step is one stack's forward and backward with a fixed upstream gradient (dy), in training mode,
so every mask is drawn at every step, as in training. The runs take turns (``common.paired_rounds``);
a ratio is the median of per-round ratios against the option-off run of the same path. The torch
version (``torch_regularised_lstm``) is what a torch user writes: x W_ih^T for all steps at once,
then a Python loop over the steps, masks from ``torch.bernoulli``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from common import (add_summary_argument, add_threads_argument, layer_run, paired_rounds, print_table, set_threads,
                    write_summary)

from rnnkit.layers.recurrent import GRU, LSTM

BATCH, STEPS, INPUT, HIDDEN, LAYERS = 32, 50, 64, 256, 2
P = 0.25
OPTIONS = {
    "off": {},
    "input_dropout": dict(input_dropout=P),
    "locked_dropout": dict(locked_dropout=P),
    "output_dropout": dict(output_dropout=P),
    "recurrent_dropout": dict(recurrent_dropout=P),
    "weight_dropout": dict(weight_dropout=P),
    "zoneout_h": dict(zoneout_h=P),
    "zoneout_c": dict(zoneout_c=P),
}
ALL = {name: P for option in OPTIONS.values() for name in option}
OPTIONS["all"] = ALL
QUICK_OPTIONS = ("off", "recurrent_dropout", "weight_dropout", "zoneout_h", "all")


def torch_regularised_lstm(layer, x, dy):
    """The stack of ``layer`` (its weights) with every regulariser at P, in torch autograd."""
    params = [{name: torch.tensor(np.array(value), requires_grad=True)
               for name, value in layer.cell_parameters(k).items()} for k in range(layer.num_layers)]
    x, dy = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(dy)
    keep = 1.0 - P

    def locked(a):                                      # one mask per sequence, every step
        return a * torch.bernoulli(torch.full((1, *a.shape[1:]), keep)) / keep

    def run():
        for value in (x, *(v for p in params for v in p.values())):
            value.grad = None
        layer_input = locked(x)
        for k, p in enumerate(params):
            weight_hh = p["weight_hh"] * torch.bernoulli(torch.full(p["weight_hh"].shape, keep)) / keep
            hidden_mask = torch.bernoulli(torch.full((x.shape[1], HIDDEN), keep)) / keep
            xw = layer_input @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"]
            h = c = torch.zeros(x.shape[1], HIDDEN)
            outputs = []
            for t in range(x.shape[0]):
                i, f, g, o = (xw[t] + (h * hidden_mask) @ weight_hh.T).chunk(4, dim=1)
                c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h_new = torch.sigmoid(o) * torch.tanh(c_new)
                zoned_c, zoned_h = torch.bernoulli(torch.full((2, x.shape[1], HIDDEN), P))
                c = zoned_c * c + (1 - zoned_c) * c_new
                h = zoned_h * h + (1 - zoned_h) * h_new
                outputs.append(h)
            layer_input = locked(torch.stack(outputs))  # between layers, and on the output
        layer_input.backward(dy)
    return run


def runs_for(cell: str, quick: bool) -> dict:
    layer_class = {"LSTM": LSTM, "GRU": GRU}[cell]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS, BATCH, INPUT)).astype(np.float32)
    dy = rng.standard_normal((STEPS, BATCH, HIDDEN)).astype(np.float32)
    runs = {}
    for name, options in OPTIONS.items():
        if (quick and name not in QUICK_OPTIONS) or (cell == "GRU" and name == "zoneout_c"):
            continue
        options = {k: v for k, v in options.items() if cell == "LSTM" or k != "zoneout_c"}
        layer = layer_class(INPUT, HIDDEN, LAYERS, rng=0, **options)
        runs[f"{name} compiled"] = layer_run(layer, x, dy, backend="numba")
        runs[f"{name} NumPy"] = layer_run(layer, x, dy, backend="numpy")
        if cell == "LSTM" and name == "all":
            runs["torch all"] = torch_regularised_lstm(layer, x, dy)
    return runs


def median_ratio(times: dict[str, list[float]], ours: str, theirs: str) -> float:
    return statistics.median(a / b for a, b in zip(times[ours], times[theirs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds, the LSTM only, a few options")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the runs taking turns (default 7)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time this process's CPU time, not wall time (with --threads 1, on a busy machine)")
    add_threads_argument(parser)
    add_summary_argument(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    clock = time.process_time if args.cpu_time else time.perf_counter
    summary = {"config": f"{LAYERS} layers, batch {BATCH} x {STEPS} steps, input {INPUT}, hidden {HIDDEN}, p {P}"}
    for cell in ("LSTM",) if args.quick else ("LSTM", "GRU"):
        runs = runs_for(cell, args.quick)
        times = paired_rounds(runs, rounds=2 if args.quick else args.rounds, clock=clock)
        rows, figures = [], {}
        for name in OPTIONS:
            if f"{name} compiled" not in times:
                continue
            compiled = median_ratio(times, f"{name} compiled", "off compiled")
            numpy_path = median_ratio(times, f"{name} NumPy", "off NumPy")
            rows.append([name, 1e3 * statistics.median(times[f"{name} compiled"]), compiled,
                         1e3 * statistics.median(times[f"{name} NumPy"]), numpy_path])
            figures[name] = {"compiled_over_off": compiled, "numpy_over_off": numpy_path}
        print_table(["option", "compiled ms", "/ off", "NumPy ms", "/ off"], rows,
                    f"{cell}: a training step with each regulariser (p = {P}), {summary['config']}")
        if "torch all" in times:
            ratio = median_ratio(times, "all compiled", "torch all")
            print(f"LSTM with all of them: rnnkit compiled {1e3 * statistics.median(times['all compiled']):.1f} ms, "
                  f"torch autograd by hand {1e3 * statistics.median(times['torch all']):.1f} ms, ratio {ratio:.3f}")
            figures["all_over_torch"] = ratio
        summary[cell.lower()] = figures
    write_summary(args.summary, summary)


if __name__ == "__main__":
    main()
