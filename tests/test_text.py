"""Reading corpora: whole and chunked reads agree, and each bad input gets a DataError saying where."""

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.text import default_corpus, iter_text_chunks, read_text
from rnnkit.data.vocab import CharVocab, build_vocab_from_chunks, encode_chunks
from rnnkit.errors import ConfigError, DataError

FUZZ_EXAMPLES = int(os.environ.get("RNNKIT_FUZZ_EXAMPLES", "50"))


def write(tmp_path: Path, data: bytes, name: str = "corpus.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- reading ------------------------------------------------------------------------


def test_read_text_returns_the_decoded_file(tmp_path):
    text = "déjà vu\n床前明月光\ndef f(x): return x\n"
    assert read_text(write(tmp_path, text.encode())) == text


def test_read_text_concatenates_several_files_in_order(tmp_path):
    first, second = write(tmp_path, b"ab\n", "1.txt"), write(tmp_path, b"cd\n", "2.txt")
    assert read_text([second, first]) == "cd\nab\n"


def test_read_text_with_another_encoding(tmp_path):
    assert read_text(write(tmp_path, "café".encode("latin-1")), encoding="latin-1") == "café"


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 64])
def test_chunked_reading_keeps_characters_split_across_chunks(tmp_path, chunk_bytes):
    text = "中文 and é, 𝄞 (four bytes)\n" * 3
    chunks = list(iter_text_chunks(write(tmp_path, text.encode()), chunk_bytes=chunk_bytes))
    assert "".join(chunks) == text


# -- errors -------------------------------------------------------------------------


def test_missing_file_raises(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_text(tmp_path / "nope.txt")


def test_directory_raises(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_text(tmp_path)


def test_empty_file_raises(tmp_path):
    with pytest.raises(DataError, match="is empty"):
        read_text(write(tmp_path, b""))


def test_no_files_raises():
    with pytest.raises(DataError, match="no corpus files"):
        read_text([])


@pytest.mark.parametrize("chunk_bytes", [1, 4, 1 << 20])
def test_binary_file_reports_the_offset_of_the_nul_byte(tmp_path, chunk_bytes):
    path = write(tmp_path, b"\x89PNG text\x00\x01\x02")
    with pytest.raises(DataError, match="looks binary: NUL byte at byte offset 9"):
        "".join(iter_text_chunks(path, chunk_bytes=chunk_bytes))


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 4, 7, 1 << 20])
def test_invalid_utf8_reports_the_byte_offset_whatever_the_chunk_size(tmp_path, chunk_bytes):
    path = write(tmp_path, "中文é".encode() + b"\xff rest")  # 3 + 3 + 2 bytes, then a bad one at 8
    expected = r"not valid utf-8 at byte offset 8 \(bytes ff\).*real `encoding`, e.g. latin-1"
    with pytest.raises(DataError, match=expected):
        "".join(iter_text_chunks(path, chunk_bytes=chunk_bytes))


@pytest.mark.parametrize("chunk_bytes", [1, 2, 1 << 20])
def test_character_cut_off_at_the_end_of_the_file_reports_its_offset(tmp_path, chunk_bytes):
    path = write(tmp_path, b"ab" + "中".encode()[:2])
    with pytest.raises(DataError, match="at byte offset 2"):
        "".join(iter_text_chunks(path, chunk_bytes=chunk_bytes))


def test_utf16_text_is_not_mistaken_for_binary(tmp_path):
    path = write(tmp_path, "hello, 世界".encode("utf-16"))
    assert read_text(path, encoding="utf-16") == "hello, 世界"


def test_unknown_encoding_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown `encoding`"):
        read_text(write(tmp_path, b"ab"), encoding="klingon")


def test_corpus_with_a_single_distinct_character_raises(tmp_path):
    with pytest.raises(DataError, match="1 distinct character.*at least 2"):
        read_text(write(tmp_path, b"aaaa"))


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # tmp_path is only rewritten
)
@given(
    data=st.binary(max_size=64),
    encoding=st.sampled_from(["utf-8", "latin-1", "cp1252", "utf-16"]),
    chunk_bytes=st.integers(1, 9),
)
def test_random_bytes_give_text_or_a_data_error(tmp_path, data, encoding, chunk_bytes):
    path = write(tmp_path, data)
    try:
        text = "".join(iter_text_chunks(path, encoding, chunk_bytes=chunk_bytes))
    except DataError:
        return
    assert text == data.decode(encoding)  # chunking never changes the result
    try:
        assert read_text(path, encoding) == text
    except DataError as error:
        assert "distinct character" in str(error)


# -- the built-in corpus ------------------------------------------------------------


def test_default_corpus_is_rnnkits_own_source_in_a_fixed_order():
    corpus = default_corpus()
    assert "def default_corpus() -> str:" in corpus
    assert "class CharVocab:" in corpus
    assert corpus == default_corpus()


# -- the shared datasets ------------------------------------------------------------


def test_tiny_shakespeare_reads_with_its_known_size_and_alphabet(data_dir):
    text = read_text(data_dir / "tiny_shakespeare" / "input.txt")
    assert len(text) == 1_115_394
    assert len(CharVocab(text)) == 65  # as in char-rnn and nanoGPT
    assert text.startswith("First Citizen:")


def test_tang_poems_encode_in_chunks_into_a_memmap_as_a_whole(data_dir, tmp_path):
    path = data_dir / "tang_poems" / "tang_poems.tsv"
    vocab, length = build_vocab_from_chunks(iter_text_chunks(path, chunk_bytes=1 << 18), where=str(path))
    assert vocab.dtype == np.uint16  # thousands of Chinese characters
    ids = np.memmap(tmp_path / "ids.bin", dtype=vocab.dtype, mode="w+", shape=(length,))
    encoded = encode_chunks(vocab, iter_text_chunks(path, chunk_bytes=1 << 18), out=ids)
    text = read_text(path)
    np.testing.assert_array_equal(encoded, vocab.encode(text))
    assert vocab.decode(encoded[:200]) == text[:200]
