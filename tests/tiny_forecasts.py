"""Shared by the forecasting tests: small series written as files, and a tiny model's settings.

No ``rnnkit.cli`` here, so that the library's tests can use it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks.forecasting import ForecastSpec, SeriesSource, train_config

# A tiny model on a 72-month series: train_end int(72 * 0.67) = 48, validation the last quarter of it
# (months 36-47), a few updates. TINY says it as flags, tiny_spec and tiny_config as the library's objects.
TINY = ["--hidden", "3", "--look-back", "4", "--epochs", "2", "--eval-every", "2", "--batch", "8",
        "--val-fraction", "0.25", "--no-progress"]
FOLDS = ["--folds", "2", "--block", "6"]

MONTHS = np.arange(72)


def tiny_spec(source: SeriesSource, **options) -> ForecastSpec:
    """``TINY``'s run spec."""
    settings = {"model": ForecasterConfig(hidden_size=3), "look_back": 4, "batch_size": 8, "val_fraction": 0.25}
    return ForecastSpec(source, **{**settings, **options})


def tiny_config(**options):
    """``TINY``'s training options."""
    return train_config(**{"epochs": 2, "eval_every": 2, **options})


def write_series(root: Path, test_values: str | None = None) -> tuple[Path, np.ndarray]:
    """Six years of a monthly series under the airline file's name, in ROOT/time_series (so ROOT is a data
    directory); ``test_values`` replaces its last third (the test part). The data directory and the values."""
    folder = root / "time_series"
    folder.mkdir(parents=True)
    values = (100 + 2 * MONTHS + 15 * np.sin(2 * np.pi * MONTHS / 12)).round()
    text = [f"{v:.0f}" for v in values]
    if test_values is not None:
        text[48:] = [test_values] * 24                                       # int(72 * 0.67) = 48 train
    rows = [f'"{1949 + m // 12}-{m % 12 + 1:02d}",{v}' for m, v in zip(MONTHS, text)]
    (folder / "airline-passengers.csv").write_text('"Month","Passengers"\n' + "\n".join(rows) + "\n")
    return root, values


def noisy_season(months: int = 72, seed: int = 0) -> np.ndarray:
    """A trend, a yearly season and noise (without noise, seasonal and first differences would be constant)."""
    t = np.arange(months)
    return 100 + 2 * t + 15 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 3, months)


def write_csv(path: Path, values: np.ndarray | None = None, start_year: int = 2018) -> tuple[Path, np.ndarray]:
    """A user's own CSV: columns month (YYYY-MM from January of ``start_year``), region (text) and units (the
    series, two decimals); the path and the values as written."""
    values = noisy_season() if values is None else values
    values = np.round(values, 2)
    rows = [f"{start_year + m // 12}-{m % 12 + 1:02d},north,{v:.2f}" for m, v in enumerate(values)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("month,region,units\n" + "\n".join(rows) + "\n")
    return path, values


def results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def train_losses(run_dir: Path) -> list[float]:
    """The train_loss of every line of RUN_DIR/metrics.jsonl, in order."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [record["train_loss"] for record in map(json.loads, lines) if "train_loss" in record]


def is_png(path: Path) -> bool:
    return path.read_bytes().startswith(b"\x89PNG")
