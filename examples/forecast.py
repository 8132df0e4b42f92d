"""Reproduce the forecasting table of issue 6: four series x {persistence, seasonal naive, LSTM}.

    python examples/forecast.py [--data-dir ../shared/data] [--out runs/forecast-examples]
    python examples/forecast.py --seeds 5            five seeds per series, each alone and their ensemble
    python examples/forecast.py --seeds 5 --part val     the same errors on the validation parts
    python examples/forecast.py --seeds 5 --refit        retrain on the validation months too (``--refit``)
    python examples/forecast.py --backtest --seeds 3 --series monthly-car-sales
                                                        compare CANDIDATES by backtesting (no test part)
    python examples/forecast.py --backtest-walk-forward --seeds 3
                                                        choose each series' WALK_FORWARD by backtesting
    python examples/forecast.py --seeds 5 --walk-forward 0   every series frozen, whatever WALK_FORWARD says

Each series is trained with ``rnnkit forecast train --seed K`` (a few seconds to a minute
on one CPU core) into OUT/SERIES/seed-K and tested on every point after its first 67 %;
with several seeds the ensemble (the mean of the seeds' forecasts, ``rnnkit forecast eval
OUT/SERIES/seed-*``) is scored too, into OUT/SERIES. The RMSE/MAE table is printed as
Markdown and the forecast-vs-actual PNGs land in the run directories. ``--part val``
scores the held-out end of each training part instead, the only errors that may be used
to choose settings; the settings below were chosen so. ``--backtest`` compares the
CANDIDATES of a series by rolling-origin evaluation inside its training part (``rnnkit
forecast backtest``, BACKTEST folds, the seeds as an ensemble) and names the one with the
lowest mean RMSE over the folds, the rule fixed in docs/results.md before its test was run.

Walk-forward updating (``rnnkit forecast eval --walk-forward N``: after each test value is
known, N more updates on every window known by then) is used per series as WALK_FORWARD
says; the frozen model's errors (from the same runs) are printed beside the walked ones.
``--backtest-walk-forward`` chose WALK_FORWARD: N in WALK_FORWARD_CHOICES backtested with
each series' SETTINGS and WALK_FORWARD_FOLDS, the lowest mean RMSE of the ensemble wins.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
from pathlib import Path

from rnnkit.cli.main import main
from rnnkit.data.datasets import default_data_dir
from rnnkit.tasks.runs import RESULTS_FILE

# Per series: what makes it stationary, and how much window and data the model sees.
SETTINGS = {
    "airline-passengers": ["--log"],                                         # seasonal + first difference of log
    "shampoo": ["--no-seasonal"],                                            # 36 months: too short for lag 12
    "monthly-car-sales": ["--no-difference", "--val-fraction", "0.25"],     # seasonal difference only
    "daily-min-temperatures": ["--no-seasonal", "--no-difference", "--look-back", "30", "--batch", "32",
                               "--epochs", "20", "--eval-every", "50", "--patience", "5"],
}


# Walk-forward updates per test value (0: the frozen model), chosen by backtesting (docs/results.md).
WALK_FORWARD = {
    "airline-passengers": 20,
    "shampoo": 20,
    "monthly-car-sales": 5,
    "daily-min-temperatures": 20,
}
WALK_FORWARD_CHOICES = (0, 5, 20)                # in this order: a tie goes to the smaller N
WALK_FORWARD_FOLDS = {                           # the backtest folds that chose it
    "airline-passengers": ["--folds", "4", "--block", "6"],
    "shampoo": ["--folds", "2", "--block", "4"],             # 24 training months: months 16-23
    "monthly-car-sales": ["--folds", "4", "--block", "6"],
    "daily-min-temperatures": ["--folds", "4", "--block", "91"],   # the last 364 training days, a season each
}

# Backtest layout and the settings it compared (docs/results.md); the first is the one SETTINGS had then.
BACKTEST = ["--folds", "4", "--block", "6"]
CANDIDATES = {
    "monthly-car-sales": {
        "seasonal difference (as before)": ["--no-difference", "--val-fraction", "0.25"],
        "seasonal + first difference": ["--val-fraction", "0.25"],
        "log, seasonal difference": ["--log", "--no-difference", "--val-fraction", "0.25"],
        "hidden 8": ["--no-difference", "--val-fraction", "0.25", "--hidden", "8"],
        "hidden 32": ["--no-difference", "--val-fraction", "0.25", "--hidden", "32"],
        "GRU": ["--no-difference", "--val-fraction", "0.25", "--cell", "gru"],
    },
}


def check(code: int) -> None:
    if code:
        raise SystemExit(code)


def train_series(series: str, data_dir: Path, out: Path, seeds: int, part: str, refit: bool = False,
                 walk: int = 0) -> dict:
    """Train ``seeds`` seeds of one series; score each (and their ensemble) on ``part``, frozen and (``walk``
    > 0) walking forward ``walk`` updates per point; the error tables."""
    runs = [out / f"seed-{seed}" for seed in range(seeds)]
    walking = ["--walk-forward", str(walk)] if walk else []
    for seed, run_dir in enumerate(runs):
        shutil.rmtree(run_dir, ignore_errors=True)
        check(main(["forecast", "train", "--series", series, "--data-dir", str(data_dir), "--out", str(run_dir),
                    "--no-progress", "--seed", str(seed), *SETTINGS[series], *(["--refit"] if refit else [])]))
        if part != "test":
            check(main(["forecast", "eval", str(run_dir), "--part", part]))
        if walk:
            check(main(["forecast", "eval", str(run_dir), "--part", part, *walking]))
    if seeds > 1:
        check(main(["forecast", "eval", *map(str, runs), "--part", part, "--out", str(out)]))
        if walk:
            check(main(["forecast", "eval", *map(str, runs), "--part", part, "--out", str(out), *walking]))
    walked = model_rows(series, runs, out, part, walk) if walk else {}
    return {**walked, **model_rows(series, runs, out, part), **baseline_rows(series, runs, part)}


def results_key(series: str, part: str, walk: int = 0) -> str:
    """Where ``rnnkit forecast eval`` wrote the one-step errors of ``part`` (walking forward ``walk``)."""
    return f"{series}-1-step" + ("" if part == "test" else f"-{part}") + (f"-walk-forward-{walk}" if walk else "")


def model_rows(series: str, runs: list[Path], out: Path, part: str, walk: int = 0) -> dict:
    """Seed 0, the mean error of the seeds and the ensemble (with several seeds)."""
    key = results_key(series, part, walk)
    tables = [json.loads((run_dir / RESULTS_FILE).read_text())[key] for run_dir in runs]
    model = next(name for name in tables[0] if name not in ("persistence", "seasonal naive"))
    label = f"{model}, walk-forward {walk}" if walk else model
    rows = {f"{label} (seed 0)": tables[0][model]}
    if len(runs) > 1:
        rows[f"{label}, mean of {len(runs)} seeds"] = {
            metric: statistics.mean(table[model][metric] for table in tables) for metric in ("rmse", "mae")}
        rows[f"{label} ensemble of {len(runs)}"] = json.loads((out / RESULTS_FILE).read_text())[key][
            f"{model} ensemble"]
    return rows


def baseline_rows(series: str, runs: list[Path], part: str) -> dict:
    table = json.loads((runs[0] / RESULTS_FILE).read_text())[results_key(series, part)]
    return {name: table[name] for name in ("persistence", "seasonal naive")}


def backtest_series(series: str, data_dir: Path, out: Path, seeds: int) -> str:
    """Backtest every candidate of ``series``; a Markdown table of their errors and the one the rule picks."""
    return backtest_table(series, CANDIDATES[series], BACKTEST, data_dir, out, seeds)[0]


def backtest_walk_forward(series: str, data_dir: Path, out: Path, seeds: int) -> tuple[str, int]:
    """Backtest each N of WALK_FORWARD_CHOICES with the series' SETTINGS; the table and the N the rule picks."""
    candidates = {walk_name(n): [*SETTINGS[series], "--walk-forward", str(n)] for n in WALK_FORWARD_CHOICES}
    table, chosen = backtest_table(series, candidates, WALK_FORWARD_FOLDS[series], data_dir, out, seeds)
    return table, next(n for n in WALK_FORWARD_CHOICES if walk_name(n) == chosen)


def walk_name(updates: int) -> str:
    return f"walk-forward {updates}" if updates else "frozen (walk-forward 0)"


def backtest_table(series: str, candidates: dict[str, list[str]], folds: list[str], data_dir: Path, out: Path,
                   seeds: int) -> tuple[str, str]:
    """Backtest each of the named ``candidates`` (flags) with the ``folds`` flags; a Markdown table of their
    errors, and the name of the one with the lowest mean RMSE of the ensemble (a tie: the earlier one)."""
    rows, chosen = [], None
    for name, flags in candidates.items():
        run_dir = out / re.sub(r"[^0-9a-z]+", "-", name.lower()).strip("-")
        shutil.rmtree(run_dir, ignore_errors=True)
        check(main(["forecast", "backtest", "--series", series, "--data-dir", str(data_dir), "--out", str(run_dir),
                    "--no-progress", "--seeds", str(seeds), *folds, *flags]))
        summary = json.loads((run_dir / RESULTS_FILE).read_text())[f"{series}-backtest"]
        model = next(iter(summary["mean"]))                         # the model (with seeds: their ensemble)
        rows.append(backtest_row(name, model, summary, seeds))
        if chosen is None or summary["mean"][model]["rmse"] < chosen[1]:
            chosen = (name, summary["mean"][model]["rmse"])
    rows += [backtest_row(name, name, summary, 1) for name in ("persistence", "seasonal naive")]
    folds = " | ".join(f"fold {f['fold']} ({f['origin']}-{f['end'] - 1})" for f in summary["folds"])
    header = [f"| {series} | mean RMSE | mean MAE | mean seed RMSE | {folds} |",
              "|---|---:|---:|---:|" + "---:|" * len(summary["folds"])]
    return "\n".join(header + rows + [f"\nchosen (lowest mean RMSE): {chosen[0]}"]), chosen[0]


def backtest_row(name: str, method: str, summary: dict, seeds: int) -> str:
    """Mean RMSE/MAE over the folds, the mean over seeds of each seed's mean RMSE, each fold's RMSE."""
    mean = summary["mean"][method]
    alone = [errors["rmse"] for key, errors in summary["mean"].items() if " seed " in key]
    seed_mean = number(statistics.mean(alone)) if seeds > 1 else ""
    folds = " | ".join(number(fold["errors"][method]["rmse"]) for fold in summary["folds"])
    return f"| {name} | {number(mean['rmse'])} | {number(mean['mae'])} | {seed_mean} | {folds} |"


def number(value: float) -> str:
    """Four significant digits or so: 1549.6, 14.44, 2.339."""
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.2f}" if abs(value) >= 10 else f"{value:.3f}"


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
    parser.add_argument("--walk-forward", type=int, metavar="N",
                        help="walk-forward updates per test value for every series (default: WALK_FORWARD's)")
    parser.add_argument("--backtest", action="store_true",
                        help=f"backtest the CANDIDATES of each series that has some ({', '.join(CANDIDATES)}) "
                             "instead; the test part is not read")
    parser.add_argument("--backtest-walk-forward", action="store_true",
                        help=f"backtest walk-forward N in {WALK_FORWARD_CHOICES} for each series (its SETTINGS and "
                             "WALK_FORWARD_FOLDS) instead; the test part is not read")
    args = parser.parse_args()
    if args.backtest:
        for series in (s for s in args.series if s in CANDIDATES):
            print(backtest_series(series, args.data_dir, args.out / series / "backtest", args.seeds))
        raise SystemExit(0)
    if args.backtest_walk_forward:
        chosen = {}
        for series in args.series:
            table, chosen[series] = backtest_walk_forward(series, args.data_dir,
                                                          args.out / series / "backtest-walk-forward", args.seeds)
            print(table)
        print(f"chosen: {chosen}")
        raise SystemExit(0)
    walks = {series: WALK_FORWARD[series] if args.walk_forward is None else args.walk_forward for series in SETTINGS}
    print(markdown({series: train_series(series, args.data_dir, args.out / series, args.seeds, args.part, args.refit,
                                         walks[series])
                    for series in args.series}))
