"""Forward+backward time of rnnkit's RNN/LSTM/GRU layers against PyTorch, in one process.

    python benchmarks/bench_layers.py            # every config, 1 layer and 2-layer/bidirectional variants
    python benchmarks/bench_layers.py --quick    # fewer configs and repeats, under a minute

Prints, per config (B, T, I, H), the median seconds of both over rounds in which
they take turns, and the median of the per-round ratios rnnkit/torch (below 1:
rnnkit is faster), then the geometric mean of the ratios. float32, all cores.
The efficiency column is rnnkit's GFLOP/s (matrix-product flops only: forward
2TB(I+H)GH per layer and direction, backward twice that) over the GFLOP/s of one
large NumPy product measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from common import (add_summary_argument, add_threads_argument, compare, geometric_mean, layer_run, median_seconds,
                    print_table, set_threads, torch_layer_run, write_summary)

import rnnkit

CONFIGS = [(1, 25, 100, 100), (32, 100, 64, 128), (20, 20, 200, 200), (64, 50, 128, 512), (128, 100, 256, 256)]
QUICK_CONFIGS = [(1, 25, 100, 100), (32, 100, 64, 128), (20, 20, 200, 200)]
CELLS = {"LSTM": (rnnkit.LSTM, torch.nn.LSTM), "GRU": (rnnkit.GRU, torch.nn.GRU), "RNN": (rnnkit.RNN, torch.nn.RNN)}
STRUCTURES = {"1 layer": dict(num_layers=1), "2 layers": dict(num_layers=2),
              "bidirectional": dict(num_layers=1, bidirectional=True)}


def matmul_gflops() -> float:
    """What this machine's BLAS reaches on one large float32 product (2048^3), in GFLOP/s."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    return 2 * 2048 ** 3 / median_seconds(lambda: a @ a, 5) / 1e9


def layer_gflop(cell: str, structure: dict, config) -> float:
    """Flops of the matrix products of one forward+backward (the elementwise work is not counted)."""
    batch, steps, inputs, hidden = config
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[cell]
    directions = 2 if structure.get("bidirectional") else 1
    total = 0
    for layer in range(structure["num_layers"]):
        layer_input = inputs if layer == 0 else hidden * directions
        total += directions * 3 * 2 * steps * batch * (layer_input + hidden) * gates * hidden
    return total / 1e9


def bench(cell: str, structure: dict, config, repeats: int) -> tuple[float, float, float]:
    batch, steps, inputs, hidden = config
    ours_class, torch_class = CELLS[cell]
    torch_module = torch_class(inputs, hidden, **structure)
    layer = ours_class(inputs, hidden, **structure)
    layer.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps, batch, inputs)).astype(np.float32)
    dy = rng.standard_normal((steps, batch, hidden * (2 if structure.get("bidirectional") else 1)))
    dy = dy.astype(np.float32)
    return compare(layer_run(layer, x, dy), torch_layer_run(torch_module, x, dy), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer configs and repeats (under a minute)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (median)")
    parser.add_argument("--cells", nargs="+", choices=sorted(CELLS), default=list(CELLS), help="(all)")
    parser.add_argument("--structures", nargs="+", choices=sorted(STRUCTURES), help="(all; --quick: 1 layer)")
    add_threads_argument(parser)
    add_summary_argument(parser)
    args = parser.parse_args()
    set_threads(args.threads)
    configs = QUICK_CONFIGS if args.quick else CONFIGS
    chosen = args.structures or (["1 layer"] if args.quick else list(STRUCTURES))
    structures = {name: STRUCTURES[name] for name in chosen}
    repeats = args.repeats or (3 if args.quick else 5)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; numpy {np.__version__}; float32")
    peak = matmul_gflops()
    print(f"one large NumPy product: {peak:.1f} GFLOP/s")
    ratios, worst, large_efficiencies = [], ("", 0.0), []
    for structure_name, structure in structures.items():
        rows = []
        for cell in args.cells:
            for config in configs:
                ours, theirs, ratio = bench(cell, structure, config, repeats)
                ratios.append(ratio)
                if ratio > worst[1]:
                    worst = (f"{cell} {'x'.join(map(str, config))} {structure_name}", ratio)
                efficiency = layer_gflop(cell, structure, config) / ours / peak
                if config[3] >= 256:
                    large_efficiencies.append(efficiency)
                rows.append([cell, "x".join(map(str, config)), ours * 1e3, theirs * 1e3, ratio,
                             f"{100 * efficiency:.0f} %"])
        print_table(["cell", "B x T x I x H", "rnnkit ms", "torch ms", "ratio", "efficiency"], rows,
                    title=f"forward+backward, {structure_name}")
    print(f"\ngeometric mean ratio rnnkit/torch: {geometric_mean(ratios):.3f}  (max {max(ratios):.3f}: {worst[0]})")
    write_summary(args.summary, {
        "geometric_mean_ratio": geometric_mean(ratios), "max_ratio": max(ratios), "worst": worst[0],
        "configs_slower_than_torch": sum(r > 1.0 for r in ratios), "configs": len(ratios),
        "min_efficiency_h256": min(large_efficiencies, default=None),
        "median_efficiency_h256": statistics.median(large_efficiencies) if large_efficiencies else None,
    })


if __name__ == "__main__":
    main()
