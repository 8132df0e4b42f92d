"""Forecasting one series: the run spec and its workflows (train, refit, resume, eval, predict).

The arithmetic (transform, splits, windows, forecasts, baselines, the training task) is in
``rnnkit.tasks.series``; backtests in ``rnnkit.tasks.backtest``; learning while forecasting in
``rnnkit.tasks.walk_forward``.

The series is the user's own CSV (``SeriesSource(file=..., column=..., date_column=...,
season=...)``) or one of the four built-in ones (``SeriesSource.built_in("airline-passengers")``)::

    spec = ForecastSpec(SeriesSource(file="sales.csv", column="units", date_column="month"))
    result = train(spec, train_config(), Path("runs/sales"))
    members, trained_spec = load_members([Path("runs/sales")])
    scores = evaluate(members, trained_spec, Path("runs/sales"), steps=3)

The first ``train_fraction`` of the series trains (its last ``val_fraction`` for early
stopping), the rest is tested; the transform is fitted on the training part only, and every
forecast is turned back into the series' own units before it is scored, against persistence
and seasonal naive on the very same points.

A *refit* (``train(..., refit=True)``) first trains with early stopping into
RUN_DIR/early-stopping, then trains a fresh model (same seed and settings) on the whole
training part for the best checkpoint's number of updates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rnnkit.data.datasets import default_data_dir
from rnnkit.data.tables import file_sha256
from rnnkit.data.timeseries import SERIES, TimeSeries, load_series, read_series_csv
from rnnkit.errors import ConfigError
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.plots import plot_forecast
from rnnkit.tasks import runs
from rnnkit.tasks.series import (SCALERS, STRATEGIES, ForecastingTask, SeriesSplit, SeriesTransform,
                                 baseline_forecasts, error_table, forecast, forecast_future)
from rnnkit.tasks.walk_forward import WalkForward, walk_forward
from rnnkit.training.config import TrainConfig

TASK = "forecast"
PARTS = ("test", "val")
EARLY_STOPPING_DIR = "early-stopping"      # a refit run's first run, inside its run directory
# The TrainConfig fields whose defaults differ for this task.
TRAIN_DEFAULTS = {"sample_every": 0, "epochs": 200, "lr": 3e-3, "eval_every": 20, "patience": 20}


@dataclass
class SeriesSource:
    """One series: the user's own CSV ``file`` (its ``column``; ``date_column`` and ``season`` optional),
    or a built-in ``series`` read from ``folder`` (the data directory's time_series/)."""

    file: str | None = None
    column: str | None = None
    date_column: str | None = None
    season: int | None = None              # steps per season; None: from the dates (see read_series_csv)
    series: str | None = None
    folder: str | None = None
    sha256: str | None = None              # of the file, kept by prepare(): a resumed run checks it

    def __post_init__(self):
        runs.check_field_types(self)
        if (self.file is None) == (self.series is None):
            raise ConfigError("give either a CSV `file` (with its `column`) or a built-in `series`, not "
                              + ("both" if self.file else "neither"))
        if self.file is not None and not self.column:
            raise ConfigError(f"which column of {self.file} is the series? give its `column`")
        if self.series is not None and self.series not in SERIES:
            raise ConfigError(f"unknown series {self.series!r}: choose one of {', '.join(SERIES)}")

    @classmethod
    def built_in(cls, series: str, data_dir: str | Path | None = None) -> "SeriesSource":
        return cls(series=series, folder=str((Path(data_dir or default_data_dir()) / "time_series").resolve()))

    @property
    def name(self) -> str:
        return self.series or Path(self.file).stem

    def load(self) -> TimeSeries:
        if self.series:
            return load_series(self.series, self.folder)
        return read_series_csv(self.file, self.column, self.date_column, self.season)

    def moved(self, data_dir: str | Path | None = None, file: str | Path | None = None) -> "SeriesSource":
        """The same series at a new place: the built-in ones under another ``data_dir``, or a moved ``file``."""
        if data_dir is None and file is None:
            return self
        if self.series and file is None:
            return replace(self, folder=str((Path(data_dir) / "time_series").resolve()))
        if self.file and data_dir is None:
            return replace(self, file=str(Path(file).resolve()))
        raise ConfigError(f"the run reads {'the built-in series ' + self.series if self.series else self.file}: "
                          f"give {'`data_dir`' if self.series else '`file`'} to say where it is now")

@dataclass
class ForecastSpec:
    """A forecaster's run: the series, its split, the transform, the windows, and the model.

    ``transform`` is fitted on the training part by ``prepare`` (its seasonal lag is the series'
    season when ``seasonal``). ``fold`` marks a backtest fold's run ({"fold", "origin", "end"}: it
    trains on the values before ``origin`` and is scored up to ``end``); ``refit`` a refit run.
    """

    TASK = TASK
    data: SeriesSource
    model: ForecasterConfig = field(default_factory=lambda: ForecasterConfig(hidden_size=16))
    train_fraction: float = 0.67        # the first part trains, the rest tests
    val_fraction: float = 0.15          # the end of the training part stops training early
    look_back: int = 12                 # past values the model reads
    batch_size: int = 16                # windows per batch
    log: bool = False                   # model log x (a multiplicative season or trend)
    difference: bool = True             # model x_t - x_{t-1}
    seasonal: bool = True               # difference at the series' season first
    scaler: str = "standard"            # minmax or standard
    dtype: str = "float32"
    transform: SeriesTransform | None = None
    fold: dict | None = None
    refit: dict | None = None

    def __post_init__(self):
        runs.check_field_types(self)
        if not 0 < self.train_fraction < 1:
            raise ConfigError(f"`train_fraction` must lie between 0 and 1, got {self.train_fraction}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"`val_fraction` must be at least 0 and below 1, got {self.val_fraction}")
        for name in ("look_back", "batch_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(f"`{name}` must be a positive integer, got {getattr(self, name)!r}")
        if self.scaler not in SCALERS:
            raise ConfigError(f"unknown scaler {self.scaler!r}: choose one of {', '.join(SCALERS)}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"`dtype` must be float32 or float64, got {self.dtype!r}")

    def split(self, length: int) -> SeriesSplit:
        """Which values train, validate and test (a backtest fold: its own values, its block as the test)."""
        if self.fold:
            return SeriesSplit(self.fold["end"], val_fraction=self.val_fraction, train_end=self.fold["origin"])
        return SeriesSplit(length, self.train_fraction, self.val_fraction)

    def to_json(self) -> dict:
        data = {**asdict(self.data), "train_fraction": self.train_fraction, "val_fraction": self.val_fraction}
        if self.fold:
            data["backtest"] = self.fold
        spec = {"data": data, "model_config": self.model.to_json(),
                "transform": self.transform.to_json() if self.transform else None, "look_back": self.look_back,
                "batch_size": self.batch_size, "log": self.log, "difference": self.difference,
                "seasonal": self.seasonal, "scaler": self.scaler, "dtype": self.dtype}
        if self.refit:
            spec["refit"] = self.refit
        return spec

    @classmethod
    def from_json(cls, data: dict) -> "ForecastSpec":
        """Format 1 stored the transform's options only inside the fitted ``transform``."""
        source = {key: value for key, value in data["data"].items() if key in {f.name for f in fields(SeriesSource)}}
        transform = SeriesTransform.from_json(data["transform"])
        return cls(data=SeriesSource(**source), model=ForecasterConfig.from_json(data["model_config"]),
                   train_fraction=data["data"]["train_fraction"], val_fraction=data["data"]["val_fraction"],
                   look_back=data["look_back"], batch_size=data["batch_size"],
                   log=data.get("log", transform.log), difference=data.get("difference", transform.difference),
                   seasonal=data.get("seasonal", transform.seasonal_lag > 0),
                   scaler=data.get("scaler", transform.scaler), dtype=data.get("dtype", "float32"),
                   transform=transform, fold=data["data"].get("backtest"), refit=data.get("refit"))

    def build_model(self, rng=None) -> Forecaster:
        return Forecaster(self.model, dtype=self.dtype, rng=rng)


Spec = ForecastSpec


class Member(NamedTuple):
    """One trained model of an ensemble, with what forecasting needs: its transform and look-back, and
    (for walking forward) the options it was trained with."""

    model: Forecaster
    transform: SeriesTransform
    look_back: int
    config: TrainConfig
    batch_size: int


# -- training --------------------------------------------------------------------------------


def train_config(**options) -> TrainConfig:
    """TrainConfig with this task's defaults (TRAIN_DEFAULTS) under ``options``."""
    return TrainConfig(**{**TRAIN_DEFAULTS, **options})


def prepare(spec: ForecastSpec) -> tuple[ForecastSpec, TimeSeries, SeriesSplit]:
    """The spec with its transform fitted on the training part; the series and its split."""
    series = spec.data.load()
    split = spec.split(len(series.values))
    transform = SeriesTransform(log=spec.log, difference=spec.difference,
                                seasonal_lag=series.period if spec.seasonal else 0, scaler=spec.scaler)
    transform.fit(series.values[:split.train_end])
    data = replace(spec.data, sha256=file_sha256(spec.data.file)) if spec.data.file else spec.data
    return replace(spec, data=data, transform=transform), series, split


def loaded(spec: ForecastSpec) -> tuple[TimeSeries, SeriesSplit]:
    """The series of a trained run's spec and its split."""
    series = spec.data.load()
    return series, spec.split(len(series.values))


def train(spec: ForecastSpec, config: TrainConfig, run_dir: Path, refit: bool = False, progress: bool = True,
          echo=print) -> runs.TrainResult:
    """A new run (model seeded by ``config.seed``) into ``run_dir``; with ``refit`` (see the module doc)
    the early-stopping run goes to RUN_DIR/early-stopping first."""
    with runs.new_run_dir(run_dir) as run_dir:
        spec, series, split = prepare(spec)
        if refit:
            early = train_fresh(spec, series.values, split, config, run_dir / EARLY_STOPPING_DIR, progress, echo,
                                resumable=False)
            updates = int(early.trainer["step"])
            spec = replace(spec, refit={"updates": updates, "early_stopping_run": EARLY_STOPPING_DIR})
            config = replace(config, max_steps=updates, eval_every=updates, patience=0)   # one in-sample validation
        task = ForecastingTask(spec.build_model(rng=config.seed), spec.transform, series.values, split,
                               spec.look_back, spec.batch_size, config.seed, refit=refit)
        return runs.fit(task, spec, config, run_dir, progress=progress, echo=echo, resumable=not refit)


def train_fresh(spec: ForecastSpec, values: np.ndarray, split: SeriesSplit, config: TrainConfig, run_dir: Path,
                progress: bool = True, echo=print, resumable: bool = True) -> runs.TrainedRun:
    """A new model (seed ``config.seed``) trained on ``split``'s training windows, stopping early on its
    validation windows, into ``run_dir``: its best checkpoint. An interruption stops everything;
    ``resumable`` False: the caller's workflow cannot resume, and the interruption does not advise it."""
    task = ForecastingTask(spec.build_model(rng=config.seed), spec.transform, values, split, spec.look_back,
                           spec.batch_size, config.seed)
    result = runs.fit(task, spec, config, run_dir, progress=progress, echo=echo, resumable=resumable)
    if result.stop_reason == "interrupted":
        raise KeyboardInterrupt
    return load_run(run_dir)


def resume(run_dir: Path, changes: dict | None = None, data_dir: Path | None = None, file: Path | None = None,
           progress: bool = True, echo=print) -> runs.TrainResult:
    """Continue the run in ``run_dir`` exactly; ``changes`` of the resumable options (``runs.RESUMABLE``);
    ``data_dir`` or ``file``: where its series is now, if it moved. A refit run cannot resume."""
    with runs.resumed_run_dir(run_dir) as run_dir:
        return _resume(run_dir, changes or {}, data_dir, file, progress, echo)


def _resume(run_dir: Path, changes: dict, data_dir: Path | None, file: Path | None, progress: bool,
            echo) -> runs.TrainResult:
    tensors, spec, trainer = runs.read_run(run_dir, "last", TASK)
    if spec.refit:
        raise ConfigError(f"{run_dir} is a refit run, which trains twice from the start and cannot resume: "
                          "start a new run")
    model = runs.fresh_model(tensors, spec, run_dir)
    spec = replace(spec, data=spec.data.moved(data_dir, file))
    if spec.data.file:
        runs.check_same_file(spec.data.file, spec.data.sha256, "file")
    config = runs.resumed_config(trainer, changes, run_dir)
    series, split = loaded(spec)
    task = ForecastingTask(model, spec.transform, series.values, split, spec.look_back, spec.batch_size,
                           config.seed)
    return runs.fit(task, spec, config, Path(run_dir), resume=True, new_lr=changes.get("lr"), progress=progress,
                    echo=echo)


# -- trained runs ----------------------------------------------------------------------------


def load_run(path, which: str = "best") -> runs.TrainedRun:
    return runs.load_run(path, which, TASK)


def member(run: runs.TrainedRun) -> Member:
    return Member(run.model, run.spec.transform, run.spec.look_back, run.config, run.spec.batch_size)


def load_members(paths: list[Path], which: str = "best", echo=None) -> tuple[list[Member], ForecastSpec]:
    """Each run as a Member, and the first run's spec; all must forecast the same points. ``echo`` (if
    given) gets "using CHECKPOINT" for each."""
    def shared(spec: ForecastSpec) -> dict:
        return {"series": spec.data.name, "train_fraction": spec.train_fraction, "backtest fold": spec.fold}
    trained = runs.load_ensemble(paths, which, TASK, shared, "runs of the same series and `train_fraction`")
    for run in trained:
        (echo or (lambda message: None))(f"using {run.source}")
    return [member(run) for run in trained], trained[0].spec


@dataclass
class Scores:
    """RMSE and MAE of each method ({method: {"rmse", "mae"}}) under a title saying what was scored."""

    title: str
    table: dict


def evaluate(members: list[Member], spec: ForecastSpec, out_dir: Path, steps: int = 1, strategy: str = "recursive",
             part: str = "test", walk: int = 0, data_dir: Path | None = None, file: Path | None = None,
             echo=None) -> Scores:
    """RMSE and MAE of the model (several: the mean of their forecasts) and both baselines on every point
    of the test (or validation) ``part``, ``steps`` ahead; a PNG of forecast against actual and the numbers
    (in OUT_DIR/results.json) go to ``out_dir``. ``walk`` > 0: the models learn each value once it is known
    (``rnnkit.tasks.walk_forward``); results under a key (and a PNG) of their own. ``echo`` (if given)
    gets "wrote PATH" for each file written."""
    out_dir = Path(out_dir)
    runs.check_results_file(out_dir)
    if part not in PARTS:
        raise ConfigError(f"unknown part {part!r}: use one of {', '.join(PARTS)}")
    spec = replace(spec, data=spec.data.moved(data_dir, file))
    series, split = loaded(spec)
    targets = split.test_targets if part == "test" else split.val_targets
    forecasts = method_forecasts(members, series.values, targets, series.period, steps, strategy, walk=walk)
    table = error_table(series.values[targets], forecasts)
    walking = f", walking forward {walk} updates per point" if walk else ""
    suffix = ("" if part == "test" else f"-{part}") + (f"-walk-forward-{walk}" if walk else "")
    figure = out_dir / f"forecast-{steps}{suffix}.png"
    plot_forecast(series.values[:targets[-1] + 1], forecasts, figure,
                  title=f"{series.name}: {steps}-step-ahead {part} forecasts{walking}")
    results = runs.write_results(out_dir, f"{series.name}-{steps}-step{suffix}", table)
    for path in (figure, results):
        (echo or (lambda message: None))(f"wrote {path}")
    return Scores(f"{series.name}: {len(targets)} {part} points, {steps}-step-ahead forecasts{walking}", table)


def method_forecasts(members: list[Member], values: np.ndarray, targets: np.ndarray, period: int, steps: int = 1,
                     strategy: str = "recursive", labels: list[str] = (), walk: int = 0) -> dict[str, np.ndarray]:
    """The model's forecasts of ``targets`` (several models: the mean of theirs, each walking forward on its
    own if ``walk`` > 0), each model's own under its label (if ``labels``), then both baselines' of the same
    points."""
    if walk and steps > 1:
        raise ConfigError(f"walking forward updates one-step forecasts only, not {steps}-step ones: "
                          "use `steps` 1 or `walk_forward` 0")
    predictions = [walk_forward(m.model, m.transform, values, targets, m.look_back,
                                WalkForward(walk, m.config, m.batch_size)) if walk else
                   forecast(m.model, m.transform, values, targets, m.look_back, steps, strategy)
                   for m in members]
    forecasts = {model_name(members, steps, strategy): np.mean(predictions, axis=0)}
    forecasts.update(zip(labels, predictions))
    forecasts.update(baseline_forecasts(values, targets, period, steps))
    return forecasts


def model_name(members: list[Member], steps: int, strategy: str) -> str:
    """The cell ("lstm"), "ensemble" added for several models, the strategy for several steps."""
    cells = {m.model.config.cell for m in members}
    name = cells.pop() if len(cells) == 1 else "rnn"
    name += " ensemble" if len(members) > 1 else ""
    return f"{name} ({strategy})" if steps > 1 else name


def predict(run: runs.TrainedRun, steps: int = 1, strategy: str = "recursive", data_dir: Path | None = None,
            file: Path | None = None, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """The times and values of the next ``steps`` values after the end of the series (time linear in
    ``steps``; ``progress(done, steps)`` is called after each)."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    spec = replace(run.spec, data=run.spec.data.moved(data_dir, file))
    series = spec.data.load()
    future = forecast_future(run.model, spec.transform, series.values, spec.look_back, steps, strategy, progress)
    return series.times[-1] + series.step * np.arange(1, steps + 1), future


def format_table(scores: Scores) -> str:
    """The scores as the command line prints them: the title, then a row per method."""
    rows = [scores.title, f"{'method':<24}{'RMSE':>12}{'MAE':>12}"]
    rows += [f"{name:<24}{errors['rmse']:>12.3f}{errors['mae']:>12.3f}" for name, errors in scores.table.items()]
    return "\n".join(rows)

