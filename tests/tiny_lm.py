"""A tiny corpus and a tiny character model, trained through the Python API (``rnnkit.tasks.language_model``).

Library tests use these; ``tiny_runs`` (for test_cli_* files only) trains the same model through the
command line.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.data.corpus import CorpusSource
from rnnkit.models.char_lm import CharLMConfig
from rnnkit.tasks import language_model
from rnnkit.tasks.language_model import LanguageModelSpec
from rnnkit.tasks.runs import TrainResult
from rnnkit.training.config import TrainConfig
from rnnkit.training.metrics_log import read_metrics

TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n" * 20


def write_corpus(directory: Path, text: str = TEXT, name: str = "corpus.txt") -> Path:
    path = Path(directory) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tiny_spec(*corpus_files: Path, **options) -> LanguageModelSpec:
    """A model small enough that one update takes about a millisecond (as tiny_runs.TINY_MODEL)."""
    model = CharLMConfig(vocab_size=1, hidden_size=8, num_layers=1, embedding_dim=4)
    return LanguageModelSpec(CorpusSource.from_paths(corpus_files), model, **{"batch_size": 2, "seq_len": 8,
                                                                              **options})


def tiny_config(**options) -> TrainConfig:
    return TrainConfig(**{"eval_every": 5, "checkpoint_every": 5, "sample_every": 0, **options})


def quiet(_message: str) -> None:
    """An ``echo`` that prints nothing."""


def train_tiny(corpus: Path, run: Path, spec_options: dict | None = None, **options) -> TrainResult:
    """``language_model.train`` of the tiny model on ``corpus`` into ``run``; ``options`` of TrainConfig."""
    return language_model.train(tiny_spec(corpus, **(spec_options or {})), tiny_config(**options), run,
                                progress=False, echo=quiet)


def train_losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["train_loss"] for r in read_metrics(run_dir) if "train_loss" in r}


def val_losses(run_dir: Path) -> dict[int, float]:
    return {r["step"]: r["val_loss"] for r in read_metrics(run_dir) if "val_loss" in r}
