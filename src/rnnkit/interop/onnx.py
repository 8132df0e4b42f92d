"""ONNX graphs of rnnkit's layers and models, built with onnx.helper from rnnkit's own weights.

Layer k of a stack is one ONNX LSTM, GRU or RNN node (opset 17) running both directions:

    W (D, G*H, I_k)   R (D, G*H, H)   B (D, 2*G*H) = [W_ih biases | W_hh biases]   P (D, 3H)
    gate blocks reordered from rnnkit's: LSTM i, f, g, o -> i, o, f, c; GRU r, z, n -> z, r, h;
    LSTM peepholes P = [w_ci, w_co, w_cf]; GRU linear_before_reset = 1 (reset-after) or 0
    (reset-before); RNN activations Tanh or Relu

and its Y (T, D, B, H) becomes layer k+1's input (T, B, D*H) = [forward | backward], as in
rnnkit. ``lengths`` go to every node as ``sequence_lens`` (outputs past a sequence's end are
zero, final states taken at its last step, the backward direction reading each sequence
reversed within its length: PyTorch's packed sequences). An LSTM with a projection has no
ONNX operator; its layers are Scans over the projected step (``rnnkit.interop.onnx_scan``).

The graphs, "time" and "batch" dynamic (any batch size, any length):

    source              inputs                                          outputs
    RNN / LSTM / GRU    x (T, B, I) or (B, T, I) with batch_first       y (T, B, D*H_out) (or batch-first)
                        h0 (L*D, B, H_out), LSTM: c0 (L*D, B, H)        h_n, LSTM: c_n (shaped as h0, c0)
                        lengths (B,) int64, when export has lengths=True
    CharLM              ids (T, B) int64, h0 [, c0]                     logits (T, B, V), h_n [, c_n]
    SequenceClassifier  ids (T, B) int64, lengths (B,) int64            logits (B, C)
    Forecaster          x (T, B, F)                                     prediction (B, horizon)

The states in and out make a stateless runtime stream: feed each chunk's h_n, c_n as the
next chunk's h0, c0 (zeros for the first). Models compute in float32, since onnxruntime's
recurrent operators have no float64 kernels: a float64 model's weights are rounded. Dropout
is left out (inference); the classifier's pooling (last, mean or max over each sequence's
valid steps) and the forecaster's last step are built from ONNX operators too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.interop.gates import GRU_TO_ONNX, LSTM_TO_ONNX, reorder_gates
from rnnkit.interop.onnx_graph import FLOAT, INT32, INT64, Graph, helper, onnx, valid_steps
from rnnkit.interop.onnx_scan import projected_lstm_layer
from rnnkit.interop.sources import describe, model_of, recurrent_kind
from rnnkit.layers.embedding import OneHot
from rnnkit.layers.pooling import LastPooling, MaxPooling, MeanPooling
from rnnkit.layers.recurrent import RecurrentLayer
from rnnkit.models.char_lm import CharLM
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.forecaster import Forecaster
from rnnkit.training.atomic import atomic_write_bytes

OPSET = 17
IR_VERSION = 8               # what opset 17 needs; older runtimes read it too
OPERATORS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
GATE_ORDERS = {"lstm": LSTM_TO_ONNX, "gru": GRU_TO_ONNX, "rnn": None}
STATE_INPUTS, STATE_OUTPUTS = ("h0", "c0"), ("h_n", "c_n")


def export_onnx(source, path: str | os.PathLike, *, lengths: bool = False,
                metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``source``'s ONNX model to ``path`` (atomically); returns the path. See ``onnx_model``."""
    model = onnx_model(source, lengths=lengths, metadata=metadata)
    path = Path(path)
    atomic_write_bytes(path, model.SerializeToString())
    return path


def onnx_model(source, *, lengths: bool = False, metadata: Mapping[str, str] | None = None):
    """The checked ``onnx.ModelProto`` of a layer, CharLM, SequenceClassifier, Forecaster or trained run.

    ``lengths``: a layer's graph takes a ``lengths`` input (the classifier's always does).
    ``metadata`` (str -> str) goes into the model's metadata_props beside ``"rnnkit.source"``
    (the class and config of what was exported).
    """
    model = model_of(source)
    graph = Graph(f"rnnkit_{type(model).__name__}")
    if isinstance(model, RecurrentLayer):
        layer_graph(graph, model, lengths)
    elif isinstance(model, CharLM):
        char_lm_graph(graph, model)
    elif isinstance(model, SequenceClassifier):
        classifier_graph(graph, model)
    else:
        forecaster_graph(graph, model)
    proto = helper.make_model(graph.proto(), producer_name="rnnkit", opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    properties = {"rnnkit.source": json.dumps(describe(model), sort_keys=True), **(metadata or {})}
    helper.set_model_props(proto, {str(key): str(value) for key, value in properties.items()})
    onnx.checker.check_model(proto, full_check=True)
    return proto


# -- whole graphs --------------------------------------------------------------------------


def layer_graph(graph: Graph, layer: RecurrentLayer, with_lengths: bool) -> None:
    """x [, h0, c0, lengths] -> y, h_n [, c_n]: the layer's forward, from the given state."""
    time_major = ["time", "batch", layer.input_size]
    x = graph.input("x", FLOAT, ["batch", "time", layer.input_size] if layer.batch_first else time_major)
    if layer.batch_first:
        x = graph.add("Transpose", [x], "x_time_major", perm=[1, 0, 2])
    initial = state_inputs(graph, layer)
    lengths = graph.input("lengths", INT64, ["batch"]) if with_lengths else None
    y, finals = recurrent_stack(graph, layer, x, lengths, initial)
    width = layer.num_directions * layer.cell.output_size
    if layer.batch_first:
        graph.output(graph.add("Transpose", [y], "y_batch_first", perm=[1, 0, 2]), "y", FLOAT,
                     ["batch", "time", width])
    else:
        graph.output(y, "y", FLOAT, ["time", "batch", width])
    state_outputs(graph, layer, finals)


def char_lm_graph(graph: Graph, model: CharLM) -> None:
    """ids (T, B), h0 [, c0] -> logits (T, B, V), h_n [, c_n]."""
    ids = graph.input("ids", INT64, ["time", "batch"])
    initial = state_inputs(graph, model.rnn)
    hidden, finals = recurrent_stack(graph, model.rnn, embed(graph, ids, model.embedding), None, initial)
    graph.output(linear(graph, hidden, model.decoder), "logits", FLOAT, ["time", "batch", model.config.vocab_size])
    state_outputs(graph, model.rnn, finals)


def classifier_graph(graph: Graph, model: SequenceClassifier) -> None:
    """ids (T, B), lengths (B,) -> logits (B, C): embedding, stack, pooling, output layer."""
    ids = graph.input("ids", INT64, ["time", "batch"])
    lengths = graph.input("lengths", INT64, ["batch"])
    initial = (None,) * len(model.rnn.cell.state_names)
    hidden, finals = recurrent_stack(graph, model.rnn, embed(graph, ids, model.embedding), lengths, initial)
    pooled = pool(graph, model.pooling, hidden, finals, ids, lengths, model.rnn)
    graph.output(linear(graph, pooled, model.output), "logits", FLOAT, ["batch", model.config.num_classes])


def forecaster_graph(graph: Graph, model: Forecaster) -> None:
    """x (T, B, F) -> prediction (B, horizon), from the stack's output at the last step."""
    x = graph.input("x", FLOAT, ["time", "batch", model.config.input_size])
    hidden, _ = recurrent_stack(graph, model.rnn, x, None, (None,) * len(model.rnn.cell.state_names))
    last = graph.add("Gather", [hidden, graph.ints("last_step", -1)], "last_step_output", axis=0)
    graph.output(linear(graph, last, model.output), "prediction", FLOAT, ["batch", model.config.horizon])


def state_inputs(graph: Graph, layer: RecurrentLayer) -> tuple[str, ...]:
    """h0 (L*D, B, H_out) and, for an LSTM, c0 (L*D, B, H): the graph inputs of the initial states."""
    rows = layer.num_layers * layer.num_directions
    return tuple(graph.input(name, FLOAT, [rows, "batch", size])
                 for name, size in zip(STATE_INPUTS, layer.cell.state_sizes))


def state_outputs(graph: Graph, layer: RecurrentLayer, finals: list[list[str]]) -> None:
    """h_n [, c_n] (L*D, B, size): each state's per-layer finals stacked as layer-major rows."""
    rows = layer.num_layers * layer.num_directions
    for index, (name, size) in enumerate(zip(STATE_OUTPUTS, layer.cell.state_sizes)):
        per_layer = [states[index] for states in finals]
        stacked = per_layer[0] if len(per_layer) == 1 else graph.add("Concat", per_layer, f"{name}_rows", axis=0)
        graph.output(stacked, name, FLOAT, [rows, "batch", size])


# -- the recurrent stack -------------------------------------------------------------------


@dataclass(frozen=True)
class Lengths:
    """A graph's sequence lengths (B,): int64 (masks, ReverseSequence) and int32 (``sequence_lens``)."""

    int64: str
    int32: str


def recurrent_stack(graph: Graph, layer: RecurrentLayer, x: str, lengths: str | None,
                    initial: tuple[str | None, ...]) -> tuple[str, list[list[str]]]:
    """x (T, B, I) -> (y (T, B, D*H_out), per layer: its final states, each (D, B, size)).

    ``lengths`` (B,) int64 or None; ``initial`` holds the names of h0 [, c0] (L*D, B, size),
    or None for zeros.
    """
    if lengths is not None:
        lengths = Lengths(lengths, graph.add("Cast", [lengths], "lengths_int32", to=INT32))
    run_layer = projected_lstm_layer if getattr(layer, "proj_size", 0) else operator_layer
    finals = []
    for k in range(layer.num_layers):
        initial_k = [None if state is None else layer_rows(graph, state, k, layer) for state in initial]
        x, final = run_layer(graph, layer, k, x, lengths, initial_k)
        finals.append(final)
    return x, finals


def layer_rows(graph: Graph, state: str, k: int, layer: RecurrentLayer) -> str:
    """Rows k*D .. (k+1)*D of a (L*D, B, size) state: layer k's (D, B, size)."""
    if layer.num_layers == 1:
        return state
    D = layer.num_directions
    return graph.add("Slice", [state, graph.ints("start", [k * D]), graph.ints("end", [(k + 1) * D]),
                               graph.ints("axis", [0])], f"{state}_l{k}")


def operator_layer(graph: Graph, layer: RecurrentLayer, k: int, x: str, lengths: Lengths | None,
                   initial: list[str | None]) -> tuple[str, list[str]]:
    """Layer k as one LSTM/GRU/RNN node: x (T, B, I_k) -> (T, B, D*H), [Y_h (D, B, H)[, Y_c]]."""
    kind = recurrent_kind(layer)
    stem = f"{kind}_l{k}"
    weights = onnx_weights(layer, k)
    inputs = [x] + [graph.weight(f"{stem}_{name}", weights[name]) for name in ("W", "R", "B")]
    inputs += [lengths.int32 if lengths else ""] + [state or "" for state in initial]
    if "P" in weights:
        inputs.append(graph.weight(f"{stem}_P", weights["P"]))
    while inputs[-1] == "":
        inputs.pop()
    attributes = dict(hidden_size=layer.hidden_size,
                      direction="bidirectional" if layer.bidirectional else "forward")
    if kind == "gru":
        attributes["linear_before_reset"] = int(layer.reset_after)
    if kind == "rnn":
        attributes["activations"] = [layer.cell.nonlinearity.capitalize()] * layer.num_directions
    outputs = graph.add(OPERATORS[kind], inputs, stem, outputs=1 + len(initial), **attributes)
    return directions_side_by_side(graph, outputs[0], layer.num_directions, stem), outputs[1:]


def directions_side_by_side(graph: Graph, y: str, num_directions: int, stem: str) -> str:
    """An operator's Y (T, D, B, H) -> (T, B, D*H), the forward direction's features first."""
    if num_directions == 1:
        return graph.add("Squeeze", [y, graph.ints("axis", [1])], f"{stem}_y")
    per_batch = graph.add("Transpose", [y], f"{stem}_y_tbdh", perm=[0, 2, 1, 3])
    return graph.add("Reshape", [per_batch, graph.ints("shape", [0, 0, -1])], f"{stem}_y")


def onnx_weights(layer: RecurrentLayer, k: int) -> dict[str, np.ndarray]:
    """W, R, B (and P for peepholes) of layer k, both directions stacked, in ONNX's gate order, float32."""
    kind = recurrent_kind(layer)
    order = GATE_ORDERS[kind]
    per_direction = []
    for direction in range(layer.num_directions):
        p = layer.cell_parameters(k, direction)
        weights = {"W": reorder_gates(p["weight_ih"], order), "R": reorder_gates(p["weight_hh"], order),
                   "B": np.concatenate([reorder_gates(p["bias_ih"], order), reorder_gates(p["bias_hh"], order)])}
        if kind == "lstm" and layer.peephole:
            weights["P"] = np.concatenate([p["weight_ci"], p["weight_co"], p["weight_cf"]])
        per_direction.append(weights)
    return {name: np.stack([w[name] for w in per_direction]).astype(np.float32) for name in per_direction[0]}


# -- around the stack ----------------------------------------------------------------------


def embed(graph: Graph, ids: str, embedding) -> str:
    """ids (T, B) -> (T, B, E) rows of the embedding table; one-hot rows (T, B, V) for ``OneHot``."""
    if isinstance(embedding, OneHot):
        columns = graph.ints("vocabulary", np.arange(embedding.num_embeddings))
        hits = graph.add("Equal", [graph.add("Unsqueeze", [ids, graph.ints("axis", [-1])], "ids_column"), columns],
                         "one_hot_hits")
        return graph.add("Cast", [hits], "one_hot", to=FLOAT)
    table = graph.weight("embedding_weight", embedding.weight.astype(np.float32))
    return graph.add("Gather", [table, ids], "embedded", axis=0)


def linear(graph: Graph, x: str, layer) -> str:
    """x (..., I) W^T + b -> (..., O), as ``rnnkit.layers.linear.Linear``."""
    y = graph.add("MatMul", [x, graph.weight("linear_weight_T", layer.weight.T.astype(np.float32))], "linear")
    if layer.bias is None:
        return y
    return graph.add("Add", [y, graph.weight("linear_bias", layer.bias.astype(np.float32))], "linear_out")


def pool(graph: Graph, pooling, hidden: str, finals: list[list[str]], ids: str, lengths: str,
         layer: RecurrentLayer) -> str:
    """The classifier's pooling of hidden (T, B, D*H) over each sequence's t < length -> (B, D*H).

    last: the top layer's final states [forward | backward], (D, B, H) -> (B, D*H), which are
    y[L_b - 1, b, :H] and y[0, b, H:]; mean: sum_t mask * y / L_b; max: max_t where(mask, y, -inf).
    """
    if isinstance(pooling, LastPooling):
        final_h = graph.add("Transpose", [finals[-1][0]], "final_bdh", perm=[1, 0, 2])
        return graph.add("Reshape", [final_h, graph.ints("shape", [0, -1])], "pooled_last")
    valid = valid_steps(graph, ids, lengths)                                      # (T, B, 1) bool
    if isinstance(pooling, MeanPooling):
        masked = graph.add("Mul", [hidden, graph.add("Cast", [valid], "valid_float", to=FLOAT)], "masked")
        total = graph.add("ReduceSum", [masked, graph.ints("axis", [0])], "pooled_sum", keepdims=0)
        counts = graph.add("Cast", [graph.add("Unsqueeze", [lengths, graph.ints("axis", [1])], "lengths_column")],
                           "counts", to=FLOAT)
        return graph.add("Div", [total, counts], "pooled_mean")
    if isinstance(pooling, MaxPooling):
        lowest = graph.weight("minus_infinity", np.array(-np.inf, np.float32))
        masked = graph.add("Where", [valid, hidden, lowest], "masked")
        return graph.add("ReduceMax", [masked], "pooled_max", axes=[0], keepdims=0)
    raise ConfigError(f"cannot export the pooling {type(pooling).__name__} to ONNX: only last, mean and max")
