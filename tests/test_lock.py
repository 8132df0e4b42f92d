"""rnnkit/training/lock.py: one writer per run directory, through a lock the kernel drops with its process."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from rnnkit.errors import ConfigError
from rnnkit.training.lock import LOCK_FILE, RunInUse, run_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

HOLDER = textwrap.dedent("""
    import sys, time
    from rnnkit.training.lock import run_lock
    with run_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(600)
""")


def hold_in_another_process(run_dir) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_holder_is_refused_naming_the_process_and_the_lock_dies_with_a_kill_9(tmp_path):
    process = hold_in_another_process(tmp_path)
    try:
        with pytest.raises(RunInUse, match=rf"{tmp_path} is being written by another rnnkit process "
                                           rf"\(process {process.pid}\): wait until it ends"):
            with run_lock(tmp_path):
                pass
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    with run_lock(tmp_path) as path:                       # no stale lock: the file stays, the lock is gone
        assert path == tmp_path / LOCK_FILE
        assert path.read_text() == f"{os.getpid()}\n"


def test_the_lock_is_released_when_the_block_ends_even_by_an_error(tmp_path):
    with pytest.raises(KeyError):
        with run_lock(tmp_path):
            raise KeyError("boom")
    with run_lock(tmp_path):
        pass


def test_two_locks_of_one_directory_exclude_each_other_within_a_process_too(tmp_path):
    with run_lock(tmp_path):
        with pytest.raises(RunInUse):
            with run_lock(tmp_path):
                pass


def test_a_directory_where_no_lock_file_can_be_made_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot lock the run directory"):
        with run_lock(tmp_path / "missing"):
            pass
