"""Translation: the run spec, the training task, and its workflows (train, eval, translate, attention).

Sentence pairs (``source<TAB>target`` per line, ``rnnkit.data.pairs``) are split by source
sentence into train/dev/test (seeded), tokenised per side (words or characters), numbered
with vocabularies of the training part, and batched by source length. The model is
``rnnkit.models.seq2seq.Seq2Seq`` (a bidirectional encoder, an attentional decoder); it is
trained on the label-smoothed cross-entropy per target token, and validated by the dev
part's plain negative log-likelihood per target token (``val_loss``).

Translations come from batched beam search (``rnnkit.models.decoding``; width 1 is greedy)
and are scored by sacrebleu's corpus BLEU and chrF, each with its signature::

    spec = TranslationSpec(PairsSource(file="fra.tsv"))
    result = train(spec, train_config(epochs=5), Path("runs/fra"))
    run = load_run("runs/fra")
    evaluate(run, "test", beam=5)                      # {"bleu": CorpusScore, "chrf": CorpusScore}
    translate(run, ["I am hungry."], beam=5, n_best=2)  # [[(text, score), ...]]
    attention(run, "I am hungry.", "attention.png")

The pairs come from the user's own file (``PairsSource(file=..., reverse=...)``), or from a
built-in Tatoeba file (``PairsSource.built_in("eng-fra" | "cmn-eng", data_dir)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from rnnkit.data.datasets import default_data_dir
from rnnkit.data.pairs import (
    PARTS,
    EncodedPairs,
    PairsOptions,
    TranslationCorpus,
    check_vocabulary,
    display_tokens,
    prepare_corpus,
    read_pairs,
    source_batch,
    to_text,
)
from rnnkit.data.tables import file_sha256
from rnnkit.data.tokenize import Vocabulary
from rnnkit.errors import ConfigError, DataError
from rnnkit.metrics_translation import CorpusScore, corpus_bleu, corpus_chrf
from rnnkit.models.decoding import beam_search
from rnnkit.models.seq2seq import (
    EOS_ID,
    Seq2Seq,
    Seq2SeqConfig,
    TranslationBatch,
)
from rnnkit.plot_attention import plot_attention
from rnnkit.tasks import runs
from rnnkit.tasks.epochs import TeacherForcedTask
from rnnkit.training.config import TrainConfig

TASK = "translate"
EVAL_BATCH = 64
# The tokenisers by the names the command line uses (words, chars) and rnnkit.data.pairs's own (word, char).
TOKENIZER_NAMES = {"words": "word", "chars": "char", "word": "word", "char": "char"}


@dataclass(frozen=True)
class PairsDataset:
    """A built-in file of sentence pairs (Tatoeba, via manythings.org), under the data directory."""

    path: str                      # relative to the data directory
    tokenizers: tuple[str, str]    # the tokenisers of its first and second column
    languages: tuple[str, str]     # the languages of its first and second column


PAIRS_DATASETS = {
    "eng-fra": PairsDataset("translation_eng_fra/fra_first80000.txt", ("word", "word"), ("eng", "fra")),
    "cmn-eng": PairsDataset("translation_cmn_eng/cmn.txt", ("word", "char"), ("eng", "cmn")),
}


@dataclass
class PairsSource:
    """Sentence pairs: the user's own ``file`` (source<TAB>target lines; ``reverse``: target<TAB>source),
    or a built-in ``dataset`` (then ``file`` is where it was found)."""

    file: str | None = None
    reverse: bool = False
    dataset: str | None = None
    sha256: str | None = None        # of the file, kept by prepare(): a resumed run checks it

    def __post_init__(self):
        runs.check_field_types(self)
        if self.dataset is not None and self.dataset not in PAIRS_DATASETS:
            raise ConfigError(f"unknown `dataset` {self.dataset!r}: choose one of {', '.join(PAIRS_DATASETS)}")
        if self.file is None:
            raise ConfigError("give a `file` of sentence pairs (source<TAB>target per line) or a built-in `dataset`")

    @classmethod
    def built_in(cls, dataset: str, data_dir: str | Path | None = None, reverse: bool = False) -> PairsSource:
        if dataset not in PAIRS_DATASETS:
            raise ConfigError(f"unknown `dataset` {dataset!r}: choose one of {', '.join(PAIRS_DATASETS)}")
        path = Path(data_dir or default_data_dir()) / PAIRS_DATASETS[dataset].path
        return cls(file=str(path.resolve()), reverse=reverse, dataset=dataset)

    @property
    def name(self) -> str:
        """What results are filed under: a built-in dataset's direction (``cmn-eng``: Chinese to
        English), or the file's stem."""
        if self.dataset:
            first, second = PAIRS_DATASETS[self.dataset].languages
            return f"{second}-{first}" if self.reverse else f"{first}-{second}"
        return Path(self.file).stem

    def default_tokenizer(self, side: str) -> str:
        """The dataset's tokeniser of ``side`` (source or target); words for a file."""
        if not self.dataset:
            return "word"
        first, second = PAIRS_DATASETS[self.dataset].tokenizers
        if self.reverse:
            first, second = second, first
        return first if side == "source" else second

    def moved(self, data_dir: str | Path | None = None, file: str | Path | None = None) -> PairsSource:
        """The same pairs at a new place: a built-in dataset under another ``data_dir``, or a moved ``file``."""
        if data_dir is None and file is None:
            return self
        if file is not None:
            return replace(self, file=str(Path(file).resolve()))
        if self.dataset:
            return replace(self, file=str((Path(data_dir) / PAIRS_DATASETS[self.dataset].path).resolve()))
        raise ConfigError(f"the run reads {self.file}: give `file` to say where it is now")


def _task_model() -> Seq2SeqConfig:
    return Seq2SeqConfig(embedding_dim=128, hidden_size=128, label_smoothing=0.1)


@dataclass
class TranslationSpec:
    """A translator's run: where the pairs come from, how they become ids, and the model.

    ``source_vocab`` and ``target_vocab`` (of the training part) are filled in by ``prepare``;
    so are ``model.source_vocab_size`` and ``model.target_vocab_size``.
    """

    TASK = TASK
    data: PairsSource
    model: Seq2SeqConfig = field(default_factory=_task_model)
    source_tokenizer: str | None = None     # words or chars; None: the dataset's (words for a file)
    target_tokenizer: str | None = None
    lowercase: bool = False
    min_count: int = 1                      # rarer training tokens become <unk>
    max_vocab: int = 0                      # 0: no cap; else each vocabulary's size, special tokens included
    max_length: int = 50                    # tokens per side of a training pair; longer ones are dropped
    dev_fraction: float = 0.1               # of the distinct source sentences
    test_fraction: float = 0.1
    split_seed: int = 0
    batch_size: int = 32                    # pairs per batch
    dtype: str = "float32"
    source_vocab: Vocabulary | None = None
    target_vocab: Vocabulary | None = None

    def __post_init__(self):
        runs.check_field_types(self)
        for name in ("source_tokenizer", "target_tokenizer"):
            value = getattr(self, name)
            if value is not None:
                if value not in TOKENIZER_NAMES:
                    raise ConfigError(f"unknown `{name}` {value!r}: choose words or chars")
                setattr(self, name, TOKENIZER_NAMES[value])
        for name in ("min_count", "max_length", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"`{name}` must be a positive integer, got {getattr(self, name)!r}")
        if self.max_vocab < 0:
            raise ConfigError(f"`max_vocab` must be 0 (no cap) or positive, got {self.max_vocab!r}")
        for name in ("dev_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"`{name}` must lie between 0 and 1, got {getattr(self, name)!r}")
        if self.dev_fraction + self.test_fraction >= 1:
            raise ConfigError(f"`dev_fraction` + `test_fraction` ({self.dev_fraction} + {self.test_fraction}) "
                              "must leave pairs to train on")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"`dtype` must be float32 or float64, got {self.dtype!r}")

    @property
    def source_kind(self) -> str:
        return self.source_tokenizer or self.data.default_tokenizer("source")

    @property
    def target_kind(self) -> str:
        return self.target_tokenizer or self.data.default_tokenizer("target")

    @property
    def bleu_tokenize(self) -> str | None:
        """sacrebleu's BLEU tokeniser: "zh" for a target read as characters (Chinese), else its default 13a."""
        return "zh" if self.target_kind == "char" else None

    def options(self) -> PairsOptions:
        train = round(1.0 - self.dev_fraction - self.test_fraction, 12)
        return PairsOptions(self.source_kind, self.target_kind, self.lowercase, self.min_count, self.max_vocab,
                            self.max_length, (train, self.dev_fraction, self.test_fraction), self.split_seed)

    def to_json(self) -> dict:
        return {"data": asdict(self.data), "model_config": self.model.to_json(),
                "source_tokenizer": self.source_kind, "target_tokenizer": self.target_kind,
                "lowercase": self.lowercase, "min_count": self.min_count, "max_vocab": self.max_vocab,
                "max_length": self.max_length, "dev_fraction": self.dev_fraction,
                "test_fraction": self.test_fraction, "split_seed": self.split_seed, "batch_size": self.batch_size,
                "dtype": self.dtype,
                "source_vocab": self.source_vocab.to_json() if self.source_vocab else None,
                "target_vocab": self.target_vocab.to_json() if self.target_vocab else None}

    @classmethod
    def from_json(cls, data: dict) -> TranslationSpec:
        def vocab(text, side):
            return check_vocabulary(Vocabulary.from_json(text), side) if text is not None else None
        return cls(data=PairsSource(**data["data"]), model=Seq2SeqConfig.from_json(data["model_config"]),
                   source_tokenizer=data["source_tokenizer"], target_tokenizer=data["target_tokenizer"],
                   lowercase=data["lowercase"], min_count=data["min_count"], max_vocab=data["max_vocab"],
                   max_length=data["max_length"], dev_fraction=data["dev_fraction"],
                   test_fraction=data["test_fraction"], split_seed=data["split_seed"],
                   batch_size=data["batch_size"], dtype=data["dtype"],
                   source_vocab=vocab(data["source_vocab"], "source"),
                   target_vocab=vocab(data["target_vocab"], "target"))

    def build_model(self, rng=None) -> Seq2Seq:
        for side, vocab, size in (("source", self.source_vocab, self.model.source_vocab_size),
                                  ("target", self.target_vocab, self.model.target_vocab_size)):
            if vocab is not None and len(vocab) != size:
                raise ConfigError(f"the {side} vocabulary does not fit the model: the run spec is damaged")
        if not (self.model.source_vocab_size and self.model.target_vocab_size):
            raise ConfigError("the model's vocabulary sizes are not set: prepare the spec on its pairs first")
        return Seq2Seq(self.model, dtype=np.dtype(self.dtype), rng=rng)

    def corpus(self) -> TranslationCorpus:
        """The pairs split and numbered; with stored vocabularies, they must be the ones the pairs give."""
        corpus = prepare_corpus(read_pairs(self.data.file, self.data.reverse), self.options())
        for side, stored, found in (("source", self.source_vocab, corpus.source_vocab),
                                    ("target", self.target_vocab, corpus.target_vocab)):
            if stored is not None and stored.tokens != found.tokens:
                raise DataError(f"the training pairs of {self.data.file} give another {side} vocabulary than the "
                                "run's: it is not the file the run was trained on")
        return corpus


Spec = TranslationSpec


# -- the training task ------------------------------------------------------------------------


class TranslationTask(TeacherForcedTask):
    """Batches of training pairs of similar source length, in an order fixed by seed and epoch."""

    def __init__(self, model: Seq2Seq, train: EncodedPairs, dev: EncodedPairs, batch_size: int, seed: int = 0):
        for name, part in (("training", train), ("dev", dev)):
            if len(part) == 0:
                raise DataError(f"the {name} part of the pairs is empty: give more pairs")
        super().__init__(model, train, dev, batch_size, seed)

    def example_lengths(self, part: EncodedPairs) -> list[int]:
        return [len(ids) for ids in part.source_ids]

    def logits(self, batch: TranslationBatch) -> np.ndarray:
        return self.model(batch.source, batch.source_lengths, batch.target_inputs)


# -- workflows -------------------------------------------------------------------------------

# The TrainConfig fields whose defaults differ for this task.
TRAIN_DEFAULTS = {"sample_every": 0, "epochs": 10, "lr": 2e-3, "eval_every": 200, "patience": 5}


def train_config(**options) -> TrainConfig:
    """TrainConfig with this task's defaults (TRAIN_DEFAULTS) under ``options``."""
    return TrainConfig(**{**TRAIN_DEFAULTS, **options})


def prepare(spec: TranslationSpec) -> TranslationSpec:
    """The spec with its tokenisers named, its vocabularies (of the training pairs), and the model's sizes."""
    spec = replace(spec, source_tokenizer=spec.source_kind, target_tokenizer=spec.target_kind)
    corpus = spec.corpus()
    for side, vocab in (("source", corpus.source_vocab), ("target", corpus.target_vocab)):
        if len(vocab) <= 4:
            raise DataError(f"`min_count` {spec.min_count} keeps no {side} token of the training pairs of "
                            f"{spec.data.file}: lower `min_count`")
    model = replace(spec.model, source_vocab_size=len(corpus.source_vocab),
                    target_vocab_size=len(corpus.target_vocab))
    data = replace(spec.data, sha256=file_sha256(spec.data.file))
    return replace(spec, data=data, model=model, source_vocab=corpus.source_vocab, target_vocab=corpus.target_vocab)


def training_task(spec: TranslationSpec, model: Seq2Seq, seed: int) -> TranslationTask:
    corpus = spec.corpus()
    return TranslationTask(model, corpus.parts["train"], corpus.parts["dev"], spec.batch_size, seed)


def train(spec: TranslationSpec, config: TrainConfig, run_dir: Path, progress: bool = True,
          echo=print) -> runs.TrainResult:
    """A new run: vocabularies from the training pairs, a model seeded by ``config.seed``, trained into
    ``run_dir`` with early stopping on the dev loss."""
    with runs.new_run_dir(run_dir) as run_dir:
        spec = prepare(spec)
        model = spec.build_model(rng=config.seed)
        return runs.fit(training_task(spec, model, config.seed), spec, config, run_dir, progress=progress,
                        echo=echo)


def resume(run_dir: Path, changes: dict | None = None, file: Path | None = None, data_dir: Path | None = None,
           progress: bool = True, echo=print) -> runs.TrainResult:
    """Continue the run in ``run_dir`` exactly; ``changes`` of the resumable options (``runs.RESUMABLE``);
    ``file`` or ``data_dir``: where its pairs are now, if they moved."""
    changes = changes or {}
    with runs.resumed_run_dir(run_dir) as run_dir:
        tensors, spec, trainer = runs.read_run(run_dir, "last", TASK)
        model = runs.fresh_model(tensors, spec, run_dir)
        spec = replace(spec, data=spec.data.moved(data_dir, file))
        runs.check_same_file(spec.data.file, spec.data.sha256, "data_dir" if spec.data.dataset else "file")
        config = runs.resumed_config(trainer, changes, run_dir)
        return runs.fit(training_task(spec, model, config.seed), spec, config, run_dir, resume=True,
                        new_lr=changes.get("lr"), progress=progress, echo=echo)


def load_run(path, which: str = "best") -> runs.TrainedRun:
    return runs.load_run(path, which, TASK)


def _check_decoding(beam: int, n_best: int = 1) -> None:
    if not (isinstance(beam, int) and beam >= 1):
        raise ConfigError(f"`beam` must be a positive integer, got {beam!r}")
    if not (isinstance(n_best, int) and 1 <= n_best <= beam):
        raise ConfigError(f"`n_best` must be between 1 and `beam` ({beam}), got {n_best!r}")


def decode(run: runs.TrainedRun, source: Sequence[np.ndarray], beam: int = 5, n_best: int = 1,
           alpha: float = 0.6):
    """The ``n_best`` hypotheses of each id sequence of ``source``, by beam search of width ``beam``."""
    from rnnkit.data.padding import pad_batch
    from rnnkit.models.seq2seq import PAD_ID
    found = []
    for begin in range(0, len(source), EVAL_BATCH):
        ids, lengths = pad_batch(list(source[begin:begin + EVAL_BATCH]), PAD_ID)
        found += beam_search(run.model, ids, lengths, beam, alpha=alpha, n_best=n_best)
    return found


def evaluate(run: runs.TrainedRun, split: str = "test", beam: int = 5, out_dir: Path | None = None,
             file: Path | None = None, data_dir: Path | None = None, alpha: float = 0.6,
             echo=None) -> dict[str, CorpusScore]:
    """BLEU and chrF (sacrebleu, with their signatures) of the beam-search translations of ``split``
    (dev or test); the translations go to OUT_DIR/translations-SPLIT.txt and the scores to key
    "DATA-SPLIT" of OUT_DIR/results.json (``out_dir`` default: the run's directory). ``file``/``data_dir``:
    where the pairs are now."""
    if split not in PARTS[1:]:
        raise ConfigError(f"unknown `split` {split!r}: use dev or test")
    _check_decoding(beam)
    out_dir = runs.report_dir([Path(run.path)], out_dir)
    runs.check_results_file(out_dir)
    echo = echo or (lambda message: None)
    spec = replace(run.spec, data=run.spec.data.moved(data_dir, file))
    part = spec.corpus().parts[split]
    if len(part) == 0:
        raise DataError(f"the {split} part of {spec.data.file} is empty: give more pairs")
    texts = [to_text(n_best[0].tokens, spec.target_vocab, spec.target_kind)
             for n_best in decode(run, part.source_ids, beam, 1, alpha)]
    references = part.pairs.targets
    if spec.lowercase:
        references = [reference.lower() for reference in references]
    bleu = corpus_bleu(texts, references, tokenize=spec.bleu_tokenize)
    chrf = corpus_chrf(texts, references)
    out_dir.mkdir(parents=True, exist_ok=True)
    translations = out_dir / f"translations-{split}.txt"
    translations.write_text("".join(text + "\n" for text in texts), encoding="utf-8")
    echo(f"wrote {translations}")
    results = {"bleu": bleu.score, "bleu_signature": bleu.signature, "chrf": chrf.score,
               "chrf_signature": chrf.signature, "beam": beam, "alpha": alpha, "sentences": len(texts),
               "checkpoint": run.source}
    echo(f"wrote {runs.write_results(out_dir, f'{spec.data.name}-{split}', results)}")
    return {"bleu": bleu, "chrf": chrf}


def _source_ids(spec: TranslationSpec, sentences: Sequence[str]) -> list[np.ndarray]:
    if not sentences:
        raise ConfigError("no sentence to translate: give at least one")
    blank = [number for number, text in enumerate(sentences, start=1) if not text.strip()]
    if blank:
        raise DataError(f"sentence {blank[0]} of {len(sentences)} is blank ({len(blank)} in all): leave blank "
                        "sentences out")
    ids, lengths = source_batch(sentences, spec.source_vocab, spec.source_kind, spec.lowercase)
    return [ids[:length, b] for b, length in enumerate(lengths)]


def translate(run: runs.TrainedRun, sentences: Sequence[str], beam: int = 5, n_best: int = 1,
              alpha: float = 0.6) -> list[list[tuple[str, float]]]:
    """The ``n_best`` translations of each sentence, best first, each with its score (log P / lp(n))."""
    _check_decoding(beam, n_best)
    spec = run.spec
    return [[(to_text(h.tokens, spec.target_vocab, spec.target_kind), float(h.score)) for h in n_best_list]
            for n_best_list in decode(run, _source_ids(spec, sentences), beam, n_best, alpha)]


def attention(run: runs.TrainedRun, sentence: str, out_png: Path, beam: int = 5,
              alpha: float = 0.6) -> tuple[str, Path]:
    """The best translation of ``sentence`` and the heat map of its attention (output steps over source
    tokens), written to ``out_png``."""
    _check_decoding(beam)
    spec = run.spec
    if not spec.model.attends:
        raise ConfigError(f"{run.path}: the model has no attention (`attention`='none'): there is no map to draw")
    source = _source_ids(spec, [sentence])[0]
    best = decode(run, [source], beam, 1, alpha)[0][0]
    output = display_tokens([*best.tokens, EOS_ID], spec.target_vocab)
    text = to_text(best.tokens, spec.target_vocab, spec.target_kind)
    plot_attention(best.attention, display_tokens(source, spec.source_vocab), output, out_png,
                   f"{sentence} -> {text}")
    return text, Path(out_png)
