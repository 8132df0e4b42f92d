"""The best candidates of a beam-search step, compiled: ``rnnkit.models.decoding``'s ``_top_candidates``.

For each sentence a, of its candidates' scores c (n,) (k beams times V tokens, flattened)
the ``count`` largest with their indices, best first, in one pass that keeps them in a
sorted list: a candidate not above the list's last is turned away by one comparison,
so the pass costs about that per candidate (``np.argpartition`` took ~15 ns a candidate
here, more than the step's matrix products at V = 10,000). Ties keep the earlier index.

Not fastmath: scores are -inf where a token may not come, and fastmath lets the
compiler assume there are no infinities.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(error_model="numpy", cache=True, nogil=True)
def top_candidates(scores, count, best_scores, best_index):
    """Fill ``best_scores`` (A, count) and ``best_index`` (A, count) from ``scores`` (A, n), count <= n."""
    sentences, size = scores.shape
    for a in range(sentences):
        kept = 0
        for j in range(size):
            value = scores[a, j]
            if kept == count and not value > best_scores[a, count - 1]:
                continue
            slot = kept if kept < count else count - 1
            while slot > 0 and best_scores[a, slot - 1] < value:
                best_scores[a, slot] = best_scores[a, slot - 1]
                best_index[a, slot] = best_index[a, slot - 1]
                slot -= 1
            best_scores[a, slot] = value
            best_index[a, slot] = j
            if kept < count:
                kept += 1
    return np.int64(0)
