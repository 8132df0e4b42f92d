"""Reproduce the character-model numbers of issue 3, one command per corpus.

    python examples/char_models.py shakespeare     2 x 384 LSTM, 30 minutes on Tiny Shakespeare
    python examples/char_models.py shakespeare-weight-drop   the same with issue 17's best settings (1.4176)
    python examples/char_models.py min-char-rnn    min-char-rnn's model and optimizer, same text, same 30 minutes
    python examples/char_models.py tang            2 x 256 LSTM on the Tang poems, then ten poems
    python examples/char_models.py linux           2 x 384 LSTM on the Linux kernel sample

Each runs ``rnnkit train`` (90/10 split: the last 10 % of the text validates),
prints the best validation loss in nats and bits per character and a sample,
and draws the loss curves (RUN_DIR/loss.png). ``--minutes`` changes the budget.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rnnkit.cli.main import main
from rnnkit.data.datasets import default_data_dir
from rnnkit.training.metrics_log import read_metrics

LSTM_384 = ["--cell", "lstm", "--layers", "2", "--hidden", "384", "--embedding", "64", "--dropout", "0.2",
            "--batch", "64", "--seq-len", "100", "--lr", "3e-3", "--schedule", "plateau", "--decay", "0.5",
            "--eval-every", "150", "--checkpoint-every", "300", "--sample-every", "1000"]
# min-char-rnn: one layer of 100 tanh units on one-hot characters, 25-step windows of one lane,
# Adagrad with learning rate 0.1 and gradients clipped to [-5, 5].
MIN_CHAR_RNN = ["--cell", "rnn", "--layers", "1", "--hidden", "100", "--embedding", "0", "--batch", "1",
                "--seq-len", "25", "--optimizer", "adagrad", "--lr", "0.1", "--clip-value", "5", "--clip-norm", "0",
                "--eval-every", "20000", "--checkpoint-every", "20000", "--sample-every", "0", "--log-every", "1000"]
# issue 17's best 30 minutes: the same model, batch 32, DropConnect 0.15 on W_hh, the rate x 0.85 an epoch from the 8th
LSTM_384_WEIGHT_DROP = ["--cell", "lstm", "--layers", "2", "--hidden", "384", "--embedding", "64", "--dropout", "0.2",
                        "--weight-dropout", "0.15", "--batch", "32", "--seq-len", "100", "--lr", "2e-3",
                        "--schedule", "char-rnn", "--decay", "0.85", "--decay-after", "8", "--eval-every", "300",
                        "--checkpoint-every", "600", "--sample-every", "0"]
TANG = ["--column", "poem", "--cell", "lstm", "--layers", "2", "--hidden", "256", "--embedding", "128",
        "--dropout", "0.1", "--batch", "32", "--seq-len", "64", "--lr", "3e-3", "--eval-every", "100",
        "--checkpoint-every", "200", "--sample-every", "0"]

RUNS = {   # name: (corpus inside the data folder, flags, default minutes)
    "shakespeare": ("tiny_shakespeare/input.txt", LSTM_384, 30),
    "shakespeare-weight-drop": ("tiny_shakespeare/input.txt", LSTM_384_WEIGHT_DROP, 30),
    "min-char-rnn": ("tiny_shakespeare/input.txt", MIN_CHAR_RNN, 30),
    "tang": ("tang_poems/tang_poems.tsv", TANG, 20),
    "linux": ("linux_kernel/linux_kernel_6.8_input.txt", LSTM_384, 15),
}
ACROSTICS = ("春夏秋冬", "風花雪月", "山高水長", "明月清風", "天地人和")


def train(name: str, data_dir: Path, out: Path, minutes: float) -> None:
    corpus, flags, _ = RUNS[name]
    code = main(["train", str(data_dir / corpus), *flags, "--max-minutes", str(minutes), "--epochs", "1000",
                 "--out", str(out), "--no-progress", "--sample-length", "0" if name == "tang" else "600"])
    if code:
        raise SystemExit(code)
    validations = [r for r in read_metrics(out) if "val_loss" in r]
    best = min(validations, key=lambda r: r["val_loss"])
    print(f"\n{name}: best validation loss {best['val_loss']:.4f} nats/char = "
          f"{best['val_loss'] / math.log(2):.4f} bits/char at step {best['step']} "
          f"({len(validations)} validations in {minutes:g} minutes)")
    main(["plot", str(out)])


def poems(out: Path) -> None:
    """Five 5-character quatrains and five acrostic 7-character quatrains from the best checkpoint."""
    for seed in range(5):
        main(["sample", str(out), "--poem", "5", "--seed", str(seed), "--temperature", "0.8"])
        print()
    for seed, acrostic in enumerate(ACROSTICS):
        main(["sample", str(out), "--poem", "7", "--acrostic", acrostic, "--seed", str(seed), "--temperature", "0.8"])
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", choices=sorted(RUNS))
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, help="run directory (default runs/examples-NAME)")
    parser.add_argument("--minutes", type=float, help="training budget (default per corpus)")
    args = parser.parse_args()
    out = args.out or Path("runs") / f"examples-{args.run}"
    train(args.run, args.data_dir, out, args.minutes or RUNS[args.run][2])
    if args.run == "tang":
        poems(out)
