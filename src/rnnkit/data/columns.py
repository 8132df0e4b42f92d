"""One column of a tab-separated file as a text corpus, one row per line.

``tang_poems.tsv`` has the header ``author<TAB>title<TAB>poem``; its ``poem``
column, one poem per line, is what a poem generator learns from.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.data.text import iter_text_chunks
from rnnkit.errors import DataError


def read_column(path: str | os.PathLike, column: str, encoding: str = "utf-8") -> str:
    """The values of ``column`` (named in the header line), joined by newlines."""
    lines = "".join(iter_text_chunks(path, encoding)).splitlines()
    if not lines:
        raise DataError(f"{path} is empty")
    header = lines[0].split("\t")
    if column not in header:
        raise DataError(f"{path} has no column {column!r}: its header names {header}")
    index = header.index(column)
    values = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(f"{Path(path).name} line {number}: {len(fields)} fields, the header has {len(header)}")
        values.append(fields[index])
    return "\n".join(values) + "\n"
