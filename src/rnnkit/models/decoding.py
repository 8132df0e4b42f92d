"""Decoding a ``ConditionedDecoder`` (a translator, a captioner): greedy decoding, sampling, and
batched beam search.

All three decode a batch of items (source sentences, images) together, one target token at a
time, through the model's stepper (``rnnkit.models.decoder.DecoderStepper``: the decoder stack's
``Stepper``, then attention and the output layer for one step; never a full forward pass per
token). A ``Decoding`` says what to decode: how to make a stepper over some of the batch's items,
and each item's maximum length; ``Seq2Seq`` batches come from ``translation_decoding`` (which
``greedy``, ``sample`` and ``beam_search`` call), a captioner's from ``Captioner.decoding``.
A hypothesis y_1 .. y_n, y_n = <eos>, has the log-probability and, with length normalisation α
(Wu et al. 2016, "GNMT"), the score

    log P(y | x) = sum_t log softmax(z_t)[y_t]
    score(y)     = log P(y | x) / lp(n),     lp(n) = ((5 + n) / 6)^α      (α = 0: the log-probability)

A sentence stops at <eos> or at its maximum length n_max (counting the <eos>; for a
translation by default 2 L + 10 for a source of L tokens): at step n_max only <eos> may be chosen,
so every hypothesis ends with it. <pad> and <bos> are never chosen.

Beam search of width k keeps k live hypotheses per sentence. Each step extends every
live one by every token, takes the 2k best candidates by log P, moves those that end
in <eos> and rank among the first k to the sentence's finished hypotheses, and goes on
with the k best of the others. A sentence is done once k hypotheses have finished;
its ``n_best`` finished ones with the highest scores are returned. Width 1 is greedy
decoding. Sentences that are done leave the batch (``TranslationStepper.select``).

The greedy hypothesis competes too. A beam can lose the greedy path, when k other
prefixes look better at some step, and then end below it (on random models 39 of
2160 sentences did, every one by such pruning). The search follows the greedy path
inside the beam; a sentence whose greedy path was pruned, or had not ended when the
sentence was done, is decoded greedily afterwards and its hypothesis joins the n best.
So beam search never returns less than greedy does, and pays for it only where needed.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rnnkit import kernels
from rnnkit.errors import ConfigError
from rnnkit.layers.embedding import check_indices
from rnnkit.layers.lengths import check_lengths
from rnnkit.losses import log_softmax
from rnnkit.models.decoder import BOS_ID, EOS_ID, PAD_ID
from rnnkit.models.seq2seq import Seq2Seq

NEVER_CHOSEN = [PAD_ID, BOS_ID]


@dataclass(frozen=True)
class Hypothesis:
    """One translation: its ids, how likely the model finds it, and where it looked."""

    tokens: list[int]           # y_1 .. y_{n-1}: the target ids, without <bos> and <eos>
    log_prob: float             # log P(y | x), the <eos> included
    score: float                # log_prob / lp(n), n = len(tokens) + 1
    attention: np.ndarray | None   # (n, L): each output step's weights over the L source tokens (the <eos>
                                   # step last); None for a decoder without attention


@dataclass(frozen=True)
class Decoding:
    """A batch of B items to decode: ``make_stepper(items, repeats)`` gives a stepper whose rows decode
    ``items`` (indices into the batch), each on ``repeats`` rows; ``limits`` (B,) is each item's maximum
    length n_max; ``attention_lengths`` (B,) how many attention weights of each row are the item's
    (its source length; None for a decoder without attention)."""

    model: object
    make_stepper: Callable[[np.ndarray, int], object]
    limits: np.ndarray
    attention_lengths: np.ndarray | None = None

    def stepper(self, repeats: int = 1):
        """A stepper over the whole batch."""
        return self.make_stepper(np.arange(len(self.limits)), repeats)

    def subset(self, items: np.ndarray) -> Decoding:
        """The decoding of ``items`` of this batch alone."""
        lengths = None if self.attention_lengths is None else self.attention_lengths[items]
        return Decoding(self.model, lambda chosen, repeats: self.make_stepper(items[chosen], repeats),
                        self.limits[items], lengths)


def translation_decoding(model: Seq2Seq, source: np.ndarray, source_lengths: np.ndarray,
                         max_length: int | None = None, alpha: float = 0.0) -> Decoding:
    """The ``Decoding`` of a (S, B) batch of source sentences (checked) by a ``Seq2Seq``."""
    lengths, limits = _check_source(model, source, source_lengths, max_length, alpha)
    return Decoding(model, lambda items, repeats: model.stepper(source[:, items], lengths[items], repeats),
                    limits, lengths if model.config.attends else None)


def length_penalty(length: int | np.ndarray, alpha: float):
    """lp(n) = ((5 + n) / 6)^α."""
    return ((5.0 + length) / 6.0) ** alpha


def greedy(model: Seq2Seq, source: np.ndarray, source_lengths: np.ndarray, max_length: int | None = None,
           alpha: float = 0.0) -> list[Hypothesis]:
    """The most likely token at every step, for each sentence of the (S, B) batch ``source``."""
    return decode_greedy(translation_decoding(model, source, source_lengths, max_length, alpha), alpha)


def decode_greedy(decoding: Decoding, alpha: float = 0.0) -> list[Hypothesis]:
    """The most likely token at every step, for each item of ``decoding``."""
    return _one_path(decoding, alpha, lambda log_probs: log_probs.argmax(axis=1))


def sample(model: Seq2Seq, source: np.ndarray, source_lengths: np.ndarray, rng: np.random.Generator,
           temperature: float = 1.0, max_length: int | None = None, alpha: float = 0.0) -> list[Hypothesis]:
    """Each token drawn from softmax(z_t / temperature); the hypotheses are scored under the model (temperature 1)."""
    return decode_sample(translation_decoding(model, source, source_lengths, max_length, alpha), rng, temperature,
                         alpha)


def decode_sample(decoding: Decoding, rng: np.random.Generator, temperature: float = 1.0,
                  alpha: float = 0.0) -> list[Hypothesis]:
    """Each token drawn from softmax(z_t / temperature), for each item of ``decoding``."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ConfigError(f"`temperature` must be positive and finite, got {temperature}")
    return _one_path(decoding, alpha, lambda log_probs: draw(log_probs / temperature, rng))


def draw(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One id per row of ``scores`` (R, V), drawn with probabilities softmax(scores) (-inf: never)."""
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights, axis=1)
    thresholds = rng.random(len(scores)) * cumulative[:, -1]
    return np.minimum((cumulative <= thresholds[:, None]).sum(axis=1), scores.shape[1] - 1)


def beam_search(model: Seq2Seq, source: np.ndarray, source_lengths: np.ndarray, beam_size: int = 5,
                alpha: float = 0.6, max_length: int | None = None, n_best: int = 1) -> list[list[Hypothesis]]:
    """The ``n_best`` hypotheses of each sentence, best score first, by batched beam search of width ``beam_size``."""
    _check_beam(beam_size, n_best)
    return decode_beam(translation_decoding(model, source, source_lengths, max_length, alpha), beam_size, alpha,
                       n_best)


def decode_beam(decoding: Decoding, beam_size: int = 5, alpha: float = 0.6, n_best: int = 1) -> list[list[Hypothesis]]:
    """The ``n_best`` hypotheses of each item of ``decoding``, best score first, by batched beam search of
    width ``beam_size``."""
    _check_beam(beam_size, n_best)
    _check_alpha(alpha)
    with evaluation_mode(decoding.model):
        search = _BeamSearch(decoding.stepper(repeats=beam_size), beam_size, decoding.limits)
        search.run()
    lengths = decoding.attention_lengths
    found = [[search.hypothesis(entry, None if lengths is None else lengths[b], alpha)
              for entry in _best(entries, alpha, n_best)] for b, entries in enumerate(search.finished)]
    lost = np.flatnonzero(search.greedy_lost)
    if len(lost):
        for b, path in zip(lost, decode_greedy(decoding.subset(lost), alpha)):
            found[b] = _with_greedy(found[b], path, n_best)
    return found


def _check_beam(beam_size: int, n_best: int) -> None:
    check_positive("beam_size", beam_size)
    check_positive("n_best", n_best)
    if n_best > beam_size:
        raise ConfigError(f"`n_best` ({n_best}) cannot exceed `beam_size` ({beam_size})")


def _with_greedy(hypotheses: list[Hypothesis], path: Hypothesis, n_best: int) -> list[Hypothesis]:
    """The n best of the beam's hypotheses and greedy's, best score first."""
    if any(hypothesis.tokens == path.tokens for hypothesis in hypotheses):
        return hypotheses
    return sorted([*hypotheses, path], key=lambda hypothesis: hypothesis.score, reverse=True)[:n_best]


@contextlib.contextmanager
def evaluation_mode(model):
    """``with evaluation_mode(model):`` the model runs without dropout inside, in its former mode after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


# -- one path per sentence: greedy and sampling ---------------------------------------------------
def _one_path(decoding: Decoding, alpha: float, choose) -> list[Hypothesis]:
    """Decode every item along one path, ``choose`` picking each next id from log-probabilities (R, V)."""
    _check_alpha(alpha)
    limits, lengths = decoding.limits, decoding.attention_lengths
    batch = len(limits)
    tokens = [[] for _ in range(batch)]
    attention = [[] for _ in range(batch)]
    log_prob = np.zeros(batch)
    active, ids = np.arange(batch), np.full(batch, BOS_ID)
    with evaluation_mode(decoding.model):
        stepper = decoding.stepper()
        for t in range(int(limits.max())):
            log_probs = _next_log_probs(stepper, ids, t == limits[active] - 1)
            ids = choose(log_probs)
            log_prob[active] += log_probs[np.arange(len(ids)), ids]
            for row, b in enumerate(active):
                tokens[b].append(int(ids[row]))
                if lengths is not None:
                    attention[b].append(stepper.attention[row, :lengths[b]])
            going = ids != EOS_ID
            if not going.all():
                active, ids = active[going], ids[going]
                if not len(active):
                    break
                stepper.select(np.flatnonzero(going))
    return [Hypothesis(path[:-1], float(log_prob[b]), float(log_prob[b] / length_penalty(len(path), alpha)),
                       np.stack(attention[b]) if lengths is not None else None) for b, path in enumerate(tokens)]


def _next_log_probs(stepper, ids: np.ndarray, at_limit: np.ndarray) -> np.ndarray:
    """log softmax of the next token's scores (R, V), float64, with what may not come next at -inf:
    <pad> and <bos> never, and only <eos> in rows ``at_limit``. (Masked after the softmax, so that
    a hypothesis's log-probability stays the model's.)"""
    log_probs = log_softmax(stepper(ids)).astype(np.float64, copy=False)   # the model's precision; summed in float64
    log_probs[:, NEVER_CHOSEN] = -np.inf
    if at_limit.any():
        eos = log_probs[at_limit, EOS_ID]
        log_probs[at_limit] = -np.inf
        log_probs[at_limit, EOS_ID] = eos
    return log_probs


# -- beam search ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Finished:
    """A finished hypothesis before its tokens are read back: it ended with <eos> at ``step`` from ``row``."""

    log_prob: float
    step: int
    row: int                    # the stepper's row at ``step`` that it extended


@dataclass
class _History:
    """Per step t: the token each new row took, its parent row at step t, and step t's attention (by row)."""

    tokens: list[np.ndarray] = field(default_factory=list)       # (R_{t+1},)
    parents: list[np.ndarray] = field(default_factory=list)      # (R_{t+1},): rows at step t
    attention: list[np.ndarray] = field(default_factory=list)    # (R_t, S)

    def path(self, step: int, row: int) -> tuple[list[int], list[np.ndarray]]:
        """Tokens and attention rows of the hypothesis on ``row`` at ``step``, before its step ``step``."""
        tokens, attention = [], []
        for t in reversed(range(step)):
            parent = self.parents[t][row]
            tokens.append(int(self.tokens[t][row]))
            if self.attention[t] is not None:
                attention.append(self.attention[t][parent])
            row = parent
        return tokens[::-1], attention[::-1]


class _BeamSearch:
    """The state of one batched beam search: live scores per sentence, finished lists, history."""

    def __init__(self, stepper, beam_size: int, limits: np.ndarray):
        self.stepper, self.k, self.limits = stepper, beam_size, limits
        batch = len(limits)
        self.scores = np.full((batch, beam_size), -np.inf)      # log P of the live hypotheses
        self.scores[:, 0] = 0.0                                  # at first every beam is the same: keep one
        self.finished: list[list[_Finished]] = [[] for _ in range(batch)]
        self.history = _History()
        self.greedy_beam = np.zeros(batch, np.int64)     # the beam on the greedy path; -1 once it ended or was lost
        self.greedy_lost = np.zeros(batch, bool)         # pruned, or not ended when the sentence was done

    def run(self) -> None:
        active = np.arange(len(self.limits))
        ids = np.full(len(active) * self.k, BOS_ID)
        for t in range(int(self.limits.max())):
            at_limit = t == self.limits[active] - 1
            log_probs = _next_log_probs(self.stepper, ids, np.repeat(at_limit, self.k))
            self.history.attention.append(self.stepper.attention)
            kept = self._extend(active, log_probs, t)
            going = np.array([len(self.finished[b]) < self.k for b in active]) & ~at_limit
            self.greedy_lost[active[~going]] |= self.greedy_beam[active[~going]] >= 0
            active, ids = self._go_on(active, going, *kept)
            if not len(active):
                return

    def _extend(self, active, log_probs: np.ndarray, step: int):
        """Every live hypothesis extended by every token: of each sentence's 2k best candidates,
        those that end among the first k finish; returns the k best others (scores, beams, tokens)."""
        k, rows = self.k, np.arange(len(active)) * self.k
        greedy_tokens = log_probs[rows + np.maximum(self.greedy_beam[active], 0)].argmax(axis=1)
        candidates = (self.scores[active][:, :, None] + log_probs.reshape(len(active), k, -1)).reshape(len(active), -1)
        scores, beams, tokens = _top_candidates(candidates, 2 * k, log_probs.shape[1])
        self._finish(active, scores[:, :k], beams[:, :k], tokens[:, :k], step)
        kept = _first_going_on(scores, beams, tokens, k)
        self._follow_greedy(active, greedy_tokens, (beams[:, :k], tokens[:, :k]), kept[1:])
        return kept

    def _go_on(self, active, going, scores, beams, tokens):
        """The sentences not done go on with their kept hypotheses: history, scores, the stepper's rows."""
        rows = (np.arange(len(active))[:, None] * self.k + beams)[going].ravel()
        self.history.tokens.append(tokens[going].ravel())
        self.history.parents.append(rows)
        active = active[going]
        if len(active):
            self.scores[active] = scores[going]
            self.stepper.select(rows)
        return active, tokens[going].ravel()

    def _finish(self, active, scores, beams, tokens, step: int) -> None:
        """Move the candidates ending in <eos> (among the first k) to their sentence's finished list."""
        for a, rank in zip(*np.nonzero((tokens == EOS_ID) & np.isfinite(scores))):
            self.finished[active[a]].append(_Finished(float(scores[a, rank]), step, int(a * self.k + beams[a, rank])))

    def _follow_greedy(self, active, greedy_tokens, ended, kept) -> None:
        """Move each sentence's greedy beam to the row its greedy extension went to: finished or
        kept on; if it was pruned, mark the sentence lost."""
        for a, b in enumerate(active):
            beam, token = self.greedy_beam[b], greedy_tokens[a]
            if beam < 0:
                continue
            beams, tokens = ended if token == EOS_ID else kept
            place = np.flatnonzero((beams[a] == beam) & (tokens[a] == token))
            self.greedy_beam[b] = place[0] if len(place) and token != EOS_ID else -1
            self.greedy_lost[b] = not len(place)

    def hypothesis(self, entry: _Finished, source_length: int | None, alpha: float) -> Hypothesis:
        """The finished ``entry``'s hypothesis; its attention rows cut to ``source_length`` (None: no attention)."""
        tokens, attention = self.history.path(entry.step, entry.row)
        n = len(tokens) + 1
        if source_length is not None:
            attention.append(self.history.attention[entry.step][entry.row])
            attention = np.stack(attention)[:, :source_length]
        return Hypothesis(tokens, entry.log_prob, entry.log_prob / length_penalty(n, alpha),
                          attention if source_length is not None else None)


def _top_candidates(scores: np.ndarray, count: int, vocab: int):
    """The ``count`` best of each row of ``scores`` (A, k*V), best first: scores, beams, tokens.

    Compiled where the kernels are on (``rnnkit.kernels.beam``); below, the NumPy reference.
    """
    count = min(count, scores.shape[1])
    if kernels.compiled():
        best_scores = np.empty((len(scores), count))
        best = np.empty((len(scores), count), np.int64)
        kernels.load("beam").top_candidates(scores, count, best_scores, best)
        return best_scores, best // vocab, best % vocab
    best = np.argpartition(-scores, count - 1, axis=1)[:, :count]
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
    best = np.take_along_axis(best, order, axis=1)
    return np.take_along_axis(scores, best, axis=1), best // vocab, best % vocab


def _first_going_on(scores, beams, tokens, k: int):
    """Of each row's candidates, best first, the first k that do not end (there are at least k)."""
    first = np.argsort(tokens == EOS_ID, axis=1, kind="stable")[:, :k]
    return (np.take_along_axis(scores, first, axis=1), np.take_along_axis(beams, first, axis=1),
            np.take_along_axis(tokens, first, axis=1))


def _best(entries: list[_Finished], alpha: float, n_best: int) -> list[_Finished]:
    def score(entry: _Finished) -> float:
        return entry.log_prob / length_penalty(entry.step + 1, alpha)
    return sorted(entries, key=score, reverse=True)[:n_best]


# -- checks ---------------------------------------------------------------------------------------
def _check_source(model, source, source_lengths, max_length, alpha) -> tuple[np.ndarray, np.ndarray]:
    """The checked lengths (B,) and each sentence's maximum target length n_max (B,)."""
    source = check_indices(source, model.config.source_vocab_size, name="source")
    if source.ndim != 2:
        raise ConfigError(f"`source` must be a (S, B) array of token ids, got shape {source.shape}")
    lengths = check_lengths(source_lengths, source.shape[0], source.shape[1])
    _check_alpha(alpha)
    if max_length is None:
        return lengths, 2 * lengths + 10
    check_positive("max_length", max_length)
    return lengths, np.full(len(lengths), max_length)


def _check_alpha(alpha: float) -> None:
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ConfigError(f"`alpha` (length normalisation) must be >= 0 and finite, got {alpha}")


def check_positive(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"`{name}` must be a positive integer, got {value!r}")
