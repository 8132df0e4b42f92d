"""The language model of characters or words: Embedding -> RNN/LSTM/GRU/minGRU/minLSTM stack -> Linear.

    e_t      = E[x_t]                         (or one-hot(x_t) when embedding_dim = 0: ``OneHot``)
    h_t      = stack(e_t, h_{t-1})            num_layers of the chosen cell
    logits_t = dropout(h_t) W_out^T + b_out   scores of the next character

Trained with softmax cross-entropy against x_{t+1}; the hidden state is carried
from one batch to the next (truncated BPTT), so ``forward`` takes and returns it.
The tokens x_t are characters or words: the model sees only ids below ``vocab_size``.

``init_range`` r > 0 draws every parameter from U(-r, r) after the layers' own
initialisation (Zaremba et al. 2014 use r = 0.1 for all weights and biases); 0 keeps
the layers' initialisation (older run specs load with 0).

Regularisers, all off by default (older run specs load with them off):
``embedding_dropout`` drops whole tokens of E (``rnnkit.layers.embedding``);
``input_dropout``, ``locked_dropout``, ``output_dropout``, ``recurrent_dropout``,
``weight_dropout``, ``zoneout_h``, ``zoneout_c`` are the stack's options
(``rnnkit.layers.regularisers``); ``tie_weights`` makes W_out = E (Press & Wolf 2017,
``rnnkit.layers.linear.TiedLinear``; needs ``embedding_dim`` = ``hidden_size``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit import kernels
from rnnkit.errors import ConfigError
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding, OneHot, check_indices
from rnnkit.layers.linear import Linear, TiedLinear
from rnnkit.layers.min_rnn import MinGRU, MinLSTM
from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.models.json_config import (JsonConfig, check_positive_ints, check_probability, check_size_from_data,
                                       require_size_from_data)
from rnnkit.module import Module

RECURRENT_LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN, "mingru": MinGRU, "minlstm": MinLSTM}
STACK_REGULARISERS = ("input_dropout", "locked_dropout", "output_dropout", "recurrent_dropout", "weight_dropout",
                      "zoneout_h", "zoneout_c")


@dataclass
class CharLMConfig(JsonConfig):
    vocab_size: int = 0              # 0 until the corpus is read
    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 2
    embedding_dim: int = 64          # 0: one-hot input, as min-char-rnn and char-rnn
    dropout: float = 0.0
    layer_norm: bool = False         # layer-normalised LSTM or GRU cells (Ba et al. 2016); older specs: False
    # the stack's regularisers (rnnkit.layers.regularisers), each a probability in [0, 1); older specs: 0
    input_dropout: float = 0.0       # one mask per sequence on the embeddings entering the stack
    locked_dropout: float = 0.0      # one mask per sequence between layers (instead of `dropout`'s there)
    output_dropout: float = 0.0      # one mask per sequence on the stack's output
    recurrent_dropout: float = 0.0   # one mask per sequence on h_{t-1} where W_hh reads it
    weight_dropout: float = 0.0      # DropConnect on W_hh, one mask per batch
    zoneout_h: float = 0.0           # zoneout of h
    zoneout_c: float = 0.0           # zoneout of the LSTM's c
    embedding_dropout: float = 0.0   # whole tokens of the embedding dropped, one mask per batch
    tie_weights: bool = False        # decoder weight = embedding weight (embedding_dim = hidden_size)
    init_range: float = 0.0          # > 0: every parameter ~ U(-init_range, init_range); 0: the layers' own init

    def __post_init__(self):
        if self.cell not in RECURRENT_LAYERS:
            raise ConfigError(f"unknown `cell` {self.cell!r}: choose one of {', '.join(RECURRENT_LAYERS)}")
        check_size_from_data(self, "vocab_size")
        check_positive_ints(self, "hidden_size", "num_layers")
        if not isinstance(self.embedding_dim, int) or self.embedding_dim < 0:
            raise ConfigError(f"`embedding_dim` must be 0 (one-hot) or positive, got {self.embedding_dim!r}")
        check_probability("dropout", self.dropout)
        if not isinstance(self.layer_norm, bool):
            raise ConfigError(f"`layer_norm` must be true or false, got {self.layer_norm!r}")
        if self.layer_norm and self.cell not in ("lstm", "gru"):
            raise ConfigError(f"`layer_norm` is for the lstm and gru cells, not {self.cell!r}")
        self._check_regularisers()
        if isinstance(self.init_range, bool) or not isinstance(self.init_range, (int, float)) or not (
                0 <= self.init_range < float("inf")):
            raise ConfigError(f"`init_range` must be a finite number >= 0 (0: each layer's own initialisation), "
                              f"got {self.init_range!r}")

    def stack_regularisers(self) -> dict[str, float]:
        """The stack's regularisers that are on, as the recurrent layer's keyword arguments."""
        return {name: getattr(self, name) for name in STACK_REGULARISERS if getattr(self, name)}

    def _check_regularisers(self) -> None:
        for name in (*STACK_REGULARISERS, "embedding_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"`{name}` must be a number in [0, 1), got {value!r}")
            check_probability(name, value)
        if not isinstance(self.tie_weights, bool):
            raise ConfigError(f"`tie_weights` must be true or false, got {self.tie_weights!r}")
        on = self.stack_regularisers()
        if on and self.cell not in ("lstm", "gru", "rnn"):
            raise ConfigError(f"`{next(iter(on))}` is for the lstm, gru and rnn cells, not {self.cell!r}")
        if self.zoneout_c and self.cell != "lstm":
            raise ConfigError(f"`zoneout_c` zones out the LSTM's cell state: the {self.cell} cell has none")
        if self.recurrent_dropout and self.layer_norm:
            raise ConfigError("`recurrent_dropout` is not implemented for `layer_norm` cells")
        if self.locked_dropout and self.dropout:
            raise ConfigError("`dropout` and `locked_dropout` both drop between layers: set one of them to 0")
        if self.embedding_dropout and not self.embedding_dim:
            raise ConfigError("`embedding_dropout` drops rows of a learned embedding: `embedding_dim` is 0 (one-hot)")
        if self.tie_weights and self.embedding_dim != self.hidden_size:
            raise ConfigError(f"`tie_weights` needs `embedding_dim` = `hidden_size`, got {self.embedding_dim} "
                              f"and {self.hidden_size}")


class CharLM(Module):
    """Next-character model. ``logits, state = model(ids, state)``; ``model.backward(dlogits)``."""

    def __init__(self, config: CharLMConfig, dtype=np.float32, rng=None):
        super().__init__()
        require_size_from_data(config, "vocab_size")
        self.config = config
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(rng)
        if config.embedding_dim:
            self.embedding = Embedding(config.vocab_size, config.embedding_dim, dtype=dtype, rng=rng,
                                       embedding_dropout=config.embedding_dropout)
        else:
            self.embedding = OneHot(config.vocab_size, dtype=dtype)          # no parameters
        layer_norm = {"layer_norm": True} if config.layer_norm else {}
        self.rnn = RECURRENT_LAYERS[config.cell](
            self.embedding.embedding_dim, config.hidden_size, config.num_layers, dropout=config.dropout,
            dtype=dtype, rng=rng, **layer_norm, **config.stack_regularisers())
        self.dropout = Dropout(config.dropout, rng=rng)
        if config.tie_weights:
            self.decoder = TiedLinear(self.embedding, rng=rng)                # W_out = E: no weight of its own
        else:
            self.decoder = Linear(config.hidden_size, config.vocab_size, dtype=dtype, rng=rng)
        if config.init_range:
            self.init_uniform(config.init_range, rng)

    def init_uniform(self, init_range: float, rng: np.random.Generator) -> None:
        """Every parameter ~ U(-init_range, init_range), drawn in ``parameters()`` order (a tied weight once)."""
        for value in self.parameters().values():
            value[...] = rng.uniform(-init_range, init_range, value.shape)

    def forward(self, ids: np.ndarray, state=None):
        """ids (T, B) ints -> logits (T, B, V) and the final recurrent state."""
        hidden, state = self.rnn(self.embedding(ids), state)
        return self.decoder(self.dropout(hidden)), state

    def stepper(self, state=None, batch: int = 1) -> CharStepper:
        """``forward`` one character at a time, for generation: see ``CharStepper``."""
        return CharStepper(self, state, batch)

    def backward(self, dlogits: np.ndarray) -> None:
        """Accumulate every parameter's gradient; the carried state gets none (truncated BPTT)."""
        dhidden = self.dropout.backward(self.decoder.backward(dlogits))
        dinputs, _ = self.rnn.backward(dhidden)
        self.embedding.backward(dinputs)


class CharStepper:
    """One character at a time, for sampling: ``logits = stepper(ids)``, ids (B,) -> (B, V).

    The first layer's input projection of every character is a table, made once:

        table[v] = e_v W_ih^T + b_ih + b_hh        (E W_ih^T + b; one-hot input: W_ih^T + b)

    so a step reads a row of it instead of an embedding and a product. The rest is
    a ``Stepper`` over the recurrent stack and the decoder. The table holds the
    weights as they were when the stepper was made: make a new one after training.
    """

    MAX_TABLE_ENTRIES = 1 << 22      # 16 MB of float32; a larger vocabulary projects per step

    def __init__(self, model: CharLM, state=None, batch: int = 1):
        self.model = model
        self.recurrent = model.rnn.stepper(state, batch)
        params = model.rnn.cell_parameters(0)
        weight_ih = params["weight_ih"]
        self.table = None
        if model.config.vocab_size * weight_ih.shape[0] <= self.MAX_TABLE_ENTRIES:
            self.table = model.embedding.project(weight_ih) + model.rnn.cell.input_bias(params)  # (V, gates*H)

    def __call__(self, ids) -> np.ndarray:
        ids = check_indices(ids, self.model.config.vocab_size, name="ids")
        if self.table is not None:
            hidden = self.recurrent.from_projection(self.table[ids])
        else:
            hidden = self.recurrent(self.model.embedding.lookup(ids))
        decoder = self.model.decoder                         # its forward, without keeping x for backward
        if self.recurrent.compiled:                          # no NumPy product between compiled steps
            logits = np.empty((hidden.shape[0], decoder.weight.shape[0]), hidden.dtype)
            kernels.load("products").project(hidden, decoder.weight, logits)
        else:
            logits = np.dot(hidden, decoder.weight.T)
        if decoder.bias is not None:
            logits += decoder.bias
        return logits

    def sampler(self, temperature: float):
        """``draw(token, uniforms) -> ids``: feed ``token``, draw an id from softmax(logits / temperature) with
        ``uniforms[0]``, feed it, draw the next with ``uniforms[1]``, ...; all in one compiled call
        (``rnnkit.kernels.sampling.lstm_sample_run``), the arithmetic of ``self([token])`` and ``next_id``.
        None where that call cannot run: without the compiled stack step (``Stepper.compiled``) or the
        table, or for a batch of more than one."""
        if not (self.recurrent.compiled and self.table is not None and self.recurrent.batch == 1):
            return None
        decoder, dtype = self.model.decoder, self.table.dtype
        bias = decoder.bias if decoder.bias is not None else np.zeros(decoder.weight.shape[0], dtype)
        logits = np.empty((1, decoder.weight.shape[0]), dtype)
        arguments = (self.recurrent.kernel_arguments, self.recurrent.top_hidden, decoder.weight, bias, logits,
                     float(temperature))
        kernel = kernels.load("sampling").lstm_sample_run

        def draw(token: int, uniforms: np.ndarray) -> np.ndarray:
            ids = np.empty(len(uniforms), np.int64)
            kernel(self.table, token, *arguments, uniforms, ids)
            return ids
        return draw

    @property
    def state(self):
        return self.recurrent.state
