"""The attention layer (rnnkit/layers/attention.py): its three forms, the padding mask, its gradients."""

import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.gradcheck import gradcheck, relative_error
from rnnkit.layers.attention import FORMS, Attention, MemoryGrad

SOURCE_STEPS, BATCH, QUERY_SIZE = 5, 3, 4
LENGTHS = np.array([5, 2, 3])


def memory_size(form):
    return QUERY_SIZE if form == "dot" else 6


def random_inputs(form, steps=2, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((SOURCE_STEPS, BATCH, memory_size(form)))
    return values, rng.standard_normal((steps, BATCH, QUERY_SIZE)), rng


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_attention_gradients_match_finite_differences(form, with_lengths):
    attention = Attention(form, QUERY_SIZE, memory_size(form), attention_size=3, dtype=np.float64, rng=0)
    values, query, rng = random_inputs(form)
    lengths = LENGTHS if with_lengths else None
    dcontext = rng.standard_normal((query.shape[0], BATCH, memory_size(form)))

    def loss():
        context, _, _ = attention(query, attention.memory(values, lengths))
        return float(np.sum(context * dcontext))

    attention.zero_grad()
    memory = attention.memory(values, lengths)
    _, _, cache = attention(query, memory)
    dmemory = MemoryGrad.zeros_like(memory)
    dquery = attention.backward(dcontext, cache, dmemory)
    dvalues = attention.memory_backward(memory, dmemory)
    result = gradcheck(loss, {"query": query, "values": values, **attention.parameters()},
                       {"query": dquery, "values": dvalues, **attention.grads})
    assert result.max_error < 1e-7, result


@pytest.mark.parametrize("form", FORMS)
def test_steps_one_at_a_time_give_the_results_and_gradients_of_all_at_once(form):
    attention = Attention(form, QUERY_SIZE, memory_size(form), dtype=np.float64, rng=0)
    values, query, rng = random_inputs(form, steps=3)
    dcontext = rng.standard_normal((3, BATCH, memory_size(form)))
    memory = attention.memory(values, LENGTHS)

    def gradients(calls):
        attention.zero_grad()
        dmemory = MemoryGrad.zeros_like(memory)
        contexts, dqueries = [], []
        for steps in calls:
            context, _, cache = attention(query[steps], memory)
            contexts.append(context)
            dqueries.append(attention.backward(dcontext[steps], cache, dmemory))
        dvalues = attention.memory_backward(memory, dmemory)
        grads = {name: grad.copy() for name, grad in attention.grads.items()}
        return np.concatenate(contexts), np.concatenate(dqueries), dvalues, grads

    together = gradients([slice(0, 3)])
    one_by_one = gradients([slice(2, 3), slice(0, 1), slice(1, 2)])     # any order: each call has its own cache
    one_by_one = (one_by_one[0][[1, 2, 0]], one_by_one[1][[1, 2, 0]], *one_by_one[2:])
    for a, b in zip(together[:3], one_by_one[:3]):
        np.testing.assert_allclose(a, b, atol=1e-13)
    for name in together[3]:
        np.testing.assert_allclose(together[3][name], one_by_one[3][name], atol=1e-13)


@pytest.mark.parametrize("form", FORMS)
def test_padding_gets_no_weight_and_does_not_change_the_context(form):
    attention = Attention(form, QUERY_SIZE, memory_size(form), dtype=np.float64, rng=0)
    values, query, rng = random_inputs(form)
    context, weights, _ = attention(query, attention.memory(values, LENGTHS))
    changed = values.copy()
    changed[2:, 1] = rng.standard_normal(changed[2:, 1].shape) * 100     # sentence 1 has 2 tokens
    context_changed, _, _ = attention(query, attention.memory(changed, LENGTHS))
    assert np.all(weights[:, 1, 2:] == 0.0) and np.all(weights[:, 2, 3:] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-14)
    np.testing.assert_array_equal(context_changed, context)


def test_each_form_computes_its_own_scores():
    """e_j = s . h_j (dot), s W_a h_j (general), v . tanh(W_s s + W_h h_j) (additive), written directly."""
    rng = np.random.default_rng(3)
    s, h = rng.standard_normal(QUERY_SIZE), rng.standard_normal((SOURCE_STEPS, QUERY_SIZE))
    for form in FORMS:
        attention = Attention(form, QUERY_SIZE, QUERY_SIZE, dtype=np.float64, rng=1)
        p = attention.parameters()
        score = {"dot": lambda h_j: s @ h_j,
                 "general": lambda h_j: s @ p["weight_a"] @ h_j,
                 "additive": lambda h_j: p["v"] @ np.tanh(p["weight_s"] @ s + p["weight_h"] @ h_j)}[form]
        scores = np.array([score(h_j) for h_j in h])
        expected = np.exp(scores) / np.exp(scores).sum()
        context, weights, _ = attention(s[None, None, :], attention.memory(h[:, None, :]))
        assert relative_error(weights[0, 0], expected) < 1e-14
        assert relative_error(context[0, 0], expected @ h) < 1e-14


def test_memory_take_repeats_sentences_for_beams():
    attention = Attention("general", QUERY_SIZE, 6, dtype=np.float64, rng=0)
    values, query, _ = random_inputs("general")
    memory = attention.memory(values, LENGTHS)
    rows = np.repeat(np.arange(BATCH), 2)
    context, _, _ = attention(query, memory)
    context_repeated, _, _ = attention(query[:, rows], memory.take(rows))
    np.testing.assert_array_equal(context_repeated, context[:, rows])


@pytest.mark.parametrize("arguments,message", [
    (("bilinear", 4, 4), "unknown `attention` 'bilinear'"),
    (("dot", 4, 6), "`attention` dot needs queries and memory of one size"),
])
def test_bad_options_are_config_errors(arguments, message):
    with pytest.raises(ConfigError, match=message):
        Attention(*arguments)


def test_wrong_query_shape_names_the_argument():
    attention = Attention("dot", QUERY_SIZE, QUERY_SIZE)
    memory = attention.memory(np.zeros((SOURCE_STEPS, BATCH, QUERY_SIZE), np.float32))
    with pytest.raises(ValueError, match=r"query: expected shape \(T, 3, 4\)"):
        attention(np.zeros((2, BATCH + 1, QUERY_SIZE), np.float32), memory)
