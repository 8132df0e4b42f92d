"""Validation loss of several language-model runs in one picture, against the characters each trained on.

    python examples/plot_validation_runs.py RUN_DIR [RUN_DIR ...] --out curves.png [--goal 1.42]

Each run is one line, labelled by its directory name; ``--goal`` draws a horizontal line.
docs/results/shakespeare-30min.png is this script on the Tiny Shakespeare runs of issue 17.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rnnkit.training.metrics_log import read_metrics  # noqa: E402


def characters_per_step(run_dir: Path) -> int:
    """batch_size x seq_len, from the spec in the run's last checkpoint."""
    last = json.loads((run_dir / "checkpoints.json").read_text())["last"]
    spec = json.loads((run_dir / "checkpoints" / last / "meta.json").read_text())["meta"]["spec"]
    return spec["batch_size"] * spec["seq_len"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--goal", type=float, help="a target loss, drawn as a dashed line")
    parser.add_argument("--top", type=float, default=1.6, help="the y axis's upper end (default 1.6)")
    args = parser.parse_args()
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for run_dir in args.runs:
        per_step = characters_per_step(run_dir)
        points = [(r["step"] * per_step / 1e6, r["val_loss"]) for r in read_metrics(run_dir) if "val_loss" in r]
        best = min(loss for _, loss in points)
        axes.plot(*zip(*points), marker=".", label=f"{run_dir.name} (best {best:.4f})")
    if args.goal is not None:
        axes.axhline(args.goal, color="grey", linestyle="--", linewidth=1, label=f"goal {args.goal}")
    axes.set_ylim(top=args.top)
    axes.set_xlabel("characters trained on (millions); each line ends at 30 minutes")
    axes.set_ylabel("validation loss (nats/char)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
