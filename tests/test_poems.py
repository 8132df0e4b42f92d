"""rnnkit/tasks/poems.py: the form of regulated verse holds whatever the model says."""

import pytest

from rnnkit.data.vocab import CharVocab
from rnnkit.errors import ConfigError
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks.poems import generate_poem, is_chinese

CORPUS = "春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。\n床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。\nabc!?\n"


@pytest.fixture(scope="module")
def model_and_vocab():
    vocab = CharVocab(CORPUS)
    return CharLM(CharLMConfig(vocab_size=len(vocab), hidden_size=8, num_layers=1), rng=0), vocab


@pytest.mark.parametrize("chars_per_line, lines", [(5, 4), (7, 4), (5, 8), (7, 8)])
def test_poem_lines_have_the_right_length_and_punctuation(model_and_vocab, chars_per_line, lines):
    model, vocab = model_and_vocab
    poem = generate_poem(model, vocab, chars_per_line, lines, temperature=1.5, rng=0)
    assert len(poem) == lines
    for number, line in enumerate(poem):
        assert len(line) == chars_per_line + 1
        assert all(is_chinese(c) for c in line[:-1])   # never 'a', '!' or a newline
        assert line[-1] == ("，" if number % 2 == 0 else "。")


def test_acrostic_starts_each_line_with_its_character(model_and_vocab):
    model, vocab = model_and_vocab
    poem = generate_poem(model, vocab, 7, 4, acrostic="春夜花月", rng=1)
    assert [line[0] for line in poem] == list("春夜花月")


@pytest.mark.parametrize("options, message", [
    (dict(chars_per_line=6), "5 or 7"),
    (dict(lines=3), "4 .*or 8"),
    (dict(acrostic="春夜"), "one character per line"),
    (dict(acrostic="春夜花龍"), "lacks"),
])
def test_poem_options_are_checked(model_and_vocab, options, message):
    model, vocab = model_and_vocab
    with pytest.raises(ConfigError, match=message):
        generate_poem(model, vocab, **({"chars_per_line": 5, "lines": 4} | options))


def test_poems_differ_between_seeds(model_and_vocab):
    model, vocab = model_and_vocab
    assert generate_poem(model, vocab, rng=0) != generate_poem(model, vocab, rng=1)
