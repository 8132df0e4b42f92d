"""Reproduce the music table of issue 14 on the JSB chorales: every cell with both outputs, seeds, baselines,
and three generated chorales from the best model.

    python examples/music.py                          every row of ROWS, its seeds, then the chorales
    python examples/music.py --rows lstm-bernoulli --seeds 1
    python examples/music.py --chorales-only          the chorales from the runs already in --out

Every number comes from the commands, run in this process (set OMP_NUM_THREADS=1 for one core):

    rnnkit music train --dataset jsb --out OUT/ROW/seed-K --seed K FLAGS      (scores valid and test)
    rnnkit music eval OUT/ROW/seed-K --split test
    rnnkit music generate BEST --out OUT/chorales/NAME --length 64 [--prime 8] --seed S

where FLAGS are the row's in ROWS. Each run writes valid and test NLL (nats per frame, frames
2 .. T of each piece) of its best checkpoint and of the two baselines to its results.json; the
table printed at the end (Markdown) reads them, with the training time measured around the
train command. The chorales come from the run with the lowest valid NLL (test NLL does not
choose): two from nothing, one primed with the first 8 frames of test chorale 0, each as
.mid, .png (and .wav when fluidsynth and a soundfont are installed), with their statistics
(notes per frame, known chords, pitch range) printed beside the test pieces'.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import time
from pathlib import Path

from rnnkit.cli.main import main
from rnnkit.data.datasets import default_data_dir
from rnnkit.tasks.runs import RESULTS_FILE

# The settings of each row (the learning rate chosen on valid NLL, docs/results.md); the task's defaults otherwise.
ROWS = {
    "lstm-bernoulli": ["--cell", "lstm", "--output", "bernoulli", "--lr", "1.6e-2"],
    "gru-bernoulli": ["--cell", "gru", "--output", "bernoulli"],
    "rnn-bernoulli": ["--cell", "rnn", "--output", "bernoulli"],
    "lstm-nade": ["--cell", "lstm", "--output", "nade"],
    "gru-nade": ["--cell", "gru", "--output", "nade"],
    "rnn-nade": ["--cell", "rnn", "--output", "nade"],
}
SEEDS = {"lstm-bernoulli": 3, "gru-bernoulli": 3}        # the rest: one seed (--seeds overrides)
CHORALES = {"free-1": ["--seed", "1"], "free-2": ["--seed", "2"], "primed": ["--prime", "8", "--seed", "3"]}


def check(code: int) -> None:
    if code:
        raise SystemExit(code)


def train_row(row: str, data_dir: Path, out: Path, seeds: int, minutes: float) -> list[dict]:
    """Train and test ``seeds`` seeds of one row; per seed its valid and test NLL and minutes trained."""
    found = []
    for seed in range(seeds):
        run_dir = out / row / f"seed-{seed}"
        shutil.rmtree(run_dir, ignore_errors=True)
        start = time.perf_counter()
        check(main(["music", "train", "--dataset", "jsb", "--data-dir", str(data_dir), "--out", str(run_dir),
                    "--no-progress", "--seed", str(seed), "--max-minutes", str(minutes), *ROWS[row]]))
        trained = (time.perf_counter() - start) / 60
        check(main(["music", "eval", str(run_dir), "--split", "test"]))
        found.append({"seed": seed, "run": run_dir, "minutes": trained, **scores(run_dir)})
    return found


def scores(run_dir: Path) -> dict:
    """Valid and test NLL of the run's model (the best checkpoint) and of the baselines, from results.json."""
    results = json.loads((run_dir / RESULTS_FILE).read_text())
    return {split: {method: entry["nll"] for method, entry in results[f"jsb-{split}"].items()}
            for split in ("valid", "test")}


def model_name(table: dict) -> str:
    return next(name for name in table if name not in ("marginal", "previous frame"))


def markdown(rows: dict[str, list[dict]]) -> str:
    lines = ["| model | flags | seed | minutes | valid | test |", "|---|---|---:|---:|---:|---:|"]
    for row, found in rows.items():
        flags = " ".join(ROWS[row])
        for run in found:
            name = model_name(run["test"])
            lines.append(f"| {name} | `{flags}` | {run['seed']} | {run['minutes']:.1f} | "
                         f"{run['valid'][name]:.3f} | {run['test'][name]:.3f} |")
        if len(found) > 1:
            tests = [run["test"][model_name(run["test"])] for run in found]
            lines.append(f"| {name}, mean ± sd of {len(found)} | | | | "
                         f"{statistics.mean(run['valid'][name] for run in found):.3f} | "
                         f"{statistics.mean(tests):.3f} ± {statistics.stdev(tests):.3f} |")
    first = next(iter(rows.values()))[0]
    for baseline in ("marginal", "previous frame"):
        lines.append(f"| {baseline} | | | | {first['valid'][baseline]:.3f} | {first['test'][baseline]:.3f} |")
    return "\n".join(lines)


def best_run(out: Path) -> Path:
    """The run under ``out`` with the lowest valid NLL."""
    runs = [path.parent for path in out.glob(f"*/seed-*/{RESULTS_FILE}")]
    if not runs:
        raise SystemExit(f"no runs under {out}: train some first")
    return min(runs, key=lambda run: (lambda valid: valid[model_name(valid)])(scores(run)["valid"]))


def chorales(run_dir: Path, out: Path, data_dir: Path) -> None:
    """Three chorales from ``run_dir`` into OUT/NAME/, their statistics printed."""
    print(f"chorales from {run_dir}")
    for name, flags in CHORALES.items():
        shutil.rmtree(out / name, ignore_errors=True)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            check(main(["music", "generate", str(run_dir), "--out", str(out / name), "--length", "64",
                        "--data-dir", str(data_dir), *flags]))
        print(f"{name} ({' '.join(flags)}):")
        print("\n".join(f"  {line}" for line in printed.getvalue().splitlines()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=Path("runs/music-jsb"))
    parser.add_argument("--rows", nargs="+", choices=sorted(ROWS), default=list(ROWS), help="which rows (all)")
    parser.add_argument("--seeds", type=int, help="seeds 0 .. N-1 per row (default: SEEDS, else 1)")
    parser.add_argument("--max-minutes", type=float, default=15.0, help="the most training time per run (15)")
    parser.add_argument("--chorales-only", action="store_true", help="only generate, from the runs in --out")
    args = parser.parse_args()
    if not args.chorales_only:
        table = {row: train_row(row, args.data_dir, args.out, args.seeds or SEEDS.get(row, 1), args.max_minutes)
                 for row in args.rows}
        print(markdown(table))
    chorales(best_run(args.out), args.out / "chorales", args.data_dir)
