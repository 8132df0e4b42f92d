"""``rnnkit train``: learn a character language model from text files, then print a sample."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import shutil
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from rnnkit.cli.common import stop_summary
from rnnkit.cli.options import fraction, non_negative, positive
from rnnkit.data.batches import split_train_val
from rnnkit.data.columns import read_column
from rnnkit.data.text import DEFAULT_CHUNK_BYTES, default_corpus, iter_text_chunks
from rnnkit.data.vocab import CharVocab, build_vocab_from_chunks, encode_chunks
from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError
from rnnkit.models.char_lm import RECURRENT_LAYERS, CharLM, CharLMConfig
from rnnkit.tasks.language_model import LanguageModelTask, model_from_checkpoint
from rnnkit.tasks.sampling import generate
from rnnkit.training.checkpoint import load_checkpoint, prepare_run_dir
from rnnkit.training.config import OPTIMIZERS, SCHEDULES, TrainConfig
from rnnkit.training.loop import Trainer

# Flags that may change when resuming: how long to go on, and how carefully (after a divergence).
# They default to None, so a resumed run keeps its saved values unless they are given again.
# Every other option comes from the checkpoint; giving one with --resume is an error.
RESUME_FLAGS = ("epochs", "max_steps", "max_minutes", "lr", "clip_norm", "on_nan")
NEW_RUN_DEFAULTS = {"epochs": 10, "max_steps": 0, "max_minutes": 0.0, "lr": 2e-3, "clip_norm": 5.0,
                    "on_nan": "stop"}
BUILT_IN_DEFAULTS = dict(NEW_RUN_DEFAULTS, epochs=3)     # a first run on rnnkit's source finishes in minutes
OUTPUT_FLAGS = ("resume", "no_progress", "sample_length")  # shape only this invocation's output

CORPUS_CHUNK_BYTES = DEFAULT_CHUNK_BYTES   # bytes of a corpus file decoded at a time
MEMMAP_MIN_BYTES = 256 << 20               # ids at least this large live in RUN_DIR/IDS_FILE, not in memory
IDS_FILE = "corpus-ids.bin"


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "train", help="train a character language model", description=__doc__,
        epilog="Without TEXT_FILE, trains on rnnkit's own Python source (a code imitator) for 3 epochs.")
    parser.add_argument("files", nargs="*", metavar="TEXT_FILE", help="UTF-8 text to learn (several are joined)")
    data = parser.add_argument_group("data")
    data.add_argument("--encoding", default="utf-8", help="text encoding of the files (default utf-8)")
    data.add_argument("--column", help="read this column of tab-separated files with a header "
                                       "(e.g. --column poem for tang_poems.tsv)")
    data.add_argument("--val-fraction", type=fraction, default=0.1, help="last part held out for validation (0.1)")
    data.add_argument("--seq-len", type=positive(int), default=100, help="characters per BPTT window (100)")
    data.add_argument("--batch", type=positive(int), default=32, help="parallel lanes per batch (32)")
    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=sorted(RECURRENT_LAYERS), default="lstm", help="recurrent cell (lstm)")
    model.add_argument("--layers", type=positive(int), default=2, help="stacked layers (2)")
    model.add_argument("--hidden", type=positive(int), default=256, help="hidden units per layer (256)")
    model.add_argument("--embedding", type=non_negative(int), default=64,
                       help="embedding size; 0 feeds one-hot characters (64)")
    model.add_argument("--dropout", type=fraction, default=0.0, help="dropout between layers and before the output (0)")
    model.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    learning = parser.add_argument_group("learning")
    learning.add_argument("--epochs", type=positive(int), help="passes over the text (10; 3 on the built-in corpus)")
    learning.add_argument("--max-steps", type=non_negative(int), help="stop after this many updates (0: no limit)")
    learning.add_argument("--max-minutes", type=non_negative(float), help="stop after this much time (0: no limit)")
    learning.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="(adam)")
    learning.add_argument("--lr", type=positive(float), help="learning rate (2e-3)")
    learning.add_argument("--momentum", type=non_negative(float), default=0.0, help="sgd/rmsprop momentum (0)")
    learning.add_argument("--weight-decay", type=non_negative(float), default=0.0)
    learning.add_argument("--clip-norm", type=non_negative(float),
                          help="largest global gradient norm, 0 for none (5)")
    learning.add_argument("--clip-value", type=non_negative(float), default=0.0,
                          help="largest gradient entry, 0 for none (0)")
    learning.add_argument("--schedule", choices=SCHEDULES, default="none",
                          help="learning-rate schedule; char-rnn: x0.97 per epoch after epoch 10 (none)")
    learning.add_argument("--decay", type=positive(float), default=0.97,
                          help="factor of the step, char-rnn and plateau schedules (0.97)")
    learning.add_argument("--decay-after", type=positive(int), default=10,
                          help="char-rnn: first epoch to decay; step: decay every this many epochs (10)")
    learning.add_argument("--patience", type=non_negative(int), default=0,
                          help="stop after this many validations without improvement, 0 never (0)")
    learning.add_argument("--on-nan", choices=("stop", "reduce-lr"),
                          help="on a NaN or inf loss: stop, or go back to the last checkpoint with half the lr "
                               "(stop)")
    learning.add_argument("--seed", type=int, default=0)
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=Path, help="run directory (default runs/NAME-DATE-TIME)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue the run in RUN_DIR exactly; only --epochs, --max-steps, --max-minutes, "
                          "--lr, --clip-norm and --on-nan may change")
    run.add_argument("--eval-every", type=positive(int), default=200, help="updates between validations (200)")
    run.add_argument("--sample-every", type=non_negative(int), default=1000,
                     help="updates between printed samples, 0 never (1000)")
    run.add_argument("--checkpoint-every", type=positive(int), default=500, help="updates between checkpoints (500)")
    run.add_argument("--log-every", type=positive(int), default=1,
                     help="updates averaged into one line of metrics.jsonl (1)")
    run.add_argument("--sample-length", type=non_negative(int), default=500, help="characters of the final sample")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_train, defaults=vars(parser.parse_args([])))


def run_train(args: argparse.Namespace) -> int:
    if args.resume:
        trainer, vocab = resume_trainer(args)
    else:
        trainer, vocab = new_trainer(args)
    print(f"run directory: {trainer.run_dir}", file=sys.stderr)
    result = trainer.fit()
    print(stop_summary(result, " nats/char"), file=sys.stderr)
    if args.sample_length:
        print_sample(trainer.model, vocab, args.sample_length, trainer.config.seed)
    return 0


# -- the corpus, streamed: never held as one string --------------------------------------


def corpus_chunks(corpus: dict) -> Iterator[str]:
    """The training text that ``corpus`` (files, encoding, column) describes, a chunk at a time."""
    if not corpus["files"]:
        yield default_corpus()
    elif corpus["column"]:
        for path in corpus["files"]:
            yield read_column(path, corpus["column"], corpus["encoding"])
    else:
        for path in corpus["files"]:
            yield from iter_text_chunks(path, corpus["encoding"], CORPUS_CHUNK_BYTES)


def scan_corpus(corpus: dict) -> tuple[CharVocab, int, str]:
    """One pass over the text: its vocabulary, its length in characters, and the SHA-256 of its UTF-8."""
    digest = hashlib.sha256()
    where = ", ".join(corpus["files"]) or "the built-in corpus"
    vocab, length = build_vocab_from_chunks(_hashed(corpus_chunks(corpus), digest), where)
    return vocab, length, digest.hexdigest()


def _hashed(chunks: Iterable[str], digest) -> Iterator[str]:
    """``chunks`` unchanged, each added to ``digest`` on its way through."""
    for chunk in chunks:
        digest.update(chunk.encode("utf-8"))
        yield chunk


def encode_corpus(corpus: dict, vocab: CharVocab, length: int, run_dir: Path) -> np.ndarray:
    """The text's ids, encoded chunk by chunk into memory, or into a memory map in ``run_dir`` when large."""
    if length * vocab.dtype.itemsize >= MEMMAP_MIN_BYTES:
        out = np.memmap(run_dir / IDS_FILE, dtype=vocab.dtype, mode="w+", shape=(length,))
    else:
        out = np.empty(length, vocab.dtype)
    ids = encode_chunks(vocab, corpus_chunks(corpus), out)
    if len(ids) != length:
        raise DataError(f"the corpus {corpus['files']} changed while it was read: train again on a stable copy")
    return ids


# -- new runs and resumed ones --------------------------------------------------------------


def new_trainer(args) -> tuple[Trainer, CharVocab]:
    corpus = {"files": [str(Path(f).resolve()) for f in args.files], "encoding": args.encoding,
              "column": args.column, "val_fraction": args.val_fraction}
    defaults = NEW_RUN_DEFAULTS if args.files else BUILT_IN_DEFAULTS
    given = {flag: getattr(args, flag) if getattr(args, flag) is not None else defaults[flag]
             for flag in RESUME_FLAGS}
    train_config = TrainConfig(
        **given, optimizer=args.optimizer, momentum=args.momentum, weight_decay=args.weight_decay,
        clip_value=args.clip_value, schedule=args.schedule, decay=args.decay, decay_after=args.decay_after,
        eval_every=args.eval_every, log_every=args.log_every,
        sample_every=args.sample_every, checkpoint_every=args.checkpoint_every, patience=args.patience,
        seed=args.seed)
    run_dir = args.out or default_run_dir(args.files)
    if (run_dir / "checkpoints").exists():
        raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                          "or pick another --out")
    with _removed_on_failure(run_dir):
        vocab, length, corpus["sha256"] = scan_corpus(corpus)
        model_config = CharLMConfig(vocab_size=len(vocab), cell=args.cell, hidden_size=args.hidden,
                                    num_layers=args.layers, embedding_dim=args.embedding, dropout=args.dropout)
        meta = {"task": "char-lm", "model_config": model_config.to_json(), "vocab": vocab.to_json(),
                "corpus": corpus, "batch_size": args.batch, "seq_len": args.seq_len, "dtype": args.dtype}
        ids = encode_corpus(corpus, vocab, length, run_dir)
        model = CharLM(model_config, dtype=args.dtype, rng=args.seed)
        return build_trainer(model, vocab, ids, meta, train_config, run_dir, args), vocab


@contextlib.contextmanager
def _removed_on_failure(run_dir: Path):
    """Check that ``run_dir`` is writable (before reading a large corpus); delete it again if setup fails."""
    existed = run_dir.exists()
    prepare_run_dir(run_dir)
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def resume_trainer(args) -> tuple[Trainer, CharVocab]:
    check_resume_options(args)
    tensors, meta = load_checkpoint(args.resume)
    model, vocab = model_from_checkpoint(tensors, meta, args.resume)
    try:
        corpus, saved = meta["corpus"], dict(meta["train_config"])
        for flag in RESUME_FLAGS:
            if getattr(args, flag) is not None:
                saved[flag] = getattr(args, flag)
        train_config = TrainConfig(**saved)
        _, length, sha256 = scan_corpus(corpus)
        if sha256 != corpus["sha256"]:
            raise ConfigError(f"the corpus {corpus['files'] or '(built-in)'} changed since the run started: "
                              "resume needs the same text")
        ids = encode_corpus(corpus, vocab, length, args.resume)
        trainer = build_trainer(model, vocab, ids, meta, train_config, args.resume, args)
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, RnnkitError):
            raise
        raise CheckpointError(f"{args.resume}: the checkpoint's run description is damaged ({error!r}); "
                              "resume from an intact copy or train again") from None
    trainer.restore()
    if args.lr is not None:
        trainer.optimizer.lr = args.lr
    print(f"resuming at step {trainer.step}", file=sys.stderr)
    return trainer, vocab


def check_resume_options(args) -> None:
    """--resume takes the corpus and options from the run; refuse flags that would be silently ignored."""
    changeable = RESUME_FLAGS + OUTPUT_FLAGS
    given = [name for name, default in args.defaults.items()
             if name not in changeable and getattr(args, name) != default]
    if given:
        shown = ", ".join("TEXT_FILE" if name == "files" else "--" + name.replace("_", "-") for name in given)
        raise ConfigError(f"--resume continues {args.resume} with its own corpus and options, but {shown} "
                          f"{'was' if len(given) == 1 else 'were'} given too: drop {'it' if len(given) == 1 else 'them'} (only --epochs, --max-steps, --max-minutes, --lr, "
                          "--clip-norm and --on-nan may change), or start a new run with --out")


def build_trainer(model, vocab, ids, meta, train_config, run_dir, args) -> Trainer:
    train_ids, val_ids = split_train_val(ids, meta["corpus"]["val_fraction"])
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
