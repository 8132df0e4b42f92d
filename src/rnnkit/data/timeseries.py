"""Univariate time series for forecasting: loading, splitting, scaling, differencing, windows.

The four classic series of ``$RNNKIT_DATA/time_series`` (see ``SERIES``) are CSV files
with a quoted header and one ``"time",value`` row per step. A forecasting experiment
then goes:

    series = load_series("airline-passengers", folder)
    train, test = train_test_split_series(series.values)   # first 67 % to train, in order
    scaler = MinMaxScaler().fit(train)                      # statistics of train only
    X, Y = sliding_windows(scaler.transform(test), look_back=1)
    targets = len(train) + 1 + np.arange(len(Y))           # the indices of the points Y holds
    baseline = seasonal_naive_forecast(series.values, targets, lag=series.period)

Row i of ``sliding_windows(s, L, H)`` is ``X[i] = s[i : i+L]``, ``Y[i] = s[i+L : i+L+H]``,
so windows cut from a part starting at index ``a`` of the full series predict the
points ``a+L, a+L+1, ...``. The baselines ``persistence_forecast`` and
``seasonal_naive_forecast`` take those target indices and forecast the very same points.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rnnkit.errors import ConfigError, DataError


@dataclass(frozen=True)
class SeriesInfo:
    file: str
    time_pattern: str  # regular expression for the time column; its groups make an ISO date
    period: int  # steps per season: 12 months, or 365 days (the leap years lack 31 December)


# The shampoo file numbers its years 1 to 3 ("1-01" ... "3-12"); they become years 0001-0003.
SERIES = {
    "airline-passengers": SeriesInfo("airline-passengers.csv", r"(\d{4})-(\d{2})", period=12),
    "shampoo": SeriesInfo("shampoo.csv", r"(\d)-(\d{2})", period=12),
    "monthly-car-sales": SeriesInfo("monthly-car-sales.csv", r"(\d{4})-(\d{2})", period=12),
    "daily-min-temperatures": SeriesInfo("daily-min-temperatures.csv", r"(\d{4})-(\d{2})-(\d{2})", period=365),
}


@dataclass(frozen=True)
class TimeSeries:
    name: str
    times: np.ndarray  # datetime64, months or days
    values: np.ndarray  # float64, shape (n,)
    period: int  # steps per season, the lag of the seasonal naive forecast


def load_series(name: str, folder: str | Path) -> TimeSeries:
    """One of the series named in ``SERIES`` from the ``time_series`` data folder."""
    if name not in SERIES:
        raise ConfigError(f"unknown series {name!r}: use one of {', '.join(SERIES)}")
    info = SERIES[name]
    path = Path(folder) / info.file
    if not path.is_file():
        raise DataError(f"{path} not found: set RNNKIT_DATA or pass the folder that holds {info.file}")
    with open(path, encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))[1:]
    if not rows:
        raise DataError(f"{path} has no data rows: restore the file from the data set")
    times, values = zip(*(_parse_row(row, info.time_pattern, path, line) for line, row in enumerate(rows, start=2)))
    return TimeSeries(name, np.array(times, dtype="datetime64"), np.array(values), info.period)


def _parse_row(row: list[str], time_pattern: str, path: Path, line: int) -> tuple[str, float]:
    """An ISO time string (years padded to four digits) and the value of one CSV row."""
    match = re.fullmatch(time_pattern, row[0]) if len(row) == 2 else None
    try:
        value = float(row[1]) if match else None
    except ValueError:
        value = None
    if value is None:
        raise DataError(f"{path}:{line}: expected a time matching {time_pattern} and a number, got {row!r}")
    year, *rest = match.groups()
    return "-".join([year.zfill(4), *rest]), value


def train_test_split_series(values: np.ndarray, train_fraction: float = 0.67) -> tuple[np.ndarray, np.ndarray]:
    """The first ``int(n * train_fraction)`` values for training, the rest for testing (no shuffling)."""
    train_size = int(len(values) * train_fraction)
    if not 0 < train_size < len(values):
        raise ConfigError(
            f"train_fraction {train_fraction} of {len(values)} values leaves an empty part: use a fraction in (0, 1)"
        )
    return values[:train_size], values[train_size:]


class MinMaxScaler:
    """x' = (x - min) / (max - min), which maps the fitted data onto [0, 1]."""

    def __init__(self, minimum: float = 0.0, maximum: float = 1.0):
        self.minimum, self.maximum = float(minimum), float(maximum)

    def fit(self, x: np.ndarray) -> MinMaxScaler:
        x = _nonempty(x)
        self.minimum, self.maximum = float(x.min()), float(x.max())
        if self.maximum == self.minimum:
            raise DataError(f"cannot min-max scale a constant series (all values {self.minimum})")
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.minimum) / (self.maximum - self.minimum)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) * (self.maximum - self.minimum) + self.minimum

    def to_json(self) -> str:
        return json.dumps({"minimum": self.minimum, "maximum": self.maximum})

    @classmethod
    def from_json(cls, text: str) -> MinMaxScaler:
        return cls(**json.loads(text))


class StandardScaler:
    """x' = (x - mean) / std, which gives the fitted data mean 0 and standard deviation 1."""

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        self.mean, self.std = float(mean), float(std)

    def fit(self, x: np.ndarray) -> StandardScaler:
        x = _nonempty(x)
        self.mean, self.std = float(x.mean()), float(x.std())
        if self.std == 0.0:
            raise DataError(f"cannot standardise a constant series (all values {self.mean})")
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) * self.std + self.mean

    def to_json(self) -> str:
        return json.dumps({"mean": self.mean, "std": self.std})

    @classmethod
    def from_json(cls, text: str) -> StandardScaler:
        return cls(**json.loads(text))


def difference(x: np.ndarray, lag: int = 1) -> np.ndarray:
    """d[t] = x[t + lag] - x[t], of length n - lag; lag 1 removes a trend, lag 12 a yearly season."""
    x = np.asarray(x, dtype=np.float64)
    if not 0 < lag < len(x):
        raise DataError(f"cannot difference {len(x)} values at lag {lag}: the lag must be in [1, {len(x) - 1}]")
    return x[lag:] - x[:-lag]


def undifference(d: np.ndarray, initial: np.ndarray, lag: int = 1) -> np.ndarray:
    """Invert ``difference``: x[t] = d[t - lag] + x[t - lag], starting from ``initial``.

    ``initial`` is the ``lag`` values that precede the differenced part (``x[:lag]``
    for ``d = difference(x, lag)``); the result is the whole series, ``initial`` first.
    Each of the ``lag`` interleaved subsequences is a running sum from its start value.

    To turn a one-step forecast of a difference into a forecast of the value, add the
    observed value one lag earlier instead: ``x_hat[t] = d_hat[t - lag] + x[t - lag]``.
    """
    initial = np.asarray(initial, dtype=np.float64)
    if len(initial) != lag:
        raise DataError(f"undifference at lag {lag} needs {lag} initial values, got {len(initial)}")
    x = np.concatenate([initial, np.asarray(d, dtype=np.float64)])
    for phase in range(lag):
        x[phase::lag] = np.cumsum(x[phase::lag])
    return x


def sliding_windows(series: np.ndarray, look_back: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs X (N, look_back) and targets Y (N, horizon), N = n - look_back - horizon + 1.

    X[i] = series[i : i + look_back], Y[i] = series[i + look_back : i + look_back + horizon].
    (The LSTM tutorial's ``create_dataset`` stops one window earlier than this.)
    """
    series = np.asarray(series, dtype=np.float64)
    count = len(series) - look_back - horizon + 1
    if look_back < 1 or horizon < 1 or count < 1:
        raise DataError(
            f"{len(series)} values give no window of look_back {look_back} and horizon {horizon}: "
            "use a longer series or shorter windows"
        )
    windows = np.lib.stride_tricks.sliding_window_view(series, look_back + horizon)
    return windows[:, :look_back].copy(), windows[:, look_back:].copy()


def persistence_forecast(series: np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """Forecast each target point by the value just before it: x_hat[t] = x[t - 1]."""
    return seasonal_naive_forecast(series, targets, lag=1)


def seasonal_naive_forecast(series: np.ndarray, targets: Sequence[int], lag: int = 12) -> np.ndarray:
    """Forecast each target point by the value one season earlier: x_hat[t] = x[t - lag]."""
    targets = np.asarray(targets)
    if targets.size and targets.min() < lag:
        raise DataError(f"target index {targets.min()} has no value {lag} steps earlier: start the targets at {lag}")
    return np.asarray(series, dtype=np.float64)[targets - lag]


def _nonempty(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        raise DataError("cannot fit a scaler to an empty series")
    return x
