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

    def add(root: int, quality: str, kind: str, reach: int, target: str = "") -> None:
        root %= 12
        # A chord that leads down a half step (a tritone substitute, a side-slip from above)
        # is spelled with a flat, as a musician writes it: Gb7 into F7, not F#7.
        down = kind == "tritone substitute" or (kind == "side-slip" and target.startswith("above"))
        raw.append((Chord(root, quality, spelled="Gb" if down and root == 6 else ""), kind, reach, target))

    if w.quality == "7":
        raw.append((Chord(w.root, "7", w.tensions), "altered dominant", 1, ""))
        add(w.root + 6, "7", "tritone substitute", 2, f"for {w}")
        add(w.root + 7, "m7", "related ii", 2, f"of {w}")
    add(nxt.root + 7, "7", "dominant", 1, f"of {nxt}")
    add(nxt.root + 1, "7", "tritone substitute", 2, f"into {nxt}")
    if nxt != w:
        add(w.root + 7, "7", "dominant", 2, f"of {w}")
    if w.quality != "7":
        add(w.root, "7", "dominant", 2, f"of {chord_root_name(w.root + 5)}")
    for step in (1, -1):
        add(w.root + step, w.quality, "side-slip", 3, f"{'above' if step > 0 else 'below'} {w}")
    if w.quality in _MAJOR:
        for root, quality in ((w.root + 5, "m6"), (w.root + 8, "maj7"), (w.root + 10, "7"), (w.root, "m6")):
            add(root, quality, "borrowed", 3, f"from {chord_root_name(w.root)} minor")
    elif w.quality in _MINOR:
        for root, quality in ((w.root, "maj7"), (w.root + 5, "7"), (w.root + 1, "maj7")):
            add(root, quality, "borrowed", 3, f"from {chord_root_name(w.root)} major" if quality == "maj7" and root == w.root
                else f"in {chord_root_name(w.root)} minor")
    mediant_quality = w.quality if w.quality in ("maj7", "m7", "7") else "maj7"
    for step in (3, -3, 4, -4):
        add(w.root + step, mediant_quality, "chromatic mediant", 4, f"of {w}")

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
