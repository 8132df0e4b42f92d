"""rnnkit's peephole LSTM and reset-before GRU against references written from the papers.

PyTorch has neither cell, so the parity tests elsewhere cannot vouch for them. The
references in ``paper_reference.py`` share no code with rnnkit: they are the papers'
equations in plain per-sequence, per-step loops, differentiated by torch's autograd in
float64. Here rnnkit's layers (float64, NumPy) must agree with them within 1e-10 on
outputs, final states, the gradients of the input and the initial states, and every
parameter gradient, over 1 and 2 layers, one and two directions, padded batches with
lengths, with and without an initial state.

The gradients compared are those of the scalar  L = <y, dy> + <h_n, dh_n> (+ <c_n, dc_n>)
for random dy, dh_n, dc_n: rnnkit's ``backward(dy, dh_n)`` computes exactly dL/d(...).
"""

import itertools

import numpy as np
import pytest

import rnnkit
from paper_reference import cho_gru_step, peephole_lstm_step, run_stack
from torch_oracle import require_torch

torch = require_torch()

INPUT, HIDDEN, STEPS, BATCH = 3, 4, 6, 3
LENGTHS = np.array([4, 6, 1])            # unsorted, one full, one of a single step
TOLERANCE = 1e-10

# rnnkit keeps PyTorch's layout: the gates' rows stacked in W_ih (4H or 3H, input), W_hh and two
# biases b_ih, b_hh that are always summed (reset-before GRU included: b_hn stays outside the reset).
# These tables name each block of rows by the matrix the paper calls it.
LSTM_BLOCKS = {   # rnnkit's gate order i, f, g, o
    "weight_ih": ("W_i", "W_f", "W_c", "W_o"),
    "weight_hh": ("U_i", "U_f", "U_c", "U_o"),
    "bias": ("b_i", "b_f", "b_c", "b_o"),          # b_ih + b_hh
}
LSTM_PEEPHOLES = {"weight_ci": "p_i", "weight_cf": "p_f", "weight_co": "p_o"}
GRU_BLOCKS = {    # rnnkit's gate order r, z, n
    "weight_ih": ("W_r", "W_z", "W"),
    "weight_hh": ("U_r", "U_z", "U"),
    "bias": ("b_r", "b_z", "b"),                   # b_ih + b_hh
}


def paper_parameters(layer, blocks, peepholes, suffix):
    """The paper's matrices of one (layer, direction) as float64 leaf tensors, from rnnkit's parameters."""
    params = layer.parameters()
    H = layer.hidden_size

    def rows(array, j):
        return array[j * H:(j + 1) * H]

    paper = {}
    for rnnkit_name in ("weight_ih", "weight_hh"):
        for j, paper_name in enumerate(blocks[rnnkit_name]):
            paper[paper_name] = rows(params[rnnkit_name + suffix], j)
    bias = params["bias_ih" + suffix] + params["bias_hh" + suffix]
    for j, paper_name in enumerate(blocks["bias"]):
        paper[paper_name] = rows(bias, j)
    for rnnkit_name, paper_name in peepholes.items():
        paper[paper_name] = params[rnnkit_name + suffix]
    return {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in paper.items()}


def expected_grads(paper, blocks, peepholes, suffix):
    """rnnkit's parameter gradients, assembled from the autograd gradients of the paper's matrices."""
    grads = {}
    for rnnkit_name in ("weight_ih", "weight_hh"):
        grads[rnnkit_name + suffix] = torch.cat([paper[name].grad for name in blocks[rnnkit_name]])
    bias = torch.cat([paper[name].grad for name in blocks["bias"]])
    grads["bias_ih" + suffix] = grads["bias_hh" + suffix] = bias   # a sum's terms share its gradient
    for rnnkit_name, paper_name in peepholes.items():
        grads[rnnkit_name + suffix] = paper[paper_name].grad
    return {name: grad.numpy() for name, grad in grads.items()}


CELLS = {
    "peephole-lstm": (lambda **kw: rnnkit.LSTM(INPUT, HIDDEN, peephole=True, **kw), peephole_lstm_step,
                      LSTM_BLOCKS, LSTM_PEEPHOLES),
    "reset-before-gru": (lambda **kw: rnnkit.GRU(INPUT, HIDDEN, reset_after=False, **kw), cho_gru_step,
                         GRU_BLOCKS, {}),
}


def compare(cell, num_layers, bidirectional, lengths, initial, seed=0):
    make, step, blocks, peepholes = CELLS[cell]
    layer = make(num_layers=num_layers, bidirectional=bidirectional, dtype=np.float64, rng=seed)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(seed + 1)
    # larger weights than the default initialisation, so the gates leave their linear range
    for value in layer.parameters().values():
        value[...] = rng.uniform(-0.8, 0.8, value.shape)
    is_lstm = cell == "peephole-lstm"
    state_count = 2 if is_lstm else 1
    x = rng.standard_normal((STEPS, BATCH, INPUT))
    states0 = [rng.standard_normal((num_layers * D, BATCH, HIDDEN)) if initial
               else np.zeros((num_layers * D, BATCH, HIDDEN)) for _ in range(state_count)]
    dy = rng.standard_normal((STEPS, BATCH, D * HIDDEN))     # past the ends too: it must not count
    dstates = [rng.standard_normal((num_layers * D, BATCH, HIDDEN)) for _ in range(state_count)]

    # rnnkit
    hx = None if not initial else (tuple(states0) if is_lstm else states0[0])
    y, final = layer(x, hx, lengths=lengths)
    finals = list(final) if is_lstm else [final]
    layer.zero_grad()
    dx, dinitial = layer.backward(dy, tuple(dstates) if is_lstm else dstates[0])
    dinitials = list(dinitial) if is_lstm else [dinitial]

    # the paper
    suffixes = [f"_l{k // D}" + ("_reverse" if k % D else "") for k in range(num_layers * D)]
    paper = [paper_parameters(layer, blocks, peepholes, suffix) for suffix in suffixes]
    x_ref = torch.tensor(x, requires_grad=True)
    states_ref = [torch.tensor(s, requires_grad=True) for s in states0]   # zeros: still differentiable
    y_ref, finals_ref = run_stack(step, x_ref, lengths, paper, states_ref, num_layers, D)
    loss = (y_ref * torch.tensor(dy)).sum() + sum((f * torch.tensor(d)).sum() for f, d in zip(finals_ref, dstates))
    loss.backward()

    def close(actual, expected, what):
        np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE, err_msg=what)

    close(y, y_ref.detach().numpy(), "output y")
    for name, actual, expected in zip(("h_n", "c_n"), finals, finals_ref):
        close(actual, expected.detach().numpy(), name)
    close(dx, x_ref.grad.numpy(), "dx")
    for name, actual, expected in zip(("dh0", "dc0"), dinitials, states_ref):
        close(actual, expected.grad.numpy(), name)
    grads = layer.grads
    expected = {}
    for suffix, tensors in zip(suffixes, paper):
        expected.update(expected_grads(tensors, blocks, peepholes, suffix))
    assert sorted(expected) == sorted(grads)                  # every parameter is compared
    for name in sorted(grads):
        close(grads[name], expected[name], f"gradient of {name}")


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("num_layers, bidirectional, with_lengths, initial",
                         list(itertools.product((1, 2), (False, True), (False, True), (False, True))))
def test_layer_matches_the_papers_equations(cell, num_layers, bidirectional, with_lengths, initial):
    compare(cell, num_layers, bidirectional, LENGTHS if with_lengths else None, initial)


def test_padding_past_the_ends_changes_nothing():
    """The reverse direction starts at each sequence's own last step: garbage in the padding
    must change neither outputs nor gradients (checked through the reference, which never reads it)."""
    layer = rnnkit.GRU(INPUT, HIDDEN, reset_after=False, bidirectional=True, dtype=np.float64, rng=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((STEPS, BATCH, INPUT))
    noisy = x.copy()
    for b, length in enumerate(LENGTHS):
        noisy[length:, b] = 1e3 * rng.standard_normal((STEPS - length, INPUT))
    y_clean, h_clean = layer(x, lengths=LENGTHS)
    y_noisy, h_noisy = layer(noisy, lengths=LENGTHS)
    np.testing.assert_array_equal(y_clean, y_noisy)
    np.testing.assert_array_equal(h_clean, h_noisy)


# -- the reference itself: with its peepholes at zero the LSTM reference is torch.nn.LSTM -------------------
# This checks the reference's stacking, directions and lengths (shared by both cells) against an
# implementation that owes nothing to either rnnkit or the reference.

@pytest.mark.parametrize("bidirectional, with_lengths", [(False, False), (True, True)])
def test_reference_without_peepholes_is_torch_lstm(bidirectional, with_lengths):
    torch.manual_seed(0)
    D = 2 if bidirectional else 1
    lstm = torch.nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=bidirectional, dtype=torch.float64)
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    h0, c0 = (torch.randn(2 * D, BATCH, HIDDEN, dtype=torch.float64) for _ in range(2))
    lengths = LENGTHS if with_lengths else None
    if with_lengths:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(LENGTHS), enforce_sorted=False)
        y_packed, (h_n, c_n) = lstm(packed, (h0, c0))
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y_packed, total_length=STEPS)
    else:
        y, (h_n, c_n) = lstm(x, (h0, c0))

    state = lstm.state_dict()
    paper = []
    for k in range(2 * D):
        suffix = f"_l{k // D}" + ("_reverse" if k % D else "")
        bias = state["bias_ih" + suffix] + state["bias_hh" + suffix]
        P = {name: block for names, whole in ((LSTM_BLOCKS["weight_ih"], state["weight_ih" + suffix]),
                                              (LSTM_BLOCKS["weight_hh"], state["weight_hh" + suffix]),
                                              (LSTM_BLOCKS["bias"], bias))
             for name, block in zip(names, whole.split(HIDDEN))}
        P |= {name: torch.zeros(HIDDEN, dtype=torch.float64) for name in LSTM_PEEPHOLES.values()}
        paper.append(P)
    with torch.no_grad():
        y_ref, (h_ref, c_ref) = run_stack(peephole_lstm_step, x, lengths, paper, [h0, c0], 2, D)
        for actual, expected in ((y_ref, y), (h_ref, h_n), (c_ref, c_n)):
            np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=0, atol=TOLERANCE)
