"""Property-based tests of the command line: any command line exits cleanly, with at most one error line.

Each runs a handful of examples by default (see the "rnnkit" hypothesis profile in conftest.py);
``RNNKIT_FUZZ_EXAMPLES=2000 pytest tests/test_cli_fuzz.py tests/test_fuzz.py`` makes a long fuzz run.
The layers and checkpoints with hostile contents are fuzzed through the library in test_fuzz.py.
"""

import argparse
import contextlib
import io
import os
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import build_parser, main
from rnnkit.training.checkpoint import load_checkpoint
from labelled_texts import labelled_rows, write_labelled
from tiny_runs import TEXT, TINY_MODEL, train, write_corpus

COMMANDS = ["train", "sample", "plot", "classify train", "classify eval", "classify predict"]


def subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in command.split():
        parser = next(action for action in parser._actions
                      if isinstance(action, argparse._SubParsersAction)).choices[word]
    return parser


# Every flag each command has, read from its parser: a new flag is fuzzed without being listed here.
FLAGS = {command: sorted(option for action in subparser(command)._actions for option in action.option_strings
                         if option.startswith("--") and option != "--help")
         for command in COMMANDS}
WORDS = ["lstm", "gru", "rnn", "adam", "sgd", "none", "char-rnn", "plateau", "stop", "reduce-lr", "best",
         "last", "float32", "float64", "latin-1", "utf-16", "poem", "春花", "nan", "inf", "-inf", "1e308",
         "-0", "0.5", "x", "", "--", "-h", "text", "label", "split", "sst2", "chnsenticorp", "val_accuracy", "dev"]
PATHS = ["CORPUS", "RUN", "MISSING", "DIRECTORY", "BINARY", "PICKLE", "LABELLED", "CLASSIFIER"]

# Appended last, so that whatever the random flags say, a run stays a fraction of a second.
CLASSIFY_CAPS = ["--max-steps", "1", "--max-minutes", "0.05", "--embedding", "4", "--hidden", "4", "--no-progress"]
CAPS = {"train": ["--max-steps", "1", "--sample-length", "3", "--max-minutes", "0.05"],
        "sample": ["--length", "3"], "classify train": CLASSIFY_CAPS}


def argument_values():
    return st.one_of(st.integers(-3, 12).map(str), st.floats(allow_nan=True).map(repr),
                     st.sampled_from(WORDS), st.sampled_from(PATHS), st.text(max_size=6))


@st.composite
def command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(COMMANDS + ["bogus"]))
    flags = FLAGS.get(command, []) + ["--bogus"]
    argv = command.split()
    if command == "train":
        argv += TINY_MODEL
    for _ in range(draw(st.integers(0, 5))):
        choice = draw(st.sampled_from(["flag", "flag", "path", "value"]))
        if choice == "flag":
            argv.append(draw(st.sampled_from(flags)))
            if draw(st.booleans()):
                argv.append(draw(argument_values()))
        else:
            argv.append(draw(st.sampled_from(PATHS) if choice == "path" else argument_values()))
    return argv + CAPS.get(command, [])


@pytest.fixture(scope="module")
def materials(tmp_path_factory) -> Path:
    """A corpus, a labelled file, a trained tiny run of each and some hostile files, copied afresh for every
    example."""
    root = tmp_path_factory.mktemp("materials")
    corpus = write_corpus(root)
    assert train(corpus, root / "run", "--max-steps", "5") == 0
    labelled = write_labelled(root / "labelled.csv", labelled_rows(10), header=("text", "label"))
    assert main(["classify", "train", "--data", str(labelled), "--out", str(root / "classifier"),
                 "--max-steps", "3", "--eval-every", "2", *CLASSIFY_CAPS[4:]]) == 0
    (root / "binary.txt").write_bytes(b"\x00\x01" * 100)
    (root / "weights.pt").write_bytes(pickle.dumps({"w": 1}))
    (root / "directory").mkdir()
    return root


PLACEHOLDERS = {"CORPUS": "corpus.txt", "RUN": "run", "MISSING": "missing.txt", "DIRECTORY": "directory",
                "BINARY": "binary.txt", "PICKLE": "weights.pt", "LABELLED": "labelled.csv",
                "CLASSIFIER": "classifier"}


@contextlib.contextmanager
def scratch_copy(materials: Path):
    """A fresh copy of the materials as the working directory (default run directories land there), with no
    built-in datasets (so a default of SST-2 never reads the real one) and one text on stdin."""
    previous, environment, stdin = os.getcwd(), os.environ.get("RNNKIT_DATA"), sys.stdin
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(materials, scratch, dirs_exist_ok=True)
        os.chdir(scratch)
        os.environ["RNNKIT_DATA"] = str(Path(scratch) / "no-data")
        sys.stdin = io.StringIO("a great film\n")
        try:
            yield Path(scratch)
        finally:
            os.chdir(previous)
            sys.stdin = stdin
            if environment is None:
                del os.environ["RNNKIT_DATA"]
            else:
                os.environ["RNNKIT_DATA"] = environment


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_any_command_line_exits_cleanly_with_at_most_one_error_line(materials, capsys, argv):
    argv = [PLACEHOLDERS.get(arg, arg) for arg in argv]
    with scratch_copy(materials):
        try:
            code = main(argv)
        except SystemExit as exit_:            # argparse: --help, or a usage error
            code = exit_.code
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (argv, code)
    assert "Traceback" not in err
    if code:
        assert sum(": error: " in line for line in err.splitlines()) == 1, (argv, err)


def test_every_command_is_fuzzed_with_its_new_flags():
    assert {"--resume", "--log-every", "--monitor", "--min-delta"} <= set(FLAGS["train"])
    assert {"--data", "--text-column", "--label-column", "--split-column", "--split-seed", "--dataset",
            "--data-dir"} <= set(FLAGS["classify train"])


def test_the_materials_are_sound(materials, capsys):
    """The unchanged runs load and work: what the fuzz refuses is the command line, not the fixture."""
    _, meta = load_checkpoint(materials / "run")
    assert meta["trainer"]["step"] == 5 and meta["spec"]["vocab"] == sorted(set(TEXT))
    with scratch_copy(materials):
        assert main(["sample", "run", "--length", "3", "--seed", "0"]) == 0
        assert main(["classify", "predict", "classifier", "a great film"]) == 0
        assert main(["classify", "predict", "classifier"]) == 0          # the text on stdin
    assert capsys.readouterr().out.count("a great film") == 2
