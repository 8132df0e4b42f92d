"""The LSTM cell (rnnkit/cells/lstm.py) inside the layer: peepholes, projection, parity with PyTorch."""

from functools import partial

import numpy as np
import pytest
from recurrent_checks import (DTYPES, HIDDEN_SIZE, INPUT_SIZE, LENGTHS, STRUCTURE_IDS, STRUCTURE_MATRIX,
                              TORCH_OPTION_IDS, TORCH_OPTIONS, gradcheck_layer, tolerance, torch_parity)

from rnnkit.layers.recurrent import LSTM

VARIANTS = {"plain": {}, "peephole": {"peephole": True}, "projection": {"proj_size": 2}}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("num_layers, bidirectional, with_lengths, with_state", STRUCTURE_MATRIX, ids=STRUCTURE_IDS)
def test_lstm_gradients_match_finite_differences(variant, num_layers, bidirectional, with_lengths, with_state):
    layer = LSTM(INPUT_SIZE, HIDDEN_SIZE, num_layers, bidirectional=bidirectional, dtype=np.float64, rng=0,
                 **VARIANTS[variant])
    result = gradcheck_layer(layer, with_lengths, with_state)
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", TORCH_OPTIONS, ids=TORCH_OPTION_IDS)
@pytest.mark.parametrize("proj_size", [0, 2])
def test_lstm_matches_torch(torch, proj_size, options, dtype):
    errors = torch_parity(torch, LSTM, torch.nn.LSTM, dict(options, proj_size=proj_size), dtype)
    assert max(errors.values()) < tolerance(dtype), errors


@pytest.mark.parametrize("proj_size", [0, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_with_lengths_matches_torch_packed_sequence(torch, bidirectional, proj_size):
    options = dict(num_layers=2, bidirectional=bidirectional, proj_size=proj_size)
    errors = torch_parity(torch, LSTM, torch.nn.LSTM, options, np.float64, lengths=LENGTHS)
    assert max(errors.values()) < 1e-10, errors


def test_lstm_unbatched_input_matches_torch(torch):
    errors = torch_parity(torch, LSTM, torch.nn.LSTM, dict(num_layers=2, bidirectional=True), np.float64,
                          unbatched=True)
    assert max(errors.values()) < 1e-10, errors


def test_lstm_with_zero_peepholes_is_torch_lstm(torch):
    peephole_lstm = partial(LSTM, peephole=True)
    errors = torch_parity(torch, peephole_lstm, torch.nn.LSTM, dict(num_layers=2, bidirectional=True),
                          np.float64, lengths=LENGTHS)
    assert max(errors.values()) < 1e-10, errors


def test_lstm_peephole_weights_change_the_output():
    layer = LSTM(INPUT_SIZE, HIDDEN_SIZE, peephole=True, dtype=np.float64, rng=0)
    x = np.random.default_rng(0).standard_normal((STEPS := 4, 2, INPUT_SIZE))
    y_with, _ = layer(x)
    for name in ("weight_ci_l0", "weight_cf_l0", "weight_co_l0"):
        layer.parameters()[name][:] = 0.0
    y_without, _ = layer(x)
    assert y_with.shape == (STEPS, 2, HIDDEN_SIZE)
    assert np.abs(y_with - y_without).max() > 1e-3


def test_lstm_forget_bias_sets_the_forget_gate_start():
    layer = LSTM(INPUT_SIZE, 4, num_layers=2, bidirectional=True, forget_bias=1.0, rng=0)
    for name, bias in layer.parameters().items():
        if name.startswith("bias_ih"):
            np.testing.assert_array_equal(bias[4:8], 1.0)
        elif name.startswith("bias_hh"):
            np.testing.assert_array_equal(bias[4:8], 0.0)


def test_lstm_projection_shapes_follow_torch():
    layer = LSTM(INPUT_SIZE, 5, num_layers=2, proj_size=2, bidirectional=True)
    y, (h_n, c_n) = layer(np.zeros((6, 3, INPUT_SIZE), np.float32))
    assert y.shape == (6, 3, 4) and h_n.shape == (4, 3, 2) and c_n.shape == (4, 3, 5)
    assert layer.parameters()["weight_hr_l1_reverse"].shape == (2, 5)
    assert layer.parameters()["weight_ih_l1"].shape == (20, 4)
