"""Character-level language modelling: the run spec, the training task, and its workflows.

Training reads the corpus as ``batch_size`` contiguous lanes in windows of
``seq_len`` characters and carries the hidden state from one window to the next
(truncated BPTT, as char-rnn); each epoch starts from a zero state. The loss is
the mean cross-entropy per character, in nats; bits per character = nats / ln 2.
The last ``val_fraction`` of the text validates.

From Python::

    spec = LanguageModelSpec(CorpusSource(["input.txt"]), CharLMConfig(hidden_size=128))
    result = train(spec, TrainConfig(max_steps=1000), Path("runs/mine"))
    run = load_run("runs/mine")
    print("".join(sample(run, 200, prime="ROMEO:", temperature=0.8, rng=0)))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from rnnkit.data.batches import ContiguousBatches, split_train_val
from rnnkit.data.corpus import CorpusSource, encode_corpus, scan_corpus
from rnnkit.data.vocab import CharVocab
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks import runs
from rnnkit.tasks.sampling import generate
from rnnkit.training.config import TrainConfig

TASK = "char-lm"
BUILT_IN_EPOCHS = 3          # a first run on the built-in corpus (rnnkit's own source) finishes in minutes
DTYPES = ("float32", "float64")
SAMPLE_TEMPERATURE = 0.8     # of the samples printed while and after training, and of rnnkit sample


@dataclass
class LanguageModelSpec:
    """A character language model's run: the corpus, how it is cut into batches, and the model.

    ``vocab`` and ``sha256`` (of the corpus's UTF-8 text) are filled in by ``prepare`` when the
    corpus is read; ``model.vocab_size`` then becomes the vocabulary's size.
    """

    TASK = TASK
    corpus: CorpusSource = field(default_factory=CorpusSource)
    model: CharLMConfig = field(default_factory=lambda: CharLMConfig())
    val_fraction: float = 0.1       # the end of the text that validates
    batch_size: int = 32            # parallel lanes per batch
    seq_len: int = 100              # characters per BPTT window
    dtype: str = "float32"          # float32 or float64
    vocab: CharVocab | None = None
    sha256: str | None = None

    def __post_init__(self):
        runs.check_field_types(self)
        if self.dtype not in DTYPES:
            raise ConfigError(f"`dtype` must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"`val_fraction` must be at least 0 and below 1, got {self.val_fraction}")
        for name in ("batch_size", "seq_len"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ConfigError(f"`{name}` must be a positive integer, got {getattr(self, name)!r}")

    def to_json(self) -> dict:
        corpus = {"files": list(self.corpus.files), "encoding": self.corpus.encoding, "column": self.corpus.column,
                  "val_fraction": self.val_fraction, "sha256": self.sha256}
        return {"model_config": self.model.to_json(), "vocab": self.vocab.to_json() if self.vocab else None,
                "corpus": corpus, "batch_size": self.batch_size, "seq_len": self.seq_len, "dtype": self.dtype}

    @classmethod
    def from_json(cls, data: dict) -> "LanguageModelSpec":
        """Run formats 1 and 2 store the same layout."""
        corpus = data["corpus"]
        return cls(corpus=CorpusSource.from_json(corpus),
                   model=CharLMConfig.from_json(data["model_config"]), val_fraction=corpus["val_fraction"],
                   batch_size=data["batch_size"], seq_len=data["seq_len"], dtype=data.get("dtype", "float32"),
                   vocab=CharVocab.from_json(data["vocab"]), sha256=corpus["sha256"])

    def build_model(self, rng=None) -> CharLM:
        return CharLM(self.model, dtype=self.dtype, rng=rng)

    def check_fits(self, stored: dict) -> None:
        """The sizes the config names are those of the stored decoder, embedding and layers (checked before
        a model is built, so that a hostile meta.json cannot make rnnkit allocate a huge one)."""
        config = self.model
        if self.vocab is None or len(self.vocab) != config.vocab_size:
            raise CheckpointError(f"vocabulary of {len(self.vocab or [])} characters, model expects "
                                  f"{config.vocab_size}")
        shapes = {name: getattr(value, "shape", None) for name, value in stored.items()}
        fits = (shapes.get("decoder.weight") == (config.vocab_size, config.hidden_size)
                and f"rnn.weight_hh_l{config.num_layers - 1}" in shapes
                and f"rnn.weight_hh_l{config.num_layers}" not in shapes
                and (not config.embedding_dim
                     or shapes.get("embedding.weight") == (config.vocab_size, config.embedding_dim)))
        if not fits:
            raise CheckpointError(
                f"the model config in meta.json ({config.num_layers} layer(s) of {config.hidden_size}, "
                f"{config.vocab_size} characters, embedding {config.embedding_dim}) does not fit the stored "
                "tensors: the checkpoint is damaged or mixes two models")


Spec = LanguageModelSpec


def as_state_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


class LanguageModelTask:
    unit = "char"

    def __init__(self, model: CharLM, vocab: CharVocab, train_ids: np.ndarray, val_ids: np.ndarray,
                 batch_size: int, seq_len: int, sample_length: int = 300,
                 sample_temperature: float = SAMPLE_TEMPERATURE):
        self.model, self.vocab = model, vocab
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
        """Mean loss per character over the whole validation text, state carried across windows."""
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
        return {"val_loss": val_loss, "val_bpc": val_loss / math.log(2)}

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


def prepare(spec: LanguageModelSpec) -> tuple[LanguageModelSpec, int]:
    """The spec with the corpus's vocabulary and SHA-256 and the model's vocabulary size, read in one
    pass over the corpus; and the corpus's length in characters."""
    vocab, length, sha256 = scan_corpus(spec.corpus)
    return replace(spec, vocab=vocab, sha256=sha256, model=replace(spec.model, vocab_size=len(vocab))), length


def train(spec: LanguageModelSpec, config: TrainConfig, run_dir: Path, progress: bool = True,
          echo=print) -> runs.TrainResult:
    """A new run: read the corpus (``prepare``), build the model (seeded by ``config.seed``) and train it
    into ``run_dir``."""
    with runs.new_run_dir(run_dir) as run_dir:
        spec, length = prepare(spec)
        ids = encode_corpus(spec.corpus, spec.vocab, length, run_dir)
        task = training_task(spec, spec.build_model(rng=config.seed), ids)
        return runs.fit(task, spec, config, run_dir, progress=progress, echo=echo)


def resume(run_dir: Path, changes: dict | None = None, files: list[str] | None = None,
           progress: bool = True, echo=print) -> runs.TrainResult:
    """Continue the run in ``run_dir`` exactly where it stopped; ``changes`` of the resumable training
    options (``runs.RESUMABLE``); ``files``: the same corpus, moved (checked by its SHA-256)."""
    with runs.resumed_run_dir(run_dir) as run_dir:
        return _resume(run_dir, changes or {}, files, progress, echo)


def _resume(run_dir: Path, changes: dict, files: list[str] | None, progress: bool, echo) -> runs.TrainResult:
    tensors, spec, trainer = runs.read_run(run_dir, "last", TASK)
    model = runs.fresh_model(tensors, spec, run_dir)
    if files:
        spec = replace(spec, corpus=CorpusSource.from_paths(files, spec.corpus.encoding, spec.corpus.column))
    config = runs.resumed_config(trainer, changes, run_dir)
    for path in spec.corpus.files:
        runs.check_same_file(path, None, "files")
    _, length, sha256 = scan_corpus(spec.corpus)
    if sha256 != spec.sha256:
        raise ConfigError(f"the corpus {spec.corpus.describe()} is not the text the run started "
                          "with (its SHA-256 differs): resume needs the same text")
    ids = encode_corpus(spec.corpus, spec.vocab, length, Path(run_dir))
    return runs.fit(training_task(spec, model, ids), spec, config, Path(run_dir), resume=True,
                    new_lr=changes.get("lr"), progress=progress, echo=echo)


def training_task(spec: LanguageModelSpec, model: CharLM, ids: np.ndarray) -> "LanguageModelTask":
    train_ids, val_ids = split_train_val(ids, spec.val_fraction)
    return LanguageModelTask(model, spec.vocab, train_ids, val_ids, spec.batch_size, spec.seq_len)


def load_run(path, which: str = "best") -> runs.TrainedRun:
    """A trained character model (``.model``), its spec (``.spec.vocab``) and trainer state."""
    return runs.load_run(path, which, TASK)


def sample(run: runs.TrainedRun, length: int, prime: str = "", temperature: float = 1.0, top_k: int = 0,
           greedy: bool = False, rng=None) -> Iterator[str]:
    """``length`` characters written by the run's model after reading ``prime``, one at a time."""
    return generate(run.model, run.spec.vocab, length, prime, temperature, top_k, greedy, rng)
