"""minGRU and minLSTM against rnnkit's LSTM on Tiny Shakespeare, at equal wall time (issue 17).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
        python examples/min_rnn_shakespeare.py --cells mingru minlstm lstm --minutes 10

Each cell trains the model of issue 3's Shakespeare run (2 x 384, embedding 64,
dropout 0.2, batch 64 x 100, Adam 3e-3 halved on plateau, validation every 100
updates; the last 10 % of the text validates) for the same minutes, one cell after
the other, through ``rnnkit.tasks.language_model.train``. Prints, per cell, the
updates made and the best validation loss, and draws the validation loss against
the training time (the updates' own seconds, from metrics.jsonl: validations not
counted, though they count against the budget) into ``OUT/min_rnn_shakespeare.png``.

The paper's anchors (Feng et al. 2024, table on Shakespeare, test loss): minGRU 1.548,
minLSTM 1.555, with 3 layers of 384 inside its own block (the min cell between
linear layers, with normalisation and residual connections), trained to convergence;
here the cells are stacked bare, as rnnkit's LSTM, under a fixed time budget.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rnnkit.data.corpus import CorpusSource
from rnnkit.data.datasets import default_data_dir
from rnnkit.models.char_lm import RECURRENT_LAYERS, CharLMConfig
from rnnkit.tasks import language_model
from rnnkit.training.config import TrainConfig
from rnnkit.training.metrics_log import read_metrics

BATCH, SEQ_LEN = 64, 100


def train(cell: str, corpus: Path, out: Path, minutes: float) -> dict:
    """Train one cell for ``minutes``; its validations as (training seconds, step, loss) and its updates."""
    spec = language_model.LanguageModelSpec(
        CorpusSource([str(corpus)]),
        CharLMConfig(cell=cell, hidden_size=384, num_layers=2, embedding_dim=64, dropout=0.2),
        batch_size=BATCH, seq_len=SEQ_LEN)
    config = TrainConfig(epochs=1000, max_minutes=minutes, lr=3e-3, schedule="plateau", decay=0.5, eval_every=100,
                         checkpoint_every=100_000, sample_every=0, seed=0)
    result = language_model.train(spec, config, out / cell, progress=False,
                                  echo=lambda message: print(f"[{cell}] {message}", flush=True))
    seconds, validations = 0.0, []
    for record in read_metrics(out / cell):        # one record per update (log_every 1), one per validation
        if "chars_per_s" in record:
            seconds += BATCH * SEQ_LEN / record["chars_per_s"]
        if "val_loss" in record:
            validations.append((seconds, record["step"], record["val_loss"]))
    return {"validations": validations, "steps": result.step, "best": min(v[2] for v in validations),
            "training_seconds": seconds}


def plot(results: dict[str, dict], path: Path, minutes: float) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 4.2))
    axes = figure.add_subplot()
    for cell, result in results.items():
        seconds, _, losses = zip(*result["validations"])
        axes.plot([s / 60 for s in seconds], losses, marker="o",
                  label=f"{cell}: {result['steps']} updates, best {result['best']:.3f}")
    axes.set_xlabel("training minutes (one thread; validations not counted)")
    axes.set_ylabel("validation loss (nats/char)")
    axes.set_title(f"Tiny Shakespeare, 2 x 384, {minutes:g} minutes each")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", choices=sorted(RECURRENT_LAYERS), default=["mingru", "lstm"])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per cell")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=Path("runs/min-rnn-shakespeare"))
    args = parser.parse_args()
    corpus = args.data_dir / "tiny_shakespeare" / "input.txt"
    results = {cell: train(cell, corpus, args.out, args.minutes) for cell in args.cells}
    print()
    for cell, result in results.items():
        seconds, step, loss = min(result["validations"], key=lambda v: v[2])
        print(f"{cell}: {result['steps']} updates in {args.minutes:g} minutes ({result['training_seconds'] / 60:.1f} "
              f"of them updating); best validation loss {loss:.4f} nats/char ({loss / math.log(2):.4f} bits/char) "
              f"at step {step}, after {seconds / 60:.1f} minutes of updates")
    plot(results, args.out / "min_rnn_shakespeare.png", args.minutes)
    print(f"wrote {args.out / 'min_rnn_shakespeare.png'}")
