"""`rnnkit train` streams its corpus (rnnkit/data/corpus.py): chunked reading, ids memory-mapped in the
run directory when large, and a streamed hash that tells a resumed run its corpus changed."""

import hashlib

import numpy as np

import rnnkit.data.corpus as corpus
from rnnkit.cli.main import main
from rnnkit.data.vocab import CharVocab
from rnnkit.training.checkpoint import load_checkpoint
from test_corpus_streaming import CHUNK_BYTES, big_text, streamed  # noqa: F401 (streamed: a fixture)
from tiny_runs import one_line_error, train


def run_spec(run) -> dict:
    """The run spec of RUN's last checkpoint."""
    meta = load_checkpoint(run)[1]
    return meta["spec"]


def run_step(run) -> int:
    """The step of RUN's last checkpoint."""
    meta = load_checkpoint(run)[1]
    return meta["trainer"]["step"]


def test_cli_large_corpus_is_encoded_chunk_by_chunk_into_a_memory_map(tmp_path, streamed):
    text = big_text(3)
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    run = tmp_path / "run"

    assert train(path, run, "--max-steps", "2") == 0

    assert 0 < streamed["decoded"] <= CHUNK_BYTES          # never more than a chunk held as text
    assert 0 < streamed["encoded"] <= CHUNK_BYTES
    ids = np.memmap(run / corpus.IDS_FILE, dtype=np.uint8, mode="r")
    vocab = CharVocab.from_json(run_spec(run)["vocab"])
    assert len(ids) == len(text)
    np.testing.assert_array_equal(ids, CharVocab(text).encode(text))
    assert vocab == CharVocab(text)


def test_cli_small_corpus_stays_in_memory(tmp_path, streamed):
    path = tmp_path / "small.txt"
    path.write_text(big_text(0.1), encoding="utf-8")
    assert train(path, tmp_path / "run", "--max-steps", "1") == 0
    assert not (tmp_path / "run" / corpus.IDS_FILE).exists()
    assert 0 < streamed["decoded"] <= CHUNK_BYTES


def test_cli_resume_hash_is_streamed_and_detects_a_changed_corpus(tmp_path, streamed, capsys):
    text = big_text(1.5)
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    run = tmp_path / "run"
    assert train(path, run, "--max-steps", "2") == 0
    assert run_spec(run)["corpus"]["sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()

    assert main(["train", "--resume", str(run), "--max-steps", "3", "--no-progress", "--sample-length", "0"]) == 0
    assert run_step(run) == 3

    path.write_text(text + "the", encoding="utf-8")
    assert main(["train", "--resume", str(run), "--max-steps", "4", "--no-progress"]) == 2
    error = one_line_error(capsys.readouterr().err, alone=False)
    assert "not the text the run started with" in error, error
    assert streamed["decoded"] <= CHUNK_BYTES
