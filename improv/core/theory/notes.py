"""The one music data type: `Note` and `Phrase`, in beats.

Phrases are in beats so that nothing musical depends on tempo. A phrase sits on the
session timeline at `Phrase.start` (beat 0 is beat 1 of bar 1 of the chart); its notes'
`start` values are relative to that. Live events are in seconds on one monotonic clock;
`beats_to_seconds` / `seconds_to_beats` convert between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

NOTE_NAMES_SHARP = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_NAMES_FLAT = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True, slots=True, order=True)
class Note:
    """One note.

    Attributes:
        start: onset in beats, relative to the phrase's start.
        pitch: MIDI note number, 0-127.
        duration: length in beats (> 0).
        velocity: MIDI velocity, 1-127.
    """

    start: float
    pitch: int
    duration: float
    velocity: int = 80

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch must be 0-127, got {self.pitch}")
        if not self.duration > 0:
            raise ValueError(f"duration must be > 0 beats, got {self.duration}")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity must be 1-127, got {self.velocity}")

    @property
    def end(self) -> float:
        """Offset in beats, relative to the phrase's start."""
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase: notes sorted by onset, placed on the session timeline.

    Attributes:
        notes: the notes, sorted by (start, pitch); starts are relative to `start`.
        start: where the phrase begins on the session timeline, in beats.
        length: the span the phrase occupies, in beats (at least its last note's end
            when built with `Phrase.of`).
    """

    notes: tuple[Note, ...] = ()
    start: float = 0.0
    length: float = 0.0

    @classmethod
    def of(
        cls,
        notes: Iterable[Note | tuple],
        start: float = 0.0,
        length: float | None = None,
    ) -> "Phrase":
        """Build a phrase from notes or readable `(pitch, start, duration[, velocity])` tuples.

        The length defaults to the last note's end; a shorter given length is extended.
        """
        built = []
        for n in notes:
            if isinstance(n, Note):
                built.append(n)
            else:
                pitch, onset, dur, *vel = n
                built.append(Note(float(onset), int(pitch), float(dur), int(vel[0]) if vel else 80))
        built.sort(key=lambda n: (n.start, n.pitch))
        end = max((n.end for n in built), default=0.0)
        return cls(tuple(built), float(start), max(end, float(length or 0.0)))

    @property
    def end(self) -> float:
        """Absolute end of the phrase on the session timeline, in beats."""
        return self.start + self.length

    def __len__(self) -> int:
        return len(self.notes)

    def pitches(self) -> list[int]:
        return [n.pitch for n in self.notes]

    def absolute(self) -> list[Note]:
        """The notes with starts on the session timeline (beats)."""
        return [replace(n, start=n.start + self.start) for n in self.notes]

    def transpose(self, semitones: int) -> "Phrase":
        """The phrase moved by `semitones`; notes that would leave 0-127 move by octaves."""
        out = []
        for n in self.notes:
            p = n.pitch + semitones
            while p > 127:
                p -= 12
            while p < 0:
                p += 12
            out.append(replace(n, pitch=p))
        return replace(self, notes=tuple(out))

    def moved_to(self, start: float) -> "Phrase":
        """The same phrase placed at another timeline position (beats)."""
        return replace(self, start=float(start))


def counted(n: int, noun: str) -> str:
    """`counted(1, "bar") -> '1 bar'`, `counted(3, "bar") -> '3 bars'`: a count as a musician says it."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def count_notes(n: int) -> str:
    """'1 note', '3 notes': a count as the log and the markers say it."""
    return counted(n, "note")


def pitch_name(pitch: int, flats: bool = False) -> str:
    """`61 -> 'C#4'` (middle C is C4)."""
    names = NOTE_NAMES_FLAT if flats else NOTE_NAMES_SHARP
    return f"{names[pitch % 12]}{pitch // 12 - 1}"


def pitch_class_name(pc: int, flats: bool = False) -> str:
    return (NOTE_NAMES_FLAT if flats else NOTE_NAMES_SHARP)[pc % 12]


def beats_to_seconds(beats: float, tempo: float) -> float:
    """Beats at `tempo` (quarter notes per minute) to seconds. Inverse: `seconds_to_beats`."""
    return beats * 60.0 / tempo


def seconds_to_beats(seconds: float, tempo: float) -> float:
    """Seconds to beats at `tempo` (quarter notes per minute). Inverse: `beats_to_seconds`."""
    return seconds * tempo / 60.0


def swing_beats(beats: float, ratio: float) -> float:
    """Where a straight position (beats) sounds under swing.

    `ratio` is the long:short ratio of a pair of eighths (1.0 straight, 2.0 triplet swing).
    The off-beat eighth moves from 0.5 to ratio / (1 + ratio); positions in between are
    stretched piecewise linearly so that the mapping stays monotonic and invertible.
    Inverse: `unswing_beats`.
    """
    if ratio == 1.0:
        return beats
    whole = float(int(beats // 1))
    frac = beats - whole
    off = ratio / (1.0 + ratio)
    if frac <= 0.5:
        return whole + frac * (off / 0.5)
    return whole + off + (frac - 0.5) * ((1.0 - off) / 0.5)


def unswing_beats(beats: float, ratio: float) -> float:
    """Inverse of `swing_beats`."""
    if ratio == 1.0:
        return beats
    whole = float(int(beats // 1))
    frac = beats - whole
    off = ratio / (1.0 + ratio)
    if frac <= off:
        return whole + frac * (0.5 / off)
    return whole + 0.5 + (frac - off) * (0.5 / (1.0 - off))


@dataclass(frozen=True, slots=True)
class Meter:
    """Bars and beats. Only 4/4 is used for now, but nothing assumes it."""

    beats_per_bar: int = 4

    def bar_beat(self, beat: float) -> tuple[int, float]:
        """Timeline beat -> (bar index from 0, beat within bar from 0)."""
        bar = int(beat // self.beats_per_bar)
        return bar, beat - bar * self.beats_per_bar

    def next_boundary(self, beat: float, unit: str = "beat", eps: float = 1e-6) -> float:
        """The first beat (or bar) boundary at or after `beat` (beats)."""
        size = 1.0 if unit == "beat" else float(self.beats_per_bar)
        n = -(-(beat - eps) // size)  # ceil
        return max(0.0, n * size)

