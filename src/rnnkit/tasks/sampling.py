"""Generating text one token (a character, or a word) at a time from a trained language model.

At each step the model turns the last character and its state into scores
``logits`` over the vocabulary, and the next character is drawn from

    p_i = softmax(logits / temperature)_i       (restricted to the top_k largest, if top_k > 0)

Temperature < 1 sharpens the distribution (safer, more repetitive text), > 1
flattens it; ``greedy`` takes the argmax.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from rnnkit import kernels
from rnnkit.errors import ConfigError


def check_sampling_options(temperature: float, top_k: int, vocab_size: int) -> None:
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ConfigError(f"`temperature` must be positive and finite, got {temperature} (use `greedy` for argmax)")
    if not (isinstance(top_k, (int, np.integer)) and 0 <= top_k <= vocab_size):
        raise ConfigError(f"`top_k` must be between 0 (off) and the vocabulary size {vocab_size}, got {top_k}")


def next_id(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0, top_k: int = 0,
            greedy: bool = False, allowed: np.ndarray | None = None) -> int:
    """Draw one id from the scores ``logits`` (V,); ``allowed`` is an optional boolean mask (V,).

    Without a mask or top-k, and with the compiled kernels on, ``rnnkit.kernels.sampling``
    does the same arithmetic in one call (the lines below are its reference).
    """
    if allowed is None and not top_k and not greedy and kernels.compiled():
        return int(kernels.load("sampling").sample(logits, temperature, rng.random()))
    scores = logits.astype(np.float64)
    if allowed is not None:
        scores[~allowed] = -np.inf
    if greedy:
        return int(np.argmax(scores))
    scores /= temperature
    if top_k:
        kth_largest = np.partition(scores, -top_k)[-top_k]
        scores[scores < kth_largest] = -np.inf
    scores -= scores.max()
    weights = np.exp(scores, out=scores)                # p_i = weights_i / sum(weights)
    cumulative = np.cumsum(weights, out=weights)        # inverse of the distribution function:
    return int(cumulative.searchsorted(rng.random() * cumulative[-1], side="right"))


class Generator:
    """Feeds characters to a model and keeps its state: ``feed(ids)`` then ``logits`` for the next one.

    A run of characters goes through the model's ``forward``; single characters go
    through its ``stepper``, which keeps the state between them.
    """

    def __init__(self, model):
        self.model = model
        self._state = None
        self._stepper = None
        self.logits = None
        model.eval()

    @property
    def state(self):
        return self._stepper.state if self._stepper is not None else self._state

    def feed(self, ids) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size == 1:                                   # one character: a single step, nothing cached
            if self._stepper is None:
                self._stepper = self.model.stepper(self._state)
            self.logits = self._stepper(ids)[0]
            return
        state, self._stepper = self.state, None
        logits, self._state = self.model(ids.reshape(-1, 1), state)   # (T, 1): one sequence
        self.logits = logits[-1, 0]


def generate(model, vocab, length: int, prime: str = "", temperature: float = 1.0, top_k: int = 0,
             greedy: bool = False, rng=None) -> Iterator[str]:
    """Yield ``length`` generated tokens, one at a time, after reading ``prime``: each as the text it adds
    (``vocab.continuation``: a character; a space and a word, or a line break for a word model's ``<eos>``).

    Without a prime (or one without a token) the model starts after ``vocab.start_ids()``: a newline, or
    ``<eos>`` (or the vocabulary's first token when it has neither).
    """
    check_sampling_options(temperature, top_k, len(vocab))
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    generator = Generator(model)
    ids = vocab.encode(prime) if prime else vocab.start_ids()
    if not len(ids):
        ids = vocab.start_ids()
    generator.feed(ids)
    previous = int(ids[-1]) if prime else None
    for _ in range(length):
        token = next_id(generator.logits, rng, temperature, top_k, greedy)
        generator.feed([token])                             # checks that the id is in the vocabulary
        yield vocab.continuation(token, previous)
        previous = token
