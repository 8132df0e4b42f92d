"""Reading a user's ``.csv`` / ``.tsv`` file with a header row, row by row, with errors that say where.

The delimiter follows the extension (``.csv`` comma, ``.tsv`` tab); any other extension
is refused. Fields may be quoted as the ``csv`` module quotes them (``"a, b"``, ``""``
for a quote inside quotes), so a field may hold the delimiter or a line break. Blank
lines are skipped. A leading byte-order mark and spaces around the header's column
names are ignored. Every error is a one-line ``DataError`` (``ConfigError`` for an
unknown encoding) naming the file and, for a bad row, its line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import stat
from pathlib import Path
from typing import Iterator

from rnnkit.errors import ConfigError, DataError

DELIMITERS = {".csv": ",", ".tsv": "\t"}


def read_table(path: Path, encoding: str, what: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header of ``path``, and an iterator of (line, fields) over its non-blank rows, each row
    checked to have as many fields as the header; ``line`` is where the row starts.

    ``what`` names the file's content for messages ("labelled texts", "a time series").
    """
    delimiter = DELIMITERS.get(path.suffix.lower())
    if delimiter is None:
        shown = f"a {path.suffix} file" if path.suffix else "a file without an extension"
        raise DataError(
            f"{path} is {shown}: {what} are read from a .csv (comma-separated) or .tsv "
            "(tab-separated) file with a header row; save it as one of those"
        )
    if path.is_dir():
        raise DataError(f"{path} is a directory: pass the .csv or .tsv file inside it")
    if not path.exists():
        raise DataError(f"{path} does not exist: check the path")
    check_regular_file(path)
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty: it needs a header row naming the columns, then the rows")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(
            f"unknown `encoding` {encoding!r} for {path}: use a Python codec name such as utf-8 or latin-1"
        ) from None
    rows = _rows(path, encoding, delimiter)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path} is empty: it needs a header row naming the columns, then the rows")
    header = [name.strip() for name in first[1]]
    header[0] = header[0].lstrip("\ufeff").strip()
    return header, _checked(rows, header, path)


def column_index(header: list[str], column: str, argument: str, path: Path) -> int:
    """Where ``column`` (the value of the Python argument ``argument``) is in the header."""
    count = header.count(column)
    if count == 0:
        raise DataError(f"{path} has no column {column!r} (`{argument}`): its header has the columns "
                        f"{shown_names(header)}")
    if count > 1:
        raise DataError(f"{path} has {count} columns named {column!r} (`{argument}`): rename all but one")
    return header.index(column)


def shown_names(names: list[str], each: int = 40, total: int = 300) -> str:
    """Column names for a message: each quoted, cut to ``each`` characters, all cut to ``total`` (a
    header may be one line of megabytes: a file that is not a table)."""
    shown = ", ".join(repr(name if len(name) <= each else name[:each] + "...") for name in names)
    return shown if len(shown) <= total else shown[:total] + f"... ({len(names)} columns)"


def check_regular_file(path: Path) -> None:
    """A FIFO, a device or a socket is refused: rnnkit reads its data files more than once, and needs
    their size."""
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise DataError(f"{path} is {kind}: rnnkit reads its data more than once, from a regular file; "
                        "save the data to a file first")


def _rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    line = 1
    try:
        with open(path, encoding=encoding, newline="") as file:
            reader = csv.reader(file, delimiter=delimiter)
            for row in reader:
                if row:
                    yield line, row
                line = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{path} line {line}: {error}: check the quotes around its fields") from None
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not valid {encoding} (near line {line}: {error.reason}): "
            "pass the file's real `encoding`, e.g. latin-1"
        ) from None


def _checked(rows: Iterator[tuple[int, list[str]]], header: list[str], path: Path) -> Iterator[tuple[int, list[str]]]:
    delimiter = "tab" if path.suffix.lower() == ".tsv" else "comma"
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(
                f"{path} line {line}: {len(row)} fields, but the header has {len(header)}: "
                f"put a field that holds a {delimiter} in double quotes"
            )
        yield line, row


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time (a run checks its data is the same)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist: check the path") from None
    return digest.hexdigest()
