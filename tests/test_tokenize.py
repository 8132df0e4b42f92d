import numpy as np
import pytest

from rnnkit.data.tokenize import Vocabulary, tokenize_chinese, tokenize_words
from rnnkit.errors import ConfigError, DataError


def test_words_split_punctuation_and_clitics_penn_treebank_style():
    assert tokenize_words("Don't stop... it's the '70s!") == [
        "do", "n't", "stop", "...", "it", "'s", "the", "'70s", "!",
    ]


def test_words_keep_hyphenated_words_and_numbers_whole():
    assert tokenize_words("A sci-fi B-movie, 3.5 stars (writer\\/director)") == [
        "a", "sci-fi", "b-movie", ",", "3.5", "stars", "(", "writer\\/director", ")",
    ]


def test_words_leave_pretokenised_sst_sentence_as_split_on_spaces():
    sentence = "if you 've ever entertained the notion -- it 's not -lrb- quite -rrb- `` fun '' ."
    assert tokenize_words(sentence) == sentence.split()


def test_words_lowercase_is_optional():
    assert tokenize_words("Good Film", lowercase=False) == ["Good", "Film"]


def test_chinese_one_token_per_character_and_ascii_runs_whole():
    assert tokenize_chinese("房间很大，2M宽 WiFi好！") == [
        "房", "间", "很", "大", ",", "2m", "宽", "wifi", "好", "!",
    ]


def test_chinese_full_width_forms_share_tokens_with_ascii():
    assert tokenize_chinese("ＡＢ１２，") == tokenize_chinese("ab12,") == ["ab12", ","]


def test_vocabulary_reserves_pad_and_unk_then_orders_by_count():
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "b", "a"]])
    assert vocab.tokens == ["<pad>", "<unk>", "b", "a", "c"]
    assert (Vocabulary.PAD_ID, Vocabulary.UNK_ID) == (0, 1)


def test_vocabulary_min_count_sends_rare_tokens_to_unk():
    vocab = Vocabulary.build([["the", "film", "the"], ["the", "plot", "film"]], min_count=2)
    assert "plot" not in vocab
    assert vocab.encode(["the", "plot", "film", "never-seen"]).tolist() == [2, 1, 3, 1]


def test_vocabulary_max_size_counts_the_special_tokens():
    vocab = Vocabulary.build([list("aaabbc")], max_size=4)
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b"]


def test_vocabulary_encode_decode_round_trip():
    vocab = Vocabulary.build([["a", "good", "film"]])
    ids = vocab.encode(["a", "good", "film"])
    assert ids.dtype == np.int64
    assert vocab.decode(ids) == ["a", "good", "film"]


def test_vocabulary_json_round_trip_keeps_ids():
    vocab = Vocabulary.build([["房", "间", "房"]])
    restored = Vocabulary.from_json(vocab.to_json())
    assert restored.tokens == vocab.tokens
    assert restored.encode(["间", "房"]).tolist() == vocab.encode(["间", "房"]).tolist()


def test_vocabulary_rejects_json_without_special_tokens():
    with pytest.raises(DataError, match="<pad>"):
        Vocabulary.from_json('{"tokens": ["a", "b"]}')


def test_vocabulary_min_count_below_one_is_a_config_error():
    with pytest.raises(ConfigError, match="`min_count` is 0"):
        Vocabulary.build([["a"]], min_count=0)
