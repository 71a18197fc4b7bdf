"""What a piano-roll picture of a session shows, computed without any plotting library:
each part's notes in beats, the chord sounding at each note, outside notes, bar lines."""

from __future__ import annotations

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
        bar_lines: beats of the bar lines from 0 to the end.
        beats_per_bar: metre.
        length: beats covered.
    """

    notes: tuple[RollNote, ...]
    chords: tuple[tuple[float, str], ...]
    sections: tuple[tuple[float, str], ...]
    bar_lines: tuple[float, ...]
    beats_per_bar: int
    length: float


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
        for n in recording_notes(rec, part):
            i = bisect_right(starts, n.start + 1e-6) - 1
            chord = parsed[i][1] if i >= 0 else None
            outside = chord is not None and n.pitch % 12 not in chord.scale()
            notes.append(RollNote(n, part, outside))
    sections = tuple((_beat(rec, m.t), m.text) for m in rec.markers if m.kind == "section")
    length = max([_beat(rec, rec.duration)] + [n.note.end for n in notes])
    bpb = rec.beats_per_bar
    bars = int(length // bpb) + 1
    return Roll(tuple(notes), tuple(chords), sections, tuple(float(b * bpb) for b in range(bars + 1)), bpb, length)
