"""Simple musical statistics of piano rolls, to hold generated pieces against real ones.

For frames v_t (rows of bool rolls (T, 88), ``rnnkit.data.piano_roll``) of one or more pieces:

    notes per frame      (1 / N) sum_t |v_t|            |v_t| = keys sounding in frame t
    silent share         (1 / N) #{t : |v_t| = 0}
    known-chord share    (1 / N) #{t : v_t in C}        C = the set of frames of the reference pieces
                                                         (the training pieces): a frame is a known chord
                                                         when exactly its keys sounded together there
    pitch range          lowest and highest sounding MIDI pitch over all frames

N counts every frame. A silent frame is a known chord if the reference has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rnnkit.data.piano_roll import LOWEST_PITCH, check_roll, pitch_name
from rnnkit.errors import DataError


def chord_set(rolls: Sequence[np.ndarray]) -> frozenset[bytes]:
    """C: every distinct frame (set of sounding keys) of ``rolls``, each as its packed bits."""
    return frozenset(_chords(np.concatenate([check_roll(roll, "rolls") for roll in rolls])))


def _chords(frames: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in np.packbits(frames, axis=1)]


@dataclass(frozen=True)
class RollStatistics:
    """The statistics of ``frames`` frames (see the module); ``known_chord_share`` is None without a reference."""

    frames: int
    notes_per_frame: float
    silent_share: float
    known_chord_share: float | None
    lowest_pitch: int | None         # MIDI pitch; None when no key sounds
    highest_pitch: int | None

    @property
    def pitch_range(self) -> str:
        """"C2-A5 (45 semitones)", or "none" when no key sounds."""
        if self.lowest_pitch is None:
            return "none"
        return (f"{pitch_name(self.lowest_pitch)}-{pitch_name(self.highest_pitch)} "
                f"({self.highest_pitch - self.lowest_pitch} semitones)")

    def summary(self) -> str:
        """One line: "3.91 notes per frame, 0.0% silent, 72.5% known chords, pitches C2-A5 (45 semitones)"."""
        known = "" if self.known_chord_share is None else f", {100 * self.known_chord_share:.1f}% known chords"
        return (f"{self.notes_per_frame:.2f} notes per frame, {100 * self.silent_share:.1f}% silent{known}, "
                f"pitches {self.pitch_range}")


def roll_statistics(rolls: Sequence[np.ndarray], known_chords: frozenset[bytes] | None = None) -> RollStatistics:
    """The statistics of all frames of ``rolls``, the known-chord share against ``known_chords`` (``chord_set``)."""
    if not len(rolls):
        raise DataError("`rolls` is empty: no frame to describe")
    frames = np.concatenate([check_roll(roll, "rolls") for roll in rolls])
    notes = frames.sum(axis=1)
    keys = np.flatnonzero(frames.any(axis=0))
    known = None
    if known_chords is not None:
        known = float(np.mean([chord in known_chords for chord in _chords(frames)]))
    return RollStatistics(frames=len(frames), notes_per_frame=float(notes.mean()),
                          silent_share=float(np.mean(notes == 0)), known_chord_share=known,
                          lowest_pitch=int(keys[0]) + LOWEST_PITCH if keys.size else None,
                          highest_pitch=int(keys[-1]) + LOWEST_PITCH if keys.size else None)
