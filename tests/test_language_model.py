"""rnnkit/tasks/language_model.py through its Python API: the run spec, train, resume, load_run, sample."""

import hashlib
import shutil
from dataclasses import replace

import numpy as np
import pytest

from rnnkit.data.corpus import CorpusSource
from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError
from rnnkit.models.char_lm import CharLMConfig
from rnnkit.tasks import language_model
from rnnkit.tasks.language_model import BUILT_IN_EPOCHS, LanguageModelSpec
from rnnkit.training.checkpoint import load_checkpoint, read_marks, save_checkpoint
from rnnkit.training.config import TrainConfig
from tiny_lm import TEXT, quiet, tiny_spec, train_losses, train_tiny, val_losses, write_corpus


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("language-model")
    result = train_tiny(write_corpus(root), root / "run", max_steps=10)
    return root / "run", result


def test_train_reports_the_stop_and_the_best_validation(trained):
    run_dir, result = trained
    assert (result.run_dir, result.stop_reason, result.step, result.monitor) == (run_dir, "max steps", 10, "val_loss")
    assert result.best_score == min(val_losses(run_dir).values())
    assert sorted(train_losses(run_dir)) == list(range(1, 11))


def test_train_fills_in_the_vocabulary_checksum_and_model_size(trained):
    run = language_model.load_run(trained[0])
    spec = run.spec
    assert isinstance(spec, LanguageModelSpec)
    assert spec.vocab.characters == sorted(set(TEXT))
    assert spec.model.vocab_size == len(spec.vocab)
    assert spec.sha256 == hashlib.sha256(TEXT.encode("utf-8")).hexdigest()
    assert (spec.batch_size, spec.seq_len, spec.dtype) == (2, 8, "float32")
    assert list(spec.corpus.files) == [str(trained[0].parent / "corpus.txt")]


def test_sample_writes_known_characters_after_the_prime_reproducibly(trained):
    run = language_model.load_run(trained[0])
    text = "".join(language_model.sample(run, 40, prime="the ", temperature=0.8, rng=3))
    assert len(text) == 40 and set(text) <= set(TEXT)
    assert "".join(language_model.sample(run, 40, prime="the ", temperature=0.8, rng=3)) == text
    greedy = "".join(language_model.sample(run, 20, greedy=True))
    assert greedy == "".join(language_model.sample(run, 20, greedy=True, rng=7))    # argmax needs no draws


def test_sample_checks_its_options(trained):
    run = language_model.load_run(trained[0])
    with pytest.raises(ConfigError, match="`temperature` must be positive"):
        next(language_model.sample(run, 5, temperature=0.0))
    with pytest.raises(ConfigError, match="`top_k` must be between 0"):
        next(language_model.sample(run, 5, top_k=len(run.spec.vocab) + 1))


def test_the_spec_round_trips_through_json(trained):
    spec = language_model.load_run(trained[0]).spec
    assert LanguageModelSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("options, message", [
    (dict(dtype="float16"), "`dtype` must be one of float32, float64"),
    (dict(val_fraction=1.0), "`val_fraction` must be at least 0 and below 1"),
    (dict(batch_size=0), "`batch_size` must be a positive integer"),
    (dict(seq_len=2.5), "`seq_len` must be an integer, got 2.5"),
])
def test_a_spec_with_bad_values_is_refused_naming_the_field(options, message):
    with pytest.raises(ConfigError, match=message):
        LanguageModelSpec(CorpusSource(), CharLMConfig(vocab_size=1), **options)


def test_the_built_in_corpus_gets_a_short_first_run():
    assert language_model.default_epochs(CorpusSource()) == BUILT_IN_EPOCHS
    assert language_model.default_epochs(CorpusSource(["a.txt"])) == TrainConfig().epochs


def test_a_bad_corpus_leaves_no_run_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        train_tiny(tmp_path / "missing.txt", tmp_path / "run", max_steps=2)
    assert not (tmp_path / "run").exists()


# -- resume ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run of 14 updates that the resumed runs below must repeat."""
    root = tmp_path_factory.mktemp("straight")
    train_tiny(write_corpus(root), root / "run", max_steps=14)
    return root / "run"


@pytest.fixture
def stopped(tmp_path):
    """A run stopped at step 7 of the same training, its corpus in a folder of its own."""
    corpus = write_corpus(tmp_path / "first-place")
    train_tiny(corpus, tmp_path / "run", max_steps=7)
    return tmp_path / "run", corpus


def without_final_validation_at(step: int, losses: dict[int, float]) -> dict[int, float]:
    """The validation losses of a run stopped at ``step`` and resumed, less the validation of its final model at
    ``step`` (which the run that was never stopped did not make); that one must be there."""
    assert step in losses
    return {at: loss for at, loss in losses.items() if at != step}


def test_resume_repeats_the_uninterrupted_losses_exactly(straight, stopped):
    run_dir, _ = stopped
    result = language_model.resume(run_dir, {"max_steps": 14}, progress=False, echo=quiet)
    assert (result.step, result.stop_reason) == (14, "max steps")
    assert train_losses(run_dir) == train_losses(straight)
    assert without_final_validation_at(7, val_losses(run_dir)) == val_losses(straight)


def test_resume_of_a_copy_reads_its_corpus_moved_elsewhere(straight, stopped, tmp_path):
    run_dir, corpus = stopped
    copy = shutil.copytree(run_dir, tmp_path / "elsewhere" / "run-copy")
    moved = tmp_path / "elsewhere" / "texts" / "renamed.txt"
    moved.parent.mkdir()
    shutil.move(corpus, moved)
    with pytest.raises(DataError, match=f"{corpus} does not exist"):       # where the run read it first
        language_model.resume(copy, {"max_steps": 14}, progress=False, echo=quiet)
    lines = []
    result = language_model.resume(copy, {"max_steps": 14}, files=[moved], progress=False, echo=lines.append)
    assert result.step == 14 and lines[0] == "resuming at step 7"
    assert train_losses(copy) == train_losses(straight)
    assert without_final_validation_at(7, val_losses(copy)) == val_losses(straight)
    assert list(language_model.load_run(copy).spec.corpus.files) == [str(moved)]     # where the copy reads it now


@pytest.mark.parametrize("text", [TEXT.replace("fox", "cat"), TEXT + "\n", TEXT[:-1]],
                         ids=["changed", "longer", "shorter"])
def test_resume_with_another_text_is_refused_by_its_sha256(stopped, tmp_path, text):
    run_dir, _ = stopped
    other = write_corpus(tmp_path / "other", text)
    with pytest.raises(ConfigError, match=r"is not the text the run started with \(its SHA-256 differs\)"):
        language_model.resume(run_dir, {"max_steps": 14}, files=[other], progress=False, echo=quiet)
    assert load_checkpoint(run_dir)[1]["trainer"]["step"] == 7          # nothing was trained


def test_resume_keeps_the_run_spec_and_refuses_changing_other_options(stopped):
    run_dir, _ = stopped
    with pytest.raises(ConfigError, match="`seed` cannot change"):
        language_model.resume(run_dir, {"seed": 3, "max_steps": 9}, progress=False, echo=quiet)
    result = language_model.resume(run_dir, {"max_steps": 9, "lr": 1e-4}, progress=False, echo=quiet)
    assert result.step == 9
    trainer = load_checkpoint(run_dir)[1]["trainer"]
    assert trainer["config"]["lr"] == 1e-4 and trainer["optimizer"]["lr"] == 1e-4
    assert trainer["config"]["seed"] == 0


def test_resume_of_a_run_of_another_task_is_refused(stopped, tmp_path):
    from rnnkit.tasks import classification
    with pytest.raises(CheckpointError, match="holds a 'char-lm' run, not a 'classify' run"):
        classification.resume(stopped[0], {"max_steps": 9}, progress=False, echo=quiet)


def test_a_float64_run_trains_and_samples(tmp_path):
    corpus = write_corpus(tmp_path)
    spec = replace(tiny_spec(corpus), dtype="float64")
    language_model.train(spec, TrainConfig(max_steps=2, sample_every=0), tmp_path / "run", progress=False,
                         echo=quiet)
    run = language_model.load_run(tmp_path / "run")
    assert run.model.parameters()["decoder.weight"].dtype == np.float64
    assert len("".join(language_model.sample(run, 5, rng=0))) == 5


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_a_min_cell_run_loads_and_samples(tmp_path, cell):
    corpus = write_corpus(tmp_path)
    spec = tiny_spec(corpus)
    spec = replace(spec, model=replace(spec.model, cell=cell, num_layers=2))
    language_model.train(spec, TrainConfig(max_steps=2, sample_every=0), tmp_path / "run", progress=False,
                         echo=quiet)
    run = language_model.load_run(tmp_path / "run")
    assert "rnn.weight_ih_l1" in run.model.parameters() and "rnn.weight_hh_l0" not in run.model.parameters()
    assert len("".join(language_model.sample(run, 5, rng=0))) == 5


DAMAGED_SPECS = {
    "encoding not a string": lambda spec: spec["corpus"].update(encoding={"utf": 8}),
    "encoding a list": lambda spec: spec["corpus"].update(encoding=["utf-8"]),
    "files not a list of paths": lambda spec: spec["corpus"].update(files=[3.5]),
    "column not a string": lambda spec: spec["corpus"].update(column=5),
}


@pytest.mark.parametrize("change", DAMAGED_SPECS.values(), ids=DAMAGED_SPECS.keys())
def test_a_damaged_corpus_description_is_refused_not_a_crash(trained, tmp_path, change):
    """A checkpoint (checksums valid) whose spec describes its corpus with values of the wrong kind: loading or
    resuming it raises an error a user can act on (one line on the command line), never a TypeError."""
    copy = shutil.copytree(trained[0], tmp_path / "run")
    tensors, meta = load_checkpoint(copy)
    change(meta["spec"])
    for name in set(read_marks(copy).values()):
        save_checkpoint(copy, name, tensors, meta)
    with pytest.raises(RnnkitError):
        language_model.resume(copy, {"max_steps": 12}, progress=False, echo=quiet)
