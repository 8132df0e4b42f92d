"""Keras 3 models to and from rnnkit, through keras itself (any backend; the tests use KERAS_BACKEND=torch).

    keras_model(source)             a keras.Sequential with ``source``'s weights: input (B, T, I) float,
                                    or (B, T) int ids for a CharLM (Keras is batch-first)
    keras_weights(source)           each Keras layer's ``get_weights()`` list, without keras
    from_keras(keras_object, into)  the weights of a keras Sequential, Model, layer or list of layers
                                    into an rnnkit layer or model (a new layer when ``into`` is None)

The layouts and gate orders are in ``rnnkit.interop.keras_format``. On import, each Keras
layer must compute what rnnkit does: LSTM and GRU with activation tanh and recurrent_activation
sigmoid, SimpleRNN with tanh or relu, forward (``go_backwards=False``) unless inside
``Bidirectional(merge_mode="concat")``, Dense without activation, Embedding without
``mask_zero``. InputLayer and Dropout layers (identities at inference) are skipped;
anything else is refused by name.
"""

from __future__ import annotations

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.interop.keras_format import (
    KERAS_CLASSES,
    KerasLayer,
    keras_layers,
    layer_for_keras_layers,
    load_keras_layers,
)
from rnnkit.interop.sources import model_of, recurrent_layer
from rnnkit.models.char_lm import CharLM
from rnnkit.module import Module

SKIPPED = ("InputLayer", "Dropout")


def import_keras():
    """The keras module; ConfigError saying what to install if keras or its backend is missing."""
    try:
        import keras
    except ImportError as error:
        raise ConfigError(f"importing keras failed ({error}): install keras 3 and a backend, e.g. torch with "
                          "KERAS_BACKEND=torch in the environment") from None
    return keras


def keras_weights(source) -> list[list[np.ndarray]]:
    """``get_weights()`` of each layer of ``keras_model(source)``, computed without keras."""
    return [layer.weights for layer in keras_layers(source)]


def keras_model(source):
    """A keras.Sequential computing what ``source`` computes (batch-first), its weights set."""
    keras = import_keras()
    model = model_of(source)
    dtype = "float64" if model.dtype == np.float64 else "float32"
    if isinstance(model, CharLM):
        inputs = keras.Input((None,), dtype="int32")
    else:
        inputs = keras.Input((None, recurrent_layer(model).input_size), dtype=dtype)
    plan = keras_layers(model)
    layers = [build_layer(keras, item, dtype) for item in plan]
    sequential = keras.Sequential([inputs, *layers])
    for layer, item in zip(layers, plan):
        layer.set_weights(item.weights)
    return sequential


def build_layer(keras, item: KerasLayer, dtype: str):
    layer = getattr(keras.layers, item.class_name)(**item.config, dtype=dtype)
    return keras.layers.Bidirectional(layer, dtype=dtype) if item.bidirectional else layer


def from_keras(keras_object, into: Module | None = None, *, batch_first: bool = True) -> Module:
    """Load the weights of ``keras_object`` into ``into`` (or a new rnnkit layer) and return it.

    ``keras_object``: a keras Sequential or Model, one layer, or a list of layers. Without
    ``into`` they must be a stack of one recurrent class; the new layer is ``batch_first``
    like Keras unless told otherwise.
    """
    objects = keras_object.layers if hasattr(keras_object, "layers") else \
        list(keras_object) if isinstance(keras_object, (list, tuple)) else [keras_object]
    layers = [read_layer(obj) for obj in objects if type(obj).__name__ not in SKIPPED]
    where = "the Keras model"
    if into is None:
        into = layer_for_keras_layers(layers, where, batch_first)
    return load_keras_layers(layers, into, where)


def read_layer(obj) -> KerasLayer:
    """A Keras layer object as a ``KerasLayer``, once checked to compute what rnnkit's counterpart does."""
    class_name = type(obj).__name__
    if class_name == "Bidirectional":
        return read_bidirectional(obj)
    if class_name in KERAS_CLASSES.values():
        config = recurrent_config(obj, backwards=False)
        return KerasLayer(class_name, config, [np.asarray(w) for w in obj.get_weights()])
    config = obj.get_config()
    if class_name == "Dense" and config.get("activation") in ("linear", None):
        return KerasLayer(class_name, dict(units=config["units"], use_bias=config["use_bias"], activation="linear"),
                          [np.asarray(w) for w in obj.get_weights()])
    if class_name == "Embedding" and not config.get("mask_zero"):
        return KerasLayer(class_name, dict(input_dim=config["input_dim"], output_dim=config["output_dim"]),
                          [np.asarray(w) for w in obj.get_weights()])
    raise ConfigError(f"cannot read the Keras layer `{obj.name}` ({class_name}) into rnnkit: only LSTM, GRU, "
                      "SimpleRNN, Bidirectional, Embedding (without mask_zero) and Dense (without activation)")


def read_bidirectional(obj) -> KerasLayer:
    if obj.merge_mode != "concat":
        raise ConfigError(f"the Keras layer `{obj.name}` merges its directions by {obj.merge_mode!r}: rnnkit "
                          "concatenates them (merge_mode='concat')")
    forward, backward = obj.forward_layer, obj.backward_layer
    if type(forward).__name__ not in KERAS_CLASSES.values() or type(backward) is not type(forward):
        raise ConfigError(f"the Keras layer `{obj.name}` wraps {type(forward).__name__} and "
                          f"{type(backward).__name__}: rnnkit needs one LSTM, GRU or SimpleRNN both ways")
    config = recurrent_config(forward, backwards=False)
    if recurrent_config(backward, backwards=True) != config:
        raise ConfigError(f"the two directions of the Keras layer `{obj.name}` differ in their options")
    weights = [np.asarray(w) for w in forward.get_weights() + backward.get_weights()]
    return KerasLayer(type(forward).__name__, config, weights, bidirectional=True)


def recurrent_config(obj, backwards: bool) -> dict:
    """units, use_bias, activation (and reset_after) of a Keras recurrent layer; its other options checked."""
    config = obj.get_config()
    name, class_name = obj.name, type(obj).__name__
    if config.get("go_backwards", False) != backwards:
        raise ConfigError(f"the Keras layer `{name}` reads its input backwards: wrap it in Bidirectional, "
                          "or reverse the input yourself")
    allowed = ("tanh", "relu") if class_name == "SimpleRNN" else ("tanh",)
    if config.get("activation") not in allowed:
        raise ConfigError(f"the Keras layer `{name}` has activation {config.get('activation')!r}: "
                          f"rnnkit's {class_name} computes {' or '.join(allowed)}")
    if class_name != "SimpleRNN" and config.get("recurrent_activation") != "sigmoid":
        raise ConfigError(f"the Keras layer `{name}` has recurrent_activation {config.get('recurrent_activation')!r}: "
                          "rnnkit's gates are sigmoid")
    summary = dict(units=config["units"], use_bias=config["use_bias"], activation=config["activation"])
    if class_name == "GRU":
        summary["reset_after"] = config["reset_after"]
    return summary
