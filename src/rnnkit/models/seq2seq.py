"""Sequence to sequence with attention: an encoder, a bridge, an attentional decoder (Luong et al. 2015).

For a padded batch of source ids x (S, B) with lengths L (B,), target inputs
y_in = <bos> y_1 .. y_n and outputs y_out = y_1 .. y_n <eos> (both (T, B), padded):

    encoder    h_j   = enc(dropout(E_src[x_j]))         (S, B, H): a bidirectional stack's
                                                         [forward; backward] halves, H/2 each
    bridge     s0_k  = tanh(f_k W_b^T + b_b)            f_k: the encoder's final state of layer k,
                                                         [forward; backward]; one (W_b, b_b) per state
                                                         (h, and c for an LSTM); or s0 = 0 ("zeros")
    decoder    s_t   = dec(i_t, s_{t-1})                i_t = dropout(E_tgt[y_in_t]), or with input feeding
                                                         [dropout(E_tgt[y_in_t]); h~_{t-1}], h~_{-1} = 0
    attention  c_t, a_t = attend(s_t; h_1 .. h_S)       ``rnnkit.layers.attention``, padding masked
    combine    h~_t  = tanh([c_t; s_t] W_c^T)           (B, H): the attentional state
    output     z_t   = dropout(h~_t) W_o^T + b_o        (B, V); W_o = E_tgt with tied embeddings

trained with ``label_smoothed_cross_entropy`` over the target tokens. Backward, from dz:

    dh~_t        = dropout'(dz_t W_o)  (+ the part of di_{t+1} that fed h~_t, with input feeding)
    dp_t         = dh~_t * (1 - h~_t^2)                 dW_c += dp_t^T [c_t; s_t]
    [dc_t; ds_t] = dp_t W_c                             ds_t += attention's backward of dc_t
    di_t, ds0    = the decoder's BPTT; dE_tgt from di_t (and from dz with tied embeddings)
    df_k         = (ds0_k * (1 - s0_k^2)) W_b           the bridge
    dh_j         = the attention's dvalues (keys' part included); then the encoder's BPTT and dE_src

``attention="none"`` (Sutskever et al. 2014, with Cho et al.'s bridge) drops the attention and
combine rows: h~_t = s_t, the decoder sees the source only through s0 (so it needs the
linear bridge and no input feeding), and the encoder's outputs h_j get no gradient but that
of its final states; it measures what attention adds.

The decoder (embedding, stack, attention, combine, output; the all-steps and the stepped
loops; the stepper) is ``rnnkit.models.decoder.ConditionedDecoder``, shared with the image
captioner: here it is conditioned by the bridge's s0 and the encoder's memory.

Sizes: ``hidden_size`` H is the encoder's output size (each direction H/2 when
bidirectional, as OpenNMT's), the decoder's state and h~; tied embeddings need
``embedding_dim`` = H. The source embedding keeps row <pad> at zero; the target
embedding needs none (padding comes after a target ends, where nothing is learned).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.layers.attention import FORMS, Memory
from rnnkit.layers.dropout import Dropout
from rnnkit.layers.embedding import Embedding
from rnnkit.layers.linear import Linear
from rnnkit.models.decoder import (  # noqa: F401  (the ids and the loss are imported from here too)
    BOS_ID,
    CELLS,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    ConditionedDecoder,
    DecoderStepper,
    Targets,
    label_smoothed_cross_entropy,
)
from rnnkit.models.json_config import (
    JsonConfig,
    check_positive_ints,
    check_probability,
    check_size_from_data,
    require_size_from_data,
)

BRIDGES = ("linear", "zeros")
NO_ATTENTION = "none"                    # the decoder reads the source only through the bridge's s0
ATTENTIONS = (*FORMS, NO_ATTENTION)


@dataclass
class Seq2SeqConfig(JsonConfig):
    source_vocab_size: int = 0           # 0 until the training pairs are read
    target_vocab_size: int = 0
    cell: str = "lstm"                   # lstm | gru, for encoder and decoder
    embedding_dim: int = 256
    hidden_size: int = 256               # encoder outputs (H/2 per direction), decoder states, h~
    num_layers: int = 1                  # of the encoder and of the decoder
    bidirectional: bool = True           # the encoder
    bridge: str = "linear"               # linear | zeros: the decoder's initial state
    attention: str = "general"           # additive | dot | general | none
    attention_size: int = 0              # the additive form's hidden size; 0: hidden_size
    input_feeding: bool = True
    tied_embeddings: bool = False        # output weights = target embeddings (embedding_dim = hidden_size)
    label_smoothing: float = 0.0
    dropout: float = 0.2                 # on embeddings, between stacked layers, before the output layer

    def __post_init__(self):
        for name, value, choices in (("cell", self.cell, CELLS), ("bridge", self.bridge, BRIDGES),
                                     ("attention", self.attention, ATTENTIONS)):
            if value not in choices:
                raise ConfigError(f"unknown `{name}` {value!r}: choose one of {', '.join(choices)}")
        check_size_from_data(self, "source_vocab_size")
        check_size_from_data(self, "target_vocab_size")
        check_positive_ints(self, "embedding_dim", "hidden_size", "num_layers")
        if not isinstance(self.attention_size, int) or self.attention_size < 0:
            raise ConfigError(f"`attention_size` must be 0 (hidden_size) or positive, got {self.attention_size!r}")
        if self.bidirectional and self.hidden_size % 2:
            raise ConfigError(f"`hidden_size` must be even with a bidirectional encoder (H/2 per direction), "
                              f"got {self.hidden_size}")
        if self.tied_embeddings and self.embedding_dim != self.hidden_size:
            raise ConfigError(f"`tied_embeddings` needs `embedding_dim` = `hidden_size`, got "
                              f"{self.embedding_dim} and {self.hidden_size}")
        check_probability("label_smoothing", self.label_smoothing)
        check_probability("dropout", self.dropout)
        if self.attention == NO_ATTENTION:
            if self.input_feeding:
                raise ConfigError("`input_feeding` feeds the attentional state h~: with `attention`='none' "
                                  "set `input_feeding` false")
            if self.bridge == "zeros":
                raise ConfigError("with `attention`='none' and `bridge`='zeros' the decoder never sees the "
                                  "source: choose the linear bridge")

    @property
    def attends(self) -> bool:
        return self.attention != NO_ATTENTION


@dataclass(frozen=True)
class TranslationBatch(Targets):
    """A padded batch of sentence pairs, time-major, padded with ``PAD_ID``."""

    source: np.ndarray             # (S, B) source ids
    source_lengths: np.ndarray     # (B,)
    target_inputs: np.ndarray      # (T, B): <bos> y_1 .. y_n
    target_outputs: np.ndarray     # (T, B): y_1 .. y_n <eos>


@dataclass(frozen=True)
class EncodedSource:
    """The encoder's work for a batch, as the decoder reads it: the attention's memory and the initial state."""

    memory: Memory | None                     # None without attention
    initial_state: list[np.ndarray] | None    # per state (h, c), (num_layers, B, H); None: zeros
    values_shape: tuple[int, ...]             # (S, B, H), the encoder's outputs h_j


class Seq2Seq(ConditionedDecoder):
    """``logits = model(source, source_lengths, target_inputs)`` (T, B, V); ``model.backward(dlogits)``."""

    def __init__(self, config: Seq2SeqConfig, dtype=np.float32, rng=None):
        super().__init__()
        require_size_from_data(config, "source_vocab_size")
        require_size_from_data(config, "target_vocab_size")
        self.config, self.dtype = config, np.dtype(dtype)
        rng = np.random.default_rng(rng)
        E, H, p = config.embedding_dim, config.hidden_size, config.dropout
        directions = 2 if config.bidirectional else 1
        self.source_embedding = Embedding(config.source_vocab_size, E, padding_idx=PAD_ID, dtype=dtype, rng=rng)
        self.source_dropout = Dropout(p, rng=rng)
        self.encoder = CELLS[config.cell](E, H // directions, config.num_layers, dropout=p,
                                          bidirectional=config.bidirectional, dtype=dtype, rng=rng)
        if config.bridge == "linear":
            self.bridge_h = Linear(H, H, dtype=dtype, rng=rng)
            if config.cell == "lstm":
                self.bridge_c = Linear(H, H, dtype=dtype, rng=rng)
        self.build_decoder(config.cell, config.target_vocab_size, E, H, config.num_layers, p, dtype, rng,
                           attention=config.attention if config.attends else None,
                           attention_size=config.attention_size,
                           input_feeding=config.input_feeding, tied_embeddings=config.tied_embeddings)
        self._encoded: EncodedSource | None = None

    # -- forward --------------------------------------------------------------------------------
    def forward(self, source: np.ndarray, source_lengths: np.ndarray, target_inputs: np.ndarray) -> np.ndarray:
        """Source ids (S, B), their lengths (B,), target inputs (T, B) -> logits (T, B, V)."""
        if target_inputs.ndim != 2 or target_inputs.shape[1] != source.shape[1]:
            raise ValueError(f"target_inputs: expected shape (T, {source.shape[1]}) (source's batch), "
                             f"got {target_inputs.shape}")
        encoded = self.encode(source, source_lengths)
        self._encoded = encoded
        return self.decode(target_inputs, encoded.initial_state, encoded.memory)

    def encode(self, source: np.ndarray, source_lengths: np.ndarray) -> EncodedSource:
        """The encoder and the bridge: the memory the attention reads and the decoder's initial state."""
        if source.ndim != 2:
            raise ValueError(f"source must be a (S, B) array of token ids, got shape {source.shape}")
        values, finals = self.encoder(self.source_dropout(self.source_embedding(source)), None, source_lengths)
        memory = self.attention.memory(values, source_lengths) if self.config.attends else None
        return EncodedSource(memory, self._bridge(finals), values.shape)

    def _bridge(self, finals) -> list[np.ndarray] | None:
        """s0 = tanh(f W_b^T + b_b) per state, f (num_layers, B, H) the encoder's layers, directions joined."""
        if self.config.bridge == "zeros":
            return None
        finals = finals if isinstance(finals, tuple) else (finals,)
        return [np.tanh(bridge(join_directions(final, self.encoder.num_directions)))
                for bridge, final in zip(self._bridges(), finals)]

    def _bridges(self) -> list[Linear]:
        return [self.bridge_h, self.bridge_c] if self.config.cell == "lstm" else [self.bridge_h]

    # -- backward -------------------------------------------------------------------------------
    def backward(self, dlogits: np.ndarray) -> None:
        """Accumulate every parameter's gradient from dL/dlogits (T, B, V)."""
        encoded = self._encoded
        if encoded is None:
            raise RuntimeError("Seq2Seq.backward called before forward")
        grads = self.decode_backward(dlogits)
        dfinals = self._bridge_backward(grads.initial_state, encoded.initial_state)
        if self.config.attends:
            dvalues = self.attention.memory_backward(encoded.memory, grads.memory)
        else:                                   # the outputs h_j reach nothing but the bridge's final states
            dvalues = np.zeros(encoded.values_shape, self.dtype)
        dsource, _ = self.encoder.backward(dvalues, dfinals)
        self.source_embedding.backward(self.source_dropout.backward(dsource))

    def _bridge_backward(self, dinitial: list[np.ndarray], initial: list[np.ndarray] | None):
        """ds0 per state -> the gradient of the encoder's final states, in its own form (None: zeros bridge)."""
        if initial is None:
            return None
        directions = self.encoder.num_directions
        dfinals = [split_directions(bridge.backward(dstate * (1.0 - state * state)), directions)
                   for bridge, dstate, state in zip(self._bridges(), dinitial, initial)]
        return self.encoder.pack_state(dfinals)

    def stepper(self, source: np.ndarray, source_lengths: np.ndarray, repeats: int = 1) -> TranslationStepper:
        """The decoder one target token at a time, for decoding: see ``TranslationStepper``."""
        return TranslationStepper(self, source, source_lengths, repeats)


class TranslationStepper(DecoderStepper):
    """The decoder one target token at a time, for decoding a batch of source sentences.

        stepper = model.stepper(source, lengths, repeats=k)   # encodes once; each sentence on k rows
        logits = stepper(ids)          # the last tokens (R,) -> scores of the next ones (R, V)
        stepper.attention              # (R, S): the step's attention weights a_t
        stepper.select(rows)           # keep rows (R',) of the state: beams reordered, sentences dropped

    A ``DecoderStepper`` conditioned by the encoded source: s0 from the bridge, the encoder's
    memory to attend over. Not for use between a ``forward`` and its ``backward``: encoding
    overwrites the encoder's cache.
    """

    def __init__(self, model: Seq2Seq, source: np.ndarray, source_lengths: np.ndarray, repeats: int = 1):
        self.encoded = model.encode(source, source_lengths)
        super().__init__(model, source.shape[1], repeats, self.encoded.initial_state, self.encoded.memory)


def join_directions(final: np.ndarray, directions: int) -> np.ndarray:
    """A stack's final state (num_layers*D, B, h) -> (num_layers, B, D*h): per layer [forward; backward]."""
    layers_directions, batch, size = final.shape
    by_direction = final.reshape(layers_directions // directions, directions, batch, size)
    return by_direction.transpose(0, 2, 1, 3).reshape(-1, batch, directions * size)


def split_directions(joined: np.ndarray, directions: int) -> np.ndarray:
    """The inverse of ``join_directions``: (num_layers, B, D*h) -> (num_layers*D, B, h)."""
    layers, batch, size = joined.shape
    by_direction = joined.reshape(layers, batch, directions, size // directions)
    return by_direction.transpose(0, 2, 1, 3).reshape(layers * directions, batch, size // directions)
