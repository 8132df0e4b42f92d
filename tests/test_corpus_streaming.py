"""rnnkit/data/corpus.py streams its corpus: chunked vocabulary, hash and encoding, ids memory-mapped when large.

(``rnnkit train`` doing the same end to end is tests/test_cli_corpus.py.)
"""

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import rnnkit.data.corpus as corpus
from rnnkit.data.corpus import CorpusSource, encode_corpus, scan_corpus
from rnnkit.data.text import default_corpus
from rnnkit.data.vocab import CharVocab
from rnnkit.errors import DataError

CHUNK_BYTES = 64 << 10


def big_text(megabytes: float) -> str:
    """Reproducible text of about ``megabytes`` MB with 1-, 2- and 3-byte UTF-8 characters."""
    rng = np.random.default_rng(0)
    words = np.array(["the", "café", "naïve", "世界", "fox", "über", "\n", "jumps", "ß", "a"])
    count = int(megabytes * 2**20 / 5)
    return " ".join(words[rng.integers(0, len(words), count)])


@pytest.fixture
def streamed(monkeypatch):
    """Small chunks and a 1 MB memory-map threshold; records the longest text ever decoded or encoded."""
    monkeypatch.setattr(corpus, "CORPUS_CHUNK_BYTES", CHUNK_BYTES)
    monkeypatch.setattr(corpus, "MEMMAP_MIN_BYTES", 1 << 20)
    longest = {"decoded": 0, "encoded": 0}

    def recording_chunks(path, encoding, chunk_bytes):
        for chunk in original_chunks(path, encoding, chunk_bytes):
            longest["decoded"] = max(longest["decoded"], len(chunk))
            yield chunk

    def recording_encode(self, text, unknown="error"):
        longest["encoded"] = max(longest["encoded"], len(text))
        return original_encode(self, text, unknown)

    original_chunks, original_encode = corpus.iter_text_chunks, CharVocab.encode
    monkeypatch.setattr(corpus, "iter_text_chunks", recording_chunks)
    monkeypatch.setattr(CharVocab, "encode", recording_encode)
    return longest


def test_large_corpus_is_encoded_chunk_by_chunk_into_a_memory_map(tmp_path, streamed):
    text = big_text(3)
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    source = CorpusSource.from_paths([path])

    vocab, length, sha256 = scan_corpus(source)
    ids = encode_corpus(source, vocab, length, tmp_path)

    assert 0 < streamed["decoded"] <= CHUNK_BYTES          # never more than a chunk held as text
    assert 0 < streamed["encoded"] <= CHUNK_BYTES
    assert isinstance(ids, np.memmap)
    on_disk = np.memmap(tmp_path / corpus.IDS_FILE, dtype=np.uint8, mode="r")
    assert len(on_disk) == length == len(text)
    np.testing.assert_array_equal(on_disk, CharVocab(text).encode(text))
    assert vocab == CharVocab(text) and sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_small_corpus_stays_in_memory(tmp_path, streamed):
    path = tmp_path / "small.txt"
    path.write_text(big_text(0.1), encoding="utf-8")
    source = CorpusSource.from_paths([path])
    ids = encode_corpus(source, *scan_corpus(source)[:2], tmp_path)
    assert not isinstance(ids, np.memmap) and not (tmp_path / corpus.IDS_FILE).exists()
    assert 0 < streamed["decoded"] <= CHUNK_BYTES


def test_the_hash_is_streamed_and_changes_with_the_text(tmp_path, streamed):
    text = big_text(1.5)
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    source = CorpusSource.from_paths([path])
    assert scan_corpus(source)[2] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    path.write_text(text + "the", encoding="utf-8")
    assert scan_corpus(source)[2] == hashlib.sha256((text + "the").encode("utf-8")).hexdigest()
    assert streamed["decoded"] <= CHUNK_BYTES


def test_a_corpus_that_changes_between_scan_and_encode_is_a_data_error(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("abcabc", encoding="utf-8")
    source = CorpusSource.from_paths([path])
    vocab, length, _ = scan_corpus(source)
    path.write_text("abc", encoding="utf-8")
    with pytest.raises(DataError, match="changed while it was read"):
        encode_corpus(source, vocab, length, tmp_path)


def test_several_files_are_joined_in_order_and_paths_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "1.txt").write_text("ab\n", encoding="utf-8")
    (tmp_path / "2.txt").write_text("cd\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    source = CorpusSource.from_paths(["2.txt", "1.txt"])
    assert source.files == [str(tmp_path / "2.txt"), str(tmp_path / "1.txt")]
    assert "".join(source.chunks()) == "cd\nab\n"
    assert source.describe() == f"{tmp_path / '2.txt'}, {tmp_path / '1.txt'}"


def test_a_column_of_tab_separated_files_is_streamed_too(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "CORPUS_CHUNK_BYTES", 7)
    path = tmp_path / "poems.tsv"
    path.write_text("author\tpoem\na\t春眠不覺曉，\r\nb\t處處聞啼鳥。\n", encoding="utf-8")
    source = CorpusSource.from_paths([path], column="poem")
    assert list(source.chunks()) == ["春眠不覺曉，\n", "處處聞啼鳥。\n"]   # a row at a time, never the file


def test_no_files_is_the_built_in_corpus():
    source = CorpusSource()
    assert source.builtin and source.describe() == "the built-in corpus"
    assert "".join(source.chunks()) == default_corpus()


def test_json_round_trip_and_a_damaged_description():
    source = CorpusSource(["/a.txt", "/b.txt"], "latin-1", "poem")
    assert CorpusSource.from_json({**source.to_json(), "sha256": "ff", "val_fraction": 0.1}) == source
    assert source.to_json() == {"files": ["/a.txt", "/b.txt"], "encoding": "latin-1", "column": "poem"}
    damaged_ones = ({"files": "/a.txt", "encoding": "utf-8"}, {"encoding": "utf-8"}, [], {"files": [1], "encoding": "x"})
    for damaged in damaged_ones:
        with pytest.raises(DataError, match="not a corpus description"):
            CorpusSource.from_json(damaged)
    with pytest.raises(TypeError, match="not one path"):
        CorpusSource("/a.txt")


@given(text=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=2)
       .filter(lambda t: len(set(t)) >= 2),
       chunk_bytes=st.integers(1, 64))
@example(text=big_text(0.002) + "終わり", chunk_bytes=1)
def test_scan_and_encode_agree_with_the_whole_text_whatever_the_chunk_size(text, chunk_bytes):
    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as monkeypatch:
        path = Path(scratch) / "c.txt"
        path.write_bytes(text.encode("utf-8"))
        monkeypatch.setattr(corpus, "CORPUS_CHUNK_BYTES", chunk_bytes)
        source = CorpusSource([path], "utf-8", None)
        vocab, length, sha256 = scan_corpus(source)
        ids = encode_corpus(source, vocab, length, Path(scratch))
    assert (vocab, length, sha256) == (CharVocab(text), len(text), hashlib.sha256(text.encode()).hexdigest())
    np.testing.assert_array_equal(ids, vocab.encode(text))
