"""See inside character models of the Linux kernel (issue 15, parts 1, 2, 5 and 6).

    python examples/inspect_linux.py train       one-layer RNN, LSTM and GRU (same hidden size), N minutes each
    python examples/inspect_linux.py gradients   ||dE_t/dh_{t-d}|| against d, at initialisation and trained
    python examples/inspect_linux.py cell-path   the trained LSTM's dc_t/dc_{t-d} against the product of forget gates
    python examples/inspect_linux.py cells       the trained LSTM's best cell per text feature, gate saturation
    python examples/inspect_linux.py export      every state and gate over a text: LSTMVis's layout and safetensors

The models train through ``rnnkit.tasks.language_model`` on the first 90 % of
linux_kernel_6.8_input.txt; everything after reads text from the last 10 % (the part
the models never trained on). Runs go to runs/inspect-linux-CELL, pictures and tables
to --out (default runs/inspect-linux). Set OMP_NUM_THREADS=1 on a shared machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.data.corpus import CorpusSource
from rnnkit.data.datasets import default_data_dir
from rnnkit.inspect.cell_path import geometric_mean
from rnnkit.inspect.gradients import compare_gradient_distance
from rnnkit.inspect.reports import cell_path_report, cells_report, export_states
from rnnkit.models.char_lm import CharLMConfig
from rnnkit.tasks import language_model
from rnnkit.tasks.language_model import LanguageModelSpec
from rnnkit.training.config import TrainConfig

CORPUS = "linux_kernel/linux_kernel_6.8_input.txt"
CELLS = ("rnn", "lstm", "gru")


def run_dir(cell: str, hidden: int) -> Path:
    return Path("runs") / f"inspect-linux-{cell}-{hidden}"


def train(data_dir: Path, minutes: float, hidden: int, cells=CELLS) -> None:
    for cell in cells:
        spec = LanguageModelSpec(CorpusSource.from_paths([data_dir / CORPUS]),
                                 CharLMConfig(cell=cell, hidden_size=hidden, num_layers=1, embedding_dim=32),
                                 batch_size=32, seq_len=100)
        config = TrainConfig(max_minutes=minutes, epochs=1000, lr=3e-3, eval_every=250, checkpoint_every=500,
                             sample_every=0, seed=0)
        result = language_model.train(spec, config, run_dir(cell, hidden), progress=False, echo=lambda _: None)
        print(f"{cell}: {result.stop_reason} at step {result.step}, best validation loss {result.best_score:.4f} nats")


def held_out_text(data_dir: Path) -> str:
    text = (data_dir / CORPUS).read_text(encoding="utf-8")
    return text[int(0.9 * len(text)):]


def gradients(data_dir: Path, out: Path, hidden: int) -> None:
    models = {}
    for cell in CELLS:
        run = language_model.load_run(run_dir(cell, hidden))
        fresh = run.spec.build_model(rng=0)
        models[cell] = {"init": fresh, "trained": run.model}
        vocab = run.spec.vocab
    ids = vocab.encode(held_out_text(data_dir)[:200_000], unknown="skip")
    profiles = compare_gradient_distance(models, ids, out / "gradients.png", out / "gradients.csv",
                                         max_distance=100, windows=256, warmup=50, rng=0)
    for cell, stages in profiles.items():
        for stage, profile in stages.items():
            print(f"{cell:5} {stage:8} median" + "".join(f"  d={d}: {profile['median'][d]:.3g}"
                                                          for d in (0, 1, 10, 25, 50, 100)))


def cell_path(data_dir: Path, out: Path, hidden: int) -> None:
    run = language_model.load_run(run_dir("lstm", hidden))
    result = cell_path_report(run.model, run.spec.vocab, held_out_text(data_dir), out, max_distance=60, ends=32)
    for name in ("measured", "cell_path", "forget_product", "through_h"):
        means = geometric_mean(result[name])             # through_h is 0 at d = 1: h_{t-1} is held fixed
        print(f"{name:14}" + "".join(f"  d={d}: {means[d - 1]:.3g}" for d in (1, 2, 5, 10, 30, 60)))


def cells(data_dir: Path, out: Path, hidden: int, max_chars: int, offset: int) -> None:
    run = language_model.load_run(run_dir("lstm", hidden))
    report = cells_report(run.model, run.spec.vocab, held_out_text(data_dir)[offset:], out, max_chars=max_chars)
    print(json.dumps(report, indent=1))


def export(data_dir: Path, out: Path, hidden: int) -> None:
    run = language_model.load_run(run_dir("lstm", hidden))
    print(export_states(run.model, run.spec.vocab, held_out_text(data_dir), out, max_chars=20000))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["train", "gradients", "cell-path", "cells", "export"])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=Path("runs") / "inspect-linux")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per cell")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--cells", nargs="+", default=list(CELLS), help="the cells to train")
    parser.add_argument("--max-chars", type=int, default=50000, help="characters of held-out text for `cells`")
    parser.add_argument("--offset", type=int, default=50000,
                        help="where in the held-out text `cells` starts (its first 50,000 characters hold 5 strings, "
                             "the next 50,000 111)")
    args = parser.parse_args()
    if args.step == "train":
        train(args.data_dir, args.minutes, args.hidden, args.cells)
    elif args.step == "gradients":
        gradients(args.data_dir, args.out, args.hidden)
    elif args.step == "cell-path":
        cell_path(args.data_dir, args.out, args.hidden)
    elif args.step == "cells":
        cells(args.data_dir, args.out, args.hidden, args.max_chars, args.offset)
    else:
        export(args.data_dir, args.out, args.hidden)
