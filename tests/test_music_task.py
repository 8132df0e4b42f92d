"""The music task through the Python API: its spec, its data sources, training, resume, eval and generation."""

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.midi import write_midi
from rnnkit.data.piano_roll import LOWEST_PITCH, NUM_KEYS
from rnnkit.errors import CheckpointError, ConfigError, DataError
from rnnkit.models.music import MusicConfig
from rnnkit.music_stats import chord_set, roll_statistics
from rnnkit.tasks import music, spec_class
from rnnkit.tasks.music import MusicSource, MusicSpec
from rnnkit.training.metrics_log import read_metrics

TINY = MusicConfig(hidden_size=8, dropout=0.0, input_dropout=0.0)


def piece(rng, frames):
    """Two voices a fifth apart climbing by tones, a rest every third frame: MIDI pitches per frame."""
    base = int(rng.integers(55, 65))
    return [[base + 2 * (t % 4), base + 7 + 2 * (t % 4)] if t % 3 else [] for t in range(frames)]


def write_pieces(path, seed=0, test=True):
    rng = np.random.default_rng(seed)
    data = {"train": [piece(rng, 12) for _ in range(6)], "valid": [piece(rng, 10) for _ in range(2)]}
    if test:
        data["test"] = [piece(rng, 10) for _ in range(2)]
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_midi_folder(folder, count=5, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for k in range(count):
        roll = np.zeros((10, NUM_KEYS), dtype=bool)
        for t, pitches in enumerate(piece(rng, 10)):
            roll[t, [p - LOWEST_PITCH for p in pitches]] = True
        write_midi(roll, folder / f"piece{k}.mid")
    return folder


def config(**options):
    return music.train_config(**{"epochs": 2, "eval_every": 4, "max_minutes": 0.0, **options})


def test_spec_round_trips_through_json_and_the_task_registry(tmp_path):
    spec = MusicSpec(MusicSource(file=str(write_pieces(tmp_path / "p.json"))), TINY, batch_size=2)
    again = spec_class("music").from_json(json.loads(json.dumps(spec.to_json())))
    assert again == spec
    assert again.build_model(rng=0).config == TINY


def test_defaults_are_the_settings_measured_on_the_jsb_chorales():
    spec = MusicSpec(MusicSource(dataset="jsb", file="x.json"))
    model = spec.model
    assert (spec.batch_size, model.cell, model.output, model.hidden_size) == (1, "lstm", "bernoulli", 200)
    assert (model.dropout, model.input_dropout) == (0.5, 0.2)
    config = music.train_config()
    assert (config.optimizer, config.lr, config.schedule, config.patience) == ("adam", 4e-3, "plateau", 8)


@pytest.mark.parametrize("options, field", [({"out_of_range": "wrap"}, "out_of_range"),
                                            ({"frames_per_beat": 7.0}, "frames_per_beat"),
                                            ({"dataset": "bach"}, "dataset")])
def test_a_bad_source_names_its_field(options, field):
    with pytest.raises(ConfigError, match=f"`{field}`"):
        MusicSource(file="p.json", **options)


def test_the_built_in_dataset_is_read_under_the_data_dir(tmp_path):
    source = MusicSource.built_in("jsb", tmp_path)
    assert source.file == str((tmp_path / "jsb_chorales" / "jsb_chorales_quarter.json").resolve())
    assert source.moved(data_dir=tmp_path / "new").file.startswith(str((tmp_path / "new").resolve()))
    with pytest.raises(DataError, match="not found"):
        source.read()


def test_a_midi_folder_is_split_by_its_seed(tmp_path):
    source = MusicSource(file=str(write_midi_folder(tmp_path / "midi")))
    splits = source.read()
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [3, 1, 1]
    assert all(np.array_equal(a, b) for a, b in zip(source.read()["valid"], splits["valid"]))


def test_too_few_midi_files_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="at least 3"):
        MusicSource(file=str(write_midi_folder(tmp_path / "midi", count=2))).read()


def test_json_without_valid_pieces_is_a_data_error(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"train": [[[60], [62]]]}))
    with pytest.raises(DataError, match="no \"valid\" pieces"):
        music.prepare(MusicSpec(MusicSource(file=str(path))))


def test_batches_are_fixed_by_seed_and_epoch(tmp_path):
    splits = MusicSource(file=str(write_pieces(tmp_path / "p.json"))).read()
    model = MusicSpec(MusicSource(file="p.json"), TINY).build_model(rng=0)
    task = music.MusicTask(model, splits["train"], splits["valid"], batch_size=4, seed=3)
    assert [len(b) for b in task.epoch_batches(0)] == [4, 2]
    assert all(np.array_equal(a, b) for a, b in zip(task.epoch_batches(1), task.epoch_batches(1)))
    assert sorted(np.concatenate(task.epoch_batches(2))) == list(range(6))


def test_train_eval_generate(tmp_path):
    spec = MusicSpec(MusicSource(file=str(write_pieces(tmp_path / "p.json"))), TINY)
    result = music.train(spec, config(), tmp_path / "run", progress=False, echo=lambda _: None)
    assert result.step == 12 and result.best_score is not None
    run = music.load_run(tmp_path / "run")
    results = music.evaluate(run, "test", tmp_path / "run")
    assert set(results) == {"lstm bernoulli", "marginal", "previous frame"}
    assert all(np.isfinite(r["nll"]) and r["frames"] == 18 for r in results.values())
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["p-test"]["marginal"]["nll"] == results["marginal"]["nll"]
    piece_ = music.generate(run, tmp_path / "gen", length=5, prime=3, seed=1)
    assert piece_.roll.shape == (8, NUM_KEYS)
    assert np.array_equal(piece_.roll[:3], MusicSource(file=spec.data.file).read()["test"][0][:3])
    assert [p.name for p in piece_.paths[:2]] == ["primed.mid", "primed.png"]
    assert (piece_.note is None) == (len(piece_.paths) == 3)
    with pytest.raises(ConfigError, match="`prime`"):
        music.generate(run, tmp_path / "gen", prime=11)


def test_generate_describes_the_generated_frames_against_the_training_chords_and_the_test_pieces(tmp_path):
    spec = MusicSpec(MusicSource(file=str(write_pieces(tmp_path / "p.json"))), TINY)
    music.train(spec, config(), tmp_path / "run", progress=False, echo=lambda _: None)
    run = music.load_run(tmp_path / "run")
    pieces = MusicSource(file=spec.data.file).read()
    piece_ = music.generate(run, tmp_path / "gen", length=5, prime=3, seed=1)
    known = chord_set(pieces["train"])
    assert piece_.statistics == roll_statistics([piece_.roll[3:]], known)          # the primer is not counted
    assert piece_.test_statistics == roll_statistics(pieces["test"], known)
    assert piece_.statistics.frames == 5 and piece_.statistics_note is None
    Path(spec.data.file).unlink()                     # without the run's data: a piece, but nothing to compare
    alone = music.generate(run, tmp_path / "alone", length=5, seed=1)
    assert alone.statistics.known_chord_share is None and alone.test_statistics is None
    assert "no known chords" in alone.statistics_note and "not found" in alone.statistics_note


def test_resume_equals_an_uninterrupted_run(tmp_path):
    spec = MusicSpec(MusicSource(file=str(write_pieces(tmp_path / "p.json"))),
                     MusicConfig(hidden_size=8), batch_size=2)      # dropout on: its generator resumes too
    quiet = dict(progress=False, echo=lambda _: None)
    music.train(spec, config(max_steps=5), tmp_path / "whole", **quiet)
    music.train(spec, config(max_steps=2), tmp_path / "cut", **quiet)
    music.resume(tmp_path / "cut", {"max_steps": 5}, **quiet)
    losses = [[r["train_loss"] for r in read_metrics(tmp_path / name) if "train_loss" in r]
              for name in ("whole", "cut")]
    assert len(losses[0]) == 5 and losses[0] == losses[1]


def test_resume_refuses_a_changed_file(tmp_path):
    path = write_pieces(tmp_path / "p.json")
    spec = MusicSpec(MusicSource(file=str(path)), TINY)
    music.train(spec, config(max_steps=2), tmp_path / "run", progress=False, echo=lambda _: None)
    write_pieces(path, seed=1)
    with pytest.raises(ConfigError, match="SHA-256"):
        music.resume(tmp_path / "run", {"max_steps": 4}, progress=False, echo=lambda _: None)


def test_a_missing_run_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError):
        music.load_run(tmp_path / "nothing")
