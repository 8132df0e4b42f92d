"""The Keras 3 side of an rnnkit model, in NumPy: the layers of the equivalent Sequential and their weights.

Keras keeps one direction of a recurrent layer as three variables (``get_weights()`` order):

    LSTM       kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,)     gates i, f, c, o (rnnkit's i, f, g, o)
    GRU        kernel (I, 3H), recurrent_kernel (H, 3H), bias           gates z, r, h (rnnkit's r, z, n swapped)
               reset_after=True:  bias (2, 3H) = [input biases; recurrent biases]  = rnnkit's reset-after GRU
               reset_after=False: bias (3H,)   = input + recurrent biases           = rnnkit's reset-before GRU
    SimpleRNN  kernel (I, H), recurrent_kernel (H, H), bias (H,)       activation tanh or relu

so kernel = W_ih^T and recurrent_kernel = W_hh^T, gate blocks reordered, and a single bias
b_ih + b_hh (Keras's LSTM, SimpleRNN and reset-before GRU have one). Coming back, that
bias becomes b_ih and b_hh is zero: the same outputs. ``Bidirectional(layer)`` holds the
forward direction's variables, then the backward one's; ``use_bias=False`` drops the bias.

A stack of L layers is L Keras layers (``return_sequences=True``). Models: a CharLM is
Embedding (V, E) (one-hot input: the identity (V, V)), the stack, Dense (kernel (H, V) =
W^T, bias (V,)); a Forecaster is the stack, its last layer returning the last step only,
and Dense (H, horizon). A SequenceClassifier (pooling over padded sequences) has no plain
Keras equivalent and is refused, as are what Keras's LSTM lacks: peepholes and projections.

Each Keras layer is a ``KerasLayer``; its variables are named as in a .weights.h5 file
(``layers/lstm_1/cell/vars/0``, ``layers/bidirectional/backward_layer/cell/vars/2``), and
so are the errors about them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.interop.gates import GRU_TO_KERAS, inverse, reorder_gates
from rnnkit.interop.sources import (check_fits, model_of, recurrent_kind, recurrent_layer, refuse_variants,
                                    without_tied_decoder)
from rnnkit.layers.embedding import OneHot
from rnnkit.layers.recurrent import GRU, LSTM, RNN, RecurrentLayer
from rnnkit.models.char_lm import CharLM
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.forecaster import Forecaster
from rnnkit.module import Module

KERAS_CLASSES = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}
RNNKIT_CLASSES = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": RNN}
GATE_ORDERS = {"lstm": None, "gru": GRU_TO_KERAS, "rnn": None}
REFUSALS = {
    "peephole": "Keras's LSTM has no peepholes; export it to ONNX, whose LSTM has them",
    "proj_size": "Keras's LSTM has no projection; export it to PyTorch or ONNX",
}
DIRECTIONS = ("forward_layer", "backward_layer")


@dataclass
class KerasLayer:
    """One layer of the Keras Sequential: its class, constructor arguments and ``get_weights()``.

    A bidirectional recurrent layer has ``bidirectional=True``, ``class_name`` the wrapped
    layer's, ``config`` the wrapped layer's, and ``weights`` the forward then backward variables.
    """

    class_name: str                     # LSTM | GRU | SimpleRNN | Embedding | Dense
    config: dict
    weights: list[np.ndarray] = field(default_factory=list)
    bidirectional: bool = False

    @property
    def saved_class(self) -> str:
        """The class whose snake_case name keys the layer in a .weights.h5 file."""
        return "Bidirectional" if self.bidirectional else self.class_name


# -- rnnkit -> Keras -----------------------------------------------------------------------


def keras_layers(source) -> list[KerasLayer]:
    """The Keras layers equivalent to ``source`` (a layer, CharLM, Forecaster or trained run)."""
    model = model_of(source)
    if isinstance(model, SequenceClassifier):
        raise ConfigError("Keras cannot express a SequenceClassifier's pooling over padded sequences: "
                          "export its `rnn` layer, or the whole model to ONNX or PyTorch")
    layer = recurrent_layer(model)
    refuse_variants(layer, "Keras", REFUSALS)
    layers = recurrent_keras_layers(layer, last_sequences=not isinstance(model, Forecaster))
    if isinstance(model, CharLM):
        return [embedding_keras_layer(model), *layers, dense_keras_layer(model.decoder)]
    if isinstance(model, Forecaster):
        return [*layers, dense_keras_layer(model.output)]
    return layers


def recurrent_keras_layers(layer: RecurrentLayer, last_sequences: bool = True) -> list[KerasLayer]:
    """One LSTM / GRU / SimpleRNN (or Bidirectional of one) per layer of the stack."""
    kind = recurrent_kind(layer)
    layers = []
    for k in range(layer.num_layers):
        config = dict(units=layer.hidden_size, use_bias=layer.bias,
                      return_sequences=last_sequences or k < layer.num_layers - 1)
        if kind == "gru":
            config["reset_after"] = layer.reset_after
        config["activation"] = layer.cell.nonlinearity if kind == "rnn" else "tanh"
        weights = [w for d in range(layer.num_directions) for w in direction_to_keras(layer, k, d)]
        layers.append(KerasLayer(KERAS_CLASSES[kind], config, weights, layer.bidirectional))
    return layers


def direction_to_keras(layer: RecurrentLayer, k: int, direction: int) -> list[np.ndarray]:
    """[kernel (I, G*H), recurrent_kernel (H, G*H), bias] of layer k, one direction, in Keras's gate order."""
    kind = recurrent_kind(layer)
    order = GATE_ORDERS[kind]
    p = layer.cell_parameters(k, direction)
    weights = [reorder_gates(p["weight_ih"], order).T.copy(), reorder_gates(p["weight_hh"], order).T.copy()]
    if not layer.bias:
        return weights
    if kind == "gru" and layer.reset_after:
        weights.append(np.stack([reorder_gates(p["bias_ih"], order), reorder_gates(p["bias_hh"], order)]))
    else:
        weights.append(reorder_gates(p["bias_ih"] + p["bias_hh"], order))
    return weights


def embedding_keras_layer(model: CharLM) -> KerasLayer:
    """Embedding (V, E); a one-hot CharLM's is the identity (V, V), not trained."""
    if isinstance(model.embedding, OneHot):
        size = model.config.vocab_size
        return KerasLayer("Embedding", dict(input_dim=size, output_dim=size, trainable=False),
                          [np.eye(size, dtype=model.dtype)])
    table = model.embedding.weight
    return KerasLayer("Embedding", dict(input_dim=table.shape[0], output_dim=table.shape[1]), [table.copy()])


def dense_keras_layer(linear) -> KerasLayer:
    """Dense: kernel (I, O) = W^T, bias (O,)."""
    weights = [linear.weight.T.copy()] + ([linear.bias.copy()] if linear.bias is not None else [])
    return KerasLayer("Dense", dict(units=linear.out_features, use_bias=linear.bias is not None, activation="linear"),
                      weights)


# -- names, as in a .weights.h5 file --------------------------------------------------------


def snake_case(name: str) -> str:
    """Keras's key of a class in a weights file: "SimpleRNN" -> "simple_rnn", "LSTM" -> "lstm"."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def layer_keys(layers: list[KerasLayer]) -> list[str]:
    """Each layer's group under ``layers/`` in a .weights.h5: its class in snake_case, then _1, _2, ..."""
    seen: dict[str, int] = {}
    keys = []
    for layer in layers:
        base = snake_case(layer.saved_class)
        count = seen.get(base, 0)
        seen[base] = count + 1
        keys.append(base if count == 0 else f"{base}_{count}")
    return keys


def variable_paths(key: str, layer: KerasLayer) -> list[str]:
    """The .weights.h5 path of each of ``layer.weights``, in order."""
    if layer.class_name in KERAS_CLASSES.values():
        count = len(layer.weights) // (2 if layer.bidirectional else 1)
        groups = [f"layers/{key}/{d}/cell/vars" for d in DIRECTIONS] if layer.bidirectional else \
            [f"layers/{key}/cell/vars"]
        return [f"{group}/{i}" for group in groups for i in range(count)]
    return [f"layers/{key}/vars/{i}" for i in range(len(layer.weights))]


def named_weights(layers: list[KerasLayer]) -> dict[str, np.ndarray]:
    """Every variable of ``layers`` by its .weights.h5 path."""
    return {path: weight for key, layer in zip(layer_keys(layers), layers)
            for path, weight in zip(variable_paths(key, layer), layer.weights)}


# -- Keras -> rnnkit -----------------------------------------------------------------------


def load_keras_layers(layers: list[KerasLayer], into: Module, where: str) -> Module:
    """Copy the weights of Keras ``layers`` into ``into``, which must have exactly their structure."""
    model = model_of(into)
    refuse_variants(recurrent_layer(model), "Keras", REFUSALS)
    expected = keras_layers(model)
    check_structure(layers, expected, where)
    check_fits(named_weights(layers), {path: w.shape for path, w in named_weights(expected).items()}, where)
    model.load_state_dict(rnnkit_state(layers, model, where))
    return model


def check_structure(layers: list[KerasLayer], expected: list[KerasLayer], where: str) -> None:
    """ConfigError naming the first layer whose class or options differ from the model's."""
    def summary(items):
        return ", ".join(("Bidirectional " if item.bidirectional else "") + item.class_name for item in items)
    if [(item.class_name, item.bidirectional) for item in layers] != \
            [(item.class_name, item.bidirectional) for item in expected]:
        raise CheckpointError(f"{where} holds the layers [{summary(layers)}] but the model is [{summary(expected)}]")
    for key, found, wanted in zip(layer_keys(expected), layers, expected):
        for option in ("reset_after", "activation", "use_bias"):
            if option in found.config and found.config[option] != wanted.config.get(option):
                raise CheckpointError(f"{where}: layer `{key}` has {option}={found.config[option]!r} but the "
                                      f"model has {option}={wanted.config.get(option)!r}")


def rnnkit_state(layers: list[KerasLayer], model: Module, where: str) -> dict[str, np.ndarray]:
    """The rnnkit state dict of ``model`` held by the Keras ``layers`` (checked to fit)."""
    layer = recurrent_layer(model)
    prefix = "" if isinstance(model, RecurrentLayer) else "rnn."
    recurrent = [item for item in layers if item.class_name in KERAS_CLASSES.values()]
    state = {}
    for k, item in enumerate(recurrent):
        count = len(item.weights) // layer.num_directions
        for d in range(layer.num_directions):
            suffix = f"_l{k}" + ("_reverse" if d else "")
            params = direction_from_keras(layer, item.weights[d * count:(d + 1) * count])
            state.update({f"{prefix}{name}{suffix}": value for name, value in params.items()})
    if isinstance(model, CharLM) and not isinstance(model.embedding, OneHot):
        state["embedding.weight"] = layers[0].weights[0]
    elif isinstance(model, CharLM):
        check_identity(layers[0].weights[0], model.config.vocab_size, where)
    if isinstance(model, (CharLM, Forecaster)):
        head = "decoder" if isinstance(model, CharLM) else "output"
        state[f"{head}.weight"] = layers[-1].weights[0].T
        if len(layers[-1].weights) > 1:
            state[f"{head}.bias"] = layers[-1].weights[1]
    return without_tied_decoder(model, state, where)


def direction_from_keras(layer: RecurrentLayer, weights: list[np.ndarray]) -> dict[str, np.ndarray]:
    """weight_ih, weight_hh [, bias_ih, bias_hh] of one direction from Keras's kernel, recurrent_kernel [, bias]."""
    kind = recurrent_kind(layer)
    undo = inverse(GATE_ORDERS[kind])
    params = {"weight_ih": reorder_gates(weights[0].T, undo), "weight_hh": reorder_gates(weights[1].T, undo)}
    if len(weights) < 3:
        return params
    bias = weights[2]
    if bias.ndim == 2:                                   # GRU reset_after: [input; recurrent]
        params["bias_ih"], params["bias_hh"] = reorder_gates(bias[0], undo), reorder_gates(bias[1], undo)
    else:
        params["bias_ih"], params["bias_hh"] = reorder_gates(bias, undo), np.zeros_like(bias)
    return params


def check_identity(table: np.ndarray, size: int, where: str) -> None:
    """A one-hot CharLM takes only the identity that export writes as its Embedding."""
    if not np.array_equal(table, np.eye(size)):
        raise CheckpointError(f"{where}: the Embedding's table is not the identity, but the model reads one-hot "
                              "input (`embedding_dim` 0): build it with `embedding_dim` = the table's width")


def layer_for_keras_layers(layers: list[KerasLayer], where: str, batch_first: bool = True) -> RecurrentLayer:
    """A new rnnkit layer with the structure of a Keras stack of one recurrent class (not yet loaded)."""
    classes = {(item.class_name, item.bidirectional) for item in layers}
    if not layers or len(classes) != 1 or layers[0].class_name not in RNNKIT_CLASSES:
        found = ", ".join(sorted({item.saved_class for item in layers})) or "nothing"
        raise CheckpointError(f"{where} holds {found}: only a stack of one recurrent class (LSTM, GRU or SimpleRNN, "
                              "each possibly Bidirectional) makes an rnnkit layer; pass `into` for a model")
    first = layers[0]
    kind = {v: k for k, v in KERAS_CLASSES.items()}[first.class_name]
    kernel = first.weights[0]
    options = dict(bias=first.config.get("use_bias", True), bidirectional=first.bidirectional,
                   batch_first=batch_first, dtype=np.float64 if kernel.dtype == np.float64 else np.float32)
    if kind == "gru":
        options["reset_after"] = first.config.get("reset_after", True)
    if kind == "rnn":
        options["nonlinearity"] = first.config.get("activation", "tanh")
    try:
        return RNNKIT_CLASSES[first.class_name](kernel.shape[0], first.config["units"], len(layers), **options)
    except ValueError as error:
        raise CheckpointError(f"{where}: the Keras layers describe no valid rnnkit layer ({error})") from None
