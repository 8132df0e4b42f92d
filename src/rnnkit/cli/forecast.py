"""``rnnkit forecast``: time-series forecasting with an LSTM or GRU, against persistence and seasonal naive.

    rnnkit forecast train --series airline-passengers     train; one-step test RMSE/MAE vs the baselines
    rnnkit forecast train --refit                         then retrain on the validation months too
    rnnkit forecast eval RUN_DIR --steps 3                h-step-ahead errors on the test part, and a PNG
    rnnkit forecast eval RUN1 RUN2 RUN3                   the ensemble: the mean of the runs' forecasts
    rnnkit forecast eval RUN_DIR --part val               errors on the validation part (to choose settings)
    rnnkit forecast predict RUN_DIR --steps 12            the next values after the end of the series

The first 67 % of the series trains (its last 15 % for early stopping), the rest is
tested; scaling is fitted on the training part only, and every forecast is turned
back into the series' own units before it is scored. ``--refit`` first trains with
early stopping into RUN_DIR/early-stopping, then trains a fresh model (same seed and
settings) on the whole training part for the best checkpoint's number of updates.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from rnnkit.cli import common
from rnnkit.cli.options import fraction, positive
from rnnkit.data.timeseries import SERIES, load_series
from rnnkit.errors import ConfigError
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.plots import plot_forecast
from rnnkit.tasks.forecasting import (SCALERS, STRATEGIES, ForecastingTask, SeriesSplit, SeriesTransform,
                                      baseline_forecasts, error_table, forecast, forecast_future)
from rnnkit.training.trained import load_trained_model

TASK = "forecast"
PARTS = ("test", "val")
EARLY_STOPPING_DIR = "early-stopping"                # a --refit run's first run, inside its run directory
ENSEMBLE_DATA_KEYS = ("series", "train_fraction")     # what fixes the test points; members must share it


def register(subcommands) -> None:
    common.register_actions(subcommands, "forecast", "train and use a time-series forecaster", __doc__,
                            (register_train, register_eval, register_predict))


def register_train(actions) -> None:
    parser = actions.add_parser("train", help="train a forecaster", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--series", choices=sorted(SERIES), default="airline-passengers", help="(airline-passengers)")
    common.add_data_dir_argument(data)
    data.add_argument("--train-fraction", type=positive(float), default=0.67, help="first part that trains (0.67)")
    data.add_argument("--val-fraction", type=fraction, default=0.15,
                      help="end of the training part held out for early stopping (0.15)")
    data.add_argument("--look-back", type=positive(int), default=12, help="past values the model reads (12)")
    data.add_argument("--horizon", type=positive(int), default=1,
                      help="values predicted at once; > 1 for direct multi-step forecasts (1)")
    data.add_argument("--batch", type=positive(int), default=16, help="windows per batch (16)")
    transform = parser.add_argument_group("transform (fitted on the training part)")
    transform.add_argument("--log", action="store_true", help="model log x (a multiplicative season or trend)")
    transform.add_argument("--difference", action=argparse.BooleanOptionalAction, default=True,
                           help="model x_t - x_{t-1} (default: yes)")
    transform.add_argument("--seasonal", action=argparse.BooleanOptionalAction, default=True,
                           help="difference at the series' period first (default: yes)")
    transform.add_argument("--scaler", choices=sorted(SCALERS), default="standard", help="(standard)")
    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="(lstm)")
    model.add_argument("--layers", type=positive(int), default=1, help="(1)")
    model.add_argument("--hidden", type=positive(int), default=16, help="hidden units (16)")
    model.add_argument("--dropout", type=fraction, default=0.0, help="(0)")
    model.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    common.add_learning_arguments(parser, epochs=200, lr=3e-3, eval_every=20, patience=20)
    parser.add_argument("--refit", action="store_true",
                        help=f"after early stopping (into RUN_DIR/{EARLY_STOPPING_DIR}), train a fresh model on "
                             "the whole training part, validation included, for the best number of updates")
    parser.set_defaults(run=run_train)


def register_eval(actions) -> None:
    parser = actions.add_parser("eval", help="test errors of a trained forecaster and the baselines")
    common.add_run_dirs_arguments(parser, "the same series and --train-fraction")
    add_forecast_arguments(parser)
    parser.add_argument("--part", choices=PARTS, default="test",
                        help="test: every point after the training part; val: the end of the training part "
                             "that stopped training early, to compare settings without the test part (test)")
    parser.add_argument("--data-dir", type=Path, help="folder of the series (default: where training read it)")
    parser.add_argument("--out", type=Path, help="folder for forecast-STEPS.png and results.json "
                                                 "(the run's; for several runs, their common parent folder)")
    parser.set_defaults(run=run_eval)


def register_predict(actions) -> None:
    parser = actions.add_parser("predict", help="forecast the values after the end of the series")
    common.add_model_path_arguments(parser)
    add_forecast_arguments(parser)
    parser.add_argument("--data-dir", type=Path, help="folder of the series (default: where training read it)")
    parser.set_defaults(run=run_predict)


def add_forecast_arguments(parser) -> None:
    parser.add_argument("--steps", type=positive(int), default=1, help="steps ahead (1)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="recursive",
                        help="recursive: feed forecasts back in; direct: the model's h-th output (recursive)")


# -- train -------------------------------------------------------------------------------
def run_train(args) -> int:
    if args.resume:
        if args.refit:
            raise ConfigError("--refit trains twice from the start and cannot --resume: start a new run")
        meta, model = common.resumed_run(args.resume, TASK, build_model)
        run_dir, config, resume = args.resume, common.resumed_config(args, meta), True
    else:
        meta = new_meta(args)
        run_dir, config, resume = common.new_run_dir(args, args.series), common.train_config(args), False
        model = new_model(meta, args.seed)
    if args.refit:
        updates = early_stopping_updates(meta, config, run_dir / EARLY_STOPPING_DIR, args)
        meta = dict(meta, refit={"updates": updates, "early_stopping_run": EARLY_STOPPING_DIR})
        config = replace(config, max_steps=updates, eval_every=updates, patience=0)   # one (in-sample) validation
    series, split, transform = load_data(meta)
    task = ForecastingTask(model, transform, series.values, split, meta["look_back"], meta["batch_size"], config.seed,
                           refit="refit" in meta)
    common.train(task, config, run_dir, meta, args, resume)
    best, _ = load_trained_model(run_dir, "best", TASK, build_model)
    member = [(best, transform, meta["look_back"])]
    report(member, meta, run_dir, steps=1, strategy="recursive")
    if best.config.horizon > 1:
        report(member, meta, run_dir, steps=best.config.horizon, strategy="direct")
    return 0


def new_model(meta: dict, seed: int) -> Forecaster:
    return Forecaster(ForecasterConfig.from_json(meta["model_config"]), meta["dtype"], rng=seed)


def early_stopping_updates(meta: dict, config, run_dir: Path, args) -> int:
    """Train a fresh model on the training windows, stopping early on validation, into ``run_dir``;
    the number of updates of its best checkpoint."""
    series, split, transform = load_data(meta)
    task = ForecastingTask(new_model(meta, config.seed), transform, series.values, split, meta["look_back"],
                           meta["batch_size"], config.seed)
    if common.train(task, config, run_dir, meta, args, resume=False)["stop_reason"] == "interrupted":
        raise KeyboardInterrupt                        # Ctrl-C: no refit
    _, best_meta = load_trained_model(run_dir, "best", TASK, build_model)
    return int(best_meta["step"])


def new_meta(args) -> dict:
    series = load_series(args.series, args.data_dir / "time_series")
    split = SeriesSplit(len(series.values), args.train_fraction, args.val_fraction)
    transform = SeriesTransform(log=args.log, difference=args.difference,
                                seasonal_lag=series.period if args.seasonal else 0, scaler=args.scaler)
    transform.fit(series.values[:split.train_end])
    config = ForecasterConfig(cell=args.cell, hidden_size=args.hidden, num_layers=args.layers,
                              horizon=args.horizon, dropout=args.dropout)
    data = {"series": args.series, "folder": str((args.data_dir / "time_series").resolve()),
            "train_fraction": args.train_fraction, "val_fraction": args.val_fraction}
    return {"task": TASK, "model_config": config.to_json(), "transform": transform.to_json(), "data": data,
            "look_back": args.look_back, "batch_size": args.batch, "dtype": args.dtype}


def load_data(meta: dict, data_dir: Path | None = None):
    """The series, its split and the fitted transform that ``meta`` describes."""
    data = meta["data"]
    series = load_series(data["series"], data_dir / "time_series" if data_dir else data["folder"])
    split = SeriesSplit(len(series.values), data["train_fraction"], data["val_fraction"])
    return series, split, SeriesTransform.from_json(meta["transform"])


def build_model(meta: dict, stored: dict) -> Forecaster:
    return Forecaster(ForecasterConfig.from_json(meta.get("model_config")), dtype=meta.get("dtype", "float32"))


# -- eval and predict ----------------------------------------------------------------------
def report(models: list, meta: dict, out_dir: Path, steps: int, strategy: str, data_dir: Path | None = None,
           part: str = "test") -> dict:
    """RMSE and MAE of the model (several: the mean of their forecasts) and both baselines on every point
    of the test (or validation) part; a PNG of forecast vs actual."""
    series, split, _ = load_data(meta, data_dir)
    targets = split.test_targets if part == "test" else split.val_targets
    predictions = [forecast(model, transform, series.values, targets, look_back, steps, strategy)
                   for model, transform, look_back in models]
    forecasts = {model_name(models, steps, strategy): np.mean(predictions, axis=0)}
    forecasts.update(baseline_forecasts(series.values, targets, series.period, steps))
    table = error_table(series.values[targets], forecasts)
    print(f"{series.name}: {len(targets)} {part} points, {steps}-step-ahead forecasts")
    print(f"{'method':<24}{'RMSE':>12}{'MAE':>12}")
    for name, errors in table.items():
        print(f"{name:<24}{errors['rmse']:>12.3f}{errors['mae']:>12.3f}")
    suffix = "" if part == "test" else f"-{part}"
    plot_forecast(series.values[:targets[-1] + 1], forecasts, out_dir / f"forecast-{steps}{suffix}.png",
                  title=f"{series.name}: {steps}-step-ahead {part} forecasts")
    common.write_results(out_dir, f"{series.name}-{steps}-step{suffix}", table)
    return table


def model_name(models: list, steps: int, strategy: str) -> str:
    """The cell ("lstm"), "ensemble" added for several models, the strategy for several steps."""
    cells = {model.config.cell for model, _, _ in models}
    name = cells.pop() if len(cells) == 1 else "rnn"
    name += " ensemble" if len(models) > 1 else ""
    return f"{name} ({strategy})" if steps > 1 else name


def load_ensemble(paths: list[Path], which: str) -> tuple[list[tuple], dict]:
    """(model, transform, look-back) of each run, and the first run's meta; all must forecast the same points."""
    loaded = common.load_ensemble(paths, which, TASK, build_model, ENSEMBLE_DATA_KEYS, (),
                                  "runs of the same series and --train-fraction")
    members = [(model, SeriesTransform.from_json(meta["transform"]), meta["look_back"]) for model, meta in loaded]
    return members, loaded[0][1]


def run_eval(args) -> int:
    members, meta = load_ensemble(args.run_dirs, args.which)
    report(members, meta, common.ensemble_report_dir(args.run_dirs, args.out), args.steps, args.strategy, args.data_dir,
           args.part)
    return 0


def run_predict(args) -> int:
    model, meta = load_trained_model(args.run_dir, args.which, TASK, build_model)
    series, _, transform = load_data(meta, args.data_dir)
    future = forecast_future(model, transform, series.values, meta["look_back"], args.steps, args.strategy)
    for step, value in enumerate(future, start=1):
        print(f"{series.times[-1] + step}\t{value:.4f}")
    return 0
