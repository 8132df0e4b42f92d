"""Gradient clipping (rnnkit/optim/clipping.py): PyTorch parity and in-place scaling."""

import numpy as np
import pytest

from rnnkit.layers.linear import Linear
from rnnkit.optim import clip_grad_norm, clip_grad_value


def random_grads(scale, seed=0):
    rng = np.random.default_rng(seed)
    return {"weight": scale * rng.standard_normal((3, 4)), "bias": scale * rng.standard_normal(3)}


def torch_params_with_grads(torch, grads):
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for param, grad in zip(params, grads.values()):
        param.grad = torch.tensor(grad)
    return params


@pytest.mark.parametrize("scale", [10.0, 0.01], ids=["clipped", "under-the-limit"])
def test_clip_grad_norm_matches_torch(torch, scale):
    grads = random_grads(scale)
    params = torch_params_with_grads(torch, grads)
    expected_norm = torch.nn.utils.clip_grad_norm_(params, max_norm=1.0).item()
    norm = clip_grad_norm(grads, max_norm=1.0)
    assert norm == pytest.approx(expected_norm, rel=1e-12)
    for grad, param in zip(grads.values(), params):
        np.testing.assert_allclose(grad, param.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_scales_the_global_norm_to_the_limit():
    grads = random_grads(10.0)
    before = {name: grad.copy() for name, grad in grads.items()}
    norm = clip_grad_norm(grads, max_norm=2.0)
    assert norm == pytest.approx(np.sqrt(sum(np.sum(g**2) for g in before.values())))
    new_norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    assert new_norm == pytest.approx(2.0, rel=1e-6)
    ratios = [grads[name] / before[name] for name in grads]  # one scale for every array
    np.testing.assert_allclose(np.concatenate([r.ravel() for r in ratios]), 2.0 / norm, rtol=1e-5)


def test_clip_grad_norm_scales_a_modules_gradients_in_place():
    layer = Linear(4, 3, rng=0)
    layer.grads["weight"][...] = 100.0
    clip_grad_norm(layer.grads, max_norm=1.0)
    assert np.sqrt(np.sum(layer.grads["weight"] ** 2)) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_non_finite_gradients_untouched():
    grads = random_grads(1.0)
    grads["bias"][0] = np.inf
    before = {name: grad.copy() for name, grad in grads.items()}
    assert clip_grad_norm(grads, max_norm=1.0) == np.inf
    for name, grad in grads.items():
        np.testing.assert_array_equal(grad, before[name])


def test_clip_grad_value_matches_torch(torch):
    grads = random_grads(3.0)
    params = torch_params_with_grads(torch, grads)
    torch.nn.utils.clip_grad_value_(params, clip_value=1.5)
    clip_grad_value(grads, clip_value=1.5)
    for grad, param in zip(grads.values(), params):
        np.testing.assert_array_equal(grad, param.grad.numpy())
    assert max(np.abs(g).max() for g in grads.values()) == 1.5


@pytest.mark.parametrize("limit", [-1.0, float("nan")])
def test_clipping_refuses_a_negative_or_nan_limit_instead_of_flipping_the_gradient(limit):
    grads = {"w": np.array([3.0, 4.0])}
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm(grads, limit)
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value(grads, limit)
    np.testing.assert_array_equal(grads["w"], [3.0, 4.0])
