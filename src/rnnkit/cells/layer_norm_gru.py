"""The layer-normalised GRU cell, reset-after form (PyTorch's, cuDNN's), after Ba, Kiros & Hinton 2016.

The paper normalises the LSTM's two projections apart (``rnnkit.cells.layer_norm_lstm``);
here the GRU's are, the same way, each over all 3H gate rows (gates r, z, n in
PyTorch's order; rows the batch):

    u   = LN(x_t W_ih^T;     gamma_ih, beta_ih) + b_ih                    (B, 3H), blocks u_r, u_z, u_n
    v   = LN(h_{t-1} W_hh^T; gamma_hh, beta_hh) + b_hh                    (B, 3H), blocks v_r, v_z, v_n
    r   = sigmoid(u_r + v_r)                                              reset gate
    z   = sigmoid(u_z + v_z)                                              update gate
    n   = tanh(u_n + r * v_n)                                             candidate
    h_t = (1 - z) * n + z * h_{t-1}

The reset gate multiplies the *normalised* recurrent block: v_n = gamma_hn * â_hn + beta_hn
+ b_hn, where â_hn is the n block of h_{t-1} W_hh^T normalised with the statistics of all
3H rows. So LN comes first, r * (...) after, and b_hn sits inside r * (...) as in the plain
reset-after GRU. The reset-before form (r * h_{t-1}) W_hn^T has no whole W_hh h_{t-1}
to normalise and is not offered.

Backward, given dh (w.r.t. h_t, from the output and from step t+1), into du, dv (w.r.t.
u, v; kept for the gains and biases) in blocks [r, z, n]:

    dn_pre = dh * (1 - z) * (1 - n^2)
    dz_pre = dh * (h_{t-1} - n) * z (1 - z)
    dr_pre = dn_pre * v_n * r (1 - r)
    du = [dr_pre, dz_pre, dn_pre]        dv = [dr_pre, dz_pre, dn_pre * r]
    dxw, dhw through the normalisations (``ProjectionNormCell.projection_grads``)
    dh_prev = dh * z + dhw W_hh

Parameters beyond the GRU's: ``ln_ih_weight``, ``ln_ih_bias``, ``ln_hh_weight``,
``ln_hh_bias`` (3H,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.base import FreshArrays
from rnnkit.cells.gru import reset_after_backward, reset_after_forward
from rnnkit.cells.layer_norm import ProjectionNormCache, ProjectionNormCell


@dataclass
class LayerNormGRUCache(ProjectionNormCache):
    """The LN-GRU's buffers of one sequence; ``dinput`` (du) and ``dhidden`` (dv) differ in the n block."""

    gates: np.ndarray              # (T, B, 3H): r, z, n after their activations
    reset_term: np.ndarray         # (T, B, H): v_n, what r multiplies


class LayerNormGRUCell(ProjectionNormCell):
    num_gates = 3
    state_names = ("h",)
    reset_after = True

    def allocate(self, steps, batch, dtype, space=FreshArrays) -> LayerNormGRUCache:
        H = self.hidden_size
        return LayerNormGRUCache(
            **self.allocate_projections(steps, batch, dtype, space, same_gradient=False),
            gates=space.empty("gates", (steps, batch, 3 * H), dtype),
            reset_term=space.empty("reset_term", (steps, batch, H), dtype),
        )

    def step_forward(self, p, weight_hh_T, xw_t, cache: LayerNormGRUCache, t):
        u, v = self.normalized_projections(p, weight_hh_T, xw_t, cache, t)   # u: xw_t, ours to overwrite
        reset_after_forward(u, v, cache.h[t], cache.gates[t], cache.reset_term[t], cache.h[t + 1])

    def step_backward(self, p, dstate, cache: LayerNormGRUCache, t, dxw, dhw):
        H = self.hidden_size
        (dh,) = dstate
        gates = cache.gates[t]
        reset_after_backward(dh, cache.h[t], gates, cache.reset_term[t], cache.dinput[t], cache.dhidden[t])
        return (dh * gates[:, H:2 * H] + self.projection_grads(p, cache, t, dxw, dhw),)
