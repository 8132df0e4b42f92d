"""Translation scores (rnnkit/metrics_translation.py): sacrebleu's BLEU and chrF with their signatures."""

import os

import pytest

from rnnkit.errors import ConfigError, DataError
from rnnkit.metrics_translation import CorpusScore, corpus_bleu, corpus_chrf

# sacrebleu is an optional extra: skipped without it, except under CI, where the scores must be checked
sacrebleu = __import__("sacrebleu") if os.environ.get("CI") else pytest.importorskip("sacrebleu")

HYPOTHESES = ["the cat sat on the mat .", "he read the book"]
REFERENCES = ["the cat sat on a mat .", "he read a book"]


def test_bleu_is_sacrebleus_with_its_signature():
    score = corpus_bleu(HYPOTHESES, REFERENCES)
    expected = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES])
    assert isinstance(score, CorpusScore) and score.metric == "BLEU"
    assert score.score == pytest.approx(expected.score, abs=1e-12)
    assert score.signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert str(score).startswith("BLEU = ")


def test_bleu_options_reach_sacrebleu():
    chinese = corpus_bleu(["我们战胜了敌人。"], ["我们打败了敌人。"], tokenize="zh")
    assert "tok:zh" in chinese.signature and 0 < chinese.score < 100
    lowercased = corpus_bleu(["The Cat sat on the mat"], ["the cat sat on the mat"], lowercase=True)
    assert lowercased.score == pytest.approx(100.0) and "case:lc" in lowercased.signature


def test_several_reference_sets():
    score = corpus_bleu(HYPOTHESES, [REFERENCES, ["the cat sat on the mat .", "he read the book"]])
    assert score.score == pytest.approx(100.0) and "nrefs:2" in score.signature


def test_chrf_and_chrf_plus_plus():
    chrf = corpus_chrf(HYPOTHESES, REFERENCES)
    assert chrf.score == pytest.approx(sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score, abs=1e-12)
    assert chrf.metric == "chrF" and "nw:0" in chrf.signature
    assert corpus_chrf(HYPOTHESES, REFERENCES, word_order=2).metric == "chrF++"


@pytest.mark.parametrize("hypotheses,references,message", [
    ([], [], "no hypotheses to score"),
    (HYPOTHESES, REFERENCES[:1], "2 hypotheses but a reference set of 1"),
])
def test_mismatched_inputs_are_data_errors(hypotheses, references, message):
    with pytest.raises(DataError, match=message):
        corpus_bleu(hypotheses, references)


def test_unknown_tokeniser_is_a_config_error():
    with pytest.raises(ConfigError, match="`tokenize` 'moses'"):
        corpus_bleu(HYPOTHESES, REFERENCES, tokenize="moses")
