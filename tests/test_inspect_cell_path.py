"""rnnkit/inspect/cell_path.py: dc_t/dc_{t-d} against finite differences, and the cell path alone."""

import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.inspect.cell_path import lstm_cell_path, plot_cell_path
from rnnkit.layers.recurrent import GRU, LSTM
from rnnkit.layers.time_loop import forward_through_time

INPUT, HIDDEN, STEPS = 3, 4, 12


def lstm(peephole=False, **options):
    layer = LSTM(INPUT, HIDDEN, peephole=peephole, dtype=np.float64, rng=2, **options)
    if peephole:
        rng = np.random.default_rng(5)
        for name in ("weight_ci_l0", "weight_cf_l0", "weight_co_l0"):
            layer.parameters()[name][:] = rng.uniform(-1, 1, HIDDEN)
    return layer


def sequence():
    return np.random.default_rng(0).standard_normal((STEPS, INPUT))


def numeric_jacobian(layer, x, end, distance, eps=1e-6):
    """dc_end/dc_{end-distance} with h_{end-distance} fixed, by central differences of the forward pass."""
    params = layer.cell_parameters(0)
    start = end - distance                                 # > 0 in these tests
    _, (h, c), _ = forward_through_time(layer.cell, params, x[:start, None], (np.zeros((1, HIDDEN)),) * 2)
    jacobian = np.zeros((HIDDEN, HIDDEN))
    for unit in range(HIDDEN):
        ends = []
        for sign in (1, -1):
            moved = c.copy()
            moved[0, unit] += sign * eps
            _, (_, c_end), _ = forward_through_time(layer.cell, params, x[start:end, None], (h, moved))
            ends.append(c_end[0])
        jacobian[:, unit] = (ends[0] - ends[1]) / (2 * eps)
    return jacobian


@pytest.mark.parametrize("peephole", [False, True])
def test_measured_jacobian_norms_match_finite_differences(peephole):
    layer, x = lstm(peephole), sequence()
    result = lstm_cell_path(layer, x, ends=[7, 12], max_distance=5)
    for row, end in enumerate([7, 12]):
        for d in (1, 3, 5):
            expected = np.linalg.norm(numeric_jacobian(layer, x, end, d))
            assert result["measured"][row, d - 1] == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("peephole", [False, True])
def test_without_recurrent_weights_the_cell_path_is_the_whole_jacobian(peephole):
    layer = lstm(peephole)
    layer.parameters()["weight_hh_l0"][:] = 0.0
    result = lstm_cell_path(layer, sequence(), max_distance=8)
    np.testing.assert_allclose(result["measured"], result["cell_path"], rtol=1e-12)
    assert np.abs(result["through_h"]).max() < 1e-12
    if not peephole:
        np.testing.assert_array_equal(result["cell_path"], result["forget_product"])


def test_the_forget_product_is_the_norm_of_the_product_of_forget_gates():
    layer, x = lstm(), sequence()
    result = lstm_cell_path(layer, x, ends=[10], max_distance=4)
    _, _, cache = forward_through_time(layer.cell, layer.cell_parameters(0), x[:, None], (np.zeros((1, HIDDEN)),) * 2)
    forget = cache.cell.gates[6:10, 0, HIDDEN:2 * HIDDEN]
    assert result["forget_product"][0, 3] == pytest.approx(np.linalg.norm(forget.prod(axis=0)), rel=1e-12)


def test_a_stacked_layer_is_measured_at_the_chosen_layer():
    layer = LSTM(INPUT, HIDDEN, num_layers=2, dtype=np.float64, rng=0)
    x = sequence()
    upper = lstm_cell_path(layer, x, max_distance=3, layer_index=1)
    lower = lstm_cell_path(layer, x, max_distance=3, layer_index=0)
    assert upper["measured"].shape == lower["measured"].shape == (len(upper["ends"]), 3)
    assert not np.allclose(upper["measured"], lower["measured"])


@pytest.mark.parametrize("make, x, options, message", [
    (lambda: GRU(INPUT, HIDDEN), np.zeros((5, INPUT), np.float32), {}, "the cell path is the LSTM's"),
    (lambda: LSTM(INPUT, HIDDEN, proj_size=2), np.zeros((5, INPUT), np.float32), {}, "projection"),
    (lambda: LSTM(INPUT, HIDDEN), np.zeros((5, 2, INPUT), np.float32), {}, "must be one sequence"),
    (lambda: LSTM(INPUT, HIDDEN), np.zeros((5, INPUT), np.float32), {"max_distance": 6}, "`max_distance`"),
    (lambda: LSTM(INPUT, HIDDEN), np.zeros((5, INPUT), np.float32), {"max_distance": 3, "ends": [2]}, "`ends`"),
])
def test_bad_arguments_are_config_errors(make, x, options, message):
    with pytest.raises(ConfigError, match=message):
        lstm_cell_path(make(), x, **options)


def test_plot_cell_path_writes_a_png(tmp_path):
    result = lstm_cell_path(lstm(True), sequence(), max_distance=6)
    plot_cell_path(result, tmp_path / "cell_path.png")
    assert (tmp_path / "cell_path.png").read_bytes().startswith(b"\x89PNG")
