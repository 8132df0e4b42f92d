"""rnnkit/music_stats.py: notes per frame, silent and known-chord shares, pitch range, against plain counts."""

import json

import numpy as np
import pytest

from rnnkit.data.piano_roll import frames_to_roll, read_roll_json
from rnnkit.errors import DataError
from rnnkit.music_stats import chord_set, roll_statistics


def roll(frames):
    """A roll that may hold silent frames (frames_to_roll refuses only an all-silent piece)."""
    return frames_to_roll(frames)[0]


def test_statistics_count_notes_silences_chords_and_range():
    reference = [roll([[60, 64, 67], [60, 64, 67], [59, 62], []])]
    generated = [roll([[60, 64, 67], [60, 64], []]), roll([[59, 62], [40, 90]])]
    stats = roll_statistics(generated, chord_set(reference))
    assert stats.frames == 5
    assert stats.notes_per_frame == pytest.approx((3 + 2 + 0 + 2 + 2) / 5)
    assert stats.silent_share == pytest.approx(1 / 5)
    assert stats.known_chord_share == pytest.approx(3 / 5)     # C-E-G, silence, B-D known; C-E and E2-F#6 not
    assert (stats.lowest_pitch, stats.highest_pitch) == (40, 90)
    assert stats.pitch_range == "E2-F#6 (50 semitones)"
    assert stats.summary() == "1.80 notes per frame, 20.0% silent, 60.0% known chords, pitches E2-F#6 (50 semitones)"


def test_without_a_reference_there_is_no_known_chord_share():
    stats = roll_statistics([roll([[60], [61]])])
    assert stats.known_chord_share is None and "known" not in stats.summary()


def test_a_chord_is_its_exact_set_of_keys():
    known = chord_set([roll([[60, 64, 67]])])
    assert roll_statistics([roll([[60, 64]])], known).known_chord_share == 0.0
    assert roll_statistics([roll([[60, 64, 67, 72]])], known).known_chord_share == 0.0
    assert roll_statistics([roll([[67, 60, 64]])], known).known_chord_share == 1.0


def test_nothing_to_describe_is_a_data_error():
    with pytest.raises(DataError, match="`rolls` is empty"):
        roll_statistics([])
    with pytest.raises(DataError, match="`rolls`"):
        roll_statistics([np.zeros((3, 12), bool)])


def test_jsb_test_split_matches_counts_on_the_json(data_dir):
    path = data_dir / "jsb_chorales" / "jsb_chorales_quarter.json"
    raw = json.loads(path.read_text())
    splits = read_roll_json(path).splits
    stats = roll_statistics(splits["test"], chord_set(splits["train"]))
    frames = [frozenset(frame) for piece in raw["test"] for frame in piece]
    known = {frozenset(frame) for piece in raw["train"] for frame in piece}
    pitches = [p for frame in frames for p in frame]
    assert stats.frames == len(frames)
    assert stats.notes_per_frame == pytest.approx(np.mean([len(frame) for frame in frames]))
    assert stats.known_chord_share == pytest.approx(np.mean([frame in known for frame in frames]))
    assert (stats.lowest_pitch, stats.highest_pitch) == (min(pitches), max(pitches))
