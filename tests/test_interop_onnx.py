"""rnnkit/interop/onnx.py (and onnx_scan.py): onnxruntime runs the exported graphs as rnnkit does, to 1e-5."""

import json

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rnnkit.errors import ConfigError  # noqa: E402
from rnnkit.interop.onnx import export_onnx, onnx_model  # noqa: E402
from rnnkit.layers.linear import Linear  # noqa: E402
from rnnkit.layers.recurrent import GRU, LSTM, RNN  # noqa: E402
from rnnkit.models.char_lm import CharLM, CharLMConfig  # noqa: E402
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier  # noqa: E402
from rnnkit.models.forecaster import Forecaster, ForecasterConfig  # noqa: E402

INPUT, HIDDEN = 3, 4
TOLERANCE = dict(atol=1e-5, rtol=1e-5)
# every variant: ONNX has LSTM (with peepholes), GRU (both forms) and RNN; the projection is a Scan
VARIANTS = {
    "rnn-tanh": (RNN, {}),
    "rnn-relu": (RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, {}),
    "lstm-peephole": (LSTM, {"peephole": True}),
    "lstm-proj": (LSTM, {"proj_size": 2}),
    "lstm-proj-peephole": (LSTM, {"proj_size": 3, "peephole": True}),
    "gru-reset-after": (GRU, {}),
    "gru-reset-before": (GRU, {"reset_after": False}),
}
STACKS = {"1-layer": dict(num_layers=1), "2-layer-bidirectional": dict(num_layers=2, bidirectional=True),
          "no-bias-batch-first": dict(num_layers=2, bias=False, batch_first=True)}
LENGTHS = np.array([6, 2, 5])


def session(source, **options):
    return ort.InferenceSession(onnx_model(source, **options).SerializeToString(),
                                providers=["CPUExecutionProvider"])


def make_layer(variant, dtype=np.float32, **stack):
    cls, options = VARIANTS[variant]
    layer = cls(INPUT, HIDDEN, **options, **stack, dtype=dtype, rng=0)
    for name, value in layer.parameters().items():            # peepholes and biases far from zero
        value[...] = np.random.default_rng(len(name)).uniform(-0.8, 0.8, value.shape)
    return layer.eval()


def random_inputs(layer, steps, batch, rng):
    shape = (batch, steps, INPUT) if layer.batch_first else (steps, batch, INPUT)
    x = rng.standard_normal(shape).astype(layer.dtype)
    rows = layer.num_layers * layer.num_directions
    return x, [rng.standard_normal((rows, batch, size)).astype(layer.dtype) for size in layer.cell.state_sizes]


def run_layer(layer, x, states, lengths=None):
    """rnnkit's y and final states, as a list, for comparison with onnxruntime's outputs."""
    y, final = layer(x, tuple(states) if len(states) > 1 else states[0], lengths=lengths)
    return [y, *(final if isinstance(final, tuple) else (final,))]


def feed_of(x, states, lengths=None):
    feed = {"x": x.astype(np.float32), **{name: s.astype(np.float32) for name, s in zip(("h0", "c0"), states)}}
    if lengths is not None:
        feed["lengths"] = np.asarray(lengths, np.int64)
    return feed


def assert_all_close(actual, expected):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        np.testing.assert_allclose(a, b, **TOLERANCE)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_onnxruntime_gives_rnnkit_outputs_and_final_states(variant, stack, with_lengths):
    layer = make_layer(variant, **STACKS[stack])
    lengths = LENGTHS if with_lengths else None
    x, states = random_inputs(layer, 6, 3, np.random.default_rng(0))
    outputs = session(layer, lengths=with_lengths).run(None, feed_of(x, states, lengths))
    assert_all_close(outputs, run_layer(layer, x, states, lengths))


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_graph_takes_any_batch_size_and_length(variant):
    layer = make_layer(variant, num_layers=2, bidirectional=True)
    runner = session(layer)
    rng = np.random.default_rng(1)
    for steps, batch in ((1, 1), (7, 5), (3, 2)):
        x, states = random_inputs(layer, steps, batch, rng)
        assert_all_close(runner.run(None, feed_of(x, states)), run_layer(layer, x, states))


@pytest.mark.parametrize("variant", VARIANTS)
def test_streaming_two_chunks_through_the_states_equals_one_pass(variant):
    layer = make_layer(variant, num_layers=2)
    runner = session(layer)
    x, states = random_inputs(layer, 9, 2, np.random.default_rng(2))
    whole = runner.run(None, feed_of(x, states))
    first = runner.run(None, feed_of(x[:4], states))
    second = runner.run(None, feed_of(x[4:], first[1:]))
    assert_all_close([np.concatenate([first[0], second[0]])] + second[1:], whole)
    assert_all_close(whole, run_layer(layer, x, states))


def test_a_float64_layer_runs_in_float32_within_tolerance():
    layer = make_layer("lstm-peephole", dtype=np.float64, num_layers=2, bidirectional=True)
    x, states = random_inputs(layer, 6, 3, np.random.default_rng(3))
    outputs = session(layer, lengths=True).run(None, feed_of(x, states, LENGTHS))
    assert all(output.dtype == np.float32 for output in outputs)
    assert_all_close(outputs, run_layer(layer, x, states, LENGTHS))


def test_inputs_outputs_and_metadata_of_a_layer_graph(tmp_path):
    layer = make_layer("lstm-proj", num_layers=2, bidirectional=True)
    path = export_onnx(layer, tmp_path / "lstm.onnx", lengths=True, metadata={"note": "a test"})
    import onnx
    model = onnx.load(path)
    shapes = {value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
              for value in (*model.graph.input, *model.graph.output)}
    assert shapes == {"x": ["time", "batch", 3], "h0": [4, "batch", 2], "c0": [4, "batch", 4],
                      "lengths": ["batch"], "y": ["time", "batch", 4], "h_n": [4, "batch", 2], "c_n": [4, "batch", 4]}
    properties = {p.key: p.value for p in model.metadata_props}
    assert properties["note"] == "a test"
    assert json.loads(properties["rnnkit.source"]) == {"class": "LSTM", "config": dict(
        input_size=3, hidden_size=4, num_layers=2, bias=True, batch_first=False, bidirectional=True, proj_size=2,
        peephole=False)}


# -- whole models --------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("embedding_dim", [5, 0], ids=["embedding", "one-hot"])
def test_char_lm_graph_streams_logits_and_states(cell, embedding_dim):
    model = CharLM(CharLMConfig(vocab_size=11, cell=cell, hidden_size=HIDDEN, num_layers=2,
                                embedding_dim=embedding_dim), rng=0).eval()
    runner = session(model)
    ids = np.random.default_rng(0).integers(0, 11, (8, 3))
    logits, state = model(ids)
    states = state if isinstance(state, tuple) else (state,)
    zeros = {name: np.zeros_like(s) for name, s in zip(("h0", "c0"), states)}
    first = runner.run(None, {"ids": ids[:5], **zeros})
    second = runner.run(None, {"ids": ids[5:], **dict(zip(("h0", "c0"), first[1:]))})
    assert_all_close([np.concatenate([first[0], second[0]])] + second[1:], [logits, *states])


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_classifier_graph_pools_each_sequence_over_its_length(cell, pooling):
    config = ClassifierConfig(vocab_size=13, num_classes=3, cell=cell, embedding_dim=5, hidden_size=HIDDEN,
                              num_layers=2, pooling=pooling)
    model = SequenceClassifier(config, rng=0).eval()
    ids = np.random.default_rng(0).integers(1, 13, (6, 3))
    ids[LENGTHS[None, :] <= np.arange(6)[:, None]] = 0           # padding
    (logits,) = session(model).run(None, {"ids": ids, "lengths": LENGTHS})
    np.testing.assert_allclose(logits, model(ids, LENGTHS), **TOLERANCE)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_forecaster_graph_predicts_from_the_last_step(cell):
    model = Forecaster(ForecasterConfig(cell=cell, input_size=2, hidden_size=HIDDEN, num_layers=2, horizon=3),
                       rng=0).eval()
    x = np.random.default_rng(0).standard_normal((7, 4, 2)).astype(np.float32)
    (prediction,) = session(model).run(None, {"x": x})
    np.testing.assert_allclose(prediction, model(x), **TOLERANCE)


def test_trained_run_exports_its_model_and_other_modules_are_refused(tmp_path):
    class Run:
        model = CharLM(CharLMConfig(vocab_size=5, hidden_size=HIDDEN, num_layers=1, embedding_dim=3), rng=0)
    assert export_onnx(Run(), tmp_path / "run.onnx").stat().st_size > 0
    with pytest.raises(ConfigError, match="cannot convert a Linear"):
        onnx_model(Linear(3, 4))
