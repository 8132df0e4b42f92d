"""Checkpoints: tensors in safetensors, everything else in JSON, and no crash can lose one.

A run directory holds::

    RUN_DIR/checkpoints/step-00001200/model.safetensors      the model's parameters
                                     /optimizer.safetensors  the optimizer's state arrays
                                     /meta.json              config, vocabulary, step, RNG,
                                                             data position, checksums
    RUN_DIR/checkpoints.json         {"last": "step-00001200", "best": "step-00000900"}

Saving takes three steps, each of which survives ``kill -9`` at any moment:

1. ``save_checkpoint`` writes every file into a fresh temporary directory
   ``checkpoints/.tmp-*`` and fsyncs it. meta.json records the SHA-256 of each
   tensor file, and a SHA-256 of its own content.
2. It renames the temporary directory to its final name. A checkpoint directory
   therefore exists complete or not at all.
3. ``mark`` replaces checkpoints.json atomically; only after that may ``prune``
   delete the checkpoints it no longer names.

So checkpoints.json always names complete checkpoints. A kill leaves at worst a
temporary directory, which readers ignore and ``prune`` deletes. (``prune``
assumes that one process writes a run directory at a time, which the run's lock,
``rnnkit.training.lock``, ensures.)

Loading trusts nothing it reads. Every tensor file must match its SHA-256, and
meta.json must match its own checksum, so a truncated file or a flipped bit
raises ``CheckpointError`` instead of loading wrong numbers. Loading never runs
code: safetensors is a JSON header plus raw arrays, and JSON is plain data. A
pickle (a PyTorch ``.pt`` file, say) renamed to look like a checkpoint is
recognised by its structure (a protocol opcode, then opcodes ``pickletools`` reads
without running them; never by one byte, and never a file that starts as safetensors
does) and refused. If checkpoints.json is missing or unreadable (a run directory
copied by hand, say), the newest checkpoint that passes every check is loaded instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import pickletools
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import safetensors.numpy

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.training.atomic import DIRECTORY_MODE, atomic_write_bytes, atomic_write_text, fsync_directory

FORMAT = "rnnkit-checkpoint"
VERSION = 1
CHECKPOINTS_DIR = "checkpoints"
POINTER_FILE = "checkpoints.json"
META_FILE = "meta.json"
TEMP_PREFIX = ".tmp-"
MARKS = ("last", "best")

# Checkpoint names start with a letter or digit: no hidden or temporary directories, no "..",
# no slashes.
_CHECKPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_TENSOR_FILE = re.compile(r"[A-Za-z0-9_-]+\.safetensors\Z")

# The bit generators of numpy.random whose state is plain data once arrays become lists.
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def checkpoint_name(step: int) -> str:
    """The directory name of the checkpoint taken at ``step``; these names sort in step order."""
    return f"step-{step:08d}"


# -- saving -----------------------------------------------------------------------


def save_checkpoint(
    run_dir: str | os.PathLike,
    name: str,
    tensors: dict[str, dict[str, np.ndarray]],
    meta: dict,
) -> Path:
    """Write ``RUN_DIR/checkpoints/NAME/`` (replacing one of that name) and return its path.

    ``tensors`` maps a file stem to the arrays stored in it, e.g.
    ``{"model": model.state_dict(), "optimizer": optimizer.state_dict()}``.
    ``meta`` is any JSON-able dict (NumPy scalars and arrays are converted).
    Call ``mark(run_dir, last=name)`` afterwards to make it the one a run directory loads.
    """
    if not _CHECKPOINT_NAME.match(name):
        raise CheckpointError(
            f"invalid checkpoint name {name!r}: use letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit (e.g. {checkpoint_name(0)!r})"
        )
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, not {type(meta).__name__}")
    root = Path(run_dir) / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}-", dir=root))
    temp.chmod(DIRECTORY_MODE)                    # mkdtemp makes directories only their owner can read
    try:
        files = {}
        for stem, named in tensors.items():
            file_name = f"{stem}.safetensors"
            if not _TENSOR_FILE.match(file_name):
                raise CheckpointError(
                    f"invalid tensor file stem {stem!r}: use letters, digits, '_' and '-'"
                )
            contiguous = {key: np.ascontiguousarray(value) for key, value in named.items()}
            data = safetensors.numpy.save(contiguous)
            atomic_write_bytes(temp / file_name, data)
            files[file_name] = _sha256(data)
        atomic_write_text(temp / META_FILE, _manifest_text(files, to_json_data(meta)))
        _move_into_place(temp, root / name)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return root / name


def _manifest_text(files: dict[str, str], meta: dict) -> str:
    """meta.json: the caller's meta, the tensor files' checksums, and a checksum of all that."""
    body = {"format": FORMAT, "version": VERSION, "files": files, "meta": meta}
    return json.dumps({**body, "sha256": _json_sha256(body)}, indent=2, sort_keys=True) + "\n"


def _move_into_place(temp: Path, final: Path) -> None:
    """Rename ``temp`` to ``final``. An existing ``final`` is first moved aside, then deleted.

    A kill between the two renames leaves no ``final``; if checkpoints.json names it,
    loading the run directory falls back to the newest checkpoint that remains.
    """
    replaced = None
    if final.exists():
        replaced = final.with_name(f"{TEMP_PREFIX}replaced-{final.name}-{uuid.uuid4().hex[:8]}")
        os.replace(final, replaced)
    os.replace(temp, final)
    fsync_directory(final.parent)
    if replaced is not None:
        shutil.rmtree(replaced)


def prepare_run_dir(run_dir: str | os.PathLike) -> Path:
    """Create ``run_dir`` if needed and prove that files can be written in it, before any work.

    A read-only or full disk, a missing permission or a path through a file raises
    ``ConfigError`` now, rather than after the first hours of training.
    """
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=run_dir) as probe:  # nameless: nothing is left behind
            probe.write(b"rnnkit write test\n")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise ConfigError(
            f"cannot write to the run directory {run_dir}: {error.strerror or error}; "
            "pick another `run_dir`, or make it writable"
        ) from None
    return run_dir


# -- the pointer file: which checkpoint is last, which is best ---------------------


def read_marks(run_dir: str | os.PathLike) -> dict[str, str]:
    """The valid entries of checkpoints.json, e.g. ``{"last": "step-00001200"}``.

    ``{}`` if the file is missing or unreadable.
    """
    try:
        marks = json.loads((Path(run_dir) / POINTER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(marks, dict):
        return {}
    return {
        key: name
        for key, name in marks.items()
        if key in MARKS and isinstance(name, str) and _CHECKPOINT_NAME.match(name)
    }


def mark(run_dir: str | os.PathLike, last: str | None = None, best: str | None = None) -> None:
    """Record, atomically, which saved checkpoint is the last and which the best."""
    run_dir = Path(run_dir)
    marks = read_marks(run_dir)
    for key, name in (("last", last), ("best", best)):
        if name is None:
            continue
        if not (_CHECKPOINT_NAME.match(name) and (run_dir / CHECKPOINTS_DIR / name).is_dir()):
            raise CheckpointError(
                f"cannot mark {name!r} as {key}: {run_dir / CHECKPOINTS_DIR / name} "
                "does not exist; save it first"
            )
        marks[key] = name
    atomic_write_text(run_dir / POINTER_FILE, json.dumps(marks, indent=2, sort_keys=True) + "\n")


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """A run's complete checkpoint directories, sorted by name (oldest first), without temporary ones."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    return sorted(
        path for path in root.iterdir() if path.is_dir() and _CHECKPOINT_NAME.match(path.name)
    )


def prune(run_dir: str | os.PathLike) -> list[Path]:
    """Delete the checkpoints that are neither last nor best, and stale temporary directories.

    Returns the deleted paths. Without a readable checkpoints.json only temporary
    directories are deleted, since nothing says which checkpoints matter.
    """
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    keep = set(read_marks(run_dir).values())
    temporary = [
        path for path in root.iterdir() if path.is_dir() and path.name.startswith(TEMP_PREFIX)
    ]
    unmarked = [path for path in list_checkpoints(run_dir) if keep and path.name not in keep]
    for path in temporary + unmarked:
        shutil.rmtree(path)
    return temporary + unmarked


# -- loading ----------------------------------------------------------------------


def load_checkpoint(
    path: str | os.PathLike, which: str = "last"
) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """Read a checkpoint and return ``(tensors, meta)``, both as they were saved.

    ``path`` is either a checkpoint directory or a run directory. For a run
    directory, ``which`` ("last" or "best") picks the checkpoint that
    checkpoints.json names. If that file is missing, unreadable, or names no existing
    "last" checkpoint, the newest one that passes every check is used. Any problem raises ``CheckpointError``.
    """
    if which not in MARKS:
        raise ConfigError(f"which={which!r} is not a checkpoint mark: use 'last' or 'best'")
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as file:
            head = file.read(SNIFF_BYTES)
        raise _pickle_refusal(path, head) or CheckpointError(
            f"{path} is a file: pass its checkpoint directory (the folder holding {META_FILE}) "
            "or the run directory"
        )
    if not path.is_dir():
        raise CheckpointError(
            f"no checkpoint at {path}: no such directory; pass a run directory "
            f"or one of its {CHECKPOINTS_DIR}/step-* folders"
        )
    if (path / CHECKPOINTS_DIR).is_dir():
        return _load_from_run(path, which)
    if not (path / META_FILE).exists():
        raise CheckpointError(
            f"{path} is not an rnnkit checkpoint: it has neither {META_FILE} "
            f"nor a {CHECKPOINTS_DIR}/ folder; pass a run directory or one of its checkpoint folders"
        )
    return _load_directory(path)


def _load_from_run(run_dir: Path, which: str) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    name = read_marks(run_dir).get(which)
    if name is not None and (run_dir / CHECKPOINTS_DIR / name).is_dir():
        return _load_directory(run_dir / CHECKPOINTS_DIR / name)
    if which == "best":
        raise CheckpointError(
            f"{run_dir} has no best checkpoint recorded in {POINTER_FILE}: "
            "load the last one, or pass a checkpoint folder"
        )
    problems = []
    for directory in reversed(list_checkpoints(run_dir)):
        try:
            return _load_directory(directory)
        except CheckpointError as error:
            problems.append(str(error))
    found = f"none of them loads (newest: {problems[0]})" if problems else "it holds no checkpoint"
    raise CheckpointError(
        f"no loadable checkpoint in {run_dir / CHECKPOINTS_DIR}: {found}; train again or restore a copy"
    )


def _load_directory(directory: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    manifest = _read_manifest(directory / META_FILE)
    tensors = {
        file_name.removesuffix(".safetensors"): _read_tensor_file(directory / file_name, sha256)
        for file_name, sha256 in manifest["files"].items()
    }
    return tensors, manifest["meta"]


def _read_manifest(path: Path) -> dict:
    """Parse meta.json and check its format, version, checksum and field types."""
    data = _read_bytes(path)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise _damaged(path, data, f"is not valid JSON ({error})") from error
    if not isinstance(manifest, dict):
        raise _damaged(path, data, f"holds a JSON {type(manifest).__name__}, not an object")
    if manifest.get("format") != FORMAT:
        raise _damaged(path, data, f"does not say format {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {manifest.get('version')!r}; "
            f"this rnnkit reads version {VERSION}: use the rnnkit release that wrote it"
        )
    body = {key: manifest.get(key) for key in ("format", "version", "files", "meta")}
    if manifest.get("sha256") != _json_sha256(body):
        raise _damaged(path, data, "does not match its own checksum")
    files, meta = manifest["files"], manifest["meta"]
    files_ok = isinstance(files, dict) and all(
        _TENSOR_FILE.match(name) and isinstance(sha256, str) for name, sha256 in files.items()
    )
    if not files_ok or not isinstance(meta, dict):
        raise _damaged(path, data, "has malformed 'files' or 'meta' fields")
    return manifest


def _read_tensor_file(path: Path, sha256: str) -> dict[str, np.ndarray]:
    data = _read_bytes(path)
    if _sha256(data) != sha256:
        problem = f"does not match the SHA-256 recorded in {META_FILE} (truncated or corrupted)"
        raise _damaged(path, data, problem)
    try:
        return safetensors.numpy.load(data)
    except Exception as error:  # SafetensorError, KeyError (unknown dtype), ...: all mean damage
        raise _damaged(path, data, f"is not a valid safetensors file ({error})") from error


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(
            f"{path} is missing: the checkpoint is incomplete; "
            f"load an earlier one from its {CHECKPOINTS_DIR}/ folder"
        ) from None
    except OSError as error:
        raise CheckpointError(
            f"cannot read {path}: {error.strerror}; check that it is a readable file"
        ) from error


def _damaged(path: Path, data: bytes, problem: str) -> CheckpointError:
    """The error for a file that fails a check; a pickle in disguise gets its own message."""
    return _pickle_refusal(path, data) or CheckpointError(
        f"{path} {problem}: the checkpoint is damaged; "
        f"load an earlier one from its {CHECKPOINTS_DIR}/ folder"
    )


SNIFF_BYTES = 1 << 16     # how much of a file tells what kind it is


def looks_like_safetensors(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts as safetensors does: a little-endian 64-bit header
    length (below 100 MB) and then the header's JSON object."""
    if len(head) < 9:
        return False
    length = int.from_bytes(head[:8], "little")
    return 2 <= length <= 100_000_000 and head[8:9] == b"{"


def looks_like_pickle(head: bytes) -> bool:
    """Whether ``head`` starts as a pickle of protocol 2 or later does: PROTO (0x80) and its protocol
    number, then opcodes that ``pickletools`` reads (read, never run); one byte 0x80 is not enough."""
    if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return False
    count = 0
    try:
        for opcode, _, _ in pickletools.genops(io.BytesIO(head)):
            count += 1
            if opcode.name == "STOP" or count >= 8:
                return True
    except Exception:        # the head ends inside an opcode, or a byte that is no opcode: judged by what was read
        pass
    return count >= 3


def _pickle_refusal(path: Path, data: bytes) -> CheckpointError | None:
    """A refusal if ``data`` (a file's first bytes at least) is a pickle or a PyTorch zip, else None;
    safetensors is recognised first, so that its header length never passes for a pickle's first byte."""
    if looks_like_safetensors(data):
        return None
    if looks_like_pickle(data):
        kind = "a Python pickle"
    elif data.startswith(b"PK\x03\x04"):
        kind = "a zip archive (PyTorch's .pt format, which holds a pickle)"
    else:
        return None
    return CheckpointError(
        f"{path} is {kind}: rnnkit never unpickles, since loading a pickle can run arbitrary code; "
        "convert the weights to safetensors (safetensors.torch.save_file) first"
    )


# -- fitting loaded tensors to a model --------------------------------------------


def check_tensors(
    tensors: dict[str, np.ndarray],
    expected: dict[str, tuple[tuple[int, ...], np.dtype]],
    what: str = "model",
) -> None:
    """Raise ``CheckpointError`` unless ``tensors`` has exactly the names, shapes, dtypes of ``expected``.

    ``expected`` maps each name to ``(shape, dtype)``, e.g.
    ``{name: (p.shape, p.dtype) for name, p in model.parameters().items()}``.
    """
    present = sorted(set(expected) & set(tensors))
    problems = {
        "missing": sorted(set(expected) - set(tensors)),
        "unexpected": sorted(set(tensors) - set(expected)),
        "wrong shape": [
            f"{name} {tensors[name].shape} instead of {tuple(expected[name][0])}"
            for name in present
            if tensors[name].shape != tuple(expected[name][0])
        ],
        "wrong dtype": [
            f"{name} {tensors[name].dtype} instead of {np.dtype(expected[name][1])}"
            for name in present
            if tensors[name].dtype != np.dtype(expected[name][1])
        ],
    }
    found = "; ".join(f"{kind}: {', '.join(items)}" for kind, items in problems.items() if items)
    if found:
        raise CheckpointError(
            f"the checkpoint's {what} tensors do not fit the {what}: {found}; "
            "use the options it was trained with (see its meta.json)"
        )


# -- JSON helpers -----------------------------------------------------------------


def to_json_data(value):
    """``value`` as plain JSON data, exactly as loading gives it back.

    NumPy scalars become numbers, arrays lists, tuples lists, and dict keys strings.
    """
    return json.loads(json.dumps(value, default=_numpy_to_python))


def _numpy_to_python(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def rng_state_to_json(rng: np.random.Generator) -> dict:
    """The full state of ``rng`` as JSON data.

    PCG64's 128-bit integers stay exact, since JSON integers have no size limit.
    """
    return to_json_data(rng.bit_generator.state)


def rng_from_json(state: dict) -> np.random.Generator:
    """A generator that continues exactly where the one saved by ``rng_state_to_json`` stopped."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise CheckpointError(
            f"the saved random state names bit generator {name!r}; "
            f"expected one of {', '.join(_BIT_GENERATORS)}: the checkpoint is damaged"
        )
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise CheckpointError(
            f"the saved {name} random state is malformed ({error}): the checkpoint is damaged"
        ) from error
    return np.random.Generator(bit_generator)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_sha256(value) -> str:
    """SHA-256 of ``value``'s canonical JSON text (sorted keys, no spaces)."""
    return _sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8"))
