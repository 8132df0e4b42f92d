"""``rnnkit caption``: captions generated from an image's features, by a recurrent decoder.

    rnnkit caption train --captions caps.json --features f.safetensors --index f.json --out RUN_DIR
    rnnkit caption train --captions caps.tsv --images DIR --encoder enc.onnx --out RUN_DIR
    rnnkit caption train --dataset coco-mini --out RUN_DIR       the shared COCO set, its split and features
    rnnkit caption eval RUN_DIR --split test --beam 3            BLEU-1..4 of the model and two baselines
    rnnkit caption predict RUN_DIR photo.jpg ... --beam 3        one caption per image

--captions reads a COCO caption file (.json: "images" with "id" and "file_name", "annotations"
with "image_id" and "caption"), a TSV file (image<TAB>caption per line, or a header naming the
columns image, caption and optionally split), or JSON lines. Image names are paths relative to
the images folder. The split is by image: --split FILE.json ({"train": [...], "val": [...],
"test": [...]}), else the file's split column, else a seeded split (--val-fraction,
--test-fraction). Each image is a feature vector: precomputed (--features, --index: its
"images" list gives the row of each image), or computed from --images with the ONNX --encoder
(needs pip install 'rnnkit[images]') and cached in the run directory.

eval prints, for the model and then for the nearest-neighbour and the best-single-caption
baselines, a header line and the lines "BLEU-1 <score>" .. "BLEU-4 <score>" (sacrebleu, against
every reference of each image), then the BLEU signature; it writes captions-SPLIT.txt and the
page captions-SPLIT.html (images beside their captions) into the run directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli import flags
from rnnkit.cli.flags import field_default, fraction, option, positive
from rnnkit.data.datasets import CAPTION_DATASETS, default_data_dir
from rnnkit.errors import ConfigError
from rnnkit.models.captioner import CONDITIONING, CaptionerConfig
from rnnkit.tasks import captioning
from rnnkit.tasks.captioning import ORDERS, PAGE_IMAGES, CaptionSource, CaptionSpec
from rnnkit.tasks.runs import default_run_dir

DEFAULT_BEAM = 3
FILE_FLAGS = {"captions": ("--captions", "FILE", "captions: .json (COCO format), .tsv (image<TAB>caption) or .jsonl"),
              "split": ("--split", "FILE.json", 'the split by image: {"train": [...], "val": [...], "test": [...]}'),
              "features": ("--features", "FILE.safetensors", "precomputed image features (with --index)"),
              "index": ("--index", "FILE.json", "the features' index: the image of each row"),
              "images": ("--images", "DIR", "the folder the image names are relative to"),
              "encoder": ("--encoder", "FILE.onnx", "ONNX image encoder, to compute the features from --images")}
MOVABLE = ("captions", "features", "index", "images")          # eval: where the run's data is now
HEADERS = {"model": "model", "nearest-neighbour": "nearest-neighbour baseline",
           "best-caption": "best single training caption baseline"}


def register(subcommands) -> None:
    flags.task_command(subcommands, "caption", "train and use an image captioner", __doc__,
                       (register_train, register_eval, register_predict))


def add_files(group, names, text: str = "") -> None:
    for name in names:
        flag, metavar, help = FILE_FLAGS[name]
        group.add_argument(flag, type=Path, dest=name, metavar=metavar, help=help + text)


def add_data_dir(group, text: str) -> None:
    group.add_argument("--data-dir", type=Path, dest="data_dir",
                       help=f"folder of the built-in datasets (default: $RNNKIT_DATA or ../shared/data){text}")


def register_train(actions) -> None:
    parser = actions.add_parser("train", help="train a captioner", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    spec = CaptionSpec
    data = parser.add_argument_group("data")
    add_files(data, FILE_FLAGS, "; with --resume: where it is now")
    option(data, "--dataset", "dataset", None, "a built-in dataset instead of the files", choices=sorted(CAPTION_DATASETS))
    add_data_dir(data, "; with --resume: where it is now")
    option(data, "--min-count", "min_count", field_default(spec, "min_count"), "rarer words become <unk>",
           type=positive(int))
    option(data, "--max-vocab", "max_vocab", field_default(spec, "max_vocab"),
           "largest vocabulary, special tokens included (0: no cap)", type=flags.non_negative(int))
    option(data, "--max-length", "max_length", field_default(spec, "max_length"),
           "words of a training caption (longer ones are dropped) and of a generated one", type=positive(int))
    option(data, "--val-fraction", "val_fraction", field_default(spec, "val_fraction"),
           "of the images, for val (without a split)", type=fraction)
    option(data, "--test-fraction", "test_fraction", field_default(spec, "test_fraction"),
           "of the images, for test (without a split)", type=fraction)
    option(data, "--split-seed", "split_seed", field_default(spec, "split_seed"),
           "seed of the split (without a split)", type=flags.non_negative(int))
    option(data, "--batch", "batch_size", field_default(spec, "batch_size"), "captions per batch",
           type=positive(int))
    group = parser.add_argument_group("model")
    option(group, "--conditioning", "conditioning", field_default(spec, "model.conditioning"),
           "how the image enters the decoder: an input at every step, the initial state, or the first input",
           choices=CONDITIONING)
    option(group, "--cell", "cell", field_default(spec, "model.cell"), "recurrent cell", choices=("gru", "lstm"))
    option(group, "--hidden", "hidden_size", field_default(spec, "model.hidden_size"), "decoder state size",
           type=positive(int))
    option(group, "--layers", "num_layers", field_default(spec, "model.num_layers"), "stacked decoder layers",
           type=positive(int))
    option(group, "--embedding", "embedding_dim", field_default(spec, "model.embedding_dim"),
           "word embedding size (and the projected image's, but with --conditioning init)", type=positive(int))
    group.add_argument("--tie-embeddings", action="store_true", dest="tied_embeddings",
                       help="output weights = word embeddings (needs --embedding = --hidden)")
    option(group, "--label-smoothing", "label_smoothing", field_default(spec, "model.label_smoothing"),
           "of the training loss", type=fraction)
    option(group, "--dropout", "dropout", field_default(spec, "model.dropout"),
           "on the features, embeddings, between layers, before the output layer", type=fraction)
    option(group, "--feature-dropout", "feature_dropout", None, "on the image features alone (default: --dropout)",
           type=fraction)
    option(group, "--dtype", "dtype", field_default(spec, "dtype"), "floating-point type",
           choices=("float32", "float64"))
    option(group, "--beam", "beam", DEFAULT_BEAM, "beam width of the evaluation after training", type=positive(int))
    flags.add_learning_flags(parser, captioning.TRAIN_DEFAULTS, exclude=("sample_every",))
    flags.finish(parser, run_train)


def register_eval(actions) -> None:
    parser = actions.add_parser("eval", help="BLEU-1..4 of a trained captioner and of two baselines")
    flags.add_run_argument(parser)
    parser.add_argument("--split", choices=("val", "test"), default="test", help="(default: test)")
    flags.add_beam_flag(parser, DEFAULT_BEAM)
    option(parser, "--page-images", "page_images", PAGE_IMAGES, "images on the page captions-SPLIT.html (0: no page)",
           type=flags.non_negative(int))
    add_files(parser, MOVABLE, " (default: where training read it)")
    add_data_dir(parser, " (default: where training read them)")
    parser.add_argument("--out", type=flags.output_path, dest="out_dir",
                        help="folder for captions-SPLIT.txt/.html and results.json (default: the run directory)")
    flags.finish(parser, run_eval)


def register_predict(actions) -> None:
    parser = actions.add_parser("predict", help="caption image files")
    flags.add_run_argument(parser)
    parser.add_argument("image_files", nargs="+", type=Path, metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    flags.add_beam_flag(parser, DEFAULT_BEAM)
    add_files(parser, ("encoder",), " (default: the one that computed the run's features)")
    flags.finish(parser, run_predict)


def status(message: str) -> None:
    print(message, file=sys.stderr)


# -- train -------------------------------------------------------------------------------
def run_train(args) -> int:
    files = {name: getattr(args, name) for name in FILE_FLAGS}
    if args.resume:
        flags.check_resume_flags(args, allowed=(*FILE_FLAGS, "data_dir", "beam"))
        result = captioning.resume(args.resume, flags.resume_changes(args), args.data_dir,
                                   progress=not args.no_progress, echo=status, **files)
    else:
        feature_dropout = -1.0 if args.feature_dropout is None else args.feature_dropout
        spec = CaptionSpec(
            caption_source(args, files),
            CaptionerConfig(conditioning=args.conditioning, cell=args.cell, embedding_dim=args.embedding_dim,
                            hidden_size=args.hidden_size, num_layers=args.num_layers,
                            tied_embeddings=args.tied_embeddings, label_smoothing=args.label_smoothing,
                            dropout=args.dropout, feature_dropout=feature_dropout),
            min_count=args.min_count, max_vocab=args.max_vocab, max_length=args.max_length,
            val_fraction=args.val_fraction, test_fraction=args.test_fraction, split_seed=args.split_seed,
            batch_size=args.batch_size, dtype=args.dtype)
        run_dir = args.run_dir or default_run_dir(f"caption-{spec.data.name}")
        result = captioning.train(spec, flags.train_config(args), run_dir, progress=not args.no_progress,
                                  echo=status)
    status(flags.stop_summary(result, " nats/token"))
    if result.stop_reason == "interrupted":
        return flags.INTERRUPTED
    best = captioning.load_run(result.run_dir)
    notes = [f"evaluated {best.source}"]
    moved = {name: files[name] for name in MOVABLE} if args.resume else {}
    scores = captioning.evaluate(best, "test", args.beam, result.run_dir,
                                 data_dir=args.data_dir if args.resume else None, echo=notes.append, **moved)
    print_scores(scores, args.beam)
    for note in notes:
        status(note)
    return 0


def caption_source(args, files: dict) -> CaptionSource:
    given = {name: str(path.resolve()) for name, path in files.items() if path is not None}
    if args.dataset:
        if given:
            raise ConfigError(f"give either --dataset or your own files, not both ({', '.join(FILE_FLAGS[name][0] for name in given)} "
                              "given too)")
        return CaptionSource.built_in(args.dataset, args.data_dir or default_data_dir())
    if not given.get("captions"):
        raise ConfigError("give the captions to learn from: --captions FILE (.json in COCO format, or .tsv) with "
                          f"--features and --index, or --images and --encoder; or --dataset "
                          f"{'|'.join(sorted(CAPTION_DATASETS))}")
    if "features" in given and "encoder" in given:
        raise ConfigError("give either precomputed features (--features, --index) or an --encoder to compute them "
                          "from --images, not both")
    return CaptionSource(**given)


def print_scores(scores: dict, beam: int) -> None:
    for system, by_order in scores.items():
        print(HEADERS[system] + (f" (beam {beam})" if system == "model" else ""))
        for order in ORDERS:
            print(f"BLEU-{order} {by_order[order].score:.2f}")
    print(f"BLEU signature {scores['model'][4].signature}")


# -- eval, predict --------------------------------------------------------------------------
def run_eval(args) -> int:
    run = captioning.load_run(args.run_dir, args.which)
    notes = [f"using {run.source}"]
    moved = {name: getattr(args, name) for name in MOVABLE}
    scores = captioning.evaluate(run, args.split, args.beam, args.out_dir, args.page_images, args.data_dir,
                                 echo=notes.append, **moved)
    print_scores(scores, args.beam)
    for note in notes:
        status(note)
    return 0


def run_predict(args) -> int:
    run = captioning.load_run(args.run_dir, args.which)
    captions = captioning.predict(run, args.image_files, args.beam, args.encoder)
    status(f"using {run.source}")
    for caption in captions:
        print(caption)
    return 0
