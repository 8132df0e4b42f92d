"""A fully connected layer, y = x W^T + b, applied at every position of a sequence.

For x of shape (..., I), W (O, I) and b (O,), flattening the leading axes into N rows
makes the whole sequence one matrix product:

    forward:   Y = X W^T + b                 X (N, I), Y (N, O)
    backward:  dW += dY^T X     db += sum_n dY_n     dX = dY W
"""

from __future__ import annotations

import numpy as np

from rnnkit.module import Module


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
        self._grads["weight"] += dy_rows.T @ self._rows
        if self.bias is not None:
            self._grads["bias"] += dy_rows.sum(axis=0)
        return (dy_rows @ self.weight).reshape(self._input_shape)
