"""What a piano-roll picture of a session shows, computed without any plotting library:
each part's notes in beats, the chord sounding at each note, outside notes, bar lines, and
the pitches the pitch axis names."""

from __future__ import annotations

import math

from bisect import bisect_right
from dataclasses import dataclass

from improv.core.theory.chords import Chord, parse_chord
from improv.core.formats.midifile import PPQ, PARTS, Recording, recording_notes, seconds_to_ticks
from improv.core.theory.notes import Note
from improv.errors import ChordError


@dataclass(frozen=True, slots=True)
class RollNote:
    """A note on the roll: `note` in timeline beats, its part, and whether its pitch class
    lies outside the scale of the chord sounding at its onset."""

    note: Note
    part: str
    outside: bool


@dataclass(frozen=True)
class Roll:
    """Everything a piano-roll picture needs, in beats.

    Attributes:
        notes: every pitched part's notes (player, partner, comp, bass).
        chords: (beat, symbol) at each chord marker.
        sections: (beat, name) at each section marker.
        beats_per_bar: metre.
        length: beats covered.
    """

    notes: tuple[RollNote, ...]
    chords: tuple[tuple[float, str], ...]
    sections: tuple[tuple[float, str], ...]
    beats_per_bar: int
    length: float

    @property
    def bars(self) -> int:
        """Bars covered (the last one may be partial; a file that ends on a bar line covers
        the bars before it only)."""
        return max(1, math.ceil(self.length / self.beats_per_bar - 1e-9))

    def bar_lines(self, first: float, last: float) -> list[float]:
        """Beats of the bar lines from `first` to `last` (beats), both included: computed for
        the window only, so a file with a note millions of beats in costs nothing here."""
        bpb = self.beats_per_bar
        start = max(0, int(-(-first // bpb)))  # the first bar line at or after `first`
        stop = int(min(last, self.bars * bpb) // bpb)
        return [float(b * bpb) for b in range(start, stop + 1)]


def pitch_ticks(lo: int, hi: int) -> list[int]:
    """The pitches the pitch axis labels between MIDI notes `lo` and `hi`: every C (C4 =
    60), so each octave is named."""
    return [p for p in range(lo, hi + 1) if p % 12 == 0]


def _beat(rec: Recording, t: float) -> float:
    return seconds_to_ticks(t, rec.tempos) / PPQ


def recording_to_roll(rec: Recording) -> Roll:
    """Lay a recording out for a piano roll: the player's, the partner's and the rhythm
    section's notes (not the click); chord symbols come from its chord markers."""
    chords: list[tuple[float, str]] = []
    parsed: list[tuple[float, Chord | None]] = []
    for m in rec.markers:
        if m.kind != "chord":
            continue
        beat = _beat(rec, m.t)
        chords.append((beat, m.text))
        try:
            parsed.append((beat, parse_chord(m.text)))
        except ChordError:
            parsed.append((beat, None))
    starts = [b for b, _ in parsed]
    notes: list[RollNote] = []
    for part in PARTS:
        if part == "click":
            continue  # unpitched: a wood block on every beat, not notes of the music
        for n in recording_notes(rec, part, pitched=True):  # a file's GM drums are no pitches
            i = bisect_right(starts, n.start + 1e-6) - 1
            chord = parsed[i][1] if i >= 0 else None
            outside = chord is not None and n.pitch % 12 not in chord.scale()
            notes.append(RollNote(n, part, outside))
    sections = tuple((_beat(rec, m.t), m.text) for m in rec.markers if m.kind == "section")
    length = max([_beat(rec, rec.duration)] + [n.note.end for n in notes])
    return Roll(tuple(notes), tuple(chords), sections, rec.beats_per_bar, length)
