"""rnnkit/data/piano_roll.py: the JSON reader, pitches outside the keyboard, padding, the PNG."""

import json

import numpy as np
import pytest

from rnnkit.data.piano_roll import (NUM_KEYS, frames_to_roll, pad_rolls, pitch_name, plot_piano_roll, read_roll_json,
                                    roll_to_frames, split_rolls)
from rnnkit.errors import ConfigError, DataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PIECE = [[60, 64, 67], [60, 64, 67], [], [59, 62, 67, 74]]


def write_json(tmp_path, data, name="rolls.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_frames_to_roll_sets_key_pitch_minus_21_and_inverts():
    roll, changed = frames_to_roll(PIECE)
    assert roll.shape == (4, NUM_KEYS) and roll.dtype == bool and changed == 0
    assert np.flatnonzero(roll[0]).tolist() == [39, 43, 46]              # C4 E4 G4
    assert not roll[2].any()                                              # silence
    assert roll_to_frames(roll) == PIECE


def test_pitch_names_follow_scientific_pitch_notation():
    assert [pitch_name(p) for p in (21, 60, 61, 108)] == ["A0", "C4", "C#4", "C8"]


@pytest.mark.parametrize("out_of_range, keys", [("drop", [39]), ("fold", [39, 108 - 21])])
def test_pitches_outside_the_keyboard_are_dropped_or_folded_and_counted(out_of_range, keys):
    roll, changed = frames_to_roll([[60, 120], [60]], out_of_range)      # 120 (C9) folds to 108 (C8)
    assert changed == 1
    assert np.flatnonzero(roll[0]).tolist() == keys


def test_a_pitch_outside_the_keyboard_is_a_one_line_error_by_default():
    with pytest.raises(DataError, match=r"piece, frame 1: pitch 12 \(C0\) is outside the 88 piano keys") as error:
        frames_to_roll([[60], [12]])
    assert "\n" not in str(error.value)


def test_folding_a_low_pitch_moves_it_up_by_octaves():
    roll, changed = frames_to_roll([[12, 60]], "fold")                   # C0 -> C1 = 24
    assert changed == 1 and np.flatnonzero(roll[0]).tolist() == [24 - 21, 39]


@pytest.mark.parametrize("frames, message", [
    ([], "the piece is empty"),
    ([[], []], "the piece is empty"),
    ([[60], [61.5]], r"frame 1: expected a MIDI pitch \(an integer 0-127\), got 61.5"),
    ([[60], [True]], "got True"),
    ([[60], [128]], "got 128"),
    ([[60], 61], "frame 1: expected a list of MIDI pitches, got 61"),
    ("60 64", "expected a list of frames"),
])
def test_bad_pieces_are_one_line_data_errors(frames, message):
    with pytest.raises(DataError, match=message) as error:
        frames_to_roll(frames)
    assert "\n" not in str(error.value)


def test_unknown_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="`out_of_range` must be one of error, drop, fold"):
        frames_to_roll(PIECE, "clip")


def test_read_roll_json_reads_every_split_and_names_the_bad_piece(tmp_path):
    splits = read_roll_json(write_json(tmp_path, {"train": [PIECE, PIECE[:2]], "test": [PIECE]}))
    assert [len(splits["train"]), len(splits["test"])] == [2, 1]
    assert splits.changed_notes == 0
    with pytest.raises(DataError, match="has no `valid` split: it holds train, test"):
        splits["valid"]
    bad = write_json(tmp_path, {"train": [PIECE, [[60], [200]]]}, "bad.json")
    with pytest.raises(DataError, match=r"bad.json: train piece 1, frame 1: .* got 200"):
        read_roll_json(bad)


@pytest.mark.parametrize("data, message", [
    ([PIECE], "expected a JSON object with a \"train\" list"),
    ({"valid": [PIECE]}, "expected a JSON object with a \"train\" list"),
    ({"train": [PIECE], "dev": [PIECE]}, r"unknown keys \['dev'\]"),
    ({"train": []}, "\"train\" must be a non-empty list of pieces"),
    ({"train": [PIECE, []]}, "train piece 1: the piece is empty"),
])
def test_read_roll_json_rejects_other_layouts(tmp_path, data, message):
    with pytest.raises(DataError, match=message):
        read_roll_json(write_json(tmp_path, data))


def test_read_roll_json_rejects_missing_and_non_json_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_roll_json(tmp_path / "none.json")
    (tmp_path / "x.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(DataError, match="is not UTF-8 JSON"):
        read_roll_json(tmp_path / "x.json")


def test_the_shared_jsb_chorales_have_the_official_split(data_dir):
    splits = read_roll_json(data_dir / "jsb_chorales" / "jsb_chorales_quarter.json")
    sizes = {name: (len(rolls), sum(len(roll) for roll in rolls)) for name, rolls in splits.splits.items()}
    assert sizes == {"train": (229, 13807), "valid": (76, 4602), "test": (77, 4725)}
    assert splits.changed_notes == 0
    used = np.flatnonzero(np.concatenate(splits["train"] + splits["valid"] + splits["test"]).any(axis=0)) + 21
    assert used.min() >= 43 and used.max() <= 96                    # as its README says
    assert max(roll.sum(axis=1).max() for roll in splits["train"]) <= 4   # four voices at most


def test_pad_rolls_pads_with_silence_and_keeps_lengths():
    short, _ = frames_to_roll(PIECE[:2])
    long, _ = frames_to_roll(PIECE)
    frames, lengths = pad_rolls([short, long], np.float64)
    assert frames.shape == (4, 2, NUM_KEYS) and frames.dtype == np.float64
    assert lengths.tolist() == [2, 4]
    assert not frames[2:, 0].any() and np.array_equal(frames[:, 1], long)
    with pytest.raises(DataError, match="`rolls` is empty"):
        pad_rolls([])


def test_split_rolls_keeps_every_piece_once():
    rolls = [frames_to_roll([[60 + i]])[0] for i in range(10)]
    parts = split_rolls(rolls, 0.2, 0.1, np.random.default_rng(0))
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [7, 2, 1]
    firsts = sorted(int(np.flatnonzero(r[0])[0]) for part in parts.values() for r in part)
    assert firsts == list(range(39, 49))
    with pytest.raises(DataError, match="leave none to train on"):
        split_rolls(rolls[:2], 0.5, 0.4, np.random.default_rng(0))


def test_plot_piano_roll_writes_a_png_showing_the_pitches_used(tmp_path):
    roll, _ = frames_to_roll([[48, 60, 64, 67]] * 4 + [[50, 62, 65, 69]] * 4)
    path = tmp_path / "roll.png"
    figure = plot_piano_roll(roll, path, "test", primer_frames=4)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in tmp_path.iterdir()] == ["roll.png"]          # no temporary file left
    axes = figure.axes[0]
    low, high = axes.get_ylim()
    assert low == 48 - 2 - 0.5 and high == 69 + 2 + 0.5                   # the pitches used, a tone of margin
    assert [t.get_text() for t in axes.get_yticklabels()] == ["C3", "C4"]
    assert axes.lines[0].get_xdata()[0] == 4                              # the end of the primer
