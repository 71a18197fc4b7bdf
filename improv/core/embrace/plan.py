"""Embrace the mistake: plan the answer around the player's most salient outside note.

`plan_answer` hears the call (`improv.core.embrace.hearing`), picks the outside note that
stands out most and, if it is salient enough for the daring, one strategy to build on it
(`improv.core.embrace.strategies`: motif, reharmonise, resolve, echo). It stands apart
from the strategies because it is what every caller uses (the live session, trading,
`improv respond`, the benchmark): the plan, the modes' other two ways (guide, off) and
the constraints the strategies' choices become.

Strategies act only through the two levers every responder honours inside generation:
the `Constraints` (a forced opening it continues from, favoured / avoided pitch classes)
and the chart it plays over. Besides the note (or cell), embrace favours the chord tones
of the answer's first bar (of the substitute where there is one): the answer builds on
the note and otherwise sits firmly in the harmony, so the note sounds meant. After the
first bar it leads back to the written changes: the chord tones of each chord it plays
over are favoured (`Constraints.changes`, less so the more daring). Mode `guide` is the
usual correcting partner (avoid the outside pitch classes, favour chord tones); `off`
changes nothing. All positions are in beats; the choice of strategy is deterministic per
seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from improv.core.embrace.hearing import OUTSIDE, UNDER, HeardNote, classify_pitch, hear, most_salient, off_the_line
from improv.core.embrace.strategies import (STRATEGY_BUILDERS, STRATEGY_WEIGHT, EmbraceSettings, Handled, StrategyContext,
                                            register_has)
from improv.core.respond.base import AnswerSettings, Constraints, Responder
from improv.core.theory.chart import Chart
from improv.core.theory.notes import Phrase

GUIDE_STRENGTH = 0.9  # guide mode steers firmly away from the outside notes...
GUIDE_CHANGES = 0.5  # ...and after the first bar sits on the chord tones of each chord (as embrace leads back at daring 0.5)
FIRST_BAR_CHORD_STRENGTH = 0.3  # the chord tones of an embraced answer's first bar (the note itself: `strength`)


@dataclass(frozen=True)
class AnswerPlan:
    """What the responder plays over and under which constraints, and why.

    Attributes:
        chart: the harmony for the answer (the original, or with a substitute chord).
        constraints: the opening / favour / avoid wishes for the responder.
        handled: what was done with which heard note (empty: nothing special).
        mode: the mode that made the plan.
        answer_start: where the answer begins on the timeline, in beats.
        heard: every call note as heard.
        threshold: the salience a note needed to be embraced (`embrace_threshold`; above 1 at
            daring 0, where nothing is), for the explanation of a note let pass.
    """

    chart: Chart
    constraints: Constraints = field(default_factory=Constraints)
    handled: tuple[Handled, ...] = ()
    mode: str = "off"
    answer_start: float = 0.0
    heard: tuple[HeardNote, ...] = ()
    threshold: float = 0.0


def embrace_threshold(daring: float) -> float:
    """The salience an outside note needs before it is embraced (above 1: never)."""
    return 2.0 if daring <= 0 else 0.9 - 0.5 * daring


def plan_answer(
    call: Phrase,
    chart: Chart,
    answer_start: float,
    answer_length: float,
    settings: EmbraceSettings,
    seed: int,
    low: int = 48,
    high: int = 84,
    tempo: float | None = None,
) -> AnswerPlan:
    """Plan how the next answer treats the call's outside notes.

    Args:
        call: the player's phrase (beats; notes relative to `call.start`).
        chart: the harmony (looping chart, or a one-chord chart of live-inferred harmony).
        answer_start: timeline beat where the answer starts.
        answer_length: its length in beats.
        settings: mode, daring, allowed strategies.
        seed: the same inputs and seed give the same plan.
        low, high: the MIDI range the answer's forced notes stay in.
        tempo: the tempo the call was played at (bpm), when known (`hear` scales its
            on-beat tolerance and counts durations in seconds with it).
    """
    base = AnswerPlan(chart, Constraints(), (), settings.mode, answer_start)
    if settings.mode == "off" or not call.notes or answer_length <= 0:
        return base
    heard = hear(call, chart, tempo=tempo)
    base = AnswerPlan(chart, Constraints(), (), settings.mode, answer_start, heard, embrace_threshold(settings.daring))
    if settings.mode == "guide":
        return _guide(base, heard, chart, answer_start, answer_length)
    target = most_salient(heard)
    if target is None or target.salience < embrace_threshold(settings.daring) - 1e-9:
        return base
    if not register_has(low, high, target.pc):
        return base  # (a register without the note's pitch class: the answer could not play it, and the
        # explanation said "answer opens on C#" over a band re-harmonised for it, the partner playing C)
    rng = random.Random(seed * 7919 + 104729)
    ctx = StrategyContext(call, heard, target, chart, answer_start, answer_length, settings, rng, low, high,
                   tuple(off_the_line(call.notes, tempo)))
    options = [s for s in settings.strategies if s != "reharmonise" or ctx.substitutes()]
    options = [s for s in options if s != "resolve" or ctx.resolutions(0.5)]
    if not options:
        return base
    strategy = rng.choices(options, [STRATEGY_WEIGHT.get(o, 1.0) for o in options])[0]
    handled, plan_chart, favour = STRATEGY_BUILDERS[strategy](ctx)
    # The note is welcome over the answer's first bar, where the strategy made it fit (not
    # over every later chord it would clash), as strongly as `strength` says; the chord tones
    # of that bar beside it at a steady weight, so that the answer otherwise sits in the
    # harmony and the note stands out among them by `strength` alone.
    constraints = Constraints(handled.opening, frozenset(favour), frozenset(), settings.strength,
                              chord_pcs=frozenset(_first_bar_chord_tones(plan_chart, answer_start, answer_length)),
                              chord_strength=FIRST_BAR_CHORD_STRENGTH,
                              favour_until=float(plan_chart.beats_per_bar), changes=lead_back(settings.daring))
    return AnswerPlan(plan_chart, constraints, (handled,), settings.mode, answer_start, heard)


def lead_back(daring: float) -> float:
    """How strongly an embraced answer returns to the changes after its first bar:
    0.75 at daring 0 down to 0.25 at daring 1."""
    return 0.75 - 0.5 * min(1.0, max(0.0, daring))


def embraced_answer(
    responder: Responder, call: Phrase, chart: Chart, settings: AnswerSettings, embrace: EmbraceSettings
) -> tuple[Phrase, AnswerPlan]:
    """Plan how the answer treats the call's outside notes, then answer: the one path the
    live session, trading, `improv respond` and the benchmark all take.

    The responder plays over the plan's chart (a substitute where it re-harmonises) under
    the plan's constraints; the seed, range and span come from `settings`.
    """
    plan = plan_answer(call, chart, settings.start, settings.length, embrace, settings.seed,
                       settings.low, settings.high, settings.tempo)
    answer = responder.answer(call, plan.chart, replace(settings, constraints=plan.constraints))
    return answer, plan


def _guide(base: AnswerPlan, heard: tuple[HeardNote, ...], chart: Chart, start: float, length: float) -> AnswerPlan:
    """Avoid every outside pitch class of the call's line (a voicing's note under it is
    harmony, as in embrace) where it clashes; favour the chord tones of the first bar, then
    of each chord the answer plays over (a wrong A over Bb7 is steered away, and the answer
    still plays the third of F7)."""
    by_pc: dict[int, HeardNote] = {}
    for h in heard:
        if h.is_outside and UNDER not in h.reasons and (h.pc not in by_pc or h.salience > by_pc[h.pc].salience):
            by_pc[h.pc] = h
    if not by_pc:
        return base
    avoid = frozenset(by_pc)
    # (favoured over the whole first bar: with two chords in it, not the one chord's tones that clash
    # with the other, or guide favoured the b9 of the tonic in rhythm changes' "Bb6 G7")
    favour = _first_bar_chord_tones(chart, start, length, inside_every=True)
    handled = tuple(Handled(h, "avoid") for h in sorted(by_pc.values(), key=lambda h: h.onset))
    constraints = Constraints((), frozenset(favour) - avoid, avoid, GUIDE_STRENGTH, avoid_everywhere=False,
                              favour_until=float(chart.beats_per_bar), changes=GUIDE_CHANGES)
    return AnswerPlan(base.chart, constraints, handled, "guide", start, heard)


def _first_bar_chord_tones(chart: Chart, start: float, length: float, inside_every: bool = False) -> set[int]:
    """Chord tones of the chords sounding in the answer's first bar (beats from `start`);
    `inside_every`: only those that are inside every one of them (they are favoured over
    the whole bar: over "Bb6 G7" the B of G7 is the b9 of Bb6, over "Dm7 G7" the C of Dm7
    the natural 11 of G7)."""
    chords = [span.chord for span in chart.changes_between(start, start + min(length, chart.beats_per_bar))
              if span.chord is not None]
    out: set[int] = set()
    for chord in chords:
        out |= chord.chord_tones()
    if inside_every:
        out = {pc for pc in out if all(classify_pitch(pc, chord) != OUTSIDE for chord in chords)}
    return out


def explain(plan: AnswerPlan, chart: Chart) -> list[str]:
    """Explanation lines (see `improv.core.embrace.explain.explain`)."""
    from improv.core.embrace.explain import explain as _explain

    return _explain(plan, chart)


def explain_json(plan: AnswerPlan) -> list[dict]:
    """One JSON-ready record per handled note (see `improv.core.embrace.explain.explain_json`)."""
    from improv.core.embrace.explain import explain_json as _explain_json

    return _explain_json(plan)
