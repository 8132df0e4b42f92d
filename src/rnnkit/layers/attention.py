"""Attention of a decoder over the encoder's outputs: Bahdanau's additive scores, Luong's dot and general.

Rows are the batch, as in the code. For one sentence, a query s (Q,) (the decoder's
state at one step) reads the memory h_1 .. h_S (M each; the encoder's outputs), of
which the first L are the sentence and the rest padding (mask m_j = [j <= L]):

    keys      k_j = h_j                          dot          (needs Q = M)
              k_j = h_j W_a^T                    general      W_a (Q, M):  s . k_j = s W_a h_j  (Luong's s^T W_a h)
              k_j = h_j W_h^T                    additive     W_h (A, M)
    scores    e_j = s . k_j                      dot, general
              u_j = tanh(s W_s^T + k_j)          additive     W_s (A, Q), v (A,)
              e_j = u_j . v                      (Bahdanau's v . tanh(W_s s + W_h h_j))
    weights   a_j = m_j exp(e_j) / sum_i m_i exp(e_i)        padding gets weight 0
    context   c   = sum_j a_j h_j                (M,)

The keys depend on the memory alone, so they are made once per batch of sentences
(``memory``) and read by every decoder step (``forward``). Backward, given dc (and
the gradients flowing into the keys from every step, summed):

    da_j = dc . h_j                              dh_j += a_j dc
    de_j = a_j (da_j - sum_i a_i da_i)           0 where m_j = 0
    dot, general:  ds = sum_j de_j k_j           dk_j += de_j s
    additive:      du_j = de_j v * (1 - u_j^2)   dv += sum_j de_j u_j
                   ds = (sum_j du_j) W_s         dW_s += (sum_j du_j)^T s      dk_j += du_j
    keys (``memory_backward``):
                   dot:       dh_j += dk_j
                   general:   dh_j += dk_j W_a,  dW_a += sum_j dk_j^T h_j      (additive: W_h alike)

Shapes: the memory comes time-major as the recurrent layers give it, (S, B, M), and
is kept batch-major (B, S, M) in a ``Memory``, so that every product above is one
batched matrix product over the sentences. Queries are (T, B, Q): all T decoder
steps at once when their states are known beforehand, or T = 1 one step at a time
(input feeding, decoding); each ``forward`` returns its own ``AttentionCache``, so
steps can be undone in any order, and ``backward`` adds into a ``MemoryGrad``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.layers.lengths import check_lengths
from rnnkit.layers.linear import matmul_rows
from rnnkit.module import Module

FORMS = ("additive", "dot", "general")


@dataclass(frozen=True)
class Memory:
    """What attention reads of a batch of encoded sentences, batch-major."""

    values: np.ndarray        # (B, S, M): h_j
    keys: np.ndarray          # (B, S, K): k_j (the values themselves for dot)
    mask: np.ndarray          # (B, S) bool: m_j, True on the sentence, False on padding

    def take(self, rows: np.ndarray) -> Memory:
        """The memory of sentences ``rows`` (B',), e.g. each sentence repeated once per beam."""
        return Memory(self.values[rows], self.keys[rows], self.mask[rows])


@dataclass
class MemoryGrad:
    """Gradients w.r.t. a ``Memory``'s values and keys, summed over the decoder steps that read it."""

    values: np.ndarray        # (B, S, M)
    keys: np.ndarray          # (B, S, K)

    @classmethod
    def zeros_like(cls, memory: Memory) -> MemoryGrad:
        return cls(np.zeros_like(memory.values), np.zeros_like(memory.keys))


@dataclass
class AttentionCache:
    """What ``Attention.backward`` reads of one ``forward`` call."""

    query: np.ndarray              # (B, T, Q): s, batch-major
    weights: np.ndarray            # (B, T, S): a
    hidden: np.ndarray | None      # (B, T, S, A): u (additive); None for dot and general
    memory: Memory


class Attention(Module):
    """``context, weights, cache = attention(query, memory)``; see the module docstring for the forms.

    ``attention_size`` (A) is the additive form's hidden size, 0 meaning ``query_size``.
    Weights are drawn from U(-1/sqrt(n), 1/sqrt(n)), n the size they read (as ``Linear``).
    """

    def __init__(self, form: str, query_size: int, memory_size: int, attention_size: int = 0,
                 dtype=np.float32, rng=None) -> None:
        super().__init__()
        if form not in FORMS:
            raise ConfigError(f"unknown `attention` {form!r}: choose one of {', '.join(FORMS)}")
        if form == "dot" and query_size != memory_size:
            raise ConfigError(f"`attention` dot needs queries and memory of one size, got {query_size} "
                              f"and {memory_size}: use general or additive")
        self.form, self.query_size, self.memory_size = form, query_size, memory_size
        self.attention_size = attention_size or query_size
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(rng)
        if form == "general":
            self.register_parameter("weight_a", _uniform(rng, (query_size, memory_size), self.dtype))
        elif form == "additive":
            self.register_parameter("weight_s", _uniform(rng, (self.attention_size, query_size), self.dtype))
            self.register_parameter("weight_h", _uniform(rng, (self.attention_size, memory_size), self.dtype))
            self.register_parameter("v", _uniform(rng, (self.attention_size,), self.dtype, fan_in=self.attention_size))

    # -- the memory: keys once per batch of sentences ---------------------------------------
    def memory(self, values: np.ndarray, lengths: np.ndarray | None = None) -> Memory:
        """Encoder outputs (S, B, M) and their lengths (B,) -> the ``Memory`` every step reads."""
        if values.ndim != 3 or values.shape[2] != self.memory_size:
            raise ValueError(f"values: expected shape (S, B, {self.memory_size}), got {values.shape}")
        steps, batch, _ = values.shape
        batch_major = np.ascontiguousarray(values.transpose(1, 0, 2))
        if lengths is None:
            mask = np.ones((batch, steps), bool)
        else:
            mask = np.arange(steps) < check_lengths(lengths, steps, batch)[:, None]
        return Memory(batch_major, self._keys(batch_major), mask)

    def _keys(self, values: np.ndarray) -> np.ndarray:
        if self.form == "dot":
            return values
        weight = self._parameters["weight_a" if self.form == "general" else "weight_h"]
        return matmul_rows(values, weight.T)

    def memory_backward(self, memory: Memory, grad: MemoryGrad) -> np.ndarray:
        """The gradient w.r.t. ``memory``'s values, time-major (S, B, M), keys' part included;
        adds dW_a (general) or dW_h (additive) into ``grads``."""
        dvalues = grad.values
        if self.form == "dot":
            dvalues = dvalues + grad.keys
        else:
            name = "weight_a" if self.form == "general" else "weight_h"
            dkeys_flat = grad.keys.reshape(-1, grad.keys.shape[-1])
            self._grads[name] += dkeys_flat.T @ memory.values.reshape(-1, self.memory_size)
            dvalues = dvalues + matmul_rows(grad.keys, self._parameters[name])
        return dvalues.transpose(1, 0, 2)

    # -- forward and backward of decoder steps ------------------------------------------------
    def forward(self, query: np.ndarray, memory: Memory) -> tuple[np.ndarray, np.ndarray, AttentionCache]:
        """Queries (T, B, Q) -> context (T, B, M), weights (T, B, S) and this call's cache."""
        batch = memory.values.shape[0]
        if query.ndim != 3 or query.shape[1:] != (batch, self.query_size):
            raise ValueError(f"query: expected shape (T, {batch}, {self.query_size}), got {query.shape}")
        query = query.transpose(1, 0, 2)                                  # (B, T, Q)
        scores, hidden = self._scores(query, memory.keys)                 # (B, T, S)
        weights = masked_softmax(scores, memory.mask[:, None, :])
        context = weights @ memory.values                                 # (B, T, M)
        cache = AttentionCache(query, weights, hidden, memory)
        return context.transpose(1, 0, 2), weights.transpose(1, 0, 2), cache

    __call__ = forward

    def _scores(self, query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """e (B, T, S) and, for the additive form, u (B, T, S, A)."""
        if self.form != "additive":
            return query @ keys.transpose(0, 2, 1), None
        projected = matmul_rows(query, self._parameters["weight_s"].T)    # s W_s^T (B, T, A)
        hidden = np.tanh(projected[:, :, None, :] + keys[:, None, :, :])  # u (B, T, S, A)
        return hidden @ self._parameters["v"], hidden

    def backward(self, dcontext: np.ndarray, cache: AttentionCache, dmemory: MemoryGrad) -> np.ndarray:
        """dL/dcontext (T, B, M) -> dL/dquery (T, B, Q); adds into ``dmemory`` and the parameters' grads."""
        weights, memory = cache.weights, cache.memory
        dcontext = dcontext.transpose(1, 0, 2)                            # (B, T, M)
        dmemory.values += weights.transpose(0, 2, 1) @ dcontext           # dh_j += a_j dc
        dweights = dcontext @ memory.values.transpose(0, 2, 1)            # da (B, T, S)
        dscores = weights * (dweights - np.sum(weights * dweights, axis=-1, keepdims=True))
        if self.form != "additive":
            dmemory.keys += dscores.transpose(0, 2, 1) @ cache.query      # dk_j += de_j s
            return (dscores @ memory.keys).transpose(1, 0, 2)             # ds = sum_j de_j k_j
        return self._additive_backward(dscores, cache, dmemory).transpose(1, 0, 2)

    def _additive_backward(self, dscores: np.ndarray, cache: AttentionCache, dmemory: MemoryGrad) -> np.ndarray:
        """de (B, T, S) -> ds (B, T, Q) through u_j = tanh(s W_s^T + k_j), e_j = u_j . v."""
        hidden, v, weight_s = cache.hidden, self._parameters["v"], self._parameters["weight_s"]
        self._grads["v"] += np.einsum("btj,btja->a", dscores, hidden)
        dhidden = dscores[..., None] * v * (1.0 - hidden * hidden)        # du (B, T, S, A)
        dmemory.keys += dhidden.sum(axis=1)                               # dk_j += sum_t du_j
        dprojected = dhidden.sum(axis=2)                                  # sum_j du_j (B, T, A)
        self._grads["weight_s"] += (dprojected.reshape(-1, self.attention_size).T
                                    @ cache.query.reshape(-1, self.query_size))
        return matmul_rows(dprojected, weight_s)

    def __repr__(self) -> str:
        return f"Attention({self.form!r}, {self.query_size}, {self.memory_size})"


def masked_softmax(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """a_j = m_j exp(e_j - max) / sum_i m_i exp(e_i - max) along the last axis; each row needs one m_j."""
    masked = np.where(mask, scores, -np.inf)
    exps = np.exp(masked - masked.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], dtype, fan_in: int | None = None) -> np.ndarray:
    bound = 1.0 / np.sqrt(fan_in or shape[-1])
    return rng.uniform(-bound, bound, shape).astype(dtype)
