"""Exchange edge cases a mutation audit found untested (each test fails under its mutation): the pace's outlier and short answers, a note just due when the answer lands, answers after close, a yield before a late or rest-led answer sounded, the seeds of successive jobs, the substitute handed to the band, and the call remembered when its answer is not played."""

from types import SimpleNamespace

import pytest

from improv.config import override
from improv.core.theory.notes import Note, Phrase
from improv.live.exchange import Exchange
from improv.partner.protocol import Result

from test_session import HandPartner, asked_by_hand, config, make


def answer_at(beat, offsets, length=8.0):
    return Phrase(tuple(Note(float(o), 60 + i, 0.5, 90) for i, o in enumerate(offsets)), beat, length)


def run(s, clock, until, step=0.01):
    t = clock.now()
    s.step()  # (at once, as the scheduler's thread would)
    while t < until:
        t = round(t + step, 6)
        clock.set(t)
        s.step()


def test_the_pace_leaves_out_one_slow_outlier():
    """Catches the pace reading the slowest answer instead of the second slowest: one hiccup placed every later answer late."""
    ex = Exchange(SimpleNamespace())
    ex.calls = 3
    ex.pace.extend([(1, 0.1), (2, 0.5), (3, 0.2)])
    assert ex.expected_ready_s(4.0) == pytest.approx(0.8)


def test_the_pace_of_an_answer_under_a_beat_is_a_beats():
    """Catches the pace scaled below one beat: a half-beat answer was expected in half a beat's time."""
    ex = Exchange(SimpleNamespace())
    ex.calls = 1
    ex.pace.append((1, 0.2))
    assert ex.expected_ready_s(0.5) == pytest.approx(0.2)


def test_a_note_due_within_the_late_threshold_when_the_answer_lands_is_played():
    """Catches the answer's notes left out as soon as they are due: a note 5 ms past (within the 10 ms a note may be late) was dropped."""
    s, clock, sink, partner, beat = asked_by_hand(1.0, 4.0)
    clock.set(s.time_of(beat + 1.0) + 0.005)
    s.exchange.on_result(Result(partner.jobs[-1].number, answer_at(beat + 1.0, [0, 1, 2, 3], 4.0)))
    assert s.exchange.left_out == 0
    run(s, clock, s.time_of(beat + 5.5))
    assert [p for _, p in sink.ons(channel=s.partner_ch)] == [60, 61, 62, 63]
    s.close()


def test_an_answer_arriving_after_close_is_not_played():
    """Catches `close()` ignored: an answer landing as the session ended was put on the timeline and played after it."""
    s, clock, sink, partner, beat = asked_by_hand(1.0, 4.0)
    s.exchange.close()
    n = partner.jobs[-1].number
    s.exchange.on_result(Result(n, answer_at(beat + 1.0, [0, 1, 2, 3], 4.0)))
    assert s.exchange.answers == 0 and s.feeder.pending() == 0 and partner.dropped_numbers == [n]
    run(s, clock, s.time_of(beat + 5.5))
    assert sink.ons(channel=s.partner_ch) == []
    s.close()


def test_a_yield_before_a_late_answer_sounded_takes_back_its_left_out_notes():
    """Catches the notes left out of an answer never played still counted: the summary blamed the partner for an answer nobody heard."""
    s, clock, sink, partner, beat = asked_by_hand(1.0, 8.0)
    clock.set(s.time_of(beat + 2.5))  # notes on beats +1 and +2 are past when it lands
    s.exchange.on_result(Result(partner.jobs[-1].number, answer_at(beat + 1.0, range(8))))
    assert s.exchange.left_out == 2 and s.exchange.answers == 1
    s.yield_to_player(s.time_of(beat + 2.7))  # before its first kept note (beat +3)
    assert s.exchange.answers == 0 and s.exchange.left_out == 0
    s.close()


def test_a_yield_in_an_answers_opening_rest_is_before_it_sounded():
    """Catches "not yet sounded" read from the answer's start instead of its first note: an answer opening on a rest, yielded to in that rest, was counted as played."""
    s, clock, sink, partner, beat = asked_by_hand(1.0, 8.0)
    n = partner.jobs[-1].number
    s.exchange.on_result(Result(n, answer_at(beat + 1.0, [2, 3, 4])))  # two beats of rest first
    s.yield_to_player(s.time_of(beat + 2.0))
    assert s.exchange.answers == 0 and partner.dropped_numbers == [n]
    run(s, clock, s.time_of(beat + 6.0))
    assert sink.ons(channel=s.partner_ch) == []
    s.close()


def test_each_call_gets_its_own_seed():
    """Catches every job seeded alike: the same call got the same answer each time."""
    s, clock, sink, partner, beat = asked_by_hand(1.0, 4.0)
    s.ask(Phrase.of([(67, 0.0, 0.5)], start=beat), s.chart, beat + 6.0, 4.0, clock.now())
    seeds = [job.settings.seed for job in partner.jobs]
    assert len(seeds) == 2 and seeds[0] != seeds[1]
    s.close()


def test_an_answers_substitute_chord_goes_to_the_band():
    """Catches the substitute kept from the rhythm section: the partner played over a chord the comping did not."""
    partner = HandPartner()
    s, clock, inq, sink, rec = make(override(config(), "band", comp=True), responder=partner)
    s.start()
    clock.set(s.t0 + 1.0)
    beat = s.beat_at(clock.now())
    s.ask(Phrase.of([(65, 0.0, 0.5)], start=beat - 1), s.chart, beat + 1.0, 4.0, clock.now())
    sub = (beat + 1.0, beat + 3.0, s.chart)
    s.exchange.on_result(Result(partner.jobs[-1].number, answer_at(beat + 1.0, [0, 1], 4.0), substitute=sub))
    assert list(s.exchange.band_overrides) == [sub]
    s.close()


def test_a_call_whose_answer_was_not_played_is_still_remembered():
    """Catches the call forgotten with its answer: the session memory (what a restarted partner learns from) lost every call the player interrupted."""
    s, clock, sink, partner, beat = asked_by_hand(1.0, 4.0)
    call = partner.jobs[-1].call
    s.yield_to_player(clock.now())  # the player comes back in before the answer lands
    s.exchange.on_result(Result(partner.jobs[-1].number, answer_at(beat + 1.0, [0, 1], 4.0)))
    assert s.exchange.answers == 0 and s.exchange.memory.phrases == (call,)
    s.close()
