"""Re-harmonising around a note: chords near a written one in which a given pitch class fits,
and a chart with a substitute chord laid over a stretch of the timeline.

Nearness ("reach", 1 nearest .. 4 farthest) orders the classic substitutions:

1. the written dominant with an altered tension (G7 -> G7(b9)), the secondary dominant
   of the chord that follows (-> A7 before Dm7; said "dominant of Dm7": with no key known,
   the V of the tonic and the V of another chord are not told apart, and both are its dominant);
2. tritone substitutes (G7 -> Db7, subV of the next chord), the secondary dominant of
   the written chord itself (Dm7 -> A7), the written chord made dominant (Cmaj7 -> C7,
   V of IV), the related ii of a dominant (G7 -> Dm7);
3. half-step side-slips (Cmaj7 -> Dbmaj7 / Bmaj7) and borrowed chords (modal interchange:
   Cmaj7 -> Fm6, Abmaj7, Bb7, Cm6; Cm7 -> Cmaj7, F7, Dbmaj7);
4. chromatic mediants (Cmaj7 -> Ebmaj7, Abmaj7, Emaj7, Amaj7).

A dominant may take an altered tension to fit the note; other chords only fit it with
their own chord tones and natural tensions.
"""

from __future__ import annotations

from dataclasses import dataclass

from improv.core.theory.chart import Chart
from improv.core.theory.chords import TENSIONS, Chord, chord_root_name

MAX_REACH = 4
_DOMINANT_TENSION = {1: "b9", 2: "9", 3: "#9", 6: "#11", 8: "b13", 9: "13"}
# the written tensions a tension replaces: G7(b9) takes the 9 as G7(9), not G7(b9,9)
_REPLACES = {"9": {"b9", "#9"}, "b9": {"9"}, "#9": {"9"}, "13": {"b13"}, "b13": {"13"}}
_MAJOR = ("", "maj7", "6")
_MINOR = ("m", "m7", "m6", "mmaj7")


@dataclass(frozen=True)
class Substitute:
    """A chord that makes a pitch class fit.

    Attributes:
        chord: the substitute chord (with any tension it needs written in).
        kind: e.g. "dominant" (of the chord named: the V7 of any chord, secondary or not), "tritone substitute", "side-slip", "borrowed".
        reach: 1 (nearest) .. 4 (farthest).
        role: "chord tone" or "tension": what the note is in the substitute.
        target: the chord it leads to or stands for, for the explanation ("of Dm7").
    """

    chord: Chord
    kind: str
    reach: int
    role: str
    target: str = ""

    def describe(self) -> str:
        return f"{self.kind} {self.target}".strip()


def reach_for(daring: float) -> int:
    """How far substitutes may reach at a daring (0..1): 0 (none) .. MAX_REACH."""
    if daring <= 0:
        return 0
    return 1 + min(MAX_REACH - 1, int(daring * MAX_REACH))


def _fit(pc: int, chord: Chord) -> tuple[Chord, str] | None:
    """The chord (a dominant gains a written tension if needed) and the note's role, or None."""
    if pc in chord.chord_tones():
        return chord, "chord tone"
    if pc in chord.tension_tones():
        return chord, "tension"
    if chord.quality == "7":
        name = _DOMINANT_TENSION.get((pc - chord.root) % 12)
        if name:
            tens = tuple(t for t in TENSIONS if t in (set(chord.tensions) - _REPLACES.get(name, set())) | {name})
            fitted = Chord(chord.root, "7", tens, chord.bass, chord.spelled, chord.bass_spelled)
            if pc in fitted.tension_tones():
                return fitted, "tension"
    return None


_LETTERS = "CDEFGAB"
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _name(chord: Chord) -> str:
    """The root's name as the chart spells it."""
    return chord.spelled or chord_root_name(chord.root)


def _degree_name(ref: Chord, interval: int, degree: int) -> str:
    """The name of the pitch class `interval` semitones above `ref`'s root, spelled as scale
    degree `degree` (1-7) of it (the minor sixth above Bb is Gb, the fifth above C# is G#);
    "" (the usual name) where that takes a double accidental or is Cb, Fb, E# or B#."""
    root = _name(ref)
    letter = _LETTERS[(_LETTERS.index(root[0]) + degree - 1) % 7]
    pc = (ref.root + interval) % 12
    acc = {0: "", 1: "#", 11: "b"}.get((pc - _LETTER_PC[letter]) % 12)
    if acc is None or letter + acc in ("Cb", "Fb", "E#", "B#"):
        return ""
    return "" if letter + acc == chord_root_name(pc) else letter + acc


def candidates(pc: int, written: Chord | None, following: Chord | None) -> list[Substitute]:
    """Every substitute for `written` in which pitch class `pc` fits, nearest first.

    Args:
        pc: the note's pitch class.
        written: the written chord over the stretch to re-harmonise (None: NC).
        following: the written chord right after that stretch (what to lead back to).
    """
    pc %= 12
    w = written or following
    if w is None:
        return []
    nxt = following or w
    raw: list[tuple[Chord, str, int, str]] = []

    def add(ref: Chord, interval: int, degree: int, quality: str, kind: str, reach: int, target: str = "") -> None:
        # the root `interval` semitones above `ref`'s, named as that scale degree of it, as a
        # musician writes it: Gb7 into F7, Ab7 of Dbmaj7, G#7 of C#m7 (not Ab7), Gbmaj7 borrowed in Bb
        raw.append((Chord((ref.root + interval) % 12, quality, spelled=_degree_name(ref, interval, degree)),
                    kind, reach, target))

    name = _name(w)
    if w.quality == "7":
        raw.append((Chord(w.root, "7", w.tensions, spelled=w.spelled), "altered dominant", 1, ""))
        add(w, 6, 5, "7", "tritone substitute", 2, f"for {w}")
        add(w, 7, 5, "m7", "related ii", 2, f"of {w}")
    add(nxt, 7, 5, "7", "dominant", 1, f"of {nxt}")
    add(nxt, 1, 2, "7", "tritone substitute", 2, f"into {nxt}")
    if nxt != w:
        add(w, 7, 5, "7", "dominant", 2, f"of {w}")
    if w.quality != "7":
        add(w, 0, 1, "7", "dominant", 2, f"of {_degree_name(w, 5, 4) or chord_root_name(w.root + 5)}")
    for step, degree in ((1, 2), (-1, 7)):
        add(w, step, degree, w.quality, "side-slip", 3, f"{'above' if step > 0 else 'below'} {w}")
    if w.quality in _MAJOR:
        for interval, degree, quality in ((5, 4, "m6"), (8, 6, "maj7"), (10, 7, "7"), (0, 1, "m6")):
            add(w, interval, degree, quality, "borrowed", 3, f"from {name} minor")
    elif w.quality in _MINOR:
        for interval, degree, quality in ((0, 1, "maj7"), (5, 4, "7"), (1, 2, "maj7")):
            add(w, interval, degree, quality, "borrowed", 3,
                f"from {name} major" if quality == "maj7" and interval == 0 else f"in {name} minor")
    mediant_quality = w.quality if w.quality in ("maj7", "m7", "7") else "maj7"
    for step, degree in ((3, 3), (-3, 6), (4, 3), (-4, 6)):
        add(w, step, degree, mediant_quality, "chromatic mediant", 4, f"of {w}")

    out: list[Substitute] = []
    seen: set[Chord] = set()
    for chord, kind, reach, target in sorted(raw, key=lambda r: r[2]):
        fitted = _fit(pc, chord)
        if fitted is None:
            continue
        sub, role = fitted
        if sub in seen or sub == written:
            continue
        seen.add(sub)
        out.append(Substitute(sub, kind, reach, role, target))
    return out


def substitute(chart: Chart, start: float, end: float, chord: Chord | None) -> Chart:
    """`chart` with `chord` sounding over timeline beats [start, end): over this stretch
    only, not over the same place of every chorus (`Chart.with_overlay`), so the rest of
    the chart, and every cache keyed by what sounds before the answer, stays as it was.

    Raises:
        ValueError: the stretch is empty or longer than the form.
    """
    length = chart.length
    if not 0 < end - start <= length + 1e-9:
        raise ValueError(f"a substitute needs 0 < end - start <= {length} beats, got {end - start}")
    return chart.with_overlay(start, end, chord)
