"""Token ids to vectors: a learned lookup table (``Embedding``) or fixed one-hot rows (``OneHot``).

Looking up row ``x`` of a table ``W`` (V, D) is the product ``onehot(x) W``, so

    forward:   y_n = W[x_n]                    for every position n of ``indices``
    backward:  dW[v] += sum_{n : x_n = v} dy_n  (rows of dy summed by token id)

and the indices, being integers, get no gradient. With ``padding_idx = p`` the row
``W[p]`` starts at zero and its gradient is kept at zero, so padding stays a zero vector.

Embedding dropout (``embedding_dropout`` = p; Gal & Ghahramani 2016, AWD-LSTM's
``embedded_dropout``) drops whole tokens, not single units: in training, one mask r (V,)
per call over the rows of W, r_v = 1/(1-p) with probability 1-p and 0 otherwise, so a
dropped id is a zero vector everywhere it occurs in the batch, and

    forward:   y_n = r[x_n] * W[x_n]
    backward:  dW[v] += r[v] * sum_{n : x_n = v} dy_n

In evaluation mode (and in ``lookup``, for generation) r = 1.

``OneHot`` is the same interface with W the identity and nothing to learn, so that a
model takes either without a branch of its own. Both give, for a next layer's weight
A (N, D), the products of every id's vector at once (``project``): W A^T, or A^T for
one-hot rows, which a generating model keeps as a table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.layers.dropout import dropout_mask
from rnnkit.module import Module


@dataclass
class EmbeddingCache:
    """What ``Embedding.backward`` reads of the last ``forward`` call."""

    indices: np.ndarray                # the checked ids, any shape
    row_mask: np.ndarray | None        # (V, 1): embedding dropout's r; None when it is off


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table of vectors, one per token id, as torch.nn.Embedding.

    ``weight`` is initialised from N(0, 1), as PyTorch does. ``embedding_dropout`` in [0, 1): the
    probability of dropping a token id in training (see the module's docstring), its mask drawn from ``rng``.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype=np.float32,
        rng: np.random.Generator | int | None = None,
        embedding_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(embedding_dropout, (bool, np.bool_)) or not isinstance(embedding_dropout, (int, float, np.number)) \
                or not 0.0 <= embedding_dropout < 1.0:
            raise ValueError(f"`embedding_dropout` must be a number in [0, 1), got {embedding_dropout!r}")
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx: must lie in [{-num_embeddings}, {num_embeddings}), got {padding_idx}"
                )
            padding_idx %= num_embeddings  # -1 means the last row, as in PyTorch
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.embedding_dropout = embedding_dropout
        self.rng = rng = np.random.default_rng(rng)     # embedding dropout's masks come from it too
        self.weight = self.register_parameter(
            "weight", rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        )
        if padding_idx is not None:
            self.weight[padding_idx] = 0.0
        self._cache: EmbeddingCache | None = None

    def forward(self, indices: np.ndarray) -> np.ndarray:
        """Integer ids of any shape (...) -> vectors (..., embedding_dim)."""
        indices = check_indices(indices, self.num_embeddings, name="indices")
        row_mask = None
        if self.training and self.embedding_dropout:
            row_mask = dropout_mask(self.rng, (self.num_embeddings, 1), self.embedding_dropout, self.weight.dtype,
                                    uniform_dtype=np.float64)
        self._cache = EmbeddingCache(indices, row_mask)
        vectors = self.weight[indices]
        return vectors if row_mask is None else vectors * row_mask[indices]

    __call__ = forward

    def lookup(self, indices: np.ndarray) -> np.ndarray:
        """``forward`` of ids already checked, keeping nothing for ``backward``: for generation."""
        return self.weight[indices]

    def project(self, weight: np.ndarray) -> np.ndarray:
        """Every id's vector times ``weight``^T, (num_embeddings, N) for ``weight`` (N, embedding_dim)."""
        return self.weight @ weight.T

    def backward(self, dy: np.ndarray) -> None:
        """Add each dy_n to the gradient row of its token id. Returns None: ids have no gradient."""
        cache = self._cache
        if cache is None:
            raise RuntimeError("Embedding.backward called before forward")
        expected = cache.indices.shape + (self.embedding_dim,)
        if dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected}, got {dy.shape}")
        grad = self._grads["weight"]
        rows, values = cache.indices.reshape(-1), dy.reshape(-1, self.embedding_dim)
        if cache.row_mask is not None:
            values = values * cache.row_mask[rows]
        add_rows(grad, rows, values)
        if self.padding_idx is not None:
            grad[self.padding_idx] = 0.0


class OneHot(Module):
    """Ids to one-hot rows (num_classes,): an ``Embedding`` whose table is the identity, not learned."""

    def __init__(self, num_classes: int, dtype=np.float32) -> None:
        super().__init__()
        self.num_embeddings = self.embedding_dim = num_classes
        self.dtype = np.dtype(dtype)

    def forward(self, indices: np.ndarray) -> np.ndarray:
        """Integer ids of any shape (...) -> one-hot rows (..., num_classes)."""
        return one_hot(indices, self.num_embeddings, self.dtype)

    __call__ = forward

    def lookup(self, indices: np.ndarray) -> np.ndarray:
        return self.forward(indices)

    def backward(self, dy: np.ndarray) -> None:
        """Nothing to learn, and ids have no gradient."""

    def project(self, weight: np.ndarray) -> np.ndarray:
        """Every id's one-hot row times ``weight``^T: the columns of ``weight``, (num_classes, N)."""
        return weight.T


def one_hot(indices: np.ndarray, num_classes: int, dtype=np.float32) -> np.ndarray:
    """Integer ids (...) -> one-hot rows (..., num_classes): 1 at each id, 0 elsewhere."""
    indices = check_indices(indices, num_classes, name="indices")
    encoded = np.zeros(indices.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(encoded, indices[..., None], 1, axis=-1)
    return encoded


def check_indices(indices, size: int, name: str) -> np.ndarray:
    """``indices`` as an integer array, each in [0, size); ValueError naming ``name`` if not."""
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{name}: expected integers, got dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        raise ValueError(
            f"{name}: expected integers in [0, {size}), got values from {indices.min()} to {indices.max()}"
        )
    return indices


def add_rows(target: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """target[rows[n]] += values[n] for every n, summing over repeated rows.

    Like ``np.add.at(target, rows, values)`` but several times faster: sorting brings
    equal ids together, ``np.add.reduceat`` sums each run of them in one pass, and each
    distinct row of ``target`` is then updated once.
    """
    if rows.size == 0:
        return
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    run_starts = np.flatnonzero(np.concatenate(([True], sorted_rows[1:] != sorted_rows[:-1])))
    run_sums = np.add.reduceat(np.take(values, order, axis=0), run_starts, axis=0)
    target[sorted_rows[run_starts]] += run_sums
