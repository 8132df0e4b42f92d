"""Image captioning: the run spec, the training task, and its workflows (train, eval, predict).

Captions (a COCO JSON, a TSV or JSON-lines file: ``rnnkit.data.captions``) are split by image
(a split file, the file's own split column, or a seeded split), reduced to their lower-cased
words, and numbered with the training captions' vocabulary. Each image is a feature vector from
a frozen image encoder: precomputed (a safetensors file and its JSON index), or computed here
from a folder of images with an ONNX encoder (``rnnkit.data.images``) and cached in the run
directory. The model is ``rnnkit.models.captioner.Captioner`` (the translator's decoder,
conditioned on the image); it is trained on the cross-entropy per caption token and validated
by the val part's negative log-likelihood per token (``val_loss``).

Captions come from the translator's batched beam search (width 1 is greedy). They are scored
by sacrebleu's corpus BLEU-1 .. BLEU-4 against all of each image's references, beside two
baselines computed by the same code on the same images (``rnnkit.baselines_captioning``)::

    spec = CaptionSpec(CaptionSource(captions="captions.json", features="f.safetensors", index="f.json"))
    result = train(spec, train_config(), Path("runs/captions"))
    run = load_run("runs/captions")
    evaluate(run, "test", beam=3)     # {"model": {1: CorpusScore, .. 4: ...}, "nearest-neighbour": ..., ...}
    predict(run, ["photo.jpg"])       # ["a dog running on the grass"]

A built-in dataset: ``CaptionSource.built_in("coco-mini", data_dir)`` (``rnnkit.data.datasets``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from rnnkit.baselines_captioning import best_single_caption, nearest_neighbour_captions
from rnnkit.caption_page import PageEntry, write_caption_page
from rnnkit.data.captions import (
    PARTS,
    CaptionCorpus,
    CaptionOptions,
    CaptionPart,
    FeatureTable,
    prepare_captions,
    read_captions,
    read_features,
    read_split,
    split_parts,
)
from rnnkit.data.datasets import CAPTION_DATASETS, caption_dataset
from rnnkit.data.images import FEATURES_FILE, INDEX_FILE, ImageEncoder, write_feature_cache
from rnnkit.data.pairs import check_vocabulary, to_text
from rnnkit.data.tables import file_sha256
from rnnkit.data.tokenize import Vocabulary
from rnnkit.errors import ConfigError, DataError
from rnnkit.metrics_translation import CorpusScore, corpus_bleu, reference_sets
from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.models.decoding import decode_beam
from rnnkit.tasks import runs
from rnnkit.tasks.epochs import TeacherForcedTask
from rnnkit.training.config import TrainConfig
from rnnkit.training.progress import DelayedProgress

TASK = "caption"
EVAL_BATCH = 64
ORDERS = (1, 2, 3, 4)                 # BLEU-1 .. BLEU-4
SYSTEMS = ("model", "nearest-neighbour", "best-caption")
PAGE_IMAGES = 12
ALPHA = 0.0                           # no length normalisation: captions are short, and all about as long


@dataclass
class CaptionSource:
    """Where a run's data is: the caption file, the split, and the image features, precomputed
    (``features`` and ``index``) or computed from the images in ``images`` by ``encoder`` (then cached
    in the run directory: ``features_in_run``). A built-in ``dataset`` fills every path in."""

    captions: str | None = None
    split: str | None = None                 # a split file; None: the captions' split column, else seeded
    features: str | None = None              # safetensors file ...
    index: str | None = None                 # ... and its JSON index
    images: str | None = None                # the folder the image names are relative to
    encoder: str | None = None               # ONNX image encoder
    dataset: str | None = None
    features_in_run: bool = False            # the features were computed from ``images`` into the run
    sha256: str | None = None                # of the caption file, kept by prepare(): a resumed run checks it
    features_sha256: str | None = None       # of the features file

    def __post_init__(self):
        runs.check_field_types(self)
        if self.dataset is not None and self.dataset not in CAPTION_DATASETS:
            raise ConfigError(f"unknown `dataset` {self.dataset!r}: choose one of {', '.join(CAPTION_DATASETS)}")
        if self.captions is None:
            raise ConfigError("give a `captions` file (.json in COCO format, or .tsv: image<TAB>caption) or a "
                              "built-in `dataset`")
        if (self.features is None) != (self.index is None):
            raise ConfigError("precomputed features need both files: `features` (.safetensors) and `index` (.json)")
        if self.features is None and not self.features_in_run and (self.images is None or self.encoder is None):
            raise ConfigError("give the images' features: `features` and `index`, or a folder of `images` and an "
                              "`encoder` (.onnx) to compute them")

    @classmethod
    def built_in(cls, dataset: str, data_dir: str | Path | None = None) -> CaptionSource:
        paths = caption_dataset(dataset).paths(data_dir)
        return cls(**{name: str(path.resolve()) for name, path in paths.items()}, dataset=dataset)

    @property
    def name(self) -> str:
        """What results are filed under: the dataset's name, or the caption file's stem."""
        return self.dataset or Path(self.captions).stem

    def moved(self, data_dir: str | Path | None = None, **files) -> CaptionSource:
        """The same data at a new place: a built-in dataset under another ``data_dir``; or any of the files
        (``captions``, ``split``, ``features``, ``index``, ``images``, ``encoder``) given anew."""
        source = self
        if data_dir is not None:
            if not self.dataset:
                raise ConfigError(f"the run reads {self.captions}, not a built-in dataset: give the files where "
                                  "they are now instead of `data_dir`")
            paths = caption_dataset(self.dataset).paths(data_dir)
            source = replace(self, **{name: str(path.resolve()) for name, path in paths.items()})
        given = {name: str(Path(value).resolve()) for name, value in files.items() if value is not None}
        return replace(source, **given) if given else source


def _task_model() -> CaptionerConfig:
    """Chosen on coco-mini's val BLEU (docs/results.md): larger, deeper or GRU decoders did no better there."""
    return CaptionerConfig(embedding_dim=128, hidden_size=256, dropout=0.5, label_smoothing=0.1)


@dataclass
class CaptionSpec:
    """A captioner's run: where the data comes from, how captions become ids, and the model.

    ``vocab`` (of the training captions), ``model.vocab_size`` and ``model.feature_size``, the
    encoder's SHA-256 and the preprocessing are filled in by ``prepare``.
    """

    TASK = TASK
    data: CaptionSource
    model: CaptionerConfig = field(default_factory=_task_model)
    min_count: int = 1                      # rarer training words become <unk>
    max_vocab: int = 0                      # 0: no cap; else the vocabulary's size, special tokens included
    max_length: int = 50                    # words of a training caption (longer ones are dropped); of a
                                            # generated one, at most this many
    val_fraction: float = 0.1               # of the images, without a split file or column
    test_fraction: float = 0.1
    split_seed: int = 0
    batch_size: int = 32                    # captions per batch
    dtype: str = "float32"
    vocab: Vocabulary | None = None
    encoder_sha256: str | None = None       # of the encoder that computed the features, if known
    preprocessing: dict | None = None       # how the images were prepared for it, as its index says

    def __post_init__(self):
        runs.check_field_types(self)
        for name in ("min_count", "max_length", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"`{name}` must be a positive integer, got {getattr(self, name)!r}")
        if self.max_vocab < 0:
            raise ConfigError(f"`max_vocab` must be 0 (no cap) or positive, got {self.max_vocab!r}")
        for name in ("val_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"`{name}` must lie between 0 and 1, got {getattr(self, name)!r}")
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError(f"`val_fraction` + `test_fraction` ({self.val_fraction} + {self.test_fraction}) "
                              "must leave images to train on")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"`dtype` must be float32 or float64, got {self.dtype!r}")

    def options(self) -> CaptionOptions:
        return CaptionOptions(self.min_count, self.max_vocab, self.max_length)

    def to_json(self) -> dict:
        return {"data": asdict(self.data), "model_config": self.model.to_json(), "min_count": self.min_count,
                "max_vocab": self.max_vocab, "max_length": self.max_length, "val_fraction": self.val_fraction,
                "test_fraction": self.test_fraction, "split_seed": self.split_seed, "batch_size": self.batch_size,
                "dtype": self.dtype, "vocab": self.vocab.to_json() if self.vocab else None,
                "encoder_sha256": self.encoder_sha256, "preprocessing": self.preprocessing}

    @classmethod
    def from_json(cls, data: dict) -> CaptionSpec:
        vocab = data["vocab"]
        return cls(data=CaptionSource(**data["data"]), model=CaptionerConfig.from_json(data["model_config"]),
                   min_count=data["min_count"], max_vocab=data["max_vocab"], max_length=data["max_length"],
                   val_fraction=data["val_fraction"], test_fraction=data["test_fraction"],
                   split_seed=data["split_seed"], batch_size=data["batch_size"], dtype=data["dtype"],
                   vocab=check_vocabulary(Vocabulary.from_json(vocab), "caption") if vocab is not None else None,
                   encoder_sha256=data["encoder_sha256"], preprocessing=data["preprocessing"])

    def build_model(self, rng=None) -> Captioner:
        if self.vocab is not None and len(self.vocab) != self.model.vocab_size:
            raise ConfigError("the vocabulary does not fit the model: the run spec is damaged")
        if not (self.model.vocab_size and self.model.feature_size):
            raise ConfigError("the model's vocabulary and feature sizes are not set: prepare the spec on its data "
                              "first")
        return Captioner(self.model, dtype=np.dtype(self.dtype), rng=rng)

    def features(self, run_dir: Path | None = None) -> FeatureTable:
        """The image features: the precomputed files, or those cached in the run directory ``run_dir``."""
        if self.data.features_in_run:
            if run_dir is None:
                raise ConfigError("the run computed its features from images: its run directory holds them")
            return read_features(Path(run_dir) / FEATURES_FILE, Path(run_dir) / INDEX_FILE)
        return read_features(self.data.features, self.data.index)

    def corpus(self, run_dir: Path | None = None) -> CaptionCorpus:
        """The captions split and numbered, with their features; a stored vocabulary must be the one they give."""
        records = read_captions(self.data.captions)
        split = read_split(self.data.split) if self.data.split else None
        parts = split_parts(records, split, (self.val_fraction, self.test_fraction), self.split_seed)
        corpus = prepare_captions(records, parts, self.features(run_dir), self.options())
        if self.vocab is not None and self.vocab.tokens != corpus.vocab.tokens:
            raise DataError(f"the training captions of {self.data.captions} give another vocabulary than the "
                            "run's: it is not the file the run was trained on")
        if self.model.feature_size and corpus.parts["train"].features.shape[1] != self.model.feature_size:
            raise DataError(f"the features have {corpus.parts['train'].features.shape[1]} values per image, the "
                            f"run's model reads {self.model.feature_size}: they are not the run's features")
        return corpus


Spec = CaptionSpec


# -- the training task ------------------------------------------------------------------------


class CaptionTask(TeacherForcedTask):
    """Batches of training captions of similar length, in an order fixed by seed and epoch."""

    def example_lengths(self, part: CaptionPart) -> list[int]:
        return [len(ids) for ids in part.caption_ids]

    def logits(self, batch) -> np.ndarray:
        return self.model(batch.features, batch.target_inputs)


# -- workflows -------------------------------------------------------------------------------

# The TrainConfig fields whose defaults differ for this task.
TRAIN_DEFAULTS = {"sample_every": 0, "epochs": 60, "lr": 2e-3, "eval_every": 50, "patience": 4}


def train_config(**options) -> TrainConfig:
    """TrainConfig with this task's defaults (TRAIN_DEFAULTS) under ``options``."""
    return TrainConfig(**{**TRAIN_DEFAULTS, **options})


def prepare(spec: CaptionSpec, run_dir: Path | None = None, progress: bool = False, echo=None) -> CaptionSpec:
    """The spec with its vocabulary (of the training captions), the model's sizes and the record of the
    features (files' SHA-256, the encoder's, the preprocessing). From ``images`` and an ``encoder`` (and no
    precomputed features), the features of every captioned image are computed first and cached in
    ``run_dir``."""
    data = spec.data
    if data.features is None and not data.features_in_run:
        if run_dir is None:
            raise ConfigError("computing features from images needs a `run_dir` to cache them in")
        cache_features(data, run_dir, progress, echo)
        data = replace(data, features_in_run=True)
    spec = replace(spec, data=data)
    corpus = spec.corpus(run_dir)
    if len(corpus.vocab) <= 4:
        raise DataError(f"`min_count` {spec.min_count} keeps no word of the training captions of {data.captions}: "
                        "lower `min_count`")
    table = spec.features(run_dir)
    model = replace(spec.model, vocab_size=len(corpus.vocab), feature_size=table.feature_size)
    data = replace(data, sha256=file_sha256(data.captions),
                   features_sha256=None if data.features_in_run else file_sha256(data.features))
    return replace(spec, data=data, model=model, vocab=corpus.vocab,
                   encoder_sha256=table.index.get("encoder_sha256"), preprocessing=table.index.get("preprocessing"))


def cache_features(data: CaptionSource, run_dir: Path, progress: bool = False, echo=None) -> Path:
    """Compute the features of every image of ``data.captions`` from ``data.images`` with ``data.encoder``,
    into RUN_DIR/features.safetensors and features_index.json; the features file's path."""
    images = sorted(set(read_captions(data.captions).images))
    encoder = ImageEncoder(data.encoder)
    folder = Path(data.images)
    if not folder.is_dir():
        raise DataError(f"the images folder {folder} does not exist or is not a folder: check the path")
    meter = DelayedProgress(unit="image") if progress else None
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if meter is not None:
            meter(done, len(images))
    features = encoder.encode([folder / image for image in images], advance)
    path, _ = write_feature_cache(run_dir, images, features, encoder)
    if echo:
        echo(f"computed the features of {len(images)} images with {encoder.path} into {path}")
    return path


def training_task(spec: CaptionSpec, model: Captioner, seed: int, run_dir: Path | None = None) -> CaptionTask:
    corpus = spec.corpus(run_dir)
    return CaptionTask(model, corpus.parts["train"], corpus.parts["val"], spec.batch_size, seed)


def train(spec: CaptionSpec, config: TrainConfig, run_dir: Path, progress: bool = True,
          echo=print) -> runs.TrainResult:
    """A new run: the vocabulary from the training captions (features computed first, if they come from
    images), a model seeded by ``config.seed``, trained into ``run_dir`` with early stopping on the val loss."""
    with runs.new_run_dir(run_dir) as run_dir:
        spec = prepare(spec, run_dir, progress, echo)
        model = spec.build_model(rng=config.seed)
        return runs.fit(training_task(spec, model, config.seed, run_dir), spec, config, run_dir,
                        progress=progress, echo=echo)


def resume(run_dir: Path, changes: dict | None = None, data_dir: Path | None = None, progress: bool = True,
           echo=print, **files) -> runs.TrainResult:
    """Continue the run in ``run_dir`` exactly; ``changes`` of the resumable options (``runs.RESUMABLE``);
    ``data_dir`` or ``files`` (captions, split, features, index, images, encoder): where its data is now,
    if it moved."""
    changes = changes or {}
    with runs.resumed_run_dir(run_dir) as run_dir:
        tensors, spec, trainer = runs.read_run(run_dir, "last", TASK)
        model = runs.fresh_model(tensors, spec, run_dir)
        spec = replace(spec, data=spec.data.moved(data_dir, **files))
        _check_same_data(spec)
        config = runs.resumed_config(trainer, changes, run_dir)
        return runs.fit(training_task(spec, model, config.seed, run_dir), spec, config, run_dir, resume=True,
                        new_lr=changes.get("lr"), progress=progress, echo=echo)


def _check_same_data(spec: CaptionSpec) -> None:
    argument = "data_dir" if spec.data.dataset else "captions"
    runs.check_same_file(spec.data.captions, spec.data.sha256, argument)
    if not spec.data.features_in_run:
        runs.check_same_file(spec.data.features, spec.data.features_sha256,
                             "data_dir" if spec.data.dataset else "features")


def load_run(path, which: str = "best") -> runs.TrainedRun:
    return runs.load_run(path, which, TASK)


def run_directory(run: runs.TrainedRun) -> Path:
    """The run directory of a run loaded from it or from one of its checkpoints."""
    return runs.report_dir([Path(run.path)], None)


def _check_beam(beam: int) -> None:
    if not (isinstance(beam, int) and not isinstance(beam, bool) and beam >= 1):
        raise ConfigError(f"`beam` must be a positive integer, got {beam!r}")


def caption_features(run: runs.TrainedRun, features: np.ndarray, beam: int = 3) -> list[str]:
    """The caption of each image of ``features`` (K, F), by beam search of width ``beam`` (1: greedy)."""
    _check_beam(beam)
    spec, model = run.spec, run.model
    captions = []
    for begin in range(0, len(features), EVAL_BATCH):
        decoding = model.decoding(features[begin:begin + EVAL_BATCH], max_length=spec.max_length + 1)
        captions += [to_text(best.tokens, spec.vocab, "word") for (best,) in decode_beam(decoding, beam, ALPHA)]
    return captions


def bleu_scores(captions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[int, CorpusScore]:
    """sacrebleu's corpus BLEU-1 .. BLEU-4 of one caption per image against all of its references."""
    sets = reference_sets(references)
    return {order: corpus_bleu(list(captions), sets, max_ngram_order=order) for order in ORDERS}


def baseline_captions(train: CaptionPart, part: CaptionPart) -> dict[str, list[str]]:
    """The two baselines' captions of ``part``'s images (``rnnkit.baselines_captioning``)."""
    single = best_single_caption(train.references)
    return {"nearest-neighbour": nearest_neighbour_captions(train.features, train.references, part.features),
            "best-caption": [single] * len(part.images)}


def evaluate(run: runs.TrainedRun, split: str = "test", beam: int = 3, out_dir: Path | None = None,
             page_images: int = PAGE_IMAGES, data_dir: Path | None = None, echo=None,
             **files) -> dict[str, dict[int, CorpusScore]]:
    """BLEU-1 .. BLEU-4 of the model's captions of ``split`` (val or test) and of the two baselines', against
    every reference. Writes OUT_DIR/captions-SPLIT.txt (image<TAB>model<TAB>nearest neighbour), the page
    OUT_DIR/captions-SPLIT.html of its first ``page_images`` images, and the scores under key "DATA-SPLIT" of
    OUT_DIR/results.json (``out_dir`` default: the run's directory). ``data_dir``/``files``: where the data is
    now."""
    if split not in PARTS[1:]:
        raise ConfigError(f"unknown `split` {split!r}: use val or test")
    _check_beam(beam)
    if not (isinstance(page_images, int) and page_images >= 0):
        raise ConfigError(f"`page_images` must be 0 or more, got {page_images!r}")
    out_dir = runs.report_dir([Path(run.path)], out_dir)
    runs.check_results_file(out_dir)
    echo = echo or (lambda message: None)
    spec = replace(run.spec, data=run.spec.data.moved(data_dir, **files))
    corpus = spec.corpus(run_directory(run))
    part = corpus.parts[split]
    captions = {"model": caption_features(run, part.features, beam),
                **baseline_captions(corpus.parts["train"], part)}
    scores = {system: bleu_scores(captions[system], part.references) for system in SYSTEMS}
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / f"captions-{split}.txt"
    listing.write_text("".join(f"{image}\t{model}\t{nearest}\n" for image, model, nearest in
                               zip(part.images, captions["model"], captions["nearest-neighbour"])), encoding="utf-8")
    echo(f"wrote {listing}")
    if page_images:
        echo(f"wrote {_page(spec, part, captions, split, beam, out_dir, page_images)}")
    results = {system: {f"bleu{order}": score.score for order, score in by_order.items()}
               for system, by_order in scores.items()}
    results.update({"bleu_signature": scores["model"][4].signature, "beam": beam, "images": len(part.images),
                    "best_caption": captions["best-caption"][0], "checkpoint": run.source})
    echo(f"wrote {runs.write_results(out_dir, f'{spec.data.name}-{split}', results)}")
    return scores


def _page(spec: CaptionSpec, part: CaptionPart, captions: dict[str, list[str]], split: str, beam: int,
          out_dir: Path, count: int) -> Path:
    folder = Path(spec.data.images) if spec.data.images else None
    entries = [PageEntry(image, folder / image if folder else None, captions["model"][k],
                         captions["nearest-neighbour"][k], part.references[k])
               for k, image in enumerate(part.images[:count])]
    return write_caption_page(out_dir / f"captions-{split}.html", entries,
                              f"{spec.data.name}, {split}: beam {beam}")


def run_encoder(run: runs.TrainedRun, encoder: str | Path | None = None) -> ImageEncoder:
    """The image encoder for new images: ``encoder``, else the one the run's features came from; it must be
    the run's (its SHA-256, when the run knows it) and give features of the model's size."""
    spec = run.spec
    path = encoder or spec.data.encoder
    if path is None and spec.data.index:
        path = _index_encoder(Path(spec.data.index))
    if path is None:
        raise ConfigError("the run does not know which image encoder computed its features: give the `encoder`")
    image_encoder = ImageEncoder(path)
    if spec.encoder_sha256 and image_encoder.sha256 != spec.encoder_sha256:
        raise ConfigError(f"the encoder {path} is not the one that computed the run's features (its SHA-256 "
                          f"differs): give the run's `encoder`")
    if image_encoder.feature_size != spec.model.feature_size:
        raise ConfigError(f"the encoder {path} gives {image_encoder.feature_size} features per image, the run's "
                          f"model reads {spec.model.feature_size}: give the run's `encoder`")
    return image_encoder


def _index_encoder(index: Path) -> Path | None:
    """The encoder a features index names, relative to the index's folder."""
    import json
    with contextlib.suppress(OSError, ValueError):
        name = json.loads(index.read_text(encoding="utf-8")).get("encoder")
        if isinstance(name, str) and (index.parent / name).is_file():
            return index.parent / name
    return None


def predict(run: runs.TrainedRun, images: Sequence[str | Path], beam: int = 3,
            encoder: str | Path | None = None) -> list[str]:
    """A caption for each image file, its feature computed by the run's encoder (``run_encoder``)."""
    if not images:
        raise ConfigError("no image to caption: give at least one")
    _check_beam(beam)
    features = run_encoder(run, encoder).encode([Path(image) for image in images])
    return caption_features(run, features, beam)
