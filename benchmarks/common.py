"""Timing helpers shared by the benchmarks: medians of repeated runs, ratio tables."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable


def layer_run(layer, x, dy, dh=None, backend: str | None = None) -> Callable[[], None]:
    """One forward and backward of an rnnkit layer, as a callable; on ``backend``'s steps
    ("numba" or "numpy", ``rnnkit.kernels.use``) if named, the choice restored after."""
    from rnnkit import kernels

    def run():
        previous = kernels.backend()
        kernels.use(backend or previous)
        try:
            layer.zero_grad()
            layer(x)
            layer.backward(dy, dh)
        finally:
            kernels.use(previous)
    return run


def torch_layer_run(module, x, dy) -> Callable[[], None]:
    """One forward and backward of a torch module that returns (y, state), as nn.LSTM does."""
    import torch

    x, dy = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(dy)

    def run():
        module.zero_grad()
        x.grad = None
        y, _ = module(x)
        y.backward(dy)
    return run


def median_seconds(run: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_rounds(runs: dict[str, Callable[[], object]], rounds: int, block: int = 3,
                  clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Wall times of each ``run`` in ``rounds`` rounds in which the runs take turns.

    Taking turns, a slow spell of a shared machine slows both sides of a comparison
    in the same round, so per-round ratios stay fair. In each round a run goes
    ``block`` times in a row: the first is not timed (straight after the other
    library it finds caches and memory as that one left them; measured here: up to
    2x slower for PyTorch), the round's time is the median of the others.
    ``clock``: wall time by default; ``time.process_time`` (this process's CPU time) for
    single-threaded runs on a machine that others keep busy.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            run()
            timed = []
            for _ in range(block - 1):
                start = clock()
                run()
                timed.append(clock() - start)
            times[name].append(statistics.median(timed))
    return times


def compare(ours: Callable[[], object], theirs: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    """(rnnkit seconds, torch seconds, ratio): medians over rounds; the ratio is the median of per-round ratios."""
    times = paired_rounds({"rnnkit": ours, "torch": theirs}, rounds)
    ratios = [a / b for a, b in zip(times["rnnkit"], times["torch"])]
    return statistics.median(times["rnnkit"]), statistics.median(times["torch"]), statistics.median(ratios)


def geometric_mean(values: list[float]) -> float:
    product = 1.0
    for value in values:
        product *= value
    return product ** (1.0 / len(values))


def print_table(headers: list[str], rows: list[list], title: str = "") -> None:
    if title:
        print(f"\n{title}")
    cells = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)), flush=True)


def add_threads_argument(parser) -> None:
    parser.add_argument("--threads", type=int, help="cores for both libraries (default: all); "
                        "1 gives a fair comparison on a machine that is busy with something else")


def set_threads(threads: int | None) -> None:
    """Limit NumPy's BLAS and PyTorch to ``threads`` (None: leave both at their defaults)."""
    if threads is None:
        return
    import threadpoolctl
    import torch

    global _blas_limit
    _blas_limit = threadpoolctl.threadpool_limits(threads)   # held for the whole run
    torch.set_num_threads(threads)


def add_summary_argument(parser) -> None:
    parser.add_argument("--summary", type=Path, help="also write the figures the targets are checked on, as JSON")


def write_summary(path: Path | None, figures: dict) -> None:
    if path is not None:
        path.write_text(json.dumps(figures, indent=1))
