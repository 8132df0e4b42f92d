"""rnnkit/layers/bernoulli.py: independent keys against finite differences and PyTorch's BCE."""

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.bernoulli import IndependentBernoulli

CONTEXT, KEYS = 4, 6


def problem(seed=0, shape=(3, 2)):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape + (CONTEXT,)), (rng.random(shape + (KEYS,)) < 0.3).astype(np.float64),
            rng.standard_normal(shape))


def test_independent_bernoulli_gradients_match_finite_differences():
    layer = IndependentBernoulli(CONTEXT, KEYS, dtype=np.float64, rng=0)
    context, frames, upstream = problem()

    def loss() -> float:
        return float(np.sum(layer(context, frames) * upstream))

    layer.zero_grad()
    layer(context, frames)
    dcontext = layer.backward(upstream)
    result = gradcheck(loss, {"context": context, **layer.parameters()}, {"context": dcontext, **layer.grads})
    assert result.max_error < 1e-7, result


def test_log_probs_are_minus_torch_binary_cross_entropy_summed_over_keys(torch):
    layer = IndependentBernoulli(CONTEXT, KEYS, dtype=np.float64, rng=1)
    context, frames, upstream = problem(1)
    log_probs = layer(context, frames)
    dcontext = layer.backward(upstream)

    c = torch.tensor(context, requires_grad=True)
    w = torch.tensor(layer.logits.weight, requires_grad=True)
    b = torch.tensor(layer.logits.bias, requires_grad=True)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(c @ w.T + b, torch.tensor(frames), reduction="none")
    expected = -bce.sum(-1)
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(log_probs, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dcontext, c.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["logits.weight"], w.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["logits.bias"], b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_log_prob_equals_forward_without_touching_the_cache():
    layer = IndependentBernoulli(CONTEXT, KEYS, dtype=np.float64, rng=0)
    context, frames, upstream = problem()
    expected = layer(context, frames)
    layer.zero_grad()
    dcontext = layer.backward(upstream)
    np.testing.assert_allclose(layer.log_prob(context[0], frames[0]), expected[0], rtol=1e-14)
    layer.zero_grad()
    np.testing.assert_array_equal(layer.backward(upstream), dcontext)     # the cache is the forward's


def test_sampling_draws_each_key_with_its_probability():
    layer = IndependentBernoulli(CONTEXT, KEYS, dtype=np.float64, rng=0)
    context = np.repeat(np.random.default_rng(0).standard_normal((1, CONTEXT)), 20000, axis=0)
    rng = np.random.default_rng(1)
    frequencies = layer.sample(context, rng).mean(axis=0)
    probabilities = layer.probabilities(context[:1])[0]
    np.testing.assert_allclose(frequencies, probabilities, atol=4 * np.sqrt(0.25 / 20000))
    colder = layer.probabilities(context[:1], temperature=0.5)[0]
    assert np.all((colder - 0.5) * np.sign(probabilities - 0.5) >= np.abs(probabilities - 0.5) - 1e-12)


def test_init_key_bias_starts_from_the_key_frequencies():
    layer = IndependentBernoulli(CONTEXT, KEYS, dtype=np.float32, rng=0)
    frequencies = np.array([0.0, 0.01, 0.2, 0.5, 0.9, 1.0])
    layer.init_key_bias(frequencies)
    probabilities = layer.probabilities(np.random.default_rng(0).standard_normal((3, CONTEXT)).astype(np.float32))
    np.testing.assert_allclose(probabilities, np.broadcast_to(np.clip(frequencies, 1e-6, 1 - 1e-6), (3, KEYS)),
                               atol=1e-6)


def test_frames_must_match_the_context():
    layer = IndependentBernoulli(CONTEXT, KEYS, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match=r"frames: expected shape \(3, 6\)"):
        layer(np.zeros((3, CONTEXT)), np.zeros((3, KEYS + 1)))
