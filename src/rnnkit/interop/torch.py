"""PyTorch state dicts in and out, as .safetensors files: rnnkit's parameter names are PyTorch's.

Export writes a model's parameters under the names that the equivalent torch modules give
them, so that ``module.load_state_dict(tensors, strict=True)`` takes them as they are:

    rnnkit                   torch module              tensors (shapes as in torch)
    RNN / LSTM / GRU         nn.RNN / nn.LSTM / nn.GRU weight_ih_l{k}[_reverse] (G*H, I_k), weight_hh_l{k} (G*H, H_out),
                                                       bias_ih_l{k}, bias_hh_l{k} (G*H,), LSTM: weight_hr_l{k} (P, H)
    CharLM                   embedding: nn.Embedding   embedding.weight (V, E); one-hot input: the identity (V, V)
                             rnn, decoder: nn.Linear   rnn.*, decoder.weight (V, H), decoder.bias (V,)
    SequenceClassifier       embedding (padding_idx=0), rnn, output: nn.Linear
    Forecaster               rnn, output: nn.Linear

The file's metadata holds, under ``"rnnkit.torch_modules"``, the constructor of each module
as JSON, ``{prefix: {"type": "LSTM", "args": {...}}}`` (prefix "" for a bare layer), so that

    modules = json.loads(safe_open(path, "pt").metadata()["rnnkit.torch_modules"])
    model = nn.ModuleDict({name: getattr(nn, m["type"])(**m["args"]) for name, m in modules.items()})
    model.load_state_dict(safetensors.torch.load_file(path), strict=True)

rebuilds it (for a bare layer: ``getattr(nn, m["type"])(**m["args"])`` of the one entry).
Import reads a .safetensors written by ``safetensors.torch.save_file(module.state_dict(), path)``
(or a dict of arrays) into an rnnkit layer or model; without a model to load into, a bare
RNN/LSTM/GRU state dict builds its layer from the tensors' names and shapes. PyTorch has no
peephole LSTM and no reset-before GRU: both are refused, each way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.interop.sources import (check_fits, model_of, recurrent_kind, recurrent_layer, refuse_variants,
                                    without_tied_decoder)
from rnnkit.layers.embedding import Embedding, OneHot
from rnnkit.layers.linear import Linear, TiedLinear
from rnnkit.layers.recurrent import GRU, LSTM, RNN, RecurrentLayer
from rnnkit.models.char_lm import CharLM
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.module import Module
from rnnkit.training.atomic import atomic_write_bytes

MODULES_KEY = "rnnkit.torch_modules"
TORCH_TYPES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
LAYER_CLASSES = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}
REFUSALS = {
    "peephole": "torch.nn.LSTM has no peepholes; export it to ONNX, whose LSTM has them",
    "reset_before": "torch.nn.GRU is reset-after only; export it to Keras (reset_after=False) "
                    "or ONNX (linear_before_reset=0)",
}
IMPORT_REFUSALS = {
    "peephole": "a torch state dict holds no peephole weights; build the LSTM with `peephole=False`",
    "reset_before": "torch's GRU is reset-after; build the GRU with `reset_after=True`",
}
PARAMETER_NAME = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?\Z")
GATES = {4: "LSTM", 3: "GRU", 1: "RNN"}


# -- export -------------------------------------------------------------------------------


def torch_modules(source) -> dict[str, dict]:
    """The torch modules equivalent to ``source``: ``{prefix: {"type": "LSTM", "args": {...}}}``."""
    model = model_of(source)
    refuse_variants(recurrent_layer(model), "PyTorch", REFUSALS)
    if isinstance(model, RecurrentLayer):
        return {"": recurrent_module(model)}
    modules = {}
    if isinstance(model, (CharLM, SequenceClassifier)):
        modules["embedding"] = embedding_module(model.embedding)
    modules["rnn"] = recurrent_module(model.rnn)
    head = "decoder" if isinstance(model, CharLM) else "output"
    modules[head] = linear_module(getattr(model, head))
    return modules


def recurrent_module(layer: RecurrentLayer) -> dict:
    """nn.RNN / nn.LSTM / nn.GRU and its constructor's arguments."""
    kind = recurrent_kind(layer)
    args = dict(input_size=layer.input_size, hidden_size=layer.hidden_size, num_layers=layer.num_layers,
                bias=layer.bias, batch_first=layer.batch_first,
                dropout=layer.dropout if layer.num_layers > 1 else 0.0,     # torch warns of it on one layer
                bidirectional=layer.bidirectional)
    if kind == "rnn":
        args["nonlinearity"] = layer.cell.nonlinearity
    if kind == "lstm" and layer.proj_size:
        args["proj_size"] = layer.proj_size
    return {"type": TORCH_TYPES[kind], "args": args}


def embedding_module(embedding: Embedding | OneHot) -> dict:
    """nn.Embedding; one-hot input is an nn.Embedding(V, V) whose weight is the identity."""
    args = dict(num_embeddings=embedding.num_embeddings, embedding_dim=embedding.embedding_dim)
    if getattr(embedding, "padding_idx", None) is not None:
        args["padding_idx"] = embedding.padding_idx
    return {"type": "Embedding", "args": args}


def linear_module(linear: Linear) -> dict:
    return {"type": "Linear", "args": dict(in_features=linear.in_features, out_features=linear.out_features,
                                           bias=linear.bias is not None)}


def torch_state_dict(source) -> dict[str, np.ndarray]:
    """``source``'s parameters under torch's names (copies), in the model's dtype."""
    model = model_of(source)
    refuse_variants(recurrent_layer(model), "PyTorch", REFUSALS)
    tensors = model.state_dict()
    if isinstance(model, CharLM) and isinstance(model.embedding, OneHot):
        tensors["embedding.weight"] = np.eye(model.config.vocab_size, dtype=model.dtype)
    if isinstance(getattr(model, "decoder", None), TiedLinear):    # tie_weights: nn.Linear holds its copy of E
        tensors["decoder.weight"] = model.decoder.weight.copy()
    return tensors


def export_torch(source, path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``source``'s torch state dict to the .safetensors file ``path`` (atomically); returns the path.

    ``metadata`` (str -> str) goes into the file's header beside ``"rnnkit.torch_modules"``.
    """
    tensors = {name: np.ascontiguousarray(value) for name, value in torch_state_dict(source).items()}
    header = {MODULES_KEY: json.dumps(torch_modules(source), sort_keys=True), **(metadata or {})}
    path = Path(path)
    atomic_write_bytes(path, safetensors.numpy.save(tensors, metadata=header))
    return path


# -- import -------------------------------------------------------------------------------


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and the header metadata of a .safetensors file; never unpickles."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no file {path}")
    try:
        with safetensors.safe_open(path, framework="np") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except Exception as error:        # safetensors raises its own errors, TypeError for dtypes numpy lacks
        raise unreadable(path, error) from None
    return tensors, metadata


def unreadable(path: Path, error: Exception) -> CheckpointError:
    """The error for a file safetensors cannot read; a pickle (torch.save's format) gets its own."""
    with open(path, "rb") as file:
        head = file.read(4)
    if head.startswith(b"PK\x03\x04") or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        return CheckpointError(f"{path} is a pickle (torch.save's format), which rnnkit never loads since it can run "
                               "code: save it with safetensors.torch.save_file(module.state_dict(), path)")
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return CheckpointError(f"{path} is not a readable .safetensors file of float32/float64 tensors ({reason})")


def load_torch(source, into=None, *, nonlinearity: str | None = None, batch_first: bool | None = None) -> Module:
    """Load a torch state dict into ``into`` (an rnnkit layer or model) and return it.

    ``source`` is a .safetensors path or a dict of arrays (``{k: v.numpy() for k, v in
    module.state_dict().items()}``). Names and shapes must fit ``into`` exactly, as with
    torch's ``strict=True``: a CheckpointError names each missing, unexpected or
    mis-shaped tensor. Without ``into``, the tensors of a bare nn.RNN/LSTM/GRU build a new
    layer (see ``layer_from_state_dict``; ``nonlinearity`` and ``batch_first`` default to
    the file's ``"rnnkit.torch_modules"`` entry, else "tanh" and False).
    """
    tensors, metadata, where = tensors_of(source)
    if into is None:
        hints = layer_hints(metadata, where)
        return layer_from_state_dict(tensors, nonlinearity or hints.get("nonlinearity", "tanh"),
                                     hints.get("batch_first", False) if batch_first is None else batch_first,
                                     where=where)
    model = model_of(into)
    refuse_variants(recurrent_layer(model), "A torch state dict", IMPORT_REFUSALS)
    tensors = without_tied_decoder(model, without_identity_embedding(model, tensors, where), where)
    check_fits(tensors, {name: value.shape for name, value in model.parameters().items()}, where)
    model.load_state_dict(tensors)
    return model


def tensors_of(source) -> tuple[dict[str, np.ndarray], dict[str, str], str]:
    """(tensors, metadata, a description for errors) of a path or a mapping of arrays."""
    if isinstance(source, Mapping):
        return {str(name): np.asarray(value) for name, value in source.items()}, {}, "the state dict"
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(f"`source` must be a .safetensors path or a dict of arrays, got {type(source).__name__}")
    tensors, metadata = read_safetensors(source)
    return tensors, metadata, str(source)


def without_identity_embedding(model: Module, tensors: dict, where: str) -> dict:
    """A one-hot CharLM takes ``embedding.weight`` only as the identity that export writes."""
    if not (isinstance(model, CharLM) and isinstance(model.embedding, OneHot)) or "embedding.weight" not in tensors:
        return tensors
    weight = tensors["embedding.weight"]
    size = model.config.vocab_size
    if np.shape(weight) != (size, size) or not np.array_equal(weight, np.eye(size)):
        raise CheckpointError(f"{where}: `embedding.weight` is not the ({size}, {size}) identity, but the model reads "
                              "one-hot input (`embedding_dim` 0): build it with `embedding_dim` = its width")
    return {name: value for name, value in tensors.items() if name != "embedding.weight"}


def layer_hints(metadata: dict[str, str], where: str) -> dict:
    """The constructor arguments of a bare layer in the file's ``"rnnkit.torch_modules"``, if any."""
    if MODULES_KEY not in metadata:
        return {}
    try:
        modules = json.loads(metadata[MODULES_KEY])
        args = modules[""]["args"] if "" in modules else {}
    except (ValueError, TypeError, KeyError):
        raise CheckpointError(f"{where}: the header's `{MODULES_KEY}` is damaged") from None
    return {key: args[key] for key in ("nonlinearity", "batch_first") if isinstance(args, dict) and key in args}


def layer_from_state_dict(tensors: Mapping[str, np.ndarray], nonlinearity: str = "tanh", batch_first: bool = False,
                          dtype=None, where: str = "the state dict") -> RecurrentLayer:
    """A new RNN, LSTM or GRU holding a bare torch state dict (``weight_ih_l0``, ...).

    Its kind comes from the gate rows: weight_ih_l0 is (G*H, I) with G = 4 (LSTM), 3 (GRU)
    or 1 (RNN), H = weight_hh_l0's columns (weight_hr_l0's with a projection, P its rows);
    layers from the ``_l{k}`` suffixes, bidirectional from ``_reverse``, bias from
    ``bias_ih_l0``. The dtype is the tensors' (float32 unless they are float64).
    """
    tensors = dict(tensors)
    unknown = sorted(name for name in tensors if not PARAMETER_NAME.match(name))
    if unknown:
        raise CheckpointError(f"{where}: {', '.join(f'`{n}`' for n in unknown)} belong to no torch RNN, LSTM or GRU; "
                              "pass `into`, the rnnkit model these tensors are for")
    shapes = layer_shapes(tensors, where)
    kind = GATES[shapes["gates"]]
    if dtype is None:
        dtype = np.float64 if all(np.asarray(t).dtype == np.float64 for t in tensors.values()) else np.float32
    options = dict(bias="bias_ih_l0" in tensors, bidirectional=any(n.endswith("_reverse") for n in tensors),
                   batch_first=batch_first, dtype=dtype)
    if kind == "RNN":
        options["nonlinearity"] = nonlinearity
    if "weight_hr_l0" in tensors:
        options["proj_size"] = shapes["proj_size"]
    try:
        layer = LAYER_CLASSES[kind](shapes["input_size"], shapes["hidden_size"], shapes["num_layers"], **options)
    except ValueError as error:
        raise CheckpointError(f"{where}: the tensors describe no valid {kind} ({error})") from None
    check_fits(tensors, {name: value.shape for name, value in layer.parameters().items()}, where)
    layer.load_state_dict(tensors)
    return layer


def layer_shapes(tensors: dict, where: str) -> dict:
    """input_size, hidden_size, proj_size, gates, num_layers read from a bare state dict's tensors."""
    for name in ("weight_ih_l0", "weight_hh_l0"):
        if np.ndim(tensors.get(name)) != 2:
            raise CheckpointError(f"{where}: `{name}` must be a 2-D tensor, got "
                                  f"{'none' if name not in tensors else np.shape(tensors[name])}")
    rows, input_size = np.shape(tensors["weight_ih_l0"])
    projection = tensors.get("weight_hr_l0")
    if projection is not None and np.ndim(projection) != 2:
        raise CheckpointError(f"{where}: `weight_hr_l0` must be a 2-D tensor, got shape {np.shape(projection)}")
    if projection is not None:
        proj_size, hidden_size = np.shape(projection)
    else:
        proj_size, hidden_size = 0, np.shape(tensors["weight_hh_l0"])[1]
    if hidden_size == 0 or rows % hidden_size or rows // hidden_size not in GATES:
        raise CheckpointError(f"{where}: `weight_ih_l0` has {rows} rows, not 1, 3 or 4 times the hidden size "
                              f"{hidden_size}: these are not the tensors of a torch RNN, GRU or LSTM")
    indices = {int(PARAMETER_NAME.match(name).group(2)) for name in tensors}
    num_layers = max(indices) + 1
    if num_layers > len(tensors) or any(f"weight_ih_l{k}" not in tensors for k in range(num_layers)):
        raise CheckpointError(f"{where}: the layers are not numbered 0 to {num_layers - 1}: some `weight_ih_l{{k}}` "
                              "is missing")
    return dict(input_size=input_size, hidden_size=hidden_size, proj_size=proj_size, gates=rows // hidden_size,
                num_layers=num_layers)
