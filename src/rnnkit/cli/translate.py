"""``rnnkit translate``: an attentional encoder-decoder (Seq2Seq) on your sentence pairs.

    rnnkit translate train --pairs pairs.tsv --out RUN_DIR     source<TAB>target per line
    rnnkit translate train --dataset eng-fra                   a built-in Tatoeba file (eng-fra, cmn-eng)
    rnnkit translate eval RUN_DIR --split test --beam 5        BLEU and chrF (sacrebleu, with signatures)
    rnnkit translate predict RUN_DIR "sentence" ...            one translation per sentence (or stdin line)
    rnnkit translate attention RUN_DIR "sentence" --out a.png  where the decoder looked

--pairs reads UTF-8 lines source<TAB>target (further columns ignored; --reverse swaps the
two), split by source sentence into train/dev/test (seeded). Each side is read as words
(and punctuation marks) or as characters (Chinese). Vocabularies come from the training
pairs; the dev loss (negative log-likelihood per target token) picks the best checkpoint.
"""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli import flags
from rnnkit.cli.classify import stdin_texts
from rnnkit.cli.flags import field_default, fraction, option, positive
from rnnkit.data.datasets import default_data_dir
from rnnkit.errors import ConfigError
from rnnkit.models.seq2seq import ATTENTIONS, NO_ATTENTION, Seq2SeqConfig
from rnnkit.tasks import translation
from rnnkit.tasks.runs import default_run_dir
from rnnkit.tasks.translation import PAIRS_DATASETS, PairsSource, TranslationSpec

TOKENIZER_CHOICES = ("words", "chars")
DEFAULT_BEAM = 5


def register(subcommands) -> None:
    flags.task_command(subcommands, "translate", "train and use a translator", __doc__,
                       (register_train, register_eval, register_predict, register_attention))


def add_data_location(group, text: str) -> None:
    flags.add_data_location(group, "--pairs", "UTF-8 sentence pairs, source<TAB>target per line", text)


def register_train(actions) -> None:
    parser = actions.add_parser("train", help="train a translator", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    spec = TranslationSpec
    data = parser.add_argument_group("data")
    add_data_location(data, "; with --resume: where the run's pairs are now")
    option(data, "--dataset", "dataset", None, "a built-in file of pairs instead of --pairs",
           choices=sorted(PAIRS_DATASETS))
    data.add_argument("--reverse", action="store_true", dest="reverse",
                      help="the second column is the source")
    option(data, "--source-tokenizer", "source_tokenizer", None,
           "words or chars (default: the dataset's; words for a file)", choices=TOKENIZER_CHOICES)
    option(data, "--target-tokenizer", "target_tokenizer", None,
           "words or chars (default: the dataset's; words for a file)", choices=TOKENIZER_CHOICES)
    data.add_argument("--lowercase", action="store_true", dest="lowercase", help="lowercase both sides")
    option(data, "--min-count", "min_count", field_default(spec, "min_count"), "rarer tokens become <unk>",
           type=positive(int))
    option(data, "--max-vocab", "max_vocab", field_default(spec, "max_vocab"),
           "largest vocabulary per side, special tokens included (0: no cap)", type=flags.non_negative(int))
    option(data, "--max-length", "max_length", field_default(spec, "max_length"),
           "longest training pair in tokens per side (longer ones are dropped)", type=positive(int))
    option(data, "--dev-fraction", "dev_fraction", field_default(spec, "dev_fraction"),
           "of the source sentences, for dev", type=fraction)
    option(data, "--test-fraction", "test_fraction", field_default(spec, "test_fraction"),
           "of the source sentences, for test", type=fraction)
    option(data, "--split-seed", "split_seed", field_default(spec, "split_seed"), "seed of the split",
           type=flags.non_negative(int))
    option(data, "--batch", "batch_size", field_default(spec, "batch_size"), "pairs per batch", type=positive(int))
    group = parser.add_argument_group("model")
    option(group, "--cell", "cell", field_default(spec, "model.cell"), "recurrent cell", choices=("gru", "lstm"))
    option(group, "--hidden", "hidden_size", field_default(spec, "model.hidden_size"),
           "decoder state size (the encoder's H/2 per direction)", type=positive(int))
    option(group, "--layers", "num_layers", field_default(spec, "model.num_layers"),
           "stacked layers of encoder and decoder", type=positive(int))
    option(group, "--embedding", "embedding_dim", field_default(spec, "model.embedding_dim"), "embedding size",
           type=positive(int))
    option(group, "--attention", "attention", field_default(spec, "model.attention"),
           "attention score; none: no attention (and so no input feeding), the source only through the bridge",
           choices=ATTENTIONS)
    group.add_argument("--no-input-feeding", action="store_false", dest="input_feeding",
                       help="do not feed h~_{t-1} to the decoder (default: input feeding)")
    option(group, "--label-smoothing", "label_smoothing", field_default(spec, "model.label_smoothing"),
           "of the training loss", type=fraction)
    group.add_argument("--tie-embeddings", action="store_true", dest="tied_embeddings",
                       help="output weights = target embeddings (needs --embedding = --hidden)")
    option(group, "--dropout", "dropout", field_default(spec, "model.dropout"),
           "on embeddings, between layers, before the output layer", type=fraction)
    option(group, "--dtype", "dtype", field_default(spec, "dtype"), "floating-point type",
           choices=("float32", "float64"))
    option(group, "--beam", "beam", DEFAULT_BEAM, "beam width of the evaluation after training",
           type=positive(int))
    flags.add_learning_flags(parser, translation.TRAIN_DEFAULTS, exclude=("sample_every",))
    flags.finish(parser, run_train)


def register_eval(actions) -> None:
    parser = actions.add_parser("eval", help="BLEU and chrF of a trained translator")
    flags.add_run_argument(parser)
    parser.add_argument("--split", choices=("dev", "test"), default="test", help="(default: test)")
    flags.add_beam_flag(parser, DEFAULT_BEAM)
    add_data_location(parser, " (default: where training read them)")
    parser.add_argument("--out", type=flags.output_path, dest="out_dir",
                        help="folder for translations-SPLIT.txt and results.json (default: the run directory)")
    flags.finish(parser, run_eval)


def register_predict(actions) -> None:
    parser = actions.add_parser("predict", help="translate sentences given as arguments or stdin lines")
    flags.add_run_argument(parser)
    parser.add_argument("sentences", nargs="*", metavar="SENTENCE",
                        help="sentences to translate (default: stdin, one per line)")
    flags.add_beam_flag(parser, DEFAULT_BEAM)
    option(parser, "--n-best", "n_best", 1, "translations per sentence (at most --beam)", type=positive(int))
    flags.finish(parser, run_predict)


def register_attention(actions) -> None:
    parser = actions.add_parser("attention", help="draw where the decoder looked translating a sentence")
    flags.add_run_argument(parser)
    parser.add_argument("sentence", metavar="SENTENCE")
    flags.add_beam_flag(parser, DEFAULT_BEAM)
    parser.add_argument("--out", type=flags.output_path, dest="out_png", required=True, metavar="FILE.png",
                        help="the heat map to write")
    flags.finish(parser, run_attention)


def status(message: str) -> None:
    print(message, file=sys.stderr)


# -- train -------------------------------------------------------------------------------
def run_train(args) -> int:
    if args.resume:
        flags.check_resume_flags(args, allowed=("file", "data_dir", "beam"))
        result = translation.resume(args.resume, flags.resume_changes(args), args.file, args.data_dir,
                                    progress=not args.no_progress, echo=status)
    else:
        spec = TranslationSpec(
            pairs_source(args),
            Seq2SeqConfig(cell=args.cell, embedding_dim=args.embedding_dim, hidden_size=args.hidden_size,
                          num_layers=args.num_layers, attention=args.attention,
                          input_feeding=args.input_feeding and args.attention != NO_ATTENTION,
                          tied_embeddings=args.tied_embeddings, label_smoothing=args.label_smoothing,
                          dropout=args.dropout),
            source_tokenizer=args.source_tokenizer, target_tokenizer=args.target_tokenizer,
            lowercase=args.lowercase, min_count=args.min_count, max_vocab=args.max_vocab,
            max_length=args.max_length, dev_fraction=args.dev_fraction, test_fraction=args.test_fraction,
            split_seed=args.split_seed, batch_size=args.batch_size, dtype=args.dtype)
        run_dir = args.run_dir or default_run_dir(spec.data.name)
        result = translation.train(spec, flags.train_config(args), run_dir, progress=not args.no_progress,
                                   echo=status)
    status(flags.stop_summary(result, " nats/token"))
    if result.stop_reason == "interrupted":
        return flags.INTERRUPTED
    best = translation.load_run(result.run_dir)
    notes = [f"evaluated {best.source}"]
    scores = translation.evaluate(best, "test", args.beam, result.run_dir,
                                  file=args.file if args.resume else None,
                                  data_dir=args.data_dir if args.resume else None, echo=notes.append)
    print_scores(scores)
    for note in notes:
        status(note)
    return 0


def pairs_source(args) -> PairsSource:
    if args.file and args.dataset:
        raise ConfigError("give either --pairs FILE or --dataset NAME, not both")
    if args.file:
        return PairsSource(file=str(args.file.resolve()), reverse=args.reverse)
    if args.dataset:
        return PairsSource.built_in(args.dataset, args.data_dir or default_data_dir(), args.reverse)
    raise ConfigError("give the sentence pairs to learn from: --pairs FILE (source<TAB>target per line) "
                      f"or --dataset {'|'.join(sorted(PAIRS_DATASETS))}")


def print_scores(scores: dict) -> None:
    for score in scores.values():
        print(f"{score.metric} {score.score:.2f}")
    for score in scores.values():
        print(f"{score.metric} signature {score.signature}")


# -- eval, predict, attention --------------------------------------------------------------
def run_eval(args) -> int:
    run = translation.load_run(args.run_dir, args.which)
    notes = [f"using {run.source}"]
    scores = translation.evaluate(run, args.split, args.beam, args.out_dir, file=args.file, data_dir=args.data_dir,
                                  echo=notes.append)
    print_scores(scores)
    for note in notes:
        status(note)
    return 0


def run_predict(args) -> int:
    run = translation.load_run(args.run_dir, args.which)
    sentences = args.sentences or stdin_texts()
    found = translation.translate(run, sentences, args.beam, args.n_best)
    status(f"using {run.source}")
    for number, n_best in enumerate(found, start=1):
        if args.n_best == 1:
            print(n_best[0][0])
        else:
            for text, score in n_best:
                print(f"{number}\t{score:.4f}\t{text}")
    return 0


def run_attention(args) -> int:
    run = translation.load_run(args.run_dir, args.which)
    text, path = translation.attention(run, args.sentence, args.out_png, args.beam)
    status(f"using {run.source}")
    print(text)
    status(f"wrote {path}")
    return 0
