"""Property-based tests of the command line: any command line, on any input file, exits cleanly (0, or 2 with
exactly one error line; never a traceback, never 1, the code of an internal failure), and writes nothing outside
the run directory or the output it was told to write.

Every subcommand is fuzzed with every flag its parser has (read from the parser, so a new flag is fuzzed without
being listed here), with values and paths drawn from hostile lists: good inputs, truncated, binary, empty and
header-only files, files with the wrong columns, series with NaN or huge values, a device, the root folder.
Each runs a handful of examples by default (see the "rnnkit" hypothesis profile in conftest.py);
``RNNKIT_FUZZ_EXAMPLES=2000 pytest tests/test_cli_fuzz.py tests/test_fuzz.py`` makes a long fuzz run. The layers
and checkpoints with hostile contents are fuzzed through the library in test_fuzz.py.
"""

import argparse
import contextlib
import io
import os
import pickle
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import build_parser, main
from rnnkit.training.checkpoint import load_checkpoint
from labelled_texts import labelled_rows, write_labelled
from tiny_forecasts import noisy_season, write_csv
from tiny_runs import TEXT, TINY_MODEL, train, write_corpus

COMMANDS = ["train", "sample", "plot", "classify train", "classify eval", "classify predict", "forecast train",
            "forecast eval", "forecast predict", "forecast backtest"]


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
         "last", "float32", "float64", "latin-1", "utf-16", "poem", "春花", "春夏秋", "nan", "inf", "-inf", "1e308",
         "-0", "0.5", "x", "", "--", "-h", "text", "label", "split", "sst2", "chnsenticorp", "val_accuracy", "dev",
         "units", "month", "region", "recursive", "direct", "val", "test", "minmax", "standard", "1e38", "5"]
# Placeholders for files and folders of the materials (and a few outside them), put in the command line as paths.
PLACES = {"CORPUS": "corpus.txt", "RUN": "run", "MISSING": "missing.txt", "DIRECTORY": "directory",
          "BINARY": "binary.txt", "PICKLE": "weights.pt", "LABELLED": "labelled.csv", "CLASSIFIER": "classifier",
          "SERIES": "series.csv", "FORECASTER": "forecaster", "TRUNCATED": "truncated.csv",
          "WRONG_COLUMNS": "wrong-columns.csv", "EMPTY": "empty.csv", "HEADER_ONLY": "header-only.tsv",
          "NAN_SERIES": "nan-series.csv", "HUGE_SERIES": "huge-series.csv", "BINARY_CSV": "binary.csv",
          "DATA_DIR": "data", "CHECKPOINT": "run/checkpoints/step-00000005", "NOT_RESULTS": "not-results",
          "DEVICE": "/dev/zero", "FULL": "/dev/full", "ROOT": "/"}

# Appended last, so that whatever the random flags say, a run stays a fraction of a second.
CLASSIFY_CAPS = ["--max-steps", "1", "--max-minutes", "0.05", "--embedding", "4", "--hidden", "4", "--no-progress"]
FORECAST_CAPS = ["--max-steps", "1", "--max-minutes", "0.05", "--hidden", "3", "--look-back", "4", "--no-progress"]
CAPS = {"train": ["--max-steps", "1", "--sample-length", "3", "--max-minutes", "0.05"],
        "sample": ["--length", "3"], "classify train": CLASSIFY_CAPS, "forecast train": FORECAST_CAPS,
        "forecast backtest": [*FORECAST_CAPS, "--folds", "1", "--block", "3", "--seeds", "1"],
        "forecast predict": ["--steps", "3"]}


# A command line starts as one that works on the good materials, some of whose inputs are swapped for hostile ones.
TEXT_FILES = ["CORPUS", "BINARY", "EMPTY", "HEADER_ONLY", "MISSING", "DIRECTORY", "DEVICE", "LABELLED", "PICKLE"]
TABLES = ["LABELLED", "TRUNCATED", "WRONG_COLUMNS", "EMPTY", "HEADER_ONLY", "BINARY_CSV", "SERIES", "DEVICE"]
SERIES_FILES = ["SERIES", "NAN_SERIES", "HUGE_SERIES", "TRUNCATED", "WRONG_COLUMNS", "EMPTY", "BINARY_CSV",
                "LABELLED", "DEVICE"]
RUNS = ["RUN", "CLASSIFIER", "FORECASTER", "CHECKPOINT", "PICKLE", "DIRECTORY", "MISSING", "CORPUS", "ROOT"]
BASES = {
    "train": (["train", "{text}"], {"text": TEXT_FILES}),
    "sample": (["sample", "{run}"], {"run": RUNS}),
    "plot": (["plot", "{run}"], {"run": RUNS}),
    "classify train": (["classify", "train", "--data", "{table}"], {"table": TABLES}),
    "classify eval": (["classify", "eval", "{run}"], {"run": ["CLASSIFIER", *RUNS]}),
    "classify predict": (["classify", "predict", "{run}", "a great film"], {"run": ["CLASSIFIER", *RUNS]}),
    "forecast train": (["forecast", "train", "--csv", "{series}", "--column", "units", "--date-column", "month"],
                       {"series": SERIES_FILES}),
    "forecast eval": (["forecast", "eval", "{run}"], {"run": ["FORECASTER", *RUNS]}),
    "forecast predict": (["forecast", "predict", "{run}"], {"run": ["FORECASTER", *RUNS]}),
    "forecast backtest": (["forecast", "backtest", "--csv", "{series}", "--column", "units", "--date-column",
                           "month"], {"series": SERIES_FILES}),
}


def argument_values():
    return st.one_of(st.integers(-3, 12).map(str), st.floats(allow_nan=True).map(repr),
                     st.sampled_from(WORDS), st.sampled_from(list(PLACES)), st.text(max_size=6))


FLOATS = ["0", "0.1", "0.5", "0.99", "1", "2", "1e-3", "1e38", "-1", "nan", "inf", "-0"]


def flag_kind(action) -> type | None:
    """int or float for a flag parsed by ``rnnkit.cli.flags.checked`` (or int/float itself), else None."""
    if action.type in (int, float):
        return action.type
    if action.type is not None and action.type.__name__ == "fraction":
        return float
    cells = getattr(action.type, "__closure__", None) or ()
    return next((cell.cell_contents for cell in cells if cell.cell_contents in (int, float)), None)


def flag_values(action):
    """Values of the kind of the flag's ``action``: its choices; small integers, or numbers, edge cases
    included; paths and words."""
    kind = flag_kind(action)
    if action.choices:
        return st.sampled_from(sorted(map(str, action.choices)))
    if kind is int:
        return st.integers(-2, 12).map(str)
    if kind is float:
        return st.sampled_from(FLOATS)
    return st.sampled_from(list(PLACES) + WORDS)


@st.composite
def command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(COMMANDS + ["bogus"]))
    if command == "bogus":
        return ["bogus", draw(argument_values())]
    base, slots = BASES[command]
    # the good input (first in its list) half of the time, a hostile one otherwise
    chosen = {slot: draw(st.one_of(st.just(places[0]), st.sampled_from(places))) for slot, places in slots.items()}
    argv = [chosen.get(word[1:-1], word) if word.startswith("{") else word for word in base]
    if command == "train":
        argv += TINY_MODEL
    actions = {option: action for action in subparser(command)._actions for option in action.option_strings}
    for _ in range(draw(st.integers(0, 3))):
        odds = draw(st.integers(0, 19))            # 1 in 20: something out of place, else a flag and a fitting value
        if odds == 0:
            argv.append(draw(st.sampled_from(["--bogus", "--"])) if draw(st.booleans()) else draw(argument_values()))
            continue
        flag = draw(st.sampled_from(FLAGS[command]))
        argv.append(flag)
        if actions[flag].nargs != 0 and odds != 1:  # 1 in 20: the value left out
            argv.append(draw(argument_values() if odds == 2 else flag_values(actions[flag])))
    return argv + CAPS.get(command, [])


# -- the materials: good inputs, trained runs, hostile files ----------------------------------------------------


def write_hostile_files(root: Path) -> None:
    (root / "binary.txt").write_bytes(b"\x00\x01" * 100)
    (root / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 50)
    (root / "weights.pt").write_bytes(pickle.dumps({"w": 1}))
    (root / "directory").mkdir()
    (root / "empty.csv").write_bytes(b"")
    (root / "header-only.tsv").write_text("title\tpoem\ttext\tlabel\n", encoding="utf-8")
    labelled = (root / "labelled.csv").read_text(encoding="utf-8")
    (root / "truncated.csv").write_text(labelled[:len(labelled) // 2] + '"an unfinished, quoted', encoding="utf-8")
    (root / "wrong-columns.csv").write_text("colour,size\nred,1\nblue,2\n" * 5, encoding="utf-8")
    values = noisy_season()
    write_csv(root / "nan-series.csv", values)
    text = (root / "nan-series.csv").read_text().splitlines()
    text[20] = text[20].rsplit(",", 1)[0] + ",nan"
    (root / "nan-series.csv").write_text("\n".join(text) + "\n")
    write_csv(root / "huge-series.csv", values * 1e300)
    (root / "not-results").mkdir()
    (root / "not-results" / "results.json").write_text("[1, 2]")


@pytest.fixture(scope="module")
def materials(tmp_path_factory) -> Path:
    """A corpus, a labelled file, a series, a trained tiny run of each, and hostile files, copied afresh for
    every example."""
    root = tmp_path_factory.mktemp("materials")
    corpus = write_corpus(root)
    assert train(corpus, root / "run", "--max-steps", "5") == 0
    labelled = write_labelled(root / "labelled.csv", labelled_rows(10), header=("text", "label"))
    assert main(["classify", "train", "--data", str(labelled), "--out", str(root / "classifier"),
                 "--max-steps", "3", "--eval-every", "2", *CLASSIFY_CAPS[4:]]) == 0
    series, _ = write_csv(root / "series.csv")
    assert main(["forecast", "train", "--csv", str(series), "--column", "units", "--date-column", "month",
                 "--out", str(root / "forecaster"), "--max-steps", "3", *FORECAST_CAPS[4:]]) == 0
    shutil.copytree(Path(__file__).parent / "fixtures" / "runs_v1" / "data" / "time_series",
                    root / "data" / "time_series")
    write_hostile_files(root)
    return root


@contextlib.contextmanager
def scratch_copy(materials: Path):
    """A fresh copy of the materials as the working directory (default run directories land there), with no
    built-in datasets by default (so a default of SST-2 never reads the real one) and one text on stdin."""
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


# -- what a command may write -------------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with what a write would change: a file's inode, size and mtime; a folder's kind."""
    state = {}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            state[path] = ("dir",) if stat.S_ISDIR(info.st_mode) else (info.st_mode, info.st_ino, info.st_size,
                                                                        info.st_mtime_ns)
    return state


def allowed_places(argv: list[str], scratch: Path) -> list[Path]:
    """Where ``rnnkit ARGV`` may write: the folder it names with --out or --resume, the default runs/ folder, and
    for plot and eval the run directory of a run given (a checkpoint's run directory too)."""
    allowed = [scratch / "runs"]
    for flag, value in zip(argv, argv[1:]):
        if flag in ("--out", "--resume") and value:
            allowed.append(scratch / value)
    if argv[:1] == ["plot"] or argv[1:2] == ["eval"]:
        for arg in argv:
            path = scratch / arg if arg else None
            if path is not None and path.is_dir():
                allowed.append(path.parent.parent if path.parent.name == "checkpoints" else path)
    return [Path(os.path.normpath(path)) for path in allowed]


def written_outside(before: dict, after: dict, allowed: list[Path]) -> list[str]:
    """Paths created, changed or deleted outside ``allowed`` (a new folder on the way to an allowed one is fine)."""
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}

    def fine(path: str) -> bool:
        path = Path(path)
        inside = any(path == place or place in path.parents for place in allowed)
        on_the_way = after.get(str(path)) == ("dir",) and any(path in place.parents for place in allowed)
        return inside or on_the_way
    return sorted(path for path in changed if not fine(path))


ROOT_ENTRIES = sorted(os.listdir("/"))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_any_command_line_on_any_input_exits_cleanly_and_writes_only_where_it_may(materials, capsys, argv):
    with scratch_copy(materials) as scratch:
        argv = [PLACES.get(arg, arg) for arg in argv]
        before = snapshot(scratch)
        try:
            code = main(argv)
        except SystemExit as exit_:            # argparse: --help, or a usage error
            code = exit_.code
        outside = written_outside(before, snapshot(scratch), allowed_places(argv, scratch))
    err = capsys.readouterr().err
    event(f"{' '.join(word for word in argv[:2] if not word.startswith('-'))}: exit {code}")
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)                  # 1 is an internal failure: a bug
    if code:
        assert sum(": error: " in line for line in err.splitlines()) == 1, (argv, err)
    assert not outside, (argv, outside)
    assert sorted(os.listdir("/")) == ROOT_ENTRIES, argv
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and stat.S_ISCHR(os.stat("/dev/zero").st_mode)


def test_every_command_is_fuzzed_with_its_new_flags():
    assert {"--resume", "--log-every", "--monitor", "--min-delta"} <= set(FLAGS["train"])
    assert {"--data", "--text-column", "--label-column", "--split-column", "--split-seed", "--dataset",
            "--data-dir"} <= set(FLAGS["classify train"])
    assert {"--csv", "--column", "--date-column", "--refit"} <= set(FLAGS["forecast train"])
    assert "--walk-forward" in FLAGS["forecast eval"]
    assert {"--folds", "--block", "--seeds"} <= set(FLAGS["forecast backtest"])
    assert {"--steps", "--strategy", "--part", "--out"} <= set(FLAGS["forecast eval"])
    assert set(COMMANDS) == {" ".join(words) for words in (["train"], ["sample"], ["plot"])} | {
        f"{task} {action}" for task, actions in (("classify", ("train", "eval", "predict")),
                                                 ("forecast", ("train", "eval", "predict", "backtest")))
        for action in actions}


def test_the_materials_are_sound(materials, capsys):
    """The unchanged runs load and work: what the fuzz refuses is the command line, not the fixture."""
    _, meta = load_checkpoint(materials / "run")
    assert meta["trainer"]["step"] == 5 and meta["spec"]["vocab"] == sorted(set(TEXT))
    with scratch_copy(materials):
        assert main(["sample", "run", "--length", "3", "--seed", "0"]) == 0
        assert main(["classify", "predict", "classifier", "a great film"]) == 0
        assert main(["classify", "predict", "classifier"]) == 0          # the text on stdin
        assert main(["forecast", "predict", "forecaster", "--steps", "2"]) == 0
        assert main(["forecast", "eval", "forecaster"]) == 0
        assert main(["forecast", "train", "--data-dir", "data", "--out", "built-in", *FORECAST_CAPS]) == 0
    assert capsys.readouterr().out.count("a great film") == 2


def test_the_write_check_catches_a_write_outside_the_allowed_places(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    (tmp_path / "notes.txt").write_text("changed")
    (tmp_path / "run" / "results.json").write_text("{}")
    (tmp_path / "out" / "deep").mkdir(parents=True)
    allowed = allowed_places(["classify", "eval", "run", "--out", "out/deep/x"], tmp_path)
    assert written_outside(before, snapshot(tmp_path), allowed) == [str(tmp_path / "notes.txt")]
