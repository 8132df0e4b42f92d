"""``rnnkit train``: learn a language model of characters or words from text files, then print a sample.

    rnnkit train input.txt                              characters of your text (the last 10 % validates)
    rnnkit train story.txt --tokens words               whitespace words, <eos> at line ends
    rnnkit train train.txt --valid-file valid.txt --test-file test.txt --tokens words
    rnnkit train --dataset ptb                          Penn Treebank words, its official train/valid/test

A run with a test text ends by scoring its best checkpoint on the validation and test
texts, every token (perplexity for words), as `rnnkit eval RUN_DIR` does.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from rnnkit.cli import flags
from rnnkit.cli.evaluate import UNIT_NAMES, print_scores
from rnnkit.cli.flags import field_default, fraction, option, positive, switch
from rnnkit.data.corpus import TOKENS, CorpusSource
from rnnkit.data.datasets import CORPUS_DATASETS, corpus_dataset, default_data_dir
from rnnkit.errors import ConfigError
from rnnkit.models.char_lm import RECURRENT_LAYERS, CharLMConfig
from rnnkit.tasks import language_model
from rnnkit.tasks.language_model import LanguageModelSpec
from rnnkit.tasks.runs import default_run_dir
from rnnkit.training.progress import DelayedProgress

SAMPLE_LENGTH = 500
REGULARISERS = (  # (flag, CharLMConfig field, help): the layer options of issue 17, each a probability
    ("--input-dropout", "input_dropout", "variational dropout on the embeddings entering the stack"),
    ("--locked-dropout", "locked_dropout", "variational dropout between layers, instead of --dropout's there"),
    ("--output-dropout", "output_dropout", "variational dropout on the stack's output"),
    ("--recurrent-dropout", "recurrent_dropout", "variational dropout on h_{t-1} where W_hh reads it"),
    ("--weight-dropout", "weight_dropout", "DropConnect on W_hh, one mask per batch (AWD-LSTM's weight drop)"),
    ("--zoneout-h", "zoneout_h", "zoneout of h (Krueger et al. 2016)"),
    ("--zoneout-c", "zoneout_c", "zoneout of the LSTM's c"),
    ("--embedding-dropout", "embedding_dropout", "drop whole tokens of the embedding, one mask per batch"),
)


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "train", help="train a language model of characters or words", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Without TEXT_FILE or --dataset, trains on rnnkit's own Python source (a code imitator) for "
               f"{language_model.BUILT_IN_EPOCHS} epochs.")
    parser.add_argument("files", nargs="*", metavar="TEXT_FILE",
                        help="UTF-8 text to learn (several are joined); with --resume: the run's corpus, moved here")
    spec = LanguageModelSpec
    data = parser.add_argument_group("data")
    option(data, "--tokens", "tokens", None, f"what the model reads and writes: chars, or words (whitespace-"
           f"separated, <eos> at line ends) (default: {field_default(spec, 'tokens')}; the dataset's with "
           "--dataset)", choices=TOKENS)
    option(data, "--max-vocab", "max_vocab", None, "words: keep the N most frequent (<unk> included) and read the "
           "others as <unk> (default: every word)", type=positive(int), metavar="N")
    option(data, "--dataset", "dataset", None, "a built-in corpus instead of TEXT_FILE (ptb: Penn Treebank words, "
           "official train/valid/test)", choices=sorted(CORPUS_DATASETS))
    data.add_argument("--data-dir", type=Path, dest="data_dir",
                      help="folder of the built-in datasets (default: $RNNKIT_DATA or ../shared/data); with "
                           "--resume: where the run's dataset is now")
    data.add_argument("--valid-file", dest="valid_files", metavar="FILE",
                      help="a validation text of its own, instead of the end of TEXT_FILE; with --resume: the run's, "
                           "moved here")
    data.add_argument("--test-file", dest="test_files", metavar="FILE",
                      help="a test text, scored at the end; with --resume: the run's, moved here")
    option(data, "--encoding", "encoding", field_default(CorpusSource, "encoding"), "text encoding of the files")
    option(data, "--column", "column", field_default(CorpusSource, "column"),
           "read this column of tab-separated files with a header (e.g. --column poem for tang_poems.tsv)")
    data.add_argument("--val-fraction", dest="val_fraction", type=fraction, metavar="VAL_FRACTION",
                      help=f"last part of the text held out for validation (default: "
                           f"{field_default(spec, 'val_fraction'):g}; none with --valid-file or --dataset)")
    option(data, "--seq-len", "seq_len", field_default(spec, "seq_len"), "tokens per BPTT window",
           type=positive(int))
    option(data, "--batch", "batch_size", field_default(spec, "batch_size"), "parallel lanes per batch",
           type=positive(int))
    group = parser.add_argument_group("model")
    option(group, "--cell", "cell", field_default(spec, "model.cell"), "recurrent cell", choices=sorted(RECURRENT_LAYERS))
    option(group, "--layers", "num_layers", field_default(spec, "model.num_layers"), "stacked layers", type=positive(int))
    option(group, "--hidden", "hidden_size", field_default(spec, "model.hidden_size"), "hidden units per layer",
           type=positive(int))
    option(group, "--embedding", "embedding_dim", field_default(spec, "model.embedding_dim"),
           "embedding size; 0 feeds one-hot tokens", type=flags.non_negative(int))
    option(group, "--dropout", "dropout", field_default(spec, "model.dropout"),
           "dropout between layers and before the output", type=fraction)
    switch(group, "--layer-norm", "layer_norm", field_default(spec, "model.layer_norm"),
           "layer-normalised LSTM or GRU cells (Ba et al. 2016)")
    for flag, name, help in REGULARISERS:
        option(group, flag, name, field_default(spec, f"model.{name}"), help, type=fraction)
    switch(group, "--tie-weights", "tie_weights", field_default(spec, "model.tie_weights"),
           "output layer weight = the embedding (Press & Wolf 2017; needs --embedding = --hidden)")
    option(group, "--init-range", "init_range", field_default(spec, "model.init_range"),
           "draw every parameter from U(-r, r) (0: each layer's own initialisation)", type=flags.non_negative(float))
    option(group, "--dtype", "dtype", field_default(spec, "dtype"), "floating-point type",
           choices=language_model.DTYPES)
    flags.add_learning_flags(parser, defaults={})
    parser.add_argument("--sample-length", type=flags.non_negative(int), default=SAMPLE_LENGTH,
                        help=flags.with_default("tokens (characters or words) of the final sample", SAMPLE_LENGTH))
    flags.finish(parser, run_train)


def run_train(args: argparse.Namespace) -> int:
    if args.resume:
        flags.check_resume_flags(args, allowed=("files", "valid_files", "test_files", "data_dir"))
        result = language_model.resume(args.resume, flags.resume_changes(args), files=args.files or None,
                                       progress=not args.no_progress, echo=status,
                                       valid_files=listed(args.valid_files), test_files=listed(args.test_files),
                                       data_dir=args.data_dir)
    else:
        spec = new_spec(args)
        args.train_defaults = {"epochs": language_model.default_epochs(spec.corpus)}
        result = language_model.train(spec, flags.train_config(args), args.run_dir or default_run_dir(spec.name),
                                      progress=not args.no_progress, echo=status)
    last = language_model.load_run(result.run_dir, "last") if result.step else None     # step 0: none saved
    status(stop_summary(result, last.spec.vocab.unit if last else "char"))
    if result.stop_reason == "interrupted" or last is None:
        return flags.INTERRUPTED if result.stop_reason == "interrupted" else 0
    if last.spec.test is not None:
        moved = (args.data_dir, listed(args.valid_files), listed(args.test_files)) if args.resume else (None,) * 3
        evaluate_best(result.run_dir, *moved)
    if args.sample_length:
        print_sample(last, args.sample_length)
    return 0


def listed(path: str | None) -> list[str] | None:
    return [path] if path else None


def new_spec(args) -> LanguageModelSpec:
    """The spec of a new run: the files (or the built-in corpus), their tokens, and the model's flags."""
    model = CharLMConfig(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                         embedding_dim=args.embedding_dim, dropout=args.dropout, layer_norm=args.layer_norm,
                         **{name: getattr(args, name) for _, name, _ in REGULARISERS},
                         tie_weights=args.tie_weights, init_range=args.init_range)
    options = {"model": model, "batch_size": args.batch_size, "seq_len": args.seq_len, "dtype": args.dtype,
               "max_vocab": args.max_vocab}
    if args.dataset:
        if args.files or args.valid_files or args.test_files:
            raise ConfigError("give either TEXT_FILE (with --valid-file, --test-file) or --dataset NAME, not both")
        if args.val_fraction is not None:
            raise ConfigError(f"--dataset {args.dataset} validates on its own validation text: drop --val-fraction")
        tokens = args.tokens or corpus_dataset(args.dataset).tokens
        return language_model.built_in(args.dataset, args.data_dir or default_data_dir(), tokens=tokens, **options)
    if args.test_files and not args.files:
        raise ConfigError("--test-file scores a model of TEXT_FILE: give the training text too")
    if args.valid_files and args.val_fraction is not None:
        raise ConfigError("--valid-file is the validation text: drop --val-fraction")
    held_out = {part: CorpusSource.from_paths([path], args.encoding, args.column) if path else None
                for part, path in (("valid", args.valid_files), ("test", args.test_files))}
    val_fraction = args.val_fraction if args.val_fraction is not None else 0.0 if args.valid_files else \
        field_default(LanguageModelSpec, "val_fraction")
    tokens = args.tokens or field_default(LanguageModelSpec, "tokens")
    return LanguageModelSpec(CorpusSource.from_paths(args.files, args.encoding, args.column),
                             val_fraction=val_fraction, tokens=tokens, **held_out, **options)


def stop_summary(result, unit: str) -> str:
    """``flags.stop_summary`` in nats per token; a word model's perplexity beside."""
    summary = flags.stop_summary(result, f" nats/{unit}")
    if unit == "word" and result.best_score is not None and result.monitor == "val_loss":
        summary += f" (perplexity {math.exp(min(result.best_score, 700)):.2f})"
    return summary


def evaluate_best(run_dir: Path, data_dir: Path | None, valid_files: list[str] | None,
                  test_files: list[str] | None) -> None:
    """Score the best checkpoint on the run's validation and test texts, every token, and print the scores."""

    best = language_model.load_run(run_dir)
    notes = [f"evaluated {best.source}"]
    for part, files in (("valid", valid_files), ("test", test_files)):
        scores = language_model.evaluate(best, part, run_dir, files, data_dir, echo=notes.append,
                                         progress=DelayedProgress(unit=best.spec.vocab.unit))
        print_scores(scores, best.spec.name, part, best.spec.vocab.unit)
    for note in dict.fromkeys(notes):                  # both scores went into one results.json
        status(note)


def status(message: str) -> None:
    print(message, file=sys.stderr)


def print_sample(run, length: int) -> None:
    """The last checkpoint's model writes ``length`` tokens (seeded by the run's seed)."""
    status(f"--- sample ({length} {UNIT_NAMES[run.spec.vocab.unit]}, temperature {language_model.SAMPLE_TEMPERATURE}) "
           f"from {run.source} ---")
    rng = np.random.default_rng(run.config.seed)
    for text in language_model.sample(run, length, temperature=language_model.SAMPLE_TEMPERATURE, rng=rng):
        sys.stdout.write(text)
        sys.stdout.flush()
    sys.stdout.write("\n")
