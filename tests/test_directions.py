"""A bidirectional layer's directions on two threads (rnnkit.layers.directions) against one after the other."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rnnkit import GRU, LSTM, RNN, kernels
from rnnkit.layers import directions
from rnnkit.layers.time_loop import BlasThreads, blas_threads

pytest.importorskip("numba", reason="the directions run at once only with the compiled kernels (numba)")

LAYERS = {
    "lstm": lambda **o: LSTM(5, 7, **o),
    "lstm-peephole-proj": lambda **o: LSTM(5, 7, peephole=True, proj_size=3, **o),
    "gru": lambda **o: GRU(5, 7, **o),
    "rnn": lambda **o: RNN(5, 7, **o),
}
REGULARISED = dict(dropout=0.2, weight_dropout=0.3, recurrent_dropout=0.2, zoneout_h=0.1, input_dropout=0.1)


@pytest.fixture
def concurrency(monkeypatch):
    """``concurrency(True)``: the directions run on two threads whatever the machine; False: one after the other."""
    def force(on: bool):
        monkeypatch.setattr(directions, "concurrent", lambda cell, batch, dtype: on)
    return force


def train_once(layer, lengths=None):
    """Forward and backward in training mode on a fixed problem; every result, gradients last."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 4, layer.input_size)).astype(np.float32)
    layer.train()
    layer.zero_grad()
    y, state = layer(x, lengths=lengths)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dstate = layer.backward(dy)
    states = list(state) if isinstance(state, tuple) else [state]
    dstates = list(dstate) if isinstance(dstate, tuple) else [dstate]
    return [y, *states, dx, *dstates, *(layer.grads[name].copy() for name in sorted(layer.grads))]


@pytest.mark.parametrize("regularised", [False, True], ids=["plain", "regularised"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_two_threads_give_the_bits_of_one_direction_after_the_other(concurrency, kind, with_lengths, regularised):
    options = dict(num_layers=2, bidirectional=True, **(REGULARISED if regularised else {}))
    lengths = np.array([9, 3, 7, 1]) if with_lengths else None
    concurrency(False)
    sequential = train_once(LAYERS[kind](rng=0, **options), lengths)
    concurrency(True)
    threaded = train_once(LAYERS[kind](rng=0, **options), lengths)
    assert len(threaded) == len(sequential)
    for ours, expected in zip(threaded, sequential):
        np.testing.assert_array_equal(ours, expected)


def test_two_threads_match_the_numpy_reference(concurrency):
    before = kernels.backend()
    try:
        kernels.use("numpy")
        reference = train_once(LSTM(5, 7, num_layers=2, bidirectional=True, rng=0))
        kernels.use("numba")
        concurrency(True)
        threaded = train_once(LSTM(5, 7, num_layers=2, bidirectional=True, rng=0))
    finally:
        kernels.use(before)
    for ours, expected in zip(threaded, reference):
        np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=2e-6)


def test_the_reverse_direction_runs_on_another_thread():
    callers = directions.both(threading.get_ident, threading.get_ident, at_once=True)
    assert callers[0] == threading.get_ident()
    assert callers[1] != threading.get_ident()


def test_they_run_at_once_for_compiled_steps_with_large_enough_products_and_two_blas_threads():
    big, small = LSTM(64, 128), LSTM(64, 32)          # a step's product at batch 32: 2.1 M and 131 k multiply-adds
    before = kernels.backend()
    try:
        with BlasThreads(2):
            if blas_threads() < 2:
                pytest.skip("this machine's BLAS has one thread")
            assert directions.concurrent(big.cell, 32, np.float32)
            assert not directions.concurrent(small.cell, 32, np.float32)
            assert not directions.concurrent(big.cell, 32, np.float64)            # the reference steps
            assert not directions.concurrent(RNN(64, 256).cell, 32, np.float32)  # NumPy steps
            directions.allow(False)
            assert not directions.concurrent(big.cell, 32, np.float32)
            directions.allow(True)
            kernels.use("numpy")
            assert not directions.concurrent(big.cell, 32, np.float32)
            kernels.use("numba")
        with BlasThreads(1):
            assert not directions.concurrent(big.cell, 32, np.float32)
    finally:
        kernels.use(before)
        directions.allow(True)


def test_one_after_the_other_runs_both_on_the_calling_thread():
    callers = directions.both(threading.get_ident, threading.get_ident, at_once=False)
    assert callers == (threading.get_ident(), threading.get_ident())


def test_each_thread_has_one_blas_thread_and_the_count_comes_back():
    before = blas_threads()
    assert directions.both(blas_threads, blas_threads, at_once=True) == (1, 1)
    assert blas_threads() == before


@pytest.mark.parametrize("failing", ["first", "second"])
def test_an_error_in_either_direction_reaches_the_caller_after_both_ended(failing):
    finished = []

    def slow():
        threading.Event().wait(0.05)
        finished.append("slow")
        return "slow"

    def fail():
        raise ValueError(f"the {failing} call failed")

    calls = (fail, slow) if failing == "first" else (slow, fail)
    with pytest.raises(ValueError, match=f"the {failing} call failed"):
        directions.both(*calls, at_once=True)
    assert finished == ["slow"]


@pytest.mark.parametrize("at_once", [False, True], ids=["one-after-the-other", "at-once"])
def test_the_reverse_direction_has_its_own_scratch_only_while_the_two_run_at_once(concurrency, at_once):
    concurrency(at_once)
    layer = LSTM(5, 7, bidirectional=True, rng=0)
    train_once(layer)
    forward_scratch, reverse_scratch = layer._scratches
    assert forward_scratch._buffers
    assert bool(reverse_scratch._buffers) == at_once
