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

Without input feeding the decoder's states do not depend on the attention, so the
decoder runs as one ``RecurrentLayer`` call over all T steps and attends once for
all of them. With input feeding step t needs h~_{t-1}, so the decoder stack runs
one step at a time (``_FeedingLoop``), through the same cells and parameters.

Sizes: ``hidden_size`` H is the encoder's output size (each direction H/2 when
bidirectional, as OpenNMT's), the decoder's state and h~; tied embeddings need
``embedding_dim`` = H. The source embedding keeps row <pad> at zero; the target
embedding needs none (padding comes after a target ends, where nothing is learned).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit import kernels
from rnnkit.cells.base import CellCache
from rnnkit.errors import ConfigError
from rnnkit.layers.attention import FORMS, Attention, AttentionCache, Memory, MemoryGrad
from rnnkit.layers.dropout import Dropout, dropout_mask
from rnnkit.layers.embedding import Embedding, check_indices
from rnnkit.layers.linear import Linear
from rnnkit.layers.recurrent import GRU, LSTM
from rnnkit.layers.time_loop import loop_threads
from rnnkit.models.json_config import (JsonConfig, check_positive_ints, check_probability, check_size_from_data,
                                       require_size_from_data)
from rnnkit.module import Module

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3          # the special tokens of both vocabularies
CELLS = {"lstm": LSTM, "gru": GRU}
BRIDGES = ("linear", "zeros")


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
    attention: str = "general"           # additive | dot | general
    attention_size: int = 0              # the additive form's hidden size; 0: hidden_size
    input_feeding: bool = True
    tied_embeddings: bool = False        # output weights = target embeddings (embedding_dim = hidden_size)
    label_smoothing: float = 0.0
    dropout: float = 0.2                 # on embeddings, between stacked layers, before the output layer

    def __post_init__(self):
        for name, value, choices in (("cell", self.cell, CELLS), ("bridge", self.bridge, BRIDGES),
                                     ("attention", self.attention, FORMS)):
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


@dataclass(frozen=True)
class TranslationBatch:
    """A padded batch of sentence pairs, time-major, padded with ``PAD_ID``."""

    source: np.ndarray             # (S, B) source ids
    source_lengths: np.ndarray     # (B,)
    target_inputs: np.ndarray      # (T, B): <bos> y_1 .. y_n
    target_outputs: np.ndarray     # (T, B): y_1 .. y_n <eos>

    @property
    def target_mask(self) -> np.ndarray:
        """(T, B): True on the target tokens (the <eos> included), False on padding."""
        return self.target_outputs != PAD_ID

    @property
    def target_tokens(self) -> int:
        return int(np.count_nonzero(self.target_mask))


@dataclass(frozen=True)
class EncodedSource:
    """The encoder's work for a batch, as the decoder reads it: the attention's memory and the initial state."""

    memory: Memory
    initial_state: list[np.ndarray] | None    # per state (h, c), (num_layers, B, H); None: zeros


@dataclass
class DecoderCache:
    """What the decoder's backward reads of one forward: its attention and combine steps."""

    combined: np.ndarray                   # (T, B, 2H): [c_t; s_t]
    attentional: np.ndarray                # (T, B, H): h~_t
    attention: list[AttentionCache]        # one per call: a single one for all steps, or one per step
    feeding: _FeedingCache | None          # the stepped decoder's own cache, with input feeding


@dataclass
class Seq2SeqCache:
    """What ``Seq2Seq.backward`` reads of the last ``forward``."""

    encoded: EncodedSource
    decoder: DecoderCache
    output_input: np.ndarray               # (T, B, H): dropout(h~), the output layer's input


class Seq2Seq(Module):
    """``logits = model(source, source_lengths, target_inputs)`` (T, B, V); ``model.backward(dlogits)``."""

    def __init__(self, config: Seq2SeqConfig, dtype=np.float32, rng=None):
        super().__init__()
        require_size_from_data(config, "source_vocab_size")
        require_size_from_data(config, "target_vocab_size")
        self.config, self.dtype = config, np.dtype(dtype)
        rng = np.random.default_rng(rng)
        E, H, p = config.embedding_dim, config.hidden_size, config.dropout
        directions = 2 if config.bidirectional else 1
        recurrent = CELLS[config.cell]
        self.source_embedding = Embedding(config.source_vocab_size, E, padding_idx=PAD_ID, dtype=dtype, rng=rng)
        self.source_dropout = Dropout(p, rng=rng)
        self.encoder = recurrent(E, H // directions, config.num_layers, dropout=p,
                                 bidirectional=config.bidirectional, dtype=dtype, rng=rng)
        if config.bridge == "linear":
            self.bridge_h = Linear(H, H, dtype=dtype, rng=rng)
            if config.cell == "lstm":
                self.bridge_c = Linear(H, H, dtype=dtype, rng=rng)
        self.target_embedding = Embedding(config.target_vocab_size, E, dtype=dtype, rng=rng)
        self.target_dropout = Dropout(p, rng=rng)
        self.decoder = recurrent(E + (H if config.input_feeding else 0), H, config.num_layers, dropout=p,
                                 dtype=dtype, rng=rng)
        self.attention = Attention(config.attention, H, H, config.attention_size, dtype=dtype, rng=rng)
        self.combine = Linear(2 * H, H, bias=False, dtype=dtype, rng=rng)     # W_c; its forward is ours
        self.output_dropout = Dropout(p, rng=rng)
        if config.tied_embeddings:
            bound = 1.0 / np.sqrt(H)
            self.register_parameter("output_bias", rng.uniform(-bound, bound, config.target_vocab_size).astype(dtype))
        else:
            self.output = Linear(H, config.target_vocab_size, dtype=dtype, rng=rng)
        self._cache: Seq2SeqCache | None = None

    # -- forward --------------------------------------------------------------------------------
    def forward(self, source: np.ndarray, source_lengths: np.ndarray, target_inputs: np.ndarray) -> np.ndarray:
        """Source ids (S, B), their lengths (B,), target inputs (T, B) -> logits (T, B, V)."""
        if target_inputs.ndim != 2 or target_inputs.shape[1] != source.shape[1]:
            raise ValueError(f"target_inputs: expected shape (T, {source.shape[1]}) (source's batch), "
                             f"got {target_inputs.shape}")
        encoded = self.encode(source, source_lengths)
        embedded = self.target_dropout(self.target_embedding(target_inputs))
        if self.config.input_feeding:
            decoder = _FeedingLoop(self).forward(embedded, encoded)
        else:
            decoder = self._decode_all_steps(embedded, encoded)
        output_input = self.output_dropout(decoder.attentional)
        self._cache = Seq2SeqCache(encoded, decoder, output_input)
        return self.output_logits(output_input)     # backward needs only its input, kept above

    def encode(self, source: np.ndarray, source_lengths: np.ndarray) -> EncodedSource:
        """The encoder and the bridge: the memory the attention reads and the decoder's initial state."""
        if source.ndim != 2:
            raise ValueError(f"source must be a (S, B) array of token ids, got shape {source.shape}")
        values, finals = self.encoder(self.source_dropout(self.source_embedding(source)), None, source_lengths)
        return EncodedSource(self.attention.memory(values, source_lengths), self._bridge(finals))

    def _bridge(self, finals) -> list[np.ndarray] | None:
        """s0 = tanh(f W_b^T + b_b) per state, f (num_layers, B, H) the encoder's layers, directions joined."""
        if self.config.bridge == "zeros":
            return None
        finals = finals if isinstance(finals, tuple) else (finals,)
        return [np.tanh(bridge(join_directions(final, self.encoder.num_directions)))
                for bridge, final in zip(self._bridges(), finals)]

    def _bridges(self) -> list[Linear]:
        return [self.bridge_h, self.bridge_c] if self.config.cell == "lstm" else [self.bridge_h]

    def _decode_all_steps(self, embedded: np.ndarray, encoded: EncodedSource) -> DecoderCache:
        """Without input feeding: the decoder stack over all T steps, then attention for all of them."""
        initial = None if encoded.initial_state is None else self.decoder.pack_state(encoded.initial_state)
        states, _ = self.decoder(embedded, initial)
        context, _, attention = self.attention(states, encoded.memory)
        combined, attentional = self.attend_and_combine(context, states)
        return DecoderCache(combined, attentional, [attention], None)

    def attend_and_combine(self, context: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[c; s] and h~ = tanh([c; s] W_c^T), for (..., H) contexts and states."""
        combined = np.concatenate([context, states], axis=-1)
        return combined, np.tanh(combined @ self.combine.weight.T)

    def output_logits(self, attentional: np.ndarray) -> np.ndarray:
        """z = h~ W_o^T + b_o (..., V); keeps nothing for backward. The bias is added in place: (T B, V)
        is the step's largest array, and a second one would cost its allocation again."""
        if self.config.tied_embeddings:
            logits = attentional @ self.target_embedding.weight.T
            logits += self._parameters["output_bias"]
            return logits
        logits = attentional @ self.output.weight.T
        logits += self.output.bias
        return logits

    # -- backward -------------------------------------------------------------------------------
    def backward(self, dlogits: np.ndarray) -> None:
        """Accumulate every parameter's gradient from dL/dlogits (T, B, V)."""
        cache = self._cache
        if cache is None:
            raise RuntimeError("Seq2Seq.backward called before forward")
        dattentional = self.output_dropout.backward(self._output_backward(dlogits, cache.output_input))
        dmemory = MemoryGrad.zeros_like(cache.encoded.memory)
        if self.config.input_feeding:
            dembedded, dinitial = _FeedingLoop(self).backward(cache.decoder, dattentional, dmemory)
        else:
            dembedded, dinitial = self._decode_all_steps_backward(dattentional, cache.decoder, dmemory)
        self.target_embedding.backward(self.target_dropout.backward(dembedded))
        dfinals = self._bridge_backward(dinitial, cache.encoded.initial_state)
        dvalues = self.attention.memory_backward(cache.encoded.memory, dmemory)
        dsource, _ = self.encoder.backward(dvalues, dfinals)
        self.source_embedding.backward(self.source_dropout.backward(dsource))

    def _output_backward(self, dlogits: np.ndarray, output_input: np.ndarray) -> np.ndarray:
        """dz -> d dropout(h~); adds dW_o (into the target embedding's gradient when tied) and db_o."""
        dlogits_flat = dlogits.reshape(-1, dlogits.shape[-1])
        dweight = dlogits_flat.T @ output_input.reshape(-1, output_input.shape[-1])
        if self.config.tied_embeddings:
            self.target_embedding.grads["weight"] += dweight
            self._grads["output_bias"] += dlogits_flat.sum(axis=0)
            return dlogits @ self.target_embedding.weight
        self.output.grads["weight"] += dweight
        self.output.grads["bias"] += dlogits_flat.sum(axis=0)
        return dlogits @ self.output.weight

    def combine_backward(self, dattentional: np.ndarray, attentional: np.ndarray):
        """dh~ -> (dp, dc, ds) through h~ = tanh(p), p = [c; s] W_c^T; dW_c is ``combine_weight_grad``'s."""
        dpre = dattentional * (1.0 - attentional * attentional)
        dcombined = dpre @ self.combine.weight
        H = self.config.hidden_size
        return dpre, dcombined[..., :H], dcombined[..., H:]

    def combine_weight_grad(self, dpre: np.ndarray, combined: np.ndarray) -> None:
        """dW_c += sum dp^T [c; s], over every step at once."""
        self.combine.grads["weight"] += dpre.reshape(-1, dpre.shape[-1]).T @ combined.reshape(-1, combined.shape[-1])

    def _decode_all_steps_backward(self, dattentional, cache: DecoderCache, dmemory: MemoryGrad):
        dpre, dcontext, dstates = self.combine_backward(dattentional, cache.attentional)
        self.combine_weight_grad(dpre, cache.combined)
        dstates = dstates + self.attention.backward(dcontext, cache.attention[0], dmemory)
        dembedded, dinitial = self.decoder.backward(dstates)
        return dembedded, list(dinitial) if isinstance(dinitial, tuple) else [dinitial]

    def _bridge_backward(self, dinitial: list[np.ndarray], initial: list[np.ndarray] | None):
        """ds0 per state -> the gradient of the encoder's final states, in its own form (None: zeros bridge)."""
        if initial is None:
            return None
        directions = self.encoder.num_directions
        dfinals = [split_directions(bridge.backward(dstate * (1.0 - state * state)), directions)
                   for bridge, dstate, state in zip(self._bridges(), dinitial, initial)]
        return self.encoder.pack_state(dfinals)

    # -- loss -----------------------------------------------------------------------------------
    def loss(self, logits: np.ndarray, batch: TranslationBatch) -> tuple[float, np.ndarray]:
        """The training loss of ``forward``'s logits on ``batch`` (the config's label smoothing), and dL/dlogits."""
        return label_smoothed_cross_entropy(logits, batch.target_outputs, batch.target_mask,
                                            self.config.label_smoothing)

    def stepper(self, source: np.ndarray, source_lengths: np.ndarray, repeats: int = 1) -> TranslationStepper:
        """The decoder one target token at a time, for decoding: see ``TranslationStepper``."""
        return TranslationStepper(self, source, source_lengths, repeats)


class TranslationStepper:
    """The decoder one target token at a time, for decoding a batch of source sentences.

        stepper = model.stepper(source, lengths, repeats=k)   # encodes once; each sentence on k rows
        logits = stepper(ids)          # the last tokens (R,) -> scores of the next ones (R, V)
        stepper.attention              # (R, S): the step's attention weights a_t
        stepper.select(rows)           # keep rows (R',) of the state: beams reordered, sentences dropped

    A step is ``Seq2Seq.forward`` for one token in evaluation mode, keeping nothing for
    backward: i_t = E_tgt[y_{t-1}] (with input feeding [i_t; h~_{t-1}]) through the
    decoder stack's ``Stepper``, then attention, combine and output. Row r decodes source
    sentence ``sentences[r]``. Use it with the model in evaluation mode (the decoding
    functions do), and not between a ``forward`` and its ``backward``: encoding
    overwrites the encoder's cache.
    """

    def __init__(self, model: Seq2Seq, source: np.ndarray, source_lengths: np.ndarray, repeats: int = 1):
        self.model = model
        self.encoded = model.encode(source, source_lengths)
        self.sentences = np.repeat(np.arange(source.shape[1]), repeats)
        self.memory = self.encoded.memory.take(self.sentences)
        initial = self.encoded.initial_state
        state = None if initial is None else model.decoder.pack_state([s[:, self.sentences] for s in initial])
        self.recurrent = model.decoder.stepper(state, batch=len(self.sentences))
        rows, H = len(self.sentences), model.config.hidden_size
        self.feed = np.zeros((rows, H), model.dtype) if model.config.input_feeding else None
        self.attention: np.ndarray | None = None

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        model = self.model
        inputs = model.target_embedding.lookup(check_indices(ids, model.config.target_vocab_size, name="ids"))
        if self.feed is not None:
            inputs = np.concatenate([inputs, self.feed], axis=1)
        state = self.recurrent(inputs)
        context, weights, _ = model.attention(state[None], self.memory)
        _, attentional = model.attend_and_combine(context[0], state)
        self.attention = weights[0]
        if self.feed is not None:
            self.feed = attentional
        return model.output_logits(attentional)

    def select(self, rows: np.ndarray) -> None:
        """Keep rows ``rows`` of the decoder's state, in that order (a row may come twice)."""
        decoder = self.model.decoder
        state = self.recurrent.state
        chosen = [s[:, rows] for s in (state if isinstance(state, tuple) else (state,))]
        self.recurrent = decoder.stepper(decoder.pack_state(chosen), batch=len(rows))
        sentences = self.sentences[rows]
        if not np.array_equal(sentences, self.sentences):
            self.memory = self.encoded.memory.take(sentences)
        self.sentences = sentences
        if self.feed is not None:
            self.feed = self.feed[rows]


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


def label_smoothed_cross_entropy(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray,
                                 smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """Cross-entropy against targets smoothed by eps = ``smoothing``, mean over the unmasked positions.

        q_n = (1 - eps) onehot(y_n) + eps / V          l_n = -sum_v q_n,v log p_n,v
        L   = sum_n w_n l_n                            w_n = m_n / N,  N = sum_n m_n   (L = 0 when N = 0)
        dL/dz_n = w_n (p_n - q_n)

    which is PyTorch's ``cross_entropy(label_smoothing=eps)``; eps = 0 is the plain cross-entropy.
    With log p_n,v = z_n,v - M_n - log S_n (M_n = max_v z_n,v, S_n = sum_v exp(z_n,v - M_n)),
    l_n = log S_n - (1 - eps) (z_n,y - M_n) - eps mean_v (z_n,v - M_n). The (N, V) passes run
    in the logits' dtype (a float32 model's loss costs what PyTorch's does); the sums over
    positions in float64.
    """
    if logits.shape[:-1] != targets.shape or mask.shape != targets.shape:
        raise ValueError(f"targets and mask: expected shape {logits.shape[:-1]} (logits' without the class axis), "
                         f"got {targets.shape} and {mask.shape}")
    vocab = logits.shape[-1]
    weights = mask.astype(np.float64) / max(int(np.count_nonzero(mask)), 1)       # w_n
    targets = np.where(mask, targets, 0)[..., None]
    shifted = logits - logits.max(axis=-1, keepdims=True)                         # z - M
    target_shifted = np.take_along_axis(shifted, targets, axis=-1)[..., 0].astype(np.float64)
    mean_shifted = shifted.mean(axis=-1, dtype=np.float64)
    exps = np.exp(shifted, out=shifted)
    sums = exps.sum(axis=-1, dtype=np.float64)                                    # S
    losses = np.log(sums) - (1.0 - smoothing) * target_shifted - smoothing * mean_shifted
    loss = float(np.sum(weights * losses))
    grad = exps                                                                   # exp(z - M), then w (p - q)
    grad *= (weights / sums).astype(grad.dtype)[..., None]
    if smoothing:
        grad -= (weights * (smoothing / vocab)).astype(grad.dtype)[..., None]
    target_grad = np.take_along_axis(grad, targets, axis=-1)
    np.put_along_axis(grad, targets, target_grad - (weights * (1.0 - smoothing)).astype(grad.dtype)[..., None], axis=-1)
    return loss, grad


@dataclass
class _FeedingCache:
    """What the stepped decoder's backward reads: per layer its inputs and cell buffers."""

    inputs: list[np.ndarray]              # per layer (T, B, I_k): what the layer read, [i_t; h~_{t-1}] for layer 0
    cells: list[CellCache]                # per layer: the cell's buffers (states, gates)
    dropout_masks: list[np.ndarray]       # per gap between layers (T, B, H), in training with dropout; else empty


class _FeedingLoop:
    """The decoder with input feeding, one step at a time through the decoder stack's own cells.

    Per step t: layer 0 reads [i_t; h~_{t-1}], layer k > 0 layer k-1's output (times its
    dropout mask); then attention and combine give h~_t. The cells' steps are those a
    ``RecurrentLayer`` runs (``kernels.step_strategy``); the weight gradients of W_ih are
    one product over all steps after the backward loop, as in ``layers/time_loop.py``.
    """

    def __init__(self, model: Seq2Seq):
        self.model, self.layer = model, model.decoder
        self.cell = self.layer.cell
        self.params = [self.layer.cell_parameters(k) for k in range(self.layer.num_layers)]
        self.steps = kernels.step_strategy(self.cell, self.layer.dtype)

    def forward(self, embedded: np.ndarray, encoded: EncodedSource) -> DecoderCache:
        model, cell, layer = self.model, self.cell, self.layer
        steps, batch, E = embedded.shape
        H = model.config.hidden_size
        cache = self._new_cache(steps, batch)
        initial = encoded.initial_state or [np.zeros((layer.num_layers, batch, size), layer.dtype)
                                            for size in cell.state_sizes]
        for k, cells in enumerate(cache.cells):
            for buffer, state in zip(cell.states(cells), initial):
                buffer[0] = state[k]
        cache.inputs[0][:, :, :E] = embedded
        combined = np.empty((steps, batch, 2 * H), layer.dtype)
        attentional = np.empty((steps, batch, H), layer.dtype)
        attention, feed = [], np.zeros((batch, H), layer.dtype)
        weights_hh_T = [self.steps.weight_hh_T(p) for p in self.params]
        with loop_threads(cell, batch):
            for t in range(steps):
                cache.inputs[0][t, :, E:] = feed
                state = self._stack_step(cache, weights_hh_T, t)
                context, _, step_attention = model.attention(state[None], encoded.memory)
                attention.append(step_attention)
                combined[t], attentional[t] = model.attend_and_combine(context[0], state)
                feed = attentional[t]
        return DecoderCache(combined, attentional, attention, cache)

    def _new_cache(self, steps: int, batch: int) -> _FeedingCache:
        """Buffers for T steps: each layer's inputs (layer 0: [i_t; h~_{t-1}], above: H) and its cell's."""
        layer = self.layer
        sizes = [layer.input_size] + [layer.hidden_size] * (layer.num_layers - 1)
        inputs = [np.empty((steps, batch, size), layer.dtype) for size in sizes]
        cells = [self.cell.allocate(steps, batch, layer.dtype) for _ in self.params]
        return _FeedingCache(inputs, cells, self._masks(steps, batch))

    def _masks(self, steps: int, batch: int) -> list[np.ndarray]:
        layer = self.layer
        if not (layer.training and layer.dropout > 0):
            return []
        return [dropout_mask(layer.rng, (steps, batch, layer.hidden_size), layer.dropout, layer.dtype,
                             uniform_dtype=np.float64) for _ in range(layer.num_layers - 1)]

    def _stack_step(self, cache: _FeedingCache, weights_hh_T: list[np.ndarray], t: int) -> np.ndarray:
        """Step t of every layer; returns the top layer's output s_t (B, H)."""
        for k, (params, cells) in enumerate(zip(self.params, cache.cells)):
            if k > 0:
                below = cache.cells[k - 1].h[t + 1]
                cache.inputs[k][t] = below * cache.dropout_masks[k - 1][t] if cache.dropout_masks else below
            xw = cache.inputs[k][t] @ params["weight_ih"].T + self.cell.input_bias(params)
            self.steps.forward(params, weights_hh_T[k], xw, cells, t)
        return cache.cells[-1].h[t + 1]

    def backward(self, decoder: DecoderCache, dattentional: np.ndarray, dmemory: MemoryGrad):
        """dh~ (T, B, H) -> (d i_t (T, B, E), ds0 per state); adds every decoder-side gradient."""
        model, cell, layer, cache = self.model, self.cell, self.layer, decoder.feeding
        steps, batch, H = dattentional.shape
        E = layer.input_size - H
        buffers = [cell.grad_buffers(steps, batch, layer.dtype) for _ in self.params]
        dstates = [[np.zeros((batch, size), layer.dtype) for size in cell.state_sizes] for _ in self.params]
        dpre = np.empty_like(dattentional)
        dembedded = np.empty((steps, batch, E), layer.dtype)
        dfeed = np.zeros((batch, H), layer.dtype)
        with loop_threads(cell, batch):
            for t in reversed(range(steps)):
                dpre[t], dcontext, dstate = model.combine_backward(dattentional[t] + dfeed,
                                                                   decoder.attentional[t])
                dstate = dstate + model.attention.backward(dcontext[None], decoder.attention[t], dmemory)[0]
                dinput = self._stack_step_backward(cache, buffers, dstates, dstate, t)
                dembedded[t], dfeed = dinput[:, :E], dinput[:, E:]
        model.combine_weight_grad(dpre, decoder.combined)
        self._weight_grads(cache, buffers)
        return dembedded, [np.stack([dstate[i] for dstate in dstates]) for i in range(len(cell.state_sizes))]

    def _stack_step_backward(self, cache: _FeedingCache, buffers, dstates, doutput: np.ndarray, t: int) -> np.ndarray:
        """Step t of every layer, top down, given ds_t; returns the gradient of layer 0's input (B, I_0)."""
        for k in reversed(range(len(self.params))):
            params, (dxw, dhw) = self.params[k], buffers[k]
            dstates[k][0] = dstates[k][0] + doutput
            dstates[k] = list(self.steps.backward(params, dstates[k], cache.cells[k], t, dxw, dhw))
            dinput = dxw[t] @ params["weight_ih"]
            doutput = dinput * cache.dropout_masks[k - 1][t] if k and cache.dropout_masks else dinput
        return dinput

    def _weight_grads(self, cache: _FeedingCache, buffers) -> None:
        """dW_ih += sum_t dxw_t^T x_t, db_ih, and the cell's hidden-weight gradients, per layer."""
        grads = self.layer.grads
        for k, (params, cells, inputs, (dxw, dhw)) in enumerate(zip(self.params, cache.cells, cache.inputs, buffers)):
            layer_grads = {name: grads[f"{name}_l{k}"] for name in params}
            layer_grads["weight_ih"] += dxw.reshape(-1, dxw.shape[-1]).T @ inputs.reshape(-1, inputs.shape[-1])
            layer_grads["bias_ih"] += dxw.sum(axis=(0, 1))
            self.cell.accumulate_hidden_grads(params, layer_grads, cells, dhw)
