"""Captions of images: the user's caption file read, split by image, tokenised, numbered, and paired
with each image's feature vector.

    records = read_captions("captions.json")          # COCO format; or a .tsv: image<TAB>caption
    split = read_split("split.json")                  # {"train": [...], "val": [...], "test": [...]}
    table = read_features("features.safetensors", "features_index.json")
    corpus = prepare_captions(records, split_parts(records, split), table, CaptionOptions())
    corpus.parts["train"].batch(indices)              # CaptionBatch: features and padded captions

Caption files (an image is named by its path relative to the images folder, as the features
index and the split name it too):

- **COCO** (``.json``): ``{"images": [{"id": 139, "file_name": "000000000139.jpg"}, ...],
  "annotations": [{"image_id": 139, "caption": "A woman ..."}, ...]}``, as
  ``captions_train2017.json``; other fields are ignored.
- **TSV** (``.tsv``, ``.txt``): ``image<TAB>caption`` per line, as Flickr8k's
  ``Flickr8k.token.txt`` (a ``#0`` .. ``#4`` after the image's name is dropped); or with a
  header line naming the columns ``image`` and ``caption``, and optionally ``split``
  (train, val or test), in any order.
- **JSON lines** (``.jsonl``): one object per caption with ``image`` and ``caption`` (and
  optionally ``split``).

Captions are lower-cased and split into words by ``rnnkit.data.tokenize.tokenize_words``;
punctuation marks are dropped (a caption is its words: "A dog, running." -> a dog running),
as captioning work does before scoring. The same normalisation gives the references that
BLEU compares with, so generated and human captions are scored alike.

The split goes by image (all captions of an image fall in one part): a split file, else the
caption file's ``split`` column, else a seeded random split (``default_split``). The
vocabulary comes from the training captions (``rnnkit.data.pairs.build_vocabulary``:
<pad> <unk> <bos> <eos>, then the words seen at least ``min_count`` times).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from rnnkit.data.padding import pad_batch
from rnnkit.data.pairs import build_vocabulary
from rnnkit.data.tables import check_regular_file
from rnnkit.data.tokenize import Vocabulary, tokenize_words
from rnnkit.errors import ConfigError, DataError
from rnnkit.models.captioner import CaptionBatch
from rnnkit.models.decoder import BOS_ID, EOS_ID, PAD_ID

PARTS = ("train", "val", "test")
FORMATS = {".json": "coco", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl"}
_FLICKR_NUMBER = re.compile(r"#\d+$")


@dataclass(frozen=True)
class CaptionRecords:
    """The captions of a file: caption i describes image ``images[i]``; it was found at ``places[i]``
    (a line, or an annotation) and, if the file says, belongs to part ``splits[i]``."""

    path: Path
    images: list[str]
    captions: list[str]
    places: list[str]
    splits: list[str] | None

    def __len__(self) -> int:
        return len(self.captions)


def read_captions(path: str | Path) -> CaptionRecords:
    """The captions of a COCO JSON, TSV or JSON-lines file (by its extension)."""
    path = Path(path)
    _check_file(path, "caption file")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown caption file type {path.suffix!r}: give a .json file in COCO format, "
                        "a .tsv file (image<TAB>caption), or .jsonl")
    try:
        records = {"coco": _read_coco, "tsv": _read_tsv, "jsonl": _read_jsonl}[kind](path)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not valid UTF-8 (byte {error.start}): save it as UTF-8") from None
    if not records.captions:
        raise DataError(f"{path} holds no captions")
    return records


def _check_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise DataError(f"{path} is a directory: give the {what} inside it")
    if not path.exists():
        raise DataError(f"{path} does not exist: check the path")
    check_regular_file(path)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path} line {error.lineno} column {error.colno}: not valid JSON ({error.msg})") from None


def _read_coco(path: Path) -> CaptionRecords:
    data = _read_json(path)
    if not (isinstance(data, dict) and isinstance(data.get("images"), list)
            and isinstance(data.get("annotations"), list)):
        raise DataError(f"{path} is not a COCO caption file: it needs the lists \"images\" and \"annotations\"")
    names = {}
    for number, image in enumerate(data["images"], start=1):
        if not (isinstance(image, dict) and "id" in image and isinstance(image.get("file_name"), str)):
            raise DataError(f"{path} images[{number - 1}]: an image needs an \"id\" and a \"file_name\"")
        names[image["id"]] = image["file_name"]
    images, captions, places = [], [], []
    for number, annotation in enumerate(data["annotations"]):
        place = f"annotations[{number}]"
        if not (isinstance(annotation, dict) and isinstance(annotation.get("caption"), str)):
            raise DataError(f"{path} {place}: an annotation needs a \"caption\" string")
        if annotation.get("image_id") not in names:
            raise DataError(f"{path} {place}: its image_id {annotation.get('image_id')!r} is not in \"images\"")
        images.append(names[annotation["image_id"]])
        captions.append(_caption_text(annotation["caption"], path, place))
        places.append(place)
    return CaptionRecords(path, images, captions, places, None)


def _read_jsonl(path: Path) -> CaptionRecords:
    images, captions, places, splits = [], [], [], []
    with open(path, encoding="utf-8-sig") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            place = f"line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path} {place}: not valid JSON ({error.msg})") from None
            if not (isinstance(record, dict) and isinstance(record.get("image"), str)
                    and isinstance(record.get("caption"), str)):
                raise DataError(f"{path} {place}: a record needs \"image\" and \"caption\" strings")
            images.append(record["image"])
            captions.append(_caption_text(record["caption"], path, place))
            places.append(place)
            splits.append(record.get("split"))
    has_split = any(split is not None for split in splits)
    if has_split:
        _check_split_values(path, splits, places)
    return CaptionRecords(path, images, captions, places, splits if has_split else None)


def _read_tsv(path: Path) -> CaptionRecords:
    images, captions, places, splits = [], [], [], []
    columns = None
    with open(path, encoding="utf-8-sig", newline="") as file:
        for number, line in enumerate(file, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            cells = line.split("\t")
            if columns is None:
                columns = _tsv_columns(cells, path)
                if columns["header"]:
                    continue
            place = f"line {number}"
            if len(cells) <= max(columns["image"], columns["caption"], columns.get("split", 0)):
                raise DataError(f"{path} {place}: {len(cells)} column(s), expected at least "
                                f"{max(columns['image'], columns['caption']) + 1}: write image<TAB>caption")
            image = _FLICKR_NUMBER.sub("", cells[columns["image"]].strip())
            if not image:
                raise DataError(f"{path} {place} column {columns['image'] + 1}: the image's name is empty")
            images.append(image)
            captions.append(_caption_text(cells[columns["caption"]], path, f"{place} column {columns['caption'] + 1}"))
            places.append(place)
            if "split" in columns:
                splits.append(cells[columns["split"]].strip())
    if "split" in (columns or {}):
        _check_split_values(path, splits, places)
        return CaptionRecords(path, images, captions, places, splits)
    return CaptionRecords(path, images, captions, places, None)


def _tsv_columns(first: list[str], path: Path) -> dict:
    """Which column holds what: by the header's names, or image<TAB>caption without a header."""
    names = [cell.strip().lower() for cell in first]
    if "image" in names and "caption" in names:
        columns = {"header": True, "image": names.index("image"), "caption": names.index("caption")}
        if "split" in names:
            columns["split"] = names.index("split")
        return columns
    if len(first) < 2:
        raise DataError(f"{path} line 1: no tab: write image<TAB>caption per line (or a header line naming "
                        "the columns image and caption)")
    return {"header": False, "image": 0, "caption": 1}


def _caption_text(text: str, path: Path, place: str) -> str:
    text = " ".join(text.split())
    if not caption_words(text):
        raise DataError(f"{path} {place}: the caption has no words")
    return text


def _check_split_values(path: Path, splits: list, places: list[str]) -> None:
    for split, place in zip(splits, places):
        if split not in PARTS:
            raise DataError(f"{path} {place}: split {split!r} is not one of {', '.join(PARTS)}")


# -- words ------------------------------------------------------------------------------------------
def caption_words(text: str) -> list[str]:
    """A caption's words: lower-cased ``tokenize_words`` tokens, punctuation marks dropped."""
    return [token for token in tokenize_words(text, lowercase=True) if any(ch.isalnum() for ch in token)]


def normalized_caption(text: str) -> str:
    """A caption as BLEU reads it: its words, spaced."""
    return " ".join(caption_words(text))


# -- the split --------------------------------------------------------------------------------------
def read_split(path: str | Path) -> dict[str, list[str]]:
    """A split file: a JSON object whose ``train``, ``val`` and ``test`` lists name images (other keys
    are ignored); no image may be in two parts."""
    path = Path(path)
    _check_file(path, "split file")
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: a split file is a JSON object with the lists train, val and test")
    parts = {}
    for name in PARTS:
        images = data.get(name, [])
        if not (isinstance(images, list) and all(isinstance(image, str) for image in images)):
            raise DataError(f"{path}: \"{name}\" must be a list of image names")
        parts[name] = list(images)
    if not parts["train"]:
        raise DataError(f"{path}: the \"train\" list is missing or empty")
    seen: dict[str, str] = {}
    for name, images in parts.items():
        for image in images:
            if image in seen:
                raise DataError(f"{path}: image {image!r} is in both {seen[image]} and {name}")
            seen[image] = name
    return parts


def default_split(images: Sequence[str], fractions: tuple[float, float] = (0.1, 0.1),
                  seed: int = 0) -> dict[str, list[str]]:
    """A seeded split by image: the distinct images, sorted, permuted by ``default_rng(seed)``; val and test
    take ``round(fraction * n)`` of them (at least one each), train the rest."""
    distinct = sorted(set(images))
    if len(distinct) < 3:
        raise DataError(f"{len(distinct)} image(s) are too few to split into train, val and test")
    order = np.random.default_rng(seed).permutation(len(distinct))
    val, test = (max(1, round(fraction * len(distinct))) for fraction in fractions)
    if val + test >= len(distinct):
        raise DataError(f"{len(distinct)} images leave none to train on with val and test fractions {fractions}")
    chosen = [distinct[i] for i in order]
    return {"train": sorted(chosen[val + test:]), "val": sorted(chosen[:val]), "test": sorted(chosen[val:val + test])}


def split_parts(records: CaptionRecords, split: dict[str, list[str]] | None = None,
                fractions: tuple[float, float] = (0.1, 0.1), seed: int = 0) -> dict[str, list[str]]:
    """The images of each part: ``split`` (a split file's), else the records' own split column, else
    ``default_split``. Images without captions are left out; a part without captioned images is refused."""
    if split is None and records.splits is not None:
        split = {name: sorted({image for image, part in zip(records.images, records.splits) if part == name})
                 for name in PARTS}
        shared = sorted(set(split["train"]) & (set(split["val"]) | set(split["test"])))
        if shared:
            raise DataError(f"{records.path}: image {shared[0]!r} has captions in train and in another split")
    if split is None:
        split = default_split(records.images, fractions, seed)
    captioned = set(records.images)
    parts = {name: [image for image in split[name] if image in captioned] for name in PARTS}
    for name, images in parts.items():
        if not images:
            raise DataError(f"{records.path}: no image of the {name} split has a caption")
    return parts


# -- features ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureTable:
    """Image feature vectors: row i of ``matrix`` (N, F) belongs to image ``images[i]``; ``index`` is the
    index file's record (its encoder's SHA-256, the preprocessing, ...)."""

    images: list[str]
    matrix: np.ndarray
    index: dict = field(default_factory=dict)

    @property
    def rows(self) -> dict[str, int]:
        return {image: i for i, image in enumerate(self.images)}

    @property
    def feature_size(self) -> int:
        return int(self.matrix.shape[1])

    def take(self, images: Sequence[str], where: str = "the features") -> np.ndarray:
        """The rows of ``images`` (K, F); an image without a row is refused."""
        rows = self.rows
        missing = [image for image in images if image not in rows]
        if missing:
            raise DataError(f"{where} have no row for image {missing[0]!r} ({len(missing)} of {len(images)} "
                            "images are missing): compute the features of every captioned image")
        return self.matrix[[rows[image] for image in images]]


def read_features(features: str | Path, index: str | Path) -> FeatureTable:
    """Features from a safetensors file and its JSON index: ``{"images": [...], "tensor": "features", ...}``
    (the tensor's row i is image ``images[i]``; ``tensor`` defaults to "features")."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    features, index = Path(features), Path(index)
    _check_file(index, "features index")
    _check_file(features, "features file")
    record = _read_json(index)
    if not (isinstance(record, dict) and isinstance(record.get("images"), list)
            and all(isinstance(image, str) for image in record["images"])):
        raise DataError(f"{index}: a features index is a JSON object whose \"images\" lists the image of each row")
    name = record.get("tensor", "features")
    try:
        tensors = load_file(str(features))
    except (SafetensorError, OSError, ValueError) as error:
        raise DataError(f"{features} is not a safetensors file ({error})") from None
    if name not in tensors:
        raise DataError(f"{features} has no tensor {name!r} (it has {', '.join(sorted(tensors)) or 'none'})")
    matrix = tensors[name]
    images = record["images"]
    if matrix.ndim != 2 or len(matrix) != len(images):
        raise DataError(f"{features}: tensor {name!r} has shape {matrix.shape}, but {index} lists "
                        f"{len(images)} images: expected ({len(images)}, F)")
    if not np.issubdtype(matrix.dtype, np.floating) or not np.all(np.isfinite(matrix)):
        raise DataError(f"{features}: tensor {name!r} must hold finite floating-point numbers")
    if len(set(images)) != len(images):
        raise DataError(f"{index} lists an image twice")
    return FeatureTable(list(images), matrix, {key: value for key, value in record.items() if key != "images"})


# -- the prepared corpus ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptionOptions:
    min_count: int = 1               # of a word in the training captions, to enter the vocabulary
    max_vocab: int = 0               # 0: no cap; else the vocabulary's size, special tokens included
    max_length: int = 50             # words of a training caption; longer ones are dropped

    def __post_init__(self):
        for name in ("min_count", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"`{name}` must be a positive integer, got {value!r}")
        if not isinstance(self.max_vocab, int) or self.max_vocab < 0:
            raise ConfigError(f"`max_vocab` must be 0 (no cap) or positive, got {self.max_vocab!r}")


@dataclass(frozen=True)
class CaptionPart:
    """One part: its images (each once) with their features and references, and its captions as ids."""

    images: list[str]                    # K distinct images
    features: np.ndarray                 # (K, F)
    references: list[list[str]]          # per image, its normalised captions
    caption_images: np.ndarray           # (N,): the image (index into ``images``) of each caption
    caption_ids: list[np.ndarray]        # (N,) word ids of each caption

    def __len__(self) -> int:
        return len(self.caption_ids)

    def batch(self, indices: Sequence[int]) -> CaptionBatch:
        """Captions ``indices`` with their images' features, the captions padded time-major."""
        ids = [self.caption_ids[i] for i in indices]
        target_inputs, _ = pad_batch([np.r_[BOS_ID, caption] for caption in ids], PAD_ID)
        target_outputs, _ = pad_batch([np.r_[caption, EOS_ID] for caption in ids], PAD_ID)
        return CaptionBatch(self.features[self.caption_images[list(indices)]], target_inputs, target_outputs)


@dataclass(frozen=True)
class CaptionCorpus:
    parts: dict[str, CaptionPart]
    vocab: Vocabulary
    dropped: int                     # training captions longer than ``max_length``


def prepare_captions(records: CaptionRecords, parts: dict[str, list[str]], table: FeatureTable,
                     options: CaptionOptions = CaptionOptions()) -> CaptionCorpus:
    """Tokenise the captions, build the vocabulary on the (filtered) training captions, number all, and
    take each part's features."""
    words = [caption_words(text) for text in records.captions]
    by_image: dict[str, list[int]] = {}
    for i, image in enumerate(records.images):
        by_image.setdefault(image, []).append(i)
    train = [i for image in parts["train"] for i in by_image[image] if len(words[i]) <= options.max_length]
    if not train:
        raise DataError(f"{records.path}: no training caption has at most {options.max_length} words: "
                        "raise `max_length`")
    vocab = build_vocabulary([words[i] for i in train], options.min_count, options.max_vocab or None)
    kept = set(train)
    built = {}
    for name, images in parts.items():
        chosen = [(k, i) for k, image in enumerate(images) for i in by_image[image] if name != "train" or i in kept]
        built[name] = CaptionPart(
            list(images), table.take(images, f"the features of {name} images"),
            [[" ".join(words[i]) for i in by_image[image]] for image in images],
            np.array([k for k, _ in chosen], dtype=np.int64),
            [vocab.encode(words[i]) for _, i in chosen])
    dropped = sum(len(by_image[image]) for image in parts["train"]) - len(train)
    return CaptionCorpus(built, vocab, dropped)
