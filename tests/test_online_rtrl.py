"""Exact RTRL (rnnkit/online/rtrl.py) against the layers' hand-derived BPTT, in float64.

The gradient of sum_t <y_t, dy_t> carried forward in time must be the one ``backward``
computes backward in time, within 1e-10, for every cell RTRL knows: the tanh and relu
RNN, the LSTM with and without peepholes, the GRU in both forms, from a zero and from a
given initial state. Random peepholes and a batch of 2 make every term count.
"""

import numpy as np
import pytest

from rnnkit import GRU, LSTM, RNN
from rnnkit.errors import ConfigError
from rnnkit.online import rtrl_gradients
from rnnkit.online.layout import ParameterLayout

INPUT, HIDDEN, STEPS, BATCH = 3, 4, 6, 2
TOLERANCE = 1e-10
VARIANTS = {
    "rnn-tanh": (RNN, {}),
    "rnn-relu": (RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, {}),
    "lstm-peephole": (LSTM, {"peephole": True}),
    "gru-reset-after": (GRU, {}),
    "gru-reset-before": (GRU, {"reset_after": False}),
}


def make_layer(variant: str, rng) -> object:
    cls, options = VARIANTS[variant]
    layer = cls(INPUT, HIDDEN, dtype=np.float64, rng=rng, **options)
    for name, value in layer.parameters().items():
        if name.startswith("weight_c"):            # peepholes: as large as the other weights
            value[:] = rng.uniform(-0.5, 0.5, value.shape)
    return layer


def initial_state(layer, rng):
    states = tuple(rng.standard_normal((1, BATCH, HIDDEN)) for _ in layer.cell.state_names)
    return states if len(states) == 2 else states[0]


def bptt_gradients(layer, x, dy, h0) -> dict[str, np.ndarray]:
    layer.zero_grad()
    layer(x, h0)
    layer.backward(dy)
    return {name: grad.copy() for name, grad in layer.grads.items()}


@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "h0"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_rtrl_equals_bptt(variant, with_state):
    rng = np.random.default_rng(7)
    layer = make_layer(variant, rng)
    x = rng.standard_normal((STEPS, BATCH, INPUT))
    dy = rng.standard_normal((STEPS, BATCH, HIDDEN))
    h0 = initial_state(layer, rng) if with_state else None

    expected = bptt_gradients(layer, x, dy, h0)
    layer.zero_grad()
    got = rtrl_gradients(layer, x, dy, h0)

    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name].shape == expected[name].shape, name
        assert np.max(np.abs(got[name] - expected[name])) < TOLERANCE, name
    assert all(not grad.any() for grad in layer.grads.values())      # the layer's own gradients untouched


def test_rtrl_of_a_layer_without_biases_has_its_keys():
    rng = np.random.default_rng(1)
    layer = LSTM(INPUT, HIDDEN, peephole=True, bias=False, dtype=np.float64, rng=rng)
    x, dy = rng.standard_normal((STEPS, BATCH, INPUT)), rng.standard_normal((STEPS, BATCH, HIDDEN))
    expected = bptt_gradients(layer, x, dy, None)
    got = rtrl_gradients(layer, x, dy)
    assert got.keys() == expected.keys() and not any(name.startswith("bias") for name in got)
    assert max(np.max(np.abs(got[k] - expected[k])) for k in got) < TOLERANCE


@pytest.mark.parametrize("options, message", [
    (dict(num_layers=2), "`num_layers`=1"),
    (dict(bidirectional=True), "`bidirectional`=False"),
    (dict(proj_size=2), "`proj_size`=0"),
])
def test_rtrl_refuses_what_it_does_not_know(options, message):
    layer = LSTM(INPUT, HIDDEN, dtype=np.float64, **options)
    x = np.zeros((2, 1, INPUT))
    dy = np.zeros((2, 1, layer.cell.output_size * (2 if layer.bidirectional else 1)))
    with pytest.raises(ConfigError, match=message):
        rtrl_gradients(layer, x, dy)


def test_rtrl_checks_the_shapes_of_its_arguments():
    layer = RNN(INPUT, HIDDEN, dtype=np.float64)
    with pytest.raises(ConfigError, match="`x`"):
        rtrl_gradients(layer, np.zeros((2, INPUT)), np.zeros((2, HIDDEN)))
    with pytest.raises(ConfigError, match="`dy`"):
        rtrl_gradients(layer, np.zeros((2, 1, INPUT)), np.zeros((3, 1, HIDDEN)))


def test_parameter_layout_views_write_through_to_theta():
    layout = ParameterLayout({"a": (2, 3), "b": (4,)})
    theta = np.zeros(layout.size)
    views = layout.views(theta)
    views["a"][1, 2] = 5.0
    views["b"][0] = 7.0
    assert layout.size == 10 and theta[5] == 5.0 and theta[6] == 7.0
    assert np.array_equal(layout.flatten({"a": views["a"], "b": views["b"]}), theta)
    sensitivities = np.zeros((1, 2, layout.size))
    layout.block(sensitivities, "a")[0, 1, 1, 0] = 1.0          # a view of the (B, R, P) array
    assert sensitivities[0, 1, 3] == 1.0
