"""``rnnkit music``: a recurrent model of polyphonic music (piano rolls), on your pieces or the JSB chorales.

    rnnkit music train --data pieces.json --out RUN_DIR      a JSON file of train/valid/test pieces
    rnnkit music train --data midi_folder/ --out RUN_DIR     a folder of MIDI files (a seeded split)
    rnnkit music train --dataset jsb --out RUN_DIR           the JSB chorales (one frame per quarter note)
    rnnkit music eval RUN_DIR --split test                   NLL per frame of the model and two baselines
    rnnkit music generate RUN_DIR --out DIR --prime 8        a new piece: .mid, .png (and .wav with fluidsynth)

--data reads a JSON file {"train": [...], "valid": [...], "test": [...]} (each piece a list of
frames, each frame a list of MIDI pitches), or every .mid/.midi file under a folder, read at
--frames-per-beat and cut into train/valid/test by a split seeded with --split-seed. The NLL
is in nats per frame, over frames 2 .. T of each piece; the baselines are `marginal` (each
key at its training frequency) and `previous frame` (each key given whether it sounded in the
previous frame). generate also prints the generated frames' notes per frame, share of known
chords (frames whose keys sounded together in a training piece) and pitch range, beside the
test pieces'.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnkit.cli import flags
from rnnkit.cli.flags import field_default, fraction, option, positive
from rnnkit.data.piano_roll import OUT_OF_RANGE
from rnnkit.errors import ConfigError
from rnnkit.models.char_lm import RECURRENT_LAYERS
from rnnkit.models.music import OUTPUTS, MusicConfig
from rnnkit.tasks import music
from rnnkit.tasks.music import DATASETS, MusicSource, MusicSpec
from rnnkit.tasks.runs import default_run_dir, report_dir


def register(subcommands) -> None:
    flags.task_command(subcommands, "music", "train and use a model of polyphonic music", __doc__,
                       (register_train, register_eval, register_generate))


def add_data_location(group, text: str) -> None:
    flags.add_data_location(group, "--data", "a JSON file of train/valid/test pieces, or a folder of MIDI files",
                            text, metavar="FILE_OR_FOLDER")


def register_train(actions) -> None:
    parser = actions.add_parser("train", help="train a music model", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source, spec = MusicSource, MusicSpec
    data = parser.add_argument_group("data")
    add_data_location(data, "; with --resume: where the run's data is now")
    option(data, "--dataset", "dataset", None, "a built-in dataset instead of --data", choices=sorted(DATASETS))
    option(data, "--frames-per-beat", "frames_per_beat", field_default(source, "frames_per_beat"),
           "frames per quarter note of MIDI files (1, 2, 4, ...)", type=positive(float))
    option(data, "--out-of-range", "out_of_range", field_default(source, "out_of_range"),
           "pitches outside the 88 piano keys", choices=OUT_OF_RANGE)
    option(data, "--split-seed", "split_seed", field_default(source, "split_seed"),
           "seed of the train/valid/test split of a MIDI folder", type=flags.non_negative(int))
    option(data, "--valid-fraction", "valid_fraction", field_default(source, "valid_fraction"),
           "pieces of a MIDI folder to validate on (at least one)", type=fraction)
    option(data, "--test-fraction", "test_fraction", field_default(source, "test_fraction"),
           "pieces of a MIDI folder to test on (0: none)", type=fraction)
    option(data, "--batch", "batch_size", field_default(spec, "batch_size"), "pieces per update",
           type=positive(int))
    group = parser.add_argument_group("model")
    option(group, "--cell", "cell", field_default(spec, "model.cell"), "recurrent cell",
           choices=sorted(RECURRENT_LAYERS))
    option(group, "--hidden", "hidden_size", field_default(spec, "model.hidden_size"), "hidden units per layer",
           type=positive(int))
    option(group, "--layers", "num_layers", field_default(spec, "model.num_layers"), "stacked recurrent layers",
           type=positive(int))
    option(group, "--output", "output", field_default(spec, "model.output"),
           "bernoulli: independent keys; nade: the keys of a frame jointly", choices=OUTPUTS)
    option(group, "--nade-hidden", "nade_hidden_size", field_default(spec, "model.nade_hidden_size"),
           "NADE's hidden units (with --output nade)", type=positive(int))
    option(group, "--dropout", "dropout", field_default(spec, "model.dropout"),
           "between recurrent layers and before the output", type=fraction)
    option(group, "--input-dropout", "input_dropout", field_default(spec, "model.input_dropout"),
           "on the input frames", type=fraction)
    option(group, "--dtype", "dtype", field_default(spec, "dtype"), "floating-point type",
           choices=("float32", "float64"))
    flags.add_learning_flags(parser, music.TRAIN_DEFAULTS, exclude=("sample_every",))
    flags.finish(parser, run_train)


def register_eval(actions) -> None:
    parser = actions.add_parser("eval", help="NLL per frame of a trained model and of the baselines")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    add_which_flag(parser)
    parser.add_argument("--split", choices=("train", "valid", "test"), default="test", help="(default: test)")
    add_data_location(parser, " (default: where training read it)")
    parser.add_argument("--out", type=flags.output_path,
                        help="folder for results.json (default: the run directory)")
    flags.finish(parser, run_eval)


def register_generate(actions) -> None:
    parser = actions.add_parser("generate", help="generate a piece: MIDI, piano-roll PNG (and WAV)")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    add_which_flag(parser)
    parser.add_argument("--out", type=flags.output_path, required=True, help="folder for the .mid, .png (and .wav)")
    parser.add_argument("--prime", type=flags.non_negative(int), default=0, metavar="N_FRAMES",
                        help="start from the first N frames of test piece 0 of the run's data (default: 0, "
                             "from nothing)")
    parser.add_argument("--length", type=positive(int), default=64, help="frames to generate (default: 64)")
    parser.add_argument("--temperature", type=positive(float), default=1.0, help="(default: 1)")
    parser.add_argument("--seed", type=flags.non_negative(int), default=0, help="(default: 0)")
    add_data_location(parser, " (for --prime; default: where training read it)")
    flags.finish(parser, run_generate)


def add_which_flag(parser) -> None:
    parser.add_argument("--which", choices=("best", "last"), default="best",
                        help="which checkpoint of the run directory (default: best)")


def status(message: str) -> None:
    print(message, file=sys.stderr)


# -- train -------------------------------------------------------------------------------
def run_train(args) -> int:
    if args.resume:
        flags.check_resume_flags(args, allowed=("file", "data_dir"))
        result = music.resume(args.resume, flags.resume_changes(args), args.file, args.data_dir,
                              progress=not args.no_progress, echo=status)
    else:
        spec = MusicSpec(music_source(args),
                         MusicConfig(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                                     dropout=args.dropout, input_dropout=args.input_dropout, output=args.output,
                                     nade_hidden_size=args.nade_hidden_size),
                         batch_size=args.batch_size, dtype=args.dtype)
        run_dir = args.run_dir or default_run_dir(f"music-{spec.data.name}")
        result = music.train(spec, flags.train_config(args), run_dir, progress=not args.no_progress, echo=status)
    status(flags.stop_summary(result, " nats per frame"))
    if result.stop_reason == "interrupted":
        return flags.INTERRUPTED
    best = music.load_run(result.run_dir)
    data_dir, file = (args.data_dir, args.file) if args.resume else (None, None)
    notes = [f"evaluated {best.source}"]
    splits = ("valid", "test") if "test" in best.spec.data.moved(data_dir, file).read() else ("valid",)
    for split in splits:
        print_results(music.evaluate(best, split, result.run_dir, data_dir, file, echo=notes.append),
                      best.spec.data.name, split)
    for note in notes:
        status(note)
    return 0


def music_source(args) -> MusicSource:
    if args.file and args.dataset:
        raise ConfigError("give either --data FILE_OR_FOLDER or --dataset NAME, not both")
    options = dict(frames_per_beat=args.frames_per_beat, out_of_range=args.out_of_range, split_seed=args.split_seed,
                   valid_fraction=args.valid_fraction, test_fraction=args.test_fraction)
    if args.file:
        return MusicSource(file=str(args.file.resolve()), **options)
    if args.dataset:
        return MusicSource.built_in(args.dataset, args.data_dir, **options)
    raise ConfigError("give --data FILE_OR_FOLDER (a JSON file of pieces or a folder of MIDI files), "
                      f"or --dataset {'|'.join(DATASETS)}")


def print_results(results: dict, name: str, split: str) -> None:
    for method, scores in results.items():
        print(f"{name} {split} {method}: NLL {scores['nll']:.4f} nats per frame")


# -- eval and generate ---------------------------------------------------------------------
def run_eval(args) -> int:
    run = music.load_run(args.run_dir, args.which)
    notes = [f"using {run.source}"]
    results = music.evaluate(run, args.split, report_dir([args.run_dir], args.out), args.data_dir, args.file,
                             echo=notes.append)
    print_results(results, run.spec.data.name, args.split)
    for note in notes:
        status(note)
    return 0


def run_generate(args) -> int:
    run = music.load_run(args.run_dir, args.which)
    piece = music.generate(run, args.out, length=args.length, temperature=args.temperature, prime=args.prime,
                           seed=args.seed, data_dir=args.data_dir, file=args.file)
    status(f"using {run.source}")
    for path in piece.paths:
        print(f"wrote {path}")
    print(f"generated frames: {piece.statistics.summary()}")
    if piece.test_statistics:
        print(f"test pieces: {piece.test_statistics.summary()}")
    for note in (piece.note, piece.statistics_note):
        if note:
            status(note)
    return 0
