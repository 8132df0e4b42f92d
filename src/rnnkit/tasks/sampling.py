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

SAMPLE_RUN = 64        # ids drawn per call of a compiled sampler: a few ms, short enough to stream


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

    def sampler(self, temperature: float):
        """The model stepper's ``sampler(temperature)`` from the state now: ``draw(token, uniforms) -> ids``
        feeds a token, draws the next, feeds it, ..., one id per uniform, in one compiled call (``logits``
        do not follow it); None where the model has none (``CharStepper.sampler``)."""
        if self._stepper is None:
            self._stepper = self.model.stepper(self._state)
        sampler = getattr(self._stepper, "sampler", None)
        return sampler(temperature) if sampler is not None else None

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
    for token in drawn_ids(generator, length, rng, temperature, top_k, greedy):
        yield vocab.continuation(token, previous)
        previous = token


def drawn_ids(generator: Generator, length: int, rng: np.random.Generator, temperature: float = 1.0,
              top_k: int = 0, greedy: bool = False) -> Iterator[int]:
    """``length`` ids drawn after what ``generator`` has read, each fed back in before the next is drawn.

    Where the model has a compiled sampler (``Generator.sampler``: no top-k, not greedy), runs of up to
    ``SAMPLE_RUN`` ids are drawn in one call, with the same uniforms, so the same ids.
    """
    if length < 1:
        return
    token = next_id(generator.logits, rng, temperature, top_k, greedy)
    yield token
    draw = None if top_k or greedy else generator.sampler(temperature)
    left = length - 1
    while left > 0:
        if draw is None:
            generator.feed([token])                         # checks that the id is in the vocabulary
            run = [next_id(generator.logits, rng, temperature, top_k, greedy)]
        else:
            run = draw(token, rng.random(min(SAMPLE_RUN, left))).tolist()
        yield from run
        token, left = run[-1], left - len(run)
