"""Piano rolls: polyphonic music as frames of sounding keys.

A piece of T frames is a boolean array ``roll`` of shape (T, 88):

    roll[t, k] = True   when MIDI pitch LOWEST_PITCH + k sounds in frame t     (k = 0 .. 87: A0 .. C8)

This module reads the JSON layout of the shared JSB chorales (``read_roll_json``:
``{"train": [...], "valid": [...], "test": [...]}``, each piece a list of frames, each
frame a list of MIDI pitches), pads pieces into batches (``pad_rolls``) and draws a
roll as a PNG (``plot_piano_roll``). MIDI files are read and written in
``rnnkit.data.midi``.

Pitches outside the 88 keys follow ``out_of_range``: ``"error"`` (the default) stops
with a one-line ``DataError``; ``"drop"`` leaves such notes out and ``"fold"`` moves
each by whole octaves onto the nearest key of the same pitch class. Either way the
number of notes so changed is returned (``RollSplits.changed_notes``), so that a
caller can say it. A piece with no frames, or whose frames are all silent, is a
``DataError``: there is nothing to learn from it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rnnkit.errors import ConfigError, DataError
from rnnkit.training.atomic import atomic_write_bytes

LOWEST_PITCH = 21            # A0, the piano's lowest key
HIGHEST_PITCH = 108          # C8, its highest
NUM_KEYS = HIGHEST_PITCH - LOWEST_PITCH + 1
OUT_OF_RANGE = ("error", "drop", "fold")
SPLITS = ("train", "valid", "test")
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class RollSplits:
    """Pieces read from one source, by split; each piece a bool roll (T_i, 88)."""

    splits: dict[str, list[np.ndarray]]
    changed_notes: int       # notes outside the 88 keys that ``out_of_range`` dropped or folded
    source: str

    def __getitem__(self, split: str) -> list[np.ndarray]:
        if split not in self.splits:
            raise DataError(f"{self.source} has no `{split}` split: it holds {', '.join(self.splits)}")
        return self.splits[split]


# -- pitches and keys ------------------------------------------------------------------------
def pitch_name(pitch: int) -> str:
    """MIDI pitch -> scientific pitch name: 60 -> "C4", 21 -> "A0"."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def check_out_of_range(out_of_range: str) -> str:
    if out_of_range not in OUT_OF_RANGE:
        raise ConfigError(f"`out_of_range` must be one of {', '.join(OUT_OF_RANGE)}, got {out_of_range!r}")
    return out_of_range


def key_of_pitch(pitch: int, out_of_range: str, where: str) -> int | None:
    """The key index k = pitch - 21 of a MIDI pitch in 0..127; None when ``"drop"`` leaves it out.

    ``"fold"`` moves a pitch below A0 up, or above C8 down, by whole octaves.
    """
    if LOWEST_PITCH <= pitch <= HIGHEST_PITCH:
        return pitch - LOWEST_PITCH
    if out_of_range == "error":
        raise DataError(f"{where}: pitch {pitch} ({pitch_name(pitch)}) is outside the 88 piano keys "
                        f"{LOWEST_PITCH}-{HIGHEST_PITCH}: pass `out_of_range` \"drop\" or \"fold\" to keep the piece")
    if out_of_range == "drop":
        return None
    while pitch < LOWEST_PITCH:
        pitch += 12
    while pitch > HIGHEST_PITCH:
        pitch -= 12
    return pitch - LOWEST_PITCH


def check_pitch(value, where: str) -> int:
    """A MIDI pitch: an integer in 0..127 (not a bool, not a float)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value <= 127:
        raise DataError(f"{where}: expected a MIDI pitch (an integer 0-127), got {value!r}")
    return int(value)


def check_roll(roll: np.ndarray, name: str = "roll") -> np.ndarray:
    """A non-empty (T, 88) array of 0/1 (or bool) values, as bool; one-line DataError if not."""
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[1] != NUM_KEYS or roll.shape[0] == 0:
        raise DataError(f"`{name}`: expected a piano roll of shape (T, {NUM_KEYS}) with T >= 1, got {roll.shape}")
    if roll.dtype != bool and not np.isin(roll, (0, 1)).all():
        raise DataError(f"`{name}`: a piano roll holds 0 or 1 (key silent or sounding), got other values")
    return roll.astype(bool)


def check_not_empty(roll: np.ndarray, where: str) -> np.ndarray:
    """An empty roll (no frames, or no note in any frame) is a DataError naming ``where``."""
    if roll.shape[0] == 0 or not roll.any():
        raise DataError(f"{where}: the piece is empty (no sounding note in {roll.shape[0]} frames): remove it")
    return roll


# -- frames of pitches <-> rolls -----------------------------------------------------------------
def frames_to_roll(frames: Sequence[Iterable[int]], out_of_range: str = "error",
                   where: str = "piece") -> tuple[np.ndarray, int]:
    """Frames of MIDI pitches -> (bool roll (T, 88), number of notes dropped or folded)."""
    check_out_of_range(out_of_range)
    if not isinstance(frames, list):
        raise DataError(f"{where}: expected a list of frames, got {type(frames).__name__}")
    roll = np.zeros((len(frames), NUM_KEYS), dtype=bool)
    changed = 0
    for t, frame in enumerate(frames):
        at = f"{where}, frame {t}"
        if not isinstance(frame, list):
            raise DataError(f"{at}: expected a list of MIDI pitches, got {frame!r}")
        for value in frame:
            pitch = check_pitch(value, at)
            key = key_of_pitch(pitch, out_of_range, at)
            changed += key != pitch - LOWEST_PITCH
            if key is not None:
                roll[t, key] = True
    return check_not_empty(roll, where), changed


def roll_to_frames(roll: np.ndarray) -> list[list[int]]:
    """The inverse of ``frames_to_roll``: per frame, the sounding MIDI pitches in ascending order."""
    roll = check_roll(roll)
    return [(np.flatnonzero(frame) + LOWEST_PITCH).tolist() for frame in roll]


# -- the JSON layout ------------------------------------------------------------------------------
def read_roll_json(path: str | Path, out_of_range: str = "error") -> RollSplits:
    """Read ``{"train": [...], "valid": [...], "test": [...]}`` (``train`` required) into rolls.

    Each split is a list of pieces, each piece a list of frames, each frame a list of
    MIDI pitches (integers; an empty list is silence): the layout of
    ``jsb_chorales/jsb_chorales_quarter.json``.
    """
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or "train" not in data:
        raise DataError(f"{path}: expected a JSON object with a \"train\" list of pieces "
                        f"(and optionally \"valid\" and \"test\"), got {type(data).__name__}")
    unknown = sorted(set(data) - set(SPLITS))
    if unknown:
        raise DataError(f"{path}: unknown keys {unknown}: the splits are {', '.join(SPLITS)}")
    splits, changed = {}, 0
    for split in (name for name in SPLITS if name in data):
        pieces = data[split]
        if not isinstance(pieces, list) or not pieces:
            raise DataError(f"{path}: \"{split}\" must be a non-empty list of pieces")
        splits[split] = []
        for index, frames in enumerate(pieces):
            roll, count = frames_to_roll(frames, out_of_range, where=f"{path}: {split} piece {index}")
            splits[split].append(roll)
            changed += count
    return RollSplits(splits, changed, str(path))


def _load_json(path: Path):
    if not path.is_file():
        raise DataError(f"{path} not found: pass a JSON file of piano-roll pieces")
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path} is not UTF-8 JSON ({error}): pass a JSON file of piano-roll pieces") from None


# -- batches --------------------------------------------------------------------------------------
def pad_rolls(rolls: Sequence[np.ndarray], dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Stack rolls of different lengths: ``frames`` (T, B, 88) of 0/1 in ``dtype``, zeros past each
    end, T = the longest; and ``lengths`` (B,) int64."""
    if len(rolls) == 0:
        raise DataError("`rolls` is empty: pass at least one piece")
    lengths = np.array([len(roll) for roll in rolls], dtype=np.int64)
    if lengths.min() == 0:
        raise DataError(f"piece {int(np.argmin(lengths))} of the batch has no frames: drop empty pieces")
    frames = np.zeros((int(lengths.max()), len(rolls), NUM_KEYS), dtype=dtype)
    for b, roll in enumerate(rolls):
        frames[: len(roll), b] = roll
    return frames, lengths


def split_rolls(rolls: Sequence[np.ndarray], valid_fraction: float, test_fraction: float,
                rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """Shuffle whole pieces with ``rng`` and cut them into train / valid / test by the fractions."""
    for name, fraction in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ConfigError(f"`{name}` must be in [0, 1), got {fraction}")
    order = rng.permutation(len(rolls))
    valid_count, test_count = round(len(rolls) * valid_fraction), round(len(rolls) * test_fraction)
    if len(rolls) - valid_count - test_count < 1:
        raise DataError(f"{len(rolls)} pieces leave none to train on with `valid_fraction` {valid_fraction} "
                        f"and `test_fraction` {test_fraction}: add pieces or lower the fractions")
    cuts = {"valid": order[:valid_count], "test": order[valid_count:valid_count + test_count],
            "train": order[valid_count + test_count:]}
    return {split: [rolls[i] for i in indices] for split, indices in cuts.items() if len(indices)}


# -- pictures -------------------------------------------------------------------------------------
def plot_piano_roll(roll: np.ndarray, path: str | Path, title: str = "Piano roll", primer_frames: int = 0,
                    frames_per_beat: float = 1.0):
    """Draw the roll (time across, pitch up) as a PNG, written atomically; returns the figure.

    Only the pitch range the piece uses is shown (a tone of margin around it), with the
    C of each octave named. ``primer_frames`` > 0 marks where a primer ends and sampled
    frames begin; time is counted in beats (``frames_per_beat`` frames each).
    """
    from matplotlib.figure import Figure

    roll = check_roll(roll)
    keys = np.flatnonzero(roll.any(axis=0))
    low, high = (max(keys[0] - 2, 0), min(keys[-1] + 2, NUM_KEYS - 1)) if keys.size else (39, 60)
    figure = Figure(figsize=(min(4.0 + len(roll) / 12, 16.0), 4.5), layout="constrained")
    axes = figure.add_subplot()
    beats = len(roll) / frames_per_beat
    axes.imshow(roll[:, low:high + 1].T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
                extent=(0, beats, LOWEST_PITCH + low - 0.5, LOWEST_PITCH + high + 0.5))
    c_pitches = [p for p in range(LOWEST_PITCH + low, LOWEST_PITCH + high + 1) if p % 12 == 0]
    axes.set_yticks(c_pitches, [pitch_name(p) for p in c_pitches])
    if primer_frames:
        axes.axvline(primer_frames / frames_per_beat, color="tab:red", linewidth=1.5, label="end of primer")
        axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes.set(xlabel="beat", ylabel="pitch")
    axes.set_title(title, loc="left")
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, png.getvalue())
    return figure
