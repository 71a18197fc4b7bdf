"""A walking bass: one note a beat, chord tones on chord onsets, approach notes into changes.

Each beat's note is drawn, with a generator seeded by (seed, beat), from weights that
multiply:

- what the beat is for: a chord onset takes a chord tone (the root most often, or the
  slash bass; the line's first note is the root); the last beat before a change approaches the next root by half step
  (above or below), whole step or fifth, and the change lands on that root; the beats in
  between take chord and scale tones;
- how the line moves: interval-class weights (steps and small leaps), no repeated notes,
  a note outside the chord's scale only as a passing or neighbour note (reached and left
  by step), a pull towards where the next root lies so the approach can reach it;
- the register (E1-G3) and a gentle pull to its centre.

The degree, interval and approach weights come from `WalkStats`: hand-set defaults, or
statistics learned from the bass lines of the Weimar Jazz Database beat tables
(`improv/data/bass_walk.json`, written by `python3 -m improv.core.band.bass_learn`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from improv.core.band.comping import beat_groups
from improv.core.tables import read_table
from improv.core.theory.chart import Chart
from improv.core.theory.chords import Chord
from improv.core.theory.notes import Note, Phrase
from improv.errors import DataError

LOW, HIGH = 28, 55  # E1 .. G3, sounding pitch
CENTER = 40.0
STATS_FILE = Path(__file__).resolve().parents[2] / "data" / "bass_walk.json"
QUALITY_CLASS = {
    "": "maj", "maj7": "maj", "6": "maj", "+maj7": "maj",
    "7": "dom", "+7": "dom", "7alt": "dom", "7b5": "dom", "7sus4": "dom", "sus4": "dom", "+": "dom",
    "sus2": "maj", "5": "maj",
    "m": "min", "m7": "min", "m6": "min", "mmaj7": "min",
    "m7b5": "hdim", "dim": "dim", "dim7": "dim",
}
APPROACH_ICS = (-5, -2, -1, 1, 2, 5)  # next root minus approach note, as an interval class
_EPS = 1e-6


def interval_class(semitones: int) -> int:
    """A signed interval folded into -6..5 (a fourth up is 5, a fifth up is -5)."""
    return (semitones + 6) % 12 - 6


def _uniform12(values: dict[int, float]) -> tuple[float, ...]:
    return tuple(values.get(i, 0.0) for i in range(12))


@dataclass(frozen=True)
class WalkStats:
    """Weights for the walking line (relative; they need not sum to 1).

    Attributes:
        onset_degree: quality class -> 12 weights of the interval above the root on a
            chord's first beat.
        interior_degree: quality class -> 12 weights for the beats inside a chord.
        step: 12 weights of the interval class from the previous note, indexed ic + 6.
        approach: 12 weights of (next root - approach note) interval class, indexed ic + 6.
        source: where the weights come from.
    """

    onset_degree: dict[str, tuple[float, ...]]
    interior_degree: dict[str, tuple[float, ...]]
    step: tuple[float, ...]
    approach: tuple[float, ...]
    source: str = "defaults"

    @classmethod
    def defaults(cls) -> "WalkStats":
        """Hand-set weights: roots on onsets, chord tones then scale tones, steps."""
        onset = {q: _uniform12({0: 8.0, 7: 1.0, 3: 0.5, 4: 0.5}) for q in set(QUALITY_CLASS.values())}
        inner = {q: tuple(1.0 for _ in range(12)) for q in set(QUALITY_CLASS.values())}
        step = {1: 1.0, 2: 1.0, 3: 0.7, 4: 0.6, 5: 0.5, 6: 0.1}
        step_w = tuple(step.get(abs(i - 6), 0.0) for i in range(12))
        appr = {-1: 1.0, 1: 1.0, -2: 0.5, 2: 0.5, 5: 0.5, -5: 0.5}
        return cls(onset, inner, step_w, tuple(appr.get(i - 6, 0.0) for i in range(12)))

    @classmethod
    def from_dict(cls, data: dict) -> "WalkStats":
        return cls(
            {k: tuple(v) for k, v in data["onset_degree"].items()},
            {k: tuple(v) for k, v in data["interior_degree"].items()},
            tuple(data["step"]),
            tuple(data["approach"]),
            str(data.get("source", "learned")),
        )

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "onset_degree": {k: list(v) for k, v in sorted(self.onset_degree.items())},
            "interior_degree": {k: list(v) for k, v in sorted(self.interior_degree.items())},
            "step": list(self.step),
            "approach": list(self.approach),
        }


@lru_cache(maxsize=8)
def load_walk_stats(path: str | None = None) -> WalkStats:
    """The learned weights (`improv/data/bass_walk.json`), or the defaults if absent."""
    p = Path(path) if path else STATS_FILE
    if not p.exists():
        return WalkStats.defaults()
    remake = "python -m improv.core.band.bass_learn DATA --out FILE"
    data = read_table(p, "the bass's walk", remake)
    try:
        return WalkStats.from_dict(data)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise DataError(f"{p}: the bass's walk is malformed ({type(e).__name__}: {e}); rewrite it with `{remake}`") from None


@dataclass(frozen=True)
class BassSettings:
    """How to walk.

    Attributes:
        velocity: average MIDI velocity.
        length: note length as a fraction of a beat (legato walking ~0.9).
        low, high: the MIDI range (sounding pitch).
        stats: the weights; None = the learned file (or the defaults when it is absent).
    """

    velocity: int = 88
    length: float = 0.9
    low: int = LOW
    high: int = HIGH
    stats: WalkStats | None = field(default=None, compare=False)


def _qclass(chord: Chord) -> str:
    return QUALITY_CLASS.get(chord.quality, "dom")


def _scale_weight(chord: Chord, pc: int) -> float:
    """Chord tones first, then the chord's scale, chromatic notes rarely."""
    if pc in chord.chord_tones():
        return 1.0
    if pc in chord.scale():
        return 0.45
    return 0.06


def _pick(rng: random.Random, weighted: list[tuple[int, float]]) -> int:
    weighted = [(p, w) for p, w in weighted if w > 0]
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for p, w in weighted:
        x -= w
        if x <= 0:
            return p
    return weighted[-1][0]


def _nearest(pitch_class: int, near: float, low: int, high: int) -> int:
    cands = [p for p in range(low, high + 1) if p % 12 == pitch_class % 12]
    return min(cands, key=lambda p: (abs(p - near), p))


def walk_note(
    chart: Chart, beat: int, prev: int | None, seed: int, settings: BassSettings = BassSettings(),
    stats: WalkStats | None = None,
) -> int | None:
    """The bass pitch on timeline beat `beat` (an integer beat), or None under no chord."""
    st = stats or settings.stats or load_walk_stats()
    span = chart.span_at(beat)
    chord = span.chord
    if chord is None:
        return None
    rng = random.Random(f"bass:{seed}:{beat}")
    lo, hi = settings.low, settings.high
    near = CENTER if prev is None else prev
    chorus = (beat // chart.length) * chart.length
    # A chord's first beat, and every downbeat of a chord held for bars, takes a chord tone.
    onset = abs(span.start + chorus - beat) < _EPS or prev is None
    downbeat = beat % chart.beats_per_bar == 0
    change = span.end + chorus
    nxt = chart.chord_at(change)
    beats_left = change - beat
    q = _qclass(chord)
    if onset or downbeat:
        if onset and chord.bass is not None:
            return _nearest(chord.bass, near, lo, hi)
        if prev is None:  # the line's first note (bar 1 after the count-in, a jump, the bass turned on)
            return _nearest(chord.root, near, lo, hi)
        if onset and prev is not None and _approached(chart, beat):
            # the beat before led to this root (a half or whole step, a fourth or fifth away): land on it
            ic = interval_class(chord.root - prev)
            if ic in APPROACH_ICS:  # (an octave away where that root lies outside the range)
                return _nearest(chord.root, prev + ic, lo, hi)
        degree_w = st.onset_degree.get(q) or WalkStats.defaults().onset_degree[q]
        tones = sorted({(pc - chord.root) % 12 for pc in chord.chord_tones()})
        cands = []
        for p in range(max(lo, int(near) - 9), min(hi, int(near) + 9) + 1):
            deg = (p - chord.root) % 12
            if deg not in tones:
                continue
            move = abs(p - near)
            w = (degree_w[deg] if onset else 1.0) * (1.0 if move <= 7 else 0.3) * (0.4 if move == 0 else 1.0)
            cands.append((p, w * _register(p)))
        if not onset and prev is not None and prev % 12 not in chord.scale():
            # a passing note inside the chord goes on by step into the downbeat (see below)
            cands = [c for c in cands if abs(c[0] - prev) <= 2] or cands
        if cands and sum(w for _, w in cands) > 0:
            return _pick(rng, cands)
        return _nearest(chord.root, near, lo, hi)
    assert prev is not None
    target = None if nxt is None else (nxt.bass if nxt.bass is not None else nxt.root)
    inside = chord.scale()
    cands = []
    for p in range(max(lo, prev - 7), min(hi, prev + 7) + 1):
        if p == prev:
            continue
        w = st.step[interval_class(p - prev) + 6] * _register(p)
        # a note outside the chord's scale is a passing or neighbour note: reached and left by step
        # (one leapt to or from is a wrong note, B over Gm7 from G); the approach leaves it as it must
        leaves = prev % 12 not in inside and abs(p - prev) > 2
        if abs(beats_left - 1.0) < _EPS and target is not None:
            ic = interval_class(target - p)
            if ic not in APPROACH_ICS:
                continue
            w *= st.approach[ic + 6] * (0.05 if leaves else 1.0)
        else:
            if leaves or (p % 12 not in inside and abs(p - prev) > 2):
                continue
            inner = st.interior_degree.get(q) or WalkStats.defaults().interior_degree[q]
            w *= inner[(p - chord.root) % 12] * (_scale_weight(chord, p % 12) ** (1.0 if st.source == "defaults" else 0.5))
            if target is not None:  # keep the next root within reach of the approach
                dist = abs(_nearest(target, p, lo, hi) - p)
                w *= 1.0 if dist <= 2 + 2.5 * (beats_left - 1) else 0.4
        cands.append((p, w))
    if not cands or sum(w for _, w in cands) <= 0:
        return _nearest(chord.root, prev, lo, hi)
    return _pick(rng, cands)


def _approached(chart: Chart, beat: int) -> bool:
    """Whether the note on `beat - 1` was an approach into the chord starting on `beat`
    (it lay inside a longer chord and off its downbeats, where `walk_note` approaches)."""
    b = beat - 1
    if b < 0 or b % chart.beats_per_bar == 0:
        return False
    span = chart.span_at(b)
    return abs(span.start + (b // chart.length) * chart.length - b) > _EPS


def _register(p: int) -> float:
    """A gentle pull towards the middle of the bass range."""
    d = abs(p - CENTER)
    return 1.0 if d <= 8 else max(0.15, 1.0 - 0.12 * (d - 8))


def beat_accent(beat: int, beats_per_bar: int) -> int:
    """The velocity a beat's note gets over the line's own (timeline beat `beat`). In 4/4 on 2
    and 4, swing's backbeat; in any other metre on the first beat of each group the comping
    feels the bar in (`beat_groups`: a waltz's 1, 5/4's 1 and 4, 7/4's 1 and 5), the last beat
    of a group of three lighter, leading into what comes next."""
    k = beat % beats_per_bar
    if beats_per_bar == 4:
        return 3 if k in (1, 3) else 0
    size = beats_per_bar
    for size in beat_groups(beats_per_bar):
        if k < size:
            break
        k -= size
    return 3 if k == 0 else -2 if size == 3 and k == 2 else 0


def walk(
    chart: Chart, start: float, end: float, seed: int, prev: int | None = None,
    settings: BassSettings = BassSettings(),
) -> tuple[Phrase, int | None]:
    """The walking line over timeline beats [start, end) (one note per whole beat).

    Args:
        chart: the harmony (a substitute chart where the partner reharmonises).
        start, end: the span, in beats.
        seed: the session's seed; the line depends only on (seed, beat, previous note).
        prev: the last note played before `start`, to continue from.

    Returns:
        (the phrase placed at `start`, notes relative to it; the last pitch played).
    """
    stats = settings.stats or load_walk_stats()
    notes = []
    b = int(-(-(start - _EPS) // 1))
    while b < end - _EPS:
        p = walk_note(chart, b, prev, seed, settings, stats)
        if p is not None:
            rng = random.Random(f"bassvel:{seed}:{b}")
            vel = settings.velocity + rng.randint(-5, 5) + beat_accent(b, chart.beats_per_bar)
            notes.append(Note(b - start, p, settings.length, max(1, min(127, vel))))
        prev = p
        b += 1
    return Phrase.of(notes, start=start, length=end - start), prev
