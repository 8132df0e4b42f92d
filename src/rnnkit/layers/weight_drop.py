"""DropConnect on the recurrent weights W_hh (Wan et al. 2013): the weight-drop of AWD-LSTM (Merity et al. 2017).

One mask M per call, per layer and direction, the same at every time step and for
every sequence of the batch, on the hidden-to-hidden weights only:

    W~_hh = W_hh * M            M_ij = 1/(1-p) with probability 1-p, else 0
    the layer's steps run with W~_hh in place of W_hh, forward and backward
    dW_hh += dW~_hh * M         (dW~_hh: the time loop's sum_t dhw[t]^T h_{t-1})

In evaluation mode M = 1 (as inverted dropout, E[W~_hh] = W_hh). The dropped weights
are only other weights, so the compiled steps run them as they are: nothing in the
kernels knows of this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.layers.dropout import dropout_mask


@dataclass(frozen=True)
class WeightDrop:
    """The mask of one call and the parameters its steps run with (W~_hh for ``weight_hh``)."""

    mask: np.ndarray                  # (G*H, H_out): M
    params: dict[str, np.ndarray]     # the cell's parameters, with W~_hh = W_hh * M as ``weight_hh``

    @classmethod
    def draw(cls, rng: np.random.Generator, params, p: float) -> WeightDrop:
        """M from ``rng`` (float32 draws, faster than float64's for a G*H x H_out matrix) and the parameters
        with W~_hh."""
        weight = params["weight_hh"]
        mask = dropout_mask(rng, weight.shape, p, weight.dtype, uniform_dtype=np.float32)
        return cls(mask, {**params, "weight_hh": weight * mask})

    def sequence_grads(self, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The gradients a time loop adds into: the layer's own, but a zero dW~_hh for ``weight_hh``."""
        return {**grads, "weight_hh": np.zeros_like(self.mask)}

    def add_weight_grad(self, sequence_grads: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """dW_hh += dW~_hh * M."""
        grads["weight_hh"] += sequence_grads["weight_hh"] * self.mask
