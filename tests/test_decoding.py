"""Decoding (rnnkit/models/decoding.py): greedy, sampling and beam search over a Seq2Seq's stepper."""

import numpy as np
import pytest
from test_seq2seq import tiny_batch

from rnnkit.data.padding import pad_batch
from rnnkit.errors import ConfigError
from rnnkit.losses import log_softmax
from rnnkit.models.decoding import beam_search, draw, greedy, length_penalty, sample
from rnnkit.models.seq2seq import BOS_ID, EOS_ID, PAD_ID, Seq2Seq, Seq2SeqConfig

VOCAB = 12
SOURCES = [[4, 5, 6, 7], [8, 4], [5, 9, 10, 11, 4, 6], [7]]
VARIANTS = [("lstm", "general", True), ("gru", "additive", False), ("lstm", "dot", False), ("gru", "general", True)]
VARIANT_IDS = ["-".join(str(field) for field in variant) for variant in VARIANTS]


def random_model(cell="lstm", attention="general", feeding=True, seed=0, scale=1.5) -> Seq2Seq:
    """A float64 model with large random weights, so that its distributions are far from uniform."""
    config = Seq2SeqConfig(source_vocab_size=VOCAB, target_vocab_size=VOCAB, cell=cell, attention=attention,
                           input_feeding=feeding, embedding_dim=6, hidden_size=6, dropout=0.2)
    model = Seq2Seq(config, dtype=np.float64, rng=seed)
    rng = np.random.default_rng(seed + 100)
    for value in model.parameters().values():
        value[...] = rng.standard_normal(value.shape) * scale
    return model


def forced_log_prob(model, source, tokens) -> float:
    """log P(tokens <eos> | source) by one teacher-forced forward pass."""
    batch = tiny_batch([source], [tokens])
    with_eval = model.training
    model.eval()
    logits = model(batch.source, batch.source_lengths, batch.target_inputs)
    model.train(with_eval)
    log_probs = log_softmax(logits[:, 0])
    return float(log_probs[np.arange(len(tokens) + 1), batch.target_outputs[:, 0]].sum())


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_width_one_is_greedy(variant, alpha):
    model = random_model(*variant)
    source, lengths = pad_batch(SOURCES)
    paths = greedy(model, source, lengths, max_length=10, alpha=alpha)
    beams = beam_search(model, source, lengths, beam_size=1, alpha=alpha, max_length=10)
    for path, (best,) in zip(paths, beams):
        assert best.tokens == path.tokens
        assert abs(best.log_prob - path.log_prob) < 1e-12 and abs(best.score - path.score) < 1e-12
        np.testing.assert_allclose(best.attention, path.attention, atol=1e-14)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_search_never_scores_below_greedy(alpha):
    rng = np.random.default_rng(0)
    compared = 0
    for seed in range(12):
        model = random_model(*VARIANTS[seed % len(VARIANTS)], seed=seed)
        source, lengths = pad_batch([list(rng.integers(4, VOCAB, rng.integers(1, 7))) for _ in range(6)])
        paths = greedy(model, source, lengths, max_length=12, alpha=alpha)
        for beam_size in (2, 3, 5):
            beams = beam_search(model, source, lengths, beam_size=beam_size, alpha=alpha, max_length=12)
            for path, (best,) in zip(paths, beams):
                assert best.score >= path.score - 1e-12, (seed, beam_size, best, path)
                compared += 1
    assert compared == 12 * 3 * 6


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_n_best_are_distinct_sorted_and_scored_as_a_forward_pass_scores_them(variant):
    model = random_model(*variant)
    source, lengths = pad_batch(SOURCES)
    for sentence, hypotheses in zip(SOURCES, beam_search(model, source, lengths, beam_size=4, n_best=4)):
        assert len(hypotheses) == 4
        assert len({tuple(h.tokens) for h in hypotheses}) == 4
        scores = [h.score for h in hypotheses]
        assert scores == sorted(scores, reverse=True)
        for h in hypotheses:
            assert abs(h.log_prob - forced_log_prob(model, sentence, h.tokens)) < 1e-10
            assert abs(h.score - h.log_prob / length_penalty(len(h.tokens) + 1, 0.6)) < 1e-12
            assert h.attention.shape == (len(h.tokens) + 1, len(sentence))
            np.testing.assert_allclose(h.attention.sum(axis=1), 1.0, atol=1e-12)
            assert not {EOS_ID, PAD_ID, BOS_ID} & set(h.tokens)


def test_batched_beam_search_decodes_each_sentence_as_alone():
    model = random_model()
    source, lengths = pad_batch(SOURCES)
    together = beam_search(model, source, lengths, beam_size=3, n_best=3)
    for sentence, hypotheses in zip(SOURCES, together):
        alone = beam_search(model, np.array(sentence)[:, None], np.array([len(sentence)]), beam_size=3, n_best=3)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in hypotheses]
        np.testing.assert_allclose([h.score for h in alone], [h.score for h in hypotheses], atol=1e-12)


@pytest.mark.parametrize("max_length", [1, 3])
def test_every_hypothesis_ends_within_the_maximum_length(max_length):
    model = random_model(scale=0.3)                     # nearly uniform: <eos> rarely comes by itself
    source, lengths = pad_batch(SOURCES)
    for hypothesis in greedy(model, source, lengths, max_length=max_length):
        assert len(hypothesis.tokens) + 1 <= max_length
    for hypotheses in beam_search(model, source, lengths, beam_size=3, n_best=3, max_length=max_length):
        assert all(len(h.tokens) + 1 <= max_length for h in hypotheses)


def test_default_maximum_length_follows_each_source():
    model = random_model(scale=0.3)
    source, lengths = pad_batch(SOURCES)
    for sentence, hypothesis in zip(SOURCES, greedy(model, source, lengths)):
        assert len(hypothesis.tokens) + 1 <= 2 * len(sentence) + 10


def test_sampling_is_seeded_scored_by_the_model_and_greedy_when_cold():
    model = random_model()
    source, lengths = pad_batch(SOURCES)
    first = sample(model, source, lengths, np.random.default_rng(7), temperature=1.0)
    again = sample(model, source, lengths, np.random.default_rng(7), temperature=1.0)
    assert [h.tokens for h in first] == [h.tokens for h in again]
    for sentence, hypothesis in zip(SOURCES, first):
        assert abs(hypothesis.log_prob - forced_log_prob(model, sentence, hypothesis.tokens)) < 1e-10
    cold = sample(model, source, lengths, np.random.default_rng(7), temperature=1e-3)
    assert [h.tokens for h in cold] == [h.tokens for h in greedy(model, source, lengths)]


def test_draw_follows_the_softmax():
    scores = np.array([[np.log(0.5), np.log(0.3), np.log(0.2), -np.inf]]).repeat(20000, axis=0)
    counts = np.bincount(draw(scores, np.random.default_rng(0)), minlength=4) / 20000
    np.testing.assert_allclose(counts, [0.5, 0.3, 0.2, 0.0], atol=0.015)


def test_decoding_steps_and_never_runs_a_full_forward_pass(monkeypatch):
    model = random_model().train()
    source, lengths = pad_batch(SOURCES)

    def no_forward(*args, **kwargs):
        raise AssertionError("decoding must step the decoder, not run forward")

    monkeypatch.setattr(Seq2Seq, "forward", no_forward)
    greedy(model, source, lengths)
    sample(model, source, lengths, np.random.default_rng(0))
    beam_search(model, source, lengths, beam_size=3)
    assert model.training                                # decoding ran in eval mode and restored the mode


@pytest.mark.parametrize("options,message", [
    (dict(beam_size=0), "`beam_size` must be a positive integer"),
    (dict(beam_size=2, n_best=3), r"`n_best` \(3\) cannot exceed `beam_size` \(2\)"),
    (dict(alpha=-1.0), "`alpha` .* must be >= 0"),
    (dict(max_length=0), "`max_length` must be a positive integer"),
])
def test_bad_beam_options_are_config_errors(options, message):
    model = random_model()
    source, lengths = pad_batch(SOURCES)
    with pytest.raises(ConfigError, match=message):
        beam_search(model, source, lengths, **options)


def test_bad_temperature_is_a_config_error():
    source, lengths = pad_batch(SOURCES)
    with pytest.raises(ConfigError, match="`temperature` must be positive"):
        sample(random_model(), source, lengths, np.random.default_rng(0), temperature=0.0)
