"""Two baselines a caption model must beat, given the same test images and scored by the same BLEU.

- **Nearest neighbour** (Devlin et al. 2015, "Language models for image captioning: the quirks
  and what works", and "Exploring nearest neighbor approaches for image captioning"): for a
  test image with feature q, the training images j nearest by cosine similarity,

      cos(q, x_j) = q . x_j / (|q| |x_j|),

  and among the captions C of the ``neighbours`` nearest (k = 1: that one image's), the
  consensus caption

      c* = argmax_{c in C} BLEU(c; C \\ {c})          (sacrebleu's smoothed sentence BLEU-4)

  the training caption most like the others. Devlin et al. pool the captions of k (up to 90)
  neighbours and also try CIDEr as the similarity; here k defaults to 1.
- **Best single caption**: the one training caption that, given as the caption of every training
  image, has the highest corpus BLEU-4 against the training references; it is then the caption
  of every test image. On a large training set it is chosen among ``max_candidates`` captions
  drawn with a fixed seed, scored on ``max_images`` training images (all of them when fewer).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.metrics_translation import CachedBleu, sentence_bleu

MAX_CANDIDATES, MAX_IMAGES = 2000, 1000


def cosine_neighbours(queries: np.ndarray, keys: np.ndarray, count: int = 1) -> np.ndarray:
    """(Q, count): for each query row, the ``count`` key rows of highest cosine similarity, best first
    (ties: the lower index)."""
    if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
        raise DataError(f"queries {queries.shape} and keys {keys.shape} must be (Q, F) and (K, F)")
    if not 1 <= count <= len(keys):
        raise ConfigError(f"`neighbours` must be between 1 and the {len(keys)} training images, got {count}")
    similarity = _unit(queries) @ _unit(keys).T
    return np.argsort(-similarity, axis=1, kind="stable")[:, :count]


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def consensus_caption(captions: Sequence[str]) -> str:
    """The caption with the highest sentence BLEU against the others (the first of equals; one caption: itself)."""
    if not captions:
        raise DataError("no captions to choose from")
    if len(captions) == 1:
        return captions[0]
    scores = [sentence_bleu(caption, [other for j, other in enumerate(captions) if j != i])
              for i, caption in enumerate(captions)]
    return captions[int(np.argmax(scores))]


def nearest_neighbour_captions(train_features: np.ndarray, train_references: Sequence[Sequence[str]],
                               test_features: np.ndarray, neighbours: int = 1) -> list[str]:
    """The nearest-neighbour baseline's caption of each test image."""
    if len(train_features) != len(train_references):
        raise DataError(f"{len(train_features)} training features for {len(train_references)} training images")
    nearest = cosine_neighbours(test_features, train_features, neighbours)
    chosen: dict[tuple, str] = {}
    captions = []
    for row in nearest:
        key = tuple(sorted(row.tolist()))
        if key not in chosen:
            chosen[key] = consensus_caption([caption for j in key for caption in train_references[j]])
        captions.append(chosen[key])
    return captions


def best_single_caption(train_references: Sequence[Sequence[str]], max_candidates: int = MAX_CANDIDATES,
                        max_images: int = MAX_IMAGES, seed: int = 0) -> str:
    """The training caption with the highest corpus BLEU-4 when given for every training image (see the
    module docstring for the caps on large sets)."""
    rng = np.random.default_rng(seed)
    images = np.arange(len(train_references))
    if len(images) > max_images:
        images = np.sort(rng.choice(len(images), max_images, replace=False))
    candidates = sorted({caption for references in train_references for caption in references})
    if not candidates:
        raise DataError("no training captions to choose from")
    if len(candidates) > max_candidates:
        candidates = [candidates[i] for i in np.sort(rng.choice(len(candidates), max_candidates, replace=False))]
    bleu = CachedBleu([train_references[i] for i in images])
    scores = [bleu([candidate] * len(images)) for candidate in candidates]
    return candidates[int(np.argmax(scores))]
