"""Atomic writes: the target holds the old content or the new, and no temporary file is left behind."""

import errno
from pathlib import Path

import pytest

from rnnkit.training.atomic import OutputRefused, atomic_write_bytes, atomic_write_text


def test_atomic_write_bytes_creates_the_file(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01payload")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01payload"


def test_atomic_write_replaces_existing_content_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "pointer.json"
    target.write_text("old")
    atomic_write_text(target, '{"last": "step-00000002"}')
    assert target.read_text() == '{"last": "step-00000002"}'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pointer.json"]


def test_atomic_write_text_encodes_utf8(tmp_path):
    atomic_write_text(tmp_path / "poem.txt", "床前明月光\n")
    assert (tmp_path / "poem.txt").read_bytes() == "床前明月光\n".encode("utf-8")


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "meta.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # the write itself fails
    assert target.read_text() == "old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["meta.json"]


def test_written_files_are_readable_by_others(tmp_path):
    path = tmp_path / "plot.png"
    atomic_write_bytes(path, b"data")
    assert path.stat().st_mode & 0o777 == 0o644


def test_only_a_regular_file_is_ever_replaced(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("mine")
    link, folder = tmp_path / "link.txt", tmp_path / "folder"
    link.symlink_to(target)
    folder.mkdir()
    for path, kind in ((link, "a symbolic link"), (folder, "a directory"), (Path("/dev/full"), "a device")):
        with pytest.raises(OutputRefused, match=f"{path} is {kind}: rnnkit writes only new or regular files"):
            atomic_write_bytes(path, b"new")
    assert target.read_text() == "mine" and link.is_symlink() and folder.is_dir()
    assert Path("/dev/full").is_char_device()


def test_an_error_names_the_file_asked_for_never_the_hidden_temporary_one(tmp_path, monkeypatch):
    def full(fd, *args):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr("rnnkit.training.atomic.os.fsync", full)
    with pytest.raises(OSError) as error:
        atomic_write_bytes(tmp_path / "results.json", b"{}")
    assert error.value.filename == str(tmp_path / "results.json") and error.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
