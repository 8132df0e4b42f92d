"""Backtesting (rolling-origin evaluation, Hyndman's time-series cross-validation) compares
settings on more than one block, inside the training part only. With n training values,
K folds and blocks of b points, fold k = 1 .. K has the forecast origin

    o_k = n - (K - k + 1) b           (so the last block ends at n)

and is a run of its own on the values [0, o_k): transform fitted on them, early stopping
on their last ``val_fraction``; its one-step forecasts are scored on [o_k, o_k + b), the
baselines on the very same points. ``backtest_splits`` gives the folds as ``SeriesSplit``s
whose "test part" is the block.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks import forecasting, runs
from rnnkit.tasks.forecasting import ForecastSpec, Scores
from rnnkit.tasks.series import SeriesSplit, SeriesTransform, error_table, split_windows
from rnnkit.training.config import TrainConfig


@dataclass
class Backtest:
    """K ``folds`` of ``block`` one-step forecasts each, every fold trained with each of ``seeds`` (scored
    alone and, for several, as the ensemble of their mean); ``walk_forward`` > 0: the fold's models walk
    forward through its block."""

    folds: int = 4
    block: int = 6
    seeds: int = 1
    walk_forward: int = 0


def backtest_splits(train_end: int, folds: int, block: int, val_fraction: float) -> list[SeriesSplit]:
    """The K folds of a backtest inside the first ``train_end`` values (see the module doc): fold k trains
    on [0, o_k) and is scored on [o_k, o_k + block); the last block ends at ``train_end``."""
    if folds < 1 or block < 1:
        raise ConfigError(f"a backtest needs at least one fold of at least one point, got {folds} of {block}")
    first = train_end - folds * block
    if first < 1:
        raise ConfigError(f"{folds} folds of {block} points need more than {folds * block} values, but the "
                          f"training part has {train_end}: use fewer `folds` or a shorter `block`")
    return [SeriesSplit(origin + block, val_fraction=val_fraction, train_end=origin)
            for origin in range(first, train_end, block)]


def check_backtest(splits: list[SeriesSplit], look_back: int, offset: int, horizon: int, period: int) -> None:
    """Every fold has training and validation windows, and every scored point a value one season before."""
    for number, split in enumerate(splits, start=1):
        where = f"backtest fold {number} of {len(splits)} trains on the first {split.train_end} values only"
        try:
            split_windows(split, look_back, offset, horizon)
        except DataError as error:
            raise DataError(f"{where}: {error}; or use fewer `folds` or a shorter `block`") from None
        if split.train_end < period:
            raise DataError(f"{where}, less than one season ({period}) before its first scored point, which "
                            "seasonal naive needs: use fewer `folds` or a shorter `block`")


def backtest_summary(splits: list[SeriesSplit], values: np.ndarray,
                     fold_forecasts: list[dict[str, np.ndarray]]) -> dict:
    """Each fold's errors, their mean over the folds, and the errors over all scored points together."""
    actual = [values[split.test_targets] for split in splits]
    folds = [{"fold": number, "origin": split.train_end, "end": split.length, "errors": error_table(a, f)}
             for number, (split, a, f) in enumerate(zip(splits, actual, fold_forecasts), start=1)]
    mean = {name: {metric: float(np.mean([fold["errors"][name][metric] for fold in folds]))
                   for metric in ("rmse", "mae")} for name in fold_forecasts[0]}
    pooled = {name: np.concatenate([f[name] for f in fold_forecasts]) for name in fold_forecasts[0]}
    return {"folds": folds, "mean": mean, "all": error_table(np.concatenate(actual), pooled)}


def run_backtest(spec: ForecastSpec, config: TrainConfig, out: Path, backtest: Backtest, progress: bool = True,
                 echo=print, report=print) -> dict:
    """Train and score every fold (see the module doc) on the training part's values alone; runs go to
    OUT/fold-K/seed-S, the per-fold, mean-over-folds and all-points errors to OUT/results.json (key
    SERIES-backtest). ``report`` gets each fold's table as the fold finishes, ``echo`` where each run is."""
    with runs.new_run_dir(check_backtest_dir(Path(out))) as out:
        return _run_backtest(spec, config, out, backtest, progress, echo, report)


def _run_backtest(spec: ForecastSpec, config: TrainConfig, out: Path, backtest: Backtest, progress: bool, echo,
                  report) -> dict:
    spec, series, split = forecasting.prepare(spec)
    values = series.values[:split.train_end]                 # from here on, the test part is out of reach
    splits = backtest_splits(split.train_end, backtest.folds, backtest.block, spec.val_fraction)
    check_backtest(splits, spec.look_back, spec.transform.offset, spec.model.horizon, series.period)
    seeds = list(range(config.seed, config.seed + backtest.seeds))
    fold_forecasts = []
    for number, fold in enumerate(splits, start=1):
        forecasts = backtest_fold(spec, values, fold, number, seeds, out, config, backtest.walk_forward,
                                  series.period, progress, echo)
        report(forecasting.format_table(Scores(f"fold {number}: trained on values 0-{fold.train_end - 1}, scored on "
                                             f"{fold.train_end}-{fold.length - 1}",
                                             error_table(values[fold.test_targets], forecasts))))
        fold_forecasts.append(forecasts)
    summary = backtest_summary(splits, values, fold_forecasts)
    summary["setup"] = {"folds": len(splits), "block": backtest.block, "seeds": seeds, "train_end": split.train_end,
                        "walk_forward": backtest.walk_forward}
    echo(f"wrote {runs.write_results(out, f'{series.name}-backtest', summary)}")
    return summary


def summary_scores(summary: dict, name: str) -> list[Scores]:
    """The mean-over-folds and all-points tables of a backtest's summary, titled."""
    setup = summary["setup"]
    walking = f", walking forward {setup['walk_forward']} updates per point" if setup["walk_forward"] else ""
    return [Scores(f"{name}: backtest, mean over {setup['folds']} folds of {setup['block']} one-step forecasts"
                   f"{walking}", summary["mean"]),
            Scores(f"{name}: backtest, all {setup['folds'] * setup['block']} points together", summary["all"])]


def check_backtest_dir(out: Path) -> Path:
    """``out``, refused if it already holds a run or a fold's run, or other files (``runs.check_new_run_dir``)."""
    taken = [path for path in Path(out).glob("fold-*/seed-*") if (path / "checkpoints").exists()]
    if taken:
        raise ConfigError(f"{out} already holds a backtest ({taken[0]}): pick another output folder")
    return runs.check_new_run_dir(out)


def backtest_fold(spec: ForecastSpec, values: np.ndarray, split: SeriesSplit, number: int, seeds: list[int],
                  out: Path, config: TrainConfig, walk: int, period: int, progress: bool,
                  echo) -> dict[str, np.ndarray]:
    """Fold ``number``: the transform fitted on its own values, one run per seed into OUT/fold-K/seed-S;
    the forecasts of its block by the model (the seeds' ensemble, and each seed; walking forward through the
    block with ``walk``) and by the baselines. ``values`` ends where the training part does."""
    transform = SeriesTransform.from_json(spec.transform.to_json()).fit(values[:split.train_end])
    fold_spec = replace(spec, transform=transform,
                        fold={"fold": number, "origin": split.train_end, "end": split.length})
    members = []
    for seed in seeds:
        trained = forecasting.train_fresh(fold_spec, values, split, replace(config, seed=seed),
                                          out / f"fold-{number}" / f"seed-{seed}", progress, echo, resumable=False)
        members.append(forecasting.member(trained))
    labels = [f"{spec.model.cell} seed {seed}" for seed in seeds] if len(seeds) > 1 else []
    block = values[:split.length]                          # the fold's values and its block: nothing after it
    return forecasting.method_forecasts(members, block, split.test_targets, period, labels=labels, walk=walk)
