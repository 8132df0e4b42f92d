"""rnnkit/interop/torch.py: state dicts that torch loads with strict=True, and torch's that rnnkit loads."""

import json

import numpy as np
import pytest
from torch_oracle import require_torch

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.interop.torch import export_torch, load_torch, torch_modules, torch_state_dict
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.models.forecaster import Forecaster, ForecasterConfig

torch = require_torch()
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

INPUT, HIDDEN, STEPS, BATCH = 3, 4, 5, 2
# every variant torch has: (rnnkit class, torch class, options)
VARIANTS = {
    "rnn-tanh": (RNN, "RNN", {}),
    "rnn-relu": (RNN, "RNN", {"nonlinearity": "relu"}),
    "lstm": (LSTM, "LSTM", {}),
    "lstm-proj": (LSTM, "LSTM", {"proj_size": 2}),
    "gru": (GRU, "GRU", {}),
}
STACKS = {"1-layer": dict(num_layers=1), "2-layer-bidirectional": dict(num_layers=2, bidirectional=True),
          "no-bias-batch-first": dict(num_layers=2, bias=False, batch_first=True)}
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def torch_from_file(path, dtype):
    """The README's recipe: the modules named in the file's metadata, then load_state_dict(strict=True)."""
    with safe_open(path, "pt") as file:
        modules = json.loads(file.metadata()["rnnkit.torch_modules"])
    if list(modules) == [""]:
        module = getattr(torch.nn, modules[""]["type"])(**modules[""]["args"])
    else:
        module = torch.nn.ModuleDict({name: getattr(torch.nn, m["type"])(**m["args"]) for name, m in modules.items()})
    module = module.to(TORCH_DTYPES[dtype])
    module.load_state_dict(load_file(path), strict=True)
    return module.eval()


def random_input(layer, rng, dtype):
    shape = (BATCH, STEPS, INPUT) if layer.batch_first else (STEPS, BATCH, INPUT)
    return rng.standard_normal(shape).astype(dtype)


def random_state(layer, rng, dtype):
    rows = layer.num_layers * layer.num_directions
    sizes = layer.cell.state_sizes
    states = tuple(rng.standard_normal((rows, BATCH, size)).astype(dtype) for size in sizes)
    return states if len(states) > 1 else states[0]


def as_torch(state):
    return tuple(torch.from_numpy(s) for s in state) if isinstance(state, tuple) else torch.from_numpy(state)


def assert_same_outputs(ours, theirs, dtype):
    y, state = ours
    y_torch, state_torch = theirs
    np.testing.assert_allclose(y, y_torch.detach().numpy(), atol=TOLERANCE[dtype], rtol=TOLERANCE[dtype])
    for a, b in zip(state if isinstance(state, tuple) else (state,),
                    state_torch if isinstance(state_torch, tuple) else (state_torch,)):
        np.testing.assert_allclose(a, b.detach().numpy(), atol=TOLERANCE[dtype], rtol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_exported_layer_loads_strictly_into_torch_and_gives_the_same_outputs(tmp_path, variant, stack, dtype):
    cls, _, options = VARIANTS[variant]
    layer = cls(INPUT, HIDDEN, **options, **STACKS[stack], dtype=dtype, rng=0)
    path = export_torch(layer, tmp_path / "layer.safetensors")
    module = torch_from_file(path, dtype)
    rng = np.random.default_rng(1)
    x, state = random_input(layer, rng, dtype), random_state(layer, rng, dtype)
    with torch.no_grad():
        assert_same_outputs(layer(x, state), module(torch.from_numpy(x), as_torch(state)), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_torch_module_saved_as_safetensors_loads_into_rnnkit(tmp_path, variant, stack, dtype):
    cls, torch_name, options = VARIANTS[variant]
    torch.manual_seed(0)
    module = getattr(torch.nn, torch_name)(INPUT, HIDDEN, **options, **STACKS[stack]).to(TORCH_DTYPES[dtype])
    save_file(module.state_dict(), tmp_path / "torch.safetensors")
    into = cls(INPUT, HIDDEN, **options, **STACKS[stack], dtype=dtype)
    layer = load_torch(tmp_path / "torch.safetensors", into)
    assert layer is into
    rng = np.random.default_rng(1)
    x, state = random_input(layer, rng, dtype), random_state(layer, rng, dtype)
    with torch.no_grad():
        expected = module(torch.from_numpy(x), as_torch(state))
    assert_same_outputs(layer(x, state), expected, dtype)
    inferred = load_torch(tmp_path / "torch.safetensors", nonlinearity=options.get("nonlinearity"),
                          batch_first=layer.batch_first)
    assert type(inferred) is cls and inferred.dtype == dtype
    assert_same_outputs(inferred(x, state), expected, dtype)


def test_layer_without_model_takes_its_nonlinearity_and_layout_from_an_rnnkit_file(tmp_path):
    layer = RNN(INPUT, HIDDEN, nonlinearity="relu", batch_first=True, bidirectional=True, dtype=np.float64, rng=0)
    loaded = load_torch(export_torch(layer, tmp_path / "rnn.safetensors"))
    assert loaded.cell.nonlinearity == "relu" and loaded.batch_first and loaded.bidirectional
    x = random_input(layer, np.random.default_rng(0), np.float64)
    np.testing.assert_array_equal(loaded(x)[0], layer(x)[0])


def test_state_dict_of_a_dict_loads_as_a_file_does():
    torch.manual_seed(0)
    module = torch.nn.LSTM(INPUT, HIDDEN, num_layers=2, proj_size=2).double()
    layer = load_torch({k: v.numpy() for k, v in module.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((STEPS, BATCH, INPUT))
    with torch.no_grad():
        assert_same_outputs(layer(x), module(torch.from_numpy(x)), np.float64)


# -- whole models --------------------------------------------------------------------------

def char_lm(embedding_dim, cell="lstm"):
    config = CharLMConfig(vocab_size=7, cell=cell, hidden_size=HIDDEN, num_layers=2, embedding_dim=embedding_dim)
    return CharLM(config, dtype=np.float64, rng=0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("embedding_dim", [5, 0], ids=["embedding", "one-hot"])
def test_char_lm_round_trips_through_torch_modules(tmp_path, embedding_dim, cell):
    model = char_lm(embedding_dim, cell).eval()
    modules = torch_from_file(export_torch(model, tmp_path / "lm.safetensors"), np.float64)
    ids = np.random.default_rng(0).integers(0, 7, (STEPS, BATCH))
    logits, state = model(ids)
    with torch.no_grad():
        hidden, torch_state = modules["rnn"](modules["embedding"](torch.from_numpy(ids)))
        torch_logits = modules["decoder"](hidden)
    assert_same_outputs((logits, state), (torch_logits, torch_state), np.float64)

    fresh = char_lm(embedding_dim, cell)
    load_torch({k: v.numpy() for k, v in modules.state_dict().items()}, fresh)
    np.testing.assert_array_equal(fresh.eval()(ids)[0], logits)


def test_one_hot_char_lm_refuses_an_embedding_that_is_not_the_identity():
    tensors = torch_state_dict(char_lm(0))
    tensors["embedding.weight"] = tensors["embedding.weight"] * 2
    with pytest.raises(CheckpointError, match=r"`embedding.weight` is not the \(7, 7\) identity"):
        load_torch(tensors, char_lm(0))
    del tensors["embedding.weight"]                     # a torch model fed one-hot rows has none: fine
    load_torch(tensors, char_lm(0))


def test_classifier_and_forecaster_state_dicts_fit_their_torch_modules(tmp_path):
    classifier = SequenceClassifier(ClassifierConfig(vocab_size=9, embedding_dim=4, hidden_size=HIDDEN, cell="gru"),
                                    rng=0)
    modules = torch_from_file(export_torch(classifier, tmp_path / "c.safetensors"), np.float32)
    assert modules["embedding"].padding_idx == 0 and modules["rnn"].bidirectional
    assert set(modules.state_dict()) == set(classifier.parameters())
    forecaster = Forecaster(ForecasterConfig(hidden_size=HIDDEN, num_layers=2, horizon=3), dtype=np.float64, rng=0)
    modules = torch_from_file(export_torch(forecaster, tmp_path / "f.safetensors"), np.float64)
    x = np.random.default_rng(0).standard_normal((STEPS, BATCH, 1))
    with torch.no_grad():
        hidden, _ = modules["rnn"](torch.from_numpy(x))
        expected = modules["output"](hidden[-1]).numpy()
    np.testing.assert_allclose(forecaster.eval()(x), expected, atol=1e-10)


def test_trained_run_exports_its_model(tmp_path):
    class Run:                                            # what tasks.runs.load_run returns: .model, .spec
        model, spec = char_lm(5), None
    export_torch(Run(), tmp_path / "run.safetensors", metadata={"vocabulary": "abcdefg"})
    with safe_open(tmp_path / "run.safetensors", "np") as file:
        assert file.metadata()["vocabulary"] == "abcdefg"
        assert set(file.keys()) == set(Run.model.parameters())


# -- errors --------------------------------------------------------------------------------

def test_missing_extra_and_misshaped_tensors_are_named():
    tensors = torch_state_dict(LSTM(INPUT, HIDDEN, num_layers=2, rng=0))
    del tensors["bias_hh_l1"]
    tensors["weight_hr_l0"] = np.zeros((2, HIDDEN), np.float32)
    tensors["weight_ih_l1"] = np.zeros((16, 5), np.float32)
    with pytest.raises(CheckpointError) as error:
        load_torch(tensors, LSTM(INPUT, HIDDEN, num_layers=2))
    message = str(error.value)
    assert "missing `bias_hh_l1` (16,)" in message and "unexpected `weight_hr_l0`" in message
    assert "`weight_ih_l1` has shape (16, 5) where (16, 4) is expected" in message and "\n" not in message


def test_non_finite_tensors_are_refused():
    tensors = torch_state_dict(GRU(INPUT, HIDDEN, rng=0))
    tensors["weight_hh_l0"][0, 0] = np.nan
    with pytest.raises(CheckpointError, match="`weight_hh_l0` holds NaN"):
        load_torch(tensors, GRU(INPUT, HIDDEN))


def test_tensors_of_no_recurrent_layer_need_a_model_to_load_into():
    with pytest.raises(CheckpointError, match="`decoder.weight`.*pass `into`"):
        load_torch(torch_state_dict(char_lm(5)))
    with pytest.raises(CheckpointError, match="not 1, 3 or 4 times"):
        load_torch({"weight_ih_l0": np.zeros((8, 3)), "weight_hh_l0": np.zeros((8, 4))})
    with pytest.raises(CheckpointError, match="not numbered 0 to 99999"):
        load_torch({"weight_ih_l0": np.zeros((4, 3)), "weight_hh_l0": np.zeros((4, 4)),
                    "weight_ih_l99999": np.zeros((4, 4))})


def test_a_pickle_is_refused_without_being_read(tmp_path):
    torch.save(torch.nn.GRU(INPUT, HIDDEN).state_dict(), tmp_path / "gru.pt")
    with pytest.raises(CheckpointError, match="pickle.*safetensors.torch.save_file"):
        load_torch(tmp_path / "gru.pt", GRU(INPUT, HIDDEN))
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable .safetensors"):
        load_torch(tmp_path / "junk.safetensors")


@pytest.mark.parametrize("layer, words", [
    (LSTM(INPUT, HIDDEN, peephole=True), "peephole"),
    (GRU(INPUT, HIDDEN, reset_after=False), "reset-before"),
], ids=["peephole", "reset-before"])
def test_what_torch_cannot_express_is_refused_both_ways(tmp_path, layer, words):
    with pytest.raises(ConfigError, match=f"PyTorch cannot express .*{words}"):
        export_torch(layer, tmp_path / "x.safetensors")
    with pytest.raises(ConfigError, match=f"PyTorch cannot express .*{words}"):
        torch_modules(layer)
    with pytest.raises(ConfigError, match=f"state dict cannot express .*{words}"):
        load_torch(torch_state_dict(type(layer)(INPUT, HIDDEN)), layer)
    assert not (tmp_path / "x.safetensors").exists()


def test_tied_char_lm_exports_the_embedding_as_the_decoder_weight_and_loads_it_back(tmp_path):
    config = CharLMConfig(vocab_size=7, hidden_size=HIDDEN, num_layers=1, embedding_dim=HIDDEN, tie_weights=True)
    model = CharLM(config, dtype=np.float64, rng=0).eval()
    modules = torch_from_file(export_torch(model, tmp_path / "lm.safetensors"), np.float64)
    ids = np.random.default_rng(0).integers(0, 7, (STEPS, BATCH))
    logits, _ = model(ids)
    with torch.no_grad():
        hidden, _ = modules["rnn"](modules["embedding"](torch.from_numpy(ids)))
        np.testing.assert_allclose(modules["decoder"](hidden).numpy(), logits, rtol=1e-10, atol=1e-12)
    tensors = {k: v.numpy() for k, v in modules.state_dict().items()}
    fresh = CharLM(config, dtype=np.float64, rng=1)
    load_torch(tensors, fresh)
    np.testing.assert_array_equal(fresh.eval()(ids)[0], logits)
    tensors["decoder.weight"] = tensors["decoder.weight"] + 1.0
    with pytest.raises(CheckpointError, match="`decoder.weight` is not `embedding.weight`"):
        load_torch(tensors, fresh)


def test_zoneout_which_acts_in_evaluation_mode_is_not_exported(tmp_path):
    with pytest.raises(ConfigError, match="no exchange format here has zoneout"):
        export_torch(LSTM(INPUT, HIDDEN, zoneout_c=0.1), tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()
    export_torch(LSTM(INPUT, HIDDEN, recurrent_dropout=0.3, weight_dropout=0.5), tmp_path / "y.safetensors")
