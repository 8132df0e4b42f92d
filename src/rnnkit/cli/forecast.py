"""``rnnkit forecast``: time-series forecasting with an LSTM or GRU, against persistence and seasonal naive.

    rnnkit forecast train --series airline-passengers     train; one-step test RMSE/MAE vs the baselines
    rnnkit forecast train --refit                         then retrain on the validation months too
    rnnkit forecast eval RUN_DIR --steps 3                h-step-ahead errors on the test part, and a PNG
    rnnkit forecast eval RUN1 RUN2 RUN3                   the ensemble: the mean of the runs' forecasts
    rnnkit forecast eval RUN_DIR --part val               errors on the validation part (to choose settings)
    rnnkit forecast eval RUN1 RUN2 --walk-forward 5       the models learn each test value once it is known
    rnnkit forecast predict RUN_DIR --steps 12            the next values after the end of the series
    rnnkit forecast backtest --folds 4 --block 6 --seeds 3   rolling-origin errors inside the training part
    rnnkit forecast backtest --walk-forward 5             the same, each fold's models walking forward in its block

The first 67 % of the series trains (its last 15 % for early stopping), the rest is
tested; scaling is fitted on the training part only, and every forecast is turned
back into the series' own units before it is scored. ``--refit`` first trains with
early stopping into RUN_DIR/early-stopping, then trains a fresh model (same seed and
settings) on the whole training part for the best checkpoint's number of updates.

``--walk-forward N`` (one step ahead only): after forecasting x_t the model makes N
updates on every window whose targets are all <= t before it forecasts x_{t+1}, with the
optimizer settings of its training run (Adam's moments start afresh at the first scored
point), the transform staying the one fitted on the training part. See
``rnnkit.tasks.forecasting.walk_forward``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rnnkit.cli import common
from rnnkit.cli.options import fraction, non_negative, positive
from rnnkit.data.timeseries import SERIES, load_series
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.plots import plot_forecast
from rnnkit.tasks.forecasting import (SCALERS, STRATEGIES, ForecastingTask, SeriesSplit, SeriesTransform, WalkForward,
                                      backtest_splits, backtest_summary, baseline_forecasts, check_backtest,
                                      error_table, forecast, forecast_future, walk_forward)
from rnnkit.training.config import TrainConfig
from rnnkit.training.trained import load_trained_model

TASK = "forecast"
PARTS = ("test", "val")
EARLY_STOPPING_DIR = "early-stopping"                # a --refit run's first run, inside its run directory
ENSEMBLE_DATA_KEYS = ("series", "train_fraction", "backtest")   # what fixes the test points; members share it


class Member(NamedTuple):
    """One trained model of an ensemble, with what forecasting needs: its transform, its look-back,
    and its checkpoint's meta (the training settings a walk forward continues with)."""

    model: Forecaster
    transform: SeriesTransform
    look_back: int
    meta: dict


BACKTEST_DOC = """Rolling-origin evaluation ("backtesting", time-series cross-validation) inside the
training part, to compare settings on more than one block; the test part is never read.

With n training values (the first --train-fraction), fold k = 1 .. K trains on the values
[0, o_k), o_k = n - (K - k + 1) * BLOCK, exactly as `forecast train` trains on a whole
training part (transform fitted on the fold's own values, early stopping on their last
--val-fraction), and scores one-step forecasts of the next BLOCK values, the last block
ending at n. Persistence and seasonal naive forecast the very same points. Each fold's
seeds are run directories OUT/fold-K/seed-S; the per-fold, mean-over-folds and all-points
RMSE/MAE go to OUT/results.json (key SERIES-backtest). With --seeds N > 1 the mean of the
N seeds' forecasts is scored too, as the ensemble. (--horizon keeps its meaning, the
values the model predicts at once; what is scored is always one step ahead.)

--walk-forward N: each fold's models walk forward through its block (N updates after each
scored value, on the windows known by then: the fold's values and its block up to that
value, never beyond the block), as `forecast eval --walk-forward N` does on the test part.

    rnnkit forecast backtest --series monthly-car-sales --folds 4 --block 6 --seeds 3 \\
        --no-difference --val-fraction 0.25 --out runs/car-sales-backtest
"""


def register(subcommands) -> None:
    common.register_actions(subcommands, "forecast", "train and use a time-series forecaster", __doc__,
                            (register_train, register_eval, register_predict, register_backtest))


def register_train(actions) -> None:
    parser = actions.add_parser("train", help="train a forecaster", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(parser)
    parser.add_argument("--refit", action="store_true",
                        help=f"after early stopping (into RUN_DIR/{EARLY_STOPPING_DIR}), train a fresh model on "
                             "the whole training part, validation included, for the best number of updates")
    parser.set_defaults(run=run_train)


def register_backtest(actions) -> None:
    parser = actions.add_parser("backtest", help="rolling-origin errors inside the training part (to choose "
                                "settings)", description=BACKTEST_DOC,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(parser)
    folds = parser.add_argument_group("backtest (inside the training part; the test part is never read)")
    folds.add_argument("--folds", type=positive(int), default=4, help="forecast origins, K (4)")
    folds.add_argument("--block", type=positive(int), default=6,
                       help="values scored after each origin, one step ahead each (6)")
    folds.add_argument("--seeds", type=positive(int), default=1,
                       help="seeds SEED .. SEED+N-1 per fold, each scored alone and all as an ensemble (1)")
    add_walk_forward_argument(folds)
    parser.set_defaults(run=run_backtest)


def add_walk_forward_argument(parser) -> None:
    parser.add_argument("--walk-forward", type=non_negative(int), default=0, metavar="N",
                        help="one-step forecasts only: after each scored value, N updates on every window known "
                             "by then, with the training run's optimizer settings (Adam restarts at the first "
                             "scored point); 0: the frozen model (0)")


def add_train_arguments(parser) -> None:
    """The data, transform, model and learning flags of ``train`` (and ``backtest``)."""
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


def register_eval(actions) -> None:
    parser = actions.add_parser("eval", help="test errors of a trained forecaster and the baselines")
    common.add_run_dirs_arguments(parser, "the same series and --train-fraction")
    add_forecast_arguments(parser)
    parser.add_argument("--part", choices=PARTS, default="test",
                        help="test: every point after the training part; val: the end of the training part "
                             "that stopped training early, to compare settings without the test part (test)")
    add_walk_forward_argument(parser)
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
    best, best_meta = load_trained_model(run_dir, "best", TASK, build_model)
    member = [Member(best, transform, meta["look_back"], best_meta)]
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
    _, best_meta = train_fresh(meta, series.values, split, transform, config, run_dir, args)
    return int(best_meta["step"])


def train_fresh(meta: dict, values, split: SeriesSplit, transform: SeriesTransform, config, run_dir: Path,
                args) -> tuple[Forecaster, dict]:
    """A new model (seed ``config.seed``) trained on ``split``'s training windows, stopping early on its
    validation windows, into ``run_dir``: the best checkpoint's model and meta. Ctrl-C stops everything."""
    task = ForecastingTask(new_model(meta, config.seed), transform, values, split, meta["look_back"],
                           meta["batch_size"], config.seed)
    if common.train(task, config, run_dir, meta, args, resume=False)["stop_reason"] == "interrupted":
        raise KeyboardInterrupt
    return load_trained_model(run_dir, "best", TASK, build_model)


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
    """The series, its split and the fitted transform that ``meta`` describes (a backtest fold's run:
    the fold's values, its block as the test part)."""
    data = meta["data"]
    series = load_series(data["series"], data_dir / "time_series" if data_dir else data["folder"])
    if data.get("backtest"):
        fold = data["backtest"]
        split = SeriesSplit(fold["end"], val_fraction=data["val_fraction"], train_end=fold["origin"])
    else:
        split = SeriesSplit(len(series.values), data["train_fraction"], data["val_fraction"])
    return series, split, SeriesTransform.from_json(meta["transform"])


def build_model(meta: dict, stored: dict) -> Forecaster:
    return Forecaster(ForecasterConfig.from_json(meta.get("model_config")), dtype=meta.get("dtype", "float32"))


# -- eval and predict ----------------------------------------------------------------------
def report(models: list[Member], meta: dict, out_dir: Path, steps: int, strategy: str, data_dir: Path | None = None,
           part: str = "test", walk: int = 0) -> dict:
    """RMSE and MAE of the model (several: the mean of their forecasts) and both baselines on every point
    of the test (or validation) part; a PNG of forecast vs actual. ``walk`` > 0: walk-forward updating,
    results under a key (and a PNG) of their own."""
    series, split, _ = load_data(meta, data_dir)
    targets = split.test_targets if part == "test" else split.val_targets
    forecasts = method_forecasts(models, series.values, targets, series.period, steps, strategy, walk=walk)
    table = error_table(series.values[targets], forecasts)
    walking = f", walking forward {walk} updates per point" if walk else ""
    print_table(f"{series.name}: {len(targets)} {part} points, {steps}-step-ahead forecasts{walking}", table)
    suffix = ("" if part == "test" else f"-{part}") + (f"-walk-forward-{walk}" if walk else "")
    plot_forecast(series.values[:targets[-1] + 1], forecasts, out_dir / f"forecast-{steps}{suffix}.png",
                  title=f"{series.name}: {steps}-step-ahead {part} forecasts{walking}")
    common.write_results(out_dir, f"{series.name}-{steps}-step{suffix}", table)
    return table


def method_forecasts(models: list[Member], values: np.ndarray, targets: np.ndarray, period: int, steps: int = 1,
                     strategy: str = "recursive", labels: list[str] = (), walk: int = 0) -> dict[str, np.ndarray]:
    """The model's forecasts of ``targets`` (several models: the mean of theirs, each walking forward on its
    own if ``walk`` > 0), each model's own under its label (if ``labels``), then both baselines' of the same
    points."""
    if walk and steps > 1:
        raise ConfigError(f"--walk-forward updates one-step forecasts only, not {steps}-step ones: "
                          "use --steps 1 or --walk-forward 0")
    predictions = [walk_forward(member.model, member.transform, values, targets, member.look_back,
                                walk_settings(member.meta, walk)) if walk else
                   forecast(member.model, member.transform, values, targets, member.look_back, steps, strategy)
                   for member in models]
    forecasts = {model_name(models, steps, strategy): np.mean(predictions, axis=0)}
    forecasts.update(zip(labels, predictions))
    forecasts.update(baseline_forecasts(values, targets, period, steps))
    return forecasts


def print_table(title: str, table: dict) -> None:
    print(title)
    print(f"{'method':<24}{'RMSE':>12}{'MAE':>12}")
    for name, errors in table.items():
        print(f"{name:<24}{errors['rmse']:>12.3f}{errors['mae']:>12.3f}")


def walk_settings(meta: dict, updates: int) -> WalkForward:
    """``updates`` per point with the optimizer settings and batch size of the run that ``meta`` describes."""
    try:
        return WalkForward(updates, TrainConfig(**meta["train_config"]), int(meta["batch_size"]))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"the checkpoint's training settings cannot be walked forward with ({error!r}): "
                              "it is damaged or was not written by rnnkit forecast") from None


def model_name(models: list[Member], steps: int, strategy: str) -> str:
    """The cell ("lstm"), "ensemble" added for several models, the strategy for several steps."""
    cells = {member.model.config.cell for member in models}
    name = cells.pop() if len(cells) == 1 else "rnn"
    name += " ensemble" if len(models) > 1 else ""
    return f"{name} ({strategy})" if steps > 1 else name


def load_ensemble(paths: list[Path], which: str) -> tuple[list[Member], dict]:
    """Each run as a Member, and the first run's meta; all must forecast the same points."""
    loaded = common.load_ensemble(paths, which, TASK, build_model, ENSEMBLE_DATA_KEYS, (),
                                  "runs of the same series and --train-fraction")
    members = [Member(model, SeriesTransform.from_json(meta["transform"]), meta["look_back"], meta)
               for model, meta in loaded]
    return members, loaded[0][1]


def run_eval(args) -> int:
    members, meta = load_ensemble(args.run_dirs, args.which)
    report(members, meta, common.ensemble_report_dir(args.run_dirs, args.out), args.steps, args.strategy, args.data_dir,
           args.part, args.walk_forward)
    return 0


def run_predict(args) -> int:
    model, meta = load_trained_model(args.run_dir, args.which, TASK, build_model)
    series, _, transform = load_data(meta, args.data_dir)
    future = forecast_future(model, transform, series.values, meta["look_back"], args.steps, args.strategy)
    for step, value in enumerate(future, start=1):
        print(f"{series.times[-1] + step}\t{value:.4f}")
    return 0


# -- backtest ------------------------------------------------------------------------------
def run_backtest(args) -> int:
    """Train and score every fold (see BACKTEST_DOC) on the training part's values alone."""
    if args.resume:
        raise ConfigError("a backtest trains every fold from the start and cannot --resume: start a new one")
    meta = new_meta(args)
    series, split, transform = load_data(meta)
    values = series.values[:split.train_end]                 # from here on, the test part is out of reach
    splits = backtest_splits(split.train_end, args.folds, args.block, args.val_fraction)
    check_backtest(splits, args.look_back, transform.offset, args.horizon, series.period)
    out = backtest_dir(args)
    seeds = list(range(args.seed, args.seed + args.seeds))
    fold_forecasts = [backtest_fold(meta, values, fold, number, seeds, out, args, series.period)
                      for number, fold in enumerate(splits, start=1)]
    summary = backtest_summary(splits, values, fold_forecasts)
    summary["setup"] = {"folds": len(splits), "block": args.block, "seeds": seeds, "train_end": split.train_end,
                        "walk_forward": args.walk_forward}
    walking = f", walking forward {args.walk_forward} updates per point" if args.walk_forward else ""
    print_table(f"{series.name}: backtest, mean over {len(splits)} folds of {args.block} one-step forecasts"
                f"{walking}", summary["mean"])
    print_table(f"{series.name}: backtest, all {len(splits) * args.block} points together", summary["all"])
    common.write_results(out, f"{series.name}-backtest", summary)
    return 0


def backtest_dir(args) -> Path:
    """OUT (default runs/SERIES-backtest-DATE-TIME), refused if it already holds a fold's run."""
    out = common.new_run_dir(args, f"{args.series}-backtest")
    taken = [path for path in out.glob("fold-*/seed-*") if (path / "checkpoints").exists()]
    if taken:
        raise ConfigError(f"{out} already holds a backtest ({taken[0]}): pick another --out")
    return out


def backtest_fold(meta: dict, values: np.ndarray, split: SeriesSplit, number: int, seeds: list[int], out: Path,
                  args, period: int) -> dict[str, np.ndarray]:
    """Fold ``number``: the transform fitted on its own values, one run per seed into OUT/fold-K/seed-S;
    the forecasts of its block by the model (the seeds' ensemble, and each seed; walking forward through the
    block with --walk-forward) and by the baselines. ``values`` ends where the training part does."""
    transform = SeriesTransform.from_json(meta["transform"]).fit(values[:split.train_end])
    fold = {"fold": number, "origin": split.train_end, "end": split.length}
    fold_meta = dict(meta, transform=transform.to_json(), data=dict(meta["data"], backtest=fold))
    members = []
    for seed in seeds:
        config = replace(common.train_config(args), seed=seed)
        model, best_meta = train_fresh(fold_meta, values, split, transform, config,
                                       out / f"fold-{number}" / f"seed-{seed}", args)
        members.append(Member(model, transform, meta["look_back"], best_meta))
    labels = [f"{args.cell} seed {seed}" for seed in seeds] if len(seeds) > 1 else []
    block = values[:split.length]                          # the fold's values and its block: nothing after it
    forecasts = method_forecasts(members, block, split.test_targets, period, labels=labels, walk=args.walk_forward)
    print_table(f"fold {number}: trained on values 0-{split.train_end - 1}, scored on "
                f"{split.train_end}-{split.length - 1}", error_table(values[split.test_targets], forecasts))
    return forecasts
