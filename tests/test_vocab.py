"""CharVocab: ids in Unicode order, exact round trips for any script, and clear errors for strangers."""

import json

import numpy as np
import pytest

from rnnkit.data.vocab import CharVocab, build_vocab_from_chunks, encode_chunks
from rnnkit.errors import ConfigError, DataError

MIXED = "床前明月光，疑是地上霜。\ndef café(x):\n    return x ** 2  # naïve 𝄞\n"


def test_vocabulary_is_the_sorted_distinct_characters():
    vocab = CharVocab("hello")
    assert vocab.characters == ["e", "h", "l", "o"]
    assert len(vocab) == 4
    np.testing.assert_array_equal(vocab.encode("hole"), [1, 3, 2, 0])


def test_encode_then_decode_gives_back_chinese_code_and_accents():
    vocab = CharVocab(MIXED)
    assert vocab.decode(vocab.encode(MIXED)) == MIXED


@pytest.mark.parametrize(
    ("size", "dtype"), [(2, np.uint8), (256, np.uint8), (257, np.uint16), (70_000, np.uint32)]
)
def test_ids_use_the_smallest_sufficient_unsigned_dtype(size, dtype):
    vocab = CharVocab(chr(0x4E00 + i) for i in range(size))
    assert vocab.dtype == dtype
    assert vocab.encode(vocab.characters[-1]).dtype == dtype
    assert vocab.encode(vocab.characters[-1])[0] == size - 1


def test_unknown_characters_raise_and_are_listed():
    vocab = CharVocab("abc")
    expected = r"2 character\(s\) not in the vocabulary: 'x', '中'.*unknown='skip'"
    with pytest.raises(DataError, match=expected):
        vocab.encode("abx中a")


def test_unknown_characters_can_be_skipped():
    vocab = CharVocab("abc")
    assert vocab.decode(vocab.encode("a中bxc", unknown="skip")) == "abc"


def test_unknown_policy_must_be_error_or_skip():
    with pytest.raises(ConfigError, match="'error' or 'skip'"):
        CharVocab("ab").encode("a", unknown="replace")


def test_decoding_an_id_outside_the_vocabulary_raises():
    with pytest.raises(DataError, match="id 5 is outside the vocabulary of 3"):
        CharVocab("abc").decode([0, 5])


def test_empty_vocabulary_raises():
    with pytest.raises(DataError, match="no characters"):
        CharVocab("")


def test_json_round_trip_gives_an_equal_vocabulary_with_the_same_ids():
    vocab = CharVocab(MIXED)
    restored = CharVocab.from_json(json.loads(json.dumps(vocab.to_json())))
    assert restored == vocab
    np.testing.assert_array_equal(restored.encode(MIXED), vocab.encode(MIXED))


@pytest.mark.parametrize("stored", [None, [], ["b", "a"], ["a", "a"], ["ab"], [1, 2], "abc"])
def test_from_json_rejects_anything_but_a_sorted_list_of_characters(stored):
    with pytest.raises(DataError, match="vocabulary is damaged"):
        CharVocab.from_json(stored)


def test_chunked_build_and_encode_match_the_whole_text():
    chunks = [MIXED[i : i + 7] for i in range(0, len(MIXED), 7)]
    vocab, length = build_vocab_from_chunks(chunks)
    assert vocab == CharVocab(MIXED)
    assert length == len(MIXED)
    np.testing.assert_array_equal(encode_chunks(vocab, chunks), vocab.encode(MIXED))


def test_encode_chunks_fills_a_preallocated_array():
    chunks = ["abc", "cab", "b"]
    vocab, length = build_vocab_from_chunks(chunks)
    out = np.full(length + 3, 99, dtype=vocab.dtype)
    filled = encode_chunks(vocab, chunks, out=out)
    np.testing.assert_array_equal(filled, [0, 1, 2, 2, 0, 1, 1])
    assert np.shares_memory(filled, out)


def test_encode_chunks_into_too_small_an_array_raises():
    vocab = CharVocab("abc")
    with pytest.raises(DataError, match="holds 2 ids but the text is longer"):
        encode_chunks(vocab, ["abc"], out=np.zeros(2, dtype=vocab.dtype))


def test_build_vocab_from_chunks_needs_two_distinct_characters():
    with pytest.raises(DataError, match="big.txt holds 1 distinct character"):
        build_vocab_from_chunks(["zz", "z"], where="big.txt")
