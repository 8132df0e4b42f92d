"""`rnnkit music train | eval | generate` end to end: a JSON file of pieces and a folder of MIDI files."""

import json

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.data.midi import TICKS_PER_BEAT, roll_notes, write_midi
from rnnkit.data.piano_roll import LOWEST_PITCH, NUM_KEYS, read_roll_json
from rnnkit.training.metrics_log import read_metrics
from tiny_runs import one_line_error

mido = pytest.importorskip("mido")

FAST = ["--hidden", "8", "--epochs", "2", "--eval-every", "4", "--max-minutes", "0", "--no-progress"]


def piece(rng, frames):
    base = int(rng.integers(55, 65))
    return [[base + 2 * (t % 4), base + 7 + 2 * (t % 4)] if t % 3 else [] for t in range(frames)]


def write_pieces(path, seed=0):
    rng = np.random.default_rng(seed)
    pieces = {"train": [piece(rng, 12) for _ in range(6)], "valid": [piece(rng, 10) for _ in range(2)],
              "test": [piece(rng, 10) for _ in range(2)]}
    path.write_text(json.dumps(pieces), encoding="utf-8")
    return path


def write_midi_folder(folder, count=5, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for k in range(count):
        roll = np.zeros((10, NUM_KEYS), dtype=bool)
        for t, pitches in enumerate(piece(rng, 10)):
            roll[t, [p - LOWEST_PITCH for p in pitches]] = True
        write_midi(roll, folder / f"piece{k}.mid", frames_per_beat=2)
    return folder


def midi_notes(path, ticks_per_frame):
    """(pitch, start frame, end frame) of every note of a MIDI file, as mido reads it."""
    notes, sounding, tick = [], {}, 0
    for message in mido.MidiFile(path).tracks[0]:
        tick += message.time
        if message.type == "note_on" and message.velocity > 0:
            sounding[message.note] = tick
        elif message.type in ("note_on", "note_off"):
            notes.append((message.note, sounding.pop(message.note) // ticks_per_frame, tick // ticks_per_frame))
    return sorted(notes, key=lambda note: (note[1], note[0]))


@pytest.fixture(scope="module")
def json_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("music")
    data = write_pieces(root / "pieces.json")
    assert main(["music", "train", "--data", str(data), "--out", str(root / "run"), *FAST]) == 0
    return root / "run", data


def test_train_writes_checkpoints_curves_and_results(json_run):
    run_dir, _ = json_run
    assert (run_dir / "curves.png").read_bytes().startswith(b"\x89PNG")
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results) == {"pieces-valid", "pieces-test"}
    assert set(results["pieces-test"]) == {"lstm bernoulli", "marginal", "previous frame"}


def test_eval_prints_one_nll_line_per_method(json_run, capsys, tmp_path):
    run_dir, _ = json_run
    assert main(["music", "eval", str(run_dir), "--split", "valid", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["pieces valid lstm bernoulli", "pieces valid marginal",
                                                      "pieces valid previous frame"]
    assert all(" NLL " in line and line.endswith("nats per frame") for line in lines)
    assert "pieces-valid" in json.loads((tmp_path / "results.json").read_text())


def test_generate_writes_midi_with_the_notes_of_the_roll(json_run, capsys, tmp_path):
    run_dir, data = json_run
    out = tmp_path / "gen"
    assert main(["music", "generate", str(run_dir), "--out", str(out), "--prime", "4", "--length", "12",
                 "--seed", "3", "--temperature", "1.5"]) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines()[:2] == [f"wrote {out / 'primed.mid'}", f"wrote {out / 'primed.png'}"]
    assert (out / "primed.wav").exists() or "no WAV" in printed.err
    assert (out / "primed.png").read_bytes().startswith(b"\x89PNG")
    # the same piece through the Python API: the MIDI file holds its notes exactly, after the primer
    from rnnkit.tasks import music
    again = music.generate(music.load_run(run_dir), tmp_path / "again", length=12, temperature=1.5, prime=4, seed=3)
    roll = again.roll
    assert [line for line in printed.out.splitlines() if not line.startswith("wrote ")] == [
        f"generated frames: {again.statistics.summary()}", f"test pieces: {again.test_statistics.summary()}"]
    assert np.array_equal(roll[:4], read_roll_json(data)["test"][0][:4])
    expected = [(n.pitch, n.start, n.end) for n in roll_notes(roll)]
    assert expected and midi_notes(out / "primed.mid", TICKS_PER_BEAT) == expected


def test_a_midi_folder_trains_evaluates_and_generates(tmp_path, capsys):
    folder = write_midi_folder(tmp_path / "midi")
    run_dir = tmp_path / "run"
    assert main(["music", "train", "--data", str(folder), "--frames-per-beat", "2", "--out", str(run_dir),
                 "--output", "nade", "--nade-hidden", "6", *FAST]) == 0
    assert "midi test lstm nade: NLL" in capsys.readouterr().out
    assert main(["music", "eval", str(run_dir)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["music", "generate", str(run_dir), "--out", str(tmp_path / "gen"), "--length", "6"]) == 0
    roll_len = 6
    notes = midi_notes(tmp_path / "gen" / "sample.mid", TICKS_PER_BEAT // 2)    # two frames per beat
    assert all(0 <= start < end <= roll_len for _, start, end in notes)


def train_losses(run_dir):
    return [record["train_loss"] for record in read_metrics(run_dir) if "train_loss" in record]


def test_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    data = write_pieces(tmp_path / "pieces.json")
    train = ["music", "train", "--data", str(data), "--hidden", "8", "--batch", "2", "--eval-every", "2",
             "--no-progress", "--max-minutes", "0"]
    assert main([*train, "--out", str(tmp_path / "whole"), "--max-steps", "5"]) == 0
    assert main([*train, "--out", str(tmp_path / "cut"), "--max-steps", "2"]) == 0
    capsys.readouterr()
    resume = ["music", "train", "--resume", str(tmp_path / "cut"), "--max-steps", "5", "--no-progress"]
    assert main([*resume, "--hidden", "16"]) == 2
    assert "--hidden was given too" in one_line_error(capsys.readouterr().err)
    assert main(resume) == 0
    assert "resuming at step 2" in capsys.readouterr().err
    assert len(train_losses(tmp_path / "whole")) == 5
    assert train_losses(tmp_path / "cut") == train_losses(tmp_path / "whole")


@pytest.mark.parametrize("content, message", [("[1, 2]", "expected a JSON object"),
                                              ("{\"train\": [[[60, 200]]], \"valid\": [[[60]]]}", "200"),
                                              ("not json", "not UTF-8 JSON"),
                                              ("{\"train\": [[[60], [62]]]}", "no \"valid\" pieces")])
def test_a_bad_file_is_a_one_line_error(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["music", "train", "--data", str(path), "--out", str(tmp_path / "run"), *FAST]) == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_bad_midi_and_missing_data_are_one_line_errors(tmp_path, capsys):
    folder = tmp_path / "midi"
    folder.mkdir()
    (folder / "broken.mid").write_bytes(b"MThd not really")
    assert main(["music", "train", "--data", str(folder), "--out", str(tmp_path / "run"), *FAST]) == 2
    assert "is not a readable MIDI file" in one_line_error(capsys.readouterr().err)
    assert main(["music", "train", "--out", str(tmp_path / "run"), *FAST]) == 2
    assert "give --data" in one_line_error(capsys.readouterr().err)
    assert main(["music", "train", "--dataset", "jsb", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r"),
                 *FAST]) == 2
    assert "not found" in one_line_error(capsys.readouterr().err)


def test_library_errors_name_the_flags(json_run, tmp_path, capsys):
    run_dir, _ = json_run
    assert main(["music", "generate", str(run_dir), "--out", str(tmp_path), "--prime", "99"]) == 2
    assert "--prime 99 is longer than test piece 0" in one_line_error(capsys.readouterr().err)
    assert main(["music", "train", "--data", str(tmp_path / "x.json"), "--frames-per-beat", "7",
                 "--out", str(tmp_path / "run"), *FAST]) == 2
    assert "--frames-per-beat must divide" in one_line_error(capsys.readouterr().err)
