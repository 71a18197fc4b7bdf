"""Embrace the mistake: the four ways to build an answer on the player's outside note.

`improv.core.embrace.plan.plan_answer` picks the note and one of these (`EmbraceSettings`
says which it may choose from, and how daring it is); each gives the answer's forced opening, the
chart it plays over and the pitch classes it favours:

- motif: the note with the interval/rhythm cell around it opens the answer, then is
  repeated or sequenced; the cell's pitch classes are favoured after that;
- reharmonise: a nearby chord in which the note is a chord tone or a good tension
  (`improv.core.embrace.reharm`) sounds over the answer's first chord span (at most a bar), then
  the written changes return; the answer opens on the note;
- resolve: the answer opens on the note and steps a half step to a chord tone, so in
  hindsight it was a leading tone;
- echo: the answer starts on the same note, rhythmically displaced.

All positions are in beats; every random choice comes from the plan's seeded generator.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from improv.core.theory.chart import Chart
from improv.core.theory.chords import Chord
from improv.core.embrace.hearing import OUTSIDE, HeardNote, classify_pitch
from improv.core.theory.notes import Note, Phrase
from improv.core.embrace.reharm import Substitute, candidates, reach_for, substitute
from improv.errors import ConfigError

MODES = ("embrace", "guide", "off")
STRATEGIES = ("motif", "reharmonise", "resolve", "echo")
# How often each strategy is picked when it applies: reharmonising makes the note right
# for everyone (the band follows), so it comes up a little more often.
STRATEGY_WEIGHT = {"motif": 1.0, "reharmonise": 1.5, "resolve": 1.0, "echo": 1.0}


@dataclass(frozen=True)
class EmbraceSettings:
    """How the partner treats the player's outside notes (the `[embrace]` config section)."""

    mode: str = "embrace"  # "embrace" (build on them), "guide" (steer back inside), "off"
    daring: float = 0.5  # 0..1: how readily it embraces and how far substitute chords reach
    strategies: tuple[str, ...] = STRATEGIES  # the strategies it may choose from
    strength: float = 0.3  # 0..1: how strongly favoured pitch classes weigh in embrace mode

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"embrace.mode: expected one of {MODES}, found {self.mode!r}")
        if not 0.0 <= self.daring <= 1.0:
            raise ConfigError(f"embrace.daring: expected a number from 0 to 1, found {self.daring}")
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"embrace.strength: expected a number from 0 to 1, found {self.strength}")
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if bad or not self.strategies:
            raise ConfigError(f"embrace.strategies: expected some of {STRATEGIES}, found {list(self.strategies)}")


@dataclass(frozen=True)
class Handled:
    """One heard note and what the answer does with it.

    Attributes:
        heard: the note as heard (bar, beat, pitch, class, salience, reasons).
        strategy: "motif", "reharmonise", "resolve", "echo", or "avoid" (guide mode).
        substitute: the substitute chord the answer opens over, or None.
        substitute_span: (start, end) timeline beats of the substitute, or None.
        substitute_kind: e.g. "dominant of Dm7", or "".
        opening: the forced opening (starts relative to the answer's start, beats).
        detail: words for the explanation: motif "repeats it" / "sequences it up a whole
            step" / "" (stated once: no room for more); reharmonise the note's role ("chord tone",
            "tension"); resolve "up" / "down"; echo "displaced by an eighth".
    """

    heard: HeardNote
    strategy: str
    substitute: Chord | None = None
    substitute_span: tuple[float, float] | None = None
    substitute_kind: str = ""
    opening: tuple[Note, ...] = ()
    detail: str = ""


def mode_from_cc(value: int) -> str:
    """A controller value (0-127) -> mode: 0-42 off, 43-85 guide, 86-127 embrace."""
    return "off" if value < 43 else ("guide" if value < 86 else "embrace")


def next_mode(mode: str) -> str:
    """The mode after `mode` when the mode key is pressed: embrace -> guide -> off -> embrace."""
    return MODES[(MODES.index(mode) + 1) % len(MODES)] if mode in MODES else MODES[0]


def register_has(low: int, high: int, pc: int) -> bool:
    """Whether the answer's register [low, high] (either way round) has a note of pitch class `pc`."""
    return any(p % 12 == pc for p in range(max(0, min(low, high)), min(127, max(low, high)) + 1))


@dataclass
class StrategyContext:
    """What a strategy builds from: the call, how it was heard, the note to build on (`target`),
    the chart, the answer's start and length (beats), the settings, the plan's seeded
    generator, the answer's register and which call notes lie under the line."""

    call: Phrase
    heard: tuple[HeardNote, ...]
    target: HeardNote
    chart: Chart
    start: float
    length: float
    settings: EmbraceSettings
    rng: random.Random
    low: int
    high: int
    under: tuple[bool, ...] = ()  # per call note: under the line (a chord's lower notes, the left hand)

    def pitch(self, pitch: int | None = None) -> int:
        """A pitch (default: the target's) moved by octaves into [low, high]."""
        p = self.target.pitch if pitch is None else pitch
        while p < self.low and p + 12 <= 127:
            p += 12
        while p > self.high and p - 12 >= 0:
            p -= 12
        return p

    def first_span(self) -> tuple[float, float]:
        """The answer's first chord span, to the bar line at most (an answer that starts on
        beat 2 has its substitute until the bar line, not until beat 2 of the next bar: the
        band changed harmony on a weak beat) and at most the answer (beats)."""
        span = self.chart.changes_between(self.start, self.start + self.length)[0]
        bpb = self.chart.beats_per_bar
        bar_end = (math.floor(self.start / bpb + 1e-9) + 1) * bpb
        return span.start, min(span.end, bar_end)

    def substitutes(self) -> list[Substitute]:
        """The substitutes for the answer's first chord that make the note fit, within the
        daring's reach; none when the note fits the written chord there already (the C# of a
        call over Cmaj7 is A7's third: another chord would make it a tension, for nothing)."""
        a, b = self.first_span()
        if classify_pitch(self.target.pc, self.chart.chord_at(a)) != OUTSIDE:
            return []
        reach = reach_for(self.settings.daring)
        subs = candidates(self.target.pc, self.chart.chord_at(a), self.chart.chord_at(b))
        return [s for s in subs if s.reach <= reach]

    def resolutions(self, at: float) -> list[int]:
        """The chord tones a half step from the note, of the chord at answer beat `at`."""
        chord = self.chart.chord_at(self.start + at)
        if chord is None:
            return []
        p = self.pitch()  # (a resolution the register has no note of would be played as another note)
        return [q for q in (p + 1, p - 1) if q % 12 in chord.chord_tones() and 0 <= q <= 127
                and register_has(self.low, self.high, q % 12)]


def _motif(ctx: StrategyContext) -> tuple[Handled, Chart, set[int]]:
    # the cell is the line's (a chord's lower notes are harmony: stated, they would sound as a cluster)
    notes = [n for k, n in enumerate(ctx.call.notes)
             if k == ctx.target.index or not (ctx.under and ctx.under[k])]
    i = next(k for k, n in enumerate(notes) if n is ctx.call.notes[ctx.target.index])
    lo, hi = (i - 1, i + 1) if 0 < i < len(notes) - 1 else ((i, i + 2) if i == 0 else (i - 2, i))
    lo, hi = max(0, lo), min(len(notes) - 1, hi)
    cell = list(notes[lo:hi + 1])
    # Keep only neighbours close in time: a cell is a gesture, not two phrases (each note
    # within a beat of the next one toward the note embraced).
    j = next(k for k, n in enumerate(cell) if n is notes[i])
    first, last = j, j
    while first > 0 and _one_gesture(cell[first - 1], cell[first]):
        first -= 1
    while last < len(cell) - 1 and _one_gesture(cell[last], cell[last + 1]):
        last += 1
    cell, j = cell[first:last + 1], j - first
    # (a note whose pitch class the register has none of would be played as another: in 60-63 the
    # motif "G-C#-E" was played C-C#-C)
    kept = [k for k, n in enumerate(cell) if k == j or register_has(ctx.low, ctx.high, n.pitch % 12)]
    cell, j = [cell[k] for k in kept], kept.index(j)
    while cell[j].start - cell[0].start >= ctx.length - 1e-9:  # (the note itself must be stated: the cell
        cell, j = cell[1:], j - 1  # starts later, at the latest on it, where the answer is too short for all of it)
    t0 = cell[0].start
    shift = _cell_shift(ctx, [n.pitch for n in cell])
    stated = []
    for k, n in enumerate(cell):
        if n.start - t0 >= ctx.length - 1e-9:
            break  # (past the answer's span: it would be said, never played)
        nxt = cell[k + 1].start - t0 if k + 1 < len(cell) else None
        dur = min(n.duration, 2.0, (nxt - (n.start - t0)) if nxt is not None else 2.0)
        stated.append(Note(n.start - t0, _octave_into_range(n.pitch + shift), max(dur, 0.125), n.velocity))
    span = -(-max(n.end for n in stated) * 2 // 1) / 2  # rounded up to an eighth
    opening, detail = list(stated), ""
    if 2 * span <= min(ctx.length / 2, float(ctx.chart.beats_per_bar)) + 1e-9:
        move = _sequence_move(ctx, stated, span)
        opening += [Note(n.start + span, _octave_into_range(n.pitch + move), n.duration, n.velocity) for n in stated]
        detail = "repeats it" if move == 0 else \
            f"sequences it {'up' if move > 0 else 'down'} {_INTERVAL_WORDS[abs(move)]}"
    favour = {n.pitch % 12 for n in opening}
    return Handled(ctx.target, "motif", opening=tuple(opening), detail=detail), ctx.chart, favour


def _one_gesture(a: Note, b: Note) -> bool:
    """Whether note `b` follows `a` within one gesture: within a beat of its end and two of
    its start (held notes chained by their ends alone ran whole notes four beats apart into
    one 'cell' the answer could not state)."""
    return b.start - a.end <= 1.0 and b.start - a.start <= 2.0


def _cell_shift(ctx: StrategyContext, pitches: list[int]) -> int:
    """The octaves (in semitones) the whole cell moves by: the target's way into the
    answer's range, or an octave either side of it when that keeps more of the cell in the
    range (each note folded on its own would turn the player's contour over)."""
    base = ctx.pitch() - ctx.target.pitch
    target = ctx.target.pitch

    def outside(shift: int) -> int:
        return sum(not ctx.low <= p + shift <= ctx.high for p in pitches)

    options = [base] + [base + m for m in (-12, 12) if ctx.low <= target + base + m <= ctx.high]
    return min(options, key=outside)  # (ties keep the target's own way in: it comes first)


def _octave_into_range(pitch: int) -> int:
    """`pitch` moved by octaves into MIDI's 0-127 (its pitch class kept: a cell's notes
    stay the notes the explanation names)."""
    while pitch < 0:
        pitch += 12
    while pitch > 127:
        pitch -= 12
    return pitch


_INTERVAL_WORDS = {1: "a half step", 2: "a whole step", 3: "a minor third", 4: "a major third", 5: "a fourth"}


def _sequence_move(ctx: StrategyContext, stated: list[Note], at: float) -> int:
    """How far to move the cell's second statement (semitones): a repeat or a sequence
    that fits the chords under it best, as a player sequences a motif through changes; one
    that keeps the cell in the answer's range (where the cell is in it), or the partner
    folds the moved notes an octave: "sequences it up a minor third" played a sixth down."""
    def fit(move: int) -> int:
        score = 0
        for n in stated:
            chord = ctx.chart.chord_at(ctx.start + at + n.start)
            if chord is not None and (n.pitch + move) % 12 in chord.scale():
                score += 2 if (n.pitch + move) % 12 in chord.chord_tones() else 1
        return score

    moves = tuple(m for m in (0, 2, -2, -1, 1, 3, -3, 5, -5, 4, -4)
                  if all(ctx.low <= n.pitch + m <= ctx.high for n in stated)) or (0,)
    best = max(fit(m) for m in moves)
    return ctx.rng.choice([m for m in moves if fit(m) == best][:3])  # the plainest of the best


def _reharmonise(ctx: StrategyContext) -> tuple[Handled, Chart, set[int]]:
    subs = ctx.substitutes()
    daring = ctx.settings.daring
    weights = [(3.0 if s.role == "chord tone" else 1.0) * (daring ** (s.reach - 1) + 0.05) for s in subs]
    sub = ctx.rng.choices(subs, weights)[0]
    a, b = ctx.first_span()
    dur = min(max(ctx.target.duration, 0.5), b - a, 2.0)
    opening = (Note(0.0, ctx.pitch(), dur, ctx.target.velocity),)
    handled = Handled(ctx.target, "reharmonise", sub.chord, (a, b), sub.describe(), opening, sub.role)
    return handled, substitute(ctx.chart, a, b, sub.chord), {ctx.target.pc}


def _resolve(ctx: StrategyContext) -> tuple[Handled, Chart, set[int]]:
    onset, dur = ctx.rng.choice(((0.0, 0.5), (0.5, 0.5), (0.0, 1.0)))
    targets = ctx.resolutions(onset + dur)
    if not targets:  # the chord under a later landing has no half-step neighbour
        onset, dur = 0.0, 0.5
        targets = ctx.resolutions(0.5)  # plan_answer offers "resolve" only when this exists
    target = ctx.rng.choice(targets)
    p = ctx.pitch()
    # at the edge of the range the pair moves an octave together (else the decoder folds the
    # resolution alone: "resolves down a half step" played as a leap of a major seventh)
    for move in (-12, 12):
        if not ctx.low <= target <= ctx.high and ctx.low <= target + move <= ctx.high \
                and ctx.low <= p + move <= ctx.high:
            p, target = p + move, target + move
    v = ctx.target.velocity
    opening = (Note(onset, p, dur, v), Note(onset + dur, target, 1.0, v))
    detail = "up" if target > p else "down"
    return Handled(ctx.target, "resolve", opening=opening, detail=detail), ctx.chart, {ctx.target.pc, target % 12}


def _echo(ctx: StrategyContext) -> tuple[Handled, Chart, set[int]]:
    bpb = ctx.chart.beats_per_bar
    choices = [d for d in (0.5, 1.0, 1.5)
               if abs(((ctx.start + d) % bpb) - ctx.target.beat) > 0.1 and d < ctx.length - 0.25]
    shift = ctx.rng.choice(choices or [0.5])
    dur = min(ctx.target.duration, 2.0, max(0.25, ctx.length - shift))
    opening = (Note(shift, ctx.pitch(), dur, ctx.target.velocity),)
    word = {0.5: "an eighth", 1.0: "a beat", 1.5: "a beat and a half"}[shift]
    detail = f"displaced by {word}"
    return Handled(ctx.target, "echo", opening=opening, detail=detail), ctx.chart, {ctx.target.pc}


# each strategy: context -> (what it did with the note, the chart to play over, pitch classes to favour)
STRATEGY_BUILDERS = {"motif": _motif, "reharmonise": _reharmonise, "resolve": _resolve, "echo": _echo}
