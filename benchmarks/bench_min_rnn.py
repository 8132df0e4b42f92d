"""minGRU and minLSTM (issue 17): a training step against rnnkit's GRU and LSTM, and against the same cells in torch.

    python benchmarks/bench_min_rnn.py            # every config (about a minute)
    python benchmarks/bench_min_rnn.py --quick    # one config, fewer rounds (about 20 s)

One thread for both libraries unless ``--threads`` says otherwise: with two threads on
the shared 2-core machine, the ratio against torch moved from 0.14 to 1.5 between
runs minutes apart (torch spreads its elementwise work over the threads, NumPy does not).

One process, float32, one layer, x (T, B, I) time-major. A training step is forward
and backward of the recurrent layer (dy = random, as bench_layers.py). Four rnnkit
layers of the same hidden size (minGRU, minLSTM, GRU, LSTM) and the same two min
cells in torch take turns in rounds (``common.paired_rounds``); times are medians
over rounds, ratios medians of per-round ratios.

The torch min cells: one ``nn.Linear`` for the gates, then either the paper's
log-space parallel scan (Feng et al. 2024, appendix B: ``torch.cumsum`` and
``torch.logcumsumexp``) or a loop over t of h_t = a_t * h_{t-1} + b_t; autograd for
backward. The ratio against torch is against the faster of the two in each round.
rnnkit's layers run with their default scan (the sequential loop); the "scan" table
times the two scans of ``rnnkit.cells.linear_scan`` alone, forward and reverse, on the
same shapes.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
import torch.nn.functional as F
from common import (add_summary_argument, add_threads_argument, layer_run, median_seconds, paired_rounds,
                    print_table, set_threads, write_summary)

from rnnkit.cells.linear_scan import log_scan, reverse_scan, sequential_scan
from rnnkit.layers.min_rnn import MinGRU, MinLSTM
from rnnkit.layers.recurrent import GRU, LSTM

CONFIGS = [(32, 100, 64, 256), (64, 100, 64, 384), (20, 20, 200, 200), (1, 25, 100, 100)]   # B, T, I, H
QUICK_CONFIGS = [(32, 50, 64, 256)]
LAYERS = {"minGRU": MinGRU, "minLSTM": MinLSTM, "GRU": GRU, "LSTM": LSTM}
TORCH_SCANS = ("log", "loop")
TORCH_RUNS = [f"torch {name} {scan}" for name in ("minGRU", "minLSTM") for scan in TORCH_SCANS]


# -- the min cells in torch, as the paper writes them ------------------------------------------


def torch_log_g(x):
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


class TorchMinCell(torch.nn.Module):
    """minGRU (gates z, h~) or minLSTM (i, f, h~) from h_0 = 0: in log space (the paper's appendix B) or a loop."""

    def __init__(self, input_size: int, hidden_size: int, lstm: bool, scan: str):
        super().__init__()
        self.lstm, self.scan = lstm, scan
        self.linear = torch.nn.Linear(input_size, (3 if lstm else 2) * hidden_size)

    def forward(self, x):
        blocks = self.linear(x).chunk(3 if self.lstm else 2, dim=-1)
        if self.lstm:
            k_i, k_f, k_h = blocks
            u = F.softplus(-k_f) - F.softplus(-k_i)
        else:
            u, k_h = blocks
        if self.scan == "loop":
            a, b = torch.sigmoid(-u), torch.sigmoid(u) * torch.exp(torch_log_g(k_h))
            h, outputs = torch.zeros_like(a[0]), []
            for a_t, b_t in zip(a, b):
                h = a_t * h + b_t
                outputs.append(h)
            return torch.stack(outputs)
        log_a, log_b = -F.softplus(u), -F.softplus(-u) + torch_log_g(k_h)
        a_star = torch.cumsum(log_a, dim=0)
        return torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=0))


def torch_cell(layer, scan: str) -> TorchMinCell:
    """The torch cell with ``layer``'s weights (rows in the same order)."""
    cell = TorchMinCell(layer.input_size, layer.hidden_size, isinstance(layer, MinLSTM), scan)
    p = layer.cell_parameters(0)
    with torch.no_grad():
        cell.linear.weight.copy_(torch.from_numpy(p["weight_ih"]))
        cell.linear.bias.copy_(torch.from_numpy(p["bias_ih"]))
    return cell


# -- one training step ----------------------------------------------------------------------


def torch_step(cell, x, dy):
    x, dy = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(dy)

    def run():
        cell.zero_grad()
        x.grad = None
        cell(x).backward(dy)
    return run


def bench_step(config, rounds: int) -> dict[str, float]:
    """Median seconds of each layer's training step, and the per-round ratios of interest."""
    batch, steps, inputs, hidden = config
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps, batch, inputs)).astype(np.float32)
    dy = rng.standard_normal((steps, batch, hidden)).astype(np.float32)
    layers = {name: cls(inputs, hidden, rng=1) for name, cls in LAYERS.items()}
    runs = {name: layer_run(layer, x, dy) for name, layer in layers.items()}
    for name in ("minGRU", "minLSTM"):
        for scan in TORCH_SCANS:
            cell = torch_cell(layers[name], scan)
            with torch.no_grad():                  # the same cell: the same outputs
                np.testing.assert_allclose(cell(torch.from_numpy(x)).numpy(), layers[name](x)[0], rtol=1e-4,
                                           atol=1e-5)
            runs[f"torch {name} {scan}"] = torch_step(cell, x, dy)
    times = paired_rounds(runs, rounds)
    for name in ("minGRU", "minLSTM"):                 # per round, the faster torch version
        times[f"torch {name}"] = [min(pair) for pair in zip(*(times[f"torch {name} {scan}"] for scan in TORCH_SCANS))]
    result = {name: statistics.median(t) for name, t in times.items()}
    for ours, theirs in (("minGRU", "GRU"), ("minLSTM", "LSTM"), ("minGRU", "torch minGRU"),
                         ("minLSTM", "torch minLSTM")):
        result[f"{ours}/{theirs}"] = statistics.median(a / b for a, b in zip(times[ours], times[theirs]))
    return result


# -- the scans alone --------------------------------------------------------------------------


def bench_scans(config, repeats: int) -> list:
    """[T x B x H, sequential forward, log forward, sequential reverse, log reverse] in ms."""
    batch, steps, _, hidden = config
    rng = np.random.default_rng(0)
    shape = (steps, batch, hidden)
    a = rng.uniform(0.05, 0.95, shape).astype(np.float32)
    b = rng.uniform(0.05, 1.0, shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    h0 = np.zeros((batch, hidden), np.float32)
    log_a, log_b = np.log(a), np.log(b)
    runs = [lambda: sequential_scan(a, b, h0), lambda: log_scan(log_a, log_b, h0),
            lambda: reverse_scan(a, dy, h0), lambda: reverse_scan(a, dy, h0, "log", log_a)]
    return [f"{steps}x{batch}x{hidden}", *(1e3 * median_seconds(run, repeats) for run in runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one config, fewer rounds (seconds)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per config (median)")
    add_threads_argument(parser)
    parser.set_defaults(threads=1)
    add_summary_argument(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    configs = QUICK_CONFIGS if args.quick else CONFIGS
    rounds = args.rounds or (2 if args.quick else 7)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; numpy {np.__version__}; float32, 1 layer")

    rows, results = [], []
    for config in configs:
        result = bench_step(config, rounds)
        results.append(result)
        rows.append(["x".join(map(str, config)), *(1e3 * result[name] for name in (*LAYERS, *TORCH_RUNS)),
                     result["minGRU/GRU"], result["minLSTM/LSTM"], result["minGRU/torch minGRU"],
                     result["minLSTM/torch minLSTM"]])
    print_table(["B x T x I x H", *(f"{name} ms" for name in (*LAYERS, *TORCH_RUNS)),
                 "minGRU/GRU", "minLSTM/LSTM", "minGRU/torch", "minLSTM/torch"], rows,
                title="training step (forward+backward), rnnkit unless named; ratios below 1: the first is faster")

    scans = [bench_scans(config, 5 if args.quick else 20) for config in configs]
    print_table(["T x B x H", "sequential ms", "log ms", "reverse sequential ms", "reverse log ms"], scans,
                title="the scan alone (rnnkit.cells.linear_scan), float32")

    first = results[0]
    write_summary(args.summary, {
        "config": "x".join(map(str, configs[0])),
        **{key: first[key] for key in ("minGRU/GRU", "minLSTM/LSTM", "minGRU/torch minGRU", "minLSTM/torch minLSTM")},
        "log_over_sequential_scan": scans[0][2] / scans[0][1],
    })


if __name__ == "__main__":
    main()
