"""Reproduce the sentiment numbers of issue 6: a BiLSTM with embeddings learned from scratch,
next to the bag-of-words logistic-regression baseline on the same split.

    python examples/sentiment.py sst2            SST-2, official train/dev/test split
    python examples/sentiment.py chnsenticorp    ChnSentiCorp hotel reviews, fixed stratified 80/10/10 split

Each trains with ``rnnkit classify train`` (a few minutes on one CPU core; early
stopping on dev accuracy keeps the best checkpoint), then reports dev and test
accuracy and F1 of that checkpoint and of the baseline, and writes the confusion
matrices and loss curves as PNGs into the run directory.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from rnnkit.cli.common import default_data_dir
from rnnkit.cli.main import main

SETTINGS = {   # the best checkpoint is the one with the highest dev accuracy
    "sst2": ["--embedding", "100", "--hidden", "100", "--min-count", "2", "--embedding-dropout", "0.5",
             "--epochs", "10", "--eval-every", "100", "--patience", "6", "--monitor", "val_accuracy"],
    "chnsenticorp": ["--embedding", "128", "--hidden", "128", "--max-len", "200", "--epochs", "10",
                     "--eval-every", "50", "--patience", "8", "--monitor", "val_accuracy"],
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(SETTINGS))
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, help="run directory (default runs/sentiment-DATASET)")
    args = parser.parse_args()
    run_dir = args.out or Path("runs") / f"sentiment-{args.dataset}"
    shutil.rmtree(run_dir, ignore_errors=True)
    raise SystemExit(main(["classify", "train", "--dataset", args.dataset, "--data-dir", str(args.data_dir),
                           "--out", str(run_dir), *SETTINGS[args.dataset]]))
