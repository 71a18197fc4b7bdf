"""What a piano-roll picture of a session shows, computed without any plotting library:
each part's notes in beats, the chord sounding at each note, outside notes, bar lines, and
the pitches the pitch axis names."""

from __future__ import annotations

import math

from bisect import bisect_right
from dataclasses import dataclass

from improv.core.theory.chords import Chord, parse_chord
from improv.core.formats.midifile import CHORD_LABELS, PARTS, Recording, TempoMap, recording_notes
from improv.core.formats.miditrack import PPQ
from improv.core.theory.notes import Note
from improv.errors import ChordError

SOLOISTS = ("player", "partner")  # the lines whose outside notes are ringed


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
        beats_per_bar: metre (quarter notes a bar) at the start.
        length: beats covered.
        metres: (beat, quarter notes a bar) at each later change of metre; a change in the
            middle of a bar ends that bar there.
    """

    notes: tuple[RollNote, ...]
    chords: tuple[tuple[float, str], ...]
    sections: tuple[tuple[float, str], ...]
    beats_per_bar: int
    length: float
    metres: tuple[tuple[float, int], ...] = ()

    def _segments(self) -> list[tuple[float, int, int]]:
        """(first beat, quarter notes a bar, index of its first bar) for each stretch of one metre."""
        segs = [(0.0, self.beats_per_bar, 0)]
        for beat, quarters in self.metres:
            start, bpb, n = segs[-1]
            if beat > start:
                segs.append((beat, quarters, n + math.ceil((beat - start) / bpb - 1e-9)))
            else:
                segs[-1] = (start, quarters, n)
        return segs

    def bar_start(self, bar: int) -> float:
        """The beat bar `bar` (0-based) starts on."""
        start, bpb, n = [s for s in self._segments() if s[2] <= bar][-1]
        return start + (bar - n) * bpb

    def bar_of(self, beat: float) -> int:
        """The bar (0-based) `beat` lies in."""
        start, bpb, n = [s for s in self._segments() if s[0] <= beat + 1e-9][-1]
        return n + int((beat - start) / bpb + 1e-9)

    @property
    def bars(self) -> int:
        """Bars covered (the last one may be partial; a file that ends on a bar line covers
        the bars before it only)."""
        start, bpb, n = [s for s in self._segments() if s[0] < self.length or s[2] == 0][-1]
        return max(1, n + math.ceil((self.length - start) / bpb - 1e-9))

    def bar_lines(self, first: float, last: float) -> list[float]:
        """Beats of the bar lines from `first` to `last` (beats), both included: computed for
        the window only, so a file with a note millions of beats in costs nothing here."""
        segs = self._segments()
        end = self.bar_start(self.bars)  # the line that closes the last bar
        out: list[float] = []
        for k, (start, bpb, _) in enumerate(segs):
            stop = min(last, end, segs[k + 1][0] - 1e-6 if k + 1 < len(segs) else math.inf)
            lo = max(0, math.ceil((first - start) / bpb - 1e-9))  # the first bar line at or after `first`
            hi = math.floor((stop - start) / bpb + 1e-9)
            out.extend(float(start + j * bpb) for j in range(lo, hi + 1))
        return out


def pitch_ticks(lo: int, hi: int) -> list[int]:
    """The pitches the pitch axis labels between MIDI notes `lo` and `hi`: every C (C4 =
    60), so each octave is named."""
    return [p for p in range(lo, hi + 1) if p % 12 == 0]


def recording_to_roll(rec: Recording) -> Roll:
    """Lay a recording out for a piano roll: the player's, the partner's and the rhythm
    section's notes (not the click); chord symbols come from its chord markers."""
    tmap = TempoMap(rec.tempos)  # (once: a followed session has a tempo every few beats)

    def beat_of(t: float) -> float:
        return tmap.ticks(t) / PPQ

    chords: list[tuple[float, str]] = []
    parsed: list[tuple[float, Chord | None]] = []
    for m in rec.markers:
        if m.kind != "chord":
            continue
        beat = beat_of(m.t)
        chords.append((beat, m.text))
        try:
            label = next((x for x in CHORD_LABELS if m.text.startswith(x)), "")  # (heard, or put in: no chart)
            parsed.append((beat, parse_chord(m.text.removeprefix(label))))
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
            # (the player's and the partner's lines only: a walking bass's approach notes and a
            # comping voicing's colours are the band's, not notes anyone played outside)
            outside = part in SOLOISTS and chord is not None and n.pitch % 12 not in chord.scale()
            notes.append(RollNote(n, part, outside))
    sections = tuple((beat_of(m.t), m.text) for m in rec.markers if m.kind == "section")
    length = max([beat_of(rec.duration)] + [n.note.end for n in notes])
    metres = tuple((beat_of(t), quarters) for t, quarters in rec.metres)
    return Roll(tuple(notes), tuple(chords), sections, rec.beats_per_bar, length, metres)
