"""A user's labelled texts: a ``.csv`` or ``.tsv`` file with a header row, one text per row.

    data = read_labelled_file("reviews.csv", text_column="review", label_column="stars")
    data.label_names                       # the classes, sorted: ['1', '2', '3', '4', '5']
    parts = data.split_indices()           # {"train": rows, "dev": rows, "test": rows}
    texts, labels = data.take(parts["train"])   # labels: indices into data.label_names

The file is read as ``rnnkit.data.tables`` reads tables: the delimiter follows the
extension (``.csv`` comma, ``.tsv`` tab); fields may be quoted (``"a text, with a comma"``,
a ``""`` inside quotes is one ``"``), so a text may hold the delimiter or even line
breaks; blank lines are skipped.

Labels are any strings (two classes or more), kept as written apart from surrounding
spaces. A model numbers the classes in sorted order, ``label_names(labels)`` =
``sorted(set(labels))``, so the same file always gives the same numbering.

The rows go into train, dev and test either as a ``split_column`` says (train, dev or
test; val, valid and validation mean dev; any case) or, without one, by
``stratified_split``: a seeded split that keeps each class's share in every part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rnnkit.data.tables import column_index, read_table
from rnnkit.errors import ConfigError, DataError

SPLITS = ("train", "dev", "test")
SPLIT_NAMES = {"train": "train", "dev": "dev", "val": "dev", "valid": "dev", "validation": "dev", "test": "test"}
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class LabelledTexts:
    """The rows of a labelled file: ``texts[i]`` has the label ``labels[i]`` (a class name)
    and, when the file has a split column, belongs to ``splits[i]`` ("train", "dev" or "test").
    ``lines[i]`` is the line of the file where row i starts."""

    path: Path
    texts: list[str]
    labels: list[str]
    splits: list[str] | None = None
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def label_names(self) -> list[str]:
        """The classes in the order a model numbers them: sorted."""
        return label_names(self.labels)

    def label_indices(self) -> np.ndarray:
        """Each row's class as an index into ``label_names`` (int64)."""
        return label_indices(self.labels, self.label_names)

    def split_indices(self, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0) -> dict[str, np.ndarray]:
        """The rows of each part, ``{"train": ..., "dev": ..., "test": ...}``, in file order.

        With a split column, its values decide (dev or test may then be empty; train is
        not, ``read_labelled_file`` checks that). Without one, ``stratified_split`` of the
        labels with these ``fractions`` (train, dev, test) and ``seed``.
        """
        if self.splits is not None:
            splits = np.array(self.splits)
            return {name: np.flatnonzero(splits == name) for name in SPLITS}
        if len(fractions) != len(SPLITS):
            raise ConfigError(f"`fractions` {tuple(fractions)} must be three: train, dev and test")
        try:
            parts = stratified_split(self.labels, fractions, seed)
        except DataError as error:
            raise DataError(f"{self.path}: {error}") from None
        return dict(zip(SPLITS, parts))

    def take(self, indices: Iterable[int]) -> tuple[list[str], np.ndarray]:
        """The texts of the given rows, and their classes as indices into ``label_names``."""
        indices = np.asarray(indices, dtype=np.int64)
        names = self.label_names
        return [self.texts[i] for i in indices], label_indices([self.labels[i] for i in indices], names)


def label_names(labels: Iterable[str]) -> list[str]:
    """The distinct labels, sorted: the classes in the order a model numbers them."""
    return sorted(set(labels))


def label_indices(labels: Iterable[str], names: Sequence[str]) -> np.ndarray:
    """Each label's index in ``names`` (int64); a label not among them raises ``DataError``."""
    index = {name: i for i, name in enumerate(names)}
    try:
        return np.array([index[label] for label in labels], dtype=np.int64)
    except KeyError as error:
        raise DataError(
            f"label {error.args[0]!r} is not one of the model's classes {list(names)}: "
            "use data labelled with the classes it was trained on"
        ) from None


def read_labelled_file(
    path: str | os.PathLike,
    text_column: str,
    label_column: str,
    split_column: str | None = None,
    encoding: str = "utf-8",
) -> LabelledTexts:
    """The texts, labels and (with ``split_column``) splits of a ``.csv`` or ``.tsv`` file.

    The file is read row by row with ``csv.reader``. Raises ``DataError`` (one line,
    naming the file and, for a bad row, its line) for: a missing, empty or headerless
    file; a column not in the header; a row with more or fewer fields than the header;
    an empty text or label; a split that is not train/dev/test; only one class; and,
    with ``split_column``, no row to train on.
    """
    path = Path(path)
    header, rows = read_table(path, encoding, "labelled texts")
    text_at = column_index(header, text_column, "text_column", path)
    label_at = column_index(header, label_column, "label_column", path)
    split_at = column_index(header, split_column, "split_column", path) if split_column is not None else 0
    texts: list[str] = []
    labels: list[str] = []
    splits: list[str] | None = [] if split_column is not None else None
    lines: list[int] = []
    for line, row in rows:
        text, label = row[text_at], row[label_at].strip()
        if not text.strip():
            raise DataError(f"{path} line {line}: the text (column {text_column!r}) is empty: "
                            "fill it in or remove the row")
        if not label:
            raise DataError(f"{path} line {line}: the label (column {label_column!r}) is empty: "
                            "fill it in or remove the row")
        texts.append(text)
        labels.append(label)
        lines.append(line)
        if splits is not None:
            splits.append(_split_name(row[split_at], split_column, path, line))
    _check_contents(path, labels, splits, label_column, split_column)
    return LabelledTexts(path, texts, labels, splits, lines)


def stratified_split(
    labels: Sequence, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Row indices of each part (train first, then e.g. dev and test), each part with
    about the same class proportions; deterministic for a given ``seed``.

    The rule: the classes are taken in sorted order, and each class's rows are shuffled
    by ``np.random.default_rng(seed)`` (one permutation per class, in that order). Of a
    class of n rows, part k gets the next ``round(fractions[k] * n)`` (as far as rows are
    left), except the last part of positive fraction, which gets the rest. Then two guarantees, which only small classes
    need: a class with no training row moves one in from its largest other part; and a
    part with a positive fraction but no row takes one from the largest part that can
    spare one (train spares only a class's second row or more; another part only if it
    keeps a row), from its largest class there (ties: the first). The indices of each
    part come back sorted, in the order of the rows.

    ``DataError`` when there are too few rows for the guarantees: with C classes and P
    parts of positive fraction besides train, that takes at least C + P rows.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or len(fractions) < 1 or np.any(fractions < 0) or fractions[0] <= 0 \
            or not np.isclose(fractions.sum(), 1.0):
        raise ConfigError(
            f"`fractions` {tuple(fractions.tolist())} must be at least 0, with a positive first (training) "
            "part, and sum to 1, e.g. (0.8, 0.1, 0.1)"
        )
    labels = np.asarray(labels)
    classes = np.unique(labels)
    wanted = [k for k in range(1, len(fractions)) if fractions[k] > 0]
    needed = len(classes) + len(wanted)
    if len(labels) < needed:
        names = ", ".join(SPLITS[k] if len(fractions) == 3 else f"part {k}" for k in wanted)
        raise DataError(
            f"{len(labels)} rows of {len(classes)} classes are too few to split into a training part and "
            f"{names}: that takes at least {needed} rows (one of each class to train on, one per other part)"
        )
    rng = np.random.default_rng(seed)
    members = [rng.permutation(np.flatnonzero(labels == label)) for label in classes]
    sizes = np.array([_class_sizes(len(rows), fractions) for rows in members], dtype=np.int64)  # class x part
    for c in range(len(classes)):
        if sizes[c, 0] == 0:
            donor = 1 + int(np.argmax(sizes[c, 1:]))
            sizes[c, donor] -= 1
            sizes[c, 0] += 1
    for k in wanted:
        if sizes[:, k].sum() == 0:
            spare = sizes - np.eye(1, len(fractions), 0, dtype=np.int64)  # a class keeps one training row
            totals = sizes.sum(axis=0)
            can_spare = [j for j in range(len(fractions))
                         if (spare[:, j].max() > 0 if j == 0 else totals[j] >= 2)]
            donor = max(can_spare, key=lambda j: (totals[j], -j))
            c = int(np.argmax(spare[:, donor]))
            sizes[c, donor] -= 1
            sizes[c, k] += 1
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for rows, class_sizes in zip(members, sizes):
        for part, chunk in zip(parts, np.split(rows, np.cumsum(class_sizes)[:-1])):
            part.append(chunk)
    return tuple(np.sort(np.concatenate(chunks)).astype(np.int64) for chunks in parts)


def _class_sizes(n: int, fractions: np.ndarray) -> list[int]:
    """``round(f_k * n)`` rows for each part, as far as there are rows left, but the last part of a
    positive fraction gets the rest."""
    last = int(np.flatnonzero(fractions > 0)[-1])
    sizes, left = [0] * len(fractions), n
    for k in range(last):
        sizes[k] = min(int(np.round(fractions[k] * n)), left)
        left -= sizes[k]
    sizes[last] = left
    return sizes


def _split_name(value: str, split_column: str, path: Path, line: int) -> str:
    name = SPLIT_NAMES.get(value.strip().lower())
    if name is None:
        raise DataError(
            f"{path} line {line}: split {value!r} (column {split_column!r}) is not train, dev or test "
            "(val, valid and validation also mean dev)"
        )
    return name


def _check_contents(path: Path, labels: list[str], splits: list[str] | None, label_column: str,
                    split_column: str | None) -> None:
    if not labels:
        raise DataError(f"{path} has a header but no rows: add one row per text")
    classes = label_names(labels)
    if len(classes) < 2:
        raise DataError(f"{path}: every row has the label {classes[0]!r} (column {label_column!r}): "
                        "a classifier needs at least two classes")
    if splits is not None and "train" not in splits:
        raise DataError(f"{path}: no row's split (column {split_column!r}) is train: "
                        "mark the rows to train on with train")
