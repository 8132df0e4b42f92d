"""What every converter reads of an rnnkit model: which model a source is, its recurrent stack, its variant.

A *source* is an rnnkit recurrent layer (``RNN``, ``LSTM``, ``GRU``), a model (``CharLM``,
``SequenceClassifier``, ``Forecaster``) or a trained run (``rnnkit.tasks.runs.TrainedRun``,
whose ``.model`` is converted). A layer holds, per layer k and direction d
(``layer.cell_parameters(k, d)``), in PyTorch's layout:

    weight_ih (G*H, I_k)   weight_hh (G*H, H_out)   bias_ih, bias_hh (G*H,)
    LSTM: G = 4, gates i, f, g, o; optional weight_hr (P, H) (H_out = P), weight_ci/cf/co (H,)
    GRU:  G = 3, gates r, z, n;    RNN: G = 1

with I_0 = input_size and I_k = D * H_out above. A format that cannot express a variant
refuses it with a ``ConfigError`` naming the variant and a format that can
(``refuse_variants``); tensors that do not fit a model raise a ``CheckpointError``
naming each one (``check_fits``).
"""

from __future__ import annotations

import importlib

import numpy as np

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.layers.linear import TiedLinear
from rnnkit.layers.recurrent import GRU, LSTM, RNN, RecurrentLayer
from rnnkit.models.char_lm import CharLM
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.forecaster import Forecaster
from rnnkit.module import Module

MODELS = (CharLM, SequenceClassifier, Forecaster)

# variant -> (what it is, the test whether a layer has it)
VARIANTS = {
    "peephole": ("an LSTM with peephole connections (`weight_ci`, `weight_cf`, `weight_co`)",
                 lambda layer: isinstance(layer, LSTM) and layer.peephole),
    "proj_size": ("an LSTM with a projection (`proj_size` > 0, `weight_hr`)",
                  lambda layer: isinstance(layer, LSTM) and layer.proj_size > 0),
    "reset_before": ("a reset-before GRU (`reset_after=False`, Cho et al.)",
                     lambda layer: isinstance(layer, GRU) and not layer.reset_after),
}


def model_of(source) -> Module:
    """The rnnkit layer or model of ``source`` (a layer, a model, or a trained run's ``.model``)."""
    model = getattr(source, "model", source)
    if not isinstance(model, (RecurrentLayer, *MODELS)):
        kinds = "an RNN, LSTM or GRU layer, a CharLM, SequenceClassifier or Forecaster, or a trained run"
        raise ConfigError(f"cannot convert a {type(model).__name__}: pass {kinds}")
    return model


def recurrent_layer(model: Module) -> RecurrentLayer:
    """The recurrent stack of a layer or model (a model's ``rnn``)."""
    return model if isinstance(model, RecurrentLayer) else model.rnn


def recurrent_kind(layer: RecurrentLayer) -> str:
    """"lstm", "gru" or "rnn"; a layer-normalised one, or one with zoneout, which no format here expresses,
    is refused (the other regularisers are off in evaluation mode, and a format holds only that)."""
    if getattr(layer, "layer_norm", False):
        raise ConfigError("no exchange format here has a layer-normalised LSTM or GRU (`layer_norm=True`): "
                          "keep rnnkit's own checkpoint, or convert a layer built with `layer_norm=False`")
    if any(layer.regularisers.zoneout(layer.cell)):     # the only regulariser that acts in evaluation mode
        raise ConfigError("no exchange format here has zoneout (`zoneout_h`, `zoneout_c`), which mixes the previous "
                          "state into each step in evaluation mode: keep rnnkit's own checkpoint, or convert a "
                          "layer built without it")
    for kind, cls in (("lstm", LSTM), ("gru", GRU), ("rnn", RNN)):
        if isinstance(layer, cls):
            return kind
    raise ConfigError(f"cannot convert a {type(layer).__name__}: only RNN, LSTM and GRU layers")


def refuse_variants(layer: RecurrentLayer, target: str, refused: dict[str, str]) -> None:
    """ConfigError if ``layer`` is one of the ``refused`` variants (variant -> what to do instead)."""
    for variant, advice in refused.items():
        what, present = VARIANTS[variant]
        if present(layer):
            raise ConfigError(f"{target} cannot express {what}: {advice}")


def check_fits(tensors: dict, expected: dict[str, tuple[int, ...]], where: str) -> None:
    """CheckpointError naming every missing, unexpected and mis-shaped tensor of ``tensors``.

    ``expected`` maps each name to its shape; ``where`` says whose tensors they are
    (a file, "the state dict"). Finite values are checked too.
    """
    problems = []
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing:
        problems.append("missing " + ", ".join(f"`{name}` {expected[name]}" for name in missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(f"`{name}`" for name in unexpected))
    for name in sorted(set(expected) & set(tensors)):
        shape = tuple(np.shape(tensors[name]))
        if shape != tuple(expected[name]):
            problems.append(f"`{name}` has shape {shape} where {tuple(expected[name])} is expected")
        elif not np.all(np.isfinite(tensors[name])):
            problems.append(f"`{name}` holds NaN or inf")
    if problems:
        raise CheckpointError(f"{where} does not fit the model: {'; '.join(problems)}")


def without_tied_decoder(model: Module, tensors: dict, where: str) -> dict:
    """A CharLM with ``tie_weights`` takes ``decoder.weight`` only as the copy of ``embedding.weight`` that export
    writes (torch's tied modules also save both; a Keras file holds its Dense kernel)."""
    if not isinstance(getattr(model, "decoder", None), TiedLinear) or "decoder.weight" not in tensors:
        return tensors
    if not np.array_equal(tensors["decoder.weight"], tensors.get("embedding.weight")):
        raise CheckpointError(f"{where}: `decoder.weight` is not `embedding.weight`, but the model ties them "
                              "(`tie_weights`): build it with `tie_weights` false")
    return {name: value for name, value in tensors.items() if name != "decoder.weight"}


def require(package: str, purpose: str):
    """Import an optional ``package``; ConfigError saying how to install it if it is missing."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ConfigError(f"{purpose} needs the `{package}` package: pip install 'rnnkit[interop]'") from None


def describe(model: Module) -> dict:
    """What ``model`` is, as plain JSON: ``{"class": "LSTM", "config": {...}}``, for a file's metadata."""
    if not isinstance(model, RecurrentLayer):
        return {"class": type(model).__name__, "config": model.config.to_json()}
    config = dict(input_size=model.input_size, hidden_size=model.hidden_size, num_layers=model.num_layers,
                  bias=model.bias, batch_first=model.batch_first, bidirectional=model.bidirectional)
    for option in ("proj_size", "peephole", "reset_after"):
        if hasattr(model, option):
            config[option] = getattr(model, option)
    if isinstance(model, RNN):
        config["nonlinearity"] = model.cell.nonlinearity
    return {"class": type(model).__name__, "config": config}
