"""Drawing the next id from softmax(logits / temperature), compiled: ``next_id``'s common case.

The same arithmetic as ``rnnkit.tasks.sampling.next_id`` without top-k or a mask,
in float64, in one pass instead of some eight NumPy calls on a vector of a
hundred scores (which cost more than the arithmetic when generating one
character at a time):

    s_i = logits_i / temperature - max_j (logits_j / temperature)
    C_i = sum_{j <= i} exp(s_j)                 the unnormalised distribution function
    id  = the first i with C_i > uniform * C_last
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rnnkit.kernels.fastmath import KERNEL


@njit(**KERNEL)
def sample(logits, temperature, uniform):
    size = logits.shape[0]
    top = -np.inf
    for i in range(size):
        top = max(top, np.float64(logits[i]) / temperature)
    cumulative = np.empty(size)
    total = 0.0
    for i in range(size):
        total += math.exp(np.float64(logits[i]) / temperature - top)
        cumulative[i] = total
    target = uniform * total
    for i in range(size):
        if cumulative[i] > target:
            return i
    return size - 1                  # only if rounding made uniform * total reach the total
