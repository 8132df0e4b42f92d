"""``rnnkit eval``: a trained language model's loss per token over a whole text, and its perplexity.

    rnnkit eval RUN_DIR                     its test text (a run trained with --test-file or --dataset)
    rnnkit eval RUN_DIR --split valid       its validation text (its own, or the end of its corpus)
    rnnkit eval RUN_DIR --text other.txt    any text (words the vocabulary lacks are <unk>, if it has one)

Every token after the first is predicted from all the tokens before it (one lane, the
state carried throughout), as Zaremba et al. (2014) score Penn Treebank's test set.
Words give the perplexity exp(nats per word); characters, the bits per character. The
scores go into RUN_DIR/results.json (key NAME-SPLIT, or the text's file name).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli import flags
from rnnkit.errors import ConfigError
from rnnkit.tasks import language_model
from rnnkit.tasks.runs import report_dir
from rnnkit.training.progress import DelayedProgress

UNIT_NAMES = {"char": "characters", "word": "words"}


def register(subcommands) -> None:
    parser = subcommands.add_parser("eval", help="loss and perplexity of a trained language model on a text",
                                    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("--which", choices=("best", "last"), default="best",
                        help="which checkpoint of a run directory (default: best)")
    parser.add_argument("--split", dest="part", choices=language_model.PARTS,
                        help="the run's own validation or test text (default: test)")
    parser.add_argument("--text", dest="files", nargs="+", metavar="TEXT_FILE",
                        help="score these texts (joined) instead")
    parser.add_argument("--data-dir", type=Path, dest="data_dir",
                        help="where the run's built-in dataset is now (default: where training read it)")
    parser.add_argument("--out", type=flags.output_path,
                        help="folder for results.json (default: the run directory)")
    flags.finish(parser, run_eval)


def run_eval(args: argparse.Namespace) -> int:
    if args.files and (args.part or args.data_dir):
        raise ConfigError(f"--text scores the texts given, not the run's own: drop "
                          f"{'--split' if args.part else '--data-dir'}")
    run = language_model.load_run(args.run_dir, args.which)
    notes = [f"using {run.source}"]
    scores = language_model.evaluate(run, args.part or "test", report_dir([args.run_dir], args.out), args.files,
                                     args.data_dir, echo=notes.append,
                                     progress=DelayedProgress(unit=run.spec.vocab.unit))
    name = Path(args.files[0]).stem if args.files else run.spec.name
    print_scores(scores, name, None if args.files else args.part or "test", run.spec.vocab.unit)
    for note in notes:
        print(note, file=sys.stderr)
    return 0


def print_scores(scores: dict, name: str, part: str | None, unit: str) -> None:
    """One line: "ptb test: loss 4.7431 nats/word, perplexity 114.78 (82430 words)"."""
    measure = (f"perplexity {scores['perplexity']:.2f}" if "perplexity" in scores
               else f"{scores['bpc']:.4f} bits/char")
    where = f"{name} {part}" if part else name
    print(f"{where}: loss {scores['loss']:.4f} nats/{unit}, {measure} ({scores['tokens']} {UNIT_NAMES[unit]})")
