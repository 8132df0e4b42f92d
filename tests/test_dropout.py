"""Dropout (rnnkit/layers/dropout.py): the mask, its reuse in backward, and evaluation mode."""

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.dropout import Dropout, dropout_mask


def test_dropout_zeroes_about_p_of_the_units_and_scales_the_rest():
    dropout = Dropout(0.3, rng=0)
    x = np.ones((200, 100), dtype=np.float32)
    y = dropout(x)
    assert y.dtype == np.float32
    assert abs(np.mean(y == 0) - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1.0 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation


def test_dropout_backward_reuses_the_forward_mask():
    dropout = Dropout(0.5, rng=1)
    x = np.random.default_rng(2).standard_normal((6, 5)) + 3.0  # no zeros of its own
    y = dropout(x)
    dy = np.random.default_rng(3).standard_normal(x.shape)
    np.testing.assert_allclose(dropout.backward(dy), dy * (y / x))


def test_dropout_gradient_matches_finite_differences():
    x = np.random.default_rng(4).standard_normal((4, 3))
    dy = np.random.default_rng(5).standard_normal((4, 3))
    dropout = Dropout(0.4)

    def loss():
        dropout.rng = np.random.default_rng(6)  # the same mask at every evaluation
        return float(np.sum(dropout(x) * dy))

    loss()
    result = gradcheck(loss, {"x": x}, {"x": dropout.backward(dy)})
    assert result.max_error < 1e-6, result


@pytest.mark.parametrize("p, training", [(0.5, False), (0.0, True)], ids=["eval", "p=0"])
def test_dropout_is_the_identity_in_eval_mode_or_with_p_zero(p, training):
    dropout = Dropout(p, rng=0).train(training)
    x = np.arange(6.0).reshape(2, 3)
    dy = np.ones_like(x)
    assert dropout(x) is x
    assert dropout.backward(dy) is dy


def test_dropout_with_the_same_seed_draws_the_same_mask():
    x = np.ones((10, 10))
    np.testing.assert_array_equal(Dropout(0.5, rng=7)(x), Dropout(0.5, rng=7)(x))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_probabilities_outside_zero_to_one(p):
    with pytest.raises(ValueError, match=r"p: dropout probability must lie in \[0, 1\)"):
        Dropout(p)


@pytest.mark.parametrize("uniform_dtype", [np.float32, np.float64])
def test_dropout_mask_is_what_the_layer_applies_for_the_same_draws(uniform_dtype):
    x = np.random.default_rng(8).standard_normal((5, 6)).astype(np.float32) + 3.0
    mask = dropout_mask(np.random.default_rng(9), x.shape, 0.3, np.float32, uniform_dtype)
    assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, np.float32(1.0) / np.float32(0.7)}
    if uniform_dtype == np.float32:                      # the Dropout layer draws float32 uniforms
        np.testing.assert_array_equal(Dropout(0.3, rng=9)(x), x * mask)
