"""Language modelling of characters or words: the run spec, the training task, and its workflows.

The tokens are the corpus's characters (``tokens="chars"``, the default) or its
whitespace-separated words with ``<eos>`` at each line end (``tokens="words"``; see
``rnnkit.data.word_vocab``); the vocabulary is the training text's. Training reads the
corpus as ``batch_size`` contiguous lanes in windows of ``seq_len`` tokens and carries the
hidden state from one window to the next (truncated BPTT, as char-rnn and Zaremba et al.
2014); each epoch starts from a zero state. The loss is the mean cross-entropy per token,
in nats; bits per character = nats / ln 2, perplexity = exp(nats per word).

The validation text is a file of its own (``valid``), or else the last ``val_fraction`` of
the corpus. A ``test`` text (Penn Treebank's ptb.test.txt, say) is scored by ``evaluate``.
Validation during training scores ``batch_size`` lanes at once (fast; the few tokens
after the last whole window are left out); ``evaluate`` scores every token of a text
after the first, in one lane, as Zaremba et al. score their test set.

From Python::

    spec = LanguageModelSpec(CorpusSource(["input.txt"]), CharLMConfig(hidden_size=128))
    result = train(spec, TrainConfig(max_steps=1000), Path("runs/mine"))
    run = load_run("runs/mine")
    print("".join(sample(run, 200, prime="ROMEO:", temperature=0.8, rng=0)))

    ptb = corpus_dataset("ptb").paths()
    spec = LanguageModelSpec(CorpusSource.from_paths([ptb["train"]]), CharLMConfig(hidden_size=200),
                             val_fraction=0.0, tokens="words", valid=CorpusSource.from_paths([ptb["valid"]]),
                             test=CorpusSource.from_paths([ptb["test"]]), dataset="ptb")
    print(evaluate(load_run("runs/ptb"), "test", Path("runs/ptb")))     # {"loss": ..., "perplexity": ...}
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from rnnkit.data.batches import ContiguousBatches, split_train_val
from rnnkit.data.corpus import TOKENS, CorpusSource, encode_corpus, read_ids, scan_corpus, vocab_class
from rnnkit.data.datasets import corpus_dataset
from rnnkit.data.vocab import CharVocab
from rnnkit.data.word_vocab import WordVocab
from rnnkit.errors import CheckpointError, ConfigError, DataError
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks import runs
from rnnkit.tasks.sampling import generate
from rnnkit.training.config import TrainConfig

TASK = "char-lm"             # the task's name in run directories since run format 1, for words too
BUILT_IN_EPOCHS = 3          # a first run on the built-in corpus (rnnkit's own source) finishes in minutes
DTYPES = ("float32", "float64")
SAMPLE_TEMPERATURE = 0.8     # of the samples printed while and after training, and of rnnkit sample
PARTS = ("valid", "test")    # the texts `evaluate` scores
EVAL_WINDOW = 500            # tokens per forward pass of `evaluate` (the result does not depend on it)


@dataclass
class LanguageModelSpec:
    """A language model's run: the corpus, its tokens, the held-out texts, how the corpus is cut into batches,
    and the model.

    ``vocab`` and the SHA-256s (of each text's UTF-8) are filled in by ``prepare`` when the texts are read;
    ``model.vocab_size`` then becomes the vocabulary's size. ``dataset`` names the built-in corpus the
    files are (ptb), so that a run finds them again in another data folder.
    """

    TASK = TASK
    corpus: CorpusSource = field(default_factory=CorpusSource)
    model: CharLMConfig = field(default_factory=lambda: CharLMConfig())
    val_fraction: float = 0.1       # the end of the text that validates (0 when `valid` is a text of its own)
    batch_size: int = 32            # parallel lanes per batch
    seq_len: int = 100              # tokens per BPTT window
    dtype: str = "float32"          # float32 or float64
    vocab: CharVocab | WordVocab | None = None
    sha256: str | None = None
    tokens: str = "chars"           # chars, or words (whitespace-separated, <eos> at line ends)
    max_vocab: int | None = None    # words: the most frequent max_vocab - 1 and <unk> (None: every word)
    valid: CorpusSource | None = None   # the validation text, if not the end of the corpus
    test: CorpusSource | None = None    # a test text for `evaluate`
    dataset: str | None = None      # the built-in corpus (ptb) the files are, if they are one
    valid_sha256: str | None = None
    test_sha256: str | None = None

    def __post_init__(self):
        runs.check_field_types(self)
        if self.dtype not in DTYPES:
            raise ConfigError(f"`dtype` must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.tokens not in TOKENS:
            raise ConfigError(f"`tokens` must be one of {', '.join(TOKENS)}, got {self.tokens!r}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"`val_fraction` must be at least 0 and below 1, got {self.val_fraction}")
        if self.valid is not None and self.val_fraction:
            raise ConfigError("`val_fraction` holds out the end of the corpus, but `valid` names a validation text "
                              "of its own: set `val_fraction` to 0")
        for name in ("batch_size", "seq_len"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(f"`{name}` must be a positive integer, got {getattr(self, name)!r}")
        if self.max_vocab is not None:
            if self.tokens != "words":
                raise ConfigError("`max_vocab` caps a vocabulary of words: a model of characters has every one")
            if not (isinstance(self.max_vocab, int) and self.max_vocab >= 2):
                raise ConfigError(f"`max_vocab` must be an integer of at least 2, got {self.max_vocab!r}")
        if self.vocab is not None and self.vocab.kind != self.tokens:
            raise ConfigError(f"a vocabulary of {self.vocab.kind} for a model of `tokens` {self.tokens!r}")

    @property
    def name(self) -> str:
        """What the run learns from, in a word: the dataset, or the first file's stem, or rnnkit-source."""
        if self.dataset:
            return self.dataset
        return Path(self.corpus.files[0]).stem if self.corpus.files else "rnnkit-source"

    def to_json(self) -> dict:
        corpus = {"files": list(self.corpus.files), "encoding": self.corpus.encoding, "column": self.corpus.column,
                  "val_fraction": self.val_fraction, "sha256": self.sha256}
        return {"model_config": self.model.to_json(), "vocab": self.vocab.to_json() if self.vocab else None,
                "corpus": corpus, "batch_size": self.batch_size, "seq_len": self.seq_len, "dtype": self.dtype,
                "tokens": self.tokens, "max_vocab": self.max_vocab,
                "valid": held_out_json(self.valid, self.valid_sha256),
                "test": held_out_json(self.test, self.test_sha256), "dataset": self.dataset}

    @classmethod
    def from_json(cls, data: dict) -> "LanguageModelSpec":
        """Run formats 1 and 2 store the same layout; a spec written before words (issue 17) has no
        ``tokens`` (characters), ``valid``, ``test`` or ``dataset``."""
        corpus = data["corpus"]
        tokens = data.get("tokens", "chars")
        (valid, valid_sha256), (test, test_sha256) = (held_out_from_json(data.get(part)) for part in PARTS)
        return cls(corpus=CorpusSource.from_json(corpus),
                   model=CharLMConfig.from_json(data["model_config"]), val_fraction=corpus["val_fraction"],
                   batch_size=data["batch_size"], seq_len=data["seq_len"], dtype=data.get("dtype", "float32"),
                   vocab=vocab_class(tokens).from_json(data["vocab"]), sha256=corpus["sha256"], tokens=tokens,
                   max_vocab=data.get("max_vocab"),
                   valid=valid, test=test, dataset=data.get("dataset"), valid_sha256=valid_sha256,
                   test_sha256=test_sha256)

    def build_model(self, rng=None) -> CharLM:
        return CharLM(self.model, dtype=self.dtype, rng=rng)

    def check_fits(self, stored: dict) -> None:
        """The sizes the config names are those of the stored decoder, embedding and layers (checked before
        a model is built, so that a hostile meta.json cannot make rnnkit allocate a huge one)."""
        config = self.model
        if self.vocab is None or len(self.vocab) != config.vocab_size:
            raise CheckpointError(f"vocabulary of {len(self.vocab or [])} {self.tokens}, model expects "
                                  f"{config.vocab_size}")
        shapes = {name: getattr(value, "shape", None) for name, value in stored.items()}
        decoder = "embedding.weight" if config.tie_weights else "decoder.weight"
        fits = (shapes.get(decoder) == (config.vocab_size, config.hidden_size)
                and f"rnn.weight_ih_l{config.num_layers - 1}" in shapes      # every cell has W_ih (min cells
                and f"rnn.weight_ih_l{config.num_layers}" not in shapes      # have no W_hh)
                and (not config.embedding_dim
                     or shapes.get("embedding.weight") == (config.vocab_size, config.embedding_dim)))
        if not fits:
            raise CheckpointError(
                f"the model config in meta.json ({config.num_layers} layer(s) of {config.hidden_size}, "
                f"{config.vocab_size} {self.tokens}, embedding {config.embedding_dim}) does not fit the stored "
                "tensors: the checkpoint is damaged or mixes two models")


Spec = LanguageModelSpec


def held_out_json(source: CorpusSource | None, sha256: str | None) -> dict | None:
    return None if source is None else {**source.to_json(), "sha256": sha256}


def held_out_from_json(data: dict | None) -> tuple[CorpusSource | None, str | None]:
    if data is None:
        return None, None
    sha256 = data.get("sha256") if isinstance(data, dict) else None
    if sha256 is not None and not isinstance(sha256, str):
        raise DataError(f"the stored SHA-256 of a held-out text is not a string: {sha256!r}")
    return CorpusSource.from_json(data), sha256


def loss_measures(loss: float, unit: str, prefix: str = "") -> dict[str, float]:
    """What a mean loss in nats per token reads as besides: bits per character, or a word model's perplexity."""
    if unit == "char":
        return {f"{prefix}bpc": loss / math.log(2)}
    return {f"{prefix}ppl": math.exp(loss) if loss < 700 else math.inf}


def as_state_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


class LanguageModelTask:
    def __init__(self, model: CharLM, vocab: CharVocab | WordVocab, train_ids: np.ndarray, val_ids: np.ndarray,
                 batch_size: int, seq_len: int, sample_length: int = 300,
                 sample_temperature: float = SAMPLE_TEMPERATURE):
        self.model, self.vocab = model, vocab
        self.unit = vocab.unit                      # "char" or "word": metrics.jsonl's chars_per_s or words_per_s
        self.train_batches = ContiguousBatches(train_ids, batch_size, seq_len)
        self.val_batches = self._validation_batches(val_ids, batch_size, seq_len)
        self.hidden = None                          # carried from batch to batch
        self.sample_length, self.sample_temperature = sample_length, sample_temperature

    @staticmethod
    def _validation_batches(val_ids, batch_size, seq_len) -> ContiguousBatches | None:
        """As many lanes as the validation text fills (at most batch_size); None if it is too short."""
        lanes = min(batch_size, (len(val_ids) - 1) // seq_len)
        return ContiguousBatches(val_ids, lanes, seq_len) if lanes >= 1 else None

    @property
    def epoch(self) -> int:
        return self.train_batches.epoch

    @property
    def batches_per_epoch(self) -> int:
        return self.train_batches.num_batches

    @property
    def batch(self) -> int:
        """The index of the next batch in its epoch."""
        return self.train_batches.batch

    def batches(self):
        if self.train_batches.batch == 0:
            self.hidden = None                      # a new epoch starts from a zero state
        return iter(self.train_batches)

    def train_step(self, batch) -> tuple[float, int]:
        inputs, targets = batch
        self.model.train()
        logits, state = self.model(inputs, self.hidden)
        loss, dlogits = softmax_cross_entropy(logits, targets)
        self.model.backward(dlogits)
        self.hidden = state
        return float(loss), inputs.size

    def evaluate(self) -> dict[str, float]:
        """Mean loss per token over the validation text's whole windows, state carried across windows; and
        bits per character or perplexity."""
        if self.val_batches is None:
            return {"val_loss": float("nan")}
        self.model.eval()
        total, count, state = 0.0, 0, None
        for k in range(len(self.val_batches)):
            inputs, targets = self.val_batches.batch_at(k)
            logits, state = self.model(inputs, state)
            loss, _ = softmax_cross_entropy(logits, targets, reduction="sum")
            total, count = total + float(loss), count + targets.size
        self.model.train()
        val_loss = total / count
        return {"val_loss": val_loss, **loss_measures(val_loss, self.unit, "val_")}

    def sample(self, rng) -> str:
        text = "".join(generate(self.model, self.vocab, self.sample_length,
                                temperature=self.sample_temperature, rng=rng))
        self.model.train()
        return text

    # -- resume ------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        tensors = {}
        if self.hidden is not None:
            tensors = {f"hidden_{i}": s for i, s in enumerate(as_state_tuple(self.hidden))}
        return tensors, {"batches": self.train_batches.state_dict()}

    def load_state(self, tensors: dict[str, np.ndarray], state: dict) -> None:
        if not isinstance(state, dict) or "batches" not in state:
            raise CheckpointError("checkpoint has no data position (task_state.batches): it is damaged")
        self.train_batches.load_state_dict(state["batches"])
        parts = [tensors[f"hidden_{i}"] for i in range(len(tensors))] if tensors else None
        if parts is not None and not self._fits_hidden(parts):
            raise CheckpointError("the saved hidden state does not fit this model (shape, dtype or NaN): "
                                  "resume with the same model, or the checkpoint is damaged")
        self.hidden = None if parts is None else (parts[0] if len(parts) == 1 else tuple(parts))

    def _fits_hidden(self, parts: list[np.ndarray]) -> bool:
        """Each saved state is finite, of the model's dtype and of shape (layers, batch, size)."""
        rnn = self.model.rnn
        shapes = [(rnn.num_layers * rnn.num_directions, self.train_batches.batch_size, size)
                  for size in rnn.cell.state_sizes]
        return len(parts) == len(shapes) and all(
            p.shape == shape and p.dtype == self.model.dtype and np.isfinite(p).all()
            for p, shape in zip(parts, shapes))


# -- workflows -------------------------------------------------------------------------------


def default_epochs(corpus: CorpusSource) -> int:
    """Epochs of a run that does not say: BUILT_IN_EPOCHS on the built-in corpus, else TrainConfig's."""
    return BUILT_IN_EPOCHS if not corpus.files else TrainConfig().epochs


def built_in(name: str, data_dir: str | Path | None = None, **options) -> LanguageModelSpec:
    """The spec of a built-in corpus (``rnnkit.data.datasets.CORPUS_DATASETS``: ptb) in ``data_dir``: its
    train, valid and test files and its tokens; ``options``: the spec's other fields."""
    dataset = corpus_dataset(name)
    paths = {part: CorpusSource.from_paths([path]) for part, path in dataset.paths(data_dir).items()}
    return LanguageModelSpec(paths["train"], **{"tokens": dataset.tokens, **options, "val_fraction": 0.0,
                                                "valid": paths["valid"], "test": paths["test"], "dataset": name})


def prepare(spec: LanguageModelSpec) -> tuple[LanguageModelSpec, int, np.ndarray | None]:
    """The spec with the corpus's vocabulary and the texts' SHA-256s and the model's vocabulary size, read
    in one pass over the corpus; the corpus's length in tokens; the validation text's ids if it has its
    own (a test text is read too, so that a word the vocabulary cannot stand for shows now, not at the end)."""
    vocab, length, sha256 = scan_corpus(spec.corpus, spec.tokens, spec.max_vocab)
    spec = replace(spec, vocab=vocab, sha256=sha256, model=replace(spec.model, vocab_size=len(vocab)))
    val_ids = None
    if spec.valid is not None:
        val_ids, valid_sha256 = read_ids(spec.valid, vocab)
        spec = replace(spec, valid_sha256=valid_sha256)
    if spec.test is not None:
        spec = replace(spec, test_sha256=read_ids(spec.test, vocab)[1])
    return spec, length, val_ids


def train(spec: LanguageModelSpec, config: TrainConfig, run_dir: Path, progress: bool = True,
          echo=print) -> runs.TrainResult:
    """A new run: read the corpus (``prepare``), build the model (seeded by ``config.seed``) and train it
    into ``run_dir``."""
    with runs.new_run_dir(run_dir) as run_dir:
        spec, length, val_ids = prepare(spec)
        ids = encode_corpus(spec.corpus, spec.vocab, length, run_dir)
        task = training_task(spec, spec.build_model(rng=config.seed), ids, val_ids)
        return runs.fit(task, spec, config, run_dir, progress=progress, echo=echo)


def resume(run_dir: Path, changes: dict | None = None, files: list[str] | None = None,
           progress: bool = True, echo=print, valid_files: list[str] | None = None,
           test_files: list[str] | None = None, data_dir: Path | None = None) -> runs.TrainResult:
    """Continue the run in ``run_dir`` exactly where it stopped; ``changes`` of the resumable training
    options (``runs.RESUMABLE``); ``files``, ``valid_files``, ``test_files``: the same texts, moved
    (checked by their SHA-256); ``data_dir``: where a built-in corpus's folder is now."""
    with runs.resumed_run_dir(run_dir) as run_dir:
        return _resume(run_dir, changes or {}, Moved(files, valid_files, test_files, data_dir), progress, echo)


@dataclass
class Moved:
    """Where a run's texts are now, if not where it recorded them: each None for "where it was"."""

    files: list[str] | None = None
    valid_files: list[str] | None = None
    test_files: list[str] | None = None
    data_dir: Path | None = None


def moved(spec: LanguageModelSpec, where: Moved) -> LanguageModelSpec:
    """The spec with its texts where ``where`` says they are now (the SHA-256s stay, to be checked)."""
    if where.data_dir is not None:
        if spec.dataset is None:
            raise ConfigError("`data_dir` finds a built-in corpus, but this run was trained on files: "
                              "give their new places instead")
        paths = corpus_dataset(spec.dataset).paths(where.data_dir)
        spec = replace(spec, corpus=_at(spec.corpus, [paths["train"]]), valid=_at(spec.valid, [paths["valid"]]),
                       test=_at(spec.test, [paths["test"]]))
    for name, files in (("valid", where.valid_files), ("test", where.test_files)):
        if files:
            if getattr(spec, name) is None:
                raise ConfigError(f"the run has no {name} text of its own to move: drop `{name}_files`")
            spec = replace(spec, **{name: _at(getattr(spec, name), files)})
    return replace(spec, corpus=_at(spec.corpus, where.files)) if where.files else spec


def _at(source: CorpusSource | None, paths: list) -> CorpusSource | None:
    return None if source is None else CorpusSource.from_paths(paths, source.encoding, source.column)


def _resume(run_dir: Path, changes: dict, where: Moved, progress: bool, echo) -> runs.TrainResult:
    tensors, spec, trainer = runs.read_run(run_dir, "last", TASK)
    model = runs.fresh_model(tensors, spec, run_dir)
    spec = moved(spec, where)
    config = runs.resumed_config(trainer, changes, run_dir)
    for path in spec.corpus.files:
        runs.check_same_file(path, None, "files")
    _, length, sha256 = scan_corpus(spec.corpus, spec.tokens)
    if sha256 != spec.sha256:
        raise ConfigError(f"the corpus {spec.corpus.describe()} is not the text the run started "
                          "with (its SHA-256 differs): resume needs the same text")
    ids = encode_corpus(spec.corpus, spec.vocab, length, Path(run_dir))
    val_ids = held_out_ids(spec, "valid", "valid_files")[0] if spec.valid is not None else None
    return runs.fit(training_task(spec, model, ids, val_ids), spec, config, Path(run_dir), resume=True,
                    new_lr=changes.get("lr"), progress=progress, echo=echo)


def held_out_ids(spec: LanguageModelSpec, part: str, argument: str) -> tuple[np.ndarray, CorpusSource]:
    """The ids of the run's own validation or test text, checked to be the text it recorded; ``argument``
    names where to say the text is now, should it have moved."""
    source, recorded = getattr(spec, part), getattr(spec, f"{part}_sha256")
    for path in source.files:
        runs.check_same_file(path, None, argument)
    ids, sha256 = read_ids(source, spec.vocab)
    if recorded is not None and sha256 != recorded:
        raise ConfigError(f"the {part} text {source.describe()} is not the one the run recorded (its SHA-256 "
                          "differs): use the same text")
    return ids, source


def training_task(spec: LanguageModelSpec, model: CharLM, ids: np.ndarray,
                  val_ids: np.ndarray | None = None) -> LanguageModelTask:
    """The training task over the corpus ``ids``; validated on ``val_ids``, or else on the corpus's end."""
    if val_ids is None:
        ids, val_ids = split_train_val(ids, spec.val_fraction)
    return LanguageModelTask(model, spec.vocab, ids, val_ids, spec.batch_size, spec.seq_len)


def load_run(path, which: str = "best") -> runs.TrainedRun:
    """A trained language model (``.model``), its spec (``.spec.vocab``) and trainer state."""
    return runs.load_run(path, which, TASK)


def sample(run: runs.TrainedRun, length: int, prime: str = "", temperature: float = 1.0, top_k: int = 0,
           greedy: bool = False, rng=None) -> Iterator[str]:
    """``length`` tokens written by the run's model after reading ``prime``, one at a time, each as the text
    it adds (a character; a space and a word, or a line break for ``<eos>``)."""
    return generate(run.model, run.spec.vocab, length, prime, temperature, top_k, greedy, rng)


# -- evaluation ------------------------------------------------------------------------------


def stream_loss(model: CharLM, ids: np.ndarray, window: int = EVAL_WINDOW,
                progress: Callable[[int, int], None] | None = None) -> float:
    """The summed loss (nats) of predicting ids[1:], each from all the ids before it: one lane, the state
    carried from window to window, so every token after the first is scored once."""
    model.eval()
    total, state, targets = 0.0, None, len(ids) - 1
    for start in range(0, targets, window):
        piece = np.asarray(ids[start:start + window + 1])
        logits, state = model(piece[:-1].reshape(-1, 1), state)
        loss, _ = softmax_cross_entropy(logits, piece[1:].reshape(-1, 1), reduction="sum")
        total += float(loss)
        if progress is not None:
            progress(min(start + window, targets), targets)
    return total


def evaluate(run: runs.TrainedRun, part: str = "test", out_dir: Path | None = None,
             files: list[str] | None = None, data_dir: Path | None = None, echo=None,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """The loss per token (nats) of the run's model over a whole text, and its perplexity (words) or bits
    per character: the run's validation (``part="valid"``: its own text, or the end of the corpus) or test
    text, or ``files`` (any text, named by its first file's stem); ``data_dir``: where a built-in corpus
    is now. Written under "NAME-PART" (or the files' stem) into OUT_DIR/results.json when ``out_dir``
    is given (``echo`` gets "wrote PATH")."""
    spec = run.spec
    if part not in PARTS:
        raise ConfigError(f"unknown `part` {part!r}: use one of {', '.join(PARTS)}")
    if out_dir is not None:
        runs.check_results_file(Path(out_dir))
    if files:
        source = CorpusSource.from_paths(files, spec.corpus.encoding, spec.corpus.column)
        ids, _ = read_ids(source, spec.vocab)
        key = Path(files[0]).stem
    else:
        ids, source = _part_ids(moved(spec, Moved(data_dir=data_dir)) if data_dir else spec, part)
        key = f"{spec.name}-{part}"
    if len(ids) < 2:
        raise DataError(f"{source.describe()} holds {len(ids)} token(s): nothing to predict")
    loss = stream_loss(run.model, ids, progress=progress) / (len(ids) - 1)
    measures = loss_measures(loss, spec.vocab.unit)
    results = {"loss": loss, **({"perplexity": measures["ppl"]} if "ppl" in measures else measures),
               "tokens": len(ids) - 1, "text": source.describe(), "checkpoint": run.source}
    if out_dir is not None:
        path = runs.write_results(Path(out_dir), key, results)
        if echo is not None:
            echo(f"wrote {path}")
    return results


def _part_ids(spec: LanguageModelSpec, part: str) -> tuple[np.ndarray, CorpusSource]:
    """The ids of the run's validation or test text."""
    if getattr(spec, part) is not None:
        return held_out_ids(spec, part, "files")
    if part == "test":
        raise ConfigError("the run has no test text: give a text to score (`files`)")
    for path in spec.corpus.files:
        runs.check_same_file(path, None, "files")
    _, length, sha256 = scan_corpus(spec.corpus, spec.tokens)
    if sha256 != spec.sha256:
        raise ConfigError(f"the corpus {spec.corpus.describe()} is not the text the run was trained on (its "
                          "SHA-256 differs): its end is not the run's validation text")
    with tempfile.TemporaryDirectory() as folder:            # for the ids of a corpus too large for memory
        ids = np.array(split_train_val(encode_corpus(spec.corpus, spec.vocab, length, folder), spec.val_fraction)[1])
    return ids, spec.corpus
