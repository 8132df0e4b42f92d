"""Reproduce the sentiment numbers of issue 6: a BiLSTM with embeddings learned from scratch,
next to the bag-of-words logistic-regression baseline on the same split.

    python examples/sentiment.py sst2                SST-2, official train/dev/test split
    python examples/sentiment.py chnsenticorp        ChnSentiCorp hotel reviews, fixed stratified 80/10/10 split
    python examples/sentiment.py sst2 --seeds 5      five seeds, each alone and their ensemble

Each seed trains with ``rnnkit classify train --seed K`` (a few minutes on one CPU core;
early stopping on dev accuracy keeps the best checkpoint) into OUT/seed-K, which then
holds the dev and test accuracy and F1 of that checkpoint and of the baseline, the
confusion matrices and the loss curves. With several seeds the ensemble (the mean of
the seeds' class probabilities, ``rnnkit classify eval OUT/seed-* --split dev|test``)
is scored too, into OUT, and a table of every seed, their mean and the ensemble is
printed. The number of seeds is fixed beforehand; nothing is selected on the test split.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

from rnnkit.cli.main import main
from rnnkit.data.datasets import default_data_dir
from rnnkit.tasks.runs import RESULTS_FILE

SETTINGS = {   # the best checkpoint is the one with the highest dev accuracy; sizes chosen on dev accuracy
    "sst2": ["--embedding", "300", "--hidden", "200", "--min-count", "2", "--embedding-dropout", "0.5",
             "--epochs", "10", "--eval-every", "100", "--patience", "6", "--monitor", "val_accuracy"],
    "chnsenticorp": ["--embedding", "256", "--hidden", "128", "--max-len", "200", "--embedding-dropout", "0.5",
                     "--epochs", "10", "--eval-every", "50", "--patience", "8", "--monitor", "val_accuracy"],
}
SPLITS = ("dev", "test")


def train_seed(dataset: str, data_dir: Path, run_dir: Path, seed: int, reuse: bool) -> None:
    """Train one seed into ``run_dir`` (kept as it is when ``reuse`` and it already finished)."""
    if reuse and finished(run_dir, dataset):
        print(f"seed {seed}: reusing {run_dir}")
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    code = main(["classify", "train", "--dataset", dataset, "--data-dir", str(data_dir), "--out", str(run_dir),
                 "--seed", str(seed), *SETTINGS[dataset]])
    if code:
        raise SystemExit(code)


def finished(run_dir: Path, dataset: str) -> bool:
    path = run_dir / RESULTS_FILE
    return path.is_file() and all(f"{dataset}-{split}" in json.loads(path.read_text()) for split in SPLITS)


def score_ensemble(run_dirs: list[Path], out: Path, data_dir: Path) -> None:
    for split in SPLITS:
        code = main(["classify", "eval", *map(str, run_dirs), "--split", split, "--data-dir", str(data_dir),
                     "--out", str(out)])
        if code:
            raise SystemExit(code)


def summary(dataset: str, run_dirs: list[Path], out: Path) -> str:
    """A Markdown table: each seed, the seeds' mean and the ensemble, dev and test accuracy and F1."""
    rows = {f"seed {k}": read_scores(run_dir, dataset, "rnn") for k, run_dir in enumerate(run_dirs)}
    seeds = list(rows.values())
    rows["mean of seeds"] = {key: statistics.mean(s[key] for s in seeds) for key in seeds[0]}
    if len(run_dirs) > 1:
        rows[f"ensemble of {len(run_dirs)}"] = read_scores(out, dataset, "rnn ensemble")
    rows["bag of words"] = read_scores(run_dirs[0], dataset, "bag-of-words")
    lines = ["| model | dev acc | dev F1 | test acc | test F1 |", "|---|---:|---:|---:|---:|"]
    for name, s in rows.items():
        lines.append(f"| {name} | {s['dev accuracy']:.4f} | {s['dev f1']:.4f} | "
                     f"{s['test accuracy']:.4f} | {s['test f1']:.4f} |")
    return "\n".join(lines)


def read_scores(run_dir: Path, dataset: str, model: str) -> dict[str, float]:
    results = json.loads((run_dir / RESULTS_FILE).read_text())
    return {f"{split} {metric}": results[f"{dataset}-{split}"][model][metric]
            for split in SPLITS for metric in ("accuracy", "f1")}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(SETTINGS))
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, help="folder of the runs (default runs/sentiment-DATASET)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0 .. N-1 to train and ensemble (1)")
    parser.add_argument("--reuse", action="store_true", help="keep seeds that OUT already holds, finished")
    args = parser.parse_args()
    out = args.out or Path("runs") / f"sentiment-{args.dataset}"
    runs = [out / f"seed-{seed}" for seed in range(args.seeds)]
    for seed, run_dir in enumerate(runs):
        train_seed(args.dataset, args.data_dir, run_dir, seed, args.reuse)
    if len(runs) > 1:
        score_ensemble(runs, out, args.data_dir)
    print(summary(args.dataset, runs, out))
