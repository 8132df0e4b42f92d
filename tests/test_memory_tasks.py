"""rnnkit/data/memory_tasks.py: each batch checked against the task's definition, read back from the inputs."""

import numpy as np
import pytest

from rnnkit.data.memory_tasks import (ORDER_SYMBOLS, adding_problem, copy_memory, copy_memory_baseline,
                                      embedded_reber, temporal_order)
from rnnkit.errors import ConfigError


def test_adding_problem_follows_hochreiter_and_schmidhuber_1997():
    T, batch = 100, 2000
    data = adding_problem(batch, T, rng=0)
    assert data.x.shape == (data.lengths.max(), batch, 2) and data.x.dtype == np.float32
    assert data.lengths.min() >= T and data.lengths.max() <= T + T // 10
    assert len(np.unique(data.lengths)) == T // 10 + 1                     # every length in [T, T + T/10] drawn
    for b in range(batch):
        values, markers = data.x[:data.lengths[b], b, 0], data.x[:data.lengths[b], b, 1]
        marked = np.flatnonzero(markers == 1.0)
        assert len(marked) == 2
        assert marked.min() < 10 and marked.max() < T // 2  # one in the first ten, one in the first half
        assert np.all(markers[(markers != 1.0)][1:-1] == 0.0)
        assert markers[-1] == -1.0 and (markers[0] == -1.0 or 0 in marked)
        assert np.all(np.abs(values) <= 1.0) and (values[0] == 0.0 if 0 in marked else True)
        assert data.targets[b] == pytest.approx(0.5 + values[marked].sum() / 4.0, abs=1e-6)
        assert np.all(data.x[data.lengths[b]:, b] == 0.0)                   # padding


def test_adding_problem_draws_x2_uniformly_from_the_first_half():
    data = adding_problem(20000, 40, rng=1)
    second = np.array([np.flatnonzero(data.x[:, b, 1] == 1.0).max() for b in range(20000)])
    assert second.max() == 19
    first = np.array([np.flatnonzero(data.x[:, b, 1] == 1.0).min() for b in range(20000)])
    assert set(first.tolist()) <= set(range(10))


def test_adding_problem_in_the_tcn_form():
    data = adding_problem(500, 60, rng=2, variant="tcn2018")
    assert data.x.shape == (60, 500, 2) and np.all(data.lengths == 60)
    markers = data.x[..., 1]
    assert np.all(markers.sum(axis=0) == 2) and np.all(markers[:30].sum(axis=0) == 1)
    np.testing.assert_allclose(data.targets, (data.x[..., 0] * markers).sum(axis=0), rtol=1e-6)
    trivial = np.mean((data.targets - 1.0) ** 2)
    assert trivial == pytest.approx(1 / 6, abs=0.03)


def test_copy_memory_repeats_ten_symbols_after_the_delimiter():
    T = 25
    data = copy_memory(50, T, rng=3)
    ids = data.x.argmax(axis=-1)
    assert data.x.shape == (T + 20, 50, 10) and np.all(data.x.sum(axis=-1) == 1)
    assert np.all((ids[:10] >= 1) & (ids[:10] <= 8))
    assert np.all(ids[10:T + 9] == 0) and np.all(ids[T + 9] == 9) and np.all(ids[T + 10:] == 0)
    assert np.all(data.targets[:T + 10] == 0)
    np.testing.assert_array_equal(data.targets[T + 10:], ids[:10])
    assert copy_memory_baseline(T) == pytest.approx(10 * np.log(8) / (T + 20))


@pytest.mark.parametrize("relevant", [2, 3])
def test_temporal_order_classes_are_the_order_of_x_and_y(relevant):
    T, batch = 100, 400
    data = temporal_order(batch, T, rng=4, relevant=relevant)
    ids = data.x.argmax(axis=-1)
    x_or_y = [ORDER_SYMBOLS.index("X"), ORDER_SYMBOLS.index("Y")]
    windows = {2: [(10, 20), (50, 60)], 3: [(10, 20), (33, 43), (66, 76)]}[relevant]
    assert set(data.targets.tolist()) == set(range(2 ** relevant))
    for b in range(batch):
        length = data.lengths[b]
        seq = ids[:length, b]
        assert seq[0] == ORDER_SYMBOLS.index("E") and seq[-1] == ORDER_SYMBOLS.index("B")
        positions = np.flatnonzero(np.isin(seq, x_or_y))
        assert len(positions) == relevant
        assert all(low <= p <= high for p, (low, high) in zip(positions, windows))
        assert np.all(seq[1:-1][~np.isin(seq[1:-1], x_or_y)] < 4)            # a-d elsewhere
        bits = (seq[positions] == x_or_y[1]).astype(int)
        assert data.targets[b] == int("".join(map(str, bits)), 2)
        assert np.all(data.x[length:, b] == 0.0)


def test_batches_are_reproducible_from_a_seed():
    a, b = temporal_order(8, 30, rng=7), temporal_order(8, 30, rng=7)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.targets, b.targets)


@pytest.mark.parametrize("call, message", [
    (lambda: adding_problem(4, 10), "`length` must be an integer of at least 22"),
    (lambda: adding_problem(0, 50), "`batch` must be an integer of at least 1"),
    (lambda: adding_problem(4, 50, variant="x"), "`variant` must be one of"),
    (lambda: temporal_order(4, 50, relevant=4), "`relevant` must be 2 or 3"),
    (lambda: copy_memory(4, 0), "`length` must be an integer of at least 1"),
])
def test_bad_arguments_are_config_errors(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_embedded_reber_batches_are_streams_of_the_grammar():
    from rnnkit.data import reber

    data = embedded_reber(6, 40, rng=5)
    assert data.x.shape == (40, 6, 7) and data.targets.shape == (40, 6, 7) and np.all(data.lengths == 40)
    for b in range(6):
        symbols = "".join(reber.SYMBOLS[i] for i in data.x[:, b].argmax(axis=-1))
        assert symbols.startswith("B")
        for t in range(39):                                # each next symbol is one the target allowed
            assert data.targets[t, b, reber.SYMBOL_INDEX[symbols[t + 1]]] == 1.0
