"""Every step's states and gates written for other tools: LSTMVis's HDF5 layout, and safetensors.

LSTMVis (Strobelt, Gehrmann, Pfister & Rush 2017) reads a project directory:

    lstm.yml     the project's description: which file holds what
    states.h5    one dataset per quantity and layer, (N, H), row t after reading token t:
                   states{k}  the cell state c (the hidden state h for an RNN or GRU)
                   output{k}  the hidden state h
                   {gate}{k}  each gate: i, f, g, o (LSTM) or r, z, n (GRU)     (k = 1, 2, ...)
    train.h5     word_ids (N,): the token read at each step
    words.dict   one line "token id" per vocabulary entry

As the dict is split on whitespace, a character that is or holds whitespace is written
as a name: <space>, <newline>, <tab>, or <U+XXXX> for any other. LSTMVis applies tanh
to the states unless ``transform: none``; lstm.yml asks for none on the gates, whose
values already lie in [0, 1] (``unsigned: true``) or [-1, 1].

``export_safetensors`` writes the same arrays into one file: ``ids`` (N,) and
``layer{k}.{quantity}`` (N, H) with k from 0, as rnnkit numbers its layers.

h5py is an optional dependency (``pip install rnnkit[inspect]``), imported only here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.inspect.figures import write_bytes, write_text
from rnnkit.inspect.states import SIGMOID_GATES, StateTrace

SPECIAL_TOKENS = {" ": "<space>", "\n": "<newline>", "\t": "<tab>"}


def token_name(char: str) -> str:
    """The token as words.dict writes it: itself, or a name when it is or holds whitespace."""
    if char in SPECIAL_TOKENS:
        return SPECIAL_TOKENS[char]
    if not char or any(c.isspace() or not c.isprintable() for c in char):
        return "".join(f"<U+{ord(c):04X}>" for c in char)
    return char


def states_datasets(trace: StateTrace) -> dict[str, np.ndarray]:
    """states.h5's dataset names and arrays (see the module)."""
    datasets = {}
    for k, layer in enumerate(trace.layers, start=1):
        datasets[f"states{k}"] = layer.get("c", layer["h"])
        datasets[f"output{k}"] = layer["h"]
        for name, values in layer.items():
            if name not in ("h", "c"):
                datasets[f"{name}{k}"] = values
    return datasets


def lstm_yml(trace: StateTrace, name: str) -> str:
    """The project's lstm.yml, one ``types`` entry per dataset of states.h5."""
    lines = [f"name: {name}", f"description: {trace.cell.upper()} states written by rnnkit.inspect", "",
             "files:", "  states: states.h5", "  train: train.h5", "  words: words.dict", "",
             "word_sequence:", "  file: train", "  path: word_ids", "  dict_file: words", "",
             "states:", "  file: states", "  types: ["]
    entries = []
    for dataset in states_datasets(trace):
        quantity, layer = dataset.rstrip("0123456789"), dataset[len(dataset.rstrip("0123456789")):]
        kind = "output" if quantity == "output" else "state"
        options = ""
        if quantity in SIGMOID_GATES:
            options = ", unsigned: true, transform: none"
        elif quantity in ("g", "n"):
            options = ", transform: none"
        entries.append(f"    {{type: {kind}, layer: {layer}, path: {dataset}{options}}}")
    return "\n".join(lines + [",\n".join(entries), "  ]", ""])


def export_lstmvis(trace: StateTrace, ids: np.ndarray, vocabulary, directory: str | Path,
                   name: str = "rnnkit") -> Path:
    """Write an LSTMVis project (lstm.yml, states.h5, train.h5, words.dict) into ``directory``.

    ``ids`` (N,) the tokens read, ``vocabulary`` the token of each id (a ``CharVocab``'s
    ``characters``, or any sequence of strings). Returns the directory.
    """
    h5py = import_h5py()
    ids = check_ids(trace, ids, len(vocabulary))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_h5(directory / "states.h5", h5py) as states:
        for dataset, values in states_datasets(trace).items():
            states.create_dataset(dataset, data=values)
    with atomic_h5(directory / "train.h5", h5py) as train:
        train.create_dataset("word_ids", data=ids.astype(np.int64))
    write_text(directory / "words.dict", "".join(f"{token_name(token)} {i}\n" for i, token in enumerate(vocabulary)))
    write_text(directory / "lstm.yml", lstm_yml(trace, name))
    return directory


def export_safetensors(trace: StateTrace, ids: np.ndarray, path: str | Path) -> Path:
    """``ids`` and every ``layer{k}.{quantity}`` of the trace into one safetensors file (atomically)."""
    from safetensors.numpy import save

    ids = check_ids(trace, ids)
    tensors = {"ids": ids.astype(np.int64)}
    for k, layer in enumerate(trace.layers):
        for quantity, values in layer.items():
            tensors[f"layer{k}.{quantity}"] = np.ascontiguousarray(values)
    write_bytes(path, save(tensors, metadata={"cell": trace.cell, "rows": "state after reading token t"}))
    return Path(path)


def check_ids(trace: StateTrace, ids, vocabulary_size: int | None = None) -> np.ndarray:
    ids = np.asarray(ids).reshape(-1)
    if len(ids) != trace.steps:
        raise DataError(f"`ids` has {len(ids)} tokens but the trace {trace.steps} steps")
    if vocabulary_size is not None and len(ids) and (ids.min() < 0 or ids.max() >= vocabulary_size):
        raise DataError(f"`ids` holds ids outside the vocabulary of {vocabulary_size} tokens")
    return ids


def import_h5py():
    try:
        import h5py
    except ImportError:
        raise ConfigError("writing LSTMVis's states.h5 needs h5py: pip install 'rnnkit[inspect]'") from None
    return h5py


@contextlib.contextmanager
def atomic_h5(path: Path, h5py):
    """An HDF5 file written under a temporary name in ``path``'s folder, renamed over ``path`` when complete."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(temp, "w") as file:
            yield file
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
