"""``rnnkit plot``: draw a run's training and validation loss curves into a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.cli.flags import output_path
from rnnkit.errors import DataError
from rnnkit.plots import plot_curves
from rnnkit.training.metrics_log import METRICS_FILE, read_metrics


def register(subcommands) -> None:
    parser = subcommands.add_parser("plot", help="plot a run's loss curves", description=__doc__)
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--out", type=output_path,
                        help="PNG file to write: new, or a PNG to replace (default RUN_DIR/loss.png)")
    parser.set_defaults(run=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    records = read_metrics(args.run_dir)
    if not records:
        raise DataError(f"{args.run_dir} has no {METRICS_FILE}: is it a run directory of rnnkit train?")
    out = args.out or args.run_dir / "loss.png"
    plot_curves(records, out, title=f"Loss of {args.run_dir.name}")
    print(out)
    return 0
