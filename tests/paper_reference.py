"""Independent references for two recurrent cells, written straight from the papers' equations.

Nothing here comes from rnnkit (it is not imported): the equations are the papers',
in the papers' notation, one sequence and one time step at a time in plain Python
loops. Tensors are torch float64, and torch serves only as an automatic
differentiation engine (matrix-vector products and elementwise functions; never
``torch.nn.LSTM``/``GRU``), so the gradients of a reference come from autograd and
owe nothing to a hand derivation.

Peephole LSTM (Gers & Schmidhuber 2000, "Recurrent nets that time and count";
Gers, Schraudolph & Schmidhuber 2002, "Learning precise timing with LSTM recurrent
networks"), with forget gate and an output squashing tanh, in the form of Graves
(2013) and Greff et al. (2017, "LSTM: A search space odyssey", the "vanilla" LSTM).
The peephole weights p_i, p_f, p_o are diagonal (vectors): the input and forget gates
see the previous cell state c_{t-1}, the output gate sees the new one c_t:

    i_t = σ(W_i x_t + U_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)
    f_t = σ(W_f x_t + U_f h_{t-1} + p_f ⊙ c_{t-1} + b_f)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ tanh(W_c x_t + U_c h_{t-1} + b_c)
    o_t = σ(W_o x_t + U_o h_{t-1} + p_o ⊙ c_t + b_o)
    h_t = o_t ⊙ tanh(c_t)

GRU, "reset before" (Cho et al. 2014, "Learning phrase representations using RNN
encoder-decoder for statistical machine translation", eqs. 5-8; the paper writes no
biases, here each gate has one):

    r_t = σ(W_r x_t + U_r h_{t-1} + b_r)                 reset gate
    z_t = σ(W_z x_t + U_z h_{t-1} + b_z)                 update gate
    n_t = tanh(W x_t + U (r_t ⊙ h_{t-1}) + b)            candidate: the reset acts before U
    h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ n_t

Stacks, directions and lengths, as every framework composes them: layer k > 0 reads
the concatenation [forward, backward] of layer k-1's outputs; the backward direction
runs over each sequence from its own last step (lengths[b] - 1) down to step 0; the
outputs past a sequence's end are zero and its final state is the one after its own
last step (for the backward direction, after step 0).
"""

from __future__ import annotations

import torch


def peephole_lstm_step(x, state, P):
    """One step of the peephole LSTM for one sequence: x (I,), state (h, c) each (H,)."""
    h, c = state
    i = torch.sigmoid(P["W_i"] @ x + P["U_i"] @ h + P["p_i"] * c + P["b_i"])
    f = torch.sigmoid(P["W_f"] @ x + P["U_f"] @ h + P["p_f"] * c + P["b_f"])
    c_new = f * c + i * torch.tanh(P["W_c"] @ x + P["U_c"] @ h + P["b_c"])
    o = torch.sigmoid(P["W_o"] @ x + P["U_o"] @ h + P["p_o"] * c_new + P["b_o"])
    h_new = o * torch.tanh(c_new)
    return h_new, c_new


def cho_gru_step(x, state, P):
    """One step of Cho et al.'s GRU for one sequence: x (I,), state (h,) of shape (H,)."""
    (h,) = state
    r = torch.sigmoid(P["W_r"] @ x + P["U_r"] @ h + P["b_r"])
    z = torch.sigmoid(P["W_z"] @ x + P["U_z"] @ h + P["b_z"])
    n = torch.tanh(P["W"] @ x + P["U"] @ (r * h) + P["b"])
    h_new = z * h + (1.0 - z) * n
    return (h_new,)


def run_stack(step, x, lengths, params, initial_states, num_layers, num_directions):
    """Run a stack of cells over a padded batch, one sequence and one step at a time.

    ``step(x_t, state, P) -> state`` is one of the cells above (state[0] is the output h).
    ``x``: (T, B, I). ``lengths``: B ints, or None for all T. ``params[k]``: the paper-named
    tensors of layer ``k // num_directions``, direction ``k % num_directions`` (1: backward).
    ``initial_states``: one (num_layers * num_directions, B, H) tensor per state (h, or h and c).

    Returns ``y`` (T, B, num_directions * H), zero past each sequence's end, and the final
    states, each (num_layers * num_directions, B, H).
    """
    steps, batch = x.shape[0], x.shape[1]
    lengths = [steps] * batch if lengths is None else [int(n) for n in lengths]
    outputs = []                                   # per sequence: (T, D*H)
    finals = [[[None] * batch for _ in range(num_layers * num_directions)] for _ in initial_states]
    for b in range(batch):
        length = lengths[b]
        sequence = [x[t, b] for t in range(length)]
        for layer in range(num_layers):
            per_direction = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                state = tuple(s[k, b] for s in initial_states)
                out = [None] * length
                order = range(length) if direction == 0 else range(length - 1, -1, -1)
                for t in order:
                    state = step(sequence[t], state, params[k])
                    out[t] = state[0]
                for which, value in enumerate(state):
                    finals[which][k][b] = value
                per_direction.append(out)
            sequence = [torch.cat([out[t] for out in per_direction]) for t in range(length)]
        width = sequence[0].shape[0]
        padding = [torch.zeros(width, dtype=x.dtype)] * (steps - length)
        outputs.append(torch.stack(sequence + padding))
    y = torch.stack(outputs, dim=1)
    return y, tuple(torch.stack([torch.stack(per_batch) for per_batch in state]) for state in finals)
