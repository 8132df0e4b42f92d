"""Reproduce the forecasting table of issue 6: four series x {persistence, seasonal naive, LSTM}.

    python examples/forecast.py [--data-dir ../shared/data] [--out runs/forecast-examples]

Each series is trained with ``rnnkit forecast train`` (a few seconds to a minute on
one CPU core) and tested on every point after its first 67 %; the RMSE/MAE table
is printed as Markdown and the forecast-vs-actual PNGs land in each run directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from rnnkit.cli.common import default_data_dir
from rnnkit.cli.main import main

# Per series: what makes it stationary, and how much window and data the model sees.
SETTINGS = {
    "airline-passengers": ["--log"],                                         # seasonal + first difference of log
    "shampoo": ["--no-seasonal"],                                            # 36 months: too short for lag 12
    "monthly-car-sales": ["--no-difference", "--val-fraction", "0.25"],     # seasonal difference only
    "daily-min-temperatures": ["--no-seasonal", "--no-difference", "--look-back", "30", "--batch", "32",
                               "--epochs", "20", "--eval-every", "50", "--patience", "5"],
}


def run(data_dir: Path, out: Path) -> dict:
    tables = {}
    for series, flags in SETTINGS.items():
        run_dir = out / series
        shutil.rmtree(run_dir, ignore_errors=True)
        code = main(["forecast", "train", "--series", series, "--data-dir", str(data_dir), "--out", str(run_dir),
                     "--no-progress", *flags])
        if code:
            raise SystemExit(code)
        tables[series] = json.loads((run_dir / "results.json").read_text())[f"{series}-1-step"]
    return tables


def markdown(tables: dict) -> str:
    lines = ["| series | method | RMSE | MAE |", "|---|---|---:|---:|"]
    for series, table in tables.items():
        lines += [f"| {series} | {method} | {e['rmse']:.3f} | {e['mae']:.3f} |" for method, e in table.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=Path("runs/forecast-examples"))
    args = parser.parse_args()
    print(markdown(run(args.data_dir, args.out)))
