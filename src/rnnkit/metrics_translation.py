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
                tokenize: str | None = None, lowercase: bool = False) -> CorpusScore:
    """sacrebleu's corpus BLEU. ``references``: one string per hypothesis, or several such lists
    (one per reference set); ``tokenize``: sacrebleu's tokeniser (None: 13a; "zh" for Chinese)."""
    from_sacrebleu = _metrics()
    options = {"lowercase": lowercase, **({} if tokenize is None else {"tokenize": tokenize})}
    try:
        metric = from_sacrebleu.BLEU(**options)
    except Exception as error:  # sacrebleu raises several types for an unknown tokeniser
        raise ConfigError(f"`tokenize` {tokenize!r} is not one of sacrebleu's BLEU tokenisers ({error})") from None
    return _score("BLEU", metric, hypotheses, references)


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
