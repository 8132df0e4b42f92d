"""Text classification: the run spec, the training task, and its workflows (train, eval, predict).

Texts are tokenised (words for English, characters for Chinese), numbered by a
``Vocabulary`` built on the training texts only, cut to ``max_len`` tokens, and
batched by length (``bucket_batches``): each batch is padded to its longest text
and carries the lengths, so the model reads every text only up to its own end.

The loss is the mean softmax cross-entropy over the batch, optionally with class
weights w_c against imbalance; "balanced" weights are w_c = N / (C n_c), so every
class contributes as much as it would in a balanced corpus.

The texts come from the user's own file (``TextSource(file=..., text_column=...,
label_column=...)``: any labels, two classes or more, their names kept; the file's own
split column, or a seeded stratified 80/10/10 split), or from a built-in dataset
(``TextSource(dataset="sst2", data_dir=...)``)::

    spec = ClassifySpec(TextSource(file="reviews.csv", text_column="review", label_column="stars"))
    result = train(spec, TrainConfig(epochs=5), Path("runs/reviews"))
    run = load_run("runs/reviews")
    predict([run], ["a gripping film"])
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rnnkit.baselines import BagOfWordsLogisticRegression
from rnnkit.data.batches import EpochBatches
from rnnkit.data.datasets import TEXT_DATASETS, default_data_dir
from rnnkit.data.labelled import read_labelled_file
from rnnkit.data.padding import bucket_batches, pad_batch
from rnnkit.data.tables import file_sha256
from rnnkit.data.tokenize import Vocabulary, tokenize_chinese, tokenize_words
from rnnkit.errors import ConfigError, DataError
from rnnkit.losses import softmax, softmax_cross_entropy
from rnnkit.metrics import accuracy, confusion_matrix, precision_recall_f1
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.plots import plot_confusion_matrix
from rnnkit.tasks import runs
from rnnkit.tasks.epochs import EpochTask
from rnnkit.training.config import TrainConfig

TASK = "classify"
TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"words": tokenize_words, "chinese": tokenize_chinese}
EVAL_BATCH = 256


@dataclass
class EncodedTexts:
    """Token-id sequences (each non-empty) and their labels."""

    sequences: list[np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences])


def tokenize(texts: Sequence[str], tokenizer: str) -> list[list[str]]:
    if tokenizer not in TOKENIZERS:
        raise ConfigError(f"unknown tokenizer {tokenizer!r}: choose one of {', '.join(TOKENIZERS)}")
    return [TOKENIZERS[tokenizer](text) for text in texts]


def encode_texts(texts: Sequence[str], tokenizer: str, vocab: Vocabulary, max_len: int) -> list[np.ndarray]:
    """Each text's first ``max_len`` token ids; a text without tokens becomes the one id <unk>."""
    encoded = []
    for tokens in tokenize(texts, tokenizer):
        ids = vocab.encode(tokens[:max_len])
        encoded.append(ids if len(ids) else np.array([Vocabulary.UNK_ID]))
    return encoded


def encode_examples(examples: Sequence[tuple[str, int]], tokenizer: str, vocab: Vocabulary,
                    max_len: int) -> EncodedTexts:
    if not examples:
        raise DataError("no examples to encode: the data file is empty")
    texts, labels = zip(*examples)
    return EncodedTexts(encode_texts(texts, tokenizer, vocab, max_len), np.asarray(labels, dtype=np.int64))


def class_weights(labels: np.ndarray, num_classes: int, spec: str) -> np.ndarray | None:
    """None for "none"; N / (C n_c) for "balanced"; else comma-separated weights, one per class."""
    if spec == "none":
        return None
    if spec == "balanced":
        counts = np.bincount(labels, minlength=num_classes)
        if np.any(counts == 0):
            raise DataError(f"class {int(np.argmin(counts))} has no training example: cannot balance weights")
        return len(labels) / (num_classes * counts)
    try:
        weights = np.array([float(w) for w in spec.split(",")])
    except ValueError:
        raise ConfigError(f"class weights {spec!r}: use none, balanced, or numbers like 1,2.5") from None
    if weights.shape != (num_classes,) or np.any(weights <= 0):
        raise ConfigError(f"class weights {spec!r}: give {num_classes} positive numbers, one per class")
    return weights


def predict_probabilities(model: SequenceClassifier, sequences: Sequence[np.ndarray],
                          batch_size: int = EVAL_BATCH) -> np.ndarray:
    """p(class | text) (N, C) in evaluation mode, batching texts of similar length together."""
    model.eval()
    probabilities = np.zeros((len(sequences), model.config.num_classes))
    for batch in bucket_batches([len(s) for s in sequences], batch_size, rng=None, shuffle=False):
        ids, lengths = pad_batch([sequences[i] for i in batch])
        probabilities[batch] = softmax(model(ids, lengths).astype(np.float64))
    model.train()
    return probabilities


def ensemble_probabilities(models: Sequence[SequenceClassifier], sequences: Sequence[np.ndarray],
                           batch_size: int = EVAL_BATCH) -> np.ndarray:
    """The mean of several classifiers' p(class | text) (N, C): an ensemble, e.g. of seeds, sharing one vocabulary."""
    if not models:
        raise ConfigError("an ensemble needs at least one model")
    return np.mean([predict_probabilities(model, sequences, batch_size) for model in models], axis=0)


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray,
                           weights: np.ndarray | None = None) -> dict:
    """Loss (mean cross-entropy), accuracy, F1 (of class 1 for two classes, else macro) and confusion matrix."""
    num_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    loss, _ = softmax_cross_entropy(np.log(np.maximum(probabilities, 1e-300)), labels, class_weights=weights)
    _, _, f1 = precision_recall_f1(labels, predicted, average="binary" if num_classes == 2 else "macro")
    return {"loss": loss, "accuracy": accuracy(labels, predicted), "f1": f1,
            "confusion": confusion_matrix(labels, predicted, num_classes)}


class ClassificationTask(EpochTask):
    def __init__(self, model: SequenceClassifier, train: EncodedTexts, val: EncodedTexts, batch_size: int,
                 seed: int = 0, weights: np.ndarray | None = None):
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        num_classes = model.config.num_classes
        for name, part in (("training", train), ("validation", val)):
            if len(part) == 0:
                raise DataError(f"the {name} set is empty")
            if part.labels.min() < 0 or part.labels.max() >= num_classes:
                raise DataError(f"{name} labels must lie in [0, {num_classes}), got up to {part.labels.max()}")
        self.model, self.train_set, self.val_set = model, train, val
        self.batch_size, self.seed, self.weights = batch_size, seed, weights
        self.batch_order = EpochBatches(self.epoch_batches)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The example indices of each batch of ``epoch``: bucketed by length, in an order fixed by seed and epoch."""
        rng = np.random.default_rng([self.seed, epoch])
        return bucket_batches(self.train_set.lengths, self.batch_size, rng)

    def train_step(self, batch: np.ndarray) -> tuple[float, int]:
        ids, lengths = pad_batch([self.train_set.sequences[i] for i in batch])
        self.model.train()
        logits = self.model(ids, lengths)
        loss, dlogits = softmax_cross_entropy(logits, self.train_set.labels[batch], class_weights=self.weights)
        self.model.backward(dlogits)
        return float(loss), len(batch)

    def evaluate(self) -> dict[str, float]:
        metrics = classification_metrics(self.val_set.labels, predict_probabilities(self.model, self.val_set.sequences),
                                          self.weights)
        return {"val_loss": metrics["loss"], "val_accuracy": metrics["accuracy"], "val_f1": metrics["f1"]}


# -- where the texts come from ----------------------------------------------------------------

PARTS = ("train", "dev", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)     # a file without a split column: seeded stratified train/dev/test


@dataclass
class TextSource:
    """Labelled texts: the user's own ``file`` (.csv or .tsv with a header), or a built-in ``dataset``.

    A file's rows go to train/dev/test by its ``split_column``, or (without one) by a stratified
    80/10/10 split seeded with ``split_seed``. A built-in dataset is read from ``folder`` (its own
    folder under the data directory) with its official split.
    """

    file: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    split_column: str | None = None
    split_seed: int = 0
    encoding: str = "utf-8"
    dataset: str | None = None
    folder: str | None = None
    sha256: str | None = None        # of the file, kept by prepare(): a resumed run checks it

    def __post_init__(self):
        runs.check_field_types(self)
        if (self.file is None) == (self.dataset is None):
            raise ConfigError("give either a `file` of labelled texts or a built-in `dataset`, not "
                              + ("both" if self.file else "neither"))
        if self.dataset is not None and self.dataset not in TEXT_DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}: choose one of {', '.join(TEXT_DATASETS)}")

    @classmethod
    def built_in(cls, dataset: str, data_dir: str | Path | None = None) -> "TextSource":
        """A built-in dataset, read from its folder under ``data_dir`` (default: ``$RNNKIT_DATA``)."""
        if dataset not in TEXT_DATASETS:
            raise ConfigError(f"unknown dataset {dataset!r}: choose one of {', '.join(TEXT_DATASETS)}")
        folder = Path(data_dir or default_data_dir()) / TEXT_DATASETS[dataset].folder
        return cls(dataset=dataset, folder=str(folder.resolve()))

    @property
    def name(self) -> str:
        """What results are filed under: the dataset's name, or the file's stem."""
        return self.dataset or Path(self.file).stem

    @property
    def default_tokenizer(self) -> str:
        return TEXT_DATASETS[self.dataset].tokenizer if self.dataset else "words"

    def moved(self, data_dir: str | Path | None = None, file: str | Path | None = None) -> "TextSource":
        """The same texts at a new place: a built-in dataset under another ``data_dir``, or a moved ``file``."""
        if data_dir is None and file is None:
            return self
        if self.dataset and file is None:
            return replace(self, folder=str((Path(data_dir) / TEXT_DATASETS[self.dataset].folder).resolve()))
        if self.file and data_dir is None:
            return replace(self, file=str(Path(file).resolve()))
        raise ConfigError(f"the run reads {'the built-in ' + self.dataset if self.dataset else self.file}: "
                          f"give {'`data_dir`' if self.dataset else '`file`'} to say where it is now")

    def part(self, part: str) -> tuple[list[str], list[str]]:
        """The texts of ``part`` (train, dev or test) and their label names."""
        if part not in PARTS:
            raise ConfigError(f"unknown part {part!r}: use one of {', '.join(PARTS)}")
        if self.dataset:
            dataset = TEXT_DATASETS[self.dataset]
            texts, labels = dataset.load(self.folder, part)
            return texts, [dataset.labels[label] for label in labels]
        table = read_labelled_file(self.file, self.text_column, self.label_column, self.split_column,
                                   self.encoding)
        rows = table.split_indices(SPLIT_FRACTIONS, self.split_seed)[part]
        if len(rows) == 0:
            raise DataError(f"{self.file} has no {part} rows in its column {self.split_column!r}")
        return [table.texts[k] for k in rows], [table.labels[k] for k in rows]


@dataclass
class ClassifySpec:
    """A text classifier's run: where the texts come from, how they become token ids, and the model.

    ``vocab`` (of the training texts) and ``labels`` (the class names, sorted; a built-in dataset's in
    its own order) are filled in by ``prepare``; so are ``model.vocab_size`` and ``model.num_classes``.
    """

    TASK = TASK
    data: TextSource
    model: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(embedding_dropout=0.3))
    tokenizer: str | None = None            # words or chinese; None: the dataset's (words for a file)
    max_len: int = 200                      # tokens kept per text
    min_count: int = 1                      # rarer training tokens become <unk>
    batch_size: int = 32                    # texts per batch
    class_weights: str = "none"             # none, balanced, or one weight per class: 1,2
    embedding_scale: float = 0.1            # initial embeddings ~ N(0, scale^2)
    dtype: str = "float32"
    vocab: Vocabulary | None = None
    labels: list[str] | None = None

    def __post_init__(self):
        runs.check_field_types(self)
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"unknown tokenizer {self.tokenizer!r}: choose one of {', '.join(TOKENIZERS)}")
        for name in ("max_len", "min_count", "batch_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(f"`{name}` must be a positive integer, got {getattr(self, name)!r}")
        if not self.embedding_scale > 0:
            raise ConfigError(f"`embedding_scale` must be positive, got {self.embedding_scale}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"`dtype` must be float32 or float64, got {self.dtype!r}")

    @property
    def token_kind(self) -> str:
        return self.tokenizer or self.data.default_tokenizer

    def to_json(self) -> dict:
        return {"data": asdict(self.data), "model_config": self.model.to_json(),
                "vocab": self.vocab.to_json() if self.vocab else None, "labels": self.labels,
                "tokenizer": self.token_kind, "max_len": self.max_len, "min_count": self.min_count,
                "batch_size": self.batch_size, "class_weights": self.class_weights,
                "embedding_scale": self.embedding_scale, "dtype": self.dtype}

    @classmethod
    def from_json(cls, data: dict) -> "ClassifySpec":
        if "dataset" in data["data"] and "tokenizer" in data["data"]:
            data = _spec_json_from_format_1(data)
        return cls(data=TextSource(**data["data"]), model=ClassifierConfig.from_json(data["model_config"]),
                   tokenizer=data["tokenizer"], max_len=data["max_len"], min_count=data["min_count"],
                   batch_size=data["batch_size"], class_weights=data["class_weights"],
                   embedding_scale=data["embedding_scale"], dtype=data["dtype"],
                   vocab=Vocabulary.from_json(data["vocab"]), labels=list(data["labels"]))

    def build_model(self, rng=None) -> SequenceClassifier:
        if self.vocab is not None and len(self.vocab) != self.model.vocab_size:
            raise ConfigError("the vocabulary does not fit the model: the run spec is damaged")
        return SequenceClassifier(self.model, dtype=self.dtype, rng=rng)

    def encode(self, part: str) -> "EncodedTexts":
        """The token ids and class indices of a part of the data."""
        texts, names = self.data.part(part)
        index = {name: k for k, name in enumerate(self.labels)}
        unknown = sorted(set(names) - set(index))
        if unknown:
            raise DataError(f"the {part} texts of {self.data.name} have labels the model was not trained on: "
                            f"{', '.join(map(repr, unknown[:5]))}")
        return encode_examples(list(zip(texts, [index[name] for name in names])), self.token_kind, self.vocab,
                               self.max_len)


Spec = ClassifySpec


def _spec_json_from_format_1(data: dict) -> dict:
    """A format-1 spec ({"data": {dataset, folder, tokenizer, max_len, min_count, class_weights}, ...})
    in today's layout; its embeddings were initialised with the scale 0.1 of that release."""
    old = data["data"]
    return {"data": {"dataset": old["dataset"], "folder": old["folder"]}, "model_config": data["model_config"],
            "vocab": data["vocab"], "labels": data["labels"], "tokenizer": old["tokenizer"],
            "max_len": old["max_len"], "min_count": old["min_count"], "batch_size": data["batch_size"],
            "class_weights": old["class_weights"], "embedding_scale": 0.1, "dtype": data.get("dtype", "float32")}


# -- workflows -------------------------------------------------------------------------------

# The TrainConfig fields whose defaults differ for this task.
TRAIN_DEFAULTS = {"sample_every": 0, "epochs": 10, "lr": 1e-3, "eval_every": 100, "patience": 5}
MONITORS = ("val_loss", "val_accuracy", "val_f1")


def train_config(**options) -> TrainConfig:
    """TrainConfig with this task's defaults (TRAIN_DEFAULTS) under ``options``."""
    return TrainConfig(**{**TRAIN_DEFAULTS, **options})


def prepare(spec: ClassifySpec) -> ClassifySpec:
    """The spec with its vocabulary (of the training texts), class names, and the model's sizes."""
    texts, names = spec.data.part("train")
    labels = list(TEXT_DATASETS[spec.data.dataset].labels) if spec.data.dataset else sorted(set(names))
    if len(set(names)) < 2:
        raise DataError(f"the training texts of {spec.data.name} have a single class ({names[0]!r}): "
                        "a classifier needs two or more")
    tokens = tokenize(texts, spec.token_kind)
    vocab = Vocabulary.build(tokens, min_count=spec.min_count)
    if len(vocab) == 2:                                  # <pad> and <unk> alone
        most = max(Counter(token for text in tokens for token in text).values(), default=0)
        raise DataError(f"`min_count` {spec.min_count} keeps no token of the training texts of {spec.data.name} "
                        f"(the most frequent occurs {most} time(s)), so every text would read as <unk>: lower "
                        "`min_count`")
    model = replace(spec.model, vocab_size=len(vocab), num_classes=len(labels))
    data = replace(spec.data, sha256=file_sha256(spec.data.file)) if spec.data.file else spec.data
    return replace(spec, data=data, tokenizer=spec.token_kind, vocab=vocab, labels=labels, model=model)


def train(spec: ClassifySpec, config: TrainConfig, run_dir: Path, progress: bool = True,
          echo=print) -> runs.TrainResult:
    """A new run: vocabulary and classes from the training texts, a model seeded by ``config.seed``
    (embeddings scaled by ``embedding_scale``), trained into ``run_dir`` with early stopping on dev."""
    with runs.new_run_dir(run_dir) as run_dir:
        spec = prepare(spec)
        model = spec.build_model(rng=config.seed)
        model.embedding.weight *= spec.embedding_scale
        task = training_task(spec, model, config.seed)
        return runs.fit(task, spec, config, run_dir, progress=progress, echo=echo)


def resume(run_dir: Path, changes: dict | None = None, data_dir: Path | None = None, file: Path | None = None,
           progress: bool = True, echo=print) -> runs.TrainResult:
    """Continue the run in ``run_dir`` exactly; ``changes`` of the resumable options (``runs.RESUMABLE``);
    ``data_dir`` or ``file``: where its texts are now, if they moved."""
    changes = changes or {}
    with runs.resumed_run_dir(run_dir) as run_dir:
        tensors, spec, trainer = runs.read_run(run_dir, "last", TASK)
        model = runs.fresh_model(tensors, spec, run_dir)
        spec = replace(spec, data=spec.data.moved(data_dir, file))
        if spec.data.file:
            runs.check_same_file(spec.data.file, spec.data.sha256, "file")
        config = runs.resumed_config(trainer, changes, run_dir)
        return runs.fit(training_task(spec, model, config.seed), spec, config, run_dir, resume=True,
                        new_lr=changes.get("lr"), progress=progress, echo=echo)


def training_task(spec: ClassifySpec, model: SequenceClassifier, seed: int) -> ClassificationTask:
    train_set, dev_set = spec.encode("train"), spec.encode("dev")
    weights = class_weights(train_set.labels, spec.model.num_classes, spec.class_weights)
    return ClassificationTask(model, train_set, dev_set, spec.batch_size, seed, weights)


def load_run(path, which: str = "best") -> runs.TrainedRun:
    return runs.load_run(path, which, TASK)


def load_ensemble(paths: list[Path], which: str = "best") -> list[runs.TrainedRun]:
    """Runs whose class probabilities are averaged: they must read and number texts alike."""
    def shared(spec: ClassifySpec) -> dict:
        return {"data": spec.data.name, "tokenizer": spec.token_kind, "max_len": spec.max_len,
                "vocabulary": spec.vocab.to_json(), "labels": spec.labels}
    return runs.load_ensemble(paths, which, TASK, shared,
                              "runs trained on the same data with the same `tokenizer`, `max_len` and `min_count`")


def evaluate(trained: list[runs.TrainedRun], parts: Sequence[str], out_dir: Path, baseline: bool = False,
             data_dir: Path | None = None, file: Path | None = None, echo=None) -> dict:
    """Accuracy, F1 and confusion matrix on each part, of one run or an ensemble (the mean of the runs'
    class probabilities, "rnn ensemble"), and with ``baseline`` of bag-of-words logistic regression
    (two classes only) on the same tokens; each part's confusion-PART.png and the numbers (key
    "DATA-PART" of OUT_DIR/results.json) go to ``out_dir``, and ``echo`` (if given) gets "wrote PATH"
    for each. ``data_dir``/``file``: where the texts are now."""
    out_dir = Path(out_dir)
    runs.check_results_file(out_dir)
    echo = echo or (lambda message: None)
    spec = trained[0].spec
    spec = replace(spec, data=spec.data.moved(data_dir, file))
    bag = fit_baseline(spec) if baseline and len(spec.labels) == 2 else None
    name = "rnn" if len(trained) == 1 else "rnn ensemble"
    models = [run.model for run in trained]
    results_by_part = {}
    for part in parts:
        examples = spec.encode(part)
        metrics = classification_metrics(examples.labels, ensemble_probabilities(models, examples.sequences))
        results = {name: {"accuracy": metrics["accuracy"], "f1": metrics["f1"],
                          "confusion": metrics["confusion"].tolist(), "examples": len(examples)}}
        if len(models) > 1:
            results[name]["members"] = len(models)
        if bag is not None:
            scores = classification_metrics(examples.labels, np.eye(2)[bag.predict(examples.sequences)])
            results["bag-of-words"] = {"accuracy": scores["accuracy"], "f1": scores["f1"]}
        figure = out_dir / f"confusion-{part}.png"
        plot_confusion_matrix(metrics["confusion"], spec.labels, figure,
                              title=f"{spec.data.name} {part}: accuracy {metrics['accuracy']:.3f}")
        echo(f"wrote {figure}")
        echo(f"wrote {runs.write_results(out_dir, f'{spec.data.name}-{part}', results)}")
        results_by_part[part] = results
    return results_by_part


def fit_baseline(spec: ClassifySpec) -> BagOfWordsLogisticRegression:
    """Bag-of-words logistic regression on the same training texts, tokens and vocabulary."""
    train_set = spec.encode("train")
    return BagOfWordsLogisticRegression(len(spec.vocab)).fit(train_set.sequences, train_set.labels)


def predict(trained: list[runs.TrainedRun], texts: Sequence[str]) -> np.ndarray:
    """p(class | text) (N, C) of one run, or the mean over an ensemble's runs; classes as in ``spec.labels``."""
    if not texts:
        raise ConfigError("no text to classify: give at least one text")
    blank = [number for number, text in enumerate(texts, start=1) if not text.strip()]
    if blank:
        raise DataError(f"text {blank[0]} of {len(texts)} is blank ({len(blank)} in all): a classifier has "
                        "nothing to read in it; leave blank texts out")
    spec = trained[0].spec
    sequences = encode_texts(texts, spec.token_kind, spec.vocab, spec.max_len)
    return ensemble_probabilities([run.model for run in trained], sequences)
