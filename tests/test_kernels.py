"""The compiled kernels (rnnkit.kernels) against the NumPy reference of each cell."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import GRU, LSTM, RNN, kernels
from rnnkit.tasks.sampling import next_id

numba = pytest.importorskip("numba", reason="the compiled kernels need numba (pip install numba)")
from rnnkit.kernels.fastmath import CLIP, approximate_tanh  # noqa: E402

STEPS, BATCH, INPUT_SIZE, HIDDEN_SIZE = 6, 4, 5, 7
LENGTHS = np.array([6, 2, 5, 1])


@pytest.fixture
def backend():
    """Switch backends inside a test; the default comes back afterwards."""
    before = kernels.backend()
    yield kernels.use
    kernels.use(before)


def test_tanh_approximation_is_within_a_few_float32_ulps_everywhere():
    x = np.concatenate([np.linspace(-12, 12, 2_000_001, dtype=np.float32),
                        np.logspace(-30, 1, 100_000, dtype=np.float32)])
    approx = approximate_tanh(x).astype(np.float64)
    exact = np.tanh(x.astype(np.float64))
    assert np.abs(approx - exact).max() < 4e-7
    assert np.max(np.abs(approx - exact) / np.maximum(np.abs(exact), 1e-30)) < 4e-7
    assert np.abs(approx).max() <= 1.0


def test_tanh_approximation_is_odd_and_saturates_past_the_clip():
    x = np.linspace(0, 20, 10_001, dtype=np.float32)
    np.testing.assert_array_equal(approximate_tanh(-x), -approximate_tanh(x))
    beyond = approximate_tanh(np.array([CLIP, 9.0, 50.0, 1e30], np.float32))
    np.testing.assert_allclose(beyond, 1.0, atol=4e-7)
    assert np.diff(approximate_tanh(x)).min() > -4e-7     # monotone up to float32 rounding


def run_layer(layer, x, dy, hx, dhx, lengths):
    """Forward and backward; every result as a flat list of arrays, in a fixed order."""
    layer.zero_grad()
    y, state = layer(x, hx, lengths=lengths)
    dx, dstate = layer.backward(dy, dhx)
    flat = lambda s: list(s) if isinstance(s, tuple) else [s]   # noqa: E731
    grads = [layer.grads[name].copy() for name in sorted(layer.grads)]
    return [y, *flat(state), dx, *flat(dstate), *grads]


def random_problem(layer, rng, with_state: bool):
    directions = layer.num_directions
    x = rng.standard_normal((STEPS, BATCH, layer.input_size)).astype(np.float32)
    dy = rng.standard_normal((STEPS, BATCH, directions * layer.cell.output_size)).astype(np.float32)
    shapes = [(layer.num_layers * directions, BATCH, size) for size in layer.cell.state_sizes]
    states = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    dstates = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    pack = (lambda s: tuple(s)) if len(shapes) == 2 else (lambda s: s[0])
    return x, dy, (pack(states) if with_state else None), pack(dstates)


LAYERS = {
    "lstm": lambda **o: LSTM(INPUT_SIZE, HIDDEN_SIZE, **o),
    "lstm-peephole": lambda **o: LSTM(INPUT_SIZE, HIDDEN_SIZE, peephole=True, **o),
    "lstm-proj": lambda **o: LSTM(INPUT_SIZE, HIDDEN_SIZE, proj_size=3, **o),
    "gru": lambda **o: GRU(INPUT_SIZE, HIDDEN_SIZE, **o),
}
STRUCTURES = {
    "1layer": dict(), "2layer-bi": dict(num_layers=2, bidirectional=True),
}


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("structure", sorted(STRUCTURES))
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_fused_layer_matches_numpy_reference_forward_and_backward(backend, kind, structure, with_lengths):
    layer = LAYERS[kind](rng=0, **STRUCTURES[structure])
    for name, parameter in layer.parameters().items():     # peepholes start at zero: give them values
        if name.startswith(("weight_ci", "weight_cf", "weight_co")):
            parameter[...] = np.random.default_rng(1).uniform(-0.5, 0.5, parameter.shape)
    rng = np.random.default_rng(2)
    x, dy, hx, dhx = random_problem(layer, rng, with_state=True)
    lengths = LENGTHS if with_lengths else None
    backend("numpy")
    reference = run_layer(layer, x, dy, hx, dhx, lengths)
    backend("numba")
    assert kernels.enabled(layer.cell, np.float32)
    fused = run_layer(layer, x, dy, hx, dhx, lengths)
    assert len(fused) == len(reference)
    for ours, expected in zip(fused, reference):
        np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_fused_backward_leaves_the_callers_gradients_untouched(kind):
    layer = LAYERS[kind](rng=0)
    x, dy, _, dhx = random_problem(layer, np.random.default_rng(3), with_state=False)
    before = [a.copy() for a in (dhx if isinstance(dhx, tuple) else (dhx,))]
    layer(x)
    layer.backward(dy, dhx)
    for kept, now in zip(before, dhx if isinstance(dhx, tuple) else (dhx,)):
        np.testing.assert_array_equal(kept, now)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_fused_single_step_matches_numpy_step(backend, kind):
    layer = LAYERS[kind](rng=0, num_layers=2)
    layer.eval()
    rng = np.random.default_rng(4)
    x_t = rng.standard_normal((BATCH, INPUT_SIZE)).astype(np.float32)
    _, _, hx, _ = random_problem(layer, rng, with_state=True)
    backend("numpy")
    y_reference, _ = layer.step(x_t, hx)
    backend("numba")
    y_fused, _ = layer.step(x_t, hx)
    np.testing.assert_allclose(y_fused, y_reference, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("kind", ["lstm", "lstm-peephole"])
def test_compiled_stack_stepper_matches_the_numpy_stepper_over_many_steps(backend, kind, num_layers):
    layer = LAYERS[kind](rng=0, num_layers=num_layers)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((STEPS, BATCH, INPUT_SIZE)).astype(np.float32)
    _, _, hx, _ = random_problem(layer, rng, with_state=True)
    backend("numpy")
    reference = layer.stepper(hx, batch=BATCH)
    backend("numba")
    compiled = layer.stepper(hx, batch=BATCH)
    assert compiled.compiled and not reference.compiled
    for t in range(STEPS):
        np.testing.assert_allclose(compiled(x[t]), reference(x[t]), rtol=2e-5, atol=2e-6)
    for ours, theirs in zip(compiled.state, reference.state):
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)


def test_compiled_stack_stepper_is_kept_for_small_products_only(backend):
    backend("numba")
    assert LSTM(8, 256).stepper().compiled                  # 4 * 256 * 256 multiply-adds a step
    assert not LSTM(8, 384).stepper().compiled              # two BLAS threads are faster there
    assert not LSTM(8, 8, proj_size=4).stepper().compiled
    assert not GRU(8, 8).stepper().compiled


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_compiled_sampler_draws_the_ids_of_the_numpy_reference(backend, temperature):
    logits = np.random.default_rng(6).normal(0, 3, (200, 65)).astype(np.float32)

    def draws(name):
        backend(name)
        rng = np.random.default_rng(7)
        return [next_id(row, rng, temperature) for row in logits for _ in range(5)]

    assert draws("numba") == draws("numpy")


def test_float64_and_cells_without_kernels_run_the_reference(backend):
    backend("numba")
    lstm64 = LSTM(3, 4, dtype=np.float64)
    assert not kernels.enabled(lstm64.cell, np.float64)
    assert isinstance(kernels.step_strategy(lstm64.cell, np.float64), kernels.ReferenceSteps)
    assert kernels.step_strategy(LSTM(3, 4).cell, np.float32).compiled
    rnn = RNN(3, 4)
    assert not kernels.enabled(rnn.cell, np.float32)
    assert not kernels.enabled(GRU(3, 4, reset_after=False).cell, np.float32)
    assert not kernels.step_strategy(GRU(3, 4, reset_after=False).cell, np.float32).compiled


def test_numpy_backend_turns_the_kernels_off(backend):
    cell = LSTM(3, 4).cell
    backend("numpy")
    assert not kernels.enabled(cell, np.float32)
    assert isinstance(kernels.step_strategy(cell, np.float32), kernels.ReferenceSteps)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.use("cuda")


def test_without_numba_the_reference_runs(monkeypatch):
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    layer = LSTM(3, 4, rng=0)
    assert not kernels.enabled(layer.cell, np.float32)
    y, _ = layer(np.ones((2, 1, 3), np.float32))
    assert y.shape == (2, 1, 4)


def test_a_sequence_gives_the_compiled_steps_a_contiguous_w_hh_transposed_and_the_reference_a_view(backend):
    backend("numba")
    layer = GRU(3, 4)
    params = layer.cell_parameters(0)
    compiled = kernels.step_strategy(layer.cell, np.float32).weight_hh_T(params)
    reference = kernels.ReferenceSteps(layer.cell).weight_hh_T(params)
    assert compiled.flags.c_contiguous and not np.shares_memory(compiled, params["weight_hh"])
    assert reference.base is params["weight_hh"]
    np.testing.assert_array_equal(compiled, reference)
