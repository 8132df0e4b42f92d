"""rnnkit/tasks/runs.py: what every task shares (run directories, resume rules, loading runs, results)."""

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError
from rnnkit.tasks import classification, language_model, runs
from rnnkit.tasks.language_model import LanguageModelSpec
from rnnkit.training.checkpoint import load_checkpoint, read_marks, save_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.metrics_log import read_metrics
from tiny_lm import quiet, tiny_config, tiny_spec, train_tiny, write_corpus


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """A tiny language-model run of 5 updates (validated at step 5), shared read-only."""
    root = tmp_path_factory.mktemp("runs")
    result = train_tiny(write_corpus(root), root / "run", max_steps=5)
    assert result.step == 5
    return root / "run"


# -- resumed_config ------------------------------------------------------------------------


def test_the_resumable_options_are_the_budget_the_rate_and_the_divergence_handling():
    assert runs.RESUMABLE == ("epochs", "max_steps", "max_minutes", "lr", "clip_norm", "on_nan")


def test_resumed_config_refuses_options_a_resumed_run_keeps_naming_them_in_backticks():
    saved = TrainConfig().to_json()
    with pytest.raises(ConfigError) as error:
        runs.resumed_config({"config": saved}, {"seed": 3, "optimizer": "sgd", "max_steps": 9}, "RUN")
    message = str(error.value)
    assert "so `optimizer`, `seed` cannot change" in message
    assert "only `epochs`, `max_steps`, `max_minutes`, `lr`, `clip_norm`, `on_nan` can" in message
    assert "`max_steps` cannot" not in message


def test_resumed_config_applies_the_resumable_changes_and_keeps_the_rest():
    saved = TrainConfig(seed=4, lr=0.01, max_steps=10, optimizer="sgd").to_json()
    changes = {"epochs": 3, "max_steps": 20, "max_minutes": 1.5, "lr": 0.002, "clip_norm": 1.0, "on_nan": "reduce-lr"}
    config = runs.resumed_config({"config": saved}, changes, "RUN")
    assert config == replace(TrainConfig(**saved), **changes)
    assert config.seed == 4 and config.optimizer == "sgd"


def test_resumed_config_takes_none_as_unchanged_even_for_options_it_keeps():
    saved = TrainConfig(seed=4, max_steps=10).to_json()
    assert runs.resumed_config({"config": saved}, {"seed": None, "max_steps": None, "lr": None}, "RUN") == TrainConfig(**saved)


def test_resumed_config_checks_the_changes_as_a_new_config_would():
    with pytest.raises(ConfigError, match="`lr` must be positive"):
        runs.resumed_config({"config": TrainConfig().to_json()}, {"lr": -1.0}, "RUN")


def test_resumed_config_of_damaged_saved_options_is_a_checkpoint_error():
    for trainer in ({"config": {"epochs": 3, "warp_speed": 9}}, {"config": {"epochs": "3"}}, {}):
        with pytest.raises(CheckpointError, match="RUN: the checkpoint's training options are damaged"):
            runs.resumed_config(trainer, {}, "RUN")


# -- run directories -------------------------------------------------------------------------


def test_check_new_run_dir_refuses_a_directory_that_holds_a_run(lm_run):
    with pytest.raises(ConfigError, match=re.escape(f"{lm_run} already holds a run: resume it, or pick another "
                                                    "`run_dir`")):
        runs.check_new_run_dir(lm_run)


def test_check_new_run_dir_accepts_a_new_or_empty_directory(tmp_path):
    assert runs.check_new_run_dir(tmp_path / "new") == tmp_path / "new"
    assert runs.check_new_run_dir(str(tmp_path)) == tmp_path
    assert not (tmp_path / "new").exists()          # checking creates nothing


def test_a_failed_start_removes_the_run_directory_it_created_but_not_an_empty_one_that_was_there(tmp_path):
    created, existing = tmp_path / "created", tmp_path / "existing"
    existing.mkdir()
    for run_dir in (created, existing):
        with pytest.raises(RuntimeError):
            with runs.new_run_dir(run_dir):
                assert run_dir.is_dir()
                raise RuntimeError("setup failed")
    assert not created.exists()
    assert existing.is_dir()


def test_a_folder_that_holds_other_files_is_refused_as_a_run_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    for run_dir in (tmp_path, Path("/")):
        with pytest.raises(ConfigError, match=r"is a folder that holds other files \(.*\): a run directory must be "
                                              "new or empty; pick another `run_dir`"):
            runs.check_new_run_dir(run_dir)
    with pytest.raises(ConfigError, match="empty path"):
        runs.check_new_run_dir("")
    assert (tmp_path / "notes.txt").read_text() == "mine" and list(tmp_path.iterdir()) == [tmp_path / "notes.txt"]


def test_a_run_that_diverged_before_its_first_checkpoint_is_removed_and_may_start_again(tmp_path):
    corpus, run = write_corpus(tmp_path), tmp_path / "run"
    with pytest.raises(RnnkitError, match="no checkpoint was saved yet: start again"):
        train_tiny(corpus, run, max_steps=3, lr=1e38, optimizer="sgd")
    assert not run.exists()
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "train_loss": 9.0}\n')    # a leftover of a run like that
    assert train_tiny(corpus, run, max_steps=2).step == 2
    assert [r["step"] for r in read_metrics(run) if "train_loss" in r] == [1, 2]
    assert read_metrics(run)[0]["train_loss"] != 9.0


def test_training_into_a_run_directory_is_refused_before_reading_anything(lm_run, tmp_path):
    with pytest.raises(ConfigError, match="already holds a run"):
        train_tiny(tmp_path / "no-such-corpus.txt", lm_run, max_steps=5)


def test_default_run_dir_is_under_runs_with_the_name_and_time():
    assert re.fullmatch(r"runs/corpus-\d{8}-\d{6}", runs.default_run_dir("corpus").as_posix())


# -- read_run, load_run ----------------------------------------------------------------------


def test_read_run_gives_tensors_the_task_spec_and_the_trainer_state(lm_run):
    tensors, spec, trainer = runs.read_run(lm_run, "last", "char-lm")
    assert isinstance(spec, LanguageModelSpec) and spec.batch_size == 2 and spec.seq_len == 8
    assert trainer["step"] == 5 and trainer["config"]["max_steps"] == 5
    assert set(tensors["model"]) == set(spec.build_model().parameters())


def test_load_run_gives_an_eval_mode_model_with_its_spec_trainer_and_config(lm_run):
    run = runs.load_run(lm_run)
    assert run.path == lm_run and not run.model.training
    assert run.config == tiny_config(max_steps=5)
    _, stored = load_checkpoint(lm_run, "best")
    assert run.trainer == stored["trainer"]
    np.testing.assert_array_equal(run.model.parameters()["decoder.weight"],
                                  load_checkpoint(lm_run, "best")[0]["model"]["decoder.weight"])


@pytest.mark.parametrize("task", ["classify", "forecast"])
def test_load_run_refuses_a_run_of_another_task(lm_run, task):
    with pytest.raises(CheckpointError, match=f"holds a 'char-lm' run, not a '{task}' run: "
                                              "use the command that trained it"):
        runs.load_run(lm_run, task=task)


def test_a_task_loader_refuses_a_run_of_another_task(lm_run):
    with pytest.raises(CheckpointError, match="not a 'classify' run"):
        classification.load_run(lm_run)
    assert isinstance(language_model.load_run(lm_run).spec, LanguageModelSpec)


def test_load_run_of_best_falls_back_to_last_when_no_validation_could_score(tmp_path):
    run_dir = tmp_path / "run"
    result = train_tiny(write_corpus(tmp_path), run_dir, {"val_fraction": 0.0}, max_steps=3)   # no text to validate
    assert result.best_score is None and "best" not in read_marks(run_dir)
    run = runs.load_run(run_dir)
    assert run.trainer["step"] == 3
    assert run.source == f"{run_dir / 'checkpoints' / 'step-00000003'} (the last: no validation marked a best one)"


def test_load_run_says_which_checkpoint_it_loaded(lm_run):
    assert runs.load_run(lm_run).source.startswith(f"{lm_run / 'checkpoints' / 'step-00000005'} (the best: val_loss ")
    assert runs.load_run(lm_run, "last").source == f"{lm_run / 'checkpoints' / 'step-00000005'} (the last)"
    folder = lm_run / "checkpoints" / "step-00000005"
    assert runs.load_run(folder).source == str(folder)


def test_trained_run_config_of_damaged_options_is_a_checkpoint_error(lm_run):
    run = runs.load_run(lm_run)
    run.trainer = {**run.trainer, "config": {"warp_speed": 9}}
    with pytest.raises(CheckpointError, match="training options are damaged"):
        run.config


def test_fresh_model_refuses_a_spec_the_stored_tensors_do_not_fit(lm_run):
    tensors, spec, _ = runs.read_run(lm_run)
    bigger = replace(spec, model=replace(spec.model, hidden_size=16))
    with pytest.raises(CheckpointError, match="does not fit the stored tensors"):
        runs.fresh_model(tensors, bigger, lm_run)


# -- load_ensemble ---------------------------------------------------------------------------


def shared_batching(spec: LanguageModelSpec) -> dict:
    return {"seq_len": spec.seq_len, "batch_size": spec.batch_size, "dtype": spec.dtype}


def test_load_ensemble_loads_runs_that_share_what_it_needs(lm_run):
    members = runs.load_ensemble([lm_run, lm_run], "best", "char-lm", shared_batching, "the same batching")
    assert len(members) == 2 and all(isinstance(run.spec, LanguageModelSpec) for run in members)


def test_load_ensemble_names_what_differs_and_what_it_needs(lm_run, tmp_path):
    other = tmp_path / "other"
    train_tiny(write_corpus(tmp_path), other, spec_options={"seq_len": 6, "batch_size": 3}, max_steps=2)
    with pytest.raises(ConfigError, match=re.escape(f"{other} and {lm_run} differ in seq_len, batch_size: "
                                                    "an ensemble needs the same batching")):
        runs.load_ensemble([lm_run, other], "best", "char-lm", shared_batching, "the same batching")


def test_load_ensemble_of_no_runs_or_of_another_task_is_refused(lm_run):
    with pytest.raises(ConfigError, match="at least one run"):
        runs.load_ensemble([], "best", "char-lm", shared_batching, "")
    with pytest.raises(CheckpointError, match="not a 'classify' run"):
        runs.load_ensemble([lm_run], "best", "classify", shared_batching, "")


# -- fit and results -------------------------------------------------------------------------


def test_fit_reports_how_the_run_ended_and_draws_the_curves(tmp_path):
    lines = []
    result = language_model.train(tiny_spec(write_corpus(tmp_path)), tiny_config(max_steps=10), tmp_path / "run",
                                  progress=False, echo=lines.append)
    assert result == runs.TrainResult(tmp_path / "run", "max steps", 10, "val_loss", result.best_score)
    assert isinstance(result.best_score, float)
    assert lines == [f"run directory: {tmp_path / 'run'}"]
    assert (tmp_path / "run" / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_a_run_that_ends_before_its_first_validation_validates_its_final_model_and_draws_curves(tmp_path):
    result = train_tiny(write_corpus(tmp_path), tmp_path / "run", max_steps=2)      # validation every 5 updates
    assert result.stop_reason == "max steps" and result.best_score is not None
    assert read_marks(tmp_path / "run") == {"last": "step-00000002", "best": "step-00000002"}
    assert (tmp_path / "run" / "curves.png").exists()


def test_fit_without_a_validation_that_scores_draws_no_curves(tmp_path):
    result = train_tiny(write_corpus(tmp_path), tmp_path / "run", {"val_fraction": 0.0}, max_steps=2)
    assert result.best_score is None and result.stop_reason == "max steps"
    assert not (tmp_path / "run" / "curves.png").exists()


def test_write_results_merges_keys_into_results_json(tmp_path):
    runs.write_results(tmp_path, "sst2-dev", {"accuracy": 0.5})
    runs.write_results(tmp_path, "sst2-test", {"accuracy": 0.75, "label": "正"})
    runs.write_results(tmp_path, "sst2-dev", {"accuracy": 0.625})
    results = json.loads((tmp_path / runs.RESULTS_FILE).read_text(encoding="utf-8"))
    assert results == {"sst2-dev": {"accuracy": 0.625}, "sst2-test": {"accuracy": 0.75, "label": "正"}}
    assert "正" in (tmp_path / runs.RESULTS_FILE).read_text(encoding="utf-8")


@pytest.mark.parametrize("content, kind", [("{broken", "not JSON"), ("[1, 2]", "a JSON list"),
                                           ('{"a": 1}', "an object whose entries are not all objects")])
def test_write_results_refuses_a_results_file_rnnkit_did_not_write(tmp_path, content, kind):
    (tmp_path / runs.RESULTS_FILE).write_text(content)
    with pytest.raises(DataError, match=f"results.json is not a results file of rnnkit \\({kind}\\): move it away"):
        runs.write_results(tmp_path, "k", {"x": 1})
    assert (tmp_path / runs.RESULTS_FILE).read_text() == content


def test_report_dir_is_out_or_the_run_and_an_ensemble_needs_out(tmp_path):
    one, two = tmp_path / "seeds" / "seed-0", tmp_path / "seeds" / "seed-1"
    assert runs.report_dir([one], tmp_path / "out") == tmp_path / "out"
    assert runs.report_dir([one], None) == one
    assert runs.report_dir([one / "checkpoints" / "step-00000005"], None) == one
    assert runs.report_dir([one, two], tmp_path / "out") == tmp_path / "out"
    with pytest.raises(ConfigError, match="an ensemble of 2 runs writes its figures and results.json only into a "
                                          "folder you name: give `out`"):
        runs.report_dir([one, two], None)


# -- damaged trainer state (valid checksums): refused with a CheckpointError, never a crash --------


def resaved(run_dir, tmp_path, change):
    """A copy of the run whose checkpoints were rewritten (checksums valid) after ``change(meta)``."""
    copy = shutil.copytree(run_dir, tmp_path / "damaged")
    tensors, meta = load_checkpoint(copy)
    change(meta)
    for name in set(read_marks(copy).values()):
        save_checkpoint(copy, name, tensors, meta)
    return copy


DAMAGED_TRAINER = {
    "no config": lambda meta: meta["trainer"].pop("config"),
    "empty trainer": lambda meta: meta.update(trainer={}),
    "negative step": lambda meta: meta["trainer"].update(step=-40),
    "negative optimizer step count": lambda meta: meta["trainer"]["optimizer"].update(step_count=-39721),
}


@pytest.mark.parametrize("change", DAMAGED_TRAINER.values(), ids=DAMAGED_TRAINER.keys())
def test_resuming_a_damaged_trainer_state_is_a_checkpoint_error(lm_run, tmp_path, change):
    damaged = resaved(lm_run, tmp_path, change)
    with pytest.raises(CheckpointError):
        language_model.resume(damaged, {"max_steps": 7, "max_minutes": 0.05}, progress=False, echo=quiet)
