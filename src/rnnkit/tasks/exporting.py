"""Exporting a trained run's weights to other frameworks (``rnnkit.interop`` does the converting).

    export_run("runs/shakespeare", "onnx", "model.onnx")     the best checkpoint's model as an ONNX graph

Formats: ``torch`` (a .safetensors of state_dicts that load with strict=True into the
equivalent torch modules, whose constructor arguments are in its header), ``keras``
(a Keras 3 .weights.h5) and ``onnx``. A variant a format cannot express is refused
with a one-line error naming it.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit import interop
from rnnkit.errors import ConfigError
from rnnkit.tasks import runs

FORMATS = {"torch": ".safetensors", "keras": ".weights.h5", "onnx": ".onnx"}


def export_run(run_dir: str | Path, to: str, path: str | Path, which: str = "best") -> Path:
    """Write the model of the run's ``which`` checkpoint in format ``to`` to ``path``; the path written."""
    if to not in FORMATS:
        raise ConfigError(f"unknown format `to` {to!r}: choose one of {', '.join(FORMATS)}")
    path = Path(path)
    if not path.name.endswith(FORMATS[to]):
        raise ConfigError(f"a {to} export is written to a {FORMATS[to]} file, not {path.name!r}")
    run = runs.load_run(run_dir, which)
    if to == "torch":
        return interop.export_torch(run, path)
    if to == "keras":
        return interop.save_keras_weights(run, path)
    return interop.export_onnx(run, path)
