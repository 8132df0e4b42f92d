"""Property-based tests: the command line, the layers, and checkpoints whose contents are hostile.

Each runs a handful of examples by default (see the "rnnkit" hypothesis profile in conftest.py);
``RNNKIT_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py`` makes a long fuzz run.
The corpus reader is fuzzed in test_text.py and test_corpus_streaming.py, checkpoint
files byte by byte in test_checkpoint.py.
"""

import contextlib
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli.main import main
from rnnkit.gradcheck import gradcheck
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.training.checkpoint import load_checkpoint, read_marks, save_checkpoint
from tiny_runs import TEXT, TINY_MODEL, train, write_corpus

# -- the command line ------------------------------------------------------------------------

COMMANDS = ["train", "sample", "plot"]
FLAGS = {
    "train": ["--encoding", "--column", "--val-fraction", "--seq-len", "--batch", "--cell", "--layers",
              "--hidden", "--embedding", "--dropout", "--dtype", "--epochs", "--max-steps", "--max-minutes",
              "--optimizer", "--lr", "--momentum", "--weight-decay", "--clip-norm", "--clip-value",
              "--schedule", "--patience", "--on-nan", "--seed", "--out", "--resume", "--eval-every",
              "--sample-every", "--checkpoint-every", "--sample-length", "--no-progress"],
    "sample": ["--which", "--prime", "--skip-unknown", "--length", "--temperature", "--top-k", "--greedy",
               "--seed", "--poem", "--lines", "--acrostic"],
    "plot": ["--out"],
}
WORDS = ["lstm", "gru", "rnn", "adam", "sgd", "none", "char-rnn", "plateau", "stop", "reduce-lr", "best",
         "last", "float32", "float64", "latin-1", "utf-16", "poem", "春花", "nan", "inf", "-inf", "1e308",
         "-0", "0.5", "x", "", "--", "-h"]
PATHS = ["CORPUS", "RUN", "MISSING", "DIRECTORY", "BINARY", "PICKLE"]

# Appended last, so that whatever the random flags say, a run stays a fraction of a second.
CAPS = {"train": ["--max-steps", "1", "--sample-length", "3", "--max-minutes", "0.05"],
        "sample": ["--length", "3"], "plot": []}


def argument_values():
    return st.one_of(st.integers(-3, 12).map(str), st.floats(allow_nan=True).map(repr),
                     st.sampled_from(WORDS), st.sampled_from(PATHS), st.text(max_size=6))


@st.composite
def command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(COMMANDS + ["bogus"]))
    flags = FLAGS.get(command, []) + ["--bogus"]
    argv = [command]
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
    """A corpus, a trained tiny run and some hostile files, copied afresh for every example."""
    root = tmp_path_factory.mktemp("materials")
    corpus = write_corpus(root)
    assert train(corpus, root / "run", "--max-steps", "5") == 0
    (root / "binary.txt").write_bytes(b"\x00\x01" * 100)
    (root / "weights.pt").write_bytes(pickle.dumps({"w": 1}))
    (root / "directory").mkdir()
    return root


PLACEHOLDERS = {"CORPUS": "corpus.txt", "RUN": "run", "MISSING": "missing.txt", "DIRECTORY": "directory",
                "BINARY": "binary.txt", "PICKLE": "weights.pt"}


@contextlib.contextmanager
def scratch_copy(materials: Path):
    """A fresh copy of the materials as the working directory (default run directories land there)."""
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(materials, scratch, dirs_exist_ok=True)
        os.chdir(scratch)
        try:
            yield Path(scratch)
        finally:
            os.chdir(previous)


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


# -- the layers ----------------------------------------------------------------------------------

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@st.composite
def layer_configs(draw) -> dict:
    kind = draw(st.sampled_from(sorted(LAYERS)))
    hidden = draw(st.integers(1, 3))
    config = dict(kind=kind, input_size=draw(st.integers(1, 3)), hidden_size=hidden,
                  num_layers=draw(st.integers(1, 2)), bias=draw(st.booleans()),
                  batch_first=draw(st.booleans()), bidirectional=draw(st.booleans()))
    if kind == "lstm":
        config.update(proj_size=draw(st.integers(0, hidden - 1)), peephole=draw(st.booleans()))
    if kind == "gru":
        config.update(reset_after=draw(st.booleans()))
    steps, batch = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    config.update(steps=steps, batch=batch, seed=draw(st.integers(0, 2**16)),
                  lengths=draw(st.none() | st.lists(st.integers(1, steps), min_size=batch, max_size=batch)),
                  with_state=draw(st.booleans()))
    return config


def as_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


@given(config=layer_configs())
def test_random_layer_config_backward_agrees_with_gradcheck(config):
    config = dict(config)
    kind, steps, batch, seed = (config.pop(key) for key in ("kind", "steps", "batch", "seed"))
    lengths, with_state = config.pop("lengths"), config.pop("with_state")
    rng = np.random.default_rng(seed)
    layer = LAYERS[kind](**config, dtype=np.float64, rng=rng)
    shape = (batch, steps) if config["batch_first"] else (steps, batch)
    x = rng.standard_normal((*shape, config["input_size"]))
    lengths = None if lengths is None else np.array(lengths)
    states = None
    if with_state:
        count = layer.num_layers * layer.num_directions
        states = tuple(rng.standard_normal((count, batch, size)) for size in layer.cell.state_sizes)
    hx = None if states is None else (states[0] if len(states) == 1 else states)

    y, final = layer(x, hx, lengths)
    dy = rng.standard_normal(y.shape)
    dfinal = tuple(rng.standard_normal(s.shape) for s in as_tuple(final))

    def loss() -> float:
        y, final = layer(x, hx, lengths)
        return float(np.sum(y * dy) + sum(np.sum(s * d) for s, d in zip(as_tuple(final), dfinal)))

    layer.zero_grad()
    layer(x, hx, lengths)
    dx, dstates = layer.backward(dy, dfinal[0] if len(dfinal) == 1 else dfinal)
    arrays, grads = {"x": x, **layer.parameters()}, {"x": dx, **layer.grads}
    for index, (state, dstate) in enumerate(zip(states or (), as_tuple(dstates))):
        arrays[f"state{index}"], grads[f"state{index}"] = state, dstate
    result = gradcheck(loss, arrays, grads)
    # A relative error is only meaningful above the finite differences' rounding noise (~1e-10):
    # an array whose gradients are all ~1e-5 can show 1e-6 with a correct backward pass.
    wrong = {name: error for name, error in result.errors.items()
             if error > 1e-6 and error * np.abs(grads[name]).max(initial=0.0) > 1e-9}
    assert not wrong, (config, result)


DTYPES = [np.float32, np.float64, np.int64, np.bool_, np.complex64]


@given(ndim=st.integers(0, 4), dims=st.lists(st.integers(0, 4), min_size=4, max_size=4),
       dtype=st.sampled_from(DTYPES), poison=st.sampled_from([None, np.nan, np.inf]),
       lengths=st.none() | st.lists(st.integers(-1, 6), max_size=4),
       state_shape=st.none() | st.lists(st.integers(0, 3), min_size=1, max_size=4),
       kind=st.sampled_from(sorted(LAYERS)))
def test_bad_layer_inputs_raise_value_error_naming_the_argument(ndim, dims, dtype, poison, lengths,
                                                                state_shape, kind):
    layer = LAYERS[kind](3, 2, num_layers=2)
    x = np.ones(dims[:ndim], dtype=dtype)
    if poison is not None and x.size and np.issubdtype(dtype, np.floating):
        x.flat[0] = poison
    hx = None if state_shape is None else np.zeros(state_shape, np.float32)
    if kind == "lstm" and hx is not None:
        hx = (hx, hx)
    try:
        layer(x, hx, None if lengths is None else np.array(lengths, dtype=np.int64))
    except ValueError as error:
        assert any(name in str(error) for name in ("x", "hx", "lengths", "state")), str(error)


# -- checkpoints with hostile contents (valid checksums) ------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)

META_FIELDS = ["task", "model_config", "vocab", "dtype", "corpus", "batch_size", "seq_len", "train_config",
               "step", "optimizer", "task_state", "rng", "schedule", "best_score", "evals_without_improvement"]


@st.composite
def meta_changes(draw, meta: dict):
    """A path into ``meta`` (one or two keys deep) and a random JSON value to put there."""
    key = draw(st.sampled_from(META_FIELDS))
    path = [key]
    if isinstance(meta.get(key), dict) and meta[key] and draw(st.booleans()):
        path.append(draw(st.sampled_from(sorted(meta[key]))))
    return path, draw(json_values)


@st.composite
def tensor_changes(draw, tensors: dict):
    """A tensor of a random group replaced by a random small array."""
    group = draw(st.sampled_from(sorted(name for name, arrays in tensors.items() if arrays)))
    name = draw(st.sampled_from(sorted(tensors[group])))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int32, np.uint8]))
    with np.errstate(invalid="ignore", over="ignore"):
        return group, name, np.full(shape, draw(st.floats(-10, 10) | st.sampled_from([np.nan, np.inf])))\
            .astype(dtype)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_checkpoint_contents_are_refused_or_used_never_crash(materials, capsys, data):
    with scratch_copy(materials) as scratch:
        run = scratch / "run"
        tensors, meta = load_checkpoint(run)
        if data.draw(st.booleans()):
            path, value = data.draw(meta_changes(meta))
            target = meta if len(path) == 1 else meta[path[0]]
            target[path[-1]] = value
        else:
            group, name, value = data.draw(tensor_changes(tensors))
            tensors[group][name] = value
        for mark in set(read_marks(run).values()):
            save_checkpoint(run, mark, tensors, meta)
        for argv in (["sample", "run", "--length", "3", "--seed", "0"],
                     ["train", "--resume", "run", "--max-steps", "7", "--max-minutes", "0.05",
                      "--no-progress", "--sample-length", "0"]):
            code = main(argv)
            err = capsys.readouterr().err
            assert code in (0, 2), (argv, err)
            assert "Traceback" not in err


def test_the_materials_are_sound(materials):
    """The unchanged run loads: what the hostile tests refuse is the change, not the fixture."""
    tensors, meta = load_checkpoint(materials / "run")
    assert meta["step"] == 5 and meta["vocab"] == sorted(set(TEXT))
