"""One writer per run directory: an operating-system lock that dies with its process.

Training (new or resumed) holds an exclusive ``flock`` on ``RUN_DIR/.rnnkit.lock`` from
before it reads the run until it has written its last checkpoint. A second writer (``rnnkit
train --resume RUN`` while RUN still trains, say) finds the lock taken and is refused with
one line naming the process that holds it. The kernel releases the lock when that process
ends in any way, ``kill -9`` included, so a crash never leaves a stale lock behind; the
file itself stays and means nothing without a process holding it. Readers (sample, eval,
predict) take no lock: checkpoints are written atomically.

(``flock`` is per open file: two ``run_lock`` of one directory in one process exclude each
other too. Off POSIX, where ``fcntl`` is missing, no lock is taken.)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from rnnkit.errors import ConfigError

try:
    import fcntl
except ImportError:                 # Windows
    fcntl = None

LOCK_FILE = ".rnnkit.lock"


class RunInUse(ConfigError):
    """The run directory is being written by another process."""


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold the run directory's lock (the directory must exist) for the ``with`` block; ``RunInUse`` if
    another process holds it."""
    path = Path(run_dir) / LOCK_FILE
    if fcntl is None:
        yield path
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ConfigError(f"cannot lock the run directory {run_dir}: {error.strerror or error}; "
                          "make it writable, or pick another `run_dir`") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInUse(f"{run_dir} is being written by another rnnkit process{holder(fd)}: wait until it "
                           "ends (or stop it) before training this run again") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)                # closing the file releases the lock


def holder(fd: int) -> str:
    """" (process 1234)" from the lock file's content, or "" if it says nothing usable."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (process {text})" if text.isdigit() else ""
