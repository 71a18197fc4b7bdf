"""Both responders honour `Constraints.favour_until`: a favoured pitch class is welcome
early in the answer, not over every later chord."""

import pytest

from improv.core.theory.chart import parse_chart
from improv.core.respond.markov import MarkovResponder
from improv.core.theory.notes import Phrase
from improv.core.respond.base import AnswerSettings, Constraints

CHART = parse_chart("Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7")
CALL = Phrase.of([(60, 0, 0.5), (64, 0.5, 0.5), (67, 1, 0.5), (71, 1.5, 0.5), (72, 2, 1)])
OUTSIDE = 1  # C# over Cmaj7


def shares(responder, until):
    early = late = early_hit = late_hit = 0
    for seed in range(12):
        c = Constraints(favour_pcs=frozenset({OUTSIDE}), strength=1.0, favour_until=until)
        ans = responder.answer(CALL, CHART, AnswerSettings(start=4.0, length=16.0, seed=seed, constraints=c))
        for n in ans.notes:
            if n.start < 4.0:
                early += 1
                early_hit += n.pitch % 12 == OUTSIDE
            else:
                late += 1
                late_hit += n.pitch % 12 == OUTSIDE
    return early_hit / max(1, early), late_hit / max(1, late)


def responders():
    yield MarkovResponder(seed=1)
    try:
        from improv.core.model.responder import ModelResponder

        yield ModelResponder.load(None)
    except Exception:  # noqa: BLE001 - no shipped checkpoint here: the Markov case still runs
        pass


@pytest.mark.parametrize("responder", list(responders()), ids=lambda r: r.name)
def test_favour_stops_at_favour_until(responder):
    early, late = shares(responder, until=4.0)
    _, late_everywhere = shares(responder, until=float("inf"))
    assert early > 0.15  # favoured in the first bar
    assert late < late_everywhere / 2  # and much less after it than when favoured throughout


CHANGES = parse_chart("Cmaj7 | Cmaj7 | F7 | Bb7 | Ebmaj7 | Ab7")


def late_chord_tone_share(responder, changes: float) -> float:
    """The share of notes after the first bar that are chord tones of the chord under them."""
    hits = total = 0
    for seed in range(12):
        c = Constraints(favour_pcs=frozenset({OUTSIDE}), strength=0.3, favour_until=4.0, changes=changes)
        ans = responder.answer(CALL, CHANGES, AnswerSettings(start=4.0, length=20.0, seed=seed, constraints=c))
        for n in ans.notes:
            if n.start >= 4.0:
                chord = CHANGES.chord_at(4.0 + n.start)
                total += 1
                hits += n.pitch % 12 in chord.chord_tones()
    return hits / max(1, total)


@pytest.mark.parametrize("responder", list(responders()), ids=lambda r: r.name)
def test_changes_leads_back_to_the_chord_tones_after_favour_until(responder):
    plain, led = late_chord_tone_share(responder, 0.0), late_chord_tone_share(responder, 0.75)
    assert led > plain + 0.08, (plain, led)


def test_a_register_that_cannot_hold_the_outside_note_does_not_embrace_it():
    """With [responder] low = high = 60 the plan embraced a C# it could not play: the
    explanation said "answer opens on Db" over a chart re-harmonised as Db7 (the band plays
    it) or "answer starts on C#", and the partner played C throughout. A register that holds
    the pitch class still embraces it."""
    from improv.core.embrace.explain import explain
    from improv.core.embrace.plan import embraced_answer
    from improv.core.embrace.strategies import EmbraceSettings
    from improv.core.model.responder import ModelResponder

    call = Phrase.of([(64, 0, 0.5), (67, 0.5, 0.5), (61, 1, 1.5), (64, 2.5, 0.5), (60, 3, 1)])
    chart = parse_chart("Cmaj7 | Cmaj7")
    model = ModelResponder.load(None)
    embraced = 0
    for seed in range(6):
        for low, high in ((60, 60), (60, 63)):
            s = AnswerSettings(start=6.0, length=4.0, seed=seed, low=low, high=high)
            answer, plan = embraced_answer(model, call, chart, s, EmbraceSettings(daring=1.0))
            if low == high:
                assert not plan.handled and plan.chart is chart and not plan.constraints.opening
                assert all("let it pass" in line for line in explain(plan, chart))
                assert {n.pitch for n in answer.notes} == {60}
            else:
                embraced += bool(plan.handled) and 61 in answer.pitches()
    assert embraced >= 3


def test_a_register_under_an_octave_opens_only_with_notes_it_can_play():
    """In a register of 60-63 the motif around a C# over Cmaj7 was "answer opens with G-C#-E"
    and was played C-C#-C (the decoder can only clamp a G or an E into 60-63); a resolution to
    a note the register has none of was named and played as another. The opening the plan
    names is the opening played."""
    from improv.core.embrace.plan import embraced_answer
    from improv.core.embrace.strategies import EmbraceSettings
    from improv.core.model.responder import ModelResponder

    call = Phrase.of([(64, 0, 0.5), (67, 0.5, 0.5), (61, 1, 1.5), (64, 2.5, 0.5), (60, 3, 1)])
    chart = parse_chart("Cmaj7 | Cmaj7")
    model = ModelResponder.load(None)
    strategies = set()
    for low, high in ((60, 63), (61, 62)):
        held = {p % 12 for p in range(low, high + 1)}
        for seed in range(12):
            s = AnswerSettings(start=6.0, length=4.0, seed=seed, low=low, high=high)
            answer, plan = embraced_answer(model, call, chart, s, EmbraceSettings(daring=1.0))
            for h in plan.handled:
                strategies.add(h.strategy)
                assert {n.pitch % 12 for n in h.opening} <= held, (h.strategy, h.opening)
                played = [n.pitch % 12 for n in answer.notes[:len(h.opening)]]
                assert played == [n.pitch % 12 for n in h.opening], (h.strategy, played, h.opening)
    assert "motif" in strategies
