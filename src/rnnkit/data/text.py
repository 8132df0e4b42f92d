"""Reading text corpora, whole or chunk by chunk, with errors that say what to fix.

Everything goes through one reader, ``iter_text_chunks``. It reads a file in
blocks of bytes and decodes them with an incremental decoder, which holds back a
multi-byte character split between two blocks until its last byte arrives. So a
file of any size decodes in bounded memory, and a decoding error can give the
exact byte offset of the bad byte. ``read_text`` joins the chunks of one or more
files into one string.

``default_corpus`` is rnnkit's own Python source. It is the built-in corpus of
``rnnkit train``, so a first run needs no download.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from rnnkit.data.tables import check_regular_file
from rnnkit.errors import ConfigError, DataError

DEFAULT_CHUNK_BYTES = 1 << 20
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def read_text(
    paths: str | os.PathLike | Iterable[str | os.PathLike], encoding: str = "utf-8"
) -> str:
    """The text of one file, or of several concatenated in the order given."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise DataError("no corpus files given: pass at least one text file")
    text = "".join(chunk for path in paths for chunk in iter_text_chunks(path, encoding))
    check_distinct_characters(set(text), where=", ".join(str(path) for path in paths))
    return text


def iter_text_chunks(
    path: str | os.PathLike, encoding: str = "utf-8", chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[str]:
    """Decode a file of any size piece by piece, raising ``DataError`` where it is not text.

    A file with a NUL byte is binary. A first pass looks for one (at memchr speed), so
    a binary file is called binary, whatever its first undecodable byte. UTF-16 and
    UTF-32 are exempt, as their text is full of NUL bytes.
    """
    path = Path(path)
    decoder = _incremental_decoder(encoding, path)
    with _open_text_file(path) as file:
        if not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
            _check_no_nul_byte(file, path)
            file.seek(0)
        offset = 0  # bytes handed to the decoder so far
        while block := file.read(chunk_bytes):
            yield _decode(decoder, block, offset, path, encoding)
            offset += len(block)
        yield _decode(decoder, b"", offset, path, encoding, final=True)


def check_distinct_characters(characters: set[str], where: str) -> None:
    """A character model needs at least two distinct characters to have anything to predict."""
    if len(characters) < 2:
        raise DataError(
            f"{where} holds {len(characters)} distinct character(s) "
            f"{''.join(sorted(characters))!r}: "
            "a character model needs at least 2; pass a real text corpus"
        )


def default_corpus() -> str:
    """rnnkit's own source: every ``*.py`` file of the installed package, sorted by path, joined."""
    return "".join(path.read_text(encoding="utf-8") for path in sorted(PACKAGE_DIR.rglob("*.py")))


def _incremental_decoder(encoding: str, path: Path) -> codecs.IncrementalDecoder:
    try:
        return codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise ConfigError(
            f"unknown `encoding` {encoding!r} for {path}: "
            "use a Python codec name such as utf-8 or latin-1"
        ) from None


def _open_text_file(path: Path):
    """Open ``path`` for reading bytes, or say why it cannot be a corpus."""
    if path.is_dir():
        raise DataError(f"{path} is a directory: pass the text files inside it instead")
    if not path.exists():
        raise DataError(
            f"{path} does not exist: check the path "
            "(data is read from $RNNKIT_DATA, default ../shared/data)"
        )
    check_regular_file(path)
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty: pass a file that holds text")
    try:
        return open(path, "rb")
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}; check its permissions") from None


def _check_no_nul_byte(file: BinaryIO, path: Path) -> None:
    offset = 0
    while block := file.read(DEFAULT_CHUNK_BYTES):
        position = block.find(b"\x00")
        if position >= 0:
            raise DataError(
                f"{path} looks binary: NUL byte at byte offset {offset + position}; "
                "pass a plain text file"
            )
        offset += len(block)


def _decode(
    decoder: codecs.IncrementalDecoder,
    block: bytes,
    offset: int,
    path: Path,
    encoding: str,
    final: bool = False,
) -> str:
    """Decode the next block; on failure, report the offset of the bad byte in the whole file."""
    held_back = len(decoder.getstate()[0])  # the start of a character split between blocks
    try:
        return decoder.decode(block, final)
    except UnicodeError as error:  # UTF-16 without a byte-order mark raises this base class
        if isinstance(error, UnicodeDecodeError):
            bad = error.object[error.start : error.end].hex(" ")
            where = f"at byte offset {offset - held_back + error.start} (bytes {bad})"
        else:
            where = f"({error})"
        raise DataError(
            f"{path} is not valid {encoding} {where}: "
            "pass the file's real `encoding`, e.g. latin-1"
        ) from None
