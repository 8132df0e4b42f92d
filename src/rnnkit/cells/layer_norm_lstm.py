"""The layer-normalised LSTM cell (Ba, Kiros & Hinton 2016, "Layer Normalization", supplementary
material, "Layer-normalized LSTM"), with optional peepholes.

The paper's equations, with gates in PyTorch's order i, f, g, o (columns of z; rows of
W_ih, W_hh) and rows the batch as in the code:

    z_t = LN(x_t W_ih^T; gamma_ih, beta_ih) + LN(h_{t-1} W_hh^T; gamma_hh, beta_hh) + b_ih + b_hh    (B, 4H)
    i   = sigmoid(z_i + w_ci * c_{t-1})
    f   = sigmoid(z_f + w_cf * c_{t-1})
    g   = tanh(z_g)
    c_t = f * c_{t-1} + i * g                                    the state carried: not normalised
    l_t = LN(c_t; gamma_c, beta_c)                               (B, H)
    o   = sigmoid(z_o + w_co * c_t)
    h_t = o * tanh(l_t)

LN normalises each row over all its entries (4H for the projections, H for c_t; see
``rnnkit.cells.layer_norm``, eps 1e-5), so the statistics of the two projections are
taken over the four gates together, as the paper's LN(W_h h_{t-1}). The paper's
alpha_1, beta_1 are gamma_hh, beta_hh here; alpha_2, beta_2 gamma_ih, beta_ih;
alpha_3, beta_3 gamma_c, beta_c; its b is b_ih + b_hh. Peepholes (zero or absent in
the paper) see the unnormalised c. ``h_t`` feeds the next step's W_hh unnormalised.

Backward, given dh and dc_next (w.r.t. h_t and c_t, from the output and step t+1):

    dz_o    = dh * tanh(l_t) * o (1 - o)
    dl      = dh * o * (1 - tanh(l_t)^2)                         kept: dgamma_c += sum dl * ĉ_t, dbeta_c += sum dl
    dc      = dc_next + LN'(dl * gamma_c) + dz_o * w_co          LN'(g) = (g - mean(g) - ĉ mean(g ĉ)) / sigma_c
    dz_i    = dc * g * i (1 - i)
    dz_f    = dc * c_{t-1} * f (1 - f)
    dz_g    = dc * i * (1 - g^2)
    dc_prev = dc * f + dz_i * w_ci + dz_f * w_cf
    dz, the gradient of both normalised projections (u + v), goes through their
    normalisations (``ProjectionNormCell.projection_grads``): dxw, dhw, dh_prev = dhw W_hh

Parameters beyond the LSTM's: ``ln_ih_weight``, ``ln_ih_bias``, ``ln_hh_weight``,
``ln_hh_bias`` (4H,), ``ln_cell_weight``, ``ln_cell_bias`` (H,); with peepholes
``weight_ci``, ``weight_cf``, ``weight_co`` (H,). No projection (``proj_size``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.activations import sigmoid_grad, tanh_grad
from rnnkit.cells.base import FreshArrays
from rnnkit.cells.lstm import accumulate_peephole_grads, gates_backward, gates_forward
from rnnkit.cells.layer_norm import (ProjectionNormCache, ProjectionNormCell, accumulate_norm_grads, normalize,
                                     normalize_backward)


@dataclass
class LayerNormLSTMCache(ProjectionNormCache):
    """The LN-LSTM's buffers of one sequence; ``dinput`` and ``dhidden`` are the same array, dz."""

    c: np.ndarray                  # (T+1, B, H): c[t] the cell state before step t
    gates: np.ndarray              # (T, B, 4H): i, f, g, o after their activations
    cell_normalized: np.ndarray    # (T, B, H): ĉ_t, c_t normalised
    cell_inv_sigma: np.ndarray     # (T, B, 1)
    tanh_cell: np.ndarray          # (T, B, H): tanh(l_t), l_t = gamma_c * ĉ_t + beta_c
    dcell_norm: np.ndarray         # (T, B, H): dl, the gradient w.r.t. l_t, for gamma_c and beta_c


class LayerNormLSTMCell(ProjectionNormCell):
    num_gates = 4
    state_names = ("h", "c")
    NORMS = ("ln_ih", "ln_hh", "ln_cell")

    def __init__(self, hidden_size: int, peephole: bool = False):
        super().__init__(hidden_size)
        self.peephole = peephole

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, self.hidden_size)

    def norm_size(self, name):
        return self.hidden_size if name == "ln_cell" else super().norm_size(name)

    def parameter_shapes(self, input_size):
        shapes = super().parameter_shapes(input_size)
        if self.peephole:
            for name in ("weight_ci", "weight_cf", "weight_co"):
                shapes[name] = (self.hidden_size,)
        return shapes

    def allocate(self, steps, batch, dtype, space=FreshArrays) -> LayerNormLSTMCache:
        H = self.hidden_size
        return LayerNormLSTMCache(
            **self.allocate_projections(steps, batch, dtype, space, same_gradient=True),
            c=space.empty("c", (steps + 1, batch, H), dtype),
            gates=space.empty("gates", (steps, batch, 4 * H), dtype),
            cell_normalized=space.empty("cell_normalized", (steps, batch, H), dtype),
            cell_inv_sigma=space.empty("cell_inv_sigma", (steps, batch, 1), dtype),
            tanh_cell=space.empty("tanh_cell", (steps, batch, H), dtype),
            dcell_norm=space.empty("dcell_norm", (steps, batch, H), dtype),
        )

    def step_forward(self, p, weight_hh_T, xw_t, cache: LayerNormLSTMCache, t):
        c = cache.c[t + 1]
        z, v = self.normalized_projections(p, weight_hh_T, xw_t, cache, t)   # z holds u: xw_t, ours to overwrite
        z += v
        output_gate = gates_forward(p, z, cache.c[t], c, cache.gates[t], self.peephole)
        cell_normalized = normalize(c, cache.cell_normalized[t], cache.cell_inv_sigma[t])
        tanh_cell = np.multiply(cell_normalized, p["ln_cell_weight"], out=cache.tanh_cell[t])
        tanh_cell += p["ln_cell_bias"]
        np.tanh(tanh_cell, out=tanh_cell)
        np.multiply(output_gate, tanh_cell, out=cache.h[t + 1])

    def step_backward(self, p, dstate, cache: LayerNormLSTMCache, t, dxw, dhw):
        H = self.hidden_size
        dh, dc_next = dstate
        output_gate, tanh_cell = cache.gates[t][:, 3 * H:], cache.tanh_cell[t]

        dz = cache.dinput[t]                  # (B, 4H), filled gate by gate
        np.multiply(dh * tanh_cell, sigmoid_grad(output_gate), out=dz[:, 3 * H:])
        dcell_norm = np.multiply(dh * output_gate, tanh_grad(tanh_cell), out=cache.dcell_norm[t])
        dc = dc_next + normalize_backward(dcell_norm * p["ln_cell_weight"], cache.cell_normalized[t],
                                          cache.cell_inv_sigma[t])
        dc_prev = gates_backward(p, dz, dc, cache.gates[t], cache.c[t], self.peephole)
        return self.projection_grads(p, cache, t, dxw, dhw), dc_prev

    def accumulate_hidden_grads(self, p, grads, cache: LayerNormLSTMCache, dhw):
        super().accumulate_hidden_grads(p, grads, cache, dhw)
        accumulate_norm_grads(grads, "ln_cell", cache.dcell_norm, cache.cell_normalized)
        if self.peephole:
            accumulate_peephole_grads(grads, cache.dinput, cache.c)
