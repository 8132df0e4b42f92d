"""rnnkit/cli/flags.py: flags that stand for the library's fields, the learning flags made from TrainConfig,
library errors read as flags, and the stop line every training command prints."""

import dataclasses
import re
from pathlib import Path

import pytest

from rnnkit.cli.flags import field_default, in_flags, stop_summary, train_config
from rnnkit.cli.main import build_parser, main
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks import classification
from rnnkit.tasks.classification import ClassifySpec
from rnnkit.tasks.runs import RESUMABLE, TrainResult
from rnnkit.training.config import TrainConfig

TRAIN_COMMANDS = {"train": ["train"], "classify train": ["classify", "train"], "forecast train": ["forecast", "train"]}


def parse(argv):
    return build_parser().parse_args(argv)


def result(**fields) -> TrainResult:
    return TrainResult(**{"run_dir": Path("runs/x"), "stop_reason": "max steps", "step": 30,
                          "monitor": "val_accuracy", "best_score": None, **fields})


# -- the stop line ---------------------------------------------------------------------------


def test_stop_summary_says_when_no_validation_ran_and_keeps_a_zero_score():
    assert stop_summary(result()) == "stopped (max steps) at step 30; no validation ran"
    assert stop_summary(result(best_score=0.0)).endswith("best val_accuracy 0.0000")
    assert stop_summary(result(monitor="val_loss", best_score=1.4621), " nats/char") == \
        "stopped (max steps) at step 30; best val_loss 1.4621 nats/char"
    assert stop_summary(result(stop_reason="early stopping", step=7, monitor="val_loss", best_score=0.5)) == \
        "stopped (early stopping) at step 7; best val_loss 0.5000"


# -- library errors read as flags ------------------------------------------------------------


def test_in_flags_replaces_each_backticked_field_by_its_flag():
    flag_of_field = parse(["classify", "train"]).flag_of_field
    message = "resume with the same data and `batch_size`; `file` or `data_dir`, not `dataset`"
    assert in_flags(message, flag_of_field) == \
        "resume with the same data and --batch; --data or --data-dir, not --dataset"


def test_in_flags_spells_a_field_without_a_flag_as_a_flag_and_leaves_other_text_alone():
    assert in_flags("`top_k` must be between 0 and 5; `Top` and 'x' stay", {}) == \
        "--top-k must be between 0 and 5; `Top` and 'x' stay"
    assert in_flags("no field here", {"x": "--y"}) == "no field here"


@pytest.mark.parametrize("command, fields", [
    ("train", ["batch_size", "seq_len", "val_fraction", "dtype", "encoding", "column", "lr", "seed", "max_steps",
               "clip_norm", "on_nan", "epochs"]),
    ("classify train", ["batch_size", "max_len", "min_count", "tokenizer", "file", "data_dir", "text_column",
                        "label_column", "split_column", "split_seed", "encoding", "dataset", "embedding_scale",
                        "lr"]),
])
def test_every_field_a_library_error_names_reads_as_a_flag_the_command_has(command, fields):
    """An error that names a field must show the user a flag they can type."""
    parser_args = parse(TRAIN_COMMANDS[command])
    options = set(parser_args.flag_of_field.values())
    shown = {field: in_flags(f"`{field}`", parser_args.flag_of_field) for field in fields}
    assert {field: flag for field, flag in shown.items() if flag not in options} == {}


@pytest.mark.parametrize("command", TRAIN_COMMANDS)
def test_the_run_directory_a_library_error_names_reads_as_out(command):
    """runs.check_new_run_dir and checkpoint.prepare_run_dir say "pick another `run_dir`": on the command line
    the run directory is --out."""
    message = "runs/x already holds a run: resume it, or pick another `run_dir`"
    assert in_flags(message, parse(TRAIN_COMMANDS[command]).flag_of_field) == \
        "runs/x already holds a run: resume it, or pick another --out"


def test_a_library_error_reaches_the_command_line_with_flags(tmp_path, capsys):
    code = main(["classify", "train", "--data", str(tmp_path / "a.csv"), "--dataset", "sst2",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "give either --data FILE or --dataset NAME, not both" in capsys.readouterr().err


# -- the learning flags, made from TrainConfig -----------------------------------------------


@pytest.mark.parametrize("command", TRAIN_COMMANDS)
def test_every_train_command_has_a_flag_for_every_training_option(command):
    args = parse(TRAIN_COMMANDS[command])
    excluded = {"sample_every"} if command != "train" else set()      # only a language model writes samples
    fields = {field.name for field in dataclasses.fields(TrainConfig)} - excluded
    assert {name: args.flag_of_field.get(name) for name in fields} == \
        {name: "--" + name.replace("_", "-") for name in fields}
    assert all(getattr(args, name) is None for name in RESUMABLE)     # unchanged unless given with --resume
    assert args.flag_of_field["resume"] == "--resume" and args.flag_of_field["run_dir"] == "--out"


def test_a_new_run_takes_the_task_defaults_for_options_not_given():
    def same(config, expected):      # (classify has no --sample-every: its samples are never drawn)
        return dataclasses.replace(config, sample_every=0) == dataclasses.replace(expected, sample_every=0)

    config = train_config(parse(["classify", "train"]))
    assert same(config, classification.train_config())
    assert (config.epochs, config.lr, config.eval_every, config.patience) == (10, 1e-3, 100, 5)
    assert same(train_config(parse(["classify", "train", "--lr", "0.5", "--epochs", "2"])),
                classification.train_config(lr=0.5, epochs=2))
    language = train_config(parse(["train", "a.txt", "--seed", "4", "--on-nan", "reduce-lr"]))
    assert language == TrainConfig(seed=4, on_nan="reduce-lr")


def test_the_task_commands_monitor_only_what_their_validation_reports(capsys):
    assert parse(["classify", "train", "--monitor", "val_f1"]).monitor == "val_f1"
    assert parse(["train"]).monitor == "val_loss"
    with pytest.raises(SystemExit):
        parse(["train", "--monitor", "val_accuracy"])
    assert "invalid choice: 'val_accuracy'" in capsys.readouterr().err


def test_the_help_of_a_generated_flag_shows_the_task_default(capsys):
    with pytest.raises(SystemExit):
        main(["classify", "train", "--help"])
    help_text = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert "--lr LR learning rate (default: 0.001)" in help_text
    assert "--patience PATIENCE stop after this many validations without improvement (0: never) (default: 5)" \
        in help_text
    assert "--sample-every" not in help_text


def test_field_default_reads_nested_defaults_of_the_run_spec():
    assert field_default(ClassifySpec, "batch_size") == 32
    assert field_default(ClassifySpec, "model.embedding_dropout") == 0.3
    assert field_default(ClassifySpec, "model.hidden_size") == ClassifierConfig(vocab_size=1).hidden_size


# -- every option's range, checked when parsing ---------------------------------------------------

COMMANDS_WITH_LEARNING_FLAGS = [["train"], ["classify", "train"], ["forecast", "train"], ["forecast", "backtest"]]
OUT_OF_RANGE = {
    "momentum": (["--optimizer", "sgd", "--momentum", "5"], "argument --momentum: must lie in [0, 1), got 5"),
    "plateau decay": (["--schedule", "plateau", "--decay", "5"],
                      "argument --decay: must lie in (0, 1) with --schedule 'plateau', got 5.0"),
    "plateau decay of one": (["--decay", "1", "--schedule", "plateau"],
                             "argument --decay: must lie in (0, 1) with --schedule 'plateau', got 1.0"),
    "negative seed": (["--seed", "-1"], "argument --seed: must not be negative, got -1"),
    "nan decay": (["--decay", "nan"], "argument --decay: expected a finite number"),
}


@pytest.mark.parametrize("command", COMMANDS_WITH_LEARNING_FLAGS, ids=" ".join)
@pytest.mark.parametrize("flags, message", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_an_option_out_of_its_range_is_a_usage_error_of_every_training_command(command, flags, message, tmp_path,
                                                                            capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, *flags, "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"rnnkit {' '.join(command)}: error: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_the_ranges_a_flag_checks_are_the_ones_the_library_checks():
    """Each generated flag refuses what TrainConfig refuses, and with the decay's range depending on the schedule."""
    parser = build_parser()
    for values in ({"momentum": 5.0}, {"schedule": "plateau", "decay": 5.0}):
        with pytest.raises(ValueError):
            TrainConfig(**values)
    assert TrainConfig(schedule="step", decay=5.0).decay == 5.0
    assert parser.parse_args(["train", "--schedule", "step", "--decay", "5"]).decay == 5.0


def test_sample_seed_must_not_be_negative(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sample", "RUN", "--seed", "-1"])
    assert exit_.value.code == 2 and "argument --seed: must not be negative, got -1" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["train"], ["classify", "eval", "RUN"], ["forecast", "eval", "RUN"],
                                     ["plot", "RUN"]], ids=" ".join)
def test_an_empty_out_path_is_a_usage_error(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--out", ""])
    assert exit_.value.code == 2 and "argument --out: expected a path, got an empty one" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["forecast", "train"], ["forecast", "backtest"]], ids=" ".join)
def test_a_train_fraction_outside_zero_to_one_is_a_usage_error(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--train-fraction", "1.5"])
    assert exit_.value.code == 2 and "argument --train-fraction: must lie in (0, 1), got 1.5" in capsys.readouterr().err
