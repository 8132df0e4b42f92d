"""The compiled online step (rnnkit/online/compiled.py) against the NumPy reference it compiles.

A float64 LSTM learning one stream runs each symbol through numba kernels when numba
is on: the whole step with the truncated gradient, the forward step with RTRL and
BPTT. The learner's outputs, its predictions and its weights after a few hundred steps
of Adam must be those of the NumPy path (``compiled=False``) within 1e-10, with and
without peepholes, with a sigmoid and a linear read-out.
"""

import numpy as np
import pytest

from rnnkit import kernels
from rnnkit.online import OnlineConfig, build_learner

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")
INPUT, HIDDEN, OUTPUT = 4, 5, 3


def learner_for(config):
    return build_learner(config, INPUT, OUTPUT, seed=0)


def stream(rng, steps):
    inputs = rng.standard_normal((steps, INPUT))
    targets = (rng.random((steps, OUTPUT)) < 0.5).astype(float)
    return inputs, targets


def test_compiled_steps_learn_as_the_numpy_steps():
    rng = np.random.default_rng(2)
    inputs, targets = stream(rng, 300)
    results = []
    for compiled in (False, True):
        for peephole, output in ((True, "sigmoid"), (False, "linear")):
            config = OnlineConfig(hidden_size=HIDDEN, peephole=peephole, output=output, optimizer="adam", lr=0.01,
                                  forget_bias=1.0, compiled=compiled)
            learner = learner_for(config)
            assert (learner.compiled is not None) == compiled
            learned = learner.run(inputs, targets)
            predicted = learner.run(inputs)
            results.append((learned, predicted, learner.network.theta.copy()))
    for numpy_result, compiled_result in zip(results[:2], results[2:]):
        for a, b in zip(numpy_result, compiled_result):
            assert np.max(np.abs(a - b)) < 1e-10


@pytest.mark.parametrize("gradient", ["rtrl", "bptt"])
def test_the_compiled_forward_step_serves_the_other_gradients(gradient):
    rng = np.random.default_rng(3)
    inputs, targets = stream(rng, 60)
    results = []
    for compiled in (False, True):
        config = OnlineConfig(hidden_size=HIDDEN, gradient=gradient, window=6, update_every=2, optimizer="adam",
                              lr=0.01, compiled=compiled)
        learner = learner_for(config)
        results.append((learner.run(inputs, targets), learner.run(inputs), learner.network.theta.copy()))
    for a, b in zip(*results):
        assert np.max(np.abs(a - b)) < 1e-10
