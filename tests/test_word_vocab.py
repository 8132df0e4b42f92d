"""WordVocab: whitespace words and <eos> at line ends, ids by frequency, <unk> for strangers, streamed whole lines;
and the Penn Treebank read through the corpus functions (rnnkit/data/word_vocab.py, rnnkit/data/corpus.py)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnkit.data.corpus import CorpusSource, encode_corpus, read_ids, scan_corpus
from rnnkit.data.datasets import corpus_dataset
from rnnkit.data.vocab import encode_chunks
from rnnkit.data.word_vocab import EOS, UNK, WordVocab, split_words, whole_lines
from rnnkit.errors import ConfigError, DataError

PTB_STYLE = " the cat sat on the <unk> \n the N cats sat \n"


def test_words_are_split_at_whitespace_with_eos_at_each_line_break():
    assert split_words(" the cat\tsat \n\non  it\r\n") == ["the", "cat", "sat", EOS, EOS, "on", "it", EOS]
    assert split_words("an open prompt") == ["an", "open", "prompt"]          # no line break: no <eos>


def test_ids_go_by_frequency_then_alphabet_and_eos_counts_as_a_word():
    vocab, length = WordVocab.from_chunks([PTB_STYLE])
    assert vocab.words == ["the", EOS, "sat", "<unk>", "N", "cat", "cats", "on"]
    assert length == 12 == len(split_words(PTB_STYLE))
    assert vocab.kind == "words" and vocab.unit == "word" and vocab.tokens is vocab.words


def test_max_size_keeps_the_most_frequent_words_and_unk_counts_the_rest():
    vocab, length = WordVocab.from_chunks([PTB_STYLE], max_size=4)
    # counts: the 3, <eos> 2, sat 2, <unk> 1 (+ N, cat, cats, on: 1 each, now <unk>'s) -> <unk> 5
    assert vocab.words == [UNK, "the", EOS, "sat"] and length == 12
    assert vocab.decode(vocab.encode(" the cats sat \n")) == "the <unk> sat\n"
    assert WordVocab.from_chunks([PTB_STYLE], max_size=8)[0].words == WordVocab.from_text(PTB_STYLE).words
    unk_free, _ = WordVocab.from_chunks(["a a a b b c\n"], max_size=3)
    assert unk_free.words == ["a", UNK, "b"]     # <unk> added for c and <eos>: 2, as b (ties alphabetical)
    with pytest.raises(ConfigError, match="at least 2"):
        WordVocab.from_chunks([PTB_STYLE], max_size=1)


def test_the_end_of_a_corpus_ends_its_last_line():
    vocab, length = WordVocab.from_chunks(["a b\nc"])
    assert length == 5
    np.testing.assert_array_equal(encode_chunks(vocab, ["a b\nc"]), vocab.encode("a b\nc\n"))


def test_ptb_style_unk_stands_for_every_unknown_word():
    vocab = WordVocab.from_text(PTB_STYLE)
    unk = vocab.words.index(UNK)
    np.testing.assert_array_equal(vocab.encode("the dog sat on a mat\n"),
                                  [0, unk, 2, 7, unk, unk, vocab.words.index(EOS)])


def test_without_unk_unknown_words_raise_and_are_listed_or_are_skipped():
    vocab = WordVocab.from_text("the cat sat\n")
    with pytest.raises(DataError, match=r"2 word\(s\) not in the vocabulary: 'dog', 'mat'; it has no <unk>"):
        vocab.encode("the dog sat mat")
    assert vocab.decode(vocab.encode("the dog sat mat", unknown="skip")) == "the sat"
    with pytest.raises(ConfigError, match="policy"):
        vocab.encode("the", unknown="replace")


def test_decode_joins_words_by_spaces_and_eos_by_line_breaks():
    vocab = WordVocab.from_text(PTB_STYLE)
    ids = vocab.encode("the cat sat\non the N\n")
    assert vocab.decode(ids) == "the cat sat\non the N\n"
    pieces = [vocab.continuation(token, previous) for token, previous in zip(ids, [None, *ids[:-1]])]
    assert "".join(pieces) == vocab.decode(ids)
    assert vocab.decode(vocab.start_ids()) == "\n"
    with pytest.raises(DataError, match="outside the vocabulary of 8 words"):
        vocab.decode([8])


def test_ids_use_the_smallest_unsigned_dtype():
    small, large = WordVocab([f"w{i}" for i in range(256)]), WordVocab([f"w{i}" for i in range(257)])
    assert small.dtype == np.uint8 and large.dtype == np.uint16
    assert large.encode("w256").dtype == np.uint16


def test_json_round_trip_and_damaged_lists():
    vocab = WordVocab.from_text(PTB_STYLE)
    assert WordVocab.from_json(vocab.to_json()) == vocab
    for damaged in ([], ["a", "a"], ["a b"], [""], "the", [1, 2]):
        with pytest.raises(DataError, match="damaged"):
            WordVocab.from_json(damaged)


def test_one_distinct_word_is_not_a_corpus():
    with pytest.raises(DataError, match="1 distinct word"):
        WordVocab.from_chunks(["\n\n\n"])


@given(st.lists(st.sampled_from(["a", "bb", " ", "\n", "c\u00e9", "  \n "]), max_size=40),
       st.lists(st.integers(1, 7), min_size=1, max_size=5))
def test_lines_streamed_in_any_chunks_give_the_whole_text_ids(parts, cuts):
    text = "".join(parts) + "a b\n"
    chunks, start = [], 0
    for cut in cuts * 20:
        chunks.append(text[start:start + cut])
        start += cut
    chunks.append(text[start:])
    assert "".join(whole_lines(chunks)) == text
    vocab, length = WordVocab.from_chunks(chunks)
    ids = encode_chunks(vocab, chunks)
    assert len(ids) == length
    np.testing.assert_array_equal(ids, vocab.encode(text))


def test_a_word_corpus_streams_from_files_and_held_out_text_reads_whole(tmp_path):
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_text(PTB_STYLE * 3, encoding="utf-8")
    valid.write_text(" the dog sat \n", encoding="utf-8")
    source = CorpusSource.from_paths([train])
    vocab, length, sha256 = scan_corpus(source, "words")
    ids = encode_corpus(source, vocab, length, tmp_path)
    assert vocab.decode(ids) == "the cat sat on the <unk>\nthe N cats sat\n" * 3
    valid_ids, valid_sha = read_ids(CorpusSource.from_paths([valid]), vocab)
    assert vocab.decode(valid_ids) == "the <unk> sat\n" and valid_sha != sha256
    with pytest.raises(ConfigError, match="`tokens` must be one of chars, words"):
        scan_corpus(source, "bytes")


def test_a_held_out_word_the_vocabulary_cannot_stand_for_names_the_file(tmp_path):
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_text("the cat sat\n", encoding="utf-8")
    valid.write_text("the dog sat\n", encoding="utf-8")
    vocab, _, _ = scan_corpus(CorpusSource.from_paths([train]), "words")
    with pytest.raises(DataError, match=f"{valid}: 1 word.*'dog'"):
        read_ids(CorpusSource.from_paths([valid]), vocab)


def test_penn_treebank_has_its_known_sizes(data_dir):
    """10,000 types with <eos>; 929,589 / 73,760 / 82,430 tokens with <eos> (as Zaremba et al.'s reader)."""
    paths = corpus_dataset("ptb").paths(data_dir)
    vocab, length, _ = scan_corpus(CorpusSource.from_paths([paths["train"]]), "words")
    assert len(vocab) == 10_000 and length == 929_589 and {EOS, UNK, "N"} <= set(vocab.words)
    valid, _ = read_ids(CorpusSource.from_paths([paths["valid"]]), vocab)
    test, _ = read_ids(CorpusSource.from_paths([paths["test"]]), vocab)
    assert (len(valid), len(test)) == (73_760, 82_430)
    with pytest.raises(ConfigError, match="unknown `dataset` 'wikitext'"):
        corpus_dataset("wikitext")
    with pytest.raises(DataError, match="set RNNKIT_DATA"):
        corpus_dataset("ptb").paths(data_dir / "nowhere")
