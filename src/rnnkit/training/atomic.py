"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The new content goes to a temporary file in the same directory, is flushed and
fsync'ed to disk, and is then renamed over the target with ``os.replace`` (an
atomic step on POSIX and Windows alike). Finally the directory is fsync'ed so
that the rename itself survives a power cut. A process killed at any moment
leaves at worst a stray temporary file (named ``.NAME.*.tmp``), never a torn one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def fsync_directory(directory: str | os.PathLike) -> None:
    """Flush a directory's entries (new, renamed, deleted files) to disk; a no-op off POSIX."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


FILE_MODE = 0o644
DIRECTORY_MODE = 0o755


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` in one atomic step."""
    path = Path(path)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)              # mkstemp makes files only their owner can read
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_directory(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Replace the file at ``path`` with ``text`` in one atomic step."""
    atomic_write_bytes(path, text.encode(encoding))
