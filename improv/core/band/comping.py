"""Rhythmic comping: voiced chord stabs in idiomatic patterns that leave the soloist room.

Each bar draws one pattern (Charleston, reverse Charleston, 2 and 4, a lone stab, a held
chord, a rest...) from a seeded generator that depends only on (seed, bar), so a span
rendered in pieces sounds the same as the span rendered whole. A waltz (3/4) draws from a
jazz waltz's own patterns (1 and the "and" of 2, 2 and 3, ...); a longer bar is comped in
groups of beats, each with its own pattern (5/4 as 3 + 2, 7/4 as 4 + 3). The busier the player
(notes per beat), the sparser the patterns. A chord change on the next downbeat may be
anticipated on the "and" of the last beat, voiced as the *next* chord and tied over the
barline; no other stab sounds past its bar.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from improv.core.theory.chart import Chart
from improv.core.theory.chords import Chord
from improv.core.theory.notes import Note, Phrase
from improv.core.theory.voicings import Voicing, next_voicing

# name -> ((onset in the bar, duration), ...) in beats, 4/4. Weights are for a quiet soloist.
PATTERNS: dict[str, tuple[tuple[float, float], ...]] = {
    "charleston": ((0.0, 1.2), (1.5, 0.5)),
    "reverse-charleston": ((0.5, 0.5), (2.0, 1.5)),
    "two-and-four": ((1.0, 0.6), (3.0, 0.6)),
    "and-of-two": ((1.5, 1.5),),
    "and-of-one-three": ((0.5, 0.4), (2.5, 0.9)),
    "one": ((0.0, 0.8),),
    "held": ((0.0, 3.5),),
    "three": ((2.0, 1.5),),
    "rest": (),
}
_BASE_WEIGHT = {
    "charleston": 3.0, "reverse-charleston": 1.5, "two-and-four": 1.5, "and-of-two": 2.0,
    "and-of-one-three": 1.0, "one": 1.5, "held": 1.0, "three": 1.0, "rest": 1.0,
}
# 3/4: a jazz waltz's comping, every stab inside its bar (the 4/4 patterns cut to three
# beats played no "2, 3" and held their chords over the bar line)
WALTZ_PATTERNS: dict[str, tuple[tuple[float, float], ...]] = {
    "one-and-of-two": ((0.0, 1.2), (1.5, 0.9)),  # the waltz's Charleston
    "two-three": ((1.0, 0.6), (2.0, 0.6)),  # 2 and 3, behind the bass's 1
    "and-of-two": ((1.5, 1.2),),
    "and-of-one-three": ((0.5, 0.4), (2.0, 0.8)),
    "one": ((0.0, 0.8),),
    "held": ((0.0, 2.6),),
    "two": ((1.0, 1.2),),
    "three": ((2.0, 0.8),),
    "rest": (),
}
_WALTZ_WEIGHT = {
    "one-and-of-two": 3.0, "two-three": 2.0, "and-of-two": 1.5, "and-of-one-three": 1.0, "one": 1.5,
    "held": 1.0, "two": 1.0, "three": 1.0, "rest": 1.0,
}
# two beats (2/4, and the last two of a 5/4 bar): a stab on one, on its "and", on two
TWO_PATTERNS: dict[str, tuple[tuple[float, float], ...]] = {
    "one": ((0.0, 0.8),), "and-of-one": ((0.5, 0.9),), "two": ((1.0, 0.6),), "one-two": ((0.0, 0.6), (1.0, 0.5)),
    "rest": (),
}
_TWO_WEIGHT = {"one": 1.5, "and-of-one": 1.5, "two": 1.5, "one-two": 1.0, "rest": 1.0}
BAR_END_GAP = 0.4  # a stab (but an anticipation) ends this long before the bar line at the latest, as in 4/4
_EPS = 1e-6


@dataclass(frozen=True)
class CompSettings:
    """How to comp.

    Attributes:
        style: voicing style, see `improv.core.theory.voicings.STYLES`.
        velocity: average MIDI velocity of a stab.
        anticipation: chance (0-1) of anticipating a chord change on the "and" of 4.
        reactivity: how strongly the player's density thins the comping (0 = not at all).
    """

    style: str = "rootless"
    velocity: int = 64
    anticipation: float = 0.35
    reactivity: float = 1.0


@dataclass(frozen=True)
class Hit:
    """One stab: onset on the timeline (beats), duration (beats), the chord it voices."""

    start: float
    duration: float
    chord: Chord


def beat_groups(beats_per_bar: int) -> tuple[int, ...]:
    """The groups of beats a bar is comped in, each with its own pattern: a bar of 4 beats or
    fewer is one; longer bars are grouped in threes and fours, a two where nothing else fits
    (5/4 as 3 + 2, as Take Five's vamp is felt; 6/4 as 3 + 3; 7/4 as 4 + 3). The 4/4 patterns
    cut to a bar of 5 left its beats 5 and on to an anticipation at most."""
    if beats_per_bar <= 4:
        return (beats_per_bar,)
    if beats_per_bar == 5:
        return (3, 2)
    if beats_per_bar % 3 == 0:
        return (3,) * (beats_per_bar // 3)
    return (4,) + beat_groups(beats_per_bar - 4)


def patterns_for(beats_per_bar: int) -> tuple[dict[str, tuple[tuple[float, float], ...]], dict[str, float]]:
    """(pattern -> stabs, pattern -> weight for a quiet soloist) of a group of beats
    (`beat_groups`): the waltz's for three, two beats' own for two, else the 4/4 ones
    (`plan_bar` keeps the stabs of a shorter bar inside it)."""
    if beats_per_bar == 2:
        return TWO_PATTERNS, _TWO_WEIGHT
    return (WALTZ_PATTERNS, _WALTZ_WEIGHT) if beats_per_bar == 3 else (PATTERNS, _BASE_WEIGHT)


def pattern_weights(density: float, reactivity: float = 1.0, beats_per_bar: int = 4) -> dict[str, float]:
    """Pattern -> weight for a player playing `density` notes per beat, in the metre's patterns.

    Each hit in a pattern costs more as the player gets busier; the rest gains weight.
    """
    busy = max(0.0, density) * reactivity
    patterns, base = patterns_for(beats_per_bar)
    out = {}
    for name, hits in patterns.items():
        w = base[name] * math.exp(-0.6 * busy * len(hits))
        if name == "rest":
            w *= 1.0 + 1.5 * busy
        elif name == "held":
            w *= 1.0 + 0.5 * busy  # a long pad stays out of the way
        out[name] = w
    return out


def _rng(seed: int, bar: int, salt: str = "") -> random.Random:
    return random.Random(f"comp:{seed}:{bar}:{salt}")


def _choose(rng: random.Random, weights: dict[str, float]) -> str:
    names = sorted(weights)
    return rng.choices(names, [weights[n] for n in names])[0]


def _anticipates(chart: Chart, bar: int, seed: int, density: float, s: CompSettings) -> bool:
    """Whether bar `bar` ends with an anticipation of the next bar's new chord."""
    bpb = chart.beats_per_bar
    nxt = (bar + 1) * bpb
    if chart.chord_at(nxt) is None or chart.chord_at(nxt - _EPS * 10) == chart.chord_at(nxt):
        return False
    busy = max(0.0, density) * s.reactivity
    return _rng(seed, bar, "ant").random() < s.anticipation * math.exp(-0.5 * busy)


def plan_bar(chart: Chart, bar: int, seed: int, density: float = 0.0, settings: CompSettings = CompSettings(),
             prev_density: float | None = None, prev_anticipated: bool | None = None) -> list[Hit]:
    """The stabs of timeline bar `bar` (from 0): pure, depends on (seed, bar, density).

    `prev_density`: the density the bar before was planned with (None: `density`). Whether
    that bar anticipated this one's chord depends on it: judged by this bar's density, a
    bar planned while the player was quiet and anticipated was struck again on the downbeat,
    on top of its held anticipation, once the player got busier.
    `prev_anticipated`: whether the bar before, as it was played, held this bar's chord
    over the bar line (None: as `chart` and `prev_density` say). A player who knows: the
    bar before was comped over another chart (a substitute from this bar on came later, so
    its anticipation voiced the written chord, or it had no chord change to anticipate)."""
    bpb = chart.beats_per_bar
    t0 = bar * bpb
    rng = _rng(seed, bar)
    onsets: list[tuple[float, float]] = []
    at = 0
    for k, group in enumerate(beat_groups(bpb)):  # (one group but in 5/4, 6/4, 7/4 ...: 3 + 2, 3 + 3, 4 + 3)
        g_rng = rng if k == 0 else _rng(seed, bar, f"group{k}")
        name = _choose(g_rng, pattern_weights(density, settings.reactivity, group))
        # (a group shorter than the pattern's: its stabs end before the bar line, as they do in 4/4,
        # and before the next group's first beat)
        room = group - (BAR_END_GAP if at + group == bpb else 0.1)
        onsets += [(at + o, min(d, room - o)) for o, d in patterns_for(group)[0][name] if o < room]
        at += group
    before = density if prev_density is None else prev_density
    if prev_anticipated is None:
        prev_anticipated = bar > 0 and _anticipates(chart, bar - 1, seed, before, settings)
    if prev_anticipated:
        onsets = [(o, d) for o, d in onsets if o >= 1.5]  # the downbeat was played early
    busy = max(0.0, density) * settings.reactivity
    # A chord that starts inside the bar and no stab touches: usually mark it.
    for span in chart.changes_between(t0, t0 + bpb):
        rel = span.start - t0
        if rel > _EPS and not any(rel - 0.5 - _EPS <= o < rel + 1.0 for o, _ in onsets):
            if rng.random() < 0.8 * math.exp(-0.6 * busy):
                onsets.append((rel, min(1.0, span.duration)))
    if _anticipates(chart, bar, seed, density, settings):
        onsets = [(o, d) for o, d in onsets if o < bpb - 1.0] + [(bpb - 0.5, 1.5)]
    onsets.sort()
    hits: list[Hit] = []
    for i, (o, d) in enumerate(onsets):
        t = t0 + o
        span = chart.span_at(t)
        chorus = (t // chart.length) * chart.length
        change = span.end + chorus  # the next chord change after t
        if change - t <= 0.5 + _EPS:  # an anticipation: voice the chord that is coming
            chord = chart.chord_at(change)
            stop = t + d
        else:
            chord = span.chord
            stop = min(t + d, change)
        if i + 1 < len(onsets):
            stop = min(stop, t0 + onsets[i + 1][0] - 0.05)
        if chord is not None and stop - t > 0.1:
            hits.append(Hit(t, stop - t, chord))
    return hits


def comp(
    chart: Chart,
    start: float,
    end: float,
    seed: int,
    density: float = 0.0,
    prev: Voicing | None = None,
    settings: CompSettings = CompSettings(),
    prev_density: float | None = None,
    prev_anticipated: bool | None = None,
) -> tuple[Phrase, Voicing | None]:
    """Comping for timeline beats [start, end).

    Args:
        chart: the harmony (a substitute chart where the partner reharmonises).
        start, end: the span on the timeline, in beats (bar-aligned for whole patterns).
        seed: the session's seed; the rhythm depends only on (seed, bar, density).
        density: the player's recent notes per beat; busier means sparser comping.
        prev: the last voicing played, to lead from.
        settings: style, velocity, anticipation, reactivity.
        prev_density: the density the bar before `start` was comped with (None: `density`),
            so that an anticipation it played is not struck again (see `plan_bar`).
        prev_anticipated: whether the bar before `start` held this bar's chord over the bar
            line as it was played (None: as `chart` says; see `plan_bar`).

    Returns:
        (the phrase placed at `start`, notes relative to it; the last voicing played).
    """
    bpb = chart.beats_per_bar
    notes: list[Note] = []
    first = int(math.floor(start / bpb + _EPS))
    for bar in range(first, int(math.ceil(end / bpb - _EPS))):
        for hit in plan_bar(chart, bar, seed, density, settings, prev_density if bar == first else None,
                            prev_anticipated if bar == first else None):
            if not start - _EPS <= hit.start < end - _EPS:
                continue
            prev = next_voicing(hit.chord, prev, settings.style)
            vrng = _rng(seed, bar, f"vel{hit.start:.3f}")
            accent = 6 if (hit.start % 1.0) > _EPS else 0  # off-beat stabs speak a little louder
            base = settings.velocity + accent + vrng.randint(-6, 6)
            for k, p in enumerate(prev):
                vel = base + (4 if k == len(prev) - 1 else 0) + vrng.randint(-3, 3)
                notes.append(Note(hit.start - start, p, hit.duration, max(1, min(127, vel))))
    return Phrase.of(notes, start=start, length=end - start), prev
