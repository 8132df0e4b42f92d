"""An LSTM with a projection (``proj_size`` P > 0) in ONNX, which has no operator for it: a Scan of its step.

For direction d of layer k, the input projection of every step is one product before the scan,
and the body is the step of ``rnnkit.cells.lstm`` (gates i, f, g, o in rnnkit's own order):

    xw      = x W_ih^T + (b_ih + b_hh)                       (T, B, 4H)
    body:   z = xw_t + h W_hh^T;   z_i, z_f, z_g, z_o = split(z)
            i = sigmoid(z_i + w_ci * c),  f = sigmoid(z_f + w_cf * c),  g = tanh(z_g)    (w: peepholes, if any)
            c' = f * c + i * g,  o = sigmoid(z_o + w_co * c'),  h' = (o * tanh(c')) W_hr^T
            valid_t (B, 1) = t < length_b:  h, c <- where(valid_t, h', h), where(valid_t, c', c);  y_t = valid_t * h'

so past a sequence's end its state stays and its output is zero. The backward direction reads
each sequence reversed within its length (ReverseSequence) and its outputs are reversed back,
as ``rnnkit.layers.recurrent`` does. Without lengths every sequence has length T.
"""

from __future__ import annotations

import numpy as np

from rnnkit.interop.onnx_graph import BOOL, FLOAT, Graph, full_lengths, helper, valid_steps
from rnnkit.layers.recurrent import LSTM


def projected_lstm_layer(graph: Graph, layer: LSTM, k: int, x: str, lengths, initial: list[str | None]):
    """Layer k: x (T, B, I_k) -> (y (T, B, D*P), [h_n (D, B, P), c_n (D, B, H)]); ``lengths`` a ``Lengths`` or None."""
    stem = f"lstm_l{k}"
    lengths64 = lengths.int64 if lengths is not None else full_lengths(graph, x)
    valid = valid_steps(graph, x, lengths64)
    outputs, finals = [], ([], [])
    for direction in range(layer.num_directions):
        sequence = x if direction == 0 else reverse_within_lengths(graph, x, lengths64)
        states = [direction_state(graph, state, direction, size, x)
                  for state, size in zip(initial, layer.cell.state_sizes)]
        y, h_n, c_n = scan_direction(graph, layer, k, direction, sequence, valid, states, f"{stem}_d{direction}")
        outputs.append(y if direction == 0 else reverse_within_lengths(graph, y, lengths64))
        for final, state in zip(finals, (h_n, c_n)):
            final.append(graph.add("Unsqueeze", [state, graph.ints("axis", [0])], f"{stem}_final"))
    y = outputs[0] if len(outputs) == 1 else graph.add("Concat", outputs, f"{stem}_y", axis=-1)
    return y, [f[0] if len(f) == 1 else graph.add("Concat", f, f"{stem}_finals", axis=0) for f in finals]


def reverse_within_lengths(graph: Graph, sequence: str, lengths64: str) -> str:
    """(T, B, N) with steps 0 .. L_b - 1 of each sequence b reversed; the padding stays where it is."""
    return graph.add("ReverseSequence", [sequence, lengths64], "reversed", batch_axis=1, time_axis=0)


def direction_state(graph: Graph, state: str | None, direction: int, size: int, x: str) -> str:
    """Row ``direction`` (B, size) of a layer's (D, B, size) initial state; zeros when ``state`` is None."""
    if state is not None:
        return graph.add("Gather", [state, graph.ints("direction", direction)], "initial", axis=0)
    batch = graph.add("Shape", [x], "batch_size", start=1, end=2)
    shape = graph.add("Concat", [batch, graph.ints("size", [size])], "state_shape", axis=0)
    return graph.add("ConstantOfShape", [shape], "zero_state",
                     value=helper.make_tensor("zero", FLOAT, [1], [0.0]))


def scan_direction(graph: Graph, layer: LSTM, k: int, direction: int, sequence: str, valid: str,
                   states: list[str], stem: str) -> tuple[str, str, str]:
    """One direction over ``sequence`` (T, B, I_k) from states h0 (B, P), c0 (B, H) -> y (T, B, P), h_n, c_n."""
    p = layer.cell_parameters(k, direction)
    weight_ih_T = graph.weight(f"{stem}_weight_ih_T", p["weight_ih"].T.astype(np.float32))
    bias = graph.weight(f"{stem}_bias", layer.cell.input_bias(p).astype(np.float32))
    xw = graph.add("Add", [graph.add("MatMul", [sequence, weight_ih_T], f"{stem}_xW"), bias], f"{stem}_xw")
    body = step_body(graph, layer, p, stem)
    h_n, c_n, y = graph.add("Scan", [*states, xw, valid], f"{stem}_scan", outputs=3, body=body, num_scan_inputs=2)
    return y, h_n, c_n


def step_body(graph: Graph, layer: LSTM, p, stem: str):
    """The Scan body: (h, c, xw_t, valid_t) -> (h, c, y_t); its weights are the outer graph's."""
    H, P = layer.hidden_size, layer.proj_size
    weights = {name: graph.weight(f"{stem}_{name}", value.astype(np.float32)) for name, value in
               (("weight_hh_T", p["weight_hh"].T), ("weight_hr_T", p["weight_hr"].T))}
    if layer.peephole:
        weights.update({name: graph.weight(f"{stem}_{name}", p[name].astype(np.float32))
                        for name in ("weight_ci", "weight_cf", "weight_co")})
    body = graph.subgraph(f"{stem}_step")
    h = body.input(body.fresh("h"), FLOAT, ["batch", P])
    c = body.input(body.fresh("c"), FLOAT, ["batch", H])
    xw_t = body.input(body.fresh("xw_t"), FLOAT, ["batch", 4 * H])
    valid_t = body.input(body.fresh("valid_t"), BOOL, ["batch", 1])
    z = body.add("Add", [xw_t, body.add("MatMul", [h, weights["weight_hh_T"]], "hW")], "z")
    z_i, z_f, z_g, z_o = body.add("Split", [z], "z", outputs=4, axis=1)
    if layer.peephole:
        z_i = body.add("Add", [z_i, body.add("Mul", [c, weights["weight_ci"]], "peep_i")], "z_i")
        z_f = body.add("Add", [z_f, body.add("Mul", [c, weights["weight_cf"]], "peep_f")], "z_f")
    forget_c = body.add("Mul", [body.add("Sigmoid", [z_f], "f"), c], "f_c")
    input_g = body.add("Mul", [body.add("Sigmoid", [z_i], "i"), body.add("Tanh", [z_g], "g")], "i_g")
    c_new = body.add("Add", [forget_c, input_g], "c_new")
    if layer.peephole:
        z_o = body.add("Add", [z_o, body.add("Mul", [c_new, weights["weight_co"]], "peep_o")], "z_o")
    m = body.add("Mul", [body.add("Sigmoid", [z_o], "o"), body.add("Tanh", [c_new], "tanh_c")], "m")
    h_new = body.add("MatMul", [m, weights["weight_hr_T"]], "h_new")
    zero = body.weight("zero", np.zeros((), np.float32))
    body.output(body.add("Where", [valid_t, h_new, h], "h_next"), body.fresh("h_out"), FLOAT, ["batch", P])
    body.output(body.add("Where", [valid_t, c_new, c], "c_next"), body.fresh("c_out"), FLOAT, ["batch", H])
    body.output(body.add("Where", [valid_t, h_new, zero], "y_t"), body.fresh("y_out"), FLOAT, ["batch", P])
    return body.proto()
