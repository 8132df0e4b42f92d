"""Character-level language modelling as a training task (see ``rnnkit.training.loop``).

Training reads the corpus as ``batch_size`` contiguous lanes in windows of
``seq_len`` characters and carries the hidden state from one window to the next
(truncated BPTT, as char-rnn); each epoch starts from a zero state. The loss is
the mean cross-entropy per character, in nats; bits per character = nats / ln 2.
"""

from __future__ import annotations

import math

import numpy as np

from rnnkit.data.batches import ContiguousBatches
from rnnkit.data.vocab import CharVocab
from rnnkit.errors import CheckpointError
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.char_lm import CharLM, CharLMConfig
from rnnkit.tasks.sampling import generate
from rnnkit.training.trained import checked_model, load_trained_model

TASK = "char-lm"


def as_state_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


class LanguageModelTask:
    unit = "char"

    def __init__(self, model: CharLM, vocab: CharVocab, train_ids: np.ndarray, val_ids: np.ndarray,
                 batch_size: int, seq_len: int, sample_length: int = 300, sample_temperature: float = 0.8):
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


def load_language_model(path, which: str = "last") -> tuple[CharLM, CharVocab, dict]:
    """A trained character model, its vocabulary and its checkpoint's meta, from a run or checkpoint dir."""
    model, meta = load_trained_model(path, which, TASK, build_char_lm)
    return model, CharVocab.from_json(meta["vocab"]), meta


def model_from_checkpoint(tensors: dict, meta: dict, path) -> tuple[CharLM, CharVocab]:
    """A model of the checkpoint's config (not yet loaded) and its vocabulary, checked against the tensors."""
    return checked_model(tensors, meta, TASK, build_char_lm, path), CharVocab.from_json(meta["vocab"])


def build_char_lm(meta: dict, stored: dict) -> CharLM:
    """The model that ``meta`` describes, once its config, vocabulary and dtype agree with ``stored``."""
    config = CharLMConfig.from_json(meta.get("model_config"))
    vocab = CharVocab.from_json(meta.get("vocab"))
    dtype = meta.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype {dtype!r} is not 'float32' or 'float64'")
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"vocabulary of {len(vocab)} characters, model expects {config.vocab_size}")
    _check_config_fits(config, stored)
    return CharLM(config, dtype=dtype)


def _check_config_fits(config: CharLMConfig, stored: dict) -> None:
    """The sizes the config names are those of the stored decoder, embedding and layers."""
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
