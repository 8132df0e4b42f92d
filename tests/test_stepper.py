"""rnnkit/layers/stepper.py: many single steps give forward's outputs and states."""

import numpy as np
import pytest

from rnnkit.layers.recurrent import GRU, LSTM, RNN
from rnnkit.layers.time_loop import BlasThreads, blas_threads

LAYERS = {
    "rnn": lambda **o: RNN(3, 4, **o),
    "lstm": lambda **o: LSTM(3, 4, **o),
    "lstm-peephole-proj": lambda **o: LSTM(3, 4, peephole=True, proj_size=2, **o),
    "gru": lambda **o: GRU(3, 4, **o),
    "gru-reset-before": lambda **o: GRU(3, 4, reset_after=False, **o),
}
STEPS, BATCH = 6, 2


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_stepper_over_a_sequence_equals_forward_from_the_same_state(kind, dtype):
    layer = LAYERS[kind](num_layers=2, dtype=dtype, rng=0)
    layer.eval()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((STEPS, BATCH, 3)).astype(dtype)
    h0 = tuple(rng.standard_normal((2, BATCH, size)).astype(dtype) for size in layer.cell.state_sizes)
    h0 = h0 if len(h0) == 2 else h0[0]
    y, final = layer(x, h0)
    stepper = layer.stepper(h0, batch=BATCH)
    tolerance = 1e-13 if dtype == np.float64 else 1e-6
    for t in range(STEPS):
        np.testing.assert_allclose(stepper(x[t]), y[t], atol=tolerance)
    for ours, theirs in zip(as_tuple(stepper.state), as_tuple(final)):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, atol=tolerance)


def test_from_projection_equals_calling_with_the_input():
    layer = LSTM(3, 4, num_layers=2, dtype=np.float64, rng=0)
    x_t = np.random.default_rng(2).standard_normal((1, 3))
    params = layer.cell_parameters(0)
    projection = x_t @ params["weight_ih"].T + params["bias_ih"] + params["bias_hh"]
    a, b = layer.stepper(), layer.stepper()
    for _ in range(3):
        np.testing.assert_allclose(a(x_t), b.from_projection(projection), atol=1e-14)


def test_stepper_output_is_not_overwritten_by_the_next_step():
    stepper = GRU(3, 4, rng=0).stepper()
    first = stepper(np.ones((1, 3), np.float32))
    kept = first.copy()
    stepper(np.full((1, 3), -1.0, np.float32))
    np.testing.assert_array_equal(first, kept)


def test_stepper_refuses_bidirectional_layers_and_wrong_shapes():
    with pytest.raises(ValueError, match="bidirectional"):
        LSTM(3, 4, bidirectional=True).stepper()
    with pytest.raises(ValueError, match=r"expected shape \(2, 3\)"):
        LSTM(3, 4).stepper(batch=2)(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="dtype"):
        LSTM(3, 4).stepper()(np.zeros((1, 3), np.float64))


def test_blas_threads_limits_inside_and_restores_after():
    before = blas_threads()
    with BlasThreads(1):
        assert blas_threads() == 1
    assert blas_threads() == before


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_stepper_follows_weights_updated_in_place(kind):
    """The stepper reads the layer's own arrays: training between its steps is seen at the next one."""
    layer = LAYERS[kind](num_layers=2, rng=0)
    layer.eval()
    x = np.random.default_rng(3).standard_normal((1, 1, 3)).astype(np.float32)
    stepper = layer.stepper()
    for parameter in layer.parameters().values():
        parameter *= 1.5                                      # an optimizer's step, in place
    y, _ = layer(x)
    np.testing.assert_allclose(stepper(x[0]), y[0], rtol=1e-5, atol=1e-6)
