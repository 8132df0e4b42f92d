"""A bidirectional layer's directions on two threads against one after the other, and against torch.

    python benchmarks/bench_directions.py            # on an idle machine
    python benchmarks/bench_directions.py --busy     # with a second process beside it, training a model
    python benchmarks/bench_directions.py --quick

Times one forward+backward of a bidirectional layer three ways in one process, taking
turns: rnnkit as it runs by default (its directions on two threads where
``rnnkit.layers.directions.concurrent`` says so: a compiled LSTM or GRU whose step
products are not small; the others run one after the other either way), rnnkit
with them one after the other (``directions.allow(False)``; each
product then on the BLAS threads), and torch. ``--busy`` starts a second Python
process that trains a character model on one thread for as long as this one runs,
to see what each does when the machine is not its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from bench_layers import CELLS
from common import add_summary_argument, layer_run, paired_rounds, print_table, torch_layer_run, write_summary

from rnnkit.layers import directions
from rnnkit.layers.time_loop import blas_threads

CONFIGS = [(1, 25, 100, 100), (32, 100, 64, 128), (20, 20, 200, 200), (64, 50, 128, 512), (128, 100, 256, 256)]
QUICK_CONFIGS = [(1, 25, 100, 100), (32, 100, 64, 128), (20, 20, 200, 200)]
BUSY = """
from bench_train_step import rnnkit_step
step = rnnkit_step(hidden=256, batch_size=32)
while True:
    step()
"""

def one_after_the_other(run):
    """``run`` with the directions one after the other (``directions.allow(False)``), allowed again after."""
    def wrapped():
        directions.allow(False)
        try:
            run()
        finally:
            directions.allow(True)
    return wrapped


def bench(cell: str, config, rounds: int) -> dict[str, float]:
    """Median seconds of each way, and the medians of the per-round ratios."""
    batch, steps, inputs, hidden = config
    ours_class, torch_class = CELLS[cell]
    torch_module = torch_class(inputs, hidden, bidirectional=True)
    layer = ours_class(inputs, hidden, bidirectional=True)
    layer.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps, batch, inputs)).astype(np.float32)
    dy = rng.standard_normal((steps, batch, 2 * hidden)).astype(np.float32)
    runs = {"threads": layer_run(layer, x, dy), "sequential": one_after_the_other(layer_run(layer, x, dy)),
            "torch": torch_layer_run(torch_module, x, dy)}
    times = paired_rounds(runs, rounds)
    def ratio(a: str, b: str) -> float:
        return statistics.median(p / q for p, q in zip(times[a], times[b]))
    return {**{name: statistics.median(t) for name, t in times.items()},
            "threads/sequential": ratio("threads", "sequential"), "threads/torch": ratio("threads", "torch"),
            "sequential/torch": ratio("sequential", "torch")}


def start_busy_process() -> subprocess.Popen:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", BUSY], env=environment, cwd=Path(__file__).parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two configs, 3 rounds")
    parser.add_argument("--busy", action="store_true", help="a second process trains a model beside the benchmark")
    add_summary_argument(parser)
    args = parser.parse_args()
    configs, rounds = (QUICK_CONFIGS, 3) if args.quick else (CONFIGS, 5)
    busy = start_busy_process() if args.busy else None
    try:
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; "
              f"BLAS threads {blas_threads()}; "
              f"{'a second process training beside it' if busy else 'nothing else started'}")
        rows, figures = [], {}
        for cell in CELLS:
            for config in configs:
                result = bench(cell, config, rounds)
                name = f"{cell} {'x'.join(map(str, config))}"
                figures[name] = result
                rows.append([cell, "x".join(map(str, config)), result["threads"] * 1e3, result["sequential"] * 1e3,
                             result["torch"] * 1e3, result["threads/sequential"], result["threads/torch"],
                             result["sequential/torch"]])
    finally:
        if busy:
            busy.kill()
    print_table(["cell", "B x T x I x H", "threads ms", "one after other ms", "torch ms", "threads/one after other",
                 "threads/torch", "one after other/torch"], rows, title="forward+backward, bidirectional, 1 layer")
    write_summary(args.summary, figures)


if __name__ == "__main__":
    main()
