"""The built-in datasets: where they live, how they are read, and what their labels mean.

All of them are read from one data folder, ``default_data_dir()``: ``$RNNKIT_DATA``, else
``../shared/data`` (relative to the working directory). Nothing is downloaded.

- Text classification, ``TEXT_DATASETS``: SST-2 (English movie-review sentences, its
  official split) and ChnSentiCorp hotel reviews (Chinese, a fixed stratified 80/10/10
  split), both labelled negative/positive. ``load_text_split`` gives one split as texts
  and label indices into the dataset's ``labels``.
- Time series, ``SERIES`` of ``rnnkit.data.timeseries`` (airline-passengers, shampoo,
  monthly-car-sales, daily-min-temperatures), in the folder ``SERIES_FOLDER``;
  ``load_builtin_series`` reads one.
- Image captions, ``CAPTION_DATASETS``: coco-mini (239 COCO 2017 images with 5 captions each,
  a fixed train/val/test split by image, EfficientNet-Lite0 features and the ONNX encoder that
  computed them); ``caption_dataset(name).paths(data_dir)`` names its files for
  ``rnnkit.tasks.captioning.CaptionSource``.
- Language-model corpora, ``CORPUS_DATASETS``: ptb (Penn Treebank as Mikolov preprocessed it,
  words, the official train/valid/test files); ``corpus_dataset(name).paths(data_dir)`` names
  its files for ``rnnkit.tasks.language_model``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from rnnkit.data.sentiment import SPLITS, load_chnsenticorp, load_sst2
from rnnkit.data.timeseries import SERIES, TimeSeries, load_series
from rnnkit.errors import ConfigError, DataError

DATA_DIR_VARIABLE = "RNNKIT_DATA"
DEFAULT_DATA_DIR = "../shared/data"
SERIES_FOLDER = "time_series"


def default_data_dir() -> Path:
    """``$RNNKIT_DATA``, else ``../shared/data``."""
    return Path(os.environ.get(DATA_DIR_VARIABLE, DEFAULT_DATA_DIR))


def dataset_folder(folder: str, data_dir: str | os.PathLike | None = None) -> Path:
    """A built-in dataset's ``folder`` in ``data_dir`` (default ``default_data_dir()``); DataError if absent."""
    path = Path(default_data_dir() if data_dir is None else data_dir) / folder
    if not path.is_dir():
        raise DataError(f"{path} not found: set {DATA_DIR_VARIABLE} or pass `data_dir`, the folder that holds "
                        f"{folder}/")
    return path


@dataclass(frozen=True)
class TextDataset:
    """A built-in labelled text dataset."""

    name: str
    folder: str  # under the data folder
    loader: Callable[[Path, str], list[tuple[str, int]]]  # (its folder, split) -> [(text, label index)]
    tokenizer: str  # the tokenizer it is meant for: "words" or "chinese"
    labels: tuple[str, ...]  # the class names; a label index points into this
    description: str = ""

    def path(self, data_dir: str | os.PathLike | None = None) -> Path:
        """Its folder in ``data_dir`` (default ``default_data_dir()``)."""
        return Path(default_data_dir() if data_dir is None else data_dir) / self.folder

    def load(self, folder: str | os.PathLike, split: str) -> tuple[list[str], np.ndarray]:
        """The texts of one split, read from the dataset's own ``folder``, and their label indices (int64)."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(
                f"{folder} not found: set {DATA_DIR_VARIABLE} or pass `data_dir`, the folder that holds "
                f"{self.folder}/"
            )
        examples = self.loader(folder, split)
        return [text for text, _ in examples], np.array([label for _, label in examples], dtype=np.int64)


SENTIMENT_LABELS = ("negative", "positive")

TEXT_DATASETS: dict[str, TextDataset] = {
    "sst2": TextDataset("sst2", "sentiment_sst2", load_sst2, "words", SENTIMENT_LABELS,
                        "SST-2 movie-review sentences (English), official train/dev/test split"),
    "chnsenticorp": TextDataset("chnsenticorp", "sentiment_chnsenticorp_htl", load_chnsenticorp, "chinese",
                                SENTIMENT_LABELS,
                                "ChnSentiCorp hotel reviews (Chinese), fixed stratified 80/10/10 split"),
}


def text_dataset(name: str) -> TextDataset:
    """The built-in text dataset called ``name``."""
    if name not in TEXT_DATASETS:
        raise ConfigError(f"unknown dataset {name!r}: use one of {', '.join(sorted(TEXT_DATASETS))}")
    return TEXT_DATASETS[name]


def load_text_split(
    name: str, split: str, data_dir: str | os.PathLike | None = None
) -> tuple[list[str], np.ndarray]:
    """One split ("train", "dev" or "test") of a built-in text dataset: its texts, and their
    label indices (int64) into ``text_dataset(name).labels``."""
    dataset = text_dataset(name)
    return dataset.load(dataset.path(data_dir), split)


@dataclass(frozen=True)
class CaptionDataset:
    """A built-in captioning set: its files, relative to its folder under the data folder."""

    name: str
    folder: str
    files: dict[str, str]        # captions, split, features, index, images (a folder), encoder
    description: str = ""

    def paths(self, data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
        """Its files in ``data_dir`` (default ``default_data_dir()``); the folder must be there."""
        folder = dataset_folder(self.folder, data_dir)
        return {name: folder / path for name, path in self.files.items()}


CAPTION_DATASETS: dict[str, CaptionDataset] = {
    "coco-mini": CaptionDataset(
        "coco-mini", "captioning",
        {"captions": "captions.tsv", "split": "split.json", "features": "features.safetensors",
         "index": "features_index.json", "images": "images", "encoder": "encoder.onnx"},
        "239 COCO 2017 images, 5 captions each (80 train, 80 val, 79 test), EfficientNet-Lite0 features"),
}


def caption_dataset(name: str) -> CaptionDataset:
    """The built-in captioning set called ``name``."""
    if name not in CAPTION_DATASETS:
        raise ConfigError(f"unknown `dataset` {name!r}: use one of {', '.join(sorted(CAPTION_DATASETS))}")
    return CAPTION_DATASETS[name]


@dataclass(frozen=True)
class CorpusDataset:
    """A built-in language-model corpus: its train, valid and test files in its folder, and its tokens."""

    name: str
    folder: str
    files: dict[str, str]        # train, valid, test
    tokens: str                  # "chars" or "words"
    description: str = ""

    def paths(self, data_dir: str | os.PathLike | None = None) -> dict[str, Path]:
        """Its files in ``data_dir`` (default ``default_data_dir()``); the folder must be there."""
        folder = dataset_folder(self.folder, data_dir)
        return {part: folder / name for part, name in self.files.items()}


CORPUS_DATASETS: dict[str, CorpusDataset] = {
    "ptb": CorpusDataset(
        "ptb", "ptb", {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}, "words",
        "Penn Treebank (Mikolov's preprocessing: 10k words with <unk>, one sentence per line), official split"),
}


def corpus_dataset(name: str) -> CorpusDataset:
    """The built-in language-model corpus called ``name``."""
    if name not in CORPUS_DATASETS:
        raise ConfigError(f"unknown `dataset` {name!r}: use one of {', '.join(sorted(CORPUS_DATASETS))}")
    return CORPUS_DATASETS[name]


def load_builtin_series(name: str, data_dir: str | os.PathLike | None = None) -> TimeSeries:
    """One of the built-in time series (see ``SERIES``) from ``data_dir``'s ``time_series`` folder."""
    if name not in SERIES:
        raise ConfigError(f"unknown series {name!r}: use one of {', '.join(SERIES)}")
    return load_series(name, Path(default_data_dir() if data_dir is None else data_dir) / SERIES_FOLDER)
