"""``rnnkit forecast``: forecasting a series with an LSTM, GRU or other cell, against persistence and seasonal naive.

    rnnkit forecast train --csv sales.csv --column units --date-column month
    rnnkit forecast train --series airline-passengers     a built-in series
    rnnkit forecast train --refit                         then retrain on the validation part too
    rnnkit forecast eval RUN_DIR --steps 3                h-step-ahead errors on the test part, and a PNG
    rnnkit forecast eval RUN1 RUN2 RUN3                   the ensemble: the mean of the runs' forecasts
    rnnkit forecast eval RUN_DIR --part val               errors on the validation part (to choose settings)
    rnnkit forecast eval RUN1 RUN2 --walk-forward 5       the models learn each test value once it is known
    rnnkit forecast predict RUN_DIR --steps 12            the next values after the end of the series
    rnnkit forecast backtest --folds 4 --block 6 --seeds 3   rolling-origin errors inside the training part

--csv reads one numeric column of a CSV file with a header (--date-column: ISO dates, from
which the season is inferred unless --season says it). Without --csv, --series picks one
of the four built-in series (airline-passengers when neither is given).

The first 67 % of the series trains (its last 15 % for early stopping), the rest is
tested; scaling is fitted on the training part only, and every forecast is turned
back into the series' own units before it is scored. ``--refit`` first trains with
early stopping into RUN_DIR/early-stopping, then trains a fresh model (same seed and
settings) on the whole training part for the best checkpoint's number of updates.

``--walk-forward N`` (one step ahead only): after forecasting x_t the model makes N
updates on every window whose targets are all <= t before it forecasts x_{t+1}, with the
optimizer settings of its training run. See ``rnnkit.tasks.walk_forward``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli import flags
from rnnkit.cli.flags import field_default, fraction, option, positive, switch
from rnnkit.data.datasets import default_data_dir
from rnnkit.data.timeseries import SERIES
from rnnkit.errors import ConfigError
from rnnkit.models.char_lm import RECURRENT_LAYERS
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks import backtest, forecasting
from rnnkit.tasks.backtest import Backtest
from rnnkit.tasks.forecasting import ForecastSpec, SeriesSource
from rnnkit.tasks.runs import default_run_dir, report_dir
from rnnkit.tasks.series import SCALERS, STRATEGIES
from rnnkit.training.config import OPEN_FRACTION
from rnnkit.training.progress import DelayedProgress

DEFAULT_SERIES = "airline-passengers"

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
    flags.task_command(subcommands, "forecast", "train and use a time-series forecaster", __doc__,
                       (register_train, register_eval, register_predict, register_backtest))


def add_data_location(group, text: str) -> None:
    flags.add_data_location(group, "--csv", "a CSV file with a header", text)


def register_train(actions) -> None:
    parser = actions.add_parser("train", help="train a forecaster", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_flags(parser)
    parser.add_argument("--refit", action="store_true",
                        help=f"after early stopping (into RUN_DIR/{forecasting.EARLY_STOPPING_DIR}), train a fresh "
                             "model on the whole training part, validation included, for the best number of updates")
    flags.finish(parser, run_train)


def register_backtest(actions) -> None:
    parser = actions.add_parser("backtest", help="rolling-origin errors inside the training part (to choose "
                                "settings)", description=BACKTEST_DOC,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_flags(parser)
    folds = parser.add_argument_group("backtest (inside the training part; the test part is never read)")
    option(folds, "--folds", "folds", field_default(Backtest, "folds"), "forecast origins, K", type=positive(int))
    option(folds, "--block", "block", field_default(Backtest, "block"),
           "values scored after each origin, one step ahead each", type=positive(int))
    option(folds, "--seeds", "seeds", field_default(Backtest, "seeds"),
           "seeds SEED .. SEED+N-1 per fold, each scored alone and all as an ensemble", type=positive(int))
    add_walk_forward_flag(folds)
    flags.finish(parser, run_backtest)


def add_walk_forward_flag(parser) -> None:
    option(parser, "--walk-forward", "walk_forward", field_default(Backtest, "walk_forward"),
           "one-step forecasts only: after each scored value, N updates on every window known by then, with the "
           "training run's optimizer settings (Adam restarts at the first scored point); 0: the frozen model",
           type=flags.non_negative(int), metavar="N")


def add_train_flags(parser) -> None:
    """The data, transform, model and learning flags of ``train`` (and ``backtest``)."""
    spec = ForecastSpec
    data = parser.add_argument_group("data")
    add_data_location(data, "; with --resume: where the run's series is now")
    option(data, "--column", "column", None, "the column of --csv that holds the series")
    option(data, "--date-column", "date_column", None, "a column of ISO dates (YYYY-MM or YYYY-MM-DD)")
    option(data, "--season", "season", None, "steps per season (default: from the dates; 1 without)",
           type=positive(int))
    option(data, "--series", "series", None, f"a built-in series instead of --csv ({DEFAULT_SERIES} when neither "
           "is given)", choices=sorted(SERIES))
    option(data, "--train-fraction", "train_fraction", field_default(spec, "train_fraction"),
           "first part that trains", type=flags.checked(float, OPEN_FRACTION))
    option(data, "--val-fraction", "val_fraction", field_default(spec, "val_fraction"),
           "end of the training part held out for early stopping", type=fraction)
    option(data, "--look-back", "look_back", field_default(spec, "look_back"), "past values the model reads",
           type=positive(int))
    option(data, "--horizon", "horizon", field_default(spec, "model.horizon"),
           "values predicted at once; > 1 for direct multi-step forecasts", type=positive(int))
    option(data, "--batch", "batch_size", field_default(spec, "batch_size"), "windows per batch", type=positive(int))
    transform = parser.add_argument_group("transform (fitted on the training part)")
    group = transform
    group.add_argument("--log", action="store_true", help="model log x (a multiplicative season or trend)")
    switch(group, "--difference", "difference", field_default(spec, "difference"), "model x_t - x_{t-1}")
    switch(group, "--seasonal", "seasonal", field_default(spec, "seasonal"), "difference at the season first")
    option(group, "--scaler", "scaler", field_default(spec, "scaler"), "scaling", choices=sorted(SCALERS))
    group = parser.add_argument_group("model")
    option(group, "--cell", "cell", field_default(spec, "model.cell"), "recurrent cell", choices=sorted(RECURRENT_LAYERS))
    option(group, "--layers", "num_layers", field_default(spec, "model.num_layers"), "stacked layers",
           type=positive(int))
    option(group, "--hidden", "hidden_size", field_default(spec, "model.hidden_size"), "hidden units",
           type=positive(int))
    option(group, "--dropout", "dropout", field_default(spec, "model.dropout"), "between layers and before the output",
           type=fraction)
    option(group, "--dtype", "dtype", field_default(spec, "dtype"), "floating-point type",
           choices=("float32", "float64"))
    flags.add_learning_flags(parser, forecasting.TRAIN_DEFAULTS, exclude=("sample_every",))


def register_eval(actions) -> None:
    parser = actions.add_parser("eval", help="test errors of a trained forecaster and the baselines")
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR_OR_CHECKPOINT",
                        help="one run, or several (the same series and --train-fraction, e.g. seeds) scored as "
                             "an ensemble")
    add_which_flag(parser)
    add_forecast_flags(parser)
    parser.add_argument("--part", choices=forecasting.PARTS, default="test",
                        help="test: every point after the training part; val: the end of the training part "
                             "that stopped training early, to compare settings without the test part (default: test)")
    add_walk_forward_flag(parser)
    add_data_location(parser, " (default: where training read it)")
    parser.add_argument("--out", type=flags.output_path,
                        help="folder for forecast-STEPS.png and results.json (default: the run directory of one "
                             "run; several runs need one)")
    flags.finish(parser, run_eval)


def register_predict(actions) -> None:
    parser = actions.add_parser("predict", help="forecast the values after the end of the series")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    add_which_flag(parser)
    add_forecast_flags(parser)
    add_data_location(parser, " (default: where training read it)")
    flags.finish(parser, run_predict)


def add_which_flag(parser) -> None:
    parser.add_argument("--which", choices=("best", "last"), default="best",
                        help="which checkpoint of each run directory (default: best)")


def add_forecast_flags(parser) -> None:
    parser.add_argument("--steps", type=positive(int), default=1, help="steps ahead (default: 1)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="recursive",
                        help="recursive: feed forecasts back in; direct: the model's h-th output (default: recursive)")


# -- train -------------------------------------------------------------------------------
def run_train(args) -> int:
    if args.resume:
        if args.refit:
            raise ConfigError("--refit trains twice from the start and cannot --resume: start a new run")
        flags.check_resume_flags(args, allowed=("file", "data_dir"))
        result = forecasting.resume(args.resume, flags.resume_changes(args), args.data_dir, args.file,
                                    progress=not args.no_progress, echo=status)
    else:
        spec = new_spec(args)
        result = forecasting.train(spec, flags.train_config(args), args.run_dir or default_run_dir(spec.data.name),
                                   refit=args.refit, progress=not args.no_progress, echo=status)
    status(flags.stop_summary(result))
    if result.stop_reason == "interrupted":
        return flags.INTERRUPTED
    best = forecasting.load_run(result.run_dir)
    notes = [f"evaluated {best.source}"]
    options = {"data_dir": args.data_dir, "file": args.file} if args.resume else {}
    options["echo"] = notes.append
    member = [forecasting.member(best)]
    print(forecasting.format_table(forecasting.evaluate(member, best.spec, result.run_dir, **options)))
    if best.model.config.horizon > 1:
        print(forecasting.format_table(forecasting.evaluate(member, best.spec, result.run_dir,
                                                            steps=best.model.config.horizon, strategy="direct",
                                                            **options)))
    for note in notes:
        status(note)
    return 0


def new_spec(args) -> ForecastSpec:
    if args.file and args.series:
        raise ConfigError("give either --csv FILE or --series NAME, not both")
    if args.file:
        source = SeriesSource(file=str(args.file.resolve()), column=args.column, date_column=args.date_column,
                              season=args.season)
    else:
        source = SeriesSource.built_in(args.series or DEFAULT_SERIES, args.data_dir or default_data_dir())
    model = ForecasterConfig(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                             horizon=args.horizon, dropout=args.dropout)
    return ForecastSpec(source, model, train_fraction=args.train_fraction, val_fraction=args.val_fraction,
                        look_back=args.look_back, batch_size=args.batch_size, log=args.log,
                        difference=args.difference, seasonal=args.seasonal, scaler=args.scaler, dtype=args.dtype)


def status(message: str) -> None:
    print(message, file=sys.stderr)


# -- eval, predict, backtest ------------------------------------------------------------------
def run_eval(args) -> int:
    notes = []
    members, spec = forecasting.load_members(args.run_dirs, args.which, echo=notes.append)
    scores = forecasting.evaluate(members, spec, report_dir(args.run_dirs, args.out), args.steps, args.strategy,
                                  args.part, args.walk_forward, args.data_dir, args.file, echo=notes.append)
    print(forecasting.format_table(scores))
    for note in notes:
        status(note)
    return 0


def run_predict(args) -> int:
    run = forecasting.load_run(args.run_dir, args.which)
    times, values = forecasting.predict(run, args.steps, args.strategy, args.data_dir, args.file,
                                        progress=DelayedProgress())
    status(f"using {run.source}")
    for time, value in zip(times, values):
        print(f"{time}\t{value:.4f}")
    return 0


def run_backtest(args) -> int:
    if args.resume:
        raise ConfigError("a backtest trains every fold from the start and cannot --resume: start a new one")
    spec = new_spec(args)
    out = args.run_dir or default_run_dir(f"{spec.data.name}-backtest")
    summary = backtest.run_backtest(spec, flags.train_config(args), out,
                                    Backtest(args.folds, args.block, args.seeds, args.walk_forward),
                                    progress=not args.no_progress, echo=status, report=print)
    for scores in backtest.summary_scores(summary, spec.data.name):
        print(forecasting.format_table(scores))
    return 0
