"""rnnkit/inspect/states.py: the traced states and gates are the layer's own, in chunks or not."""

import numpy as np
import pytest

from rnnkit.errors import DataError
from rnnkit.inspect.states import trace_states
from rnnkit.models.char_lm import CharLM, CharLMConfig

IDS = np.random.default_rng(0).integers(0, 9, 57)


def model(cell, num_layers=2):
    return CharLM(CharLMConfig(vocab_size=9, cell=cell, hidden_size=5, num_layers=num_layers, embedding_dim=3),
                  dtype=np.float64, rng=0)


@pytest.mark.parametrize("cell, names", [("rnn", {"h"}), ("lstm", {"h", "c", "i", "f", "g", "o"}),
                                         ("gru", {"h", "r", "z", "n"})])
def test_trace_holds_every_state_and_gate_of_every_layer(cell, names):
    trace = trace_states(model(cell), IDS, chunk=10)
    assert trace.cell == cell and len(trace.layers) == 2 and trace.steps == len(IDS)
    for layer in trace.layers:
        assert set(layer) == names
        assert all(values.shape == (len(IDS), 5) and values.dtype == np.float32 for values in layer.values())


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_hidden_states_are_the_layer_outputs_whatever_the_chunks(cell):
    m = model(cell)
    hidden, _ = m.rnn(m.embedding(IDS[:, None]))
    for chunk in (7, 1000):
        trace = trace_states(m, IDS, chunk=chunk)
        np.testing.assert_allclose(trace.layers[1]["h"], hidden[:, 0], rtol=1e-6, atol=1e-7)


def test_lstm_gates_follow_the_equations():
    """c_t = f * c_{t-1} + i * g and h_t = o * tanh(c_t), from the traced arrays alone."""
    trace = trace_states(model("lstm", 1), IDS, chunk=13)
    layer = {name: values.astype(np.float64) for name, values in trace.layers[0].items()}
    c_prev = np.vstack([np.zeros((1, 5)), layer["c"][:-1]])
    np.testing.assert_allclose(layer["c"], layer["f"] * c_prev + layer["i"] * layer["g"], atol=1e-6)
    np.testing.assert_allclose(layer["h"], layer["o"] * np.tanh(layer["c"]), atol=1e-6)
    assert np.all((layer["f"] > 0) & (layer["f"] < 1))


def test_gru_gates_follow_the_equations():
    """h_t = (1 - z) * n + z * h_{t-1}."""
    layer = trace_states(model("gru", 1), IDS).layers[0]
    h_prev = np.vstack([np.zeros((1, 5)), layer["h"][:-1]])
    np.testing.assert_allclose(layer["h"], (1 - layer["z"]) * layer["n"] + layer["z"] * h_prev, atol=1e-6)


def test_quantity_names_what_is_there():
    trace = trace_states(model("gru", 1), IDS[:5])
    with pytest.raises(DataError, match="`quantity` 'c' is not one of the GRU's: h, r, z, n"):
        trace.quantity(0, "c")
    with pytest.raises(DataError, match="`layer` 3 is not one of the model's 1 layer"):
        trace.quantity(3, "h")


def test_an_empty_text_is_a_data_error():
    with pytest.raises(DataError, match="the text is empty"):
        trace_states(model("rnn"), np.array([], np.int64))
