"""Weights in and out: PyTorch (.safetensors), Keras 3 (keras objects and .weights.h5), ONNX.

    format   module             out                                          in
    PyTorch  interop.torch      export_torch(source, path)                   load_torch(path_or_dict, into=None)
    Keras    interop.keras      keras_model(source), keras_weights(layer)    from_keras(keras_object, into=None)
             interop.keras_h5   save_keras_weights(source, path)             load_keras_weights(path, into=None)
    ONNX     interop.onnx       export_onnx(source, path), onnx_model(...)   (onnxruntime runs it)

A *source* is an rnnkit RNN/LSTM/GRU layer, a CharLM, SequenceClassifier or Forecaster,
or a trained run (its ``.model``). What a format cannot express is refused with a
``ConfigError`` naming the variant:

    variant                  PyTorch   Keras    ONNX
    LSTM peepholes           refused   refused  LSTM's P input
    LSTM proj_size           yes       refused  a Scan of the projected step
    GRU reset-before         refused   yes      linear_before_reset=0
    RNN relu, bidirectional  yes       yes      yes

The names below import their module on first use, so that the optional packages
(onnx, h5py, keras) are needed only by the conversions that use them.
"""

from __future__ import annotations

import importlib

EXPORTS = {
    "export_torch": "torch", "load_torch": "torch", "torch_state_dict": "torch", "torch_modules": "torch",
    "keras_model": "keras", "keras_weights": "keras", "from_keras": "keras",
    "save_keras_weights": "keras_h5", "load_keras_weights": "keras_h5",
    "export_onnx": "onnx", "onnx_model": "onnx",
}

__all__ = ["export_onnx", "export_torch", "from_keras", "keras_model", "keras_weights", "load_keras_weights",
           "load_torch", "onnx_model", "save_keras_weights", "torch_modules", "torch_state_dict"]


def __getattr__(name: str):
    if name not in EXPORTS:
        raise AttributeError(f"module 'rnnkit.interop' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rnnkit.interop.{EXPORTS[name]}"), name)
