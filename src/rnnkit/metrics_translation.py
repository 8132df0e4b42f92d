"""Scores of translations against references: corpus BLEU and chrF, computed by sacrebleu.

BLEU (Papineni et al. 2002) and chrF (Popović 2015) are not written here: sacrebleu
(Post 2018) is the field's reference implementation, and a score means something only
with the signature that says how it was computed (references, case, tokenisation,
smoothing, version), e.g. ``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``.
Every function returns the score with that signature.

Hypotheses and references are plain detokenised text (``rnnkit.data.pairs.to_text``),
one line per sentence; sacrebleu tokenises both (BLEU: ``13a`` by default, ``zh`` for
Chinese, ``char`` ...). sacrebleu is an optional dependency (``pip install 'rnnkit[translation]'``),
imported when a score is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rnnkit.errors import ConfigError, DataError


@dataclass(frozen=True)
class CorpusScore:
    """A corpus-level score in sacrebleu's 0-100 scale and the signature that says how it was computed."""

    metric: str            # "BLEU" or "chrF"
    score: float
    signature: str

    def __str__(self) -> str:
        return f"{self.metric} = {self.score:.2f} ({self.signature})"


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
                tokenize: str | None = None, lowercase: bool = False, max_ngram_order: int = 4) -> CorpusScore:
    """sacrebleu's corpus BLEU. ``references``: one string per hypothesis, or several such lists
    (one per reference set; ``reference_sets`` makes them from each hypothesis's own references);
    ``tokenize``: sacrebleu's tokeniser (None: 13a; "zh" for Chinese); ``max_ngram_order`` n:
    BLEU-n, the geometric mean of the 1- to n-gram precisions times the brevity penalty."""
    metric = _bleu(tokenize, lowercase, max_ngram_order)
    return _score("BLEU" if max_ngram_order == 4 else f"BLEU-{max_ngram_order}", metric, hypotheses, references)


def _bleu(tokenize: str | None = None, lowercase: bool = False, max_ngram_order: int = 4, **options):
    from_sacrebleu = _metrics()
    options = {"lowercase": lowercase, "max_ngram_order": max_ngram_order, **options,
               **({} if tokenize is None else {"tokenize": tokenize})}
    try:
        return from_sacrebleu.BLEU(**options)
    except Exception as error:  # sacrebleu raises several types for an unknown tokeniser or order
        raise ConfigError(f"`tokenize` {tokenize!r} or `max_ngram_order` {max_ngram_order!r} is not one that "
                          f"sacrebleu's BLEU takes ({error})") from None


def reference_sets(references_per_hypothesis: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Each hypothesis's own references (any number, at least one) as sacrebleu's reference sets: set k holds
    every hypothesis's k-th reference, None where a hypothesis has fewer (sacrebleu's way of a variable
    number of references)."""
    if any(not len(references) for references in references_per_hypothesis):
        raise DataError("every hypothesis needs at least one reference")
    count = max(len(references) for references in references_per_hypothesis)
    return [[references[k] if k < len(references) else None for references in references_per_hypothesis]
            for k in range(count)]


def sentence_bleu(hypothesis: str, references: Sequence[str], max_ngram_order: int = 4) -> float:
    """sacrebleu's sentence BLEU (exponential smoothing, effective order) of one hypothesis."""
    return float(_bleu(max_ngram_order=max_ngram_order, effective_order=True)
                 .sentence_score(hypothesis, list(references)).score)


class CachedBleu:
    """Corpus BLEU of many hypothesis lists against one fixed set of references, whose n-grams sacrebleu
    extracts once: ``CachedBleu(references_per_hypothesis)(hypotheses)`` is ``corpus_bleu``'s score."""

    def __init__(self, references_per_hypothesis: Sequence[Sequence[str]], max_ngram_order: int = 4):
        self.count = len(references_per_hypothesis)
        self.metric = _bleu(max_ngram_order=max_ngram_order, references=reference_sets(references_per_hypothesis))

    def __call__(self, hypotheses: Sequence[str]) -> float:
        if len(hypotheses) != self.count:
            raise DataError(f"{len(hypotheses)} hypotheses for {self.count} sets of references")
        return float(self.metric.corpus_score(list(hypotheses), None).score)


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
                word_order: int = 0) -> CorpusScore:
    """sacrebleu's corpus chrF (``word_order=2``: chrF++)."""
    metric = _metrics().CHRF(word_order=word_order)
    return _score("chrF++" if word_order == 2 else "chrF", metric, hypotheses, references)


def _score(name: str, metric, hypotheses, references) -> CorpusScore:
    streams = _reference_streams(hypotheses, references)
    result = metric.corpus_score(list(hypotheses), streams)
    return CorpusScore(name, float(result.score), str(metric.get_signature()))


def _reference_streams(hypotheses, references) -> list[list[str]]:
    """sacrebleu's layout: a list of reference sets, each with one string per hypothesis."""
    if not len(hypotheses):
        raise DataError("no hypotheses to score: translate at least one sentence")
    streams = [list(references)] if all(isinstance(r, str) for r in references) else [list(r) for r in references]
    for stream in streams:
        if len(stream) != len(hypotheses):
            raise DataError(f"{len(hypotheses)} hypotheses but a reference set of {len(stream)}: "
                            "give one reference per hypothesis")
    return streams


def _metrics():
    try:
        import sacrebleu.metrics
    except ImportError:
        raise ConfigError("scoring translations needs sacrebleu: pip install 'rnnkit[translation]'") from None
    return sacrebleu.metrics
