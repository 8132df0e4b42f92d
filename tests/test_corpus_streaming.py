"""`rnnkit train` streams its corpus: chunked vocabulary and encoding, ids memory-mapped when large."""

import hashlib
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import rnnkit.cli.train as train_cli
from rnnkit.cli.main import main
from rnnkit.data.vocab import CharVocab
from rnnkit.training.checkpoint import load_checkpoint
from tiny_runs import one_line_error, train

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
    monkeypatch.setattr(train_cli, "CORPUS_CHUNK_BYTES", CHUNK_BYTES)
    monkeypatch.setattr(train_cli, "MEMMAP_MIN_BYTES", 1 << 20)
    longest = {"decoded": 0, "encoded": 0}

    def recording_chunks(path, encoding, chunk_bytes):
        for chunk in original_chunks(path, encoding, chunk_bytes):
            longest["decoded"] = max(longest["decoded"], len(chunk))
            yield chunk

    def recording_encode(self, text, unknown="error"):
        longest["encoded"] = max(longest["encoded"], len(text))
        return original_encode(self, text, unknown)

    original_chunks, original_encode = train_cli.iter_text_chunks, CharVocab.encode
    monkeypatch.setattr(train_cli, "iter_text_chunks", recording_chunks)
    monkeypatch.setattr(CharVocab, "encode", recording_encode)
    return longest


def test_large_corpus_is_encoded_chunk_by_chunk_into_a_memory_map(tmp_path, streamed):
    text = big_text(3)
    corpus = tmp_path / "big.txt"
    corpus.write_text(text, encoding="utf-8")
    run = tmp_path / "run"

    assert train(corpus, run, "--max-steps", "2") == 0

    assert 0 < streamed["decoded"] <= CHUNK_BYTES          # never more than a chunk held as text
    assert 0 < streamed["encoded"] <= CHUNK_BYTES
    ids = np.memmap(run / train_cli.IDS_FILE, dtype=np.uint8, mode="r")
    vocab = CharVocab.from_json(load_checkpoint(run)[1]["vocab"])
    assert len(ids) == len(text)
    np.testing.assert_array_equal(ids, CharVocab(text).encode(text))
    assert vocab == CharVocab(text)


def test_small_corpus_stays_in_memory(tmp_path, streamed):
    corpus = tmp_path / "small.txt"
    corpus.write_text(big_text(0.1), encoding="utf-8")
    assert train(corpus, tmp_path / "run", "--max-steps", "1") == 0
    assert not (tmp_path / "run" / train_cli.IDS_FILE).exists()
    assert 0 < streamed["decoded"] <= CHUNK_BYTES


def test_resume_hash_is_streamed_and_detects_a_changed_corpus(tmp_path, streamed, capsys):
    text = big_text(1.5)
    corpus = tmp_path / "big.txt"
    corpus.write_text(text, encoding="utf-8")
    run = tmp_path / "run"
    assert train(corpus, run, "--max-steps", "2") == 0
    assert load_checkpoint(run)[1]["corpus"]["sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()

    assert main(["train", "--resume", str(run), "--max-steps", "3", "--no-progress", "--sample-length", "0"]) == 0
    assert load_checkpoint(run)[1]["step"] == 3

    corpus.write_text(text + "the", encoding="utf-8")
    assert main(["train", "--resume", str(run), "--max-steps", "4", "--no-progress"]) == 2
    assert "changed since the run started" in one_line_error(capsys.readouterr().err, alone=False)
    assert streamed["decoded"] <= CHUNK_BYTES


@given(text=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=2)
       .filter(lambda t: len(set(t)) >= 2),
       chunk_bytes=st.integers(1, 64))
@example(text=big_text(0.002) + "終わり", chunk_bytes=1)
def test_scan_and_encode_agree_with_the_whole_text_whatever_the_chunk_size(text, chunk_bytes):
    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as monkeypatch:
        corpus = Path(scratch) / "c.txt"
        corpus.write_bytes(text.encode("utf-8"))
        monkeypatch.setattr(train_cli, "CORPUS_CHUNK_BYTES", chunk_bytes)
        description = {"files": [str(corpus)], "encoding": "utf-8", "column": None}
        vocab, length, sha256 = train_cli.scan_corpus(description)
        ids = train_cli.encode_corpus(description, vocab, length, Path(scratch))
    assert (vocab, length, sha256) == (CharVocab(text), len(text), hashlib.sha256(text.encode()).hexdigest())
    np.testing.assert_array_equal(ids, vocab.encode(text))
