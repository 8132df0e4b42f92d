"""``rnnkit train``: learn a character language model from text files, then print a sample."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from rnnkit.cli.options import non_negative, positive
from rnnkit.data.batches import split_train_val
from rnnkit.data.columns import read_column
from rnnkit.data.text import default_corpus, read_text
from rnnkit.data.vocab import CharVocab
from rnnkit.errors import ConfigError
from rnnkit.models.char_lm import RECURRENT_LAYERS, CharLM, CharLMConfig
from rnnkit.tasks.language_model import LanguageModelTask
from rnnkit.tasks.sampling import generate
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from rnnkit.training.loop import Trainer

# Flags that may change when resuming: how long to go on. Everything else comes from the checkpoint.
BUDGET_FLAGS = ("epochs", "max_steps", "max_minutes")
DEFAULT_BUDGET = {"epochs": 10, "max_steps": 0, "max_minutes": 0.0}
BUILT_IN_BUDGET = {"epochs": 3, "max_steps": 0, "max_minutes": 0.0}   # a first run finishes in minutes


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "train", help="train a character language model", description=__doc__,
        epilog="Without TEXT_FILE, trains on rnnkit's own Python source (a code imitator) for 3 epochs.")
    parser.add_argument("files", nargs="*", metavar="TEXT_FILE", help="UTF-8 text to learn (several are joined)")
    data = parser.add_argument_group("data")
    data.add_argument("--encoding", default="utf-8", help="text encoding of the files (default utf-8)")
    data.add_argument("--column", help="read this column of tab-separated files with a header "
                                       "(e.g. --column poem for tang_poems.tsv)")
    data.add_argument("--val-fraction", type=float, default=0.1, help="last part held out for validation (0.1)")
    data.add_argument("--seq-len", type=positive(int), default=100, help="characters per BPTT window (100)")
    data.add_argument("--batch", type=positive(int), default=32, help="parallel lanes per batch (32)")
    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=sorted(RECURRENT_LAYERS), default="lstm", help="recurrent cell (lstm)")
    model.add_argument("--layers", type=positive(int), default=2, help="stacked layers (2)")
    model.add_argument("--hidden", type=positive(int), default=256, help="hidden units per layer (256)")
    model.add_argument("--embedding", type=non_negative(int), default=64,
                       help="embedding size; 0 feeds one-hot characters (64)")
    model.add_argument("--dropout", type=float, default=0.0, help="dropout between layers and before the output (0)")
    model.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    learning = parser.add_argument_group("learning")
    learning.add_argument("--epochs", type=positive(int), help="passes over the text (10; 3 on the built-in corpus)")
    learning.add_argument("--max-steps", type=non_negative(int), help="stop after this many updates (0: no limit)")
    learning.add_argument("--max-minutes", type=non_negative(float), help="stop after this much time (0: no limit)")
    learning.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="(adam)")
    learning.add_argument("--lr", type=positive(float), default=2e-3, help="learning rate (2e-3)")
    learning.add_argument("--momentum", type=non_negative(float), default=0.0, help="sgd/rmsprop momentum (0)")
    learning.add_argument("--weight-decay", type=non_negative(float), default=0.0)
    learning.add_argument("--clip-norm", type=non_negative(float), default=5.0,
                          help="largest global gradient norm, 0 for none (5)")
    learning.add_argument("--clip-value", type=non_negative(float), default=0.0,
                          help="largest gradient entry, 0 for none (0)")
    learning.add_argument("--schedule", choices=SCHEDULES, default="none",
                          help="learning-rate schedule; char-rnn: x0.97 per epoch after epoch 10 (none)")
    learning.add_argument("--patience", type=non_negative(int), default=0,
                          help="stop after this many validations without improvement, 0 never (0)")
    learning.add_argument("--on-nan", choices=("stop", "reduce-lr"), default="stop",
                          help="on a NaN loss: stop, or go back to the last checkpoint with half the lr")
    learning.add_argument("--seed", type=int, default=0)
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=Path, help="run directory (default runs/NAME-DATE-TIME)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR exactly")
    run.add_argument("--eval-every", type=positive(int), default=200, help="updates between validations (200)")
    run.add_argument("--sample-every", type=non_negative(int), default=1000,
                     help="updates between printed samples, 0 never (1000)")
    run.add_argument("--checkpoint-every", type=positive(int), default=500, help="updates between checkpoints (500)")
    run.add_argument("--sample-length", type=non_negative(int), default=500, help="characters of the final sample")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    if args.resume:
        trainer, vocab = resume_trainer(args)
    else:
        trainer, vocab = new_trainer(args)
    print(f"run directory: {trainer.run_dir}", file=sys.stderr)
    result = trainer.fit()
    print(f"stopped ({result['stop_reason']}) at step {result['step']}; "
          f"best validation loss {result['best_val_loss']:.4f} nats/char", file=sys.stderr)
    if args.sample_length:
        print_sample(trainer.model, vocab, args.sample_length, args.seed)
    return 0


def read_corpus(corpus: dict) -> str:
    """The training text that ``corpus`` (files, encoding, column) describes."""
    if not corpus["files"]:
        return default_corpus()
    if corpus["column"]:
        return "".join(read_column(path, corpus["column"], corpus["encoding"]) for path in corpus["files"])
    return read_text(corpus["files"], corpus["encoding"])


def new_trainer(args) -> tuple[Trainer, CharVocab]:
    corpus = {"files": [str(Path(f).resolve()) for f in args.files], "encoding": args.encoding,
              "column": args.column, "val_fraction": args.val_fraction}
    text = read_corpus(corpus)
    corpus["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    vocab = CharVocab(text)
    model_config = CharLMConfig(vocab_size=len(vocab), cell=args.cell, hidden_size=args.hidden,
                                num_layers=args.layers, embedding_dim=args.embedding, dropout=args.dropout)
    budget = BUILT_IN_BUDGET if not args.files else DEFAULT_BUDGET
    train_config = TrainConfig(
        **{flag: getattr(args, flag) if getattr(args, flag) is not None else budget[flag] for flag in BUDGET_FLAGS},
        optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
        clip_norm=args.clip_norm, clip_value=args.clip_value, schedule=args.schedule, eval_every=args.eval_every,
        sample_every=args.sample_every, checkpoint_every=args.checkpoint_every, patience=args.patience,
        on_nan=args.on_nan, seed=args.seed)
    run_dir = args.out or default_run_dir(args.files)
    if (run_dir / "checkpoints").exists():
        raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                          "or pick another --out")
    meta = {"task": "char-lm", "model_config": model_config.to_json(), "vocab": vocab.to_json(),
            "corpus": corpus, "batch_size": args.batch, "seq_len": args.seq_len, "dtype": args.dtype}
    model = CharLM(model_config, dtype=args.dtype, rng=args.seed)
    return build_trainer(model, vocab, text, meta, train_config, run_dir, args), vocab


def resume_trainer(args) -> tuple[Trainer, CharVocab]:
    _, meta = load_checkpoint(args.resume)
    if meta.get("task") != "char-lm":
        raise ConfigError(f"{args.resume} is not a character-model run (task {meta.get('task')!r})")
    corpus = meta["corpus"]
    text = read_corpus(corpus)
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != corpus["sha256"]:
        raise ConfigError(f"the corpus {corpus['files'] or '(built-in)'} changed since the run started: "
                          "resume needs the same text")
    vocab = CharVocab.from_json(meta["vocab"])
    saved = meta["train_config"]
    for flag in BUDGET_FLAGS:
        if getattr(args, flag) is not None:
            saved[flag] = getattr(args, flag)
    model = CharLM(CharLMConfig.from_json(meta["model_config"]), dtype=meta["dtype"])
    trainer = build_trainer(model, vocab, text, meta, TrainConfig(**saved), args.resume, args)
    trainer.restore()
    print(f"resuming at step {trainer.step}", file=sys.stderr)
    return trainer, vocab


def build_trainer(model, vocab, text, meta, train_config, run_dir, args) -> Trainer:
    train_ids, val_ids = split_train_val(vocab.encode(text), meta["corpus"]["val_fraction"])
    task = LanguageModelTask(model, vocab, train_ids, val_ids, meta["batch_size"], meta["seq_len"])
    return Trainer(task, train_config, run_dir, meta, progress=not args.no_progress)


def default_run_dir(files: list[str]) -> Path:
    name = Path(files[0]).stem if files else "rnnkit-source"
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def print_sample(model, vocab, length: int, seed: int) -> None:
    print(f"--- sample ({length} characters, temperature 0.8) ---", file=sys.stderr)
    for character in generate(model, vocab, length, temperature=0.8, rng=np.random.default_rng(seed)):
        sys.stdout.write(character)
        sys.stdout.flush()
    sys.stdout.write("\n")
