"""The GRU cell (rnnkit/cells/gru.py), reset-after and reset-before, inside the layer."""

import numpy as np
import pytest
from recurrent_checks import (DTYPES, HIDDEN_SIZE, INPUT_SIZE, LENGTHS, STRUCTURE_IDS, STRUCTURE_MATRIX,
                              TORCH_OPTION_IDS, TORCH_OPTIONS, gradcheck_layer, tolerance, torch_parity)

from rnnkit.layers.recurrent import GRU


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("num_layers, bidirectional, with_lengths, with_h0", STRUCTURE_MATRIX, ids=STRUCTURE_IDS)
def test_gru_gradients_match_finite_differences(reset_after, num_layers, bidirectional, with_lengths, with_h0):
    layer = GRU(INPUT_SIZE, HIDDEN_SIZE, num_layers, reset_after=reset_after, bidirectional=bidirectional,
                dtype=np.float64, rng=0)
    result = gradcheck_layer(layer, with_lengths, with_h0)
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", TORCH_OPTIONS, ids=TORCH_OPTION_IDS)
def test_gru_matches_torch(torch, options, dtype):
    errors = torch_parity(torch, GRU, torch.nn.GRU, options, dtype)
    assert max(errors.values()) < tolerance(dtype), errors


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_with_lengths_matches_torch_packed_sequence(torch, bidirectional):
    errors = torch_parity(torch, GRU, torch.nn.GRU, dict(num_layers=2, bidirectional=bidirectional),
                          np.float64, lengths=LENGTHS)
    assert max(errors.values()) < 1e-10, errors


def test_gru_unbatched_input_matches_torch(torch):
    errors = torch_parity(torch, GRU, torch.nn.GRU, dict(num_layers=2, bidirectional=True), np.float64,
                          unbatched=True)
    assert max(errors.values()) < 1e-10, errors


def test_gru_reset_before_differs_from_reset_after_with_the_same_weights():
    x = np.random.default_rng(0).standard_normal((5, 2, INPUT_SIZE))
    after = GRU(INPUT_SIZE, HIDDEN_SIZE, reset_after=True, dtype=np.float64, rng=0)
    before = GRU(INPUT_SIZE, HIDDEN_SIZE, reset_after=False, dtype=np.float64, rng=0)
    before.load_state_dict(after.state_dict())
    y_after, _ = after(x)
    y_before, _ = before(x)
    assert np.abs(y_after - y_before).max() > 1e-3
