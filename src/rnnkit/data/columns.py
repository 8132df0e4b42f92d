"""One column of a tab-separated file as a text corpus, one row per line.

``tang_poems.tsv`` has the header ``author<TAB>title<TAB>poem``; its ``poem``
column, one poem per line, is what a poem generator learns from.

The file is read chunk by chunk (``iter_column_chunks``), so a column of any size
streams in bounded memory. Lines are split as ``str.splitlines`` splits them, and
fields at every tab (no quoting: a tab-separated corpus has no tabs inside a field).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from rnnkit.data.tables import shown_names
from rnnkit.data.text import DEFAULT_CHUNK_BYTES, iter_text_chunks
from rnnkit.errors import DataError


def read_column(path: str | os.PathLike, column: str, encoding: str = "utf-8") -> str:
    """The values of ``column`` (named in the header line), joined by newlines."""
    return "".join(iter_column_chunks(path, column, encoding))


def iter_column_chunks(
    path: str | os.PathLike, column: str, encoding: str = "utf-8", chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[str]:
    """``read_column``'s text, a piece at a time: each value followed by a newline.

    A file with a header and no rows raises ``DataError``: it holds no text to learn.
    """
    header: list[str] | None = None
    index = 0
    number = 0  # lines read so far
    rows = 0
    for line in _lines(path, encoding, chunk_bytes):
        number += 1
        fields = line.split("\t")
        if header is None:
            header = fields
            if column not in header:
                raise DataError(f"{path} has no column {column!r}: its header names the columns "
                                f"{shown_names(header)}")
            index = header.index(column)
            continue
        if len(fields) != len(header):
            raise DataError(f"{Path(path).name} line {number}: {len(fields)} fields, the header has {len(header)}")
        rows += 1
        yield fields[index] + "\n"
    if header is None:
        raise DataError(f"{path} is empty")
    if not rows:
        raise DataError(f"{path} has a header but no rows: its column {column!r} holds no text to learn")


def _lines(path: str | os.PathLike, encoding: str, chunk_bytes: int) -> Iterator[str]:
    """The lines of a file without their line breaks, exactly as ``text.splitlines()`` gives them."""
    pending = ""
    for chunk in iter_text_chunks(path, encoding, chunk_bytes):
        lines = (pending + chunk).splitlines(keepends=True)
        pending = ""
        if lines and (lines[-1].endswith("\r") or lines[-1].splitlines()[0] == lines[-1]):
            pending = lines.pop()  # unfinished, or a "\r" that may be half of a "\r\n"
        for line in lines:
            yield line.splitlines()[0]
    if pending:
        yield pending.splitlines()[0]
