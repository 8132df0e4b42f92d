"""``rnnkit train``: learn a character language model from text files, then print a sample."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rnnkit.cli import flags
from rnnkit.cli.flags import field_default, fraction, option, positive
from rnnkit.data.corpus import CorpusSource
from rnnkit.models.char_lm import RECURRENT_LAYERS, CharLMConfig
from rnnkit.tasks import language_model
from rnnkit.tasks.language_model import LanguageModelSpec
from rnnkit.tasks.runs import default_run_dir

SAMPLE_LENGTH = 500


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "train", help="train a character language model", description=__doc__,
        epilog=f"Without TEXT_FILE, trains on rnnkit's own Python source (a code imitator) for "
               f"{language_model.BUILT_IN_EPOCHS} epochs.")
    parser.add_argument("files", nargs="*", metavar="TEXT_FILE",
                        help="UTF-8 text to learn (several are joined); with --resume: the run's corpus, moved here")
    spec = LanguageModelSpec
    data = parser.add_argument_group("data")
    option(data, "--encoding", "encoding", field_default(CorpusSource, "encoding"), "text encoding of the files")
    option(data, "--column", "column", field_default(CorpusSource, "column"),
           "read this column of tab-separated files with a header (e.g. --column poem for tang_poems.tsv)")
    option(data, "--val-fraction", "val_fraction", field_default(spec, "val_fraction"),
           "last part of the text held out for validation", type=fraction)
    option(data, "--seq-len", "seq_len", field_default(spec, "seq_len"), "characters per BPTT window",
           type=positive(int))
    option(data, "--batch", "batch_size", field_default(spec, "batch_size"), "parallel lanes per batch",
           type=positive(int))
    group = parser.add_argument_group("model")
    option(group, "--cell", "cell", field_default(spec, "model.cell"), "recurrent cell", choices=sorted(RECURRENT_LAYERS))
    option(group, "--layers", "num_layers", field_default(spec, "model.num_layers"), "stacked layers", type=positive(int))
    option(group, "--hidden", "hidden_size", field_default(spec, "model.hidden_size"), "hidden units per layer",
           type=positive(int))
    option(group, "--embedding", "embedding_dim", field_default(spec, "model.embedding_dim"),
           "embedding size; 0 feeds one-hot characters", type=flags.non_negative(int))
    option(group, "--dropout", "dropout", field_default(spec, "model.dropout"),
           "dropout between layers and before the output", type=fraction)
    option(group, "--dtype", "dtype", field_default(spec, "dtype"), "floating-point type",
           choices=language_model.DTYPES)
    flags.add_learning_flags(parser, defaults={})
    parser.add_argument("--sample-length", type=flags.non_negative(int), default=SAMPLE_LENGTH,
                        help=flags.with_default("characters of the final sample", SAMPLE_LENGTH))
    flags.finish(parser, run_train)


def run_train(args: argparse.Namespace) -> int:
    if args.resume:
        flags.check_resume_flags(args, allowed=("files",))
        result = language_model.resume(args.resume, flags.resume_changes(args), files=args.files or None,
                                       progress=not args.no_progress, echo=status)
    else:
        corpus = CorpusSource.from_paths(args.files, args.encoding, args.column)
        model = CharLMConfig(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                             embedding_dim=args.embedding_dim, dropout=args.dropout)
        spec = LanguageModelSpec(corpus, model, args.val_fraction, args.batch_size, args.seq_len, args.dtype)
        args.train_defaults = {"epochs": language_model.default_epochs(corpus)}
        run_dir = args.run_dir or default_run_dir(Path(args.files[0]).stem if args.files else "rnnkit-source")
        result = language_model.train(spec, flags.train_config(args), run_dir, progress=not args.no_progress,
                                      echo=status)
    status(flags.stop_summary(result, " nats/char"))
    if result.stop_reason == "interrupted":
        return flags.INTERRUPTED
    if args.sample_length:
        print_sample(result.run_dir, args.sample_length)
    return 0


def status(message: str) -> None:
    print(message, file=sys.stderr)


def print_sample(run_dir: Path, length: int) -> None:
    """The last checkpoint's model writes ``length`` characters (seeded by the run's seed)."""
    run = language_model.load_run(run_dir, "last")
    status(f"--- sample ({length} characters, temperature {language_model.SAMPLE_TEMPERATURE}) "
           f"from {run.source} ---")
    rng = np.random.default_rng(run.config.seed)
    for character in language_model.sample(run, length, temperature=language_model.SAMPLE_TEMPERATURE, rng=rng):
        sys.stdout.write(character)
        sys.stdout.flush()
    sys.stdout.write("\n")
