"""Independent Bernoulli keys: the distribution of a frame of K keys given a context vector.

For a context c (H,) (the recurrent state) and a frame v in {0, 1}^K,

    a = c W^T + b                                         logits (K,): ``Linear(H, K)``
    p(v | c) = prod_k  s_k^v_k (1 - s_k)^(1 - v_k)        s_k = sigmoid(a_k)
    log p(v | c) = sum_k  v_k a_k - softplus(a_k)         softplus(a) = log(1 + e^a)

and, since d softplus(a) / da = sigmoid(a),

    d log p / d a_k = v_k - s_k

so with g = dL/d log p:   dL/da = g (v - s), which the Linear layer carries to W, b and c.

Every key is drawn on its own: the model cannot say "these notes form a chord"
(``rnnkit.layers.nade`` can). Sampling at temperature tau draws v_k ~ Bernoulli(sigmoid(a_k / tau)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.activations import sigmoid
from rnnkit.layers.linear import Linear, matmul_rows
from rnnkit.module import Module


@dataclass
class BernoulliCache:
    """What ``IndependentBernoulli.backward`` reads of the last ``forward``."""

    frames: np.ndarray          # v (..., K), in the layer's dtype
    probabilities: np.ndarray   # s (..., K)


class IndependentBernoulli(Module):
    """``log_probs = layer(context, frames)``: (..., H), (..., K) -> (...); ``layer.backward(dlog_probs)``."""

    def __init__(self, context_size: int, num_keys: int, dtype=np.float32, rng=None):
        super().__init__()
        self.context_size, self.num_keys, self.dtype = context_size, num_keys, np.dtype(dtype)
        self.logits = Linear(context_size, num_keys, dtype=dtype, rng=rng)
        self._cache: BernoulliCache | None = None

    def forward(self, context: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """log p(v | c) per frame: sum_k v_k a_k - softplus(a_k)."""
        check_frames(frames, context, self.num_keys)
        logits = self.logits(context)
        frames = frames.astype(self.dtype, copy=False)
        self._cache = BernoulliCache(frames, sigmoid(logits))
        return _log_probs(logits, frames)

    __call__ = forward

    def log_prob(self, context: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """As ``forward``, keeping nothing for backward (scoring while generating)."""
        check_frames(frames, context, self.num_keys)
        return _log_probs(project(self.logits, context), frames.astype(self.dtype, copy=False))

    def backward(self, dlog_probs: np.ndarray) -> np.ndarray:
        """dL/d log p (...) -> dL/dc (..., H); adds to the gradients of W and b."""
        cache = self._cache
        if cache is None:
            raise RuntimeError("IndependentBernoulli.backward called before forward")
        dlogits = dlog_probs[..., None].astype(self.dtype, copy=False) * (cache.frames - cache.probabilities)
        return self.logits.backward(dlogits)

    def probabilities(self, context: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        """s = sigmoid(a / tau) (..., K), keeping nothing for backward."""
        return sigmoid(project(self.logits, context) / self.dtype.type(temperature))

    def sample(self, context: np.ndarray, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """One frame per context row: v_k ~ Bernoulli(sigmoid(a_k / tau)); bool (B, K)."""
        probabilities = self.probabilities(context, temperature)
        return rng.random(probabilities.shape) < probabilities

    def init_key_bias(self, key_probabilities: np.ndarray) -> None:
        """b_k = logit(p_k) and W = 0: start from each key's frequency (``MarginalKeys``) rather than 1/2."""
        self.logits.bias[...] = logit(key_probabilities)
        self.logits.weight[...] = 0.0


def _log_probs(logits: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """sum_k v_k a_k - softplus(a_k) over the last axis."""
    return np.sum(frames * logits - np.logaddexp(0.0, logits), axis=-1)


def project(linear: Linear, context: np.ndarray) -> np.ndarray:
    """c W^T + b, without keeping c for backward (generation, scoring); c (..., H), one product of its rows."""
    logits = matmul_rows(context, linear.weight.T)
    if linear.bias is not None:
        logits += linear.bias
    return logits


def logit(probabilities: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), the inverse of the sigmoid, with p kept within [1e-6, 1 - 1e-6]."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def check_frames(frames: np.ndarray, context: np.ndarray, num_keys: int) -> None:
    """``frames`` (..., K) must match ``context`` (..., H) in its leading axes."""
    if frames.shape != context.shape[:-1] + (num_keys,):
        raise ValueError(f"frames: expected shape {context.shape[:-1] + (num_keys,)} (the context's with "
                         f"{num_keys} keys), got {frames.shape}")
