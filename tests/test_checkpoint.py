"""Checkpoints: round trips, pointer fallback, every kind of damage, kill -9, and a fuzzer."""

import json
import os
import pickle
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.training import checkpoint as ckpt
from rnnkit.training.checkpoint import (
    check_tensors,
    checkpoint_name,
    list_checkpoints,
    load_checkpoint,
    looks_like_pickle,
    looks_like_safetensors,
    mark,
    prune,
    read_marks,
    rng_from_json,
    rng_state_to_json,
    save_checkpoint,
)

FUZZ_EXAMPLES = int(os.environ.get("RNNKIT_FUZZ_EXAMPLES", "50"))
META = {
    "step": 3,
    "config": {"cell": "lstm", "hidden": 8},
    "vocab": ["\n", "a", "é", "中"],
    "loss": 1.25,
}


def make_tensors(step: int = 0) -> dict:
    rng = np.random.default_rng(step)
    return {
        "model": {
            "rnn.weight_ih_l0": rng.standard_normal((8, 4)).astype(np.float32),
            "embedding.weight": rng.standard_normal((4, 3)),
            "empty": np.zeros((0, 3), dtype=np.float32),
        },
        "optimizer": {"step": np.array(step, dtype=np.int64), "mask": np.array([True, False])},
    }


def assert_same_tensors(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for stem in expected:
        assert actual[stem].keys() == expected[stem].keys()
        for name, array in expected[stem].items():
            assert actual[stem][name].dtype == array.dtype, name
            np.testing.assert_array_equal(actual[stem][name], array)


def save_steps(run_dir: Path, steps) -> list[str]:
    names = []
    for step in steps:
        names.append(checkpoint_name(step))
        save_checkpoint(run_dir, names[-1], make_tensors(step), {**META, "step": step})
    return names


def forge(directory: Path, file_name: str, data: bytes) -> None:
    """Replace a tensor file and re-sign meta.json, so that only the file's content is wrong."""
    (directory / file_name).write_bytes(data)
    manifest = json.loads((directory / "meta.json").read_text())
    manifest["files"][file_name] = ckpt._sha256(data)
    (directory / "meta.json").write_text(ckpt._manifest_text(manifest["files"], manifest["meta"]))


@pytest.fixture
def saved(tmp_path) -> Path:
    """A checkpoint directory holding make_tensors(3) and META."""
    return save_checkpoint(tmp_path / "run", checkpoint_name(3), make_tensors(3), META)


# -- round trips --------------------------------------------------------------------


def test_save_then_load_gives_equal_arrays_dtypes_and_meta(saved):
    tensors, meta = load_checkpoint(saved)
    assert_same_tensors(tensors, make_tensors(3))
    assert meta == META


def test_saved_files_are_safetensors_and_json(saved):
    files = sorted(path.name for path in saved.iterdir())
    assert files == ["meta.json", "model.safetensors", "optimizer.safetensors"]
    manifest = json.loads((saved / "meta.json").read_text())
    assert manifest["meta"] == META
    assert set(manifest["files"]) == {"model.safetensors", "optimizer.safetensors"}


def test_numpy_scalars_in_meta_are_saved_as_json_numbers(tmp_path):
    meta = {"step": np.int64(5), "lr": np.float32(0.5), "sizes": np.arange(2)}
    path = save_checkpoint(tmp_path, "step-1", {}, meta)
    assert load_checkpoint(path)[1] == {"step": 5, "lr": 0.5, "sizes": [0, 1]}


def test_saving_an_existing_name_replaces_it(tmp_path):
    save_checkpoint(tmp_path, "step-1", make_tensors(1), {"step": 1})
    save_checkpoint(tmp_path, "step-1", make_tensors(2), {"step": 2})
    tensors, meta = load_checkpoint(tmp_path / "checkpoints" / "step-1")
    assert meta == {"step": 2}
    assert_same_tensors(tensors, make_tensors(2))
    assert [path.name for path in (tmp_path / "checkpoints").iterdir()] == ["step-1"]


def test_invalid_checkpoint_name_is_refused(tmp_path):
    for name in ["../escape", ".tmp-x", "a/b", ""]:
        with pytest.raises(CheckpointError, match="invalid checkpoint name"):
            save_checkpoint(tmp_path, name, {}, {})


# -- the pointer file ---------------------------------------------------------------


def test_run_dir_loads_the_last_or_the_best_checkpoint(tmp_path):
    names = save_steps(tmp_path, [1, 2, 3])
    mark(tmp_path, last=names[2], best=names[1])
    assert read_marks(tmp_path) == {"last": names[2], "best": names[1]}
    assert load_checkpoint(tmp_path)[1]["step"] == 3
    tensors, meta = load_checkpoint(tmp_path, which="best")
    assert meta["step"] == 2
    assert_same_tensors(tensors, make_tensors(2))


def test_loading_best_without_a_record_raises(tmp_path):
    mark(tmp_path, last=save_steps(tmp_path, [1])[0])
    with pytest.raises(CheckpointError, match="no best checkpoint"):
        load_checkpoint(tmp_path, which="best")


def test_unknown_mark_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="'last' or 'best'"):
        load_checkpoint(tmp_path, which="first")


def test_marking_a_checkpoint_that_does_not_exist_raises(tmp_path):
    with pytest.raises(CheckpointError, match="save it first"):
        mark(tmp_path, last="step-00000007")


@pytest.mark.parametrize("pointer", [None, "{not json", '["step-00000001"]', '{"last": "../../etc"}'])
def test_missing_or_corrupt_pointer_falls_back_to_the_newest_checkpoint(tmp_path, pointer):
    save_steps(tmp_path, [1, 2])
    if pointer is not None:
        (tmp_path / "checkpoints.json").write_text(pointer)
    assert load_checkpoint(tmp_path)[1]["step"] == 2


def test_fallback_skips_a_damaged_newest_checkpoint(tmp_path):
    names = save_steps(tmp_path, [1, 2])
    (tmp_path / "checkpoints" / names[1] / "model.safetensors").write_bytes(b"garbage")
    assert load_checkpoint(tmp_path)[1]["step"] == 1


def test_a_damaged_marked_checkpoint_raises_rather_than_loading_another(tmp_path):
    names = save_steps(tmp_path, [1, 2])
    mark(tmp_path, last=names[1])
    (tmp_path / "checkpoints" / names[1] / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(tmp_path)


def test_run_dir_without_any_loadable_checkpoint_raises(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(CheckpointError, match="no loadable checkpoint"):
        load_checkpoint(tmp_path)


def test_stale_temporary_directory_is_ignored_and_pruned(tmp_path):
    names = save_steps(tmp_path, [1])
    stale = tmp_path / "checkpoints" / ".tmp-step-00000002-abc"  # what a kill during save leaves
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half a fi")
    assert list_checkpoints(tmp_path) == [tmp_path / "checkpoints" / names[0]]
    assert load_checkpoint(tmp_path)[1]["step"] == 1
    mark(tmp_path, last=names[0])
    assert prune(tmp_path) == [stale]
    assert not stale.exists()


def test_prune_keeps_only_the_last_and_the_best(tmp_path):
    names = save_steps(tmp_path, [1, 2, 3, 4])
    mark(tmp_path, last=names[3], best=names[1])
    prune(tmp_path)
    assert [path.name for path in list_checkpoints(tmp_path)] == [names[1], names[3]]


def test_prune_without_a_pointer_deletes_no_checkpoint(tmp_path):
    names = save_steps(tmp_path, [1, 2])
    assert prune(tmp_path) == []
    assert [path.name for path in list_checkpoints(tmp_path)] == names


# -- damage -------------------------------------------------------------------------


def test_truncated_tensor_file_raises(saved):
    data = (saved / "model.safetensors").read_bytes()
    (saved / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors does not match the SHA-256"):
        load_checkpoint(saved)


def test_one_flipped_bit_in_a_tensor_raises(saved):
    data = bytearray((saved / "optimizer.safetensors").read_bytes())
    data[-1] ^= 0x01  # the last byte of the last array
    (saved / "optimizer.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(saved)


def test_one_flipped_bit_in_meta_json_raises(saved):
    text = (saved / "meta.json").read_text()
    (saved / "meta.json").write_text(text.replace('"hidden": 8', '"hidden": 9'))
    with pytest.raises(CheckpointError, match="does not match its own checksum"):
        load_checkpoint(saved)


def test_absurd_safetensors_header_size_raises(saved):
    forge(saved, "model.safetensors", struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_checkpoint(saved)


def test_safetensors_header_with_unknown_dtype_raises(saved):
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    forge(saved, "model.safetensors", struct.pack("<Q", len(header)) + header + bytes(4))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_checkpoint(saved)


def test_missing_tensor_file_raises(saved):
    (saved / "optimizer.safetensors").unlink()
    with pytest.raises(CheckpointError, match="optimizer.safetensors is missing"):
        load_checkpoint(saved)


@pytest.mark.parametrize("content", ["[1, 2]", '"meta"', "null", "{broken", b"\xff\xfe"])
def test_meta_json_that_is_not_a_json_object_raises(saved, content):
    path = saved / "meta.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CheckpointError, match="meta.json"):
        load_checkpoint(saved)


def test_directory_without_meta_json_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not an rnnkit checkpoint"):
        load_checkpoint(tmp_path)


def test_missing_path_raises(tmp_path):
    with pytest.raises(CheckpointError, match="no such directory"):
        load_checkpoint(tmp_path / "nowhere")


class Exploit:
    """Unpickling this would create a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_renamed_as_tensor_file_is_refused_without_running_it(saved, tmp_path):
    marker = tmp_path / "pwned"
    (saved / "model.safetensors").write_bytes(pickle.dumps(Exploit(marker), protocol=4))
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_checkpoint(saved)
    assert not marker.exists()


def test_pickle_renamed_as_meta_json_is_refused(saved):
    (saved / "meta.json").write_bytes(pickle.dumps({"step": 3}, protocol=2))
    with pytest.raises(CheckpointError, match="pickle: rnnkit never unpickles"):
        load_checkpoint(saved)


def test_torch_zip_file_passed_as_checkpoint_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": [1.0]}))
    with pytest.raises(CheckpointError, match="zip archive .* never unpickles"):
        load_checkpoint(path)


def safetensors_with_header_length_starting_0x80() -> bytes:
    """A real safetensors file whose header length's first byte is 0x80 (what one-byte sniffing called a pickle)."""
    for width in range(1, 200):
        data = safetensors.numpy.save({"w" * width: np.zeros(3, np.float32)})
        if data[0] == 0x80:
            return data
    raise AssertionError("no header length with first byte 0x80")


def test_a_safetensors_file_whose_header_length_starts_with_0x80_is_not_called_a_pickle(saved, tmp_path):
    data = safetensors_with_header_length_starting_0x80()
    assert looks_like_safetensors(data) and not looks_like_pickle(data)
    lone = tmp_path / "model.safetensors"
    lone.write_bytes(data)
    with pytest.raises(CheckpointError, match="pass its checkpoint directory") as error:
        load_checkpoint(lone)
    assert "pickle" not in str(error.value)
    (saved / "model.safetensors").write_bytes(data)             # valid file, wrong checksum: damaged, not a pickle
    with pytest.raises(CheckpointError, match="does not match the SHA-256") as error:
        load_checkpoint(saved)
    assert "pickle" not in str(error.value)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_pickles_are_recognised_by_their_opcodes_and_one_byte_0x80_is_not_enough(protocol):
    assert looks_like_pickle(pickle.dumps({"w": [1.0, 2.0], "step": 3}, protocol=protocol))
    assert looks_like_pickle(pickle.dumps(list(range(1000)), protocol=protocol)[:40])      # a torn one too
    assert not looks_like_pickle(b"\x80" + bytes(100))
    assert not looks_like_pickle(b"\x80\x04" + b"\xff" * 50)


def test_other_file_passed_as_checkpoint_asks_for_its_directory(saved):
    with pytest.raises(CheckpointError, match="pass its checkpoint directory"):
        load_checkpoint(saved / "model.safetensors")


# -- fitting a model ----------------------------------------------------------------


def expected_layout(tensors: dict) -> dict:
    return {name: (array.shape, array.dtype) for name, array in tensors.items()}


def test_check_tensors_accepts_an_exact_fit():
    model = make_tensors()["model"]
    check_tensors(model, expected_layout(model))


def test_check_tensors_lists_missing_unexpected_and_mismatched_tensors():
    model = make_tensors()["model"]
    expected = expected_layout(model)
    expected["rnn.weight_hh_l0"] = ((8, 2), np.float32)  # missing from the checkpoint
    del expected["empty"]  # unexpected in the checkpoint
    expected["rnn.weight_ih_l0"] = ((16, 4), np.float32)  # saved with another hidden size
    expected["embedding.weight"] = ((4, 3), np.float32)  # saved as float64
    with pytest.raises(CheckpointError) as error:
        check_tensors(model, expected, what="model")
    message = str(error.value)
    assert "missing: rnn.weight_hh_l0" in message
    assert "unexpected: empty" in message
    assert "wrong shape: rnn.weight_ih_l0 (8, 4) instead of (16, 4)" in message
    assert "wrong dtype: embedding.weight float64 instead of float32" in message
    assert "\n" not in message


# -- random number generator state --------------------------------------------------


def test_rng_state_through_json_continues_the_same_random_stream():
    rng = np.random.default_rng(1234)
    rng.standard_normal(7)  # advance it somewhere
    state = json.loads(json.dumps(rng_state_to_json(rng)))
    assert max(state["state"].values()) >= 2**64  # 128-bit integers survive JSON
    np.testing.assert_array_equal(rng_from_json(state).standard_normal(5), rng.standard_normal(5))


def test_rng_state_through_a_checkpoint_continues_the_same_random_stream(tmp_path):
    rng = np.random.default_rng(7)
    rng.integers(0, 10, size=3)
    path = save_checkpoint(tmp_path, "step-1", {}, {"rng": rng_state_to_json(rng)})
    restored = rng_from_json(load_checkpoint(path)[1]["rng"])
    np.testing.assert_array_equal(restored.integers(0, 1000, size=10), rng.integers(0, 1000, size=10))


@pytest.mark.parametrize(
    "state", [None, {"bit_generator": "os.system"}, {"bit_generator": "PCG64", "state": "x"}]
)
def test_malformed_rng_state_raises(state):
    with pytest.raises(CheckpointError, match="random state"):
        rng_from_json(state)


# -- kill -9 ------------------------------------------------------------------------

SAVING_LOOP = textwrap.dedent(
    """
    import sys
    import numpy as np
    from rnnkit.training.checkpoint import checkpoint_name, mark, prune, save_checkpoint

    run_dir, step = sys.argv[1], int(sys.argv[2])
    while True:
        name = checkpoint_name(step)
        weights = np.full((256, 256), step, dtype=np.float64)  # 512 KB, so kills land mid-write
        save_checkpoint(run_dir, name, {"model": {"w": weights}}, {"step": step})
        mark(run_dir, last=name, best=name if step % 3 == 0 else None)
        prune(run_dir)
        step += 1
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_run_killed_at_a_random_moment_still_loads(tmp_path):
    seed = random.randrange(2**32)
    delays = random.Random(seed).sample(range(0, 400), 3)
    step = 1
    for delay_ms in delays:
        process = subprocess.Popen([sys.executable, "-c", SAVING_LOOP, str(tmp_path), str(step)])
        try:
            deadline = time.monotonic() + 60
            while not (tmp_path / "checkpoints.json").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(delay_ms / 1000)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        tensors, meta = load_checkpoint(tmp_path)
        assert meta["step"] >= step - 1, f"seed {seed}"
        expected = np.full((256, 256), meta["step"])
        np.testing.assert_array_equal(tensors["model"]["w"], expected, err_msg=f"seed {seed}")
        step = meta["step"] + 1  # resume where the checkpoint says


# -- fuzzing ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("pristine")
    return save_checkpoint(run_dir, checkpoint_name(3), make_tensors(3), META)


def mutate(data: bytes, draw) -> bytes:
    """One random byte-level mutation: flip a bit, truncate, overwrite, insert or append bytes."""
    kind = draw(st.sampled_from(["flip", "truncate", "overwrite", "insert"]))
    position = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        flipped = data[position] ^ (1 << draw(st.integers(0, 7)))
        return data[:position] + bytes([flipped]) + data[position + 1 :]
    if kind == "truncate":
        return data[:position]
    junk = draw(st.binary(min_size=1, max_size=16))
    if kind == "overwrite":
        return data[:position] + junk + data[position + len(junk) :]
    return data[:position] + junk + data[position:]


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(
    file_name=st.sampled_from(["model.safetensors", "optimizer.safetensors", "meta.json"]),
    data=st.data(),
)
def test_mutated_checkpoint_loads_identically_or_raises_checkpoint_error(pristine, file_name, data):
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(shutil.copytree(pristine, Path(scratch) / pristine.name))
        path = directory / file_name
        path.write_bytes(mutate(path.read_bytes(), data.draw))
        try:
            tensors, meta = load_checkpoint(directory)
        except CheckpointError:
            return
        assert_same_tensors(tensors, make_tensors(3))
        assert meta == META


def test_checkpoint_directories_are_readable_by_others(tmp_path):
    path = save_checkpoint(tmp_path, checkpoint_name(1), {"model": {"w": np.zeros(2)}}, {})
    assert path.stat().st_mode & 0o777 == 0o755
