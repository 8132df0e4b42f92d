"""The sequence classifier: Embedding -> (Bi)RNN/LSTM/GRU stack -> pooling over time -> Linear.

For a padded batch of token ids x (T, B) with lengths L (B,):

    e_t    = dropout_e(E[x_t])                    (T, B, D_e); E[pad] = 0
    y_t    = stack(e_t, ...)                      (T, B, D*H), read up to each L_b (both directions)
    p_b    = pool(y, L)_b                         last state, mean or max over t < L_b
    z_b    = dropout(p_b) W^T + c                 (B, C) class scores

trained with softmax cross-entropy on z. Padding never changes a sequence's
scores: the recurrence stops at L_b and the pooling looks only at t < L_b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.linear import Linear
from rnnkit.layers.pooling import POOLINGS, make_pooling
from rnnkit.models.char_lm import RECURRENT_LAYERS
from rnnkit.models.json_config import (JsonConfig, check_positive_ints, check_probability, check_size_from_data,
                                       require_size_from_data)
from rnnkit.module import Module


@dataclass
class ClassifierConfig(JsonConfig):
    vocab_size: int = 0                  # 0 until the training texts are read
    num_classes: int = 2
    cell: str = "lstm"
    embedding_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    pooling: str = "max"                 # last | mean | max
    dropout: float = 0.5                 # before the output layer, and between recurrent layers
    embedding_dropout: float = 0.0       # on the embedded tokens

    def __post_init__(self):
        if self.cell not in RECURRENT_LAYERS:
            raise ConfigError(f"unknown `cell` {self.cell!r}: choose one of {', '.join(RECURRENT_LAYERS)}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown `pooling` {self.pooling!r}: choose one of {', '.join(POOLINGS)}")
        check_size_from_data(self, "vocab_size")
        check_positive_ints(self, "num_classes", "embedding_dim", "hidden_size", "num_layers")
        if self.num_classes < 2:
            raise ConfigError(f"`num_classes` must be at least 2, got {self.num_classes}")
        check_probability("dropout", self.dropout)
        check_probability("embedding_dropout", self.embedding_dropout)


class SequenceClassifier(Module):
    """``logits = model(ids, lengths)`` (B, C); ``model.backward(dlogits)`` accumulates every gradient."""

    def __init__(self, config: ClassifierConfig, dtype=np.float32, rng=None):
        super().__init__()
        require_size_from_data(config, "vocab_size")
        self.config = config
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(rng)
        directions = 2 if config.bidirectional else 1
        self.embedding = Embedding(config.vocab_size, config.embedding_dim, padding_idx=0, dtype=dtype, rng=rng)
        self.embedding_dropout = Dropout(config.embedding_dropout, rng=rng)
        self.rnn = RECURRENT_LAYERS[config.cell](
            config.embedding_dim, config.hidden_size, config.num_layers, dropout=config.dropout,
            bidirectional=config.bidirectional, dtype=dtype, rng=rng)
        self.pooling = make_pooling(config.pooling, directions)
        self.dropout = Dropout(config.dropout, rng=rng)
        self.output = Linear(directions * config.hidden_size, config.num_classes, dtype=dtype, rng=rng)

    def forward(self, ids: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """ids (T, B) padded token ids, lengths (B,) -> logits (B, C)."""
        if ids.ndim != 2:
            raise ValueError(f"ids must be a (T, B) array of token ids, got shape {ids.shape}")
        inputs = self.embedding_dropout(self.embedding(ids))
        hidden, _ = self.rnn(inputs, None, lengths=lengths)
        return self.output(self.dropout(self.pooling(hidden, lengths)))

    def backward(self, dlogits: np.ndarray) -> None:
        dhidden = self.pooling.backward(self.dropout.backward(self.output.backward(dlogits)))
        dinputs, _ = self.rnn.backward(dhidden)
        self.embedding.backward(self.embedding_dropout.backward(dinputs))
