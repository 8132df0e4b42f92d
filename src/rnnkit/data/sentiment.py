"""Binary sentiment corpora as lists of (text, label) pairs, label 0 = negative, 1 = positive.

- SST-2 (English movie-review sentences): the official split, train 6,920 / dev 872 /
  test 1,821, read from ``train.tsv``, ``dev.tsv``, ``test.tsv`` (header ``label\\tsentence``).
- ChnSentiCorp hotel reviews (Chinese): one CSV (header ``label,review``) of 7,766
  reviews and no official split. ``load_chnsenticorp`` makes one: a stratified
  80/10/10 train/dev/test split (``rnnkit.data.labelled.stratified_split``) drawn with
  seed ``CHNSENTICORP_SPLIT_SEED`` = 0, so that every run and every user gets the same
  parts (6,212 / 776 / 777 reviews, each with the corpus's 69 % positives). The one
  empty review is dropped first.

Each loader takes the dataset's folder (for example ``$RNNKIT_DATA/sentiment_sst2``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from rnnkit.data.labelled import SPLITS, stratified_split
from rnnkit.errors import ConfigError, DataError

CHNSENTICORP_FILE = "ChnSentiCorp_htl_all.csv"
CHNSENTICORP_SPLIT_SEED = 0
CHNSENTICORP_FRACTIONS = (0.8, 0.1, 0.1)


def load_sst2(folder: str | Path, split: str) -> list[tuple[str, int]]:
    """The sentences and labels of one official SST-2 split: "train", "dev" or "test"."""
    _check_split(split)
    return read_labelled_texts(Path(folder) / f"{split}.tsv", delimiter="\t", header=("label", "sentence"))


def load_chnsenticorp(
    folder: str | Path, split: str, seed: int = CHNSENTICORP_SPLIT_SEED
) -> list[tuple[str, int]]:
    """The reviews and labels of one part of the fixed stratified 80/10/10 split (see the module doc)."""
    _check_split(split)
    examples = read_labelled_texts(Path(folder) / CHNSENTICORP_FILE, delimiter=",", header=("label", "review"))
    examples = [(text, label) for text, label in examples if text.strip()]
    parts = stratified_split([label for _, label in examples], CHNSENTICORP_FRACTIONS, seed)
    return [examples[i] for i in parts[SPLITS.index(split)]]


def read_labelled_texts(path: Path, delimiter: str, header: tuple[str, str]) -> list[tuple[str, int]]:
    """Rows ``label<delimiter>text`` of a UTF-8 file with the given header; labels 0 or 1."""
    if not path.is_file():
        raise DataError(f"{path} not found: set RNNKIT_DATA or pass the folder that holds {path.name}")
    try:
        with open(path, encoding="utf-8", newline="") as file:
            rows = csv.reader(file, delimiter=delimiter)
            if tuple(next(rows, ())) != header:
                raise DataError(f"{path}:1: header is not {delimiter.join(header)!r}: is this the right file?")
            return [_parse_row(row, path, rows.line_num) for row in rows]
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}): re-encode it") from None


def _parse_row(row: list[str], path: Path, line: int) -> tuple[str, int]:
    if len(row) != 2 or row[0] not in ("0", "1"):
        raise DataError(f"{path}:{line}: expected a label 0 or 1 and a text, got {row!r}: fix or remove the line")
    return row[1], int(row[0])


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
