"""A line's loops (`improv.core.theory.loops`): the runs counted as the line goes, the note held
back past a run's length, and both partners' answers over looped calls as they were before the
count was shared (pinned note for note: `(pitch, onset tick)`, 12 ticks a beat)."""

from __future__ import annotations

import random

import pytest

from improv.core.model.responder import DEFAULT_CHECKPOINT, ModelResponder
from improv.core.respond.base import AnswerSettings
from improv.core.respond.markov import MarkovResponder
from improv.core.theory.chart import parse_chart
from improv.core.theory.loops import LOOP_FROM, LOOP_NATS, NO_LOOPS, held_back, loops_after, loops_of
from improv.core.theory.notes import Phrase

CHART = parse_chart("Dm7 | G7 | Cmaj7 | % | Cm7 | F7 | Bbmaj7 | %")


def test_the_runs_a_line_ends_in_and_the_note_held_back():
    assert loops_of([]) == NO_LOOPS and held_back(NO_LOOPS) == {}
    assert loops_of([60, 60, 60])[1][0] == 3 and loops_of([60, 62, 60])[1][:2] == (1, 3)  # a-a-a; a-b-a
    assert loops_of([60, 64, 67, 64, 60, 64]) == ((67, 64, 60, 64), (1, 3, 3, 6))  # C-E-G-E-C-E: G goes on
    assert held_back(loops_of([60, 64, 67, 64] * 4)) == {60: LOOP_NATS}  # the cell's 16th note: C held back
    assert held_back(loops_of([60] * 9)) == {60: 2 * LOOP_NATS}  # (period 1 and the longer ones: the larger)
    assert held_back(loops_of([60, 62] * 5)) == {60: 3 * LOOP_NATS} and LOOP_FROM[2] == 8
    assert held_back(loops_of([60, 62, 64, 65] * 3 + [67])) == {}


def _counted_back(pitches: list[int]) -> dict[int, float]:
    """The note held back, counted from the line's end (as the Markov partner counted it alone)."""
    out: dict[int, float] = {}
    n = len(pitches)
    for k, start in LOOP_FROM.items():
        if n <= k:
            continue
        run = k
        while run < n and pitches[n - 1 - (run - k)] == pitches[n - 1 - run]:
            run += 1
        if run >= start:
            out[pitches[n - k]] = max(LOOP_NATS * (run - start + 1), out.get(pitches[n - k], 0.0))
    return out


def test_counted_note_by_note_as_counted_back_from_the_end():
    rng = random.Random(0)
    for _ in range(300):  # lines of few pitches, cells repeated: every period's runs, long and broken
        cell = [rng.choice((60, 62, 64)) for _ in range(rng.randint(1, 5))]
        line = [cell[i % len(cell)] if rng.random() < 0.9 else rng.choice((60, 62, 64)) for i in range(rng.randint(0, 60))]
        loops = NO_LOOPS
        for i, p in enumerate(line):
            loops = loops_after(loops, p)
            assert held_back(loops) == _counted_back(line[:i + 1]), line[:i + 1]


def looped(cell: tuple[int, ...]) -> Phrase:
    """Two bars of sixteenths going round `cell`."""
    return Phrase.of([(cell[i % len(cell)], 0.25 * i, 0.25) for i in range(32)], start=0.0)


MARKOV = {  # seed 2, 8 beats: the figure taken up, held back once past its length, and left
    (72,): [(72, 6), (72, 9), (72, 12), (72, 15), (72, 18), (72, 21), (72, 24), (72, 27), (71, 30), (69, 33),
            (66, 36), (69, 42), (71, 48), (71, 51), (71, 54), (74, 57), (71, 60), (69, 63), (66, 66), (64, 69),
            (64, 72), (64, 75), (64, 78), (64, 81), (67, 84)],
    (72, 74): [(72, 6), (69, 9), (67, 12), (69, 15), (67, 18), (69, 21), (67, 24), (69, 27), (67, 30), (69, 33),
               (67, 36), (64, 42), (66, 45), (64, 48), (66, 51), (64, 54), (66, 57), (64, 60), (66, 63), (64, 66),
               (66, 69), (64, 72), (61, 75), (60, 78), (64, 81), (67, 84)],
    (60, 64, 67, 64): [(60, 6), (64, 9), (67, 12), (64, 15), (60, 18), (64, 21), (67, 24), (64, 27), (60, 30),
                       (64, 33), (67, 36), (64, 39), (67, 42), (64, 45), (60, 48), (64, 51), (67, 54), (64, 57),
                       (60, 60), (64, 63), (67, 66), (64, 69), (60, 72), (64, 75), (67, 78), (64, 81), (60, 84)],
}


@pytest.mark.parametrize("cell", list(MARKOV), ids=["repeat", "trill", "C-E-G-E"])
def test_the_markov_partners_answers_over_a_looped_call_are_as_before(cell):
    r = MarkovResponder(seed=1)
    call = looped(cell)
    r.learn(call, CHART, tempo=140.0)
    a = r.answer(call, CHART, AnswerSettings(start=9.0, length=8.0, seed=2, tempo=140.0))
    assert [(n.pitch, round(n.start * 12)) for n in a.notes] == MARKOV[cell]


MODEL = {  # seed 2, 8 beats on the grid, the call in the session too; drawn again with the session cache of pitch
    # runs (6 Dec 2026): the repeat's first 16 notes and the trill's first 13 as before, the run broken off after them
    (72,): [(72, 3), (72, 6), (72, 9), (72, 12), (72, 18), (72, 21), (72, 24), (72, 27), (72, 30), (72, 33),
            (72, 36), (72, 40), (72, 44), (72, 46), (72, 50), (72, 52), (68, 56), (65, 58), (70, 62), (72, 66),
            (74, 68), (72, 70), (72, 75), (72, 78), (72, 81), (72, 84)],
    (72, 74): [(72, 3), (74, 6), (72, 9), (74, 12), (72, 14), (74, 16), (72, 20), (74, 22), (72, 24), (74, 28),
               (72, 32), (74, 36), (72, 39), (71, 42), (75, 45), (74, 48), (78, 51), (72, 54), (69, 57), (74, 60),
               (71, 63), (74, 66), (72, 69), (74, 72), (72, 75), (74, 78), (72, 81), (74, 84), (72, 87), (74, 90),
               (72, 93)],
}


@pytest.fixture(scope="module")
def shipped() -> ModelResponder:
    if not DEFAULT_CHECKPOINT.exists():
        pytest.skip(f"no shipped weights at {DEFAULT_CHECKPOINT}")
    return ModelResponder.load()


@pytest.mark.parametrize("cell", list(MODEL), ids=["repeat", "trill"])
def test_the_models_answers_over_a_looped_call_are_as_before(shipped, cell):
    call = looped(cell)
    s = AnswerSettings(start=9.0, length=8.0, seed=2, tempo=160.0, feel=0.0, history=(call,))
    a = shipped.answer(call, CHART, s)
    assert [(n.pitch, round(n.start * 12)) for n in a.notes] == MODEL[cell]
