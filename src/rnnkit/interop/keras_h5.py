"""Keras 3's .weights.h5 files, read and written with h5py alone (no keras needed).

``model.save_weights("m.weights.h5")`` of a keras Sequential writes one group per layer,
keyed by its class in snake_case, numbered from the second of a class on:

    layers/lstm/cell/vars/0, 1, 2                          kernel, recurrent_kernel, bias
    layers/lstm_1/cell/vars/...                            the next LSTM
    layers/bidirectional/forward_layer/cell/vars/0, 1, 2   and .../backward_layer/cell/vars/...
    layers/simple_rnn/cell/vars/..., layers/gru/cell/vars/...
    layers/embedding/vars/0                                embeddings (V, E)
    layers/dense/vars/0, 1                                 kernel (H, O), bias (O,)

(layouts in ``rnnkit.interop.keras_format``). ``save_keras_weights`` writes what
``keras_model(source).save_weights`` would, so that ``keras_model.load_weights(path)``
takes it; ``load_keras_weights`` reads such a file into an rnnkit model, or builds a
layer from a file of one recurrent stack. Missing, unexpected and mis-shaped variables
are named by their path in the file.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from rnnkit.errors import CheckpointError
from rnnkit.interop.keras_format import (
    DIRECTIONS,
    KERAS_CLASSES,
    KerasLayer,
    keras_layers,
    layer_for_keras_layers,
    layer_keys,
    load_keras_layers,
    named_weights,
    snake_case,
    variable_paths,
)
from rnnkit.interop.sources import check_fits, require
from rnnkit.module import Module
from rnnkit.training.atomic import atomic_write_bytes

GATES_OF = {4: "LSTM", 3: "GRU", 1: "SimpleRNN"}
KEY = re.compile(r"(.*?)(?:_(\d+))?\Z")


def save_keras_weights(source, path: str | os.PathLike) -> Path:
    """Write ``source``'s weights as the .weights.h5 of its Keras equivalent (atomically); returns the path."""
    h5py = require("h5py", "writing Keras weights")
    layers = keras_layers(source)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as file:
        file.create_group("vars").attrs["name"] = "sequential"
        for key, layer in zip(layer_keys(layers), layers):
            file.create_group(f"layers/{key}/vars").attrs["name"] = key
            for variable, weight in zip(variable_paths(key, layer), layer.weights):
                file.create_dataset(variable, data=weight)
            cells = [f"layers/{key}/{d}/cell/vars" for d in DIRECTIONS] if layer.bidirectional else \
                [f"layers/{key}/cell/vars"] if layer.class_name in KERAS_CLASSES.values() else []
            for group in cells:
                file.require_group(group).attrs["name"] = f"{snake_case(layer.class_name)}_cell"
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_keras_weights(path: str | os.PathLike, into: Module | None = None, *, nonlinearity: str = "tanh",
                       reset_after: bool | None = None, batch_first: bool = True) -> Module:
    """Load a Keras .weights.h5 into ``into`` (an rnnkit layer or model) and return it.

    Without ``into`` the file must hold one recurrent stack (lstm, lstm_1, ... or
    bidirectional, bidirectional_1, ...); its layer is built from the variables' shapes.
    What the shapes do not tell: a SimpleRNN's activation (``nonlinearity``), and whether
    a GRU without bias is reset-after (``reset_after``; with a bias, its shape says: (2, 3H)
    is reset-after; without, Keras's default True).
    """
    h5py = require("h5py", "reading Keras weights")
    path = Path(path)
    try:
        with h5py.File(path, "r") as file:
            groups = read_groups(file, path)
    except OSError as error:
        raise CheckpointError(f"{path} is not a readable HDF5 file ({error})") from None
    if into is None:
        layers = [inferred_layer(key, list(variables.values()), nonlinearity, reset_after, path)
                  for key, variables in ordered_stack(groups, path)]
        into = layer_for_keras_layers(layers, str(path), batch_first)
        return load_keras_layers(layers, into, str(path))
    expected = keras_layers(into)
    found = {name: weight for variables in groups.values() for name, weight in variables.items()}
    check_fits(found, {name: weight.shape for name, weight in named_weights(expected).items()}, str(path))
    layers = [KerasLayer(item.class_name, {}, [found[name] for name in variable_paths(key, item)], item.bidirectional)
              for key, item in zip(layer_keys(expected), expected)]
    return load_keras_layers(layers, into, str(path))


def read_groups(file, path: Path) -> dict[str, dict[str, np.ndarray]]:
    """{layer key: {variable path: array}} of the layers holding variables, in order (forward, then backward)."""
    if "layers" not in file:
        raise CheckpointError(f"{path} has no `layers` group: it is not a Keras 3 .weights.h5 file "
                              "(a Keras 2 .h5 must be loaded into keras and saved again with save_weights)")
    groups = {}
    for key, group in file["layers"].items():
        names = [f"{d}/cell/vars" for d in DIRECTIONS if f"{d}/cell/vars" in group] or \
            [name for name in ("cell/vars", "vars") if name in group and len(group[name])]
        variables = {f"layers/{key}/{name}/{number}": np.asarray(group[name][number])
                     for name in names for number in sorted(group[name], key=variable_number)}
        if variables:
            groups[key] = variables
    return groups


def variable_number(name: str) -> int:
    return int(name) if name.isdigit() else -1


def ordered_stack(groups: dict[str, dict], path: Path) -> list[tuple[str, dict]]:
    """The groups of one recurrent stack in layer order: key, key_1, key_2, ..."""
    bases = {KEY.match(key).group(1) for key in groups}
    if len(bases) != 1 or next(iter(bases)) not in ("lstm", "gru", "simple_rnn", "bidirectional"):
        raise CheckpointError(f"{path} holds the layers {', '.join(sorted(groups))}: only a stack of one recurrent "
                              "class makes an rnnkit layer; pass `into`, the model they belong to")
    order = sorted(groups, key=lambda key: int(KEY.match(key).group(2) or 0))
    base = next(iter(bases))
    expected = [base] + [f"{base}_{k}" for k in range(1, len(order))]
    if order != expected:
        raise CheckpointError(f"{path}: the layers {', '.join(order)} are not numbered {', '.join(expected)}")
    return [(key, groups[key]) for key in order]


def inferred_layer(key: str, weights: list[np.ndarray], nonlinearity: str, reset_after: bool | None,
                   path: Path) -> KerasLayer:
    """A recurrent ``KerasLayer`` read from its variables' shapes alone."""
    bidirectional = key.startswith("bidirectional")
    count = len(weights) // 2 if bidirectional else len(weights)
    if count not in (2, 3) or any(np.ndim(w) != 2 for w in weights[:2]):
        raise CheckpointError(f"{path}: layer `layers/{key}` does not hold a kernel, a recurrent kernel "
                              "and an optional bias")
    units, columns = np.shape(weights[1])
    if units == 0 or columns % units or columns // units not in GATES_OF:
        raise CheckpointError(f"{path}: the recurrent kernel of `layers/{key}` is {np.shape(weights[1])}, "
                              "not (H, 4H), (H, 3H) or (H, H)")
    class_name = GATES_OF[columns // units]
    config = dict(units=int(units), use_bias=count == 3)
    if class_name == "GRU":
        config["reset_after"] = np.ndim(weights[2]) == 2 if count == 3 else reset_after is not False
        if reset_after is not None and config["reset_after"] != reset_after:
            raise CheckpointError(f"{path}: the bias of `layers/{key}` is {np.shape(weights[2])}, a GRU with "
                                  f"reset_after={config['reset_after']}, not {reset_after}")
    config["activation"] = nonlinearity if class_name == "SimpleRNN" else "tanh"
    return KerasLayer(class_name, config, weights, bidirectional)
