"""Layer normalisation (Ba, Kiros & Hinton 2016), and what the layer-normalised cells share.

For one row a (N,), here one sample's N values at one time step:

    mu    = mean(a)
    sigma = sqrt(mean((a - mu)^2) + eps)           eps = 1e-5, as torch.nn.LayerNorm
    â     = (a - mu) / sigma                       ``normalize``; the cache keeps â and 1/sigma
    LN(a; gamma, beta) = gamma * â + beta          gain gamma, bias beta, (N,) each

The paper's sigma has no eps; without it a zero row (the recurrent projection of a
zero initial state) would be 0/0. Backward, given dy (w.r.t. LN(a)) and
g = dy * gamma (w.r.t. â), for one row:

    da     = (g - mean(g) - â * mean(g * â)) / sigma          ``normalize_backward``
    dgamma = sum over rows and steps of dy * â,  dbeta = sum of dy

The layer-normalised cells (``LayerNormLSTMCell``, ``LayerNormGRUCell``) normalise the
input and the recurrent projections apart, each over all its G*H gate rows at once
(G gates, as the paper's LN(W_h h_{t-1}) of the whole (4H,) vector), with gains and
biases of their own, and add the cell's bias after, as the paper's LSTM:

    u = LN(x_t W_ih^T;     gamma_ih, beta_ih) + b_ih          (B, G*H)
    v = LN(h_{t-1} W_hh^T; gamma_hh, beta_hh) + b_hh          (B, G*H)

(the paper's ``b`` is b_ih + b_hh, split as PyTorch splits it). The time loop gives
a step xw_t = x_t W_ih^T without biases (``input_bias`` is zero); the step fills
``cache.dinput[t]`` and ``cache.dhidden[t]``, the gradients w.r.t. u and v, and
``projection_grads`` turns them into the loop's dxw[t] (w.r.t. x_t W_ih^T) and dhw[t]
(w.r.t. h_{t-1} W_hh^T):

    dxw = LN'(du * gamma_ih),   dhw = LN'(dv * gamma_hh),   dh_prev gets dhw W_hh
    db_ih = dbeta_ih = sum du,  dgamma_ih = sum du * â_x;   the same with dv for _hh

Parameter names (the layer adds ``_l{k}``, ``_reverse``): ``ln_ih_weight``, ``ln_ih_bias``
(gamma_ih, beta_ih), ``ln_hh_weight``, ``ln_hh_bias`` (gamma_hh, beta_hh); gains start
at 1, biases at 0, as torch.nn.LayerNorm. beta_ih and b_ih add to the same entries
(beta_hh and b_hh too), so only their sums matter, as with PyTorch's b_ih + b_hh; each
of the paper's parameters and PyTorch's keeps a name. ``bias=False`` on the layer drops
b_ih and b_hh, not the normalisations' own beta.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.cells.base import Cell, CellCache, FreshArrays, flat

EPS = 1e-5


def normalize(a: np.ndarray, normalized: np.ndarray, inv_sigma: np.ndarray) -> np.ndarray:
    """â = (a - mean(a)) / sigma along the last axis, into ``normalized`` (B, N); 1/sigma into ``inv_sigma`` (B, 1)."""
    per_entry = 1.0 / a.shape[-1]           # sums times 1/N on the (B, 1) columns: cheaper than ``mean``
    mean = a.sum(axis=-1, keepdims=True)
    mean *= per_entry
    np.subtract(a, mean, out=normalized)
    np.einsum("bn,bn->b", normalized, normalized, out=inv_sigma[:, 0])
    inv_sigma *= per_entry                  # the variance
    inv_sigma += EPS
    np.sqrt(inv_sigma, out=inv_sigma)
    np.divide(1.0, inv_sigma, out=inv_sigma)
    normalized *= inv_sigma
    return normalized


def normalize_backward(dnormalized: np.ndarray, normalized: np.ndarray, inv_sigma: np.ndarray,
                       out: np.ndarray | None = None) -> np.ndarray:
    """da = (g - mean(g) - â mean(g â)) / sigma for g = ``dnormalized`` (w.r.t. â); rows of (B, N)."""
    per_entry = 1.0 / dnormalized.shape[-1]
    mean_g = dnormalized.sum(axis=-1, keepdims=True)
    mean_g *= per_entry
    mean_g_normalized = np.einsum("bn,bn->b", dnormalized, normalized)[:, None]
    mean_g_normalized *= per_entry
    out = np.multiply(normalized, mean_g_normalized, out=out)
    out += mean_g
    np.subtract(dnormalized, out, out=out)
    out *= inv_sigma
    return out


def accumulate_norm_grads(grads, name: str, dy: np.ndarray, normalized: np.ndarray) -> None:
    """d``name``_weight += sum dy * â, d``name``_bias += sum dy over steps and rows (T, B, N)."""
    grads[f"{name}_weight"] += np.einsum("tbn,tbn->n", dy, normalized)
    grads[f"{name}_bias"] += dy.sum(axis=(0, 1))


@dataclass
class ProjectionNormCache(CellCache):
    """The buffers of the two normalised projections, the base of each layer-normalised cell's cache."""

    input_normalized: np.ndarray       # (T, B, G*H): â_x, x_t W_ih^T normalised
    input_inv_sigma: np.ndarray        # (T, B, 1)
    hidden_normalized: np.ndarray      # (T, B, G*H): â_h, h_{t-1} W_hh^T normalised
    hidden_inv_sigma: np.ndarray       # (T, B, 1)
    hidden_product: np.ndarray         # (B, G*H): h_{t-1} W_hh^T, then v, of the step running
    dinput: np.ndarray                 # (T, B, G*H): gradient w.r.t. u (the LSTM: the same array as dhidden)
    dhidden: np.ndarray                # (T, B, G*H): gradient w.r.t. v


class ProjectionNormCell(Cell):
    """A cell whose input and recurrent projections are layer-normalised apart (see the module's docstring)."""

    NORMS = ("ln_ih", "ln_hh")

    def parameter_shapes(self, input_size):
        shapes = super().parameter_shapes(input_size)
        for name in self.NORMS:
            size = self.norm_size(name)
            shapes[f"{name}_weight"], shapes[f"{name}_bias"] = (size,), (size,)
        return shapes

    def norm_size(self, name: str) -> int:
        """N of the normalisation ``name``: G*H for the projections."""
        return self.num_gates * self.hidden_size

    def initial_value(self, name, shape, dtype):
        """Gains 1 and biases 0, as torch.nn.LayerNorm; the rest drawn by the layer."""
        if name.startswith("ln_"):
            return np.full(shape, 1.0 if name.endswith("_weight") else 0.0, dtype)
        return None

    def input_bias(self, p) -> np.ndarray:
        """Zero: x_t W_ih^T is normalised before b_ih is added, which the step does."""
        return np.zeros_like(p["bias_ih"])

    def accumulate_input_bias_grad(self, grads, dxw) -> None:
        """Nothing here: dxw is the gradient before the normalisation; db_ih is added by ``accumulate_hidden_grads``."""

    def allocate_projections(self, steps, batch, dtype, space, same_gradient: bool) -> dict:
        """The ``ProjectionNormCache`` fields; ``same_gradient``: du and dv are one array (u and v are summed)."""
        rows = self.num_gates * self.hidden_size
        dinput = space.empty("dinput", (steps, batch, rows), dtype)
        return dict(
            h=self.new_outputs(steps, batch, dtype),
            input_normalized=space.empty("input_normalized", (steps, batch, rows), dtype),
            input_inv_sigma=space.empty("input_inv_sigma", (steps, batch, 1), dtype),
            hidden_normalized=space.empty("hidden_normalized", (steps, batch, rows), dtype),
            hidden_inv_sigma=space.empty("hidden_inv_sigma", (steps, batch, 1), dtype),
            hidden_product=space.empty("hidden_product", (batch, rows), dtype),
            dinput=dinput,
            dhidden=dinput if same_gradient else space.empty("dhidden", (steps, batch, rows), dtype),
        )

    def grad_buffers(self, steps, batch, dtype, space=FreshArrays):
        shape = (steps, batch, self.num_gates * self.hidden_size)
        return space.empty("dxw", shape, dtype), space.empty("dhw", shape, dtype)

    def normalized_projections(self, p, weight_hh_T, xw_t, cache: ProjectionNormCache, t):
        """u (written over ``xw_t``) and v (in ``cache.hidden_product``) of step t; returns (u, v)."""
        input_normalized = normalize(xw_t, cache.input_normalized[t], cache.input_inv_sigma[t])
        u = np.multiply(input_normalized, p["ln_ih_weight"], out=xw_t)
        u += p["ln_ih_bias"] + p["bias_ih"]
        hidden_product = np.dot(cache.h[t], weight_hh_T, out=cache.hidden_product)
        hidden_normalized = normalize(hidden_product, cache.hidden_normalized[t], cache.hidden_inv_sigma[t])
        v = np.multiply(hidden_normalized, p["ln_hh_weight"], out=hidden_product)
        v += p["ln_hh_bias"] + p["bias_hh"]
        return u, v

    def projection_grads(self, p, cache: ProjectionNormCache, t, dxw, dhw) -> np.ndarray:
        """dxw[t] and dhw[t] from ``cache.dinput[t]`` and ``cache.dhidden[t]``; returns dhw[t] W_hh (for dh_prev)."""
        normalize_backward(cache.dinput[t] * p["ln_ih_weight"], cache.input_normalized[t],
                           cache.input_inv_sigma[t], out=dxw[t])
        normalize_backward(cache.dhidden[t] * p["ln_hh_weight"], cache.hidden_normalized[t],
                           cache.hidden_inv_sigma[t], out=dhw[t])
        return dhw[t] @ p["weight_hh"]

    def accumulate_hidden_grads(self, p, grads, cache: ProjectionNormCache, dhw) -> None:
        """dW_hh = sum dhw^T h_{t-1}; b_ih, b_hh and both normalisations' gains and biases."""
        grads["weight_hh"] += flat(dhw).T @ flat(cache.h[:-1])
        grads["bias_ih"] += cache.dinput.sum(axis=(0, 1))
        grads["bias_hh"] += cache.dhidden.sum(axis=(0, 1))
        accumulate_norm_grads(grads, "ln_ih", cache.dinput, cache.input_normalized)
        accumulate_norm_grads(grads, "ln_hh", cache.dhidden, cache.hidden_normalized)
