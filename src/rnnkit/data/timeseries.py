"""Univariate time series for forecasting: loading, splitting, scaling, differencing, baselines.

The four classic series of ``$RNNKIT_DATA/time_series`` (see ``SERIES``) are CSV files
with a quoted header and one ``"time",value`` row per step; ``load_series`` reads one.
A user's own series comes from a column of a CSV file, ``read_series_csv``. A
forecasting experiment then goes:

    series = load_series("airline-passengers", folder)     # or read_series_csv("sales.csv", "units", "month")
    train, test = train_test_split_series(series.values)   # first 67 % to train, in order
    scaler = MinMaxScaler().fit(train)                      # statistics of train only
    baseline = seasonal_naive_forecast(series.values, targets, lag=series.period)  # x_hat[t] = x[t - period]

``seasonal_naive_forecast`` takes the indices of the points to forecast in the whole
series; with ``lag=1`` it is the persistence forecast, x_hat[t] = x[t - 1].
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from rnnkit.data.tables import column_index, read_table
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
    times: np.ndarray  # datetime64 (years, months or days), or int64 steps 0 ... n-1 for a series without dates
    values: np.ndarray  # float64, shape (n,)
    period: int  # steps per season, the lag of the seasonal naive forecast
    step: np.timedelta64 | int = 1  # from one time to the next: times[-1] + k * step is k steps after the end


def load_series(name: str, folder: str | Path) -> TimeSeries:
    """One of the series named in ``SERIES`` from the ``time_series`` data folder."""
    if name not in SERIES:
        raise ConfigError(f"unknown series {name!r}: use one of {', '.join(SERIES)}")
    info = SERIES[name]
    path = Path(folder) / info.file
    if not path.is_file():
        raise DataError(f"{path} not found: set RNNKIT_DATA or pass the folder that holds {info.file}")
    try:
        with open(path, encoding="utf-8", newline="") as file:
            header, *rows = list(csv.reader(file)) or [[]]
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path} is not a CSV file of UTF-8 text ({error}): restore it from the data set") from None
    if not rows:
        raise DataError(f"{path} has no data rows: restore the file from the data set")
    column = header[1] if len(header) == 2 else "value"
    times, values = zip(*(_parse_row(row, info.time_pattern, path, line, column)
                          for line, row in enumerate(rows, start=2)))
    times = np.array(times, dtype="datetime64")
    later = np.flatnonzero(np.diff(times) <= np.timedelta64(0))
    if later.size:
        line = int(later[0]) + 3
        raise DataError(f"{path} line {line}: time {times[later[0] + 1]} is not after the time before it, "
                        f"{times[later[0]]}: restore the file from the data set")
    return TimeSeries(name, times, np.array(values), info.period)


def _parse_row(row: list[str], time_pattern: str, path: Path, line: int, column: str) -> tuple[str, float]:
    """An ISO time string (years padded to four digits) and the value of one CSV row."""
    match = re.fullmatch(time_pattern, row[0]) if len(row) == 2 else None
    try:
        value = float(row[1]) if match else None
    except ValueError:
        value = None
    if value is None:
        raise DataError(f"{path} line {line}: expected a time matching {time_pattern} and a number, "
                        f"got {str(row)[:200]}")
    if not np.isfinite(value):
        raise DataError(f"{path} line {line}, column {column!r}: {row[1].strip()!r} is not a finite number: "
                        "restore the file from the data set")
    year, *rest = match.groups()
    return "-".join([year.zfill(4), *rest]), value


def train_test_split_series(values: np.ndarray, train_fraction: float = 0.67) -> tuple[np.ndarray, np.ndarray]:
    """The first ``int(n * train_fraction)`` values for training, the rest for testing (no shuffling)."""
    train_size = int(len(values) * train_fraction)
    if not 0 < train_size < len(values):
        raise ConfigError(
            f"`train_fraction` {train_fraction} of {len(values)} values leaves an empty part: use a fraction in (0, 1)"
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


# -- a user's own series ----------------------------------------------------------------

MIN_SEASONS = 3  # a series must span at least this many seasons ...
MIN_VALUES = 12  # ... and hold at least this many values
DATE_FORMATS = (  # (form, pattern, datetime64 unit)
    ("YYYY-MM-DD", re.compile(r"\d{4}-\d{2}-\d{2}"), "D"),
    ("YYYY-MM", re.compile(r"\d{4}-\d{2}"), "M"),
    ("YYYY", re.compile(r"\d{4}"), "Y"),
)


@dataclass(frozen=True)
class Frequency:
    """How often a dated series has a value, as ``frequency_of`` infers it from the dates."""

    name: str  # daily, weekly, monthly, quarterly, yearly, or irregular
    season: int  # steps per season: 7, 52, 12, 4, 1, or 1
    unit: str  # the datetime64 unit the times are kept in
    step: np.timedelta64  # from one time to the next


# name, smallest and largest typical spacing in days, season, unit, step
_FREQUENCIES = (
    ("daily", 1, 1, 7, "D", np.timedelta64(1, "D")),
    ("weekly", 7, 7, 52, "D", np.timedelta64(7, "D")),
    ("monthly", 28, 31, 12, "M", np.timedelta64(1, "M")),
    ("quarterly", 89, 92, 4, "M", np.timedelta64(3, "M")),
    ("yearly", 365, 366, 1, "Y", np.timedelta64(1, "Y")),
)


def frequency_of(times: np.ndarray) -> Frequency:
    """The frequency of increasing dates, from the median spacing between them in days.

    Daily dates (1 day apart) have a weekly season of 7; weekly (7 days) a yearly season
    of 52; monthly (28 to 31 days) 12; quarterly (89 to 92 days) 4; yearly (365 or 366
    days) 1, no season; any other spacing is "irregular", season 1. Monthly and quarterly
    dates are kept as months, yearly ones as years, the rest as days.
    """
    days = np.asarray(times).astype("datetime64[D]")
    spacing = float(np.median(np.diff(days).astype(np.int64))) if len(days) > 1 else 0.0
    for name, low, high, season, unit, step in _FREQUENCIES:
        if low <= spacing <= high:
            return Frequency(name, season, unit, step)
    return Frequency("irregular", 1, "D", np.timedelta64(max(int(round(spacing)), 1), "D"))


def read_series_csv(
    path: str | Path,
    column: str,
    date_column: str | None = None,
    season: int | None = None,
    encoding: str = "utf-8",
) -> TimeSeries:
    """The numbers in ``column`` of a ``.csv`` (or ``.tsv``) file with a header row, one value per row,
    as a series named after the file (its stem).

    With ``date_column``, its dates (all in one of the forms YYYY-MM-DD, YYYY-MM, YYYY)
    must increase from row to row; they become the series' ``times`` (datetime64), and
    give the ``step`` between times and, unless ``season`` is given, the season (see
    ``frequency_of``: monthly 12, quarterly 4, daily 7, weekly 52, yearly 1). Without
    dates, the times are the steps 0, 1, ..., n-1 and the season is ``season``, else 1.

    A series must hold at least ``max(MIN_VALUES, MIN_SEASONS * season)`` values: 12,
    and three seasons (36 monthly values, 21 daily ones).

    Raises a one-line ``DataError`` for a missing file or column, a row of the wrong
    width, a value that is not a finite number or a date that is not ISO (naming file,
    line and column), dates that do not increase, a step of a regular series without a
    row (a month missing from a monthly series), and too few values.
    """
    if season is not None and (isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1):
        raise ConfigError(f"`season` is {season!r}: it must be a whole number of steps, at least 1")
    path = Path(path)
    header, rows = read_table(path, encoding, "time series")
    value_at = column_index(header, column, "column", path)
    date_at = column_index(header, date_column, "date_column", path) if date_column is not None else None
    values: list[float] = []
    dates: list[np.datetime64] = []
    date_form = None
    lines: list[int] = []
    for line, row in rows:
        lines.append(line)
        values.append(_number(row[value_at], path, line, column))
        if date_at is not None:
            date_form = date_form or _date_form(row[date_at], path, line, date_column)
            dates.append(_date(row[date_at], date_form, path, line, date_column))
            if len(dates) > 1 and dates[-1] <= dates[-2]:
                raise DataError(
                    f"{path} line {line}: date {row[date_at].strip()} (column {date_column!r}) is not after the "
                    f"date before it, {dates[-2]}: sort the rows by date, one row per date"
                )
    if not values:
        raise DataError(f"{path} has a header but no rows: add one row per value")
    if date_at is None:
        times, step, inferred = np.arange(len(values), dtype=np.int64), 1, 1
    else:
        times, step, inferred, regular = _dated_times(np.array(dates))
        if regular:
            _check_no_gaps(times, step, lines, path, date_column)
    period = int(season) if season is not None else inferred
    needed = max(MIN_VALUES, MIN_SEASONS * period)
    if len(values) < needed:
        raise DataError(
            f"{path} holds {len(values)} values: a series with a season of {period} steps needs at least "
            f"{needed} ({MIN_SEASONS} seasons, and at least {MIN_VALUES} values); use a longer series"
            + (" or a shorter `season`" if period > 1 else "")
        )
    return TimeSeries(path.stem, times, np.array(values, dtype=np.float64), period, step)


def _number(field: str, path: Path, line: int, column: str) -> float:
    if not field.strip():
        raise DataError(f"{path} line {line}, column {column!r}: the value is missing: fill it in or remove the row")
    try:
        value = float(field)
    except ValueError:
        raise DataError(f"{path} line {line}, column {column!r}: {field!r} is not a number") from None
    if not np.isfinite(value):
        raise DataError(
            f"{path} line {line}, column {column!r}: {field.strip()!r} is not a finite number: "
            "fill in the missing value or remove the row"
        )
    return value


def _date_form(field: str, path: Path, line: int, date_column: str) -> tuple[str, re.Pattern, str]:
    for form in DATE_FORMATS:
        if form[1].fullmatch(field.strip()):
            return form
    raise DataError(
        f"{path} line {line}, column {date_column!r}: {field!r} is not a date of the form YYYY-MM-DD, "
        "YYYY-MM or YYYY"
    )


def _date(field: str, form: tuple[str, re.Pattern, str], path: Path, line: int, date_column: str) -> np.datetime64:
    name, pattern, unit = form
    text = field.strip()
    try:
        if pattern.fullmatch(text):
            return np.datetime64(text, unit)
    except ValueError:
        pass
    raise DataError(f"{path} line {line}, column {date_column!r}: {field!r} is not a date of the form {name}, "
                    "as the first row's")


def _check_no_gaps(times: np.ndarray, step, lines: list[int], path: Path, date_column: str) -> None:
    """A regular (daily, weekly, monthly, quarterly, yearly) series has one row per step: a step without
    a row would shift every season after it, so it is refused, naming the first gap."""
    gaps = np.flatnonzero(np.diff(times) != step)
    if gaps.size:
        k = int(gaps[0])
        missing = int((times[k + 1] - times[k]) // step) - 1
        raise DataError(f"{path} line {lines[k + 1]}, column {date_column!r}: {times[k + 1]} follows {times[k]}, "
                        f"so {missing} step(s) of the series are missing (and {gaps.size} gap(s) in all): add a "
                        "row for every step, filling in the missing values")


def _dated_times(dates: np.ndarray) -> tuple[np.ndarray, np.timedelta64, int, bool]:
    """The dates in the unit their frequency keeps (if that keeps them increasing), the step, the season,
    and whether the series is regular (one of the frequencies, its dates in that unit): then every step
    must have its row."""
    frequency = frequency_of(dates)
    times = dates.astype(f"datetime64[{frequency.unit}]")
    if len(times) > 1 and np.any(np.diff(times) <= np.timedelta64(0, frequency.unit)):
        # e.g. two dates in one month of a monthly series: keep the days, step by the median spacing
        days = dates.astype("datetime64[D]")
        spacing = int(round(float(np.median(np.diff(days).astype(np.int64)))))
        return days, np.timedelta64(max(spacing, 1), "D"), frequency.season, False
    return times, frequency.step, frequency.season, frequency.name != "irregular"
