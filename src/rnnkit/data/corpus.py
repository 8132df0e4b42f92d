"""A language model's training text, streamed: never held as one string.

A ``CorpusSource`` says where the text comes from: text files (joined in the order
given), one column of tab-separated files with a header, or, with no files, the
built-in corpus (rnnkit's own Python source). Its ``chunks`` decode the text a piece
at a time, so a corpus of any size passes through bounded memory:

    source = CorpusSource.from_paths(["input.txt"])
    vocab, length, sha256 = scan_corpus(source)                 # one pass: vocabulary, length, hash
    ids = encode_corpus(source, vocab, length, run_dir)         # a second pass: the ids

``encode_corpus`` writes ids of at least ``MEMMAP_MIN_BYTES`` into a memory map,
``folder / IDS_FILE``, rather than into memory. The SHA-256 of the text (of its UTF-8)
tells a resumed run whether the corpus changed since the run started.

The tokens are characters (``CharVocab``) or whitespace-separated words with ``<eos>`` at
each line end (``WordVocab``), named by ``TOKENS``: ``scan_corpus(source, "words")``. Both
stream: a word corpus is cut into whole lines (``rnnkit.data.word_vocab.whole_lines``).
A held-out text (validation, test) is read whole into memory with ``read_ids``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from rnnkit.data.columns import iter_column_chunks
from rnnkit.data.text import DEFAULT_CHUNK_BYTES, default_corpus, iter_text_chunks
from rnnkit.data.vocab import CharVocab, encode_chunks
from rnnkit.data.word_vocab import WordVocab
from rnnkit.errors import ConfigError, DataError

CORPUS_CHUNK_BYTES = DEFAULT_CHUNK_BYTES  # bytes of a corpus file decoded at a time
MEMMAP_MIN_BYTES = 256 << 20  # ids at least this large live in FOLDER/IDS_FILE, not in memory
IDS_FILE = "corpus-ids.bin"
VOCABS = {"chars": CharVocab, "words": WordVocab}  # what a corpus is cut into -> its vocabulary class
TOKENS = tuple(VOCABS)


def vocab_class(tokens: str) -> type:
    """The vocabulary class of ``tokens`` ("chars" or "words")."""
    if tokens not in VOCABS:
        raise ConfigError(f"`tokens` must be one of {', '.join(TOKENS)}, got {tokens!r}")
    return VOCABS[tokens]


@dataclass(frozen=True)
class CorpusSource:
    """Where a corpus's text comes from.

    ``files`` are read in order and joined; none means the built-in corpus (rnnkit's
    own source). With ``column``, each file is tab-separated with a header line, and
    the corpus is that column's values, one per line (see ``rnnkit.data.columns``).
    """

    files: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    column: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.files, (str, os.PathLike)):
            raise TypeError("CorpusSource.files is a list of paths, not one path: pass [path]")
        object.__setattr__(self, "files", [str(path) for path in self.files])

    @classmethod
    def from_paths(
        cls, paths: Iterable[str | os.PathLike], encoding: str = "utf-8", column: str | None = None
    ) -> CorpusSource:
        """A source of the given files, their paths made absolute (so a run finds them again from anywhere)."""
        return cls([str(Path(path).resolve()) for path in paths], encoding, column)

    @property
    def builtin(self) -> bool:
        """Whether this is the built-in corpus (no files)."""
        return not self.files

    def describe(self) -> str:
        """The files, comma-separated, or "the built-in corpus": for messages."""
        return ", ".join(self.files) or "the built-in corpus"

    def chunks(self) -> Iterator[str]:
        """The text, a chunk at a time (at most about ``CORPUS_CHUNK_BYTES`` of a file each)."""
        if not self.files:
            yield default_corpus()
        elif self.column:
            for path in self.files:
                yield from iter_column_chunks(path, self.column, self.encoding, CORPUS_CHUNK_BYTES)
        else:
            for path in self.files:
                yield from iter_text_chunks(path, self.encoding, CORPUS_CHUNK_BYTES)

    def to_json(self) -> dict:
        """``{"files": [...], "encoding": ..., "column": ...}``; ``from_json`` reads it back."""
        return {"files": list(self.files), "encoding": self.encoding, "column": self.column}

    @classmethod
    def from_json(cls, data: dict) -> CorpusSource:
        """The source ``to_json`` described; other keys of ``data`` are ignored.

        Raises ``DataError`` if ``data`` is not such a description.
        """
        try:
            files, encoding, column = data["files"], data["encoding"], data.get("column")
            valid = (isinstance(files, list) and all(isinstance(path, str) for path in files)
                     and isinstance(encoding, str) and (column is None or isinstance(column, str)))
        except (KeyError, TypeError, AttributeError):
            valid = False
        if not valid:
            raise DataError(
                f"{str(data)[:200]} is not a corpus description as CorpusSource.to_json writes it "
                "(files, encoding, column)"
            )
        return cls(list(files), encoding, column)


def scan_corpus(source: CorpusSource, tokens: str = "chars",
                max_vocab: int | None = None) -> tuple[CharVocab | WordVocab, int, str]:
    """One pass over the text: its vocabulary of ``tokens`` ("chars" or "words"; words: at most
    ``max_vocab``), its length in tokens, and the SHA-256 of its UTF-8."""
    digest = hashlib.sha256()
    cap = {} if max_vocab is None else {"max_size": max_vocab}
    vocab, length = vocab_class(tokens).from_chunks(_hashed(source.chunks(), digest), source.describe(), **cap)
    return vocab, length, digest.hexdigest()


def read_ids(source: CorpusSource, vocab: CharVocab | WordVocab) -> tuple[np.ndarray, str]:
    """A held-out text's ids in ``vocab`` (read into memory; words outside it are ``<unk>``, or a
    ``DataError`` naming the files when the vocabulary has none) and the SHA-256 of its UTF-8."""
    digest = hashlib.sha256()
    ids = [np.empty(0, vocab.dtype)]
    for piece in vocab.pieces(_hashed(source.chunks(), digest)):
        try:
            ids.append(vocab.encode(piece))
        except DataError as error:                  # a stranger to the vocabulary: say in which text
            raise DataError(f"{source.describe()}: {error}") from None
    return np.concatenate(ids), digest.hexdigest()


def _hashed(chunks: Iterable[str], digest) -> Iterator[str]:
    """``chunks`` unchanged, each added to ``digest`` on its way through."""
    for chunk in chunks:
        digest.update(chunk.encode("utf-8"))
        yield chunk


def encode_corpus(source: CorpusSource, vocab: CharVocab | WordVocab, length: int,
                  folder: str | os.PathLike) -> np.ndarray:
    """The text's ids, encoded chunk by chunk into memory, or into a memory map ``folder / IDS_FILE``
    when they take at least ``MEMMAP_MIN_BYTES``.

    ``length`` is what ``scan_corpus`` returned; a text of another length has changed
    since the scan, which raises ``DataError``.
    """
    if length * vocab.dtype.itemsize >= MEMMAP_MIN_BYTES:
        out = np.memmap(Path(folder) / IDS_FILE, dtype=vocab.dtype, mode="w+", shape=(length,))
    else:
        out = np.empty(length, vocab.dtype)
    ids = encode_chunks(vocab, source.chunks(), out)
    if len(ids) != length:
        raise DataError(f"the corpus {source.describe()} changed while it was read: train again on a stable copy")
    return ids
