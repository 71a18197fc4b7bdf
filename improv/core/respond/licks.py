"""The partner's built-in jazz vocabulary: idiomatic cells and licks, written over chords.

These are what the Markov responder plays before it has heard the player, and what it
keeps in reserve afterwards. Each lick is a tuple of readable `(degree, onset, duration)`
notes (beats) over a short chord progression written in a reference key. A degree is
relative to the root of the chord sounding at that note: `"1" "b3" "3" "5" "b7" "7"`, the
tensions `"b9" "9" "#9" "11" "#11" "b13" "13"` and chromatic spellings such as `"#2"` or
`"b6"`. Each note is placed at the nearest pitch with that pitch class to the note before
it (ties go up); a leading `^` forces the next one up, `v` forces it down. The first note
sits in the octave from middle C up.

`training_phrases()` turns the licks into (Phrase, Chart) pairs in all 12 keys for seeding
a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from improv.core.theory.chart import Chart, parse_chart
from improv.core.theory.notes import Note, Phrase

# Degree -> semitones above the chord root (folded into the octave when placed).
DEGREES: dict[str, int] = {
    "1": 0, "8": 0, "b2": 1, "b9": 1, "2": 2, "9": 2, "#2": 3, "#9": 3, "b3": 3,
    "3": 4, "4": 5, "11": 5, "#4": 6, "#11": 6, "b5": 6, "5": 7, "#5": 8, "b6": 8,
    "b13": 8, "6": 9, "13": 9, "bb7": 9, "b7": 10, "7": 11,
}

E = 0.5  # an eighth note, beats
T = 1.0 / 3.0  # a triplet eighth, beats


@dataclass(frozen=True)
class Lick:
    """One idiomatic line.

    Attributes:
        name: what a musician would call it.
        fits: the chord quality (or progression) it is played over, e.g. "m7", "ii-V".
        changes: the chords under it in the reference key, as a chart string (one bar
            per `|`, chords share a bar evenly).
        notes: `(degree, onset, duration)` in beats; see the module docstring.
    """

    name: str
    fits: str
    changes: str
    notes: tuple[tuple[str, float, float], ...]

    def chart(self) -> Chart:
        return parse_chart(self.changes)

    def phrase(self, semitones: int = 0) -> Phrase:
        """The lick as a phrase in the reference key moved by `semitones`."""
        chart = self.chart()
        notes: list[Note] = []
        prev: int | None = None
        for degree, onset, dur in self.notes:
            chord = chart.chord_at(onset)
            root = chord.root if chord is not None else 0
            mark, name = (degree[0], degree[1:]) if degree[0] in "^v" else ("", degree)
            pc = (root + DEGREES[name]) % 12
            if prev is None:
                pitch = 60 + pc
            else:
                up = prev + (pc - prev) % 12  # nearest at or above
                down = prev - (prev - pc) % 12  # nearest at or below
                if mark == "^":
                    pitch = up if up > prev else up + 12
                elif mark == "v":
                    pitch = down if down < prev else down - 12
                else:
                    pitch = up if up - prev <= prev - down else down
            notes.append(Note(float(onset), pitch + semitones, float(dur), 96 if onset % 1 == 0 else 84))
            prev = pitch
        return Phrase.of(notes, length=float(chart.length))


def _lick(name: str, fits: str, changes: str, *notes: tuple[str, float, float]) -> Lick:
    return Lick(name, fits, changes, tuple(notes))


LICKS: tuple[Lick, ...] = (
    # --- major 7th -----------------------------------------------------------------
    _lick("maj7 arpeggio up to the 9th", "maj7", "Cmaj7",
          ("1", 0, E), ("3", E, E), ("5", 1, E), ("7", 1.5, E), ("9", 2, 1.5)),
    _lick("bebop major scale down", "maj7", "Cmaj7",
          ("8", 0, E), ("7", .5, E), ("6", 1, E), ("b6", 1.5, E), ("5", 2, E), ("4", 2.5, E),
          ("3", 3, E), ("2", 3.5, E), ("1", 4, 1)),
    _lick("3-5-7 then an enclosure of the 5th", "maj7", "Cmaj7",
          ("3", 0, E), ("5", .5, E), ("7", 1, E), ("6", 1.5, E), ("#4", 2, E), ("5", 2.5, E),
          ("3", 3, 1)),
    _lick("major pentatonic up and back", "maj7", "Cmaj7",
          ("5", 0, E), ("6", .5, E), ("1", 1, E), ("2", 1.5, E), ("3", 2, E), ("2", 2.5, E),
          ("1", 3, E), ("6", 3.5, E), ("5", 4, 1)),
    _lick("lydian triplet sweep", "maj7", "Cmaj7",
          ("7", 0, T), ("9", T, T), ("#11", 2 * T, T), ("^5", 1, E), ("3", 1.5, E), ("2", 2, E),
          ("1", 2.5, E), ("7", 3, 1)),
    # --- minor 7th -----------------------------------------------------------------
    _lick("dorian scale up from the root", "m7", "Dm7",
          ("1", 0, E), ("2", .5, E), ("b3", 1, E), ("4", 1.5, E), ("5", 2, E), ("6", 2.5, E),
          ("b7", 3, E), ("8", 3.5, E), ("9", 4, 1)),
    _lick("m7 arpeggio up, scale down", "m7", "Dm7",
          ("1", 0, E), ("b3", .5, E), ("5", 1, E), ("b7", 1.5, E), ("9", 2, E), ("b7", 2.5, E),
          ("5", 3, 1)),
    _lick("3 to 9 arpeggio", "m7", "Dm7",
          ("b3", 0, E), ("5", .5, E), ("b7", 1, E), ("9", 1.5, E), ("8", 2, E), ("b7", 2.5, E),
          ("5", 3, E), ("4", 3.5, E), ("b3", 4, 1)),
    _lick("enclosure of the minor 3rd", "m7", "Dm7",
          ("5", 0, E), ("4", .5, E), ("2", 1, E), ("b3", 1.5, E), ("5", 2, E), ("b7", 2.5, E),
          ("8", 3, 1)),
    _lick("minor pentatonic with a blue note", "m7", "Dm7",
          ("8", 0, E), ("b7", .5, E), ("5", 1, E), ("b5", 1.5, E), ("4", 2, E), ("b3", 2.5, E),
          ("1", 3, 1)),
    _lick("chromatic approach from below to the 5th", "m7", "Dm7",
          ("1", 0, 1), ("b3", 1, E), ("#4", 1.5, E), ("5", 2, E), ("b7", 2.5, E), ("9", 3, 1)),
    # --- dominant 7th --------------------------------------------------------------
    _lick("bebop dominant scale down", "7", "G7",
          ("8", 0, E), ("7", .5, E), ("b7", 1, E), ("6", 1.5, E), ("5", 2, E), ("4", 2.5, E),
          ("3", 3, E), ("2", 3.5, E), ("1", 4, 1)),
    _lick("enclosure of the 3rd", "7", "G7",
          ("5", 0, E), ("1", .5, E), ("4", 1, E), ("#2", 1.5, E), ("3", 2, E), ("5", 2.5, E),
          ("b7", 3, 1)),
    _lick("arpeggio 1-3-5-b7 and back down", "7", "G7",
          ("1", 0, E), ("3", .5, E), ("5", 1, E), ("b7", 1.5, E), ("9", 2, E), ("b7", 2.5, E),
          ("5", 3, E), ("3", 3.5, E), ("1", 4, 1)),
    _lick("mixolydian with the 13th", "7", "G7",
          ("3", 0, E), ("5", .5, E), ("13", 1, E), ("b7", 1.5, E), ("13", 2, E), ("5", 2.5, E),
          ("3", 3, 1)),
    _lick("triplet turn on the 5th", "7", "G7",
          ("5", 0, T), ("6", T, T), ("5", 2 * T, T), ("#4", 1, T), ("5", 1 + T, T), ("3", 1 + 2 * T, T),
          ("1", 2, E), ("b7", 2.5, E), ("5", 3, 1)),
    _lick("3 to b9 arpeggio", "7b9", "G7b9",
          ("3", 0, E), ("5", .5, E), ("b7", 1, E), ("b9", 1.5, E), ("8", 2, E), ("b7", 2.5, E),
          ("5", 3, E), ("3", 3.5, E), ("1", 4, 1)),
    _lick("altered descent", "7alt", "G7alt",
          ("b13", 0, E), ("#9", .5, E), ("b9", 1, E), ("1", 1.5, E), ("b7", 2, E), ("b13", 2.5, E),
          ("3", 3, 1)),
    _lick("sus4 resolving to the 3rd", "7", "G7sus4 G7",
          ("4", 0, 1), ("5", 1, E), ("4", 1.5, E), ("3", 2, 1.5)),
    # --- half-diminished and diminished -------------------------------------------
    _lick("m7b5 arpeggio with the 9th", "m7b5", "Bm7b5",
          ("1", 0, E), ("b3", .5, E), ("b5", 1, E), ("b7", 1.5, E), ("9", 2, E), ("b7", 2.5, E),
          ("b5", 3, 1)),
    _lick("locrian natural 2 scale down", "m7b5", "Bm7b5",
          ("b7", 0, E), ("b6", .5, E), ("b5", 1, E), ("4", 1.5, E), ("b3", 2, E), ("2", 2.5, E),
          ("1", 3, 1)),
    _lick("diminished arpeggio with leading tones", "dim7", "C#dim7",
          ("1", 0, E), ("b3", .5, E), ("b5", 1, E), ("bb7", 1.5, E), ("8", 2, E), ("7", 2.5, E),
          ("bb7", 3, 1)),
    # --- ii-V and ii-V-I ------------------------------------------------------------
    _lick("ii-V: scale up, arpeggio of the V", "ii-V", "Dm7 | G7",
          ("1", 0, E), ("2", .5, E), ("b3", 1, E), ("5", 1.5, E), ("b7", 2, E), ("9", 2.5, E),
          ("8", 3, E), ("b7", 3.5, E), ("3", 4, E), ("5", 4.5, E), ("b7", 5, E), ("b9", 5.5, E),
          ("8", 6, E), ("b7", 6.5, E), ("5", 7, 1)),
    _lick("ii-V-I guide tones", "ii-V-I", "Dm7 | G7 | Cmaj7",
          ("b3", 0, 1.5), ("^b7", 2, 1.5), ("3", 4, 1.5), ("^b7", 6, 1.5), ("3", 8, 3)),
    _lick("ii-V-I bebop line", "ii-V-I", "Dm7 | G7 | Cmaj7",
          ("9", 0, E), ("1", .5, E), ("b3", 1, E), ("5", 1.5, E), ("b7", 2, E), ("6", 2.5, E),
          ("5", 3, E), ("4", 3.5, E), ("3", 4, E), ("5", 4.5, E), ("b7", 5, E), ("b9", 5.5, E),
          ("8", 6, E), ("b7", 6.5, E), ("b13", 7, E), ("5", 7.5, E), ("3", 8, 2)),
    _lick("ii-V in one bar with an enclosure into I", "ii-V-I", "Dm7 G7 | Cmaj7",
          ("1", 0, E), ("b3", .5, E), ("5", 1, E), ("b7", 1.5, E), ("3", 2, E), ("5", 2.5, E),
          ("b7", 3, E), ("b13", 3.5, E), ("3", 4, 2)),
    _lick("minor ii-V-i", "ii-V-i", "Bm7b5 | E7b9b13 | Am6",
          ("1", 0, E), ("b3", .5, E), ("b5", 1, E), ("b7", 1.5, E), ("8", 2, E), ("b7", 2.5, E),
          ("b5", 3, E), ("4", 3.5, E), ("3", 4, E), ("5", 4.5, E), ("b7", 5, E), ("b9", 5.5, E),
          ("8", 6, E), ("b7", 6.5, E), ("b13", 7, E), ("5", 7.5, E), ("b3", 8, E), ("2", 8.5, E),
          ("1", 9, 2)),
    _lick("tritone substitute line", "ii-V-I", "Dm7 | Db7 | Cmaj7",
          ("b3", 0, E), ("5", .5, E), ("b7", 1, E), ("9", 1.5, E), ("b7", 2, 1), ("3", 4, E),
          ("5", 4.5, E), ("b7", 5, E), ("6", 5.5, E), ("5", 6, E), ("4", 6.5, E), ("3", 7, E),
          ("9", 7.5, E), ("3", 8, 2)),
    # --- blues ----------------------------------------------------------------------
    _lick("blues: b3 bending into the 3rd", "blues", "F7#9#11",
          ("#9", 0, E), ("3", .5, E), ("5", 1, E), ("b7", 1.5, E), ("8", 2, 1.5)),
    _lick("blues: down the blues scale", "blues", "F7#9#11",
          ("8", 0, E), ("b7", .5, E), ("5", 1, E), ("#11", 1.5, .25), ("4", 1.75, .25), ("#9", 2, E),
          ("1", 2.5, 1.5)),
    _lick("blues: repeated riff with a blue note", "blues", "F7#9#11",
          ("5", 0, E), ("b7", .5, E), ("8", 1, E), ("b7", 1.5, E), ("5", 2, E), ("#11", 2.5, T),
          ("4", 2.5 + T, T), ("#9", 2.5 + 2 * T, T), ("3", 3.5, E), ("1", 4, 1)),
    _lick("blues: call over IV7", "blues", "Bb7",
          ("b7", 0, E), ("8", .5, E), ("b7", 1, E), ("5", 1.5, E), ("3", 2, 1.5)),
    _lick("minor blues: i-iv line", "minor blues", "Cm7 | Fm7",
          ("5", 0, E), ("b3", .5, E), ("4", 1, E), ("b5", 1.5, E), ("5", 2, E), ("b7", 2.5, E),
          ("8", 3, 1), ("b3", 4, E), ("4", 4.5, E), ("5", 5, E), ("b7", 5.5, E), ("b3", 6, 2)),
    # --- 6th chords ----------------------------------------------------------------
    _lick("minor 6 arpeggio", "m6", "Cm6",
          ("1", 0, E), ("b3", .5, E), ("5", 1, E), ("6", 1.5, E), ("8", 2, E), ("6", 2.5, E),
          ("5", 3, 1)),
    _lick("major 6 with a grace from below", "6", "F6",
          ("b3", 0, E), ("3", .5, E), ("5", 1, E), ("6", 1.5, E), ("5", 2, E), ("3", 2.5, E),
          ("1", 3, 1)),
)


def training_phrases(licks: tuple[Lick, ...] = LICKS) -> list[tuple[Phrase, Chart]]:
    """Every lick in all 12 keys as (phrase, chart) pairs, for seeding a model.

    The reference-key lick is moved by -5..+6 semitones so the 12 keys stay around the
    written register.
    """
    return list(_training_phrases(licks))


@lru_cache(maxsize=4)
def _training_phrases(licks: tuple[Lick, ...]) -> tuple[tuple[Phrase, Chart], ...]:
    out = []
    for lick in licks:
        chart = lick.chart()
        for shift in range(-5, 7):
            out.append((lick.phrase(shift), chart.transpose(shift)))
    return tuple(out)
