"""rnnkit/data/midi.py: MIDI written with mido reads back with the same notes; MIDI files and folders
become rolls at a chosen frame rate; bad files are one-line errors; WAV through fluidsynth when present."""

import os
import stat

import numpy as np
import pytest

mido = pytest.importorskip("mido")

from rnnkit.data.midi import (Note, SynthesizerMissing, find_synthesizer, midi_note_ticks,  # noqa: E402
                              read_midi, read_midi_folder, render_wav, roll_notes, write_midi)
from rnnkit.data.piano_roll import frames_to_roll  # noqa: E402
from rnnkit.errors import ConfigError, DataError  # noqa: E402

CHORALE = [[60, 64, 67, 72], [60, 64, 67, 72], [59, 62, 67, 74], [60, 64, 67, 76], [], [57, 60, 64, 69]]


def save(tmp_path, name, messages, ticks_per_beat=480, kind=1, tracks=None):
    """A MIDI file of one track of ``messages`` (or the given ``tracks``)."""
    midi = mido.MidiFile(type=kind, ticks_per_beat=ticks_per_beat)
    for track in tracks or [messages]:
        midi.tracks.append(mido.MidiTrack(track))
    path = tmp_path / name
    midi.save(path)
    return path


def note(pitch, start_gap, length, channel=0):
    """note_on after ``start_gap`` ticks, note_off ``length`` ticks later."""
    return [mido.Message("note_on", note=pitch, velocity=64, time=start_gap, channel=channel),
            mido.Message("note_off", note=pitch, velocity=0, time=length, channel=channel)]


def test_roll_notes_merges_held_frames_into_one_note():
    roll, _ = frames_to_roll(CHORALE)
    notes = roll_notes(roll)
    assert Note(60, 0, 2) in notes and Note(67, 0, 4) in notes and Note(60, 3, 4) in notes
    assert Note(69, 5, 6) in notes and len(notes) == 14


@pytest.mark.parametrize("frames_per_beat", [1, 4, 0.5])
def test_written_midi_reads_back_with_the_same_notes(tmp_path, frames_per_beat):
    roll, _ = frames_to_roll(CHORALE)
    path = write_midi(roll, tmp_path / "chorale.mid", frames_per_beat=frames_per_beat, tempo_bpm=90)
    ticks_per_frame = round(480 / frames_per_beat)
    expected = [Note(n.pitch, n.start * ticks_per_frame, n.end * ticks_per_frame) for n in roll_notes(roll)]
    assert midi_note_ticks(path) == expected                        # mido's reading of the file
    midi = mido.MidiFile(path)
    assert midi.type == 0 and midi.ticks_per_beat == 480
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(90)]
    assert np.array_equal(read_midi(path, frames_per_beat=frames_per_beat).roll, roll)


def test_write_midi_is_atomic_and_checks_its_arguments(tmp_path):
    roll, _ = frames_to_roll(CHORALE)
    write_midi(roll, tmp_path / "a.mid")
    assert [p.name for p in tmp_path.iterdir()] == ["a.mid"]
    with pytest.raises(ConfigError, match="`frames_per_beat` must divide 480 ticks"):
        write_midi(roll, tmp_path / "b.mid", frames_per_beat=7)
    with pytest.raises(ConfigError, match="`program` must be 0-127"):
        write_midi(roll, tmp_path / "b.mid", program=128)
    with pytest.raises(DataError, match=r"`roll`: expected a piano roll of shape \(T, 88\)"):
        write_midi(np.zeros((3, 12)), tmp_path / "b.mid")


def test_read_midi_at_frames_per_beat_ignores_drums_and_short_notes_keep_a_frame(tmp_path):
    messages = [*note(60, 0, 480), *note(64, 0, 960), *note(36, 0, 480, channel=9), *note(67, 0, 60)]
    roll = read_midi(save(tmp_path, "a.mid", messages), frames_per_beat=2).roll
    sounding = {pitch: np.flatnonzero(roll[:, pitch - 21]).tolist() for pitch in (60, 64, 67, 36)}
    assert sounding == {60: [0, 1], 64: [2, 3, 4, 5], 67: [8], 36: []}     # the drum (frames 6-7) is not read
    assert len(roll) == 9


def test_read_midi_at_frames_per_second_follows_tempo_changes(tmp_path):
    messages = [mido.MetaMessage("set_tempo", tempo=500000, time=0), *note(60, 0, 480),     # 0.5 s at 120 bpm
                mido.MetaMessage("set_tempo", tempo=1000000, time=0), *note(62, 0, 480)]    # 1 s at 60 bpm
    roll = read_midi(save(tmp_path, "a.mid", messages), frames_per_second=4).roll
    assert np.flatnonzero(roll[:, 60 - 21]).tolist() == [0, 1]
    assert np.flatnonzero(roll[:, 62 - 21]).tolist() == [2, 3, 4, 5]


def test_read_midi_ends_notes_left_sounding_and_restruck_notes(tmp_path):
    messages = [mido.Message("note_on", note=60, velocity=64, time=0),
                mido.Message("note_on", note=60, velocity=64, time=480),      # struck again: the first ends
                mido.Message("note_on", note=64, velocity=0, time=0),         # velocity 0 with nothing sounding
                mido.Message("note_on", note=67, velocity=64, time=0),
                mido.MetaMessage("end_of_track", time=960)]                   # both still sounding: end here
    assert midi_note_ticks(save(tmp_path, "a.mid", messages)) == [Note(60, 0, 480), Note(60, 480, 1440),
                                                                  Note(67, 480, 1440)]


def test_read_midi_reads_every_track_of_a_type_1_file(tmp_path):
    path = save(tmp_path, "a.mid", None, tracks=[note(60, 0, 480), note(48, 480, 480)])
    roll = read_midi(path).roll
    assert roll.shape[0] == 2 and roll[0, 60 - 21] and roll[1, 48 - 21]


def test_pitches_outside_the_keyboard_follow_out_of_range(tmp_path):
    path = save(tmp_path, "a.mid", [*note(60, 0, 480), *note(12, 0, 480)])
    with pytest.raises(DataError, match=r"a.mid: pitch 12 \(C0\) is outside the 88 piano keys"):
        read_midi(path)
    dropped = read_midi(path, out_of_range="drop")
    folded = read_midi(path, out_of_range="fold")
    assert dropped.changed_notes == folded.changed_notes == 1
    assert not dropped.roll[1].any() and folded.roll[1, 24 - 21]


@pytest.mark.parametrize("content, message", [
    (b"not a midi file at all", "is not a readable MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x20\x00\x90", "is not a readable MIDI file"),
    (b"", "is not a readable MIDI file"),
])
def test_a_bad_midi_file_is_a_one_line_error_naming_it(tmp_path, content, message):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        read_midi(path)
    assert "bad.mid" in str(error.value) and "\n" not in str(error.value)


def test_a_midi_file_without_pitched_notes_is_an_empty_roll_error(tmp_path):
    path = save(tmp_path, "drums.mid", note(36, 0, 480, channel=9))
    with pytest.raises(DataError, match="drums.mid: no notes"):
        read_midi(path)


def test_a_type_2_file_is_refused(tmp_path):
    path = save(tmp_path, "a.mid", None, kind=2, tracks=[note(60, 0, 480), note(62, 0, 480)])
    with pytest.raises(DataError, match="type-2 MIDI file"):
        read_midi(path)


@pytest.mark.parametrize("options, message", [
    ({"frames_per_beat": 0}, "`frames_per_beat` must be a positive number"),
    ({"frames_per_second": -1.0}, "`frames_per_second` must be a positive number"),
    ({"out_of_range": "clip"}, "`out_of_range` must be one of"),
])
def test_read_midi_checks_its_options(tmp_path, options, message):
    path = save(tmp_path, "a.mid", note(60, 0, 480))
    with pytest.raises(ConfigError, match=message):
        read_midi(path, **options)


def test_read_midi_folder_reads_every_midi_file_in_order_and_names_a_bad_one(tmp_path):
    (tmp_path / "sub").mkdir()
    save(tmp_path, "b.mid", note(62, 0, 480))
    save(tmp_path / "sub", "a.MIDI", note(60, 0, 960))
    (tmp_path / "notes.txt").write_text("not music")
    pieces = read_midi_folder(tmp_path)
    assert [p.path.split(os.sep)[-1] for p in pieces] == ["b.mid", "a.MIDI"]   # sorted by path
    assert [len(p.roll) for p in pieces] == [1, 2]
    (tmp_path / "c.mid").write_bytes(b"garbage")
    with pytest.raises(DataError, match="c.mid is not a readable MIDI file"):
        read_midi_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .mid or .midi file"):
        read_midi_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="is not a folder"):
        read_midi_folder(tmp_path / "b.mid")


# -- WAV ---------------------------------------------------------------------------------------
def fake_fluidsynth(folder, exit_code=0):
    """A ``fluidsynth`` that writes a small file where -F points, or fails with a message."""
    script = folder / "fluidsynth"
    body = ('out=""; while [ $# -gt 0 ]; do if [ "$1" = "-F" ]; then out="$2"; fi; shift; done\n'
            'printf "RIFF....WAVE" > "$out"\n' if exit_code == 0 else 'echo "fluidsynth: error: bad soundfont" >&2\n')
    script.write_text(f"#!/bin/sh\n{body}exit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def test_without_fluidsynth_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SynthesizerMissing, match="fluidsynth is not installed .*fluidsynth and fluid-soundfont-gm"):
        find_synthesizer()


def test_without_a_soundfont_the_error_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_fluidsynth(tmp_path)))
    with pytest.raises(SynthesizerMissing, match="no General MIDI soundfont at .*none.sf2"):
        find_synthesizer(tmp_path / "none.sf2")


def test_render_wav_runs_fluidsynth_into_the_target(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(fake_fluidsynth(tmp_path / "bin")))
    font = tmp_path / "gm.sf2"
    font.write_bytes(b"sf2")
    midi = write_midi(frames_to_roll(CHORALE)[0], tmp_path / "c.mid")
    wav = render_wav(midi, tmp_path / "c.wav", soundfont=font)
    assert wav.read_bytes() == b"RIFF....WAVE"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "c.mid", "c.wav", "gm.sf2"]


def test_render_wav_reports_fluidsynth_failing(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(fake_fluidsynth(tmp_path / "bin", exit_code=1)))
    font = tmp_path / "gm.sf2"
    font.write_bytes(b"sf2")
    midi = write_midi(frames_to_roll(CHORALE)[0], tmp_path / "c.mid")
    with pytest.raises(DataError, match="fluidsynth could not render .*c.mid: fluidsynth: error: bad soundfont"):
        render_wav(midi, tmp_path / "c.wav", soundfont=font)
    assert not (tmp_path / "c.wav").exists()
