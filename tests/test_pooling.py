import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.gradcheck import gradcheck
from rnnkit.layers.pooling import LastPooling, MaxPooling, MeanPooling, make_pooling
from rnnkit.layers.recurrent import GRU

LENGTHS = np.array([4, 1, 3])


def random_output(steps=4, batch=3, features=6, seed=0):
    return np.random.default_rng(seed).standard_normal((steps, batch, features))


@pytest.mark.parametrize("name", ["last", "mean", "max"])
@pytest.mark.parametrize("directions", [1, 2])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "padded"])
def test_pooling_backward_matches_finite_differences(name, directions, lengths):
    pool = make_pooling(name, directions)
    y = random_output()
    dpooled = np.random.default_rng(1).standard_normal((3, 6))

    def loss():
        return float(np.sum(pool(y, lengths) * dpooled))

    pool(y, lengths)
    dy = pool.backward(dpooled)
    assert gradcheck(loss, {"y": y}, {"y": dy}).max_error < 1e-8


@pytest.mark.parametrize("name", ["last", "mean", "max"])
def test_pooling_ignores_padded_steps(name):
    y = random_output()
    garbage = y.copy()
    for b, length in enumerate(LENGTHS):
        garbage[length:, b] = 1e6
    pool = make_pooling(name, 2)
    np.testing.assert_array_equal(pool(y, LENGTHS), pool(garbage, LENGTHS))
    assert np.all(pool.backward(np.ones((3, 6)))[1:, 1] == 0)


def test_mean_pooling_averages_valid_steps_only():
    y = random_output()
    pooled = MeanPooling()(y, LENGTHS)
    np.testing.assert_allclose(pooled[1], y[0, 1])
    np.testing.assert_allclose(pooled[2], y[:3, 2].mean(axis=0))


def test_max_pooling_takes_the_largest_valid_value():
    y = random_output()
    np.testing.assert_allclose(MaxPooling()(y, LENGTHS)[2], y[:3, 2].max(axis=0))


def test_last_pooling_of_a_bidirectional_layer_equals_its_final_states():
    rng = np.random.default_rng(0)
    layer = GRU(2, 3, bidirectional=True, dtype=np.float64, rng=0)
    x = rng.standard_normal((4, 3, 2))
    y, h_n = layer(x, lengths=LENGTHS)
    pooled = LastPooling(num_directions=2)(y, LENGTHS)
    np.testing.assert_allclose(pooled, np.concatenate([h_n[0], h_n[1]], axis=1), atol=1e-12)


def test_last_pooling_without_lengths_is_the_last_step():
    y = random_output()
    np.testing.assert_array_equal(LastPooling()(y), y[-1])


def test_pooling_rejects_lengths_beyond_the_padded_length():
    with pytest.raises(ValueError, match="lengths must be 3 integers in \\[1, 4\\]"):
        MeanPooling()(random_output(), np.array([5, 1, 1]))


def test_unknown_pooling_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown pooling 'sum'"):
        make_pooling("sum")


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        MaxPooling().backward(np.zeros((3, 6)))
