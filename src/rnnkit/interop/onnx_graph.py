"""A small builder of ONNX graphs over ``onnx.helper``: nodes, weights, inputs and outputs by name.

Every value gets a fresh name from its stem (``lstm_l0_Y_3``), counted across a graph
and the subgraphs made from it (``graph.subgraph(...)`` for a Scan's body), since ONNX
wants each name defined once in all scopes. A subgraph may read the names of the
graph around it (its weights, say) as they are.
"""

from __future__ import annotations

import itertools

import numpy as np

from rnnkit.interop.sources import require

onnx = require("onnx", "exporting to ONNX")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

FLOAT, INT64, INT32, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL


class Graph:
    """The nodes, initializers (weights), inputs and outputs of one graph under construction."""

    def __init__(self, name: str, counter=None):
        self.name = name
        self.counter = counter if counter is not None else itertools.count()
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []

    def fresh(self, stem: str) -> str:
        return f"{stem}_{next(self.counter)}"

    def subgraph(self, name: str) -> Graph:
        """A graph sharing this one's name counter: a Scan's or Loop's body."""
        return Graph(name, self.counter)

    def weight(self, stem: str, array: np.ndarray) -> str:
        """A constant tensor stored in the model (an initializer); returns its name."""
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))   # 0-d stays 0-d
        return name

    def ints(self, stem: str, values) -> str:
        """A constant int64 tensor (shapes, axes, indices)."""
        return self.weight(stem, np.asarray(values, dtype=np.int64))

    def add(self, op: str, inputs: list[str], stem: str | None = None, outputs: int = 1, **attributes):
        """Append node ``op``; returns its output's name, or the list of its ``outputs`` names."""
        stem = stem or op.lower()
        names = [self.fresh(f"{stem}_{k}" if outputs > 1 else stem) for k in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, name=self.fresh(f"{stem}_node"), **attributes))
        return names if outputs > 1 else names[0]

    def input(self, name: str, elem_type: int, shape: list) -> str:
        """A graph input of ``shape`` (ints for fixed sizes, strings for dynamic ones)."""
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, value: str, name: str, elem_type: int, shape: list | None) -> None:
        """Make ``value`` the graph output ``name`` (through an Identity node)."""
        self.nodes.append(helper.make_node("Identity", [value], [name], name=self.fresh(f"{name}_output")))
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))

    def proto(self):
        return helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)


# -- sequence helpers shared by the graphs ----------------------------------------------------


def time_steps(graph: Graph, sequence: str) -> str:
    """T, the first dimension of ``sequence`` (T, B, ...), as a (1,) int64 tensor."""
    return graph.add("Shape", [sequence], "time_size", start=0, end=1)


def full_lengths(graph: Graph, sequence: str) -> str:
    """(B,) int64 lengths, all T, for a ``sequence`` (T, B, ...) given no lengths."""
    batch = graph.add("Shape", [sequence], "batch_size", start=1, end=2)
    return graph.add("Expand", [time_steps(graph, sequence), batch], "full_lengths")


def valid_steps(graph: Graph, sequence: str, lengths: str) -> str:
    """(T, B, 1) bool: t < lengths[b], for a ``sequence`` (T, B, ...) and int64 ``lengths`` (B,)."""
    steps = graph.add("Squeeze", [time_steps(graph, sequence)], "steps")
    times = graph.add("Range", [graph.ints("zero", 0), steps, graph.ints("one", 1)], "times")
    column = graph.add("Unsqueeze", [times, graph.ints("axes", [1, 2])], "times_column")          # (T, 1, 1)
    row = graph.add("Unsqueeze", [lengths, graph.ints("axes", [0, 2])], "lengths_row")            # (1, B, 1)
    return graph.add("Less", [column, row], "valid")
