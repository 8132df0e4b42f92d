"""Reproduce the forecasting table of issue 6: four series x {persistence, seasonal naive, LSTM}.

    python examples/forecast.py [--data-dir ../shared/data] [--out runs/forecast-examples]
    python examples/forecast.py --seeds 5            five seeds per series, each alone and their ensemble
    python examples/forecast.py --seeds 5 --part val     the same errors on the validation parts
    python examples/forecast.py --seeds 5 --refit        retrain on the validation months too (``--refit``)

Each series is trained with ``rnnkit forecast train --seed K`` (a few seconds to a minute
on one CPU core) into OUT/SERIES/seed-K and tested on every point after its first 67 %;
with several seeds the ensemble (the mean of the seeds' forecasts, ``rnnkit forecast eval
OUT/SERIES/seed-*``) is scored too, into OUT/SERIES. The RMSE/MAE table is printed as
Markdown and the forecast-vs-actual PNGs land in the run directories. ``--part val``
scores the held-out end of each training part instead, the only errors that may be used
to choose settings; the settings below were chosen so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

from rnnkit.cli.common import RESULTS_FILE, default_data_dir
from rnnkit.cli.main import main

# Per series: what makes it stationary, and how much window and data the model sees.
SETTINGS = {
    "airline-passengers": ["--log"],                                         # seasonal + first difference of log
    "shampoo": ["--no-seasonal"],                                            # 36 months: too short for lag 12
    "monthly-car-sales": ["--no-difference", "--val-fraction", "0.25"],     # seasonal difference only
    "daily-min-temperatures": ["--no-seasonal", "--no-difference", "--look-back", "30", "--batch", "32",
                               "--epochs", "20", "--eval-every", "50", "--patience", "5"],
}


def check(code: int) -> None:
    if code:
        raise SystemExit(code)


def train_series(series: str, data_dir: Path, out: Path, seeds: int, part: str, refit: bool = False) -> dict:
    """Train ``seeds`` seeds of one series; score each (and their ensemble) on ``part``; the error tables."""
    runs = [out / f"seed-{seed}" for seed in range(seeds)]
    for seed, run_dir in enumerate(runs):
        shutil.rmtree(run_dir, ignore_errors=True)
        check(main(["forecast", "train", "--series", series, "--data-dir", str(data_dir), "--out", str(run_dir),
                    "--no-progress", "--seed", str(seed), *SETTINGS[series], *(["--refit"] if refit else [])]))
        if part != "test":
            check(main(["forecast", "eval", str(run_dir), "--part", part]))
    if seeds > 1:
        check(main(["forecast", "eval", *map(str, runs), "--part", part, "--out", str(out)]))
    return results_table(series, runs, out, part)


def results_table(series: str, runs: list[Path], out: Path, part: str) -> dict:
    """Seed 0, the mean error of the seeds, the ensemble (with several seeds) and both baselines."""
    key = f"{series}-1-step" + ("" if part == "test" else f"-{part}")
    tables = [json.loads((run_dir / RESULTS_FILE).read_text())[key] for run_dir in runs]
    model = next(name for name in tables[0] if name not in ("persistence", "seasonal naive"))
    rows = {f"{model} (seed 0)": tables[0][model]}
    if len(runs) > 1:
        rows[f"{model}, mean of {len(runs)} seeds"] = {
            metric: statistics.mean(table[model][metric] for table in tables) for metric in ("rmse", "mae")}
        rows[f"{model} ensemble of {len(runs)}"] = json.loads((out / RESULTS_FILE).read_text())[key][
            f"{model} ensemble"]
    rows.update({name: tables[0][name] for name in ("persistence", "seasonal naive")})
    return rows


def markdown(tables: dict) -> str:
    lines = ["| series | method | RMSE | MAE |", "|---|---|---:|---:|"]
    for series, table in tables.items():
        lines += [f"| {series} | {method} | {e['rmse']:.3f} | {e['mae']:.3f} |" for method, e in table.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=Path("runs/forecast-examples"))
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0 .. N-1 per series, and their ensemble (1)")
    parser.add_argument("--part", choices=("test", "val"), default="test", help="where to score (test)")
    parser.add_argument("--refit", action="store_true",
                        help="after early stopping, retrain on the whole training part (its validation errors "
                             "are then in-sample)")
    parser.add_argument("--series", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS),
                        help="which series (all)")
    args = parser.parse_args()
    print(markdown({series: train_series(series, args.data_dir, args.out / series, args.seeds, args.part, args.refit)
                    for series in args.series}))
