"""Live harmony inference: the chord and key a player implies, from the notes they play.

Used when no chart is given. Each note adds weight to its pitch class; the weight grows
with duration and velocity, is larger on the beat, and fades with age. The current chord
is the template (maj7, m7, 7, m7b5, dim7, 6, m6, 7sus4 over all 12 roots) that explains
the recent weight best; the key is the Krumhansl-style major or minor profile that
correlates best with a longer window. Both change only when a rival is clearly better
(hysteresis), so the display and the partner do not flicker note by note.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from typing import Callable

import numpy as np

from improv.core.theory.chart import Chart, ChordSpan
from improv.core.theory.chords import QUALITIES, Chord
from improv.core.theory.line import reach, under_the_line
from improv.core.theory.line import strikes as struck_together
from improv.core.theory.notes import Phrase

# Krumhansl-style key profiles, tonic first. These are Temperley's (2001) Kostka-Payne
# values: shaped like Krumhansl & Kessler's probe-tone ratings, but they punish notes
# outside the scale harder, which keeps a ii-V-I in C from reading as G major.
KEY_PROFILE_MAJOR = (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400)
KEY_PROFILE_MINOR = (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330)

# Key names as a jazz musician writes them.
MAJOR_KEY_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")

# The chord kinds the tracker considers, with a small prior (jazz favours 7th chords).
TEMPLATE_QUALITIES: dict[str, float] = {
    "m7": 0.04, "7": 0.04, "maj7": 0.035, "m7b5": 0.02, "dim7": 0.01,
    "6": 0.015, "m6": 0.015, "7sus4": 0.01,
}

_ROOT_BONUS = 0.35  # the root counts a little more than the other chord tones
_TENSION_WEIGHT = 0.05  # a 9th or 13th neither helps nor hurts much
_OUTSIDE_WEIGHT = -0.8  # a note outside the chord counts against it
_MISSING_PENALTY = 0.12  # per chord tone never heard, times the total weight
_CHORD_SWITCH_MARGIN = 0.12  # a rival chord must beat the current one by this share
_KEY_SWITCH_MARGIN = 0.08  # a rival key must beat the current correlation by this much
WINDOW_BARS = 2  # the chord is heard over this many bars of the metre (the key over four times as many)
VOICING_HOLDS_BARS = 2  # a voicing's chord is heard this many bars at most (a line may go on to other chords)
VOICING_WEIGHT = 2.0  # a voicing's notes under the line count this much more than the rest in the chord they spell


@dataclass(frozen=True, slots=True)
class _Event:
    pitch: int
    beat: float
    duration: float
    velocity: int


def _templates() -> list[tuple[Chord, tuple[float, ...], float, frozenset[int]]]:
    out = []
    for quality, prior in TEMPLATE_QUALITIES.items():
        for root in range(12):
            chord = Chord(root, quality)
            tones = chord.chord_tones()
            tensions = {(root + i) % 12 for i in QUALITIES[quality][1]}
            weights = []
            for pc in range(12):
                if pc == root:
                    weights.append(1.0 + _ROOT_BONUS)
                elif pc in tones:
                    weights.append(1.0)
                elif pc in tensions:
                    weights.append(_TENSION_WEIGHT)
                else:
                    weights.append(_OUTSIDE_WEIGHT)
            out.append((chord, tuple(weights), prior, tones))
    return out


_TEMPLATES = _templates()
# the same as arrays, for `voiced_changes` (a call's voicings, at its end: on the conductor)
_T_WEIGHTS = np.array([t[1] for t in _TEMPLATES])
_T_PRIORS = np.array([t[2] for t in _TEMPLATES])
_T_TONES = np.array([[pc in t[3] for pc in range(12)] for t in _TEMPLATES], dtype=float)


def _scores(w: list[float], low: int | None) -> dict[Chord, float]:
    """Each template chord's score for the pitch-class weights `w` (`low`: the lowest
    note's pitch class, often the root, or None)."""
    w = list(w)
    if low is not None:
        w[low] += 0.15 * sum(w)
    total = sum(w)
    scores: dict[Chord, float] = {}
    for chord, weights, prior, tones in _TEMPLATES:
        s = sum(x * y for x, y in zip(w, weights))
        missing = sum(1 for pc in tones if w[pc] <= 1e-9)
        scores[chord] = s + total * (prior - _MISSING_PENALTY * missing)
    return scores


def _best(w: np.ndarray, low: int) -> Chord:
    """The best template chord for the pitch-class weights `w` (as `_scores`, at once)."""
    w = w.copy()
    w[low] += 0.15 * w.sum()
    total = w.sum()
    scores = _T_WEIGHTS @ w + total * (_T_PRIORS - _MISSING_PENALTY * (_T_TONES @ (w <= 1e-9)))
    return _TEMPLATES[int(np.argmax(scores))][0]


def key_name(tonic: int, minor: bool) -> str:
    """`(2, False) -> 'D major'`, `(9, True) -> 'A minor'`."""
    names = MINOR_KEY_NAMES if minor else MAJOR_KEY_NAMES
    return f"{names[tonic % 12]} {'minor' if minor else 'major'}"


def _correlation(a: list[float], b: tuple[float, ...]) -> float:
    ma, mb = sum(a) / 12.0, sum(b) / 12.0
    da = [x - ma for x in a]
    db = [x - mb for x in b]
    num = sum(x * y for x, y in zip(da, db))
    den = math.sqrt(sum(x * x for x in da) * sum(y * y for y in db))
    return num / den if den > 0 else 0.0


class HarmonyTracker:
    """Infers the current chord and key from the player's recent notes.

    Pure and deterministic: the caller passes each note's timeline position in beats.

    Args:
        window_beats: how far back (beats) notes count for the chord; the key looks
            four times further back. None: `WINDOW_BARS` bars of the metre (6 beats in 3/4,
            10 in 5/4: a fixed 8 beats reached back into a third bar of a waltz, and a jazz
            waltz's chord of two bars was still heard over the two before it).
        beats_per_bar: metre, for the window and the downbeat weighting.
    """

    def __init__(self, window_beats: float | None = None, beats_per_bar: int = 4) -> None:
        self.beats_per_bar = max(1, int(beats_per_bar))
        if window_beats is None:
            window_beats = WINDOW_BARS * self.beats_per_bar
        self.window_beats = max(0.5, float(window_beats))
        self.key_window_beats = 4.0 * self.window_beats
        self._events: list[_Event] = []
        self._now = 0.0
        self._chord: Chord | None = None
        self._key: tuple[int, bool] | None = None

    def reset(self) -> None:
        """Forget everything heard."""
        self._events.clear()
        self._now = 0.0
        self._chord = None
        self._key = None

    def add(self, pitch: int, beat: float, duration: float, velocity: int) -> None:
        """Hear one note: MIDI `pitch`, onset `beat` (timeline beats), `duration` (beats),
        MIDI `velocity`. Notes may arrive slightly out of order; bad values are ignored."""
        try:
            pitch, beat, duration, velocity = int(pitch), float(beat), float(duration), int(velocity)
        except (TypeError, ValueError):
            return
        if not (0 <= pitch <= 127 and math.isfinite(beat) and math.isfinite(duration)) or velocity <= 0:
            return
        self._events.append(_Event(pitch, beat, max(0.0, duration), min(127, velocity)))
        self._now = max(self._now, beat)
        horizon = self._now - self.key_window_beats
        if self._events[0].beat < horizon:
            self._events = [e for e in self._events if e.beat >= horizon]
        self._update()

    def current(self) -> tuple[Chord | None, str]:
        """The most likely current chord and the key name, e.g. `(Dm7, "C major")`;
        `(None, "")` before any note."""
        if self._key is None:
            return self._chord, ""
        return self._chord, key_name(*self._key)

    # -- inside ------------------------------------------------------------------------

    def _weight(self, e: _Event, window: float) -> float:
        age = self._now - e.beat
        if age > window:
            return 0.0
        # The chord looks at the last few beats; the key fades more slowly.
        tau = 0.5 * window if window <= self.window_beats else window
        recency = math.exp(-age / tau)
        dur = min(max(e.duration, 0.1), 2.0) ** 0.5
        vel = (e.velocity / 100.0) ** 0.5
        frac = e.beat - math.floor(e.beat + 1e-6)
        if frac < 0.05 or frac > 0.95:  # on the beat
            bar_pos = round(e.beat) % self.beats_per_bar
            metric = 1.6 if bar_pos == 0 else 1.3
        else:
            metric = 1.0
        return recency * dur * vel * metric

    def _profile(self, window: float) -> list[float]:
        w = [0.0] * 12
        for e in self._events:
            w[e.pitch % 12] += self._weight(e, window)
        return w

    def _chord_scores(self) -> dict[Chord, float]:
        w = self._profile(self.window_beats)
        # The lowest recent note is often the root (a bass note or the start of an arpeggio).
        recent = [e for e in self._events if self._now - e.beat <= self.window_beats]
        return _scores(w, min(e.pitch for e in recent) % 12 if recent else None)

    def _update(self) -> None:
        scores = self._chord_scores()
        best = max(scores, key=scores.__getitem__)
        total = sum(self._profile(self.window_beats))
        if self._chord is None or self._chord not in scores:
            self._chord = best
        elif scores[best] > scores[self._chord] + _CHORD_SWITCH_MARGIN * total:
            self._chord = best
        self._update_key()

    def _update_key(self) -> None:
        # Square roots: which notes were played matters more than how often.
        w = [math.sqrt(x) for x in self._profile(self.key_window_beats)]
        if sum(w) <= 0:
            return
        corr: dict[tuple[int, bool], float] = {}
        for tonic in range(12):
            rotated = w[tonic:] + w[:tonic]
            corr[(tonic, False)] = _correlation(rotated, KEY_PROFILE_MAJOR)
            corr[(tonic, True)] = _correlation(rotated, KEY_PROFILE_MINOR)
        best = max(corr, key=corr.__getitem__)
        if self._key is None or corr[best] > corr[self._key] + _KEY_SWITCH_MARGIN:
            self._key = best


def voiced_changes(call: Phrase, tempo: float | None = None, beats_per_bar: int = 4) -> list[ChordSpan]:
    """The chords the player's own voicings spell under a call, on the timeline (beats):
    from each voicing struck to the next, the last to the call's end, each for at most
    `VOICING_HOLDS_BARS` bars of `beats_per_bar` beats; empty when the call strikes none.

    A voicing is notes struck together (`strikes`: a rolled chord included) with three
    pitch classes, or two under a higher note: a left hand's chord or shell, a block chord
    (an octave, or a line in thirds, is not one). It sounds from the beat it is heard on
    (struck within the on-beat tolerance of one) until the next voicing, as a pianist's left
    hand comps; its chord is the template that best explains its notes under the line
    (weighted `VOICING_WEIGHT`) and the notes played over it, its lowest note the likely
    root. So a line is heard over the chords its own left hand plays, not over the one
    chord inferred at the call's end (an Ab over a left-hand G7 was "outside over Cmaj7")."""
    from improv.core.embrace.hearing import on_beat_tolerance

    notes = sorted(call.notes, key=lambda n: (n.start, n.pitch))
    if len(notes) < 2:
        return []
    known = tempo is not None and math.isfinite(tempo) and tempo > 0
    tol = on_beat_tolerance(tempo if known else None)
    under = under_the_line(notes, tempo if known else None)
    spread = reach(tempo if known else None)[0]
    strikes: list[tuple[float, list[int]]] = []
    for c in struck_together(notes, tempo if known else None):  # (a rolled chord's notes included)
        pcs = {notes[i].pitch % 12 for i in c}
        if len(pcs) >= 3 or len({notes[i].pitch % 12 for i in c if under[i]}) >= 2:
            at = call.start + notes[c[0]].start
            beat = round(at)
            strikes.append((float(beat) if abs(at - beat) <= tol + 1e-9 else at, c))
    if not strikes:
        return []
    end = call.start + max(call.length, max(n.end for n in notes))
    starts = [call.start + n.start for n in notes]  # (in onset order)
    weight = [(min(max(n.duration, 0.1), 2.0) * min(127, max(1, n.velocity)) / 100.0) ** 0.5 for n in notes]
    out: list[ChordSpan] = []
    for k, (a, c) in enumerate(strikes):
        b = min(strikes[k + 1][0] if k + 1 < len(strikes) else end, a + VOICING_HOLDS_BARS * beats_per_bar)
        if b <= a + 1e-9:
            continue
        w = np.zeros(12)
        voicing = set(c)
        over = range(bisect_left(starts, a - spread - 1e-9), bisect_left(starts, b - 1e-9))  # played over it
        for i in voicing.union(over):
            w[notes[i].pitch % 12] += weight[i] * (VOICING_WEIGHT if i in voicing and under[i] else 1.0)
        chord = _best(w, min(notes[i].pitch for i in c) % 12)
        if out and out[-1].chord == chord and abs(out[-1].end - a) < 1e-9:
            out[-1] = ChordSpan(out[-1].start, b - out[-1].start, chord)
        else:
            out.append(ChordSpan(a, b - a, chord))
    return out


__all__ = ["HarmonyTracker", "key_name", "voiced_changes"]


def voiced_chart(chart: Chart, spans: list[ChordSpan], end: float, one_chord: Callable[[Chord], Chart]) -> Chart:
    """`chart` (a chord inferred or guessed) with the chords the player's voicings spell
    (`voiced_changes`) laid over their spans; a call that ends over a voicing (`end`, its
    beat) is answered over it: the chart is then `one_chord` of that chord (a left hand's A7,
    where the line's C naturals made the inferred chord Am7). The free jam and `improv
    respond` hear a call with no chart so."""
    if spans and spans[-1].end >= end - 1e-9:
        chart = one_chord(spans[-1].chord)
    for span in spans:
        if span.chord != chart.chord_at(span.start):
            chart = chart.with_overlay(span.start, span.end, span.chord)
    return chart
