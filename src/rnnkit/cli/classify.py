"""``rnnkit classify``: text classification with a (Bi)LSTM, GRU or RNN, on your labelled texts.

    rnnkit classify train --data reviews.csv --text-column review --label-column stars
    rnnkit classify train --dataset sst2               a built-in dataset (SST-2, ChnSentiCorp)
    rnnkit classify eval RUN_DIR --split test          accuracy, F1, confusion matrix (PNG)
    rnnkit classify eval RUN1 RUN2 RUN3                the ensemble: mean of the runs' class probabilities
    rnnkit classify predict RUN_DIR "text" ...         label and probability per text (or per stdin line)
    rnnkit classify predict RUN1 "text" --ensemble RUN2 --ensemble RUN3       the same by an ensemble

--data reads a .csv or .tsv file with a header: any labels (two classes or more, names
kept), split by its --split-column (train/dev/test) or else by a seeded stratified 80/10/10
split. SST-2 uses its official train/dev/test split; ChnSentiCorp hotel reviews a fixed
stratified 80/10/10 split (seed 0). Without --data or --dataset, SST-2 is used. Embeddings
are learned from scratch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli import flags
from rnnkit.cli.flags import field_default, fraction, option, positive
from rnnkit.data.datasets import TEXT_DATASETS, default_data_dir
from rnnkit.errors import ConfigError, DataError
from rnnkit.layers.pooling import POOLINGS
from rnnkit.models.char_lm import RECURRENT_LAYERS
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks import classification
from rnnkit.tasks.classification import TOKENIZERS, ClassifySpec, TextSource
from rnnkit.tasks.runs import default_run_dir, report_dir

DEFAULT_DATASET = "sst2"


def register(subcommands) -> None:
    flags.task_command(subcommands, "classify", "train and use a text classifier", __doc__,
                       (register_train, register_eval, register_predict))


def add_data_location(group, text: str) -> None:
    flags.add_data_location(group, "--data", "a .csv or .tsv file of labelled texts with a header", text)


def register_train(actions) -> None:
    parser = actions.add_parser("train", help="train a classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source, spec = TextSource, ClassifySpec
    data = parser.add_argument_group("data")
    add_data_location(data, "; with --resume: where the run's data is now")
    option(data, "--text-column", "text_column", field_default(source, "text_column"), "column of the texts")
    option(data, "--label-column", "label_column", field_default(source, "label_column"), "column of the labels")
    option(data, "--split-column", "split_column", field_default(source, "split_column"),
           "column saying train, dev (or val) or test per row (default: a stratified 80/10/10 split)")
    option(data, "--split-seed", "split_seed", field_default(source, "split_seed"),
           "seed of the stratified split", type=flags.non_negative(int))
    option(data, "--encoding", "encoding", field_default(source, "encoding"), "text encoding of the file")
    option(data, "--dataset", "dataset", None, f"a built-in dataset instead of --data ({DEFAULT_DATASET} when "
           "neither is given)", choices=sorted(TEXT_DATASETS))
    option(data, "--tokenizer", "tokenizer", field_default(spec, "tokenizer"),
           "words or chinese (default: the dataset's; words for a file)", choices=sorted(TOKENIZERS))
    option(data, "--min-count", "min_count", field_default(spec, "min_count"), "rarer tokens become <unk>",
           type=positive(int))
    option(data, "--max-len", "max_len", field_default(spec, "max_len"), "tokens kept per text", type=positive(int))
    option(data, "--batch", "batch_size", field_default(spec, "batch_size"), "texts per batch", type=positive(int))
    option(data, "--class-weights", "class_weights", field_default(spec, "class_weights"),
           "none, balanced, or one weight per class: 1,2")
    group = parser.add_argument_group("model")
    option(group, "--cell", "cell", field_default(spec, "model.cell"), "recurrent cell", choices=sorted(RECURRENT_LAYERS))
    option(group, "--layers", "num_layers", field_default(spec, "model.num_layers"), "stacked recurrent layers",
           type=positive(int))
    option(group, "--hidden", "hidden_size", field_default(spec, "model.hidden_size"), "hidden units per direction",
           type=positive(int))
    option(group, "--embedding", "embedding_dim", field_default(spec, "model.embedding_dim"), "embedding size",
           type=positive(int))
    group.add_argument("--unidirectional", action="store_false", dest="bidirectional",
                       help="read left to right only (default: both ways)")
    option(group, "--pooling", "pooling", field_default(spec, "model.pooling"), "over time", choices=sorted(POOLINGS))
    option(group, "--dropout", "dropout", field_default(spec, "model.dropout"), "before the output layer",
           type=fraction)
    option(group, "--embedding-dropout", "embedding_dropout", field_default(spec, "model.embedding_dropout"),
           "on embeddings", type=fraction)
    option(group, "--embedding-scale", "embedding_scale", field_default(spec, "embedding_scale"),
           "initial embeddings ~ N(0, scale^2)", type=positive(float))
    option(group, "--dtype", "dtype", field_default(spec, "dtype"), "floating-point type",
           choices=("float32", "float64"))
    flags.add_learning_flags(parser, classification.TRAIN_DEFAULTS, monitors=classification.MONITORS,
                             exclude=("sample_every",))
    flags.finish(parser, run_train)


def register_eval(actions) -> None:
    parser = actions.add_parser("eval", help="accuracy, F1 and confusion matrix of a trained classifier")
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR_OR_CHECKPOINT",
                        help="one run, or several (the same data and vocabulary, e.g. seeds) scored as an ensemble")
    add_which_flag(parser)
    parser.add_argument("--split", choices=classification.PARTS[1:], default="test", help="(default: test)")
    add_data_location(parser, " (default: where training read it)")
    parser.add_argument("--baseline", action="store_true",
                        help="also fit and score the bag-of-words baseline (two classes)")
    parser.add_argument("--out", type=flags.output_path,
                        help="folder for confusion-SPLIT.png and results.json (default: the run directory of one "
                             "run; several runs need one)")
    flags.finish(parser, run_eval)


def register_predict(actions) -> None:
    parser = actions.add_parser("predict", help="classify texts given as arguments or stdin lines")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("--ensemble", type=Path, action="append", default=[], metavar="RUN_DIR",
                        help="another run (same data and vocabulary) whose class probabilities are "
                             "averaged in; repeat for more, after the texts")
    add_which_flag(parser)
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify (default: stdin, one per line)")
    flags.finish(parser, run_predict)


def add_which_flag(parser) -> None:
    parser.add_argument("--which", choices=("best", "last"), default="best",
                        help="which checkpoint of each run directory (default: best)")


# -- train -------------------------------------------------------------------------------
def run_train(args) -> int:
    if args.resume:
        flags.check_resume_flags(args, allowed=("file", "data_dir"))
        result = classification.resume(args.resume, flags.resume_changes(args), args.data_dir, args.file,
                                       progress=not args.no_progress, echo=status)
    else:
        spec = ClassifySpec(
            text_source(args),
            ClassifierConfig(cell=args.cell, embedding_dim=args.embedding_dim,
                             hidden_size=args.hidden_size, num_layers=args.num_layers,
                             bidirectional=args.bidirectional, pooling=args.pooling, dropout=args.dropout,
                             embedding_dropout=args.embedding_dropout),
            tokenizer=args.tokenizer, max_len=args.max_len, min_count=args.min_count, batch_size=args.batch_size,
            class_weights=args.class_weights, embedding_scale=args.embedding_scale, dtype=args.dtype)
        run_dir = args.run_dir or default_run_dir(spec.data.name)
        result = classification.train(spec, flags.train_config(args), run_dir, progress=not args.no_progress,
                                      echo=status)
    status(flags.stop_summary(result))
    if result.stop_reason == "interrupted":
        return flags.INTERRUPTED
    best = classification.load_run(result.run_dir)
    notes = [f"evaluated {best.source}"]
    print_results(classification.evaluate([best], ("dev", "test"), result.run_dir, baseline=True,
                                          data_dir=args.data_dir if args.resume else None,
                                          file=args.file if args.resume else None, echo=notes.append),
                  best.spec.data.name, 1)
    for note in notes:
        status(note)
    return 0


def text_source(args) -> TextSource:
    if args.file and args.dataset:
        raise ConfigError("give either --data FILE or --dataset NAME, not both")
    if args.file:
        return TextSource(file=str(args.file.resolve()), text_column=args.text_column,
                          label_column=args.label_column, split_column=args.split_column,
                          split_seed=args.split_seed, encoding=args.encoding)
    return TextSource.built_in(args.dataset or DEFAULT_DATASET, args.data_dir or default_data_dir())


def status(message: str) -> None:
    print(message, file=sys.stderr)


# -- eval and predict ----------------------------------------------------------------------
def run_eval(args) -> int:
    trained = classification.load_ensemble(args.run_dirs, args.which)
    notes = [f"using {run.source}" for run in trained]
    results = classification.evaluate(trained, (args.split,), report_dir(args.run_dirs, args.out), args.baseline,
                                      args.data_dir, args.file, echo=notes.append)
    print_results(results, trained[0].spec.data.name, len(trained))
    for note in notes:
        status(note)
    return 0


def stdin_texts() -> list[str]:
    """The lines of stdin, one text each: UTF-8 text (a NUL byte or bytes that are not UTF-8 are refused,
    naming the line); blank lines are left to ``classification.predict`` to refuse."""
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")     # universal newlines
    if lines[-1] == b"":
        lines.pop()
    texts = []
    for number, line in enumerate(lines, start=1):
        if b"\x00" in line:
            raise DataError(f"stdin line {number} holds a NUL byte: classify predict reads texts, one per line, "
                            "not binary data")
        try:
            texts.append(line.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise DataError(f"stdin line {number} is not UTF-8 text (byte {error.start}: "
                            f"{line[error.start:error.start + 1].hex()}): give UTF-8 texts, one per line") from None
    return texts


def print_results(results: dict, name: str, members: int) -> None:
    for part, by_method in results.items():
        for method, scores in by_method.items():
            count = f" of {members}" if method == "rnn ensemble" else ""
            print(f"{name} {part} {method}{count}: accuracy {scores['accuracy']:.4f}, F1 {scores['f1']:.4f}")


def run_predict(args) -> int:
    trained = classification.load_ensemble([args.run_dir, *args.ensemble], args.which)
    texts = args.texts or stdin_texts()
    probabilities = classification.predict(trained, texts)
    for run in trained:
        status(f"using {run.source}")
    labels = trained[0].spec.labels
    for text, p in zip(texts, probabilities):
        shown = p[1] if len(labels) == 2 else p.max()       # two classes: p(second class), as p(positive)
        print(f"{labels[int(p.argmax())]}\t{shown:.4f}\t{text}")
    return 0
