"""Answers drafted in the player's rest: the call the rest would end (the segmenter, trading's
turn), the job handed over with the read, and the partner answering it at once when the
call does end so, with the answer it would have decoded then."""

from dataclasses import replace

import pytest

from improv.config import Config
from improv.core.listen.segment import Segmenter, SegmentSettings
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Phrase
from improv.live.clock import ManualClock
from improv.live.inputqueue import InputQueue
from improv.live.session import Session
from improv.partner.core import PartnerCore
from improv.partner.protocol import Job, Read, answer_settings

from test_session import CALL, HandPartner, asked_by_hand, config, make, play

CHART = parse_chart("Dm7 | G7 | Cmaj7 | Cmaj7")


# --- the segmenter: the call a silence will end -------------------------------------------

def test_the_call_a_silence_will_end_is_the_one_the_gap_cuts():
    seg = Segmenter(SegmentSettings(gap_beats=1.0, lead_beats=0.1))
    assert seg.call_if_silent() is None
    seg.note_on(60, 0.0, 90)
    assert seg.call_if_silent() is None  # a key held: no silence yet
    seg.note_off(60, 0.4)
    seg.note_on(64, 0.5, 80)
    seg.note_off(64, 1.3)
    peek = seg.call_if_silent()
    assert peek is not None and seg.call_if_silent() == peek  # changes nothing
    assert seg.tick(2.0) is None and seg.in_call
    cut = seg.tick(peek.detected)
    assert cut == peek
    assert cut.phrase.pitches() == [60, 64] and cut.answer_start == 3.0


def test_no_call_is_foreseen_under_the_pedal_or_past_the_longest_call():
    seg = Segmenter(SegmentSettings(gap_beats=1.0, max_call_bars=1, beats_per_bar=4))
    seg.note_on(60, 0.0)
    seg.note_off(60, 0.5)
    seg.control(64, 127, 0.6)
    assert seg.call_if_silent() is None  # the pedal holds the call open
    seg.control(64, 0, 0.7)
    assert seg.call_if_silent() is not None
    seg.note_on(62, 1.0)  # (the same call: within the gap)
    seg.note_off(62, 3.5)
    assert seg.call_if_silent() is None  # the bar's cap cuts it first, at 4.0 (reason "max")
    assert seg.tick(4.0).reason == "max"


# --- the partner: a draft is the answer, and only for that job ----------------------------

def _job(call: Phrase, number: int = 1, start: float = 4.0, seed: int = 5, tempo: float = 120.0) -> Job:
    cfg = Config()
    return Job(number, call, CHART, answer_settings(start, 8.0, seed, cfg.responder, 4, tempo), cfg.embrace)


CALL_PHRASE = Phrase.of([(62, 0.0, 0.5, 90), (65, 0.5, 0.5, 80), (69, 1.0, 0.5, 85), (72, 1.5, 1.0, 100)])


@pytest.fixture(scope="module")
def model():
    from improv.core.model.responder import ModelResponder

    return ModelResponder.load()


def test_a_drafted_answer_is_the_one_decoded_at_the_calls_end(model):
    job = _job(CALL_PHRASE)
    plain = PartnerCore(model)
    plain.read(Read(CALL_PHRASE, CHART))
    want = plain.answer(job)
    assert want.answer is not None and not want.drafted

    core = PartnerCore(model)
    assert core.drafts
    core.read(Read(CALL_PHRASE, CHART, draft=job))
    got = core.answer(job)
    assert got.drafted
    assert got.answer == want.answer and got.lines == want.lines and got.substitute == want.substitute
    assert core.memory.phrases == plain.memory.phrases  # remembered as an answer decoded then


def test_a_call_that_went_on_after_the_rest_is_decoded_again(model):
    core = PartnerCore(model)
    core.read(Read(CALL_PHRASE, CHART, draft=_job(CALL_PHRASE)))
    longer = Phrase.of([*((n.pitch, n.start, n.duration, n.velocity) for n in CALL_PHRASE.notes), (71, 3.0, 0.5, 90)])
    res = core.answer(_job(longer, start=5.0))
    assert res.answer is not None and not res.drafted
    # and a draft is used once: the next job, even equal to it, is decoded
    assert not core.answer(_job(CALL_PHRASE, number=2)).drafted


def test_a_draft_is_not_used_when_the_session_changed_since(model):
    core = PartnerCore(model)
    job = _job(CALL_PHRASE)
    core.read(Read(CALL_PHRASE, CHART, draft=job))
    core.memory.add(Phrase.of([(60, 0.0, 1.0)], start=-8.0))  # (an earlier answer put back, say)
    assert not core.answer(job).drafted


def test_a_stale_draft_leaves_the_answer_as_a_fresh_decode_would_give_it(model):
    # a session so far; a draft of a call that then went on; the call's answer is what a
    # partner that never drafted gives (the draft's decode left nothing behind)
    history = (Phrase.of([(60, 0.0, 1.0, 80), (64, 1.0, 1.0, 80)], start=-12.0),
               Phrase.of([(67, 0.0, 0.5, 90), (65, 0.5, 1.5, 90)], start=-8.0))
    longer = Phrase.of([*((n.pitch, n.start, n.duration, n.velocity) for n in CALL_PHRASE.notes), (71, 3.0, 0.5, 90)])
    got = []
    for draft in (_job(CALL_PHRASE), None):
        core = PartnerCore(model)
        core.memory.add(*history)
        core.read(Read(CALL_PHRASE, CHART, draft=draft))
        got.append(core.answer(_job(longer, start=5.0)))
    assert not got[0].drafted and got[0].answer == got[1].answer


def test_a_draft_gives_way_to_anything_newer_and_finishes_for_its_own_job(model):
    job = _job(CALL_PHRASE)
    core = PartnerCore(model)
    asked = []
    core.read(Read(CALL_PHRASE, CHART, draft=job), lambda d: asked.append(d) or True)  # a newer read came
    assert asked == [job] and model.interrupt is None
    assert not core.answer(job).drafted  # given up: decoded at the call's end
    core.read(Read(CALL_PHRASE, CHART, draft=job), lambda d: False)  # only its own job came
    assert core.answer(job).drafted


def test_a_partner_that_learns_from_the_call_does_not_draft():
    from improv.core.respond.markov import MarkovResponder

    core = PartnerCore(MarkovResponder(seed=1))
    assert not core.drafts


# --- the policies hand over the job the call becomes --------------------------------------

class DraftingPartner(HandPartner):
    """A partner that reads ahead and drafts, and keeps what it was handed (reads and jobs)."""

    name, reads_ahead, drafts = "drafting", True, True

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[Read] = []

    def read(self, r) -> None:
        self.reads.append(r)


@pytest.mark.parametrize("follow", [True, False], ids=["following", "own-tempo"])
def test_the_free_jam_drafts_the_job_its_call_becomes(follow):
    partner = DraftingPartner()
    cfg = config()
    cfg = replace(cfg, timing=replace(cfg.timing, follow=follow))
    s, clock, inq, sink, rec = make(cfg, responder=partner)
    s.start()
    play(s, clock, inq, CALL, until=2.0)
    s.close()
    assert len(partner.jobs) == 1
    drafts = [r.draft for r in partner.reads if r.draft is not None]
    assert drafts and drafts[-1] == partner.jobs[0]


def test_the_free_jam_drafts_nothing_it_will_not_ask():
    # the player plays again after the rest: the draft was of a shorter call
    partner = DraftingPartner()
    s, clock, inq, sink, rec = make(config(), responder=partner)
    s.start()
    later = [(t + 1.3, m) for t, m in CALL[:2]]  # a rest of 0.4 s (0.8 beat), then one more note
    play(s, clock, inq, CALL + later, until=3.5)
    s.close()
    assert len(partner.jobs) == 1 and len(partner.jobs[0].call) == 3
    drafts = [r.draft for r in partner.reads if r.draft is not None]
    assert len(drafts) >= 2 and drafts[0] != partner.jobs[0] and drafts[-1] == partner.jobs[0]


def test_a_resumed_phrase_is_answered_with_the_answer_drafted_in_its_rest():
    """The model drafts its answer in the player's rest; a phrase played on before its answer
    began (call 1 resumed) was drafted as the segmenter saw it, the note played on alone, so
    the whole phrase was decoded at its end: its answer came back a median 36 ms after the end
    was noticed (up to 103; the answer may begin 60 ms after it), where a drafted one takes 2."""
    from improv.core.model.responder import ModelResponder
    from test_model import tiny_model

    s, clock, inq, sink, rec = make(responder=ModelResponder(tiny_model()), chart=None)
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, CALL + [(1.45, [0x90, 72, 100]), (1.7, [0x80, 72, 0])], until=4.0)
    s.close()
    assert s.exchange.calls == 2 and s.yields == 1
    assert any("3 notes (call 1 resumed)" in line for line in said), said
    answer = [line for line in said if "answer 2:" in line]
    assert answer and "(drafted in your rest)" in answer[0], said
    assert s.exchange.drafted == 1  # (answer 1, drafted too, was never played)
    # ... and it is the answer the whole phrase gets decoded afresh, over the session so far
    job = s.exchange.draft
    assert job is not None and [n.pitch for n in job.call.notes] == [65, 69, 72]
    fresh = PartnerCore(ModelResponder(tiny_model())).answer(job)  # (nothing before call 1: no history)
    (played,) = [p for p in s.exchange.memory.phrases if p.start == job.settings.start]
    assert not fresh.drafted and fresh.answer.notes == played.notes

@pytest.mark.parametrize("played", ["ends-in-a-rest", "held-over", "laid-out"])
def test_trading_drafts_the_turn_its_player_has_finished(played):
    cfg = Config()
    cfg = replace(cfg, timing=replace(cfg.timing, tempo=120.0),
                  band=replace(cfg.band, trade_bars=1), record=replace(cfg.record, enabled=False))
    clock = ManualClock(100.0)
    inq = InputQueue(clock)
    partner = DraftingPartner()

    class Sink:
        def send(self, msg, at=None):
            pass

        def close(self):
            pass

    s = Session(cfg, clock, inq, [Sink()], partner, chart=CHART, threaded=False, seed=1)
    s.start()
    tl, turn = s.timeline, s.policy.form.turn(0)  # the player's first bar
    plan = {"ends-in-a-rest": [(0.0, [0x90, 62, 90]), (0.4, [0x80, 62, 0]), (0.5, [0x90, 65, 90]),
                               (0.9, [0x80, 65, 0]), (1.0, [0x90, 69, 90]), (1.8, [0x80, 69, 0])],
            # its last note held through the hand-over, let go on the partner's downbeat
            "held-over": [(0.0, [0x90, 62, 90]), (0.4, [0x80, 62, 0]), (3.5, [0x90, 65, 90]),
                          (turn.end, [0x80, 65, 0])],
            "laid-out": []}[played]
    for beat, raw in [*plan, (turn.end + 0.5, None)]:
        while tl.beat_at(clock.now()) < turn.start + beat:
            s.step()
            clock.advance(0.005)
        if raw is not None:
            inq.push(raw)
    s.close()
    assert len(partner.jobs) == 1
    drafts = [r for r in partner.reads if r.draft is not None]
    assert drafts and drafts[-1].draft == partner.jobs[0]
    if played == "held-over":  # the read takes the notes let go; the draft, the held one to the hand-over too
        assert drafts[-1].call.pitches() == [62] and drafts[-1].draft.call.pitches() == [62, 65]


def test_drafted_answers_do_not_count_in_the_pace_that_places_answers():
    # the pace says what an answer decoded at the call's end costs: drafts (the pipe only)
    # would make the jam place answers as if a call it could not foresee cost that too
    from improv.partner.protocol import Result

    for drafted in (True, False):
        s, clock, sink, partner, beat = asked_by_hand(1.0, 4.0)
        clock.set(clock.now() + 0.03)
        s.exchange.on_result(Result(1, Phrase.of([(67, 0.0, 0.5)], start=beat + 1.0, length=4.0), drafted=drafted))
        assert len(s.exchange.pace) == (0 if drafted else 1) and s.exchange.drafted == int(drafted)
        s.close()


def test_the_worker_process_answers_a_drafted_call_at_once():
    # through the pipe, as the jam talks to it: the read with its draft in the rest, then the call
    import threading
    import time

    from improv.partner.process import ProcessPartner
    from improv.partner.protocol import Setup

    got, arrived = [], threading.Event()
    partner = ProcessPartner("model")
    partner.start(lambda: Setup("model", chart=CHART), lambda r: (got.append(r), arrived.set()))
    try:
        assert partner.drafts  # (said in its Ready: the jam drafts only for a partner that does)
        job = _job(CALL_PHRASE)
        partner.read(Read(CALL_PHRASE, CHART, draft=job))
        time.sleep(0.5)  # the rest in which the call's end is noticed
        partner.submit(job, 0.0)
        assert arrived.wait(10.0)
        assert got[0].answer is not None and got[0].drafted
        # a draft made stale at once (the player played on): the call that came is answered, not drafted
        arrived.clear()
        partner.read(Read(CALL_PHRASE, CHART, draft=_job(CALL_PHRASE, number=2, start=12.0)))
        partner.submit(_job(CALL_PHRASE, number=2, start=13.0), 0.0)
        assert arrived.wait(10.0)
        assert got[1].number == 2 and got[1].answer is not None and not got[1].drafted
    finally:
        partner.close()


def test_a_drafted_call_keeps_its_place_where_undrafted_answers_come_back_slower():
    # one slow answer decoded at its call's end (a worker restarted, a busy moment) placed every
    # later answer a beat late, drafted ones too, which are back at once
    partner = DraftingPartner()
    s, clock, inq, sink, rec = make(config(), responder=partner)
    s.exchange.pace.extend([(0, 0.075), (0, 0.075)])  # as `test_a_free_jam_places_its_answer_later...`
    s.start()
    play(s, clock, inq, CALL, until=2.0)
    s.close()
    assert partner.jobs and partner.jobs[0].settings.start == pytest.approx(s.beat_at(s.t0 + 1.5))  # beat 3


def _answered(s, clock, n, drafted, restarted=False):
    from improv.partner.protocol import Result

    t = clock.now() + 0.5
    clock.set(t)
    beat = s.beat_at(t)
    s.ask(Phrase.of([(65, 0.0, 0.5)], start=beat - 1), s.chart, beat + 1.0, 4.0, t)
    if restarted:
        s.partner.restarts += 1
    clock.set(t + 0.2)  # 0.2 s for a bar: 0.05 s a beat
    s.exchange.on_result(Result(n, Phrase.of([(67, 0.0, 0.5)], start=beat + 1.0, length=4.0), drafted=drafted))


def test_the_pace_leaves_out_an_answer_across_a_restart_and_forgets_after_eight_calls():
    from improv.live.exchange import PACE_ANSWERS

    partner = DraftingPartner()
    partner.restarts = 0
    s, clock, inq, sink, rec = make(config(), responder=partner)
    s.start()
    _answered(s, clock, 1, drafted=False, restarted=True)
    assert s.exchange.expected_ready_s(4.0) == 0.0  # it waited for a new partner: no pace
    _answered(s, clock, 2, drafted=False)
    assert s.exchange.expected_ready_s(4.0) == pytest.approx(0.2, abs=0.01)
    for n in range(3, 3 + PACE_ANSWERS - 1):
        _answered(s, clock, n, drafted=True)
    assert s.exchange.expected_ready_s(4.0) == pytest.approx(0.2, abs=0.01)
    _answered(s, clock, 3 + PACE_ANSWERS - 1, drafted=True)
    assert s.exchange.expected_ready_s(4.0) == 0.0  # eight calls on: forgotten
    s.close()


def test_a_drafted_answer_the_player_came_in_before_is_not_counted_drafted():
    from improv.partner.protocol import Result

    s, clock, sink, partner, beat = asked_by_hand(2.0, 4.0)
    t = clock.now()
    s.exchange.on_result(Result(1, Phrase.of([(67, 0.0, 0.5)], start=beat + 2.0, length=4.0), drafted=True))
    assert s.exchange.drafted == 1
    s.yield_to_player(t + 0.1)  # before its first note
    assert s.answers == 0 and s.exchange.drafted == 0
    s.close()


@pytest.mark.parametrize("late_s", [0.04, 0.02], ids=["drafted-place-kept", "too-close-placed-later"])
def test_a_call_noticed_a_little_late_keeps_its_drafted_place(late_s):
    # the conductor's round that notices the gap is full can come a few ms late; where that
    # crossed a beat, the answer moved a beat later, its job was no longer the draft, and it
    # was decoded again (about 1 % of the free jam's answers undrafted)
    from improv.live.free import ANSWER_LEAD_S

    partner = DraftingPartner()
    s, clock, inq, sink, rec = make(config(), responder=partner)
    s.start()
    play(s, clock, inq, CALL, until=1.3)  # into the rest: read and drafted
    d = s.policy._drafted
    assert d is not None and not partner.jobs
    noticed = s.time_of(d.answer_start) - late_s  # the gap was full long before: this round is late
    assert s.beat_at(noticed) > d.detected and s.beat_at(noticed) + ANSWER_LEAD_S / 0.5 > d.answer_start
    clock.set(noticed)
    s.step()
    s.close()
    drafts = [r.draft for r in partner.reads if r.draft is not None]
    assert len(partner.jobs) == 1
    if late_s >= ANSWER_LEAD_S / 2:
        assert partner.jobs[0] == drafts[-1] and partner.jobs[0].settings.start == d.answer_start
    else:  # too close to its first note: placed later, as any call noticed then
        assert partner.jobs[0].settings.start > d.answer_start


def test_a_tempo_that_jitters_by_hundredths_of_a_bpm_keeps_the_drafts_job(monkeypatch):
    # an external clock's tempo is fitted again on every tick (120.03, 119.97, ...): the job a
    # call became never equalled its draft, and every answer was decoded again at its call's end
    partner = DraftingPartner()
    s, clock, inq, sink, rec = make(config(), responder=partner)
    now = {"tempo": 120.0}
    jitter = iter([0.03, -0.03, 0.01] * 10_000)
    monkeypatch.setattr(Session, "tempo", property(lambda self: now["tempo"] + next(jitter)))
    s.start()
    play(s, clock, inq, CALL, until=2.0)
    drafts = [r.draft for r in partner.reads if r.draft is not None]
    assert len(partner.jobs) == 1 and drafts and drafts[-1] == partner.jobs[0]
    assert partner.jobs[0].settings.tempo == pytest.approx(120.0, abs=0.05)
    now["tempo"] = 121.0  # a change of tempo the player hears reaches the job
    assert s.exchange._job(2, CALL_PHRASE, s.chart, 8.0, 4.0, None).settings.tempo == pytest.approx(121.0, abs=0.05)
    s.close()


def test_a_call_whose_job_is_no_longer_its_draft_is_placed_by_the_pace(monkeypatch):
    # the draft will not be used (here the tempo moved 2 % after it): the answer is decoded at
    # the call's end, so it is placed as undrafted answers need, not kept at the draft's place
    partner = DraftingPartner()
    s, clock, inq, sink, rec = make(config(), responder=partner)
    s.exchange.pace.extend([(0, 0.075), (0, 0.075)])  # as `test_a_drafted_call_keeps_its_place...`
    now = {"tempo": 120.0}
    monkeypatch.setattr(Session, "tempo", property(lambda self: now["tempo"]))
    s.start()
    play(s, clock, inq, CALL, until=1.3)  # drafted in the rest
    d = s.policy._drafted
    assert d is not None
    now["tempo"] = 122.4
    while not partner.jobs:
        clock.advance(0.005)
        s.step()
    s.close()
    assert partner.jobs[0] != s.exchange.draft and partner.jobs[0].settings.start > d.answer_start


def test_the_worker_process_answers_over_the_session_as_counted_again(model):
    """The worker kept the session on the bars as first counted when the follower counted
    them again: its answers read the player's earlier calls over the wrong chords. Told the
    session again (`rehome`), it answers as a partner started from that session does."""
    import threading

    from improv.partner.process import ProcessPartner
    from improv.partner.protocol import Setup

    first = (Phrase.of([(62, 0.0, 0.5), (65, 0.5, 0.5), (69, 1.0, 1.0)], start=1.0, length=3.0),
             Phrase.of([(67, 0.0, 0.5), (65, 0.5, 0.5), (64, 1.0, 0.5), (62, 1.5, 1.0)], start=5.0, length=3.0))
    recounted = tuple(Phrase(p.notes, p.start + 2.0, p.length) for p in first)  # (over the other chords now)
    job = _job(CALL_PHRASE, number=3, start=12.0)

    def answer_with(history: tuple) -> Phrase:
        core = PartnerCore(model)
        core.setup(Setup("model", history=history, chart=CHART))
        return core.answer(job).answer

    assert answer_with(first) != answer_with(recounted)  # (the history's bars matter to the answer)
    got, arrived = [], threading.Event()
    partner = ProcessPartner("model")
    partner.start(lambda: Setup("model", history=first, chart=CHART), lambda r: (got.append(r), arrived.set()))
    try:
        partner.rehome(recounted)
        partner.submit(job, 0.0)
        assert arrived.wait(10.0)
        assert got[0].answer == answer_with(recounted)
    finally:
        partner.close()
