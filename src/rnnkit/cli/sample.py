"""``rnnkit sample``: generate text, or Chinese poems, from a trained language model.

A character model writes characters; a word model writes words, joined by spaces, a line
break for each ``<eos>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rnnkit.cli.flags import finish, non_negative, positive, with_default
from rnnkit.data.word_vocab import split_words
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks import language_model
from rnnkit.tasks.poems import generate_poem
from rnnkit.tasks.sampling import check_sampling_options, generate

SAMPLE_LENGTH = 500
POEM_LINES = (4, 8)


def register(subcommands) -> None:
    parser = subcommands.add_parser("sample", help="generate text from a trained model", description=__doc__)
    parser.add_argument("model", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("--which", choices=("last", "best"), default="best",
                        help="which checkpoint of a run directory (default: best)")
    parser.add_argument("--prime", default="", help="text the model reads before writing")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="drop prime characters (or words) the model has never seen instead of stopping")
    parser.add_argument("--length", type=non_negative(int), default=SAMPLE_LENGTH,
                        help=with_default("tokens (characters or words) to write", SAMPLE_LENGTH))
    parser.add_argument("--temperature", type=positive(float),
                        help=with_default("below 1 safer, above 1 wilder", language_model.SAMPLE_TEMPERATURE))
    parser.add_argument("--top-k", type=non_negative(int), default=0, dest="top_k",
                        help=with_default("draw among the k likeliest, 0 all", 0))
    parser.add_argument("--greedy", action="store_true", help="always take the likeliest character (or word)")
    parser.add_argument("--seed", type=non_negative(int), help="random seed (default: different each time)")
    poem = parser.add_argument_group("poems (models trained on tang_poems.tsv --column poem)")
    poem.add_argument("--poem", type=int, choices=(5, 7), help="write a poem of 5- or 7-character lines")
    poem.add_argument("--lines", type=int, choices=POEM_LINES,
                      help="4 (quatrain, default) or 8 (octave); with --acrostic, its length")
    poem.add_argument("--acrostic", default="", help="line i starts with the i-th of these characters (藏頭詩)")
    finish(parser, run_sample)


def run_sample(args: argparse.Namespace) -> int:
    check_options(args)
    temperature = args.temperature or language_model.SAMPLE_TEMPERATURE
    run = language_model.load_run(args.model, args.which)
    model, vocab = run.model, run.spec.vocab
    rng = np.random.default_rng(args.seed)
    if args.poem or args.acrostic:
        if vocab.kind != "chars":
            raise ConfigError("poems are written one character at a time: sample them from a character model "
                              "(this one writes words)")
        lines = args.lines or (len(args.acrostic) if args.acrostic else 4)
        poem = generate_poem(model, vocab, args.poem or 7, lines, args.acrostic, temperature, args.top_k, rng)
        print(f"sampling from {run.source}", file=sys.stderr)
        print("\n".join(poem))
        return 0
    prime = known_prime(args.prime, vocab, args.skip_unknown)
    check_sampling_options(temperature, args.top_k, len(vocab))
    print(f"sampling from {run.source}", file=sys.stderr)
    sys.stdout.write(prime)
    for character in generate(model, vocab, args.length, prime, temperature, args.top_k, args.greedy, rng):
        sys.stdout.write(character)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


def check_options(args: argparse.Namespace) -> None:
    """Refuse combinations where one option would silently be ignored."""
    poem = args.poem or args.acrostic
    clashes = [
        (args.greedy and args.temperature is not None, "--greedy always takes the likeliest character",
         "drop --temperature"),
        (args.greedy and args.top_k, "--greedy always takes the likeliest character", "drop --top-k"),
        (args.greedy and poem, "poems are always sampled", "drop --greedy"),
        (args.prime and poem, "a poem starts from its own first line", "drop --prime"),
        (args.lines and not poem, "--lines is for poems", "add --poem 5 or --poem 7"),
    ]
    for clash, why, fix in clashes:
        if clash:
            raise ConfigError(f"contradictory options: {why}; {fix}")
    if args.acrostic and not args.lines and len(args.acrostic) not in POEM_LINES:
        raise ConfigError(f"--acrostic takes one character per line of the poem, 4 (a quatrain) or 8 (an octave), "
                          f"got {len(args.acrostic)}")


def known_prime(prime: str, vocab, skip_unknown: bool) -> str:
    """``prime`` if the model knows all its tokens; without the unknown ones under --skip-unknown. (A word
    model with ``<unk>`` knows every word: the prime is what it reads, unknown words as ``<unk>``.)"""
    if not prime:
        return ""
    token = "character" if vocab.kind == "chars" else "word"
    try:
        known = vocab.decode(vocab.encode(prime, unknown="skip" if skip_unknown else "error"))
    except DataError as error:
        tokens = prime if vocab.kind == "chars" else split_words(prime)
        unknown = sorted(set(tokens) - set(vocab.tokens))
        shown = ("" if vocab.kind == "chars" else " ").join(unknown[:20]) + ("..." if len(unknown) > 20 else "")
        raise ConfigError(f"--prime has {len(unknown)} {token}(s) the model has never seen ({shown!r}): "
                          "remove them, or pass --skip-unknown to drop them") from error
    if not known:
        raise ConfigError(f"no {token} of --prime is in the model's vocabulary: "
                          f"prime with {token}s of its training text")
    return known
