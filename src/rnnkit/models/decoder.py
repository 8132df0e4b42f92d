"""The decoder that writes a sentence one token at a time, conditioned on something it reads:
shared by translation (``Seq2Seq``: a source sentence) and captioning (``Captioner``: an image).

For target inputs y_in = <bos> y_1 .. y_n and outputs y_out = y_1 .. y_n <eos> (both (T, B),
padded), a model conditions the decoder by any of these: an initial state s_0 (per state
(num_layers, B, H); else zeros), an extra input u (B, X) read at every step, a first input
f (B, E) read at step 0 in place of <bos>'s embedding, and a memory h_1 .. h_S to attend over:

    input      i_t  = dropout(E[y_in_t]);  i_0 = f with a first input
               x_t  = [i_t; u] with an extra input (else i_t); [x_t; h~_{t-1}] with input feeding, h~_{-1} = 0
    recurrence s_t  = dec(x_t, s_{t-1})                 the stack (LSTM or GRU; dropout between layers)
    attention  c_t, a_t = attend(s_t; h_1 .. h_S)       ``rnnkit.layers.attention``, padding masked
    combine    h~_t = tanh([c_t; s_t] W_c^T)            with a memory; without one, h~_t = s_t
    output     z_t  = dropout(h~_t) W_o^T + b_o         (B, V); W_o = E with tied embeddings

trained with ``label_smoothed_cross_entropy`` over the target tokens. Backward, from dz:

    dh~_t        = dropout'(dz_t W_o)  (+ the part of dx_{t+1} that fed h~_t, with input feeding)
    with a memory: dp_t = dh~_t * (1 - h~_t^2),  dW_c += dp_t^T [c_t; s_t],  [dc_t; ds_t] = dp_t W_c,
                   ds_t += attention's backward of dc_t (which adds into the memory's gradient)
    without one:   ds_t = dh~_t
    dx_t, ds_0   = the stack's BPTT
    du = sum_t dx_t[u]      df = dx_0[i]      dE from dropout'(dx_t[i]) (from t >= 1 only, with f)

so the model gets back ds_0, du, df and the memory's gradient (``DecoderGrads``) and goes on
into whatever produced them (an encoder and bridge, an image projection).

Without input feeding the decoder's states do not depend on the attention, so the stack runs
as one ``RecurrentLayer`` call over all T steps and attends once for all of them. With input
feeding step t needs h~_{t-1}, so the stack runs one step at a time (``_FeedingLoop``), through
the same cells and parameters. Decoding runs the same equations one token at a time
(``DecoderStepper``), for greedy decoding, sampling and beam search (``rnnkit.models.decoding``).

The parameters keep the names a ``Seq2Seq`` always had: ``target_embedding``, ``decoder``,
``attention``, ``combine``, ``output`` (or ``output_bias`` with tied embeddings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit import kernels
from rnnkit.cells.base import CellCache
from rnnkit.layers.attention import Attention, AttentionCache, Memory, MemoryGrad
from rnnkit.layers.dropout import Dropout, dropout_mask
from rnnkit.layers.embedding import Embedding, check_indices
from rnnkit.layers.linear import Linear, matmul_rows
from rnnkit.layers.recurrent import GRU, LSTM
from rnnkit.layers.time_loop import loop_threads
from rnnkit.module import Module

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3          # the special tokens of every target vocabulary
CELLS = {"lstm": LSTM, "gru": GRU}


class Targets:
    """The target side of a padded, time-major batch, as the loss reads it (a mixin of batch dataclasses)."""

    target_outputs: np.ndarray     # (T, B): y_1 .. y_n <eos>, padded with PAD_ID

    @property
    def target_mask(self) -> np.ndarray:
        """(T, B): True on the target tokens (the <eos> included), False on padding."""
        return self.target_outputs != PAD_ID

    @property
    def target_tokens(self) -> int:
        return int(np.count_nonzero(self.target_mask))


@dataclass(frozen=True)
class DecoderLayout:
    """The decoder's sizes and switches, as ``ConditionedDecoder.build_decoder`` was given them."""

    vocab_size: int           # V
    embedding_dim: int        # E
    hidden_size: int          # H
    extra_size: int           # X, the extra input's size; 0: none
    attends: bool             # a memory to attend over (then h~ combines context and state)
    input_feeding: bool       # h~_{t-1} fed to step t (needs attention)
    tied_embeddings: bool     # W_o = E (needs E = H)

    @property
    def input_size(self) -> int:
        """The stack's input size: E + X (+ H with input feeding)."""
        return self.embedding_dim + self.extra_size + (self.hidden_size if self.input_feeding else 0)


@dataclass
class DecoderCache:
    """What the decoder's backward reads of its recurrence, attention and combine steps."""

    combined: np.ndarray | None            # (T, B, 2H): [c_t; s_t]; None without attention
    attentional: np.ndarray                # (T, B, H): h~_t (s_t without attention)
    attention: list[AttentionCache]        # one per call: a single one for all steps, or one per step
    feeding: _FeedingCache | None          # the stepped decoder's own cache, with input feeding


@dataclass
class DecoderGrads:
    """The decoder's backward, for what conditioned it: the gradients of its inputs from the model."""

    initial_state: list[np.ndarray]        # ds_0 per state (num_layers, B, H)
    extra: np.ndarray | None               # du (B, X); None: there was no extra input
    first: np.ndarray | None               # df (B, E); None: there was no first input
    memory: MemoryGrad | None              # None: there was no memory


@dataclass
class _DecodeCache:
    """What ``decode_backward`` reads of the last ``decode``."""

    memory: Memory | None
    steps: DecoderCache
    output_input: np.ndarray               # (T, B, H): dropout(h~), the output layer's input
    extra: bool
    first: bool


class ConditionedDecoder(Module):
    """A model whose decoder (see the module docstring) is conditioned by what the subclass computes.

    A subclass calls ``build_decoder`` in its ``__init__`` (after building its own parts, so that
    a seed draws the same parameters as before), ``decode`` in its forward and ``decode_backward``
    in its backward, and makes its steppers from ``DecoderStepper``. Its ``config`` has
    ``label_smoothing``.
    """

    def build_decoder(self, cell: str, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int,
                      dropout: float, dtype, rng: np.random.Generator, extra_size: int = 0,
                      attention: str | None = None, attention_size: int = 0, input_feeding: bool = False,
                      tied_embeddings: bool = False) -> None:
        if input_feeding and attention is None:
            raise ValueError("input feeding feeds the attentional state h~: it needs `attention`")
        if tied_embeddings and embedding_dim != hidden_size:
            raise ValueError("tied embeddings need `embedding_dim` = `hidden_size`")
        layout = DecoderLayout(vocab_size, embedding_dim, hidden_size, extra_size, attention is not None,
                               input_feeding, tied_embeddings)
        self.layout = layout
        H = hidden_size
        self.target_embedding = Embedding(vocab_size, embedding_dim, dtype=dtype, rng=rng)
        self.target_dropout = Dropout(dropout, rng=rng)
        self.decoder = CELLS[cell](layout.input_size, H, num_layers, dropout=dropout, dtype=dtype, rng=rng)
        if attention is not None:
            self.attention = Attention(attention, H, H, attention_size, dtype=dtype, rng=rng)
            self.combine = Linear(2 * H, H, bias=False, dtype=dtype, rng=rng)     # W_c; its forward is ours
        self.output_dropout = Dropout(dropout, rng=rng)
        if tied_embeddings:
            bound = 1.0 / np.sqrt(H)
            self.register_parameter("output_bias", rng.uniform(-bound, bound, vocab_size).astype(dtype))
        else:
            self.output = Linear(H, vocab_size, dtype=dtype, rng=rng)
        self._decode_cache: _DecodeCache | None = None

    # -- forward --------------------------------------------------------------------------------
    def decode(self, target_inputs: np.ndarray, initial_state: list[np.ndarray] | None = None,
               memory: Memory | None = None, extra: np.ndarray | None = None,
               first: np.ndarray | None = None) -> np.ndarray:
        """Target inputs (T, B) -> logits (T, B, V), conditioned by ``initial_state`` (per state
        (num_layers, B, H)), ``memory``, ``extra`` (B, X) and ``first`` (B, E), each optional."""
        layout = self.layout
        self._check_conditioning(target_inputs, memory, extra, first)
        inputs = self.target_dropout(self.target_embedding(target_inputs))
        if first is not None:
            inputs = np.concatenate([first[None].astype(inputs.dtype, copy=False), inputs[1:]])
        if extra is not None:
            steps = np.broadcast_to(extra, (len(inputs), *extra.shape))
            inputs = np.concatenate([inputs, steps.astype(inputs.dtype, copy=False)], axis=-1)
        if layout.input_feeding:
            decoded = _FeedingLoop(self).forward(inputs, initial_state, memory)
        else:
            decoded = self._decode_all_steps(inputs, initial_state, memory)
        output_input = self.output_dropout(decoded.attentional)
        self._decode_cache = _DecodeCache(memory, decoded, output_input, extra is not None, first is not None)
        return self.output_logits(output_input)     # backward needs only its input, kept above

    def _check_conditioning(self, target_inputs, memory, extra, first) -> None:
        layout = self.layout
        if target_inputs.ndim != 2:
            raise ValueError(f"target_inputs must be a (T, B) array of token ids, got shape {target_inputs.shape}")
        batch = target_inputs.shape[1]
        if (memory is not None) != layout.attends:
            raise ValueError("a decoder with attention needs a `memory`, one without takes none")
        for name, value, size in (("extra", extra, layout.extra_size), ("first", first, layout.embedding_dim)):
            if value is not None and value.shape != (batch, size):
                raise ValueError(f"{name}: expected shape ({batch}, {size}), got {value.shape}")
        if (extra is not None) != (layout.extra_size > 0):
            raise ValueError(f"this decoder reads an extra input of size {layout.extra_size}: give `extra` "
                             "exactly when it is positive")

    def _decode_all_steps(self, inputs: np.ndarray, initial_state, memory: Memory | None) -> DecoderCache:
        """Without input feeding: the stack over all T steps, then (with a memory) attention for all of them."""
        initial = None if initial_state is None else self.decoder.pack_state(initial_state)
        states, _ = self.decoder(inputs, initial)
        if memory is None:
            return DecoderCache(None, states, [], None)
        context, _, attention = self.attention(states, memory)
        combined, attentional = self.attend_and_combine(context, states)
        return DecoderCache(combined, attentional, [attention], None)

    def attend_and_combine(self, context: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[c; s] and h~ = tanh([c; s] W_c^T), for (..., H) contexts and states."""
        combined = np.concatenate([context, states], axis=-1)
        return combined, np.tanh(matmul_rows(combined, self.combine.weight.T))

    def output_logits(self, attentional: np.ndarray) -> np.ndarray:
        """z = h~ W_o^T + b_o (..., V); keeps nothing for backward. The bias is added in place: (T B, V)
        is the step's largest array, and a second one would cost its allocation again."""
        if self.layout.tied_embeddings:
            logits = matmul_rows(attentional, self.target_embedding.weight.T)
            logits += self._parameters["output_bias"]
            return logits
        logits = matmul_rows(attentional, self.output.weight.T)
        logits += self.output.bias
        return logits

    # -- backward -------------------------------------------------------------------------------
    def decode_backward(self, dlogits: np.ndarray) -> DecoderGrads:
        """Accumulate the decoder's parameter gradients from dL/dlogits (T, B, V) of the last ``decode``;
        returns the gradients of what conditioned it."""
        cache = self._decode_cache
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dattentional = self.output_dropout.backward(self._output_backward(dlogits, cache.output_input))
        dmemory = None if cache.memory is None else MemoryGrad.zeros_like(cache.memory)
        if self.layout.input_feeding:
            dinputs, dinitial = _FeedingLoop(self).backward(cache.steps, dattentional, dmemory)
        else:
            dinputs, dinitial = self._decode_all_steps_backward(dattentional, cache.steps, dmemory)
        E = self.layout.embedding_dim
        dextra = dinputs[..., E:].sum(axis=0) if cache.extra else None
        dembedded = dinputs[..., :E]
        dfirst = None
        if cache.first:
            dfirst = dembedded[0].copy()
            dembedded = np.concatenate([np.zeros_like(dembedded[:1]), dembedded[1:]])    # <bos> was not read
        self.target_embedding.backward(self.target_dropout.backward(dembedded))
        return DecoderGrads(dinitial, dextra, dfirst, dmemory)

    def _output_backward(self, dlogits: np.ndarray, output_input: np.ndarray) -> np.ndarray:
        """dz -> d dropout(h~); adds dW_o (into the target embedding's gradient when tied) and db_o."""
        dlogits_flat = dlogits.reshape(-1, dlogits.shape[-1])
        dweight = dlogits_flat.T @ output_input.reshape(-1, output_input.shape[-1])
        if self.layout.tied_embeddings:
            self.target_embedding.grads["weight"] += dweight
            self._grads["output_bias"] += dlogits_flat.sum(axis=0)
            return matmul_rows(dlogits, self.target_embedding.weight)
        self.output.grads["weight"] += dweight
        self.output.grads["bias"] += dlogits_flat.sum(axis=0)
        return matmul_rows(dlogits, self.output.weight)

    def combine_backward(self, dattentional: np.ndarray, attentional: np.ndarray):
        """dh~ -> (dp, dc, ds) through h~ = tanh(p), p = [c; s] W_c^T; dW_c is ``combine_weight_grad``'s."""
        dpre = dattentional * (1.0 - attentional * attentional)
        dcombined = matmul_rows(dpre, self.combine.weight)
        H = self.layout.hidden_size
        return dpre, dcombined[..., :H], dcombined[..., H:]

    def combine_weight_grad(self, dpre: np.ndarray, combined: np.ndarray) -> None:
        """dW_c += sum dp^T [c; s], over every step at once."""
        self.combine.grads["weight"] += dpre.reshape(-1, dpre.shape[-1]).T @ combined.reshape(-1, combined.shape[-1])

    def _decode_all_steps_backward(self, dattentional, cache: DecoderCache, dmemory: MemoryGrad | None):
        if cache.combined is None:
            dstates = dattentional
        else:
            dpre, dcontext, dstates = self.combine_backward(dattentional, cache.attentional)
            self.combine_weight_grad(dpre, cache.combined)
            dstates = dstates + self.attention.backward(dcontext, cache.attention[0], dmemory)
        dinputs, dinitial = self.decoder.backward(dstates)
        return dinputs, list(dinitial) if isinstance(dinitial, tuple) else [dinitial]

    # -- loss -----------------------------------------------------------------------------------
    def loss(self, logits: np.ndarray, batch: Targets) -> tuple[float, np.ndarray]:
        """The training loss of the forward's logits on ``batch`` (the config's label smoothing), and dL/dlogits."""
        return label_smoothed_cross_entropy(logits, batch.target_outputs, batch.target_mask,
                                            self.config.label_smoothing)


class DecoderStepper:
    """The decoder one target token at a time, for decoding a batch of B items (sentences, images).

        stepper = DecoderStepper(model, items=B, repeats=k, ...)   # each item on k rows
        logits = stepper(ids)          # the last tokens (R,) -> scores of the next ones (R, V)
        stepper.attention              # (R, S): the step's attention weights a_t (None without a memory)
        stepper.select(rows)           # keep rows (R',) of the state: beams reordered, items dropped

    A step is ``ConditionedDecoder.decode`` for one token in evaluation mode, keeping nothing
    for backward: i_t = E[y_{t-1}] (at the first step f, if given: the ids, <bos>, are not
    read), [i_t; u] with an extra input, [.; h~_{t-1}] with input feeding, through the stack's
    ``Stepper``, then attention and combine (with a memory) and the output layer. Row r decodes
    item ``items[r]``; the conditioning (initial state, memory, extra and first inputs) is given
    per item and taken per row. Use it with the model in evaluation mode (the decoding
    functions do).
    """

    def __init__(self, model: ConditionedDecoder, items: int, repeats: int = 1,
                 initial_state: list[np.ndarray] | None = None, memory: Memory | None = None,
                 extra: np.ndarray | None = None, first: np.ndarray | None = None):
        self.model = model
        self.items = np.repeat(np.arange(items), repeats)
        self.item_memory, self.extra, self.first = memory, extra, first
        self.memory = None if memory is None else memory.take(self.items)
        state = None if initial_state is None else model.decoder.pack_state([s[:, self.items]
                                                                             for s in initial_state])
        self.recurrent = model.decoder.stepper(state, batch=len(self.items))
        layout = model.layout
        self.feed = np.zeros((len(self.items), layout.hidden_size), model.dtype) if layout.input_feeding else None
        self.steps_taken = 0
        self.attention: np.ndarray | None = None

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        model = self.model
        if self.steps_taken == 0 and self.first is not None:
            inputs = self.first[self.items]
        else:
            inputs = model.target_embedding.lookup(check_indices(ids, model.layout.vocab_size, name="ids"))
        if self.extra is not None:
            inputs = np.concatenate([inputs, self.extra[self.items]], axis=1)
        if self.feed is not None:
            inputs = np.concatenate([inputs, self.feed], axis=1)
        state = self.recurrent(inputs)
        self.steps_taken += 1
        if self.memory is None:
            return model.output_logits(state)
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
        items = self.items[rows]
        if self.item_memory is not None and not np.array_equal(items, self.items):
            self.memory = self.item_memory.take(items)
        self.items = items
        if self.feed is not None:
            self.feed = self.feed[rows]


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

    inputs: list[np.ndarray]              # per layer (T, B, I_k): what the layer read, [x_t; h~_{t-1}] for layer 0
    cells: list[CellCache]                # per layer: the cell's buffers (states, gates)
    dropout_masks: list[np.ndarray]       # per gap between layers (T, B, H), in training with dropout; else empty


class _FeedingLoop:
    """The decoder with input feeding, one step at a time through the decoder stack's own cells.

    Per step t: layer 0 reads [x_t; h~_{t-1}], layer k > 0 layer k-1's output (times its
    dropout mask); then attention and combine give h~_t. The cells' steps are those a
    ``RecurrentLayer`` runs (``kernels.step_strategy``); the weight gradients of W_ih are
    one product over all steps after the backward loop, as in ``layers/time_loop.py``.
    """

    def __init__(self, model: ConditionedDecoder):
        self.model, self.layer = model, model.decoder
        self.cell = self.layer.cell
        self.params = [self.layer.cell_parameters(k) for k in range(self.layer.num_layers)]
        self.steps = kernels.step_strategy(self.cell, self.layer.dtype)

    def forward(self, inputs: np.ndarray, initial_state: list[np.ndarray] | None, memory: Memory) -> DecoderCache:
        """x_t (T, B, I) -> the decoder's cache; h~_t is its ``attentional``."""
        model, cell, layer = self.model, self.cell, self.layer
        steps, batch, E = inputs.shape
        H = model.layout.hidden_size
        cache = self._new_cache(steps, batch)
        initial = initial_state or [np.zeros((layer.num_layers, batch, size), layer.dtype)
                                    for size in cell.state_sizes]
        for k, cells in enumerate(cache.cells):
            for buffer, state in zip(cell.states(cells), initial):
                buffer[0] = state[k]
        cache.inputs[0][:, :, :E] = inputs
        combined = np.empty((steps, batch, 2 * H), layer.dtype)
        attentional = np.empty((steps, batch, H), layer.dtype)
        attention, feed = [], np.zeros((batch, H), layer.dtype)
        weights_hh_T = [self.steps.weight_hh_T(p) for p in self.params]
        with loop_threads(cell, batch):
            for t in range(steps):
                cache.inputs[0][t, :, E:] = feed
                state = self._stack_step(cache, weights_hh_T, t)
                context, _, step_attention = model.attention(state[None], memory)
                attention.append(step_attention)
                combined[t], attentional[t] = model.attend_and_combine(context[0], state)
                feed = attentional[t]
        return DecoderCache(combined, attentional, attention, cache)

    def _new_cache(self, steps: int, batch: int) -> _FeedingCache:
        """Buffers for T steps: each layer's inputs (layer 0: [x_t; h~_{t-1}], above: H) and its cell's."""
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
        """dh~ (T, B, H) -> (dx_t (T, B, I), ds0 per state); adds every decoder-side gradient."""
        model, cell, layer, cache = self.model, self.cell, self.layer, decoder.feeding
        steps, batch, H = dattentional.shape
        E = layer.input_size - H
        buffers = [cell.grad_buffers(steps, batch, layer.dtype) for _ in self.params]
        dstates = [[np.zeros((batch, size), layer.dtype) for size in cell.state_sizes] for _ in self.params]
        dpre = np.empty_like(dattentional)
        dinputs = np.empty((steps, batch, E), layer.dtype)
        dfeed = np.zeros((batch, H), layer.dtype)
        with loop_threads(cell, batch):
            for t in reversed(range(steps)):
                dpre[t], dcontext, dstate = model.combine_backward(dattentional[t] + dfeed,
                                                                   decoder.attentional[t])
                dstate = dstate + model.attention.backward(dcontext[None], decoder.attention[t], dmemory)[0]
                dinput = self._stack_step_backward(cache, buffers, dstates, dstate, t)
                dinputs[t], dfeed = dinput[:, :E], dinput[:, E:]
        model.combine_weight_grad(dpre, decoder.combined)
        self._weight_grads(cache, buffers)
        return dinputs, [np.stack([dstate[i] for dstate in dstates]) for i in range(len(cell.state_sizes))]

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
