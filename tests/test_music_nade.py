"""rnnkit/layers/nade.py: finite differences, a reference written from the equations of RNN-NADE
(PyTorch autograd, one key at a time), normalisation over every frame, sampling."""

import itertools

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.nade import NADE

CONTEXT, KEYS, HIDDEN = 4, 5, 3
ALL_FRAMES = np.array(list(itertools.product((0.0, 1.0), repeat=KEYS)))      # all 2^K frames


def problem(seed=0, shape=(3, 2)):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape + (CONTEXT,)), (rng.random(shape + (KEYS,)) < 0.4).astype(np.float64),
            rng.standard_normal(shape))


def test_nade_gradients_match_finite_differences():
    nade = NADE(CONTEXT, KEYS, HIDDEN, dtype=np.float64, rng=0)
    context, frames, upstream = problem()

    def loss() -> float:
        return float(np.sum(nade(context, frames) * upstream))

    nade.zero_grad()
    nade(context, frames)
    dcontext = nade.backward(upstream)
    result = gradcheck(loss, {"context": context, **nade.parameters()}, {"context": dcontext, **nade.grads})
    assert result.max_error < 1e-7, result


def reference_log_probs(torch, context, frames, params):
    """log p(v | c) of Boulanger-Lewandowski et al. 2012 (eq. 9-11 with b_v, b_h set by c), key by key."""
    b = params["visible_bias.bias"] + context @ params["visible_bias.weight"].T
    d = params["hidden_bias.bias"] + context @ params["hidden_bias.weight"].T
    W, V = params["weight_in"], params["weight_out"]
    total = 0.0
    for k in range(KEYS):
        h_k = torch.sigmoid(d + frames[:, :k] @ W[:, :k].T)                 # sigmoid(b_h + W_:,<k v_<k)
        p_k = torch.sigmoid(b[:, k] + h_k @ V[k])                             # sigmoid(b_vk + V_k . h_k)
        total = total + frames[:, k] * torch.log(p_k) + (1 - frames[:, k]) * torch.log(1 - p_k)
    return total


def test_nade_matches_a_reference_written_from_the_paper(torch):
    nade = NADE(CONTEXT, KEYS, HIDDEN, dtype=np.float64, rng=2)
    context, frames, upstream = problem(2, shape=(7,))
    log_probs = nade(context, frames)
    nade.zero_grad()
    dcontext = nade.backward(upstream)

    params = {name: torch.tensor(value, requires_grad=True) for name, value in nade.parameters().items()}
    c = torch.tensor(context, requires_grad=True)
    expected = reference_log_probs(torch, c, torch.tensor(frames), params)
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(log_probs, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dcontext, c.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, tensor in params.items():
        np.testing.assert_allclose(nade.grads[name], tensor.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_nade_probabilities_sum_to_one_over_every_frame():
    nade = NADE(CONTEXT, KEYS, HIDDEN, dtype=np.float64, rng=0)
    for context in np.random.default_rng(3).standard_normal((3, CONTEXT)) * 2:
        contexts = np.repeat(context[None], len(ALL_FRAMES), axis=0)
        assert np.exp(nade.log_prob(contexts, ALL_FRAMES)).sum() == pytest.approx(1.0, abs=1e-12)


def test_log_prob_equals_forward_without_touching_the_cache():
    nade = NADE(CONTEXT, KEYS, HIDDEN, dtype=np.float64, rng=0)
    context, frames, upstream = problem()
    expected = nade(context, frames)
    nade.zero_grad()
    dcontext = nade.backward(upstream)
    np.testing.assert_allclose(nade.log_prob(context[1], frames[1]), expected[1], rtol=1e-14)
    nade.zero_grad()
    np.testing.assert_array_equal(nade.backward(upstream), dcontext)


def test_sampled_frames_follow_the_nade_distribution():
    nade = NADE(CONTEXT, 3, HIDDEN, dtype=np.float64, rng=4)
    nade.weight_in *= 4                                   # keys strongly dependent on the ones below
    draws = 40000
    contexts = np.repeat(np.random.default_rng(5).standard_normal((1, CONTEXT)), draws, axis=0)
    samples = nade.sample(contexts, np.random.default_rng(6))
    codes = samples @ np.array([4, 2, 1])
    frequencies = np.bincount(codes, minlength=8) / draws
    frames = np.array(list(itertools.product((0.0, 1.0), repeat=3)))
    probabilities = np.exp(nade.log_prob(contexts[:8], frames))
    np.testing.assert_allclose(frequencies, probabilities, atol=4 * np.sqrt(0.25 / draws))


def test_a_cold_temperature_makes_sampling_greedy():
    nade = NADE(CONTEXT, KEYS, HIDDEN, dtype=np.float64, rng=0)
    contexts = np.repeat(np.random.default_rng(0).standard_normal((1, CONTEXT)), 50, axis=0)
    samples = nade.sample(contexts, np.random.default_rng(1), temperature=1e-4)
    assert (samples == samples[0]).all()


def test_init_key_bias_starts_as_independent_keys_with_those_frequencies():
    nade = NADE(CONTEXT, KEYS, HIDDEN, dtype=np.float64, rng=0)
    frequencies = np.array([0.1, 0.5, 0.02, 0.7, 0.3])
    nade.init_key_bias(frequencies)
    context = np.random.default_rng(0).standard_normal((len(ALL_FRAMES), CONTEXT))
    independent = np.sum(np.where(ALL_FRAMES > 0, np.log(frequencies), np.log1p(-frequencies)), axis=1)
    np.testing.assert_allclose(nade.log_prob(context, ALL_FRAMES), independent, rtol=1e-9)
