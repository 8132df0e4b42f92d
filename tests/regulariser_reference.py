"""The regularised recurrent stacks written again in torch autograd, from the papers' equations.

Independent of rnnkit's code: the only things taken from rnnkit are its parameters and the masks
one of its calls drew (read from that call's cache), so that both compute the same function.
A unidirectional stack of LSTM, GRU (reset after) or tanh RNN layers, with

    x~ = x * M_x                                   input_dropout (locked: M_x (1, B, I))
    per layer k:  W~_hh = W_hh * M_W               weight_dropout (DropConnect, per call)
                  ĥ = h_{t-1} * m_h                recurrent_dropout (per sequence), only where W_hh reads h
                  s~_t = cell(x_t, ĥ, s_{t-1})     the cell's usual equations with W~_hh
                  s_t = d * s_{t-1} + (1 - d) * s~_t    zoneout: d 0/1 in training, p in evaluation
                  layer output * M_k between layers    locked_dropout
    y = y^{L-1} * M_y                              output_dropout
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CallMasks:
    """The masks of one rnnkit call, as float64 arrays (None: the regulariser was off)."""

    input_mask: np.ndarray | None
    gap_masks: list
    output_mask: np.ndarray | None
    hidden_masks: list               # per layer: (B, H) or None
    weight_masks: list               # per layer: (G*H, H) or None
    zoneout: list                    # per layer: per state, (T, B, N) 0/1 floats, a float p (evaluation), or None


def masks_of(layer) -> CallMasks:
    """The masks the last ``forward`` of an rnnkit layer drew, from its call cache."""
    cache = layer._cache
    noise = cache.noise

    def zoneout(z):
        if z is None:
            return None
        return z.p if z.kept is None else z.kept.astype(np.float64)

    return CallMasks(
        noise.input_mask, list(cache.dropout_masks), noise.output_mask,
        [sequence.cell.hidden_mask for sequence in cache.sequences],
        [None if drop is None else drop.mask for drop in noise.weight_drops],
        [[zoneout(z) for z in sequence.zoneout] or [None] * len(layer.cell.state_names)
         for sequence in cache.sequences])


def reference_forward(torch, kind: str, params: list[dict], x, initial: list, masks: CallMasks):
    """y and the final states of the stack, as torch tensors; ``params`` per layer, by the cell's names."""
    if masks.input_mask is not None:
        x = x * torch.tensor(masks.input_mask)
    finals = [[] for _ in initial]
    for k, p in enumerate(params):
        weight_hh = p["weight_hh"]
        if masks.weight_masks[k] is not None:
            weight_hh = weight_hh * torch.tensor(masks.weight_masks[k])
        state = [s[k] for s in initial]
        outputs = []
        for t in range(x.shape[0]):
            h = state[0]
            h_read = h if masks.hidden_masks[k] is None else h * torch.tensor(masks.hidden_masks[k])
            new = CELLS[kind](x[t], h_read, state, p, weight_hh)
            state = [zone(previous, candidate, masks.zoneout[k][s], t)
                     for s, (previous, candidate) in enumerate(zip(state, new))]
            outputs.append(state[0])
        x = torch.stack(outputs)
        if k < len(params) - 1 and masks.gap_masks:
            x = x * torch.tensor(masks.gap_masks[k])
        for s, value in enumerate(state):
            finals[s].append(value)
    if masks.output_mask is not None:
        x = x * torch.tensor(masks.output_mask)
    return x, [torch.stack(f) for f in finals]


def zone(previous, candidate, d, t):
    """Zoneout of one state: d * previous + (1 - d) * candidate (d: a (T, B, N) array, a float p, or None)."""
    if d is None:
        return candidate
    d_t = d if isinstance(d, float) else _tensor_like(d[t], candidate)
    return d_t * previous + (1 - d_t) * candidate


def _tensor_like(a, like):
    import torch
    return torch.tensor(a, dtype=like.dtype)


def lstm(x_t, h_read, state, p, weight_hh):
    import torch
    c = state[1]
    z = x_t @ p["weight_ih"].T + p["bias_ih"] + h_read @ weight_hh.T + p["bias_hh"]
    i, f, g, o = z.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new          # h~ reads the new c before zoneout (Krueger et al.)


def gru(x_t, h_read, state, p, weight_hh):
    import torch
    h = state[0]
    xw = x_t @ p["weight_ih"].T + p["bias_ih"]
    hw = h_read @ weight_hh.T + p["bias_hh"]
    x_r, x_z, x_n = xw.chunk(3, dim=-1)
    h_r, h_z, h_n = hw.chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return ((1 - z) * n + z * h,)                # the interpolation reads h itself, not ĥ


def rnn(x_t, h_read, state, p, weight_hh):
    import torch
    return (torch.tanh(x_t @ p["weight_ih"].T + p["bias_ih"] + h_read @ weight_hh.T + p["bias_hh"]),)


CELLS = {"lstm": lstm, "gru": gru, "rnn": rnn}


def compare_with_reference(torch, layer, kind: str, x: np.ndarray, initial: list, dy: np.ndarray,
                           dfinal: list) -> dict[str, float]:
    """Forward and backward of ``layer`` (float64, unidirectional, time-major) and of the torch reference with
    the masks the layer drew; the relative error of every result."""
    from rnnkit.gradcheck import relative_error

    pack = (lambda s: tuple(s)) if len(initial) == 2 else (lambda s: s[0])
    layer.zero_grad()
    y, final = layer(x, pack(initial))
    dx, dinitial = layer.backward(dy, pack(dfinal))
    masks = masks_of(layer)
    final, dinitial = (list(final), list(dinitial)) if len(initial) == 2 else ([final], [dinitial])

    params = [{name: torch.tensor(value, requires_grad=True) for name, value in layer.cell_parameters(k).items()}
              for k in range(layer.num_layers)]
    x_t = torch.tensor(x, requires_grad=True)
    initial_t = [torch.tensor(s, requires_grad=True) for s in initial]
    y_t, final_t = reference_forward(torch, kind, params, x_t, initial_t, masks)
    loss = (y_t * torch.tensor(dy)).sum() + sum((f * torch.tensor(d)).sum() for f, d in zip(final_t, dfinal))
    loss.backward()

    errors = {"y": relative_error(y, y_t.detach().numpy()), "dx": relative_error(dx, x_t.grad.numpy())}
    for s, (ours, theirs) in enumerate(zip(final, final_t)):
        errors[f"final{s}"] = relative_error(ours, theirs.detach().numpy())
    for s, (ours, theirs) in enumerate(zip(dinitial, initial_t)):
        errors[f"dinitial{s}"] = relative_error(ours, theirs.grad.numpy())
    for k, p in enumerate(params):
        for name, tensor in p.items():
            errors[f"{name}_l{k}"] = relative_error(layer.grads[f"{name}_l{k}"], tensor.grad.numpy())
    return errors
