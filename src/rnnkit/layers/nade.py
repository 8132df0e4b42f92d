"""NADE: the keys of a frame one after another, each given the context and the keys below it.

The Neural Autoregressive Distribution Estimator (Larochelle & Murray 2011), conditioned
on a context vector as in RNN-NADE (Boulanger-Lewandowski, Bengio & Vincent 2012): the
recurrent state c (H,) sets the biases of a NADE over the K keys of the next frame,
taken from the lowest key up. With M hidden units,

    b(c) = b + c U^T                    (K,)  key biases          ``visible_bias``: Linear(H, K)
    d(c) = d + c Q^T                    (M,)  hidden biases       ``hidden_bias``:  Linear(H, M)
    a_k  = d(c) + sum_{j<k} W[:, j] v_j (M,)  a_1 = d(c)           W (M, K): ``weight_in``
    h_k  = sigmoid(a_k)                 (M,)
    z_k  = b_k(c) + V_k . h_k                                      V (K, M): ``weight_out``
    p(v_k = 1 | v_<k, c) = sigmoid(z_k)
    log p(v | c) = sum_k  v_k z_k - softplus(z_k)

a product of K conditionals, so p(v | c) sums to one over all 2^K frames and its
log-likelihood is exact: directly comparable with independent keys
(``rnnkit.layers.bernoulli``). Key k sees which keys below it sound, which is how it
learns chords. The a_k are a running sum over k, kept key-major (K, N, M) so that each
step adds one contiguous (N, M) slab.

Backward, with g = dL/d log p per frame:

    dz_k    = g (v_k - sigmoid(z_k))                           dL/dz_k
    dV_k   += sum_n dz_k h_k                                   db(c) = dz
    dh_k    = dz_k V_k           da_k = dh_k h_k (1 - h_k)
    dd(c)   = sum_k da_k
    dW[:, j] += sum_n v_j sum_{k>j} da_k                       (an exclusive cumulative sum from the top)
    dc      = dz U + dd(c) Q                                   (through the two Linear layers)

Sampling draws v_1, v_2, ... in turn, v_k ~ Bernoulli(sigmoid(z_k / tau)) at temperature
tau, adding W[:, k] v_k to a before the next key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.activations import sigmoid
from rnnkit.layers.bernoulli import check_frames, logit, project
from rnnkit.layers.linear import Linear
from rnnkit.module import Module


@dataclass
class NadeCache:
    """What ``NADE.backward`` reads of the last ``forward``, with the leading axes flattened to N rows."""

    shape: tuple              # the leading axes (...) of the call
    frames: np.ndarray        # v (N, K)
    hidden: np.ndarray        # h (K, N, M): h_k for every key k, key-major
    key_probabilities: np.ndarray   # sigmoid(z) (N, K)


class NADE(Module):
    """``log_probs = nade(context, frames)``: (..., H), (..., K) -> (...); ``nade.backward(dlog_probs)``."""

    def __init__(self, context_size: int, num_keys: int, hidden_size: int, dtype=np.float32, rng=None):
        super().__init__()
        self.context_size, self.num_keys, self.hidden_size = context_size, num_keys, hidden_size
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(rng)
        self.visible_bias = Linear(context_size, num_keys, dtype=dtype, rng=rng)
        self.hidden_bias = Linear(context_size, hidden_size, dtype=dtype, rng=rng)
        self.weight_in = self.register_parameter(
            "weight_in", rng.uniform(-1, 1, (hidden_size, num_keys)).astype(dtype) / np.sqrt(num_keys, dtype=dtype))
        self.weight_out = self.register_parameter(
            "weight_out", rng.uniform(-1, 1, (num_keys, hidden_size)).astype(dtype) / np.sqrt(hidden_size, dtype=dtype))
        self._cache: NadeCache | None = None

    # -- forward and backward, side by side ---------------------------------------------------
    def forward(self, context: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """log p(v | c) per frame: sum_k v_k z_k - softplus(z_k)."""
        check_frames(frames, context, self.num_keys)
        log_probs, self._cache = self._log_probs(self.visible_bias(context), self.hidden_bias(context), frames)
        return log_probs

    __call__ = forward

    def log_prob(self, context: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """As ``forward``, keeping nothing for backward (scoring while generating)."""
        check_frames(frames, context, self.num_keys)
        return self._log_probs(project(self.visible_bias, context), project(self.hidden_bias, context), frames)[0]

    def _log_probs(self, key_bias, hidden_bias, frames) -> tuple[np.ndarray, NadeCache]:
        """log p(v | c) (...) from b(c) (..., K) and d(c) (..., M), and what backward needs."""
        shape = frames.shape[:-1]
        v = frames.reshape(-1, self.num_keys).astype(self.dtype, copy=False)
        hidden = self._hidden_units(hidden_bias.reshape(-1, self.hidden_size), v)      # h (K, N, M)
        z = key_bias.reshape(-1, self.num_keys) + np.einsum("knm,km->nk", hidden, self.weight_out)
        log_probs = np.sum(v * z - np.logaddexp(0.0, z), axis=-1).reshape(shape)
        return log_probs, NadeCache(shape, v, hidden, sigmoid(z))

    def _hidden_units(self, hidden_bias: np.ndarray, v: np.ndarray) -> np.ndarray:
        """h_k = sigmoid(a_k), a_k = d(c) + sum_{j<k} W[:, j] v_j, for every k: (K, N, M).

        A running sum over k, which adds nothing where no frame sounds key k - 1 (most keys:
        a frame holds a few notes).
        """
        a = np.empty((self.num_keys,) + hidden_bias.shape, dtype=self.dtype)
        a[0] = hidden_bias
        for k in range(1, self.num_keys):
            a[k] = a[k - 1]
            if v[:, k - 1].any():
                a[k] += np.multiply.outer(v[:, k - 1], self.weight_in[:, k - 1])
        return sigmoid(a, out=a)

    def backward(self, dlog_probs: np.ndarray) -> np.ndarray:
        """dL/d log p (...) -> dL/dc (..., H); adds to the gradients of W, V and both Linear layers."""
        cache = self._cache
        if cache is None:
            raise RuntimeError("NADE.backward called before forward")
        g = dlog_probs.reshape(-1, 1).astype(self.dtype, copy=False)
        dz = g * (cache.frames - cache.key_probabilities)                          # (N, K)
        hidden = cache.hidden
        self._grads["weight_out"] += np.einsum("nk,knm->km", dz, hidden)
        da = dz.T[:, :, None] * self.weight_out[:, None, :]                        # dh (K, N, M)
        da *= hidden
        da *= 1.0 - hidden
        dhidden_bias = da.sum(axis=0)                                              # dd(c) (N, M)
        above = _sums_above(da)                                                    # sum_{k>j} da_k
        self._grads["weight_in"] += np.einsum("nk,knm->mk", cache.frames, above)
        leading = cache.shape + (-1,)
        dcontext = self.visible_bias.backward(dz.reshape(leading))
        dcontext += self.hidden_bias.backward(dhidden_bias.reshape(leading))
        return dcontext

    # -- generation --------------------------------------------------------------------------
    def sample(self, context: np.ndarray, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """One frame per context row (B, H), the keys drawn from the lowest up; bool (B, K)."""
        key_bias = project(self.visible_bias, context)                          # (B, K)
        a = project(self.hidden_bias, context)                                  # (B, M)
        frames = np.zeros(key_bias.shape, dtype=bool)
        tau = self.dtype.type(temperature)
        for k in range(self.num_keys):
            z = key_bias[:, k] + sigmoid(a) @ self.weight_out[k]
            frames[:, k] = rng.random(len(z)) < sigmoid(z / tau)
            a += frames[:, k, None] * self.weight_in[:, k]
        return frames

    def init_key_bias(self, key_probabilities: np.ndarray) -> None:
        """b_k = logit(p_k), U = 0 and V = 0: start from each key's frequency rather than 1/2."""
        self.visible_bias.bias[...] = logit(key_probabilities)
        self.visible_bias.weight[...] = 0.0
        self.weight_out[...] = 0.0


def _sums_above(da: np.ndarray) -> np.ndarray:
    """S_j = sum_{k>j} da_k over the first axis (K, N, M), in place of ``da``."""
    total = np.zeros_like(da[0])              # sum of da_k over the keys above j
    for j in reversed(range(len(da))):
        da_j = da[j].copy()
        da[j] = total
        total += da_j
    return da
