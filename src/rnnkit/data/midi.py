"""MIDI files <-> piano rolls, through mido; WAV through fluidsynth when it is installed.

Reading (``read_midi``, ``read_midi_folder``). Every note (a note_on with velocity > 0
up to its note_off, or a note_on with velocity 0) of every track and channel is
collected, except channel 10's, which General MIDI gives to drums. A note from time
s to time e becomes the frames

    round(s * r) <= t < max(round(e * r), round(s * r) + 1)

where r is the frame rate: ``frames_per_beat`` frames per quarter note (s, e counted
in beats: ticks / ticks_per_beat; independent of tempo), or ``frames_per_second``
(s, e in seconds, through the file's tempo changes). A note shorter than a frame
still sounds in one frame. Pitches outside the 88 keys follow ``out_of_range``
(``rnnkit.data.piano_roll``). A file mido cannot parse, a type-2 file (independent
tracks) and a file without notes are one-line ``DataError``s naming the file.

Writing (``write_midi``). Each run of consecutive frames in which a key sounds
becomes one held note: a piano roll does not tell a held note from a repeated one.
One track (type 0): the tempo, a program change, the notes; ``ticks_per_frame`` ticks
per frame. Reading the file back at the same ``frames_per_beat`` gives the roll back.

mido is an optional dependency (the ``music`` extra): imported when first needed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.piano_roll import (LOWEST_PITCH, NUM_KEYS, check_not_empty, check_out_of_range, check_roll,
                                   key_of_pitch)
from rnnkit.errors import ConfigError, DataError, RnnkitError
from rnnkit.training.atomic import atomic_write_bytes

DRUM_CHANNEL = 9                          # channel 10 as musicians count
MIDI_SUFFIXES = (".mid", ".midi")
TICKS_PER_BEAT = 480
SOUNDFONT_PATHS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
                   "/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/soundfonts/default.sf2")
INSTALL_SYNTHESIZER = "install the Debian packages fluidsynth and fluid-soundfont-gm"


class SynthesizerMissing(RnnkitError):
    """fluidsynth or a General MIDI soundfont is not installed, so no WAV can be rendered."""


@dataclass(frozen=True)
class Note:
    """A note held from frame (or tick) ``start`` up to, not including, ``end``."""

    pitch: int
    start: int
    end: int


@dataclass(frozen=True)
class MidiRoll:
    """One MIDI file as a piano roll."""

    path: str
    roll: np.ndarray          # bool (T, 88)
    changed_notes: int        # notes outside the 88 keys dropped or folded (``out_of_range``)


def _mido():
    try:
        import mido
    except ImportError:
        raise ConfigError("reading and writing MIDI needs mido: pip install 'rnnkit[music]'") from None
    return mido


# -- reading ------------------------------------------------------------------------------------
def read_midi(path: str | Path, frames_per_beat: float | None = 1.0, frames_per_second: float | None = None,
              out_of_range: str = "error") -> MidiRoll:
    """One MIDI file as a roll at ``frames_per_beat`` (default: one frame per quarter note) or,
    when given, ``frames_per_second``."""
    rate, unit = _frame_rate(frames_per_beat, frames_per_second)
    check_out_of_range(out_of_range)
    midi = _open_midi(Path(path))
    notes = _note_spans(midi, path)
    if not notes:
        raise DataError(f"{path}: no notes (drums on channel 10 are not read): pass a file with pitched notes")
    to_time = _beats_function(midi) if unit == "beat" else _seconds_function(midi)
    frames = [(pitch, round(to_time(start) * rate), round(to_time(end) * rate)) for pitch, start, end in notes]
    roll = np.zeros((max(max(end, start + 1) for _, start, end in frames), NUM_KEYS), dtype=bool)
    changed = 0
    for pitch, start, end in frames:
        key = key_of_pitch(pitch, out_of_range, f"{path}")
        changed += key != pitch - LOWEST_PITCH
        if key is not None:
            roll[start:max(end, start + 1), key] = True
    return MidiRoll(str(path), check_not_empty(roll, str(path)), changed)


def read_midi_folder(folder: str | Path, frames_per_beat: float | None = 1.0,
                     frames_per_second: float | None = None, out_of_range: str = "error") -> list[MidiRoll]:
    """Every ``.mid``/``.midi`` file under ``folder`` (recursively, in sorted order) as a roll."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder: pass a folder of MIDI files")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not paths:
        raise DataError(f"{folder} holds no .mid or .midi file")
    return [read_midi(p, frames_per_beat, frames_per_second, out_of_range) for p in paths]


def _frame_rate(frames_per_beat, frames_per_second) -> tuple[float, str]:
    """(rate, "beat" or "second"): ``frames_per_second`` wins when given."""
    rate, unit, name = ((frames_per_second, "second", "frames_per_second") if frames_per_second is not None
                        else (frames_per_beat, "beat", "frames_per_beat"))
    if rate is None or not np.isfinite(rate) or rate <= 0:
        raise ConfigError(f"`{name}` must be a positive number, got {rate!r}")
    return float(rate), unit


def _open_midi(path: Path):
    mido = _mido()
    if not path.is_file():
        raise DataError(f"{path} not found: pass a MIDI file")
    try:
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as error:
        raise DataError(f"{path} is not a readable MIDI file ({type(error).__name__}: {error})") from None
    if midi.type == 2:
        raise DataError(f"{path} is a type-2 MIDI file (independent tracks), which rnnkit does not read: "
                        "save it as type 0 or 1")
    return midi


def _note_spans(midi, path) -> list[tuple[int, int, int]]:
    """(pitch, start tick, end tick) of every pitched note, in the order they end.

    A note_on for a pitch already sounding on its channel ends the earlier note there;
    notes still sounding at the end of the file end with its last event.
    """
    mido, tick, sounding, spans = _mido(), 0, {}, []
    for message in mido.merge_tracks(midi.tracks):
        tick += message.time
        if message.type not in ("note_on", "note_off") or message.channel == DRUM_CHANNEL:
            continue
        slot = (message.channel, message.note)
        if slot in sounding:
            spans.append((message.note, sounding.pop(slot), tick))
        if message.type == "note_on" and message.velocity > 0:
            sounding[slot] = tick
    spans.extend((note, start, tick) for (_, note), start in sounding.items())
    return spans


def _beats_function(midi):
    """tick -> quarter notes."""
    return lambda tick: tick / midi.ticks_per_beat


def _seconds_function(midi):
    """tick -> seconds through the file's tempo changes (set_tempo in any track; 120 bpm before the first)."""
    mido, tick, changes = _mido(), 0, [(0, 500000)]
    for message in mido.merge_tracks(midi.tracks):
        tick += message.time
        if message.type == "set_tempo":
            changes.append((tick, message.tempo))
    starts, seconds = [], []
    elapsed = 0.0
    for (start, tempo), (end, _) in zip(changes, changes[1:] + [(None, None)]):
        starts.append(start)
        seconds.append(elapsed)
        if end is not None:
            elapsed += mido.tick2second(end - start, midi.ticks_per_beat, tempo)
    tempos = [tempo for _, tempo in changes]

    def to_seconds(tick: int) -> float:
        i = int(np.searchsorted(starts, tick, side="right")) - 1
        return seconds[i] + mido.tick2second(tick - starts[i], midi.ticks_per_beat, tempos[i])

    return to_seconds


# -- writing ------------------------------------------------------------------------------------
def roll_notes(roll: np.ndarray) -> list[Note]:
    """The notes of a roll: per key, each run of sounding frames [start, end), by start then pitch."""
    roll = check_roll(roll)
    padded = np.zeros((roll.shape[0] + 2, NUM_KEYS), dtype=np.int8)
    padded[1:-1] = roll
    changes = np.diff(padded, axis=0)                    # +1 where a run starts, -1 one past its end
    starts, start_keys = np.nonzero(changes == 1)
    ends, end_keys = np.nonzero(changes == -1)
    by_key_start = np.lexsort((starts, start_keys))
    by_key_end = np.lexsort((ends, end_keys))
    notes = [Note(int(k) + LOWEST_PITCH, int(s), int(e))
             for k, s, e in zip(start_keys[by_key_start], starts[by_key_start], ends[by_key_end])]
    return sorted(notes, key=lambda note: (note.start, note.pitch))


def write_midi(roll: np.ndarray, path: str | Path, frames_per_beat: float = 1.0, tempo_bpm: float = 100.0,
               program: int = 0, velocity: int = 80) -> Path:
    """Write the roll as a type-0 MIDI file (atomically); returns the path.

    ``frames_per_beat`` frames make one quarter note, played at ``tempo_bpm``; ``program``
    is the General MIDI instrument (0: acoustic grand piano). A roll read at
    ``frames_per_second`` r plays at its own speed with ``frames_per_beat=1, tempo_bpm=60 * r``.
    """
    mido = _mido()
    ticks_per_frame = _ticks_per_frame(frames_per_beat)
    if not 0 <= program <= 127 or not 1 <= velocity <= 127:
        raise ConfigError(f"`program` must be 0-127 and `velocity` 1-127, got {program} and {velocity}")
    if not np.isfinite(tempo_bpm) or tempo_bpm <= 0:
        raise ConfigError(f"`tempo_bpm` must be a positive number, got {tempo_bpm!r}")
    events = []                                           # (tick, 0 for off / 1 for on, pitch)
    for note in roll_notes(roll):
        events += [(note.start * ticks_per_frame, 1, note.pitch), (note.end * ticks_per_frame, 0, note.pitch)]
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="rnnkit", time=0),
                            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
                            mido.Message("program_change", program=program, time=0)])
    previous = 0
    for tick, is_on, pitch in sorted(events):             # at one tick, note_offs before note_ons
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity if is_on else 0, time=tick - previous))
        previous = tick
    track.append(mido.MetaMessage("end_of_track", time=ticks_per_frame))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT, tracks=[track])
    data = io.BytesIO()
    midi.save(file=data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data.getvalue())
    return path


def _ticks_per_frame(frames_per_beat: float) -> int:
    ticks = TICKS_PER_BEAT / frames_per_beat if frames_per_beat > 0 else 0.0
    if ticks < 1 or ticks != int(ticks):
        raise ConfigError(f"`frames_per_beat` must divide {TICKS_PER_BEAT} ticks per beat into whole ticks "
                          f"(1, 2, 3, 4, 6, 8, 0.5, ...), got {frames_per_beat!r}")
    return int(ticks)


def midi_note_ticks(path: str | Path) -> list[Note]:
    """Every pitched note of a MIDI file in ticks, as mido reads it, by start then pitch."""
    midi = _open_midi(Path(path))
    return sorted((Note(pitch, start, end) for pitch, start, end in _note_spans(midi, path)),
                  key=lambda note: (note.start, note.pitch))


# -- audio ---------------------------------------------------------------------------------------
def find_synthesizer(soundfont: str | Path | None = None) -> tuple[str, Path]:
    """(the fluidsynth program, a General MIDI soundfont); SynthesizerMissing saying what to install."""
    program = shutil.which("fluidsynth")
    if program is None:
        raise SynthesizerMissing(f"no WAV: fluidsynth is not installed ({INSTALL_SYNTHESIZER})")
    candidates = [Path(soundfont)] if soundfont is not None else [Path(p) for p in SOUNDFONT_PATHS]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        where = str(candidates[0]) if soundfont is not None else ", ".join(SOUNDFONT_PATHS)
        raise SynthesizerMissing(f"no WAV: no General MIDI soundfont at {where} ({INSTALL_SYNTHESIZER})")
    return program, found


def render_wav(midi_path: str | Path, wav_path: str | Path, soundfont: str | Path | None = None,
               sample_rate: int = 44100, timeout_s: float = 300.0) -> Path:
    """Render a MIDI file to WAV with fluidsynth (written to a temporary name, then renamed)."""
    program, font = find_synthesizer(soundfont)
    wav_path = Path(wav_path)
    partial = wav_path.with_name(f".{wav_path.name}.tmp.wav")
    command = [program, "-ni", "-g", "0.8", "-r", str(sample_rate), "-F", str(partial), str(font), str(midi_path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
            raise DataError(f"fluidsynth could not render {midi_path}: {reason[0]}")
        partial.replace(wav_path)
    except subprocess.TimeoutExpired:
        raise DataError(f"fluidsynth took over {timeout_s:.0f} s to render {midi_path}") from None
    finally:
        partial.unlink(missing_ok=True)
    return wav_path
