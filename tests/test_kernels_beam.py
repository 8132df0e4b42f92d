"""The compiled beam-search selection (rnnkit/kernels/beam.py) against its NumPy reference in decoding.py."""

import numpy as np
import pytest

from rnnkit import kernels
from rnnkit.models import decoding

pytest.importorskip("numba")


@pytest.fixture
def backend():
    before = kernels.backend()
    yield kernels.use
    kernels.use(before)


@pytest.mark.parametrize("count", [1, 4, 10])
def test_compiled_top_candidates_agree_with_numpy(backend, count):
    rng = np.random.default_rng(count)
    scores = rng.standard_normal((7, 5 * 30))
    scores[:, ::3] = -np.inf                          # tokens that may not come
    scores[2] = -np.inf
    scores[2, [4, 9]] = [-1.0, -2.0]                  # a sentence with fewer finite candidates than count
    results = {}
    for name in ("numba", "numpy"):
        backend(name)
        results[name] = decoding._top_candidates(scores, count, 30)
    (compiled_scores, compiled_beams, compiled_tokens), (numpy_scores, numpy_beams, numpy_tokens) = results.values()
    np.testing.assert_array_equal(compiled_scores, numpy_scores)
    finite = np.isfinite(numpy_scores)                # which -inf candidate fills a place is arbitrary
    np.testing.assert_array_equal(compiled_beams[finite], numpy_beams[finite])
    np.testing.assert_array_equal(compiled_tokens[finite], numpy_tokens[finite])
    assert all(np.all(np.diff(row[np.isfinite(row)]) <= 0) for row in compiled_scores)     # best first
