"""The captioning baselines (rnnkit/baselines_captioning.py) and BLEU-n against several references
(rnnkit/metrics_translation.py), on tiny made-up captions."""

import math
from collections import Counter

import numpy as np
import pytest

from rnnkit.baselines_captioning import (
    best_single_caption,
    consensus_caption,
    cosine_neighbours,
    nearest_neighbour_captions,
)
from rnnkit.errors import ConfigError
from rnnkit.metrics_translation import CachedBleu, corpus_bleu, reference_sets

TRAIN_REFERENCES = [["a dog runs on the grass", "a brown dog on the grass", "the dog is on the grass"],
                    ["a cat sits on a sofa", "a cat on the sofa"],
                    ["a red car parked on a street", "a car on a street", "a parked car", "a car on the road"]]
TRAIN_FEATURES = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.1, 5.0]])


def test_cosine_neighbours_ignore_the_length_of_the_vectors():
    queries = np.array([[10.0, 0.5, 0.0], [0.0, 0.0, 0.1], [0.0, 3.0, 0.2]])
    assert cosine_neighbours(queries, TRAIN_FEATURES, 2).tolist() == [[0, 1], [2, 0], [1, 2]]
    with pytest.raises(ConfigError, match="`neighbours` must be between 1 and the 3 training images"):
        cosine_neighbours(queries, TRAIN_FEATURES, 4)


def test_consensus_is_the_caption_most_like_the_others():
    captions = ["two zebras eating", "a dog lies on the grass", "a dog on the grass", "the dog on the grass today"]
    assert consensus_caption(captions) == "a dog on the grass"
    assert consensus_caption(["only one"]) == "only one"


def test_nearest_neighbour_gives_the_consensus_caption_of_the_nearest_training_image():
    queries = np.array([[0.0, 0.0, 3.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0]])
    captions = nearest_neighbour_captions(TRAIN_FEATURES, TRAIN_REFERENCES, queries)
    assert captions == [consensus_caption(TRAIN_REFERENCES[2]), consensus_caption(TRAIN_REFERENCES[0]),
                        consensus_caption(TRAIN_REFERENCES[1])]
    assert captions[0] in TRAIN_REFERENCES[2]
    pooled = nearest_neighbour_captions(TRAIN_FEATURES, TRAIN_REFERENCES, queries[:1], neighbours=3)
    assert pooled == [consensus_caption([c for refs in TRAIN_REFERENCES for c in refs])]


def test_best_single_caption_scores_highest_on_the_training_images():
    best = best_single_caption(TRAIN_REFERENCES)
    score = CachedBleu(TRAIN_REFERENCES)
    candidates = {caption for refs in TRAIN_REFERENCES for caption in refs}
    assert all(score([best] * 3) >= score([other] * 3) for other in candidates)
    assert score([best] * 3) == corpus_bleu([best] * 3, reference_sets(TRAIN_REFERENCES)).score
    capped = best_single_caption(TRAIN_REFERENCES, max_candidates=2, max_images=2, seed=1)
    assert capped in candidates


def bleu1_by_hand(hypotheses, references):
    """BLEU-1 (Papineni et al. 2002): clipped unigram precision over the corpus times the brevity penalty
    exp(1 - r / c) (when c < r), r the sum of each hypothesis's closest reference length."""
    matched = total = closest = 0
    for hypothesis, refs in zip(hypotheses, references):
        words = hypothesis.split()
        most = Counter()
        for reference in refs:
            most |= Counter(reference.split())
        matched += sum(min(count, most[word]) for word, count in Counter(words).items())
        total += len(words)
        closest += min((abs(len(r.split()) - len(words)), len(r.split())) for r in refs)[1]
    penalty = 1.0 if total > closest else math.exp(1 - closest / total)
    return 100 * penalty * matched / total


def test_bleu_1_against_a_varying_number_of_references_is_papinenis():
    hypotheses = ["a dog on a dog", "a cat", "a car parked on the street by a house"]
    sets = reference_sets(TRAIN_REFERENCES)
    assert len(sets) == 4 and sets[3] == [None, None, "a car on the road"]
    score = corpus_bleu(hypotheses, sets, max_ngram_order=1)
    assert score.metric == "BLEU-1" and "nrefs:var" in score.signature
    assert score.score == pytest.approx(bleu1_by_hand(hypotheses, TRAIN_REFERENCES), abs=1e-9)
    assert corpus_bleu(hypotheses, sets).metric == "BLEU"
