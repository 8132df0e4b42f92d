"""rnnkit/gradcheck.py: the checker must pass right gradients and catch wrong ones."""

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck, numerical_gradient, relative_error


def test_numerical_gradient_of_a_cubic_is_exact_to_rounding():
    x = np.array([0.5, -1.0, 2.0])
    numeric = numerical_gradient(lambda: float(np.sum(x ** 3)), x)
    np.testing.assert_allclose(numeric, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [0.5, -1.0, 2.0])   # restored after perturbation


def test_gradcheck_passes_a_right_gradient_and_flags_a_wrong_one():
    W = np.random.default_rng(0).standard_normal((3, 4))
    v = np.random.default_rng(1).standard_normal(3)

    def loss():
        return float(np.sum(np.tanh(W) * v[:, None]))

    right = (1 - np.tanh(W) ** 2) * v[:, None]
    wrong = right.copy()
    wrong[1, 2] *= 1.01
    assert gradcheck(loss, {"W": W}, {"W": right}).max_error < 1e-8
    result = gradcheck(loss, {"W": W}, {"W": wrong})
    assert result.max_error > 1e-3 and result.worst == "W"


def test_gradcheck_refuses_float32():
    x = np.zeros(3, np.float32)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda: 0.0, {"x": x}, {"x": x})


def test_relative_error_is_scale_free_and_zero_for_zeros():
    a = np.array([1.0, 2.0])
    assert relative_error(a * 1e6, (a + [0, 1e-6]) * 1e6) == pytest.approx(5e-7)
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_gradcheck_fails_a_function_that_is_not_finite(value):
    x = np.array([1.0, 2.0])
    result = gradcheck(lambda: float(value * x.sum()), {"x": x}, {"x": np.ones(2)})
    assert result.max_error == np.inf and not result.max_error < 1e-6


def test_gradcheck_fails_a_gradient_that_is_not_finite_and_max_error_counts_nan():
    x = np.array([1.0, 2.0])
    result = gradcheck(lambda: float(x.sum()), {"x": x}, {"x": np.array([1.0, np.nan])})
    assert result.max_error == np.inf
    assert relative_error(np.array([np.nan]), np.array([0.0])) == np.inf
