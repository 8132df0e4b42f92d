"""rnnkit/tasks/sampling.py: drawing the next character and streaming text."""

import numpy as np
import pytest

from rnnkit import kernels
from rnnkit.data.vocab import CharVocab
from rnnkit.errors import ConfigError
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks.sampling import SAMPLE_RUN, Generator, generate, next_id

LOGITS = np.log(np.array([0.1, 0.2, 0.3, 0.4]))


def frequencies(draws: int = 4000, **options) -> np.ndarray:
    rng = np.random.default_rng(0)
    ids = [next_id(LOGITS, rng, **options) for _ in range(draws)]
    return np.bincount(ids, minlength=4) / draws


def test_temperature_one_samples_the_softmax():
    np.testing.assert_allclose(frequencies(), [0.1, 0.2, 0.3, 0.4], atol=0.03)


def test_low_temperature_sharpens_and_greedy_takes_the_argmax():
    assert frequencies(temperature=0.2)[3] > 0.7
    assert next_id(LOGITS, np.random.default_rng(0), greedy=True) == 3


def test_top_k_keeps_only_the_k_likeliest():
    found = frequencies(top_k=2)
    assert found[0] == 0 and found[1] == 0
    np.testing.assert_allclose(found[2:], [3 / 7, 4 / 7], atol=0.03)


def test_allowed_mask_excludes_characters():
    allowed = np.array([True, True, False, False])
    assert frequencies(allowed=allowed)[2:].sum() == 0


def tiny_model(text="hello world\n"):
    vocab = CharVocab(text)
    return CharLM(CharLMConfig(vocab_size=len(vocab), hidden_size=8, num_layers=1), rng=0), vocab


def test_generate_streams_the_requested_length_reproducibly():
    model, vocab = tiny_model()
    first = "".join(generate(model, vocab, 40, prime="he", rng=3))
    again = "".join(generate(model, vocab, 40, prime="he", rng=3))
    assert len(first) == 40 and first == again
    assert set(first) <= set(vocab.characters)


@pytest.mark.parametrize("options, message", [
    (dict(temperature=0.0), "temperature"),
    (dict(top_k=-1), "`top_k`"),
    (dict(top_k=99), "`top_k`"),
])
def test_generate_rejects_bad_options(options, message):
    model, vocab = tiny_model()
    with pytest.raises(ConfigError, match=message):
        next(generate(model, vocab, 5, **options))


def one_at_a_time(monkeypatch, model, vocab, length, **options) -> str:
    """generate with the compiled sampler turned off: each id fed back through the stepper, then next_id."""
    with monkeypatch.context() as patch:
        patch.setattr(Generator, "sampler", lambda self, temperature: None)
        return "".join(generate(model, vocab, length, **options))


@pytest.mark.parametrize("length", [0, 1, 2, SAMPLE_RUN, SAMPLE_RUN + 2, 3 * SAMPLE_RUN + 5])
def test_runs_drawn_by_the_compiled_sampler_are_the_ids_drawn_one_at_a_time(monkeypatch, length):
    pytest.importorskip("numba", reason="the compiled sampler needs numba")
    vocab = CharVocab("abcdefghij klmnop\n")
    model = CharLM(CharLMConfig(vocab_size=len(vocab), hidden_size=16, num_layers=2), rng=0)
    assert model.stepper().sampler(0.7) is not None
    for options in (dict(rng=1), dict(prime="ab k", temperature=0.7, rng=2)):
        compiled = "".join(generate(model, vocab, length, **options))
        assert len(compiled) == length
        assert compiled == one_at_a_time(monkeypatch, model, vocab, length, **options)


def test_generate_draws_one_uniform_per_id_in_either_path(monkeypatch):
    pytest.importorskip("numba", reason="the compiled sampler needs numba")
    model, vocab = tiny_model()
    compiled_rng, reference_rng = np.random.default_rng(4), np.random.default_rng(4)
    "".join(generate(model, vocab, SAMPLE_RUN + 9, rng=compiled_rng))
    one_at_a_time(monkeypatch, model, vocab, SAMPLE_RUN + 9, rng=reference_rng)
    assert compiled_rng.random() == reference_rng.random()


def test_the_compiled_sampler_is_only_for_a_compiled_lstm_stack_of_one_sequence():
    pytest.importorskip("numba", reason="the compiled sampler needs numba")
    vocab = CharVocab("abc\n")
    lstm = CharLM(CharLMConfig(vocab_size=len(vocab), hidden_size=8), rng=0)
    gru = CharLM(CharLMConfig(vocab_size=len(vocab), cell="gru", hidden_size=8), rng=0)
    assert lstm.stepper().sampler(1.0) is not None
    assert lstm.stepper(batch=2).sampler(1.0) is None
    assert gru.stepper().sampler(1.0) is None
    before = kernels.backend()
    try:
        kernels.use("numpy")
        assert lstm.stepper().sampler(1.0) is None
    finally:
        kernels.use(before)
