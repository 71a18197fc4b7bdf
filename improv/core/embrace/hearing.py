"""Hearing the player: classify every note of a call against the harmony sounding under it.

Each note is a chord tone, a tension (`Chord.tension_tones()`, and the colours a jazz
player hears as tensions where a chart does not write them: `HEARD_TENSIONS`), an approach (a chromatic
neighbour of an inside note that resolves by half or whole step, within a beat, to an
inside note) or outside. Outside notes get a salience in [0, 1]: how clearly the player
*meant* it (or at least how clearly everyone heard it). A long accented outside note on
beat 1 is salient; a passing chromatic sixteenth is an approach and not a mistake at all.

Notes are heard where they are played, not where a grid cell puts them: a note belongs to
the beat it is played at. An onset within the on-beat tolerance of a beat is on that beat
(the tolerance grows with the tempo: timing scatter is milliseconds, so at 280 bpm a note
50 ms late is still on the beat), and a long note is heard on the beat it starts up to
`LONG_LATE` after (soloists often attack a long note a sixteenth behind the beat: in
WJazzD, 1 in 4 of the long notes transcribed on beat 1 or 3 starts 0.13-0.3 beat late
against the band's beat); a note played up to half a beat before a chord change
and held over it (an anticipation) is heard against the coming chord, with that beat's
weight. How long a note sounds counts in seconds as well as in beats when the tempo is
known: half a second is long at any tempo.

A note under the line is harmony, not a mistake: a keyboardist's left-hand voicing under a
right-hand note that sounds over it, or a chord's lower notes, may clash with the chart
(they are heard as outside), but only the top voice (`under_the_line`, improv/core/theory/line.py)
can be salient; nor can the top of a left hand's chord struck while the right hand rests,
well under the line around it (`off_the_line`).

Everything is in beats on the session timeline (beat 0 = beat 1 of bar 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median

from improv.core.theory.chart import Chart
from improv.core.theory.chords import Chord
from improv.core.theory.line import (  # noqa: F401 - (the line's rules, heard here too)
    CHORD_SPREAD, CHORD_SPREAD_S, UNDER_HELD, UNDER_HELD_S, off_the_line, on_the_line, the_line, under_the_line,
)
from improv.core.theory.notes import Note, Phrase

CHORD, TENSION, APPROACH, OUTSIDE, FREE = "chord", "tension", "approach", "outside", "free"
CLASSES = (CHORD, TENSION, APPROACH, OUTSIDE, FREE)  # FREE: no chord sounding (NC)

ON_BEAT_TOL = 0.125  # beats: an onset this close to a beat counts as on it (with no tempo given, and at least this)
ON_BEAT_TOL_S = 0.06  # seconds: with the tempo known, the tolerance is this much time...
MAX_ON_BEAT_TOL = 0.2  # ...up to this many beats (the swung off-beat stays off the beat)
ANTICIPATION = 0.5  # beats: a note this close before a chord change, held over it, is heard against the new chord
LONG_BEATS = 1.0  # an outside note at least this long is "long"
LONG_S = 0.6  # ...or this many seconds, with the tempo known
LONG_LATE = 0.3  # beats: a long note starting this late is still heard on the beat before (a laid-back attack)
RESOLVE_WITHIN = 1.0  # beats: an approach resolves to a note starting within this
ACCENT_VELOCITY = 10  # velocity above the call's median that reads as an accent
UNDER = "under the line"  # the reason an outside note is not salient: it is harmony

# Colours that are jazz vocabulary, not mistakes, though the chord symbol does not name them
# (semitones above the root): on a dominant the altered tensions (b9, #9, #11, b13; a blues's
# blue third and fifth over its I7 are its #9 and #11), the melodic minor's major seventh
# on a minor tonic, the minor seventh on a minor triad (Dorian's or Aeolian's: G over
# Am), and the major seventh on a major triad or sixth chord (a tonic's: B over C6, the
# major bebop scale's, as common as over Cmaj7). The chord's own `scale()` (the band's voicings, the partners' chord
# features) keeps to what the symbol says; only what counts as a mistake widens.
HEARD_TENSIONS: dict[str, frozenset[int]] = {
    "7": frozenset((1, 3, 6, 8)), "7b5": frozenset((1, 3, 8)), "+7": frozenset((1, 3)),
    "7sus4": frozenset((1, 8)), "m": frozenset((10, 11)), "m6": frozenset((11,)),
    "": frozenset((11,)), "6": frozenset((11,)),
}

# Salience weights: duration, metric position, velocity, repetition (they sum to 1).
W_DURATION, W_METRIC, W_VELOCITY, W_REPEAT = 0.35, 0.35, 0.15, 0.15


@dataclass(frozen=True)
class HeardNote:
    """One call note as heard against the harmony.

    Attributes:
        index: position of the note in `call.notes`.
        onset: where the note is heard on the timeline, in beats: the beat it was played at
            (within the on-beat tolerance) or anticipated, else as played.
        bar: bar index from 0 on the session timeline (of `onset`).
        beat: position within the bar, in beats from 0 (1.5 = the "and" of beat 2).
        pitch: MIDI note number.
        duration: length in beats.
        velocity: MIDI velocity.
        chord: the chord sounding at the onset, or None (NC).
        kind: one of `CLASSES`.
        salience: 0..1 for outside notes, 0 for everything else.
        reasons: why an outside note is salient: "long", "beat 1", "accented", "repeated",
            "anticipated"; or why it is not: "under the line" (a chord's or the left hand's
            note under a higher one: harmony, salience 0).
        played: the onset as played, timeline beats (`call.start + note.start`).
    """

    index: int
    onset: float
    bar: int
    beat: float
    pitch: int
    duration: float
    velocity: int
    chord: Chord | None
    kind: str
    salience: float = 0.0
    reasons: tuple[str, ...] = ()
    played: float | None = None

    @property
    def pc(self) -> int:
        return self.pitch % 12

    @property
    def is_outside(self) -> bool:
        return self.kind == OUTSIDE


def on_beat_tolerance(tempo: float | None) -> float:
    """How close to a beat an onset counts as on it, in beats: `ON_BEAT_TOL_S` at `tempo`
    (bpm), at least `ON_BEAT_TOL` and at most `MAX_ON_BEAT_TOL`; `ON_BEAT_TOL` with no tempo."""
    if tempo is None or not tempo > 0:
        return ON_BEAT_TOL
    return min(MAX_ON_BEAT_TOL, max(ON_BEAT_TOL, ON_BEAT_TOL_S * tempo / 60.0))


def metric_weight(beat_in_bar: float, beats_per_bar: int = 4, tol: float = ON_BEAT_TOL) -> tuple[float, str]:
    """How strong a position is (0..1) and its name: beat 1 > beat 3 > other beats > off-beats.

    Args:
        beat_in_bar: position within the bar in beats from 0.
        beats_per_bar: metre.
        tol: how close to a beat counts as on it, in beats (`on_beat_tolerance`).

    Returns:
        (weight, "beat N" or "" for off-beat positions).
    """
    nearest = round(beat_in_bar)
    if abs(beat_in_bar - nearest) <= tol + 1e-9:
        b = int(nearest) % beats_per_bar
        if b == 0:
            return 1.0, "beat 1"
        if beats_per_bar % 2 == 0 and beats_per_bar > 2 and b == beats_per_bar // 2:
            return 0.8, f"beat {b + 1}"
        return 0.6, f"beat {b + 1}"
    if abs(beat_in_bar * 2 - round(beat_in_bar * 2)) <= min(tol, ON_BEAT_TOL) * 2:
        return 0.3, ""  # an off-beat eighth
    return 0.15, ""


def heard_at(onset: float, duration: float, chart: Chart, tol: float = ON_BEAT_TOL,
             late: float | None = None) -> tuple[float, bool]:
    """Where a note played at `onset` (beats) is heard: (timeline beat, anticipated?).

    On the beat it is played at when within `tol` before it or `late` (default `tol`)
    after it; a long note (`late` over `tol`) pushed up to `late` ahead of a beat and held
    half a beat past it is heard on it too, as one laid back after it is; on a chord change
    it anticipates when played up to `ANTICIPATION` beats before one and held at least half
    a beat past it; else where it was played.
    """
    after = onset - math.floor(onset)
    before = math.ceil(onset) - onset
    late = tol if late is None else max(late, tol)
    if before <= tol + 1e-9 and before <= after:
        return float(math.ceil(onset)), False
    if after <= late + 1e-9:
        return float(math.floor(onset)), False
    if before <= tol + 1e-9:
        return float(math.ceil(onset)), False
    change = math.ceil(onset)
    held_over = onset + duration >= change + 0.5 - 1e-9
    if (before <= ANTICIPATION + 1e-9 and held_over
            and chart.chord_at(change) != chart.chord_at(onset)):
        return float(change), True
    if late > tol and before <= late + 1e-9 and held_over:  # a long note pushed ahead of the beat
        return float(change), True
    return onset, False


def classify_pitch(pc: int, chord: Chord | None) -> str:
    """CHORD, TENSION, OUTSIDE or FREE for a pitch class against a chord (no context)."""
    if chord is None:
        return FREE
    if pc % 12 in chord.chord_tones() or pc % 12 == chord.bass:  # (the bass the chart writes: G over Am/G)
        return CHORD
    if pc % 12 in chord.tension_tones():
        return TENSION
    heard = (pc - chord.root) % 12 in HEARD_TENSIONS.get(chord.quality, ())
    if heard and (chord.bass is None or (pc - chord.bass) % 12 not in (1, 11)):  # (not a half step off the
        return TENSION  # written bass: B over C/Bb, a C7 in the bass, is a clash)
    return OUTSIDE


def _resolves(note: Note, onset: float, nxt: Note | None, next_onset: float, next_chord: Chord | None) -> bool:
    """True if `nxt` starts within a beat (as played), a half or whole step away, on a note
    inside `next_chord` (the chord it is heard against)."""
    if nxt is None or next_onset - onset > RESOLVE_WITHIN + 1e-9 or next_onset <= onset:
        return False
    if abs(nxt.pitch - note.pitch) not in (1, 2):
        return False
    return classify_pitch(nxt.pitch, next_chord) in (CHORD, TENSION)


def _encloses(note: Note, onset: float, mid: Note, target: Note | None, target_onset: float,
              target_chord: Chord | None) -> bool:
    """True if `note`, `mid` and then `target` are an enclosure: the two notes a step either
    side of `target`, an inside note reached within a beat (F, D#, E in eighths onto the third
    of C; a note held a beat before the figure is a note of its own)."""
    if target is None or target_onset - onset > RESOLVE_WITHIN + 1e-9 or target_onset <= onset:
        return False
    a, b = note.pitch - target.pitch, mid.pitch - target.pitch
    if abs(a) not in (1, 2) or abs(b) not in (1, 2) or a * b >= 0:
        return False
    return classify_pitch(target.pitch, target_chord) in (CHORD, TENSION)


def _neighbours_inside(pc: int, chord: Chord) -> bool:
    """Is the pitch class a chromatic neighbour of one of the chord's inside notes?"""
    scale = chord.scale()
    return (pc + 1) % 12 in scale or (pc - 1) % 12 in scale


def hear(call: Phrase, chart: Chart, beats_per_bar: int | None = None,
         tempo: float | None = None) -> tuple[HeardNote, ...]:
    """Classify every note of `call` against the chord sounding where it is heard.

    Args:
        call: the player's phrase (notes relative to `call.start`, beats).
        chart: the harmony (a chart, or a one-chord chart of the live-inferred harmony).
        beats_per_bar: metre; defaults to the chart's.
        tempo: the tempo of the call's beats (bpm), when known: the on-beat tolerance
            scales with it and durations count in seconds too.

    Returns:
        One `HeardNote` per call note, in the call's order.
    """
    bpb = beats_per_bar or chart.beats_per_bar
    notes = call.notes
    if not notes:
        return ()
    if tempo is not None and not (math.isfinite(tempo) and tempo > 0):
        tempo = None  # (a tempo of 0 or NaN is no tempo known, as everywhere else)
    tol = on_beat_tolerance(tempo)
    under = off_the_line(notes, tempo)  # (accents and repeats are the line's, not a voicing's under it)
    vel_median = median([n.velocity for n, below in zip(notes, under) if not below] or [n.velocity for n in notes])
    played = [call.start + n.start for n in notes]
    def late(n: Note) -> float:
        long = n.duration >= LONG_BEATS - 1e-9 or (tempo is not None and n.duration * 60.0 / tempo >= LONG_S - 1e-9)
        return LONG_LATE if long else tol

    places = [heard_at(t, n.duration, chart, tol, late(n)) for t, n in zip(played, notes)]
    onsets = [at for at, _ in places]
    # The next note that starts later (chords played as a dyad share an onset).
    nxt_index: list[int | None] = []
    for i, t in enumerate(played):
        j = next((k for k in range(i + 1, len(notes)) if played[k] > t + 1e-9), None)
        nxt_index.append(j)

    kinds: list[str] = []
    chords: list[Chord | None] = []
    for i, n in enumerate(notes):
        chord = chart.chord_at(onsets[i])
        chords.append(chord)
        kind = classify_pitch(n.pitch, chord)
        if kind == OUTSIDE and chord is not None and _neighbours_inside(n.pitch % 12, chord):
            j = nxt_index[i]
            if j is not None and _resolves(n, played[i], notes[j], played[j], chart.chord_at(onsets[j])):
                kind = APPROACH
            elif j is not None and (k := nxt_index[j]) is not None and _encloses(
                    n, played[i], notes[j], notes[k], played[k], chart.chord_at(onsets[k])):
                kind = APPROACH  # the first note of an enclosure (its second resolves by itself)
        kinds.append(kind)

    outside_count: dict[int, int] = {}  # (the line's: a voicing's note does not make the line's "repeated")
    for n, kind, below in zip(notes, kinds, under):
        if kind == OUTSIDE and not below:
            outside_count[n.pitch % 12] = outside_count.get(n.pitch % 12, 0) + 1
    out = []
    for i, n in enumerate(notes):
        bar = int(onsets[i] // bpb)
        beat = onsets[i] - bar * bpb
        salience, reasons = 0.0, ()
        if kinds[i] == OUTSIDE and under[i]:
            reasons = (UNDER,)
        elif kinds[i] == OUTSIDE:
            seconds = n.duration * 60.0 / tempo if tempo else None
            salience, reasons = _salience(n, beat, bpb, vel_median, outside_count[n.pitch % 12], tol, seconds)
            if places[i][1]:
                reasons = reasons + ("anticipated",)
        out.append(HeardNote(i, onsets[i], bar, beat, n.pitch, n.duration, n.velocity,
                             chords[i], kinds[i], salience, reasons, played[i]))
    return tuple(out)


def _salience(note: Note, beat: float, bpb: int, vel_median: float, count: int, tol: float = ON_BEAT_TOL,
              seconds: float | None = None) -> tuple[float, tuple[str, ...]]:
    """Salience (0..1) of an outside note and the reasons it stands out (`seconds`: how long
    it sounds, when the tempo is known)."""
    reasons: list[str] = []
    dur = min(1.0, note.duration / LONG_BEATS)
    if seconds is not None:
        dur = max(dur, min(1.0, seconds / LONG_S))
    if note.duration >= LONG_BEATS - 1e-9 or (seconds is not None and seconds >= LONG_S - 1e-9):
        reasons.append("long")
    metric, name = metric_weight(beat, bpb, tol)
    if name:
        reasons.append(name)
    vel = min(1.0, max(0.0, 0.5 + (note.velocity - vel_median) / 40.0))
    if note.velocity >= vel_median + ACCENT_VELOCITY:
        reasons.append("accented")
    rep = 1.0 if count > 1 else 0.0
    if count > 1:
        reasons.append("repeated")
    s = W_DURATION * dur + W_METRIC * metric + W_VELOCITY * vel + W_REPEAT * rep
    return round(min(1.0, max(0.0, s)), 3), tuple(reasons)


def most_salient(heard: tuple[HeardNote, ...]) -> HeardNote | None:
    """The outside note with the highest salience (the latest on a tie: it is freshest), or
    None; a note under the line (harmony) is none."""
    best = None
    for h in heard:
        if h.is_outside and UNDER not in h.reasons and (best is None or h.salience >= best.salience - 1e-9):
            best = h
    return best
