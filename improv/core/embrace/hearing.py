"""Hearing the player: classify every note of a call against the harmony sounding under it.

Each note is a chord tone, a tension (`Chord.tension_tones()`), an approach (a chromatic
neighbour of an inside note that resolves by half or whole step, within a beat, to an
inside note) or outside. Outside notes get a salience in [0, 1]: how clearly the player
*meant* it (or at least how clearly everyone heard it). A long accented outside note on
beat 1 is salient; a passing chromatic sixteenth is an approach and not a mistake at all.

Everything is in beats on the session timeline (beat 0 = beat 1 of bar 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from improv.core.theory.chart import Chart
from improv.core.theory.chords import Chord
from improv.core.theory.notes import Note, Phrase

CHORD, TENSION, APPROACH, OUTSIDE, FREE = "chord", "tension", "approach", "outside", "free"
CLASSES = (CHORD, TENSION, APPROACH, OUTSIDE, FREE)  # FREE: no chord sounding (NC)

ON_BEAT_TOL = 0.125  # beats: an onset this close to a beat counts as on it (played timing)
LONG_BEATS = 1.0  # an outside note at least this long is "long"
RESOLVE_WITHIN = 1.0  # beats: an approach resolves to a note starting within this
ACCENT_VELOCITY = 10  # velocity above the call's median that reads as an accent

# Salience weights: duration, metric position, velocity, repetition (they sum to 1).
W_DURATION, W_METRIC, W_VELOCITY, W_REPEAT = 0.35, 0.35, 0.15, 0.15


@dataclass(frozen=True)
class HeardNote:
    """One call note as heard against the harmony.

    Attributes:
        index: position of the note in `call.notes`.
        onset: timeline onset in beats (`call.start + note.start`).
        bar: bar index from 0 on the session timeline.
        beat: position within the bar, in beats from 0 (1.5 = the "and" of beat 2).
        pitch: MIDI note number.
        duration: length in beats.
        velocity: MIDI velocity.
        chord: the chord sounding at the onset, or None (NC).
        kind: one of `CLASSES`.
        salience: 0..1 for outside notes, 0 for everything else.
        reasons: why an outside note is salient: "long", "beat 1", "accented", "repeated".
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

    @property
    def pc(self) -> int:
        return self.pitch % 12

    @property
    def is_outside(self) -> bool:
        return self.kind == OUTSIDE


def metric_weight(beat_in_bar: float, beats_per_bar: int = 4) -> tuple[float, str]:
    """How strong a position is (0..1) and its name: beat 1 > beat 3 > other beats > off-beats.

    Args:
        beat_in_bar: position within the bar in beats from 0.
        beats_per_bar: metre.

    Returns:
        (weight, "beat N" or "" for off-beat positions).
    """
    nearest = round(beat_in_bar)
    if abs(beat_in_bar - nearest) <= ON_BEAT_TOL:
        b = int(nearest) % beats_per_bar
        if b == 0:
            return 1.0, "beat 1"
        if beats_per_bar % 2 == 0 and beats_per_bar > 2 and b == beats_per_bar // 2:
            return 0.8, f"beat {b + 1}"
        return 0.6, f"beat {b + 1}"
    if abs(beat_in_bar * 2 - round(beat_in_bar * 2)) <= ON_BEAT_TOL * 2:
        return 0.3, ""  # an off-beat eighth
    return 0.15, ""


def classify_pitch(pc: int, chord: Chord | None) -> str:
    """CHORD, TENSION, OUTSIDE or FREE for a pitch class against a chord (no context)."""
    if chord is None:
        return FREE
    if pc % 12 in chord.chord_tones():
        return CHORD
    if pc % 12 in chord.tension_tones():
        return TENSION
    return OUTSIDE


def _resolves(note: Note, onset: float, nxt: Note | None, next_onset: float, chart: Chart) -> bool:
    """True if `nxt` starts within a beat, a half or whole step away, on an inside note."""
    if nxt is None or next_onset - onset > RESOLVE_WITHIN + 1e-9 or next_onset <= onset:
        return False
    if abs(nxt.pitch - note.pitch) not in (1, 2):
        return False
    return classify_pitch(nxt.pitch, chart.chord_at(next_onset)) in (CHORD, TENSION)


def _neighbours_inside(pc: int, chord: Chord) -> bool:
    """Is the pitch class a chromatic neighbour of one of the chord's inside notes?"""
    scale = chord.scale()
    return (pc + 1) % 12 in scale or (pc - 1) % 12 in scale


def hear(call: Phrase, chart: Chart, beats_per_bar: int | None = None) -> tuple[HeardNote, ...]:
    """Classify every note of `call` against the chord sounding at its onset.

    Args:
        call: the player's phrase (notes relative to `call.start`, beats).
        chart: the harmony (a chart, or a one-chord chart of the live-inferred harmony).
        beats_per_bar: metre; defaults to the chart's.

    Returns:
        One `HeardNote` per call note, in the call's order.
    """
    bpb = beats_per_bar or chart.beats_per_bar
    notes = call.notes
    if not notes:
        return ()
    vel_median = median(n.velocity for n in notes)
    onsets = [call.start + n.start for n in notes]
    # The next note that starts later (chords played as a dyad share an onset).
    nxt_index: list[int | None] = []
    for i, t in enumerate(onsets):
        j = next((k for k in range(i + 1, len(notes)) if onsets[k] > t + 1e-9), None)
        nxt_index.append(j)

    kinds: list[str] = []
    chords: list[Chord | None] = []
    for i, n in enumerate(notes):
        chord = chart.chord_at(onsets[i])
        chords.append(chord)
        kind = classify_pitch(n.pitch, chord)
        if kind == OUTSIDE and chord is not None and _neighbours_inside(n.pitch % 12, chord):
            j = nxt_index[i]
            if j is not None and _resolves(n, onsets[i], notes[j], onsets[j], chart):
                kind = APPROACH
        kinds.append(kind)

    outside_count: dict[int, int] = {}
    for n, kind in zip(notes, kinds):
        if kind == OUTSIDE:
            outside_count[n.pitch % 12] = outside_count.get(n.pitch % 12, 0) + 1

    out = []
    for i, n in enumerate(notes):
        bar = int(onsets[i] // bpb)
        beat = onsets[i] - bar * bpb
        salience, reasons = 0.0, ()
        if kinds[i] == OUTSIDE:
            salience, reasons = _salience(n, beat, bpb, vel_median, outside_count[n.pitch % 12])
        out.append(HeardNote(i, onsets[i], bar, beat, n.pitch, n.duration, n.velocity,
                             chords[i], kinds[i], salience, reasons))
    return tuple(out)


def _salience(note: Note, beat: float, bpb: int, vel_median: float, count: int) -> tuple[float, tuple[str, ...]]:
    """Salience (0..1) of an outside note and the reasons it stands out."""
    reasons: list[str] = []
    dur = min(1.0, note.duration / LONG_BEATS)
    if note.duration >= LONG_BEATS - 1e-9:
        reasons.append("long")
    metric, name = metric_weight(beat, bpb)
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
    """The outside note with the highest salience (the latest on a tie: it is freshest), or None."""
    best = None
    for h in heard:
        if h.is_outside and (best is None or h.salience >= best.salience - 1e-9):
            best = h
    return best
