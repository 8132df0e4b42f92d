"""Every step's states and gates of a character model over a text, in the cells' own notation.

``trace_states(model, ids)`` runs the model's recurrent stack over the text (one
sequence, batch 1, from a zero state, in chunks whose final state starts the next)
and keeps, per layer k, the arrays (N, H) after reading each character:

    RNN    h
    LSTM   h, c and the gates i, f, g, o     (``rnnkit.cells.lstm``; g is the candidate tanh)
    GRU    h and the gates r, z, n           (``rnnkit.cells.gru``; n is the candidate tanh)

Row t is what the cell holds after reading character t: h_{t+1}, c_{t+1} and the
gates of step t in the code's indexing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.errors import DataError
from rnnkit.inspect.replay import check_unidirectional, run_layers

LSTM_GATES = ("i", "f", "g", "o")
GRU_GATES = ("r", "z", "n")
SIGMOID_GATES = ("i", "f", "o", "r", "z")
QUANTITY_NAMES = {"h": "hidden state", "c": "cell state", "i": "input gate", "f": "forget gate",
                  "g": "candidate", "o": "output gate", "r": "reset gate", "z": "update gate", "n": "candidate"}


def gate_names(cell) -> tuple[str, ...]:
    if isinstance(cell, LSTMCell):
        return LSTM_GATES
    if isinstance(cell, GRUCell):
        return GRU_GATES
    return ()


@dataclass
class StateTrace:
    """What a model's layers held at every character: ``layers[k][quantity]`` (N, H) float32."""

    cell: str                                       # "rnn", "lstm" or "gru"
    layers: list[dict[str, np.ndarray]] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.layers[0]["h"])

    def quantity(self, layer: int, name: str) -> np.ndarray:
        """``layers[layer][name]``, a DataError naming what there is when absent."""
        if not -len(self.layers) <= layer < len(self.layers):
            raise DataError(f"`layer` {layer} is not one of the model's {len(self.layers)} layer(s)")
        if name not in self.layers[layer]:
            raise DataError(f"`quantity` {name!r} is not one of the {self.cell.upper()}'s: "
                            f"{', '.join(self.layers[layer])}")
        return self.layers[layer][name]


def trace_states(model, ids: np.ndarray, chunk: int = 1000) -> StateTrace:
    """The ``StateTrace`` of ``model`` (a ``CharLM``) over ``ids`` (N,) (see the module)."""
    check_unidirectional(model.rnn, "model")
    ids = np.asarray(ids).reshape(-1)
    if ids.size == 0:
        raise DataError("the text is empty: nothing to trace")
    rnn, gates = model.rnn, gate_names(model.rnn.cell)
    parts: list[dict[str, list]] = [{name: [] for name in rnn.cell.state_names + gates}
                                    for _ in range(rnn.num_layers)]
    state = None
    for begin in range(0, len(ids), chunk):
        caches = run_layers(rnn, model.embedding(ids[begin:begin + chunk, None].astype(np.int64)), state)
        for k, cache in enumerate(caches):
            keep_step(cache.cell, gates, parts[k])
        state = rnn.pack_state([np.stack([getattr(cache.cell, name)[-1] for cache in caches])
                                for name in rnn.cell.state_names])
    kind = {LSTMCell: "lstm", GRUCell: "gru"}.get(type(rnn.cell), "rnn")
    layers = [{name: np.concatenate(arrays).astype(np.float32) for name, arrays in part.items()} for part in parts]
    return StateTrace(kind, layers)


def keep_step(cell_cache, gates: tuple[str, ...], part: dict[str, list]) -> None:
    """Append one chunk's states (after each step) and gates, batch axis dropped."""
    for name in part:
        if name in gates:
            size = cell_cache.gates.shape[-1] // len(gates)
            index = gates.index(name)
            part[name].append(cell_cache.gates[:, 0, index * size:(index + 1) * size].copy())
        else:
            part[name].append(getattr(cell_cache, name)[1:, 0].copy())
