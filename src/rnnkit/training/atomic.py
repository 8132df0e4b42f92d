"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The new content goes to a temporary file in the same directory, is flushed and
fsync'ed to disk, and is then renamed over the target with ``os.replace`` (an
atomic step on POSIX and Windows alike). Finally the directory is fsync'ed so
that the rename itself survives a power cut. A process killed at any moment
leaves at worst a stray temporary file (named ``.NAME.*.tmp``), never a torn one.

Only a regular file is ever replaced: a rename over a device (``/dev/full``), a FIFO, a
directory or a symbolic link would replace the node itself, so ``path`` being one of
those raises ``OutputRefused`` first. An error while writing names ``path``, never the
hidden temporary file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from rnnkit.errors import ConfigError


class OutputRefused(ConfigError):
    """An output path that names something other than a regular file, which rnnkit never replaces."""


def check_replaceable(path: str | os.PathLike) -> None:
    """``path`` is absent or a regular file (not a link, device, FIFO or directory); else OutputRefused."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        kind = ("a directory" if stat.S_ISDIR(mode) else "a symbolic link" if stat.S_ISLNK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "not a regular file")
        raise OutputRefused(f"{path} is {kind}: rnnkit writes only new or regular files; pick another path")


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
    """Replace the file at ``path`` (absent or a regular file) with ``data`` in one atomic step."""
    path = Path(path)
    check_replaceable(path)
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    try:
        os.fchmod(fd, FILE_MODE)              # mkstemp makes files only their owner can read
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise
    fsync_directory(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Replace the file at ``path`` with ``text`` in one atomic step."""
    atomic_write_bytes(path, text.encode(encoding))
