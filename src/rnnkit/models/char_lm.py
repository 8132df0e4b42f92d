"""The character language model: Embedding -> RNN/LSTM/GRU stack -> Linear.

    e_t      = E[x_t]                         (or one-hot(x_t) when embedding_dim = 0)
    h_t      = stack(e_t, h_{t-1})            num_layers of the chosen cell
    logits_t = W_out dropout(h_t) + b_out     scores of the next character

Trained with softmax cross-entropy against x_{t+1}; the hidden state is carried
from one batch to the next (truncated BPTT), so ``forward`` takes and returns it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit import kernels
from rnnkit.errors import ConfigError
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding, check_indices, one_hot
from rnnkit.layers.linear import Linear
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.models.json_config import JsonConfig, check_positive_ints, check_probability
from rnnkit.module import Module

RECURRENT_LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


@dataclass
class CharLMConfig(JsonConfig):
    vocab_size: int
    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 2
    embedding_dim: int = 64          # 0: one-hot input, as min-char-rnn and char-rnn
    dropout: float = 0.0

    def __post_init__(self):
        if self.cell not in RECURRENT_LAYERS:
            raise ConfigError(f"unknown cell {self.cell!r}: choose one of {', '.join(RECURRENT_LAYERS)}")
        check_positive_ints(self, "vocab_size", "hidden_size", "num_layers")
        if not isinstance(self.embedding_dim, int) or self.embedding_dim < 0:
            raise ConfigError(f"embedding_dim must be 0 (one-hot) or positive, got {self.embedding_dim!r}")
        check_probability("dropout", self.dropout)


class CharLM(Module):
    """Next-character model. ``logits, state = model(ids, state)``; ``model.backward(dlogits)``."""

    def __init__(self, config: CharLMConfig, dtype=np.float32, rng=None):
        super().__init__()
        self.config = config
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(rng)
        if config.embedding_dim:
            self.embedding = Embedding(config.vocab_size, config.embedding_dim, dtype=dtype, rng=rng)
        input_size = config.embedding_dim or config.vocab_size
        self.rnn = RECURRENT_LAYERS[config.cell](
            input_size, config.hidden_size, config.num_layers, dropout=config.dropout, dtype=dtype, rng=rng)
        self.dropout = Dropout(config.dropout, rng=rng)
        self.decoder = Linear(config.hidden_size, config.vocab_size, dtype=dtype, rng=rng)

    def forward(self, ids: np.ndarray, state=None):
        """ids (T, B) ints -> logits (T, B, V) and the final recurrent state."""
        if self.config.embedding_dim:
            inputs = self.embedding(ids)
        else:
            inputs = one_hot(ids, self.config.vocab_size, self.dtype)
        hidden, state = self.rnn(inputs, state)
        return self.decoder(self.dropout(hidden)), state

    def step(self, ids: np.ndarray, state=None):
        """One character per sequence, ids (B,) -> logits (B, V) and the new state; for generation."""
        if self.config.embedding_dim:
            inputs = self.embedding(ids)
        else:
            inputs = one_hot(ids, self.config.vocab_size, self.dtype)
        hidden, state = self.rnn.step(inputs, state)
        return self.decoder(hidden), state

    def stepper(self, state=None, batch: int = 1) -> CharStepper:
        """``step`` for many characters in a row, faster: see ``CharStepper``."""
        return CharStepper(self, state, batch)

    def backward(self, dlogits: np.ndarray) -> None:
        """Accumulate every parameter's gradient; the carried state gets none (truncated BPTT)."""
        dhidden = self.dropout.backward(self.decoder.backward(dlogits))
        dinputs, _ = self.rnn.backward(dhidden)
        if self.config.embedding_dim:
            self.embedding.backward(dinputs)


class CharStepper:
    """One character at a time, for sampling: ``logits = stepper(ids)``, ids (B,) -> (B, V).

    The first layer's input projection of every character is a table, made once:

        table[v] = E[v] W_ih^T + b_ih + b_hh        (one-hot input: W_ih[:, v] + b)

    so a step reads a row of it instead of an embedding and a product. The rest is
    a ``Stepper`` over the recurrent stack and the decoder. The table holds the
    weights as they were when the stepper was made: make a new one after training.
    """

    MAX_TABLE_ENTRIES = 1 << 22      # 16 MB of float32; a larger vocabulary projects per step

    def __init__(self, model: CharLM, state=None, batch: int = 1):
        self.model = model
        self.recurrent = model.rnn.stepper(state, batch)
        params = model.rnn._cell_params[0][0]
        weight_ih, bias = params["weight_ih"], model.rnn.cell.input_bias(params)
        self.table = None
        if model.config.vocab_size * weight_ih.shape[0] <= self.MAX_TABLE_ENTRIES:
            inputs = weight_ih.T if not model.config.embedding_dim else model.embedding.weight @ weight_ih.T
            self.table = inputs + bias                       # (V, gates*H)

    def __call__(self, ids) -> np.ndarray:
        ids = check_indices(ids, self.model.config.vocab_size, name="ids")
        if self.table is not None:
            hidden = self.recurrent.from_projection(self.table[ids])
        elif self.model.config.embedding_dim:
            hidden = self.recurrent(self.model.embedding.weight[ids])
        else:
            hidden = self.recurrent(one_hot(ids, self.model.config.vocab_size, self.model.dtype))
        decoder = self.model.decoder                         # its forward, without keeping x for backward
        if self.recurrent.compiled:                          # no NumPy product between compiled steps
            logits = np.empty((hidden.shape[0], decoder.weight.shape[0]), hidden.dtype)
            kernels.load("products").project(hidden, decoder.weight, logits)
        else:
            logits = np.dot(hidden, decoder.weight.T)
        if decoder.bias is not None:
            logits += decoder.bias
        return logits

    @property
    def state(self):
        return self.recurrent.state
