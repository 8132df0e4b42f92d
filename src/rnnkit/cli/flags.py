"""Flags that stand for fields of the library's dataclasses, and errors translated back into flags.

Every option of a task command is one field of a dataclass the task defines (its run spec,
its model config, ``TrainConfig``), registered with that field's name as its ``dest`` and the
field's default read from the dataclass (``field_default``). So a parser knows which flag
stands for which field (``finish`` records it), and an error of the library, which names
fields in backticks (``batch_size``), reads on the command line as the flag the user typed
(``--batch``): ``in_flags`` does that, in this one place.

The learning and run flags (``add_learning_flags``) are generated from ``TrainConfig``'s
fields and their metadata (help and valid range); every task registers them through that
one function. The flags a resumed run may change (``rnnkit.tasks.runs.RESUMABLE``) default
to None, so that a resumed run keeps its saved values unless they are given again; a new
run takes the task's defaults (``task_defaults``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from pathlib import Path

from rnnkit.errors import ConfigError
from rnnkit.tasks.runs import RESUMABLE
from rnnkit.training.config import TrainConfig, problem

RUN_FLAGS = ("eval_every", "checkpoint_every", "log_every", "sample_every")   # in the "run" group
OUTPUT_FLAGS = ("resume", "no_progress", "sample_length", "run")   # shape only this invocation's output


def field_default(owner, name: str):
    """The default of field ``name`` of dataclass ``owner`` (a dotted ``name`` reads a nested default)."""
    head, _, rest = name.partition(".")
    field = {f.name: f for f in dataclasses.fields(owner)}[head]
    value = field.default_factory() if field.default is dataclasses.MISSING else field.default
    return field_default_of_value(value, rest) if rest else value


def field_default_of_value(value, name: str):
    for part in name.split("."):
        value = getattr(value, part)
    return value


def with_default(help: str, default) -> str:
    """``help`` with the default added, unless there is none to show."""
    if default is None or default is False or default == "":
        return help
    return f"{help} (default: {default:g})" if isinstance(default, float) else f"{help} (default: {default})"


def option(group, flag: str, field: str, default, help: str, **options) -> None:
    """A flag for the library's ``field`` with ``default`` (read from its dataclass by the caller)."""
    if "choices" not in options:
        options.setdefault("metavar", flag[2:].upper().replace("-", "_"))
    group.add_argument(flag, dest=field, default=default, help=with_default(help, default), **options)


def switch(group, flag: str, field: str, default: bool, help: str) -> None:
    """A boolean field as ``--flag/--no-flag``."""
    group.add_argument(flag, dest=field, action=argparse.BooleanOptionalAction, default=default,
                       help=f"{help} (default: {'yes' if default else 'no'})")


def task_command(subcommands, name: str, help: str, description: str, actions) -> None:
    """``rnnkit NAME ACTION``: one command whose actions (train, eval, predict, ...) register themselves."""
    parser = subcommands.add_parser(name, help=help, description=description,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for register_action in actions:
        register_action(subparsers)


def add_run_argument(parser) -> None:
    """RUN_DIR_OR_CHECKPOINT and --which, as the task commands that read one trained run take them."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("--which", choices=("best", "last"), default="best",
                        help="which checkpoint of the run directory (default: best)")


def add_beam_flag(parser, default: int) -> None:
    option(parser, "--beam", "beam", default, "beam width (1: greedy)", type=positive(int))


def add_data_location(group, file_flag: str, file_help: str, text: str, metavar: str = "FILE") -> None:
    """Where a task's data is: the user's own file (``file_flag``, the field ``file``), or the folder of
    the built-in datasets (--data-dir, the field ``data_dir``); ``text`` ends both helps."""
    group.add_argument(file_flag, type=Path, dest="file", metavar=metavar, help=f"{file_help}{text}")
    group.add_argument("--data-dir", type=Path, dest="data_dir",
                       help=f"folder of the built-in datasets (default: $RNNKIT_DATA or ../shared/data){text}")


def finish(parser, run) -> None:
    """The parser's command ``run(args)``; its defaults and which flag stands for which field."""
    actions = [action for action in parser._actions if action.dest != "help"]
    parser.set_defaults(run=run, command_parser=parser,
                        parser_defaults={action.dest: action.default for action in actions},
                        flag_of_field={action.dest: action.option_strings[0] if action.option_strings
                                       else action.metavar or action.dest.upper() for action in actions})


def in_flags(message: str, flag_of_field: dict[str, str]) -> str:
    """A library error's message with each backticked field name replaced by the flag that stands for it."""
    return re.sub(r"`([a-z_][a-z0-9_]*)`",
                  lambda m: flag_of_field.get(m.group(1), "--" + m.group(1).replace("_", "-")), message)


# -- numbers ---------------------------------------------------------------------------------


def checked(kind, valid=None):
    """An argparse type: ``kind(text)``, finite, and inside the ``valid`` range (a training.config.Range)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if valid is not None and value not in valid:
            raise argparse.ArgumentTypeError(f"{valid.describe()}, got {text}")
        return value
    return parse


def positive(kind):
    from rnnkit.training.config import POSITIVE
    return checked(kind, POSITIVE)


def non_negative(kind):
    from rnnkit.training.config import NOT_NEGATIVE
    return checked(kind, NOT_NEGATIVE)


def fraction(text: str) -> float:
    from rnnkit.training.config import FRACTION
    return checked(float, FRACTION)(text)


def output_path(text: str) -> Path:
    """An argparse type for a path rnnkit writes to: not empty (which would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty one")
    return Path(text)


# -- learning and run flags ------------------------------------------------------------------


def config_field_metadata(name: str):
    return {field.name: field for field in dataclasses.fields(TrainConfig)}[name].metadata


def add_learning_flags(parser, defaults: dict, monitors: tuple[str, ...] = ("val_loss",),
                       exclude: tuple[str, ...] = ()) -> None:
    """One flag per TrainConfig field (help and range from its metadata, the default from ``defaults``
    over TrainConfig's own), then --out, --resume and --no-progress."""
    learning = parser.add_argument_group("learning")
    run = parser.add_argument_group("run")
    for field in dataclasses.fields(TrainConfig):
        if field.name in exclude:
            continue
        default = defaults.get(field.name, field_default(TrainConfig, field.name))
        group = run if field.name in RUN_FLAGS else learning
        choices = monitors if field.name == "monitor" else field.metadata.get("choices")
        kind = {"int": int, "float": float}.get(str(field.type))
        flag = "--" + field.name.replace("_", "-")
        options = {"choices": choices} if choices else {"type": checked(kind, field.metadata.get("range")),
                                                        "metavar": flag[2:].upper().replace("-", "_")}
        if field.name == "monitor":
            default = monitors[0]
        group.add_argument(flag, dest=field.name, default=None if field.name in RESUMABLE else default,
                           help=with_default(field.metadata.get("help", ""), default), **options)
    run.add_argument("--out", type=output_path, dest="run_dir",
                     help="run directory: new, or an empty folder (default: runs/NAME-DATE-TIME)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue the run in RUN_DIR exactly; only " + ", ".join(
                         "--" + name.replace("_", "-") for name in RESUMABLE) + " may change")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(train_defaults=defaults)


def check_dependent_ranges(args) -> None:
    """A usage error for a learning flag outside the range another flag sets (``--decay`` with ``--schedule
    plateau``), as argparse gives one for a flag outside its own range: checked right after parsing, with
    the range ``training.config.value_range`` gives for the flags as given."""
    if not hasattr(args, "train_defaults"):
        return
    values = {field.name: value for field in dataclasses.fields(TrainConfig)
              if (value := getattr(args, field.name, None)) is not None}
    for name in values:
        if "range_by" in config_field_metadata(name):
            wrong = problem(name, values[name], values)
            if wrong is not None:
                args.command_parser.error(f"argument {args.flag_of_field.get(name, name)}: "
                                          f"{in_flags(wrong, args.flag_of_field)}")


def train_config(args) -> TrainConfig:
    """The TrainConfig of a new run: the flags given; the task's defaults for the resumable flags not
    given and for the fields it has no flag for."""
    values = {}
    for field in dataclasses.fields(TrainConfig):
        value = getattr(args, field.name, None)
        if value is None:
            value = args.train_defaults.get(field.name, field_default(TrainConfig, field.name))
        values[field.name] = value
    return TrainConfig(**values)


def resume_changes(args) -> dict:
    """The resumable options given with --resume (None: keep the saved value)."""
    return {name: getattr(args, name) for name in RESUMABLE if hasattr(args, name)}


def check_resume_flags(args, allowed: tuple[str, ...] = ()) -> None:
    """--resume takes the data and options from the run: refuse flags that would be silently ignored
    (all but the resumable ones, the output flags, and ``allowed``: where moved data is now)."""
    changeable = RESUMABLE + OUTPUT_FLAGS + tuple(allowed)
    given = [name for name, default in args.parser_defaults.items()
             if name not in changeable and name in vars(args) and getattr(args, name) != default]
    if given:
        shown = ", ".join(args.flag_of_field.get(name, name.upper()) for name in given)
        only = ", ".join("--" + name.replace("_", "-") for name in RESUMABLE)
        raise ConfigError(
            f"--resume continues {args.resume} with its own data and options, but {shown} "
            f"{'was' if len(given) == 1 else 'were'} given too: drop {'it' if len(given) == 1 else 'them'} "
            f"(only {only} may change), or start a new run with --out")


# Exit codes (documented in cli/main.py): bad input, Ctrl-C, a bug of rnnkit.
BAD_INPUT, INTERRUPTED, INTERNAL_FAILURE = 2, 130, 1


def stop_summary(result, unit: str = "") -> str:
    """Why and when training stopped, and the best validation score (if a validation ran)."""
    best = result.best_score
    scored = "no validation ran" if best is None else f"best {result.monitor} {best:.4f}{unit}"
    return f"stopped ({result.stop_reason}) at step {result.step}; {scored}"
