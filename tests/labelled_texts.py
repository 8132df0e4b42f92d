"""Small labelled-text files for the classification tests: three classes that one word tells apart.

Each text is a few filler words with one keyword of its class put somewhere among them, so a
tiny classifier learns the classes within a few dozen updates.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

KEYWORDS = {"pos": ["great", "wonderful"], "neg": ["awful", "terrible"], "mid": ["okay", "average"]}
FILLER = ["the", "film", "is", "a", "plot", "with", "actors", "and", "story", "music"]
CLASSES = sorted(KEYWORDS)          # how a model numbers them: ["mid", "neg", "pos"]


def labelled_rows(per_class: int = 30, seed: int = 0, classes=tuple(KEYWORDS)) -> list[tuple[str, str]]:
    """(text, label) rows, the classes interleaved."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(per_class):
        for label in classes:
            words = list(rng.choice(FILLER, size=int(rng.integers(2, 7))))
            words.insert(int(rng.integers(len(words) + 1)), KEYWORDS[label][k % 2])
            rows.append((" ".join(words), label))
    return rows


def write_labelled(path: Path, rows, header=("review", "stars"), splits=None) -> Path:
    """``rows`` of (text, label) into a .csv or .tsv file (by ``path``'s extension) with a header;
    ``splits`` (one per row) adds a third column, "split"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(list(header) + (["split"] if splits is not None else []))
        for k, (text, label) in enumerate(rows):
            writer.writerow([text, label] + ([splits[k]] if splits is not None else []))
    return path


def split_names(count: int, dev: str = "val") -> list[str]:
    """A split column: of every 10 rows, 8 train, one ``dev`` (e.g. "val") and one test."""
    return [("test" if k % 10 == 9 else dev if k % 10 == 8 else "train") for k in range(count)]
