"""rnnkit/training/run_meta.py: a checkpoint's meta.json in run format 2, and format 1 read as format 2."""

import copy
import shutil
from pathlib import Path

import pytest

from rnnkit.errors import CheckpointError
from rnnkit.tasks import spec_class
from rnnkit.tasks.classification import ClassifySpec
from rnnkit.tasks.language_model import LanguageModelSpec
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.run_meta import RUN_FORMAT, TRAINER_KEYS_V1, RunRecord, checkpoint_meta, upgrade_meta
from tiny_lm import TEXT, train_tiny, write_corpus

FIXTURES = Path(__file__).parent / "fixtures" / "runs_v1"

TRAINER_V1 = {
    "train_config": {"lr": 0.05, "max_steps": 30, "seed": 3},
    "step": 30,
    "optimizer": {"type": "Adam", "lr": 0.05, "step_count": 30},
    "task_state": {"batches": {"batch": 30, "epoch": 0}},
    "rng": {"bit_generator": "PCG64", "state": {"state": 1, "inc": 3}},
    "schedule": None,
    "best_score": 2.65,
    "evals_without_improvement": 0,
    "log_window": {"loss": 0.0, "updates": 0, "count": 0, "seconds": 0.0},
}
SPEC_V1 = {
    "model_config": {"cell": "lstm", "hidden_size": 8, "num_layers": 1, "vocab_size": 33},
    "vocab": ["\n", " ", "a"],
    "corpus": {"files": ["/data/corpus.txt"], "encoding": "utf-8", "column": None, "val_fraction": 0.1,
               "sha256": "0e65"},
    "batch_size": 4,
    "seq_len": 16,
    "dtype": "float32",
}


def test_format_1_meta_is_split_into_task_spec_and_trainer():
    flat = {"task": "char-lm", **SPEC_V1, **TRAINER_V1}
    upgraded = upgrade_meta(copy.deepcopy(flat))
    assert upgraded == {
        "run_format": RUN_FORMAT,
        "task": "char-lm",
        "spec": SPEC_V1,
        "trainer": {"config" if key == "train_config" else key: value for key, value in TRAINER_V1.items()},
    }
    assert "train_config" not in upgraded["trainer"] and upgraded["trainer"]["config"] == TRAINER_V1["train_config"]
    assert set(TRAINER_V1) == set(TRAINER_KEYS_V1)    # every key the trainer of format 1 wrote


def test_format_1_meta_without_some_trainer_keys_leaves_them_out():
    """Early format-1 runs had no log_window or evals_without_improvement: absent, not invented."""
    flat = {"task": "classify", "labels": ["negative", "positive"], "train_config": {}, "step": 3}
    assert upgrade_meta(flat) == {"run_format": 2, "task": "classify", "spec": {"labels": ["negative", "positive"]},
                                  "trainer": {"config": {}, "step": 3}}


def test_explicit_format_1_is_upgraded_too():
    flat = {"run_format": 1, "task": "forecast", "look_back": 12, "step": 4}
    upgraded = upgrade_meta(flat)
    assert upgraded["run_format"] == 2 and upgraded["task"] == "forecast"
    assert upgraded["spec"]["look_back"] == 12 and upgraded["trainer"] == {"step": 4}


def test_format_2_meta_is_kept_as_it_is():
    meta = checkpoint_meta(RunRecord("char-lm", {"seq_len": 8}), {"config": {}, "step": 5})
    assert meta == {"run_format": 2, "task": "char-lm", "spec": {"seq_len": 8}, "trainer": {"config": {}, "step": 5}}
    assert upgrade_meta(copy.deepcopy(meta)) == meta


@pytest.mark.parametrize("damaged", [{"run_format": 2, "task": "char-lm", "trainer": {}},
                                     {"run_format": 2, "task": "char-lm", "spec": {}},
                                     {"run_format": 2, "task": "char-lm", "spec": [], "trainer": {}},
                                     {"run_format": 2, "task": "char-lm", "spec": {}, "trainer": "step 5"}],
                         ids=["no spec", "no trainer", "spec not an object", "trainer not an object"])
def test_format_2_meta_without_its_parts_is_damaged(damaged):
    with pytest.raises(CheckpointError, match="lacks its spec or trainer part"):
        upgrade_meta(damaged)


@pytest.mark.parametrize("version", [3, 99, "2", None])
def test_an_unknown_or_newer_run_format_is_refused(version):
    with pytest.raises(CheckpointError, match=rf"run format {version!r}; this rnnkit reads formats 1 to 2: "
                                              "use the rnnkit release that wrote it"):
        upgrade_meta({"run_format": version, "task": "char-lm", "spec": {}, "trainer": {}})


def test_a_new_run_writes_format_2(tmp_path):
    train_tiny(write_corpus(tmp_path), tmp_path / "run", max_steps=5)
    _, meta = load_checkpoint(tmp_path / "run")
    assert set(meta) == {"run_format", "task", "spec", "trainer"}
    assert meta["run_format"] == RUN_FORMAT and meta["task"] == "char-lm"
    assert meta["trainer"]["step"] == 5 and meta["trainer"]["config"]["max_steps"] == 5
    assert not set(TRAINER_KEYS_V1) & set(meta["spec"])     # the parts never mix
    assert meta["spec"]["vocab"] == sorted(set(TEXT))
    spec = LanguageModelSpec.from_json(meta["spec"])
    assert spec.to_json() == meta["spec"]


@pytest.mark.parametrize("run, spec_type", [("char-lm", LanguageModelSpec), ("classify", ClassifySpec)])
def test_format_1_checkpoints_of_the_old_release_upgrade_to_their_task_spec(tmp_path, run, spec_type):
    copied = shutil.copytree(FIXTURES / run, tmp_path / run)
    _, flat = load_checkpoint(copied)
    assert "run_format" not in flat and "train_config" in flat
    meta = upgrade_meta(flat)
    assert meta["task"] == run
    spec = spec_class(run).from_json(meta["spec"])
    assert isinstance(spec, spec_type)
    assert meta["trainer"]["config"] == flat["train_config"] and meta["trainer"]["step"] == flat["step"]
