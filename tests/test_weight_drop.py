"""rnnkit/layers/weight_drop.py: DropConnect's mask on W_hh and its gradient, on their own."""

import numpy as np

from rnnkit.layers.weight_drop import WeightDrop


def parameters():
    rng = np.random.default_rng(0)
    return {"weight_hh": rng.standard_normal((8, 2)), "bias_hh": rng.standard_normal(8)}


def test_the_dropped_weights_are_the_masked_and_rescaled_ones_and_the_layer_s_stay():
    params = parameters()
    original = params["weight_hh"].copy()
    drop = WeightDrop.draw(np.random.default_rng(1), params, 0.5)
    np.testing.assert_array_equal(np.unique(drop.mask), [0.0, 2.0])
    np.testing.assert_array_equal(drop.params["weight_hh"], original * drop.mask)
    np.testing.assert_array_equal(params["weight_hh"], original)
    assert drop.params["bias_hh"] is params["bias_hh"]


def test_the_weight_gradient_is_the_dropped_weights_gradient_times_the_mask():
    params = parameters()
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    drop = WeightDrop.draw(np.random.default_rng(1), params, 0.5)
    sequence_grads = drop.sequence_grads(grads)
    assert sequence_grads["bias_hh"] is grads["bias_hh"]
    assert not sequence_grads["weight_hh"].any() and sequence_grads["weight_hh"] is not grads["weight_hh"]
    sequence_grads["weight_hh"] += 3.0
    drop.add_weight_grad(sequence_grads, grads)
    np.testing.assert_array_equal(grads["weight_hh"], 3.0 * drop.mask)
