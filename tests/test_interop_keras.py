"""rnnkit/interop/keras.py, keras_format.py, keras_h5.py: Keras 3 layers compute what rnnkit's do, both ways."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")         # before keras is imported
keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

from rnnkit.errors import CheckpointError, ConfigError  # noqa: E402
from rnnkit.interop.keras import from_keras, keras_model, keras_weights  # noqa: E402
from rnnkit.interop.keras_h5 import load_keras_weights, save_keras_weights  # noqa: E402
from rnnkit.layers.recurrent import GRU, LSTM, RNN  # noqa: E402
from rnnkit.models.char_lm import CharLM, CharLMConfig  # noqa: E402
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier  # noqa: E402
from rnnkit.models.forecaster import Forecaster, ForecasterConfig  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")   # keras on torch
INPUT, HIDDEN, STEPS, BATCH = 3, 4, 5, 2
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
# every variant Keras has: (rnnkit class, rnnkit options, Keras class, Keras options)
VARIANTS = {
    "lstm": (LSTM, {}, "LSTM", {}),
    "gru-reset-after": (GRU, {}, "GRU", {"reset_after": True}),
    "gru-reset-before": (GRU, {"reset_after": False}, "GRU", {"reset_after": False}),
    "rnn-tanh": (RNN, {}, "SimpleRNN", {}),
    "rnn-relu": (RNN, {"nonlinearity": "relu"}, "SimpleRNN", {"activation": "relu"}),
}
STACKS = {"1-layer": dict(num_layers=1), "2-layer-bidirectional": dict(num_layers=2, bidirectional=True),
          "2-layer-no-bias": dict(num_layers=2, bias=False)}


@pytest.fixture(autouse=True)
def keras_float64_in_float64(monkeypatch):
    """Keras 3.15 on torch rounds float64 products to float32 (``dtypes.result_type`` maps float64 to
    float32: keras-team/keras#23704), which its SimpleRNN and reset-before GRU cells use; the LSTM and the
    reset-after GRU run torch's own kernels. Undone here, so that float64 compares at 1e-10 for every variant."""
    from keras.src.backend.common import dtypes
    monkeypatch.setattr(dtypes, "BIT64_TO_BIT32_DTYPE", {}, raising=False)


def make_layer(variant, stack, dtype):
    cls, options, _, _ = VARIANTS[variant]
    layer = cls(INPUT, HIDDEN, **options, **STACKS[stack], batch_first=True, dtype=dtype, rng=0)
    for name, value in layer.parameters().items():             # biases far from zero, b_ih != b_hh
        value[...] = np.random.default_rng(len(name)).uniform(-0.8, 0.8, value.shape)
    return layer


def keras_stack(variant, stack, dtype):
    """The same stack built with keras's own API, its weights random (biases too)."""
    _, _, class_name, options = VARIANTS[variant]
    structure = STACKS[stack]
    layers = []
    for _ in range(structure["num_layers"]):
        layer = getattr(keras.layers, class_name)(HIDDEN, return_sequences=True, use_bias=structure.get("bias", True),
                                                  dtype=dtype.__name__, **options)
        layers.append(keras.layers.Bidirectional(layer, dtype=dtype.__name__) if structure.get("bidirectional")
                      else layer)
    model = keras.Sequential([keras.Input((None, INPUT), dtype=dtype.__name__), *layers])
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype(dtype) for w in model.get_weights()])
    return model


def keras_outputs(model, x):
    return keras.ops.convert_to_numpy(model(x))


def random_input(dtype, features=INPUT):
    return np.random.default_rng(1).standard_normal((BATCH, STEPS, features)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_keras_model_of_a_layer_gives_its_outputs(variant, stack, dtype):
    layer = make_layer(variant, stack, dtype)
    x = random_input(dtype)
    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(keras_outputs(keras_model(layer), x), layer(x)[0], atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_keras_stack_loads_into_rnnkit_with_or_without_a_layer_to_load_into(variant, stack, dtype):
    model = keras_stack(variant, stack, dtype)
    x = random_input(dtype)
    expected = keras_outputs(model, x)
    tolerance = TOLERANCE[dtype]
    layer = from_keras(model)
    assert type(layer) is VARIANTS[variant][0] and layer.dtype == dtype and layer.batch_first
    np.testing.assert_allclose(layer(x)[0], expected, atol=tolerance, rtol=tolerance)
    into = make_layer(variant, stack, dtype)
    assert from_keras(model, into) is into
    np.testing.assert_allclose(into(x)[0], expected, atol=tolerance, rtol=tolerance)


def test_keras_weights_are_the_transposed_reordered_blocks():
    layer = make_layer("gru-reset-after", "1-layer", np.float64)
    kernel, recurrent_kernel, bias = keras_weights(layer)[0]
    p = layer.cell_parameters(0)
    H = HIDDEN
    np.testing.assert_array_equal(kernel[:, :H], p["weight_ih"][H:2 * H].T)        # Keras z = rnnkit's second block
    np.testing.assert_array_equal(recurrent_kernel[:, H:2 * H], p["weight_hh"][:H].T)   # Keras r = rnnkit's first
    np.testing.assert_array_equal(bias, np.stack([np.concatenate([b[H:2 * H], b[:H], b[2 * H:]])
                                                  for b in (p["bias_ih"], p["bias_hh"])]))
    lstm = make_layer("lstm", "1-layer", np.float64)
    q = lstm.cell_parameters(0)
    np.testing.assert_array_equal(keras_weights(lstm)[0][2], q["bias_ih"] + q["bias_hh"])


# -- .weights.h5 ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_weights_h5_written_by_keras_loads_into_rnnkit(tmp_path, variant, stack):
    model = keras_stack(variant, stack, np.float32)
    model.save_weights(tmp_path / "model.weights.h5")
    x = random_input(np.float32)
    expected = keras_outputs(model, x)
    options = VARIANTS[variant][3]           # what shapes do not tell: SimpleRNN's activation, a bias-free GRU's form
    layer = load_keras_weights(tmp_path / "model.weights.h5", nonlinearity=options.get("activation", "tanh"),
                               reset_after=options.get("reset_after"))
    np.testing.assert_allclose(layer(x)[0], expected, atol=1e-5, rtol=1e-5)
    into = make_layer(variant, stack, np.float64)
    load_keras_weights(tmp_path / "model.weights.h5", into)
    np.testing.assert_allclose(into(x.astype(np.float64))[0], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_weights_h5_written_by_rnnkit_loads_into_keras(tmp_path, variant, stack):
    layer = make_layer(variant, stack, np.float32)
    save_keras_weights(layer, tmp_path / "layer.weights.h5")
    model = keras_stack(variant, stack, np.float32)                 # other weights, then the file's
    model.load_weights(tmp_path / "layer.weights.h5")
    x = random_input(np.float32)
    np.testing.assert_allclose(keras_outputs(model, x), layer(x)[0], atol=1e-5, rtol=1e-5)


def test_weights_h5_errors_name_the_variables(tmp_path):
    save_keras_weights(make_layer("lstm", "2-layer-bidirectional", np.float32), tmp_path / "lstm.weights.h5")
    with pytest.raises(CheckpointError) as error:
        load_keras_weights(tmp_path / "lstm.weights.h5", LSTM(INPUT, 5, num_layers=2, bidirectional=True))
    assert "`layers/bidirectional/forward_layer/cell/vars/0` has shape (3, 16) where (3, 20)" in str(error.value)
    third = r"missing .*`layers/bidirectional_2/forward_layer/cell/vars/0` \(8, 16\)"
    with pytest.raises(CheckpointError, match=third):
        load_keras_weights(tmp_path / "lstm.weights.h5", LSTM(INPUT, HIDDEN, num_layers=3, bidirectional=True))
    with pytest.raises(CheckpointError, match="unexpected `layers/lstm_1/cell/vars/0`"):
        save_keras_weights(make_layer("lstm", "2-layer-no-bias", np.float32), tmp_path / "two.weights.h5")
        load_keras_weights(tmp_path / "two.weights.h5", LSTM(INPUT, HIDDEN, bias=False))
    (tmp_path / "junk.weights.h5").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable HDF5"):
        load_keras_weights(tmp_path / "junk.weights.h5")


# -- whole models --------------------------------------------------------------------------


@pytest.mark.parametrize("embedding_dim", [5, 0], ids=["embedding", "one-hot"])
def test_char_lm_through_keras_and_its_weights_file(tmp_path, embedding_dim):
    model = CharLM(CharLMConfig(vocab_size=7, cell="gru", hidden_size=HIDDEN, num_layers=2,
                                embedding_dim=embedding_dim), dtype=np.float64, rng=0).eval()
    ids = np.random.default_rng(0).integers(0, 7, (BATCH, STEPS))
    logits, _ = model(ids.T)
    keras_lm = keras_model(model)
    np.testing.assert_allclose(keras_outputs(keras_lm, ids), logits.transpose(1, 0, 2), atol=1e-10)
    keras_lm.save_weights(tmp_path / "lm.weights.h5")
    fresh = CharLM(model.config, dtype=np.float64, rng=1).eval()
    load_keras_weights(tmp_path / "lm.weights.h5", fresh)
    np.testing.assert_allclose(fresh(ids.T)[0], logits, atol=1e-10)
    again = from_keras(keras_lm, CharLM(model.config, dtype=np.float64, rng=2)).eval()
    np.testing.assert_allclose(again(ids.T)[0], logits, atol=1e-10)


def test_tied_char_lm_through_keras_and_its_weights_file(tmp_path):
    config = CharLMConfig(vocab_size=7, hidden_size=HIDDEN, num_layers=1, embedding_dim=HIDDEN, tie_weights=True)
    model = CharLM(config, dtype=np.float64, rng=0).eval()
    ids = np.random.default_rng(0).integers(0, 7, (BATCH, STEPS))
    logits, _ = model(ids.T)
    keras_lm = keras_model(model)                        # its Dense kernel: a copy of E^T
    np.testing.assert_allclose(keras_outputs(keras_lm, ids), logits.transpose(1, 0, 2), atol=1e-10)
    keras_lm.save_weights(tmp_path / "lm.weights.h5")
    fresh = CharLM(config, dtype=np.float64, rng=1).eval()
    load_keras_weights(tmp_path / "lm.weights.h5", fresh)
    np.testing.assert_allclose(fresh(ids.T)[0], logits, atol=1e-10)


def test_forecaster_through_keras(tmp_path):
    model = Forecaster(ForecasterConfig(cell="lstm", input_size=2, hidden_size=HIDDEN, num_layers=2, horizon=3),
                       dtype=np.float64, rng=0).eval()
    x = random_input(np.float64, features=2)
    keras_forecaster = keras_model(model)
    np.testing.assert_allclose(keras_outputs(keras_forecaster, x), model(x.transpose(1, 0, 2)), atol=1e-10)
    save_keras_weights(model, tmp_path / "f.weights.h5")
    keras_forecaster.set_weights([np.zeros_like(w) for w in keras_forecaster.get_weights()])
    keras_forecaster.load_weights(tmp_path / "f.weights.h5")
    np.testing.assert_allclose(keras_outputs(keras_forecaster, x), model(x.transpose(1, 0, 2)), atol=1e-10)


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("source, words", [
    (LSTM(INPUT, HIDDEN, peephole=True), "Keras cannot express an LSTM with peephole"),
    (LSTM(INPUT, HIDDEN, proj_size=2), "Keras cannot express an LSTM with a projection"),
    (SequenceClassifier(ClassifierConfig(vocab_size=5)), "Keras cannot express a SequenceClassifier"),
], ids=["peephole", "proj_size", "classifier"])
def test_what_keras_cannot_express_is_refused(tmp_path, source, words):
    with pytest.raises(ConfigError, match=words):
        keras_weights(source)
    with pytest.raises(ConfigError, match=words):
        save_keras_weights(source, tmp_path / "x.weights.h5")
    assert not (tmp_path / "x.weights.h5").exists()


@pytest.mark.parametrize("layer, words", [
    (keras.layers.LSTM(HIDDEN, recurrent_activation="hard_sigmoid"), "recurrent_activation 'hard_sigmoid'"),
    (keras.layers.GRU(HIDDEN, go_backwards=True), "reads its input backwards"),
    (keras.layers.Bidirectional(keras.layers.LSTM(HIDDEN), merge_mode="sum"), "merges its directions by 'sum'"),
    (keras.layers.SimpleRNN(HIDDEN, activation="sigmoid"), "activation 'sigmoid'"),
    (keras.layers.Dense(HIDDEN, activation="softmax"), "Dense \\(without activation\\)"),
], ids=["hard-sigmoid", "go-backwards", "merge-sum", "sigmoid-rnn", "dense-softmax"])
def test_keras_layers_rnnkit_does_not_compute_are_refused_by_name(layer, words):
    keras.Sequential([keras.Input((None, INPUT)), layer])
    with pytest.raises(ConfigError, match=words):
        from_keras(layer)


def test_keras_stack_that_does_not_fit_the_model_is_named():
    with pytest.raises(CheckpointError, match=r"holds the layers \[GRU, GRU\] but the model is \[LSTM, LSTM\]"):
        from_keras(keras_stack("gru-reset-after", "2-layer-no-bias", np.float32), LSTM(INPUT, HIDDEN, num_layers=2))
    with pytest.raises(CheckpointError, match="reset_after=False but the model has reset_after=True"):
        from_keras(keras_stack("gru-reset-before", "1-layer", np.float32), GRU(INPUT, HIDDEN))
