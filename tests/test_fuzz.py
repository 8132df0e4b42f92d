"""Property-based tests of the library: the layers, and checkpoints whose contents are hostile.

Each runs a handful of examples by default (see the "rnnkit" hypothesis profile in conftest.py);
``RNNKIT_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py tests/test_cli_fuzz.py`` makes a long fuzz run.
The command line is fuzzed in test_cli_fuzz.py, the corpus reader in test_text.py and
test_corpus_streaming.py, checkpoint files byte by byte in test_checkpoint.py.
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.errors import RnnkitError
from rnnkit.gradcheck import gradcheck
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.models.classifier import ClassifierConfig
from rnnkit.tasks import classification, language_model
from rnnkit.tasks.classification import ClassifySpec, TextSource
from rnnkit.training.checkpoint import load_checkpoint, read_marks, save_checkpoint
from labelled_texts import labelled_rows, write_labelled
from tiny_lm import TEXT, quiet, train_tiny, write_corpus

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

def meta_paths(meta: dict) -> list[tuple[str, ...]]:
    """Where a run-format-2 meta.json (rnnkit.training.run_meta) holds what: its parts, and each key of each part."""
    return ([("run_format",), ("task",), ("spec",), ("trainer",)]
            + [(part, key) for part in ("spec", "trainer") for key in sorted(meta[part])])


@st.composite
def meta_changes(draw, meta: dict):
    """A path into ``meta`` (a part, a key of a part, or one key deeper) and a random JSON value to put there."""
    path = list(draw(st.sampled_from(meta_paths(meta))))
    inner = meta
    for key in path:
        inner = inner.get(key) if isinstance(inner, dict) else None
    if len(path) == 2 and isinstance(inner, dict) and inner and draw(st.booleans()):
        path.append(draw(st.sampled_from(sorted(inner))))
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


@pytest.fixture(scope="module")
def materials(tmp_path_factory) -> Path:
    """A corpus and a tiny language-model run on it (5 updates); labelled texts and a tiny classifier run on them
    (3 updates); copied afresh for every example."""
    root = tmp_path_factory.mktemp("materials")
    train_tiny(write_corpus(root), root / "run", max_steps=5)
    labelled = write_labelled(root / "labelled.csv", labelled_rows(10))
    spec = ClassifySpec(TextSource(file=str(labelled), text_column="review", label_column="stars"),
                        ClassifierConfig(vocab_size=1, embedding_dim=4, hidden_size=4))
    classification.train(spec, classification.train_config(max_steps=3, eval_every=2), root / "classifier",
                         progress=False, echo=quiet)
    return root


def refused_or_done(*calls) -> None:
    """Each call succeeds or raises an error a user can act on (RnnkitError: one line on the command line)."""
    for call in calls:
        try:
            call()
        except RnnkitError:
            pass


def sample_three(run: Path) -> None:
    assert len("".join(language_model.sample(language_model.load_run(run), 3, rng=0))) == 3


def use_language_model(run: Path) -> None:
    """What ``rnnkit sample`` and ``rnnkit train --resume`` do with a run, through the library."""
    refused_or_done(
        lambda: sample_three(run),
        lambda: language_model.resume(run, {"max_steps": 7, "max_minutes": 0.05}, progress=False, echo=quiet))


def use_classifier(run: Path) -> None:
    """What ``rnnkit classify predict | eval | train --resume`` do with a run, through the library."""
    refused_or_done(
        lambda: classification.predict(classification.load_ensemble([run]), ["a great film", ""]),
        lambda: classification.evaluate([classification.load_run(run, "last")], ("test",), run),
        lambda: classification.resume(run, {"max_steps": 5, "max_minutes": 0.05}, progress=False, echo=quiet))


USES = {"run": use_language_model, "classifier": use_classifier}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.parametrize("which", USES)
def test_hostile_checkpoint_contents_are_refused_or_used_never_crash(materials, which, data):
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(shutil.copytree(materials / which, Path(scratch) / which))
        tensors, meta = load_checkpoint(run)
        if data.draw(st.booleans()):
            path, value = data.draw(meta_changes(meta))
            target = meta
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        else:
            group, name, value = data.draw(tensor_changes(tensors))
            tensors[group][name] = value
        for mark in set(read_marks(run).values()):
            save_checkpoint(run, mark, tensors, meta)
        USES[which](run)


def test_the_materials_are_sound(materials, tmp_path):
    """The unchanged runs load and resume: what the hostile tests refuse is the change, not the fixtures."""
    _, meta = load_checkpoint(materials / "run")
    assert meta["trainer"]["step"] == 5 and meta["spec"]["vocab"] == sorted(set(TEXT))
    run = shutil.copytree(materials / "run", tmp_path / "run")
    language_model.resume(run, {"max_steps": 7}, progress=False, echo=quiet)
    sample_three(run)
    assert load_checkpoint(run)[1]["trainer"]["step"] == 7
    classifier = shutil.copytree(materials / "classifier", tmp_path / "classifier")
    classification.resume(classifier, {"max_steps": 5}, progress=False, echo=quiet)
    assert load_checkpoint(classifier)[1]["trainer"]["step"] == 5
    assert classification.predict([classification.load_run(classifier)], ["a great film"]).shape == (1, 3)
