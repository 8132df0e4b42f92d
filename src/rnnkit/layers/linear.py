"""A fully connected layer, y = x W^T + b, applied at every position of a sequence.

For x of shape (..., I), W (O, I) and b (O,), flattening the leading axes into N rows
makes the whole sequence one matrix product:

    forward:   Y = X W^T + b                 X (N, I), Y (N, O)
    backward:  dW += dY^T X     db += sum_n dY_n     dX = dY W

``TiedLinear`` is the same layer with W borrowed from an ``Embedding`` (Press & Wolf 2017,
"Using the Output Embedding to Improve Language Models"; Inan et al. 2017): an output
layer over a vocabulary whose weight is the input embedding E (V, D), so W = E and

    forward:   Y = X E^T + b                 backward:  dE += dY^T X   (into the embedding's
                                                        gradient, beside its lookup's rows)

The two uses' gradients add in the one array, which the optimizer updates once.
"""

from __future__ import annotations

import numpy as np

from rnnkit.module import Module


def matmul_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (..., K) @ b (K, N) -> (..., N) as one product of a's rows. NumPy multiplies a stack of
    matrices by one matrix slice by slice: at (13, 64, 256) @ (256, 10000), a decoder's output
    layer, that took 2.5 times as long as one (832, 256) product on one thread."""
    return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])


class Linear(Module):
    """y = x W^T + b over the last axis, as torch.nn.Linear (same names, shapes and init).

    ``weight`` (out_features, in_features) and ``bias`` (out_features,) are drawn from
    U(-k, k) with k = 1 / sqrt(in_features), PyTorch's default.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype=np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(in_features)
        self.weight = self.register_parameter(
            "weight", rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
        )
        self.bias = (
            self.register_parameter("bias", rng.uniform(-bound, bound, out_features).astype(dtype))
            if bias
            else None
        )
        self._input_shape: tuple = ()
        self._rows: np.ndarray | None = None  # the input as X (N, I), kept for backward

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(..., in_features) -> (..., out_features), e.g. (T, B, I) -> (T, B, O)."""
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"x: expected shape (..., {self.in_features}), got {x.shape}")
        self._input_shape = x.shape
        self._rows = x.reshape(-1, self.in_features)
        y = self._rows @ self.weight.T  # (N, O)
        if self.bias is not None:
            y += self.bias
        return y.reshape(x.shape[:-1] + (self.out_features,))

    __call__ = forward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dy (..., out_features) -> dL/dx (..., in_features); adds to the weight, bias grads."""
        if self._rows is None:
            raise RuntimeError("Linear.backward called before forward")
        expected = self._input_shape[:-1] + (self.out_features,)
        if dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected} (the output's), got {dy.shape}")
        dy_rows = dy.reshape(-1, self.out_features)  # dY (N, O)
        weight_grad = self.weight_grad()
        weight_grad += dy_rows.T @ self._rows
        if self.bias is not None:
            self._grads["bias"] += dy_rows.sum(axis=0)
        return (dy_rows @ self.weight).reshape(self._input_shape)

    def weight_grad(self) -> np.ndarray:
        """The array dW adds into: this layer's own gradient of ``weight``."""
        return self._grads["weight"]


class TiedLinear(Linear):
    """y = x E^T + b, E the ``weight`` of ``embedding`` (V, D): an output layer tied to the input embedding.

    Its only parameter is ``bias`` (V,), drawn as ``Linear``'s; ``weight`` is the embedding's own
    array, saved, loaded and updated as ``embedding.weight``, and ``backward`` adds dE into
    the embedding's gradient. ``in_features`` = D, ``out_features`` = V.
    """

    def __init__(self, embedding, bias: bool = True, rng: np.random.Generator | int | None = None) -> None:
        Module.__init__(self)
        object.__setattr__(self, "embedding", embedding)   # not a child: its weight is not this layer's parameter
        self.out_features, self.in_features = embedding.weight.shape
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(self.in_features)
        self.bias = (self.register_parameter("bias", rng.uniform(-bound, bound, self.out_features)
                                             .astype(embedding.weight.dtype)) if bias else None)
        self._input_shape: tuple = ()
        self._rows: np.ndarray | None = None

    @property
    def weight(self) -> np.ndarray:
        """E, the embedding's weight (the array itself)."""
        return self.embedding.weight

    def weight_grad(self) -> np.ndarray:
        """The embedding's gradient: dE from the output adds to dE from the lookup."""
        return self.embedding.grads["weight"]
