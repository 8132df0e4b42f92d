"""The vanilla RNN cell (rnnkit/cells/rnn.py) inside the layer: finite differences and PyTorch parity."""

import numpy as np
import pytest
from recurrent_checks import (DTYPES, HIDDEN_SIZE, INPUT_SIZE, LENGTHS, STRUCTURE_IDS, STRUCTURE_MATRIX,
                              TORCH_OPTION_IDS, TORCH_OPTIONS, gradcheck_layer, tolerance, torch_parity)

from rnnkit.layers.recurrent import RNN


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("num_layers, bidirectional, with_lengths, with_h0", STRUCTURE_MATRIX, ids=STRUCTURE_IDS)
def test_rnn_gradients_match_finite_differences(nonlinearity, num_layers, bidirectional, with_lengths, with_h0):
    layer = RNN(INPUT_SIZE, HIDDEN_SIZE, num_layers, nonlinearity=nonlinearity,
                bidirectional=bidirectional, dtype=np.float64, rng=0)
    result = gradcheck_layer(layer, with_lengths, with_h0)
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", TORCH_OPTIONS, ids=TORCH_OPTION_IDS)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_matches_torch(torch, nonlinearity, options, dtype):
    errors = torch_parity(torch, RNN, torch.nn.RNN, dict(options, nonlinearity=nonlinearity), dtype)
    assert max(errors.values()) < tolerance(dtype), errors


@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_with_lengths_matches_torch_packed_sequence(torch, bidirectional):
    options = dict(num_layers=2, bidirectional=bidirectional)
    errors = torch_parity(torch, RNN, torch.nn.RNN, options, np.float64, lengths=LENGTHS)
    assert max(errors.values()) < 1e-10, errors


def test_rnn_unbatched_input_matches_torch(torch):
    errors = torch_parity(torch, RNN, torch.nn.RNN, dict(num_layers=2, bidirectional=True), np.float64,
                          unbatched=True)
    assert max(errors.values()) < 1e-10, errors
