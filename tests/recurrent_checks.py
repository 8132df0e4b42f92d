"""Shared checks for the recurrent layers: the gradcheck matrix and PyTorch parity.

Used by test_rnn.py, test_lstm.py and test_gru.py, one file per cell.
"""

from __future__ import annotations

import itertools

import numpy as np

from rnnkit import gradcheck
from rnnkit.gradcheck import relative_error

INPUT_SIZE, HIDDEN_SIZE, STEPS, BATCH = 3, 3, 4, 3
LENGTHS = np.array([4, 2, 3])

# layers x bidirectional x lengths x initial state: the matrix every cell variant passes
STRUCTURE_MATRIX = list(itertools.product([1, 2], [False, True], [False, True], [False, True]))
STRUCTURE_IDS = [
    f"{layers}layer-{'bi' if bi else 'uni'}-{'lengths' if lengths else 'full'}-{'h0' if h0 else 'zero'}"
    for layers, bi, lengths, h0 in STRUCTURE_MATRIX
]


# every structural option PyTorch has, for the parity tests
TORCH_OPTIONS = [
    dict(num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bi)
    for layers, bias, batch_first, bi in itertools.product([1, 2], [True, False], [False, True], [False, True])
]
TORCH_OPTION_IDS = [
    f"{o['num_layers']}layer-{'bias' if o['bias'] else 'nobias'}-"
    f"{'batchfirst' if o['batch_first'] else 'timefirst'}-{'bi' if o['bidirectional'] else 'uni'}"
    for o in TORCH_OPTIONS
]
DTYPES = [np.float64, np.float32]


def random_states(layer, batch: int, rng) -> tuple[np.ndarray, ...]:
    count = layer.num_layers * layer.num_directions
    return tuple(rng.standard_normal((count, batch, size)) for size in layer.cell.state_sizes)


def pack(layer, states):
    """Bare array for RNN/GRU, tuple for LSTM, as the layer's API takes them."""
    return states[0] if len(states) == 1 else tuple(states)


def unpack(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


def gradcheck_layer(layer, with_lengths: bool, with_initial_state: bool, dropout_seed=None):
    """Gradcheck every parameter, the input and (if given) the initial states of a float64 layer."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS, BATCH, layer.input_size))
    lengths = LENGTHS if with_lengths else None
    initial = random_states(layer, BATCH, rng) if with_initial_state else None
    hx = pack(layer, initial) if initial else None

    def run():
        if dropout_seed is not None:
            layer.rng = np.random.default_rng(dropout_seed)   # same masks on every call
        return layer(x, hx, lengths)

    y, final = run()
    dy = rng.standard_normal(y.shape)
    dfinal = tuple(rng.standard_normal(s.shape) for s in unpack(final))

    def loss() -> float:
        y, final = run()
        return float(np.sum(y * dy) + sum(np.sum(s * d) for s, d in zip(unpack(final), dfinal)))

    layer.zero_grad()
    run()
    dx, dinitial = layer.backward(dy, pack(layer, dfinal))
    arrays, grads = {"x": x, **layer.parameters()}, {"x": dx, **layer.grads}
    if initial:
        for name, state, dstate in zip(layer.cell.state_names, initial, unpack(dinitial)):
            arrays[f"{name}0"], grads[f"{name}0"] = state, dstate
    return gradcheck(loss, arrays, grads)


def torch_parity(torch, rnnkit_class, torch_class, options: dict, dtype, lengths=None,
                 unbatched=False) -> dict[str, float]:
    """Run the same random module in rnnkit and torch; return the relative error of every result."""
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    torch_module = torch_class(INPUT_SIZE, HIDDEN_SIZE, **options).to(torch_dtype)
    layer = rnnkit_class(INPUT_SIZE, HIDDEN_SIZE, dtype=dtype, **options)
    state = {k: v.detach().numpy() for k, v in torch_module.state_dict().items()}
    for name in layer.parameters().keys() - state.keys():   # peepholes: zero is nn.LSTM
        state[name] = np.zeros_like(layer.parameters()[name])
    layer.load_state_dict(state)
    rng = np.random.default_rng(1)
    batch_first = options.get("batch_first", False)
    shape = (STEPS, INPUT_SIZE) if unbatched else (
        (BATCH, STEPS, INPUT_SIZE) if batch_first else (STEPS, BATCH, INPUT_SIZE))
    x = rng.standard_normal(shape).astype(dtype)
    initial = [s.astype(dtype) for s in random_states(layer, BATCH, rng)]
    if unbatched:
        initial = [s[:, 0, :] for s in initial]

    y, final = layer(x, pack(layer, initial), lengths)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dfinal = [rng.standard_normal(s.shape).astype(dtype) for s in unpack(final)]
    layer.zero_grad()
    dx, dinitial = layer.backward(dy, pack(layer, dfinal))

    x_t = torch.tensor(x, requires_grad=True)
    initial_t = [torch.tensor(s, requires_grad=True) for s in initial]
    torch_input = x_t
    if lengths is not None:
        torch_input = torch.nn.utils.rnn.pack_padded_sequence(
            x_t, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    y_t, final_t = torch_module(torch_input, pack(layer, initial_t))
    if lengths is not None:
        y_t, _ = torch.nn.utils.rnn.pad_packed_sequence(y_t, batch_first=batch_first, total_length=STEPS)
    final_t = unpack(final_t)
    loss = (y_t * torch.tensor(dy)).sum() + sum((s * torch.tensor(d)).sum() for s, d in zip(final_t, dfinal))
    loss.backward()

    errors = {"y": relative_error(y, y_t.detach().numpy()), "dx": relative_error(dx, x_t.grad.numpy())}
    for name, ours, theirs in zip(layer.cell.state_names, unpack(final), final_t):
        errors[f"{name}_n"] = relative_error(ours, theirs.detach().numpy())
    for name, ours, theirs in zip(layer.cell.state_names, unpack(dinitial), initial_t):
        errors[f"d{name}0"] = relative_error(ours, theirs.grad.numpy())
    for name, parameter in torch_module.named_parameters():
        errors[name] = relative_error(layer.grads[name], parameter.grad.numpy())
    return errors


def tolerance(dtype) -> float:
    """1e-10 in float64, 1e-5 in float32, relative to the largest magnitude of each result."""
    return 1e-10 if dtype == np.float64 else 1e-5
