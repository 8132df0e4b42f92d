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
from rnnkit.kernels.lstm import stack_step
from rnnkit.kernels.products import project


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


@njit(**KERNEL)
def lstm_sample_run(table, token, stack_arguments, top_hidden, decoder_weight, decoder_bias, logits,
                    temperature, uniforms, ids):
    """Draw ``len(uniforms)`` ids into ``ids``, each fed back into a character model's LSTM stack:

        xw     = table[token]                      the first layer's projection of the last id
        h      = stack_step(xw, ...)               every layer's step (``rnnkit.kernels.lstm``)
        logits = h W_out^T + b_out                 into ``logits`` (1, V)
        token  = sample(logits, temperature, uniforms[n]);   ids[n] = token

    What ``CharStepper([token])`` then ``next_id`` compute for each id, in one call from Python
    for the whole run; ``stack_arguments`` is ``Stepper.kernel_arguments``, ``top_hidden`` the
    top layer's h. Passing those ~20 arrays into a compiled call costs about a third of a
    step at 2 x 256, which a call per id paid every time.
    """
    for n in range(uniforms.shape[0]):
        stack_step(table[token:token + 1], *stack_arguments)
        project(top_hidden, decoder_weight, logits)
        logits += decoder_bias
        token = sample(logits[0], temperature, uniforms[n])
        ids[n] = token
