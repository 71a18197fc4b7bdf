"""The whole engine in process: fake input, fake sinks, a fake recorder and a small seeded
responder; a ManualClock for exact beats, and a fast real clock for the threaded path."""

import subprocess
import threading
import time
from pathlib import Path

import pytest

from improv.config import Config, override
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Note, Phrase
from improv.core.respond.base import fit_answer
from improv.live.clock import ManualClock, RealClock
from improv.live.midisync import FixedTimeline
from improv.live.inputqueue import InputQueue
from improv.live.conductor import install_signal_handlers
from improv.live.band import BeatFeeder, phrase_notes
from improv.live.session import Session
from improv.live.status import Display, Snapshot, render


class FakeSink:
    def __init__(self, clock, fail_after=None):
        self.clock = clock
        self.sent = []
        self.closed = False
        self.fail_after = fail_after

    def send(self, msg, at=None):
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise OSError("device unplugged")
        self.sent.append((self.clock.now(), msg))

    def close(self):
        self.closed = True

    def sounding(self):
        on = {}
        for _, m in self.sent:
            key = (m.channel, m.note) if m.type in ("note_on", "note_off") else None
            if key is None:
                continue
            if m.type == "note_on" and m.velocity > 0:
                on[key] = on.get(key, 0) + 1
            else:
                on[key] = max(0, on.get(key, 0) - 1)
        return {k for k, v in on.items() if v}

    def ons(self, channel):
        return [(t, m.note) for t, m in self.sent if m.type == "note_on" and m.velocity and m.channel == channel]


class FakeRecorder:
    def __init__(self, t0, chart):
        self.t0, self.chart = t0, chart
        self.events, self.markers, self.chords = [], [], []
        self.closed = False

    def event(self, part, msg, t):
        self.events.append((part, msg, t))

    def marker(self, text, t, kind="text"):
        (self.chords if kind == "chord" else self.markers).append((text, t))

    def tempo(self, bpm, t):
        self.markers.append((f"tempo {bpm:.1f}", t))

    def close(self):
        self.closed = True
        return Path("sessions/fake.mid")


class StepResponder:
    """Answers with eighth notes walking up from the call's first pitch; learns by counting."""

    name = "step"

    def __init__(self, fail=False, fail_on=None):
        self.fail_on = fail_on  # a call's first pitch that fails (None: as `fail` says)
        self.learned = []
        self.charts = []
        self.histories = []
        self.primed = []
        self.fail = fail

    def prime(self, call, harmony, history, max_read=None):
        self.primed.append((call.pitches(), history))

    def learn(self, call, harmony, tempo=None):
        self.learned.append(call)

    def answer(self, call, harmony, settings):
        if self.fail or (self.fail_on is not None and call.notes and call.notes[0].pitch == self.fail_on):
            raise RuntimeError("no idea")
        self.charts.append(harmony)
        self.histories.append(settings.history)
        first = call.notes[0].pitch if call.notes else 60
        notes = [Note(i * 0.5, first + i % 5, 0.45, 90) for i in range(int(settings.length * 2))]
        return fit_answer(notes, settings)


class FakePort:
    def __init__(self):
        self.name = "Keys 24:0"
        self.is_alive = True

    def alive(self):
        return self.is_alive


def config(**phrase):
    cfg = Config()
    cfg = override(cfg, "timing", tempo=120.0)
    return override(cfg, "phrase", **phrase) if phrase else cfg


def make(cfg=None, chart="F7 | Bb7", responder=None, clock=None, threaded=False, **kw):
    clock = clock or ManualClock(10.0)
    inq = InputQueue(clock)
    sink = FakeSink(clock)
    rec = []
    s = Session(cfg or config(), clock, inq, [sink], responder or StepResponder(),
                chart=parse_chart(chart) if isinstance(chart, str) and chart else chart or None,
                recorder_factory=kw.pop("recorder_factory", lambda t0, c: rec.append(FakeRecorder(t0, c)) or rec[-1]),
                threaded=threaded, **kw)
    return s, clock, inq, sink, rec


def play(session, clock, inq, events, until):
    """events: (seconds after t0, raw bytes); steps the session every 10 ms up to `until`."""
    events = sorted(events)
    i = 0
    step = 0
    while True:
        t = round(step * 0.01, 6)
        if t > until:
            break
        clock.set(session.t0 + t)
        while i < len(events) and events[i][0] <= t + 1e-9:
            inq.push(events[i][1])
            i += 1
        session.step()
        step += 1


CALL = [(0.0, [0x90, 65, 100]), (0.4, [0x80, 65, 0]), (0.5, [0x90, 69, 90]), (0.9, [0x80, 69, 0])]


def test_a_call_is_answered_on_the_expected_beat_with_every_note_off():
    s, clock, inq, sink, rec = make()
    s.start()
    play(s, clock, inq, CALL, until=4.0)
    # the call ends at beat 1.8 (0.9 s); with a one-beat gap it is noticed at beat 2.8,
    # so the answer starts on beat 3 (1.5 s) and lasts one bar (8 eighths, 0.25 s apart)
    partner = sink.ons(channel=1)
    assert len(partner) == 8
    assert partner[0][0] == pytest.approx(s.t0 + 1.5)
    assert [round(t - s.t0, 6) for t, _ in partner] == [1.5 + 0.25 * i for i in range(8)]
    assert [p for _, p in partner] == [65, 66, 67, 68, 69, 65, 66, 67]
    thru = sink.ons(channel=0)
    assert [p for _, p in thru] == [65, 69]  # the player's notes went straight through
    assert s.responder.learned[0].pitches() == [65, 69]
    assert s.scheduler.timing_ms()[2] == 8
    s.close()
    assert sink.sounding() == set() and sink.closed
    r = rec[0]
    assert r.closed and s.record_path == Path("sessions/fake.mid")
    assert {part for part, _, _ in r.events} == {"player", "partner"}
    assert any(text.startswith("call 1") for text, _ in r.markers)


def test_a_layered_keyboards_two_channels_are_heard_as_one_note_a_key():
    """A keyboard in layer mode sends each key on two channels at once, merged onto the
    player's: each note was two in the call, one a thousandth of a beat long (the file wrote
    one). Both still pass through and are recorded; a key played again soon after its
    release is a new note as before."""
    s, clock, inq, sink, rec = make()
    s.start()
    layered = [(t, [data[0] + ch, *data[1:]]) for t, data in CALL for ch in (0, 1)]
    again = [(1.0, [0x90, 60, 90]), (1.01, [0x80, 60, 0]), (1.02, [0x90, 60, 80]), (1.3, [0x80, 60, 0])]
    play(s, clock, inq, layered + again, until=4.0)
    assert s.responder.learned[0].pitches() == [65, 69, 60, 60]
    assert [p for _, p in sink.ons(channel=0)] == [65, 65, 69, 69, 60, 60]
    s.close()
    assert sum(1 for part, m, _ in rec[0].events if part == "player" and m.type == "note_on" and m.velocity) == 6


def test_notes_past_a_calls_cap_are_not_counted_as_dropped():
    """A flood of 520 notes in one call: the 8 past the call's 512 were passed through and
    recorded, but the status and summary said "dropped 8 (queue 0, unreadable 0, late 0)"."""
    s, clock, inq, sink, rec = make()
    s.start()
    flood = [(0.005 * k, [0x90 if k % 2 == 0 else 0x80, 60 + (k // 2) % 24, 90 if k % 2 == 0 else 0])
             for k in range(2 * 520)]
    play(s, clock, inq, flood, until=6.0)
    assert len(sink.ons(channel=0)) == 520  # all played through
    summary = s.summary()
    assert s.dropped == 0 and "dropped 0 (" in summary, summary
    assert "8 notes past a call's 512 not heard as part of it" in summary, summary


def test_the_summary_gives_figures_only_over_something():
    s, clock, inq, sink, rec = make()
    s.start()
    play(s, clock, inq, [], until=2.0)
    quiet = s.summary()  # nothing played: no "p99 0.00 ms over 0 notes"
    assert quiet.startswith("0 calls, 0 answers") and " ms" not in quiet and "dropped 0" in quiet
    play_more(s, clock, inq, [(t + 2.5, d) for t, d in CALL], start=2.01, until=7.0)
    played = s.summary()
    assert "partner timing median" in played and "over 8 notes" in played and "answer ready p99" in played
    s.close()


class TimedSink(FakeSink):
    """A sink that keeps when it was told each player's message arrived."""

    def __init__(self, clock):
        super().__init__(clock)
        self.told = []

    def send(self, msg, at=None):
        self.told.append((msg.type, getattr(msg, "note", None), msg.channel, at))
        super().send(msg)


@pytest.mark.parametrize("fast", [False, True], ids=["conductor", "port-thread"])
def test_the_synth_is_told_when_the_players_note_arrived(fast):
    # The reader got to the note 3 ms after it arrived: the synth places it by its arrival,
    # so the reader's delay adds no jitter to what the player hears. Partner notes go
    # without a time (sent when due).
    clock = ManualClock(10.0)
    s, clock, inq, _, rec = make(clock=clock)
    timed = TimedSink(clock)
    s.sinks.append(timed)
    s.start()
    if fast:
        inq.start_thru(s.player.fast_thru)
    for t, data in CALL:
        clock.set(s.t0 + t + 0.003)
        inq.push(data, age=0.003)
        s.step()
    assert timed.told[0] == ("note_on", 65, 0, pytest.approx(s.t0))
    assert [at - s.t0 for *_, at in timed.told[:4]] == pytest.approx([t for t, _ in CALL])
    for k in range(1, 400):
        clock.set(s.t0 + 0.9 + 0.01 * k)
        s.step()
    partner = [at for kind, _, ch, at in timed.told if ch == 1]
    assert partner and all(at is None for at in partner)
    s.close()


def test_the_partner_hears_the_session_so_far():
    s, clock, inq, sink, rec = make()
    s.start()
    second = [(t + 4.0, m) for t, m in CALL]
    play(s, clock, inq, CALL + second, until=8.0)
    r = s.responder
    first, second = r.histories[-2:]  # (before them: the warm-up answer)
    assert first == ()
    call1, answer1 = second  # the first call and the partner's answer to it
    assert call1.pitches() == [65, 69] and len(answer1) == 8 and answer1.start > call1.start
    # read ahead: each call in the rest that ends it, the session so far after each answer
    assert [(pitches, len(history)) for pitches, history in r.primed] == [
        ([65, 69], 0), ([], 2), ([65, 69], 2), ([], 4)]
    assert r.primed[1][1] == second
    s.close()


def test_a_call_is_read_ahead_in_its_rests_not_while_it_is_played():
    s, clock, inq, sink, rec = make()
    s.start()
    run = [(t, [0x90 if on else 0x80, 60 + k, 90 if on else 0])  # 10 notes, 50 ms (0.1 beat) rests
           for k in range(10) for t, on in ((k * 0.1, True), (k * 0.1 + 0.05, False))]
    play(s, clock, inq, run, until=1.0)
    assert s.responder.primed == []  # nothing read while the player plays
    for step in range(101, 131):  # on to 0.35 s after the last release: a rest of 0.7 beats
        clock.set(s.t0 + step * 0.01)
        s.step()
    assert [pitches for pitches, _ in s.responder.primed] == [list(range(60, 70))]  # read once, all of it
    assert s.calls == 0  # before the call's end (a beat of rest) is noticed
    s.close()


def test_answer_on_bar_waits_for_the_next_bar():
    s, clock, inq, sink, _ = make(config(answer_on="bar"))
    s.start()
    play(s, clock, inq, CALL, until=4.5)
    assert sink.ons(channel=1)[0][0] == pytest.approx(s.t0 + 2.0)  # bar 2 = beat 4
    s.close()


def test_an_answer_the_player_came_back_in_before_is_not_counted_as_played():
    """It was logged and counted ('answer 2: 8 notes', 4 answers in the summary) though the
    player came back in before its first note and not one note sounded."""
    s, clock, inq, sink, rec = make()
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, CALL + [(1.45, [0x90, 72, 100]), (1.7, [0x80, 72, 0])], until=1.6)
    assert s.exchange.calls == 1 and s.yields == 1 and s.answers == 0 and sink.ons(channel=1) == []
    assert any("before answer 1 began" in line and "answer 1 not played" in line for line in said), said
    assert s.exchange.memory.phrases[-1].notes[0].pitch == 65  # the call is kept, the answer is not
    s.close()


def test_player_coming_back_makes_the_partner_yield():
    s, clock, inq, sink, _ = make()
    s.start()
    back = [(1.6, [0x90, 72, 100])]  # the player comes in during the answer
    play(s, clock, inq, CALL + back, until=1.6)
    assert s.yields == 1
    partner_sounding = {k for k in sink.sounding() if k[0] == 1}
    assert partner_sounding == set()
    n = len(sink.ons(channel=1))
    play_more(s, clock, inq, [], 1.61, 2.2)
    assert len(sink.ons(channel=1)) == n  # the rest of the answer was forgotten
    s.close()
    assert sink.sounding() == set()


def play_more(session, clock, inq, events, start, until):
    t = start
    while t <= until:
        clock.set(session.t0 + t)
        for e in events:
            if abs(e[0] - t) < 0.005:
                inq.push(e[1])
        session.step()
        t = round(t + 0.01, 6)



def test_a_calls_marker_sits_at_its_first_note_not_where_its_end_was_noticed():
    """The recording's "call N" marker was written at the moment the call's end was
    noticed (a gap after its last note); a musician editing the take looks for a call where
    it begins."""
    s, clock, inq, sink, rec = make()
    s.start()
    second = [(3.0 + t, m) for t, m in CALL]
    play(s, clock, inq, CALL + second, until=7.0)
    calls = [(text, round(t - s.t0, 6)) for text, t in rec[0].markers if text.startswith("call ")]
    assert calls == [("call 1: 2 notes", 0.0), ("call 2: 2 notes", 3.0)], calls
    s.close()


def _line(t0, pitches, step=0.25, dur=0.2):
    """(seconds, bytes) of `pitches` one after another from `t0`."""
    return [x for i, p in enumerate(pitches)
            for x in ((t0 + i * step, [0x90, p, 90]), (t0 + i * step + dur, [0x80, p, 0]))]


def _shell(t, pitches, up):
    return [(t, [0x90, p, 80]) for p in pitches] + [(up, [0x80, p, 0]) for p in pitches]


def test_with_no_chart_the_chords_heard_are_the_recordings_chord_markers_where_they_begin():
    """Without a chart the file had no chord markers, though the session inferred a chord
    for every call (the status line showed it). Each call's chords go in as "(heard) X":
    the chord inferred at its first note, a left hand's voicing where it was struck; a chord
    the same as the last marked is not marked again. Over a chart, none."""
    s, clock, inq, sink, rec = make(chart=None)
    s.start()
    calls = (_line(0.0, [65, 69, 72, 75, 72, 69]) + _line(4.0, [62, 65, 69, 72, 69, 65])
             + _line(8.0, [62, 65, 69, 72, 74])  # Dm7 again
             + _shell(12.0, (50, 53, 60), 12.9) + _line(12.0, [74, 72, 69, 65])  # a left hand's Dm7, then G7
             + _shell(13.0, (43, 53, 59), 13.9) + _line(13.0, [71, 74, 77, 76], step=0.2, dur=0.15))
    play(s, clock, inq, calls, until=18.0)
    heard = [(text, round(t - s.t0, 3)) for text, t in rec[0].chords]
    assert [text for text, _ in heard] == ["(heard) F7", "(heard) Dm7", "(heard) G7"], heard
    assert heard[0][1] == 0.0 and heard[1][1] == 4.0
    assert heard[2][1] == pytest.approx(s.time_of(round(s.beat_at(s.t0 + 13.0))) - s.t0, abs=1e-3)  # on its beat
    s.close()
    s, clock, inq, sink, rec = make()  # over the chart: its chords are the file's
    s.start()
    play(s, clock, inq, CALL, until=3.0)
    assert not any(text.startswith("(heard)") for text, _ in rec[0].chords)
    s.close()

def test_overlap_keeps_playing():
    s, clock, inq, sink, _ = make(config(on_interrupt="overlap"))
    s.start()
    play(s, clock, inq, CALL + [(1.6, [0x90, 72, 100]), (1.7, [0x80, 72, 0])], until=3.6)
    assert s.yields == 0 and s.answers == 2  # the player's note was a call of its own
    times = [round(t - s.t0, 6) for t, _ in sink.ons(channel=1)]
    assert all(1.5 + 0.25 * i in times for i in range(8))  # the first answer played on to its end
    s.close()


def test_close_mid_answer_releases_partner_and_thru_notes():
    s, clock, inq, sink, rec = make()
    s.start()
    held = [(1.55, [0x90, 48, 80])]  # a thru note still held at the end
    s.cfg = override(s.cfg, "phrase", on_interrupt="overlap")
    play(s, clock, inq, CALL, until=1.5)
    play_more(s, clock, inq, held, 1.51, 1.6)
    assert sink.sounding()  # both partner and thru notes sound now
    s.close()
    assert sink.sounding() == set()
    offs = [m for part, m, _ in rec[0].events if m.type == "note_off"]
    assert any(m.channel == 0 and m.note == 48 for m in offs)  # the recording hears the release


def test_a_responder_error_is_reported_and_the_jam_goes_on():
    s, clock, inq, sink, _ = make(responder=StepResponder(fail=True))
    s.start()
    play(s, clock, inq, CALL, until=3.0)
    assert s.failed_answers == 1 and s.calls == 1 and sink.ons(channel=1) == []
    assert list(s.ready_ms) == [] and "answer ready" not in s.summary()  # an answer that never came is not timed
    s.close()


def test_after_a_responder_error_the_next_call_is_answered():
    s, clock, inq, sink, _ = make(responder=StepResponder(fail_on=65))
    s.start()
    second = [(4.0 + t, [data[0], data[1] + 2, data[2]]) for t, data in CALL]  # G and B: answered
    play(s, clock, inq, CALL + second, until=7.0)
    assert s.failed_answers == 1 and s.calls == 2 and s.answers == 1
    assert [p for _, p in sink.ons(channel=1)][:1] == [67] and s.stop_reason == ""
    s.close()


def test_unreadable_input_is_counted_not_fatal():
    s, clock, inq, sink, _ = make()
    s.start()
    junk = [(0.01, [0x90]), (0.02, [0x90, 200, 5]), (0.03, [0x42, 1]), (0.04, []), (0.05, [0xF8])]
    play(s, clock, inq, junk + CALL, until=2.0)
    assert s.player.malformed == 4 and s.calls == 1
    s.close()


def test_live_harmony_when_there_is_no_chart():
    s, clock, inq, sink, _ = make(chart=None)
    s.start()
    play(s, clock, inq, CALL, until=2.0)
    assert s.answers == 1
    chart = s.responder.charts[-1]  # (the first is the warm-up's, with no chord)
    # a one-chord chart from the harmony heard in the call (F and A: F7 in this style)
    assert chart.bars == 1 and [str(c.chord) for c in chart.changes_between(0, chart.length)] == ["F7"]
    s.close()


def test_with_no_chart_in_three_four_the_chord_is_heard_over_two_waltz_bars():
    """A jazz waltz line, Cmaj7 | Cmaj7 | Em7 | Em7 a quarter note a beat: the free jam heard
    the chord over 8 beats, 2.7 bars of 3/4, and answered the call over Cmaj7, the chord of
    the bars before. The chord is heard over two bars of the session's metre."""
    cfg = override(override(config(), "timing", follow=False), "timing", beats_per_bar=3)
    s, clock, inq, sink, _ = make(cfg, chart=None)
    s.start()
    line = [(60, 64, 67)] * 2 + [(64, 67, 71)] * 2
    notes = [(0.5 * (3 * bar + i), p) for bar, tones in enumerate(line) for i, p in enumerate(tones)]
    play(s, clock, inq, [e for t, p in notes for e in ((t, [0x90, p, 90]), (t + 0.45, [0x80, p, 0]))], until=9.0)
    assert s.answers == 1
    chart = s.responder.charts[-1]
    assert [str(c.chord) for c in chart.changes_between(0, chart.length)] == ["Em7"]
    s.close()


def _keys(t, pitches, dur, vel=80):
    """Raw note-ons and note-offs of `pitches` struck together at `t` seconds for `dur` seconds."""
    return [e for p in pitches for e in ((t, [0x90, p, vel]), (t + dur, [0x80, p, 0]))]


def test_with_no_chart_a_line_is_heard_over_the_chords_its_left_hand_plays():
    """A pianist's ii-V-I: Dm7, G7 and Cmaj7 in the left hand on beats 1 and 3, the line's
    long accented Ab (the b9 of G7) on the G7 bar's downbeat. The call was heard over the one
    chord inferred at its end (Cmaj7), and the embrace built its answer on the player's
    'mistake': "heard Ab over Cmaj7 (outside, long, beat 1, accented)"."""
    cfg = override(config(), "timing", follow=False)
    s, clock, inq, sink, _ = make(cfg, chart=None)
    said = []
    s.say = said.append
    s.start()
    b = 0.5  # seconds a beat at 120 bpm
    events = []
    for bar, voicing in enumerate([(50, 53, 57, 60), (43, 53, 59), (48, 52, 55, 59)]):
        for beat in (0, 2):
            events += _keys((bar * 4 + beat) * b, voicing, 1.8 * b, 65)
    line = [(0, 74), (0.5, 72), (1, 69), (1.5, 65), (2, 64), (2.5, 65), (3, 69), (3.5, 72), (5.5, 67), (6, 65),
            (6.5, 62), (7, 59), (7.5, 62)]
    for beat, p in line:
        events += _keys(beat * b, [p], 0.45 * b, 85)
    events += _keys(4 * b, [68], 1.4 * b, 110) + _keys(8 * b, [64], 1.9 * b, 85)
    play(s, clock, inq, events, until=7.0)
    s.close()
    assert s.answers == 1
    chart = s.responder.charts[-1]
    assert [str(chart.chord_at(beat)) for beat in (0.5, 2.5, 4.5, 6.5, 8.5)] == ["Dm7", "Dm7", "G7", "G7", "Cmaj7"]
    assert not any("heard Ab" in line for line in said), said


def _cmaj7_then_a7_in_the_left_hand():
    """A session with no chart where the left hand plays Cmaj7, then A7 (A2 G3 C#4) under
    the line, the line over the A7 with no C#: played to 6 s (the answer: beats 9 to 17)."""
    cfg = override(config(), "timing", follow=False)
    s, clock, inq, sink, _ = make(cfg, chart=None)
    s.start()
    events = []
    for bar, voicing in enumerate([(48, 52, 55, 59), (45, 55, 61)]):
        for beat in (0, 2):
            events += _keys((bar * 4 + beat) * 0.5, voicing, 0.9, 65)
        for i, p in enumerate([74, 72, 69, 65, 64, 65, 69, 72] if bar == 0 else [71, 69, 67, 65, 64, 62, 59, 62]):
            events += _keys((bar * 4 + i * 0.5) * 0.5, [p], 0.22, 85)
    play(s, clock, inq, events, until=6.0)
    return s, clock, inq


def test_with_no_chart_the_answer_is_over_the_chord_the_left_hand_left_sounding():
    """Cmaj7, then A7 (A2 G3 C#4) in the left hand, the line over the A7 with no C#: the
    answer was over the Am7 inferred from everything played (the status line's), not the A7
    the player voiced."""
    s, clock, _ = _cmaj7_then_a7_in_the_left_hand()
    s.close()
    assert s.answers == 1 and str(s.policy.harmony.current()[0]) == "Am7"
    chart = s.responder.charts[-1]
    assert [str(chart.chord_at(beat)) for beat in (1.0, 5.0, 9.0, 12.0)] == ["Cmaj7", "A7", "A7", "A7"]


def test_with_no_chart_the_status_line_shows_the_chord_the_answer_is_built_over():
    """The answer over the A7 the left hand left sounding, while the status line (and the
    stage view) said Am7, the chord inferred from everything played; once the player plays
    again it shows what is inferred from them."""
    s, clock, inq = _cmaj7_then_a7_in_the_left_hand()  # (the answer: beats 9 to 17)
    assert s.answers == 1 and str(s.policy.harmony.current()[0]) == "Am7"
    assert s.snapshot(clock.now()).state == "answering"
    assert s.snapshot(clock.now()).harmony.split()[0] == "A7", s.snapshot(clock.now())
    play_more(s, clock, inq, [], 6.01, 9.0)  # the answer over: the chord inferred, as before
    assert s.snapshot(clock.now()).harmony.split()[0] == "Am7"
    s.close()


def test_a_left_hand_ostinato_that_never_rests_is_told_why_the_partner_never_answers():
    """A vamp in quarter notes for 17 bars: each call was cut at 8 bars and the partner yielded
    to the vamp's next note before its answer began, with no word on why or what to do."""
    cfg = override(config(), "timing", follow=False)
    s, clock, inq, sink, _ = make(cfg, chart=None)
    said = []
    s.say = said.append
    s.start()
    vamp = [e for k in range(17 * 4) for e in _keys(k * 0.5, [(41, 48, 51, 53)[k % 4]], 0.45)]
    play(s, clock, inq, vamp, until=17 * 2.0)
    s.close()
    assert s.calls == 2 and s.yields == 2 and sink.ons(channel=1) == []
    hints = [line for line in said if "without a rest" in line]
    assert len(hints) == 1 and "--gap" in hints[0] and 'on_interrupt = "overlap"' in hints[0], said
    heard = [line for line in said if "heard call" in line]  # each says it was cut, not ended by a rest
    assert len(heard) == 2 and all("8 bars (cut: the longest call), 32 notes" in line for line in heard), heard
    # a call that ends in a rest, then the player back in before the answer: no such hint
    s, clock, inq, sink, _ = make(cfg, chart=None)
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, CALL + [(1.45, [0x90, 72, 100]), (1.7, [0x80, 72, 0])], until=3.0)
    s.close()
    assert s.yields == 1 and not any("without a rest" in line for line in said), said
    assert not any("cut:" in line for line in said), said


def test_a_sustain_pedal_held_through_the_rests_is_named_as_why_the_partner_never_answers():
    """A pianist's phrases with a bar's rest after each, the sustain pedal held down all along:
    the pedal kept every call open to its 8-bar cap, and the hint said "you played on through
    8 bars without a rest (a vamp or an ostinato?)" to a player who had rested every other bar."""
    cfg = override(config(), "timing", follow=False)
    s, clock, inq, sink, _ = make(cfg, chart=None)
    said = []
    s.say = said.append
    s.start()
    phrases = [e for bar in range(0, 12, 2) for k in range(6)
               for e in _keys(bar * 2.0 + k * 0.25, [67 + (k * 3) % 8], 0.2)]
    play(s, clock, inq, [(0.0, [0xB0, 64, 127])] + phrases, until=24.0)
    s.close()
    assert s.yields >= 1
    hints = [line for line in said if "8 bars" in line and "yields" in line]
    assert len(hints) == 1, said
    assert "sustain pedal" in hints[0] and "without a rest" not in hints[0], hints


def test_a_pedal_touched_as_a_line_without_rests_reaches_the_cap_is_not_named_as_why():
    """A line with no rest for 17 bars, the sustain pedal pressed for a beat or two as the
    first 8 bars ran out: the hint blamed the pedal ("held down through 8 bars kept your call
    open ... lift the pedal between phrases"), which had held no rest open; the player had
    played on without one."""
    cfg = override(config(), "timing", follow=False)
    s, clock, inq, sink, _ = make(cfg, chart=None)
    said = []
    s.say = said.append
    s.start()
    line = [e for k in range(17 * 4) for e in _keys(k * 0.5, [(65, 69, 72, 74)[k % 4]], 0.45)]
    pedal = [(15.6, [0xB0, 64, 127]), (16.7, [0xB0, 64, 0])]  # around the cap, 16 s in at 120 bpm
    play(s, clock, inq, line + pedal, until=17 * 2.0)
    s.close()
    hints = [line for line in said if "8 bars" in line and "yields" in line]
    assert len(hints) == 1, said
    assert "without a rest" in hints[0] and "sustain pedal" not in hints[0], hints
    assert "(a long line, a vamp or an ostinato)" in hints[0], hints  # (a soloist's line, asked if it was a vamp)


def test_sustain_pedal_holds_the_call_open():
    s, clock, inq, sink, _ = make()
    s.start()
    pedal = [(0.0, [0xB0, 64, 127]), (2.0, [0xB0, 64, 0])]
    play(s, clock, inq, CALL + pedal, until=2.4)
    assert s.calls == 0
    play_more(s, clock, inq, [], 2.41, 2.6)
    assert s.calls == 1
    s.close()


class EventsOf:
    """A scheduler stand-in: what the feeder hands it."""

    def __init__(self):
        self.events = []

    def play(self, events, generation=None):
        self.events += events
        return True


def test_answer_notes_cut_repeated_pitches_and_swing_on_the_timeline():
    ph = Phrase.of([(60, 0.0, 1.0), (60, 0.5, 0.5), (62, 1.5, 0.5)], start=4.0)
    timeline = FixedTimeline(100.0, 120.0, 2.0)
    notes = phrase_notes(ph, channel=1)
    assert [n[:2] for n in notes] == [(4.0, 4.5), (4.5, 5.0), (5.5, 6.0)]  # beats; a note ends where it starts again
    sched = EventsOf()
    feeder = BeatFeeder(sched, timeline, lookahead=0.5)
    feeder.add(notes)
    assert feeder.pump(3.4) == 0 and feeder.pending() == 3  # seconds only shortly before they sound
    feeder.pump(5.2)
    ev = sched.events
    assert ev[0][:2] == (102.0, pytest.approx(102.0 + 2 / 3 * 0.5 - 0.001))
    assert ev[1][0] == pytest.approx(102.0 + 2 / 3 * 0.5)  # the swung off-beat
    assert ev[2][0] == pytest.approx(102.5 + 2 / 3 * 0.5)
    assert all(on < off for on, off, *_ in ev)


def test_threaded_run_with_a_real_clock_answers_and_ends_clean():
    # 0.125 s a beat: the test takes ~1.5 s. Late notes are shifted, not dropped: this test
    # checks the threads and the clean end; timing figures belong to `improv bench`.
    cfg = override(config(), "timing", tempo=480.0, late_policy="shift", late_threshold_ms=1000.0)
    clock = RealClock(spin_ms=0.5)
    s, _, inq, sink, rec = make(cfg, clock=clock, threaded=True)
    port = FakePort()
    s.watched.append(port)

    def player():
        while not s.t0:
            time.sleep(0.001)
        for at, data in [(0.0, [0x90, 65, 100]), (0.1, [0x80, 65, 0]), (0.125, [0x90, 69, 90]),
                         (0.225, [0x80, 69, 0])]:
            clock.sleep_until(s.t0 + at)
            inq.push(data)

    th = threading.Thread(target=player)
    th.start()
    reason = s.run(until=lambda: s.answers == 1 and s.idle)
    th.join()
    assert reason == "done"
    partner = sink.ons(channel=1)
    assert len(partner) == 8
    # noticed at beat 2.8 at the earliest -> answer on beat 3 (0.375 s); never early
    assert partner[0][0] >= s.t0 + 0.375
    assert sink.sounding() == set() and sink.closed and rec[0].closed
    assert len(s.ready_ms) == 1


def test_a_vanished_port_ends_the_session_cleanly():
    s, clock, inq, sink, rec = make(clock=RealClock(), threaded=True)
    port = FakePort()
    s.watched.append(port)
    port.is_alive = False
    said = []
    s.say = said.append
    assert s.run(duration=5.0) == "port gone"
    assert rec[0].closed and sink.closed
    # it said only "MIDI port 'Keys 24:0' disappeared": now what happened and what to do, on one line
    gone = [line for line in said if "'Keys 24:0' disappeared" in line]
    assert gone and "plug it back in and start again" in gone[0] and "\n" not in gone[0], said


def test_a_failing_output_ends_the_session_cleanly():
    clock = RealClock()
    s, _, inq, _, rec = make(clock=clock, threaded=True)
    bad = FakeSink(clock, fail_after=0)
    s.sinks = [bad]
    inq.push([0x90, 60, 100])
    reason = s.run(duration=5.0)
    assert reason.startswith("output failed") and rec[0].closed


def test_an_exception_in_the_loop_still_closes_everything():
    s, clock, inq, sink, rec = make(clock=RealClock(), threaded=True)
    inq.push([0x90, 60, 100])

    def boom():
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        s.run(until=boom)
    assert sink.sounding() == set() and sink.closed and rec[0].closed


def test_stop_from_a_signal_handler():
    import os
    import signal

    s, clock, inq, sink, rec = make(clock=RealClock(), threaded=True)
    restore = install_signal_handlers(s)
    try:
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
        assert s.run(duration=10.0) == "SIGTERM"
    finally:
        restore()
    assert rec[0].closed


def test_a_jam_started_under_nohup_plays_on_when_the_terminal_closes():
    import signal

    s, *_ = make()
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as `nohup improv jam &` starts it
    try:
        restore = install_signal_handlers(s)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the others are still the session's
        restore()
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        restore = install_signal_handlers(s)
        assert callable(signal.getsignal(signal.SIGHUP))  # (a terminal that closes stops it, as ever)
        restore()
    finally:
        signal.signal(signal.SIGHUP, before)


def test_lines_for_a_terminal_that_has_gone_are_dropped_not_raised():
    # The window closed (SIGHUP): the session closed and wrote its recording, then the
    # report of where it went met EIO and the jam ended in a traceback with status 1.
    class Gone:
        def write(self, text):
            raise OSError(5, "Input/output error")

        def flush(self):
            pass

        def isatty(self):
            return True

    d = Display(Gone(), background=False)
    d.finish()
    d.log("session ended (SIGHUP)")
    assert d.dropped >= 1


def test_status_line_and_plain_log_lines():
    import io

    snap = Snapshot(120.0, 5, 3, "answering", "F7", 2, 0.05, 0.31, 100, 0)
    line = render(snap)
    assert "120 bpm" in line and "5:3" in line and "answering" in line and "F7" in line
    assert "call 2 bars" in line and "0.05/0.31 ms" in line and "dropped 0" in line
    following = Snapshot(93.8916, 7, 1, "listening", "Bbmaj7", 1, 0.05, 0.31, 100, 0, tempo_heard=93.9,
                         tempo_sure=0.823)
    assert render(following).startswith("93.9 bpm (heard 94, 82% sure)  ")  # was "93.8916 bpm", and no sureness
    out = io.StringIO()
    d = Display(out, tty=False, plain_every_s=5.0)
    d.update(0.0, snap)
    d.update(1.0, snap)  # too soon for a plain line
    d.log("heard call 1")
    assert out.getvalue().count("\n") == 2 and "\r" not in out.getvalue()
    d.update(9.0, snap, force=True)  # the session's last line, nothing moved since: not printed twice
    d.update(15.0, following)
    assert out.getvalue().count("\n") == 3 and out.getvalue().count(line) == 1
    tty = io.StringIO()
    d = Display(tty, tty=True, every_s=0.2)
    d.update(0.0, snap)
    d.log("x")
    d.finish()
    assert "\r" in tty.getvalue()


def test_the_status_line_stays_within_the_terminal_width():
    """On a 40- or 80-column terminal the line (97 cells: timing, dropped, the mode) wrapped,
    and every refresh wrote it again a row lower: the screen scrolled away under it."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 10, 40, 0, 0))  # 10 rows, 40 columns
        term = os.fdopen(slave, "w", closefd=False)
        d = Display(term, tty=True, every_s=0.2, background=False)
        snap = Snapshot(120.0, 5, 3, "answering", "F7", 2, 0.05, 0.31, 100, 0, mode="embrace 0.5")
        d.update(0.0, snap)
        d.update(1.0, snap)
        d.log("heard call 1")

        def drained() -> str:  # (a pty hands the writes over on the kernel's time: read until none come)
            import select

            out = b""
            while select.select([master], [], [], 0.2)[0]:
                out += os.read(master, 1 << 16)
            return out.decode()

        got = drained()
        assert render(snap).startswith(d._line) and len(d._line) == 39
        assert all(len(row) < 40 for part in got.split("\r\n") for row in part.split("\r")), repr(got)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 10, 20, 0, 0))  # made narrower while playing
        d.update(2.0, snap)
        got = drained()
        assert all(len(row) < 20 for row in got.split("\r")), repr(got)
    finally:
        os.close(master)
        os.close(slave)


def test_a_terminal_that_stops_reading_never_holds_up_the_display():
    """A stray Ctrl-S (or a stalled SSH session): the status line's blocking writes held the
    conductor, and with it every answer and the whole rhythm section, until it read again."""
    import os
    import time

    r, w = os.pipe()
    os.set_blocking(w, False)
    filled = 0
    try:
        while True:  # a terminal that has stopped reading: its buffer is full
            filled += os.write(w, b"." * 4096)
    except BlockingIOError:
        os.set_blocking(w, True)
    stream = os.fdopen(w, "w")
    d = Display(stream, tty=False)
    snap = Snapshot(120.0, 5, 3, "answering", "F7", 2, 0.05, 0.31, 100, 0)

    def conductor():
        for k in range(5000):  # ~0.5 MB, far more than a pipe holds unread
            d.log(f"heard call {k}: " + "x" * 80)
            d.update(float(k), snap, force=True)

    worker = threading.Thread(target=conductor, daemon=True)
    worker.start()
    worker.join(5.0)
    blocked = worker.is_alive()  # (before, it blocked until the terminal read again)
    closing = threading.Thread(target=d.finish, daemon=True)  # the session ends, the terminal still stopped
    closing.start()
    closing.join(0.3)
    waited = closing.is_alive()  # the music is over: the report must not be lost, so it waits
    got = b""
    os.set_blocking(r, False)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and closing.is_alive():
        try:
            got += os.read(r, 1 << 16)
        except BlockingIOError:
            time.sleep(0.01)
    d.log("session ended")  # after finish: written at once, after everything before it
    try:
        while chunk := os.read(r, 1 << 16):
            got += chunk
    except BlockingIOError:
        pass
    assert not blocked and waited and d.dropped > 0
    got = got[filled:]
    assert got.startswith(b"heard call 0: ") and b"lines not shown: the terminal was not reading" in got
    assert got.endswith(b"session ended\n")
    stream.close()
    os.close(r)


def test_the_last_status_line_comes_before_what_became_of_the_recording():
    import io

    out = io.StringIO()
    display = Display(out, tty=False)
    s, clock, inq, sink, rec = make(display=display)
    s.start()
    play(s, clock, inq, [], until=0.5)
    real_close = FakeRecorder.close
    rec[0].close = lambda: display.log("nothing was played: no recording written") or real_close(rec[0])
    s.close()
    lines = out.getvalue().splitlines()
    assert lines[-1] == "nothing was played: no recording written" and "ended" in lines[-2], lines


@pytest.mark.parametrize("trading", [False, True])
def test_the_last_status_line_after_ctrl_c_mid_answer_says_the_session_ended(trading):
    """Ctrl-C while the partner answered: the answer was cut off and the session closed, but
    the last status line said "listening" (trading: "partner, 5 beats left"), as if it played on."""
    import io

    out = io.StringIO()
    cfg = override(config(), "band", trade_bars=1) if trading else config()
    s, clock, inq, sink, rec = make(cfg, display=Display(out, tty=False))
    s.start()
    play(s, clock, inq, CALL, until=2.6 if trading else 1.8)  # (trading: the partner's turn is bar 2, from 2 s)
    shown = s.snapshot(clock.now())
    assert (shown.turn, shown.state) == ("partner", "partner") if trading else shown.state == "answering", shown
    assert sink.ons(channel=1)  # (the answer is sounding)
    s.stop("interrupted")
    s.close()
    assert sink.sounding() == set()
    last = [line for line in out.getvalue().splitlines() if " bpm " in line][-1]
    assert "  ended " in last and not any(w in last for w in ("listening", "answering", "partner", "left")), last


def test_the_model_partner_has_read_the_call_by_its_end():
    from improv.core.model.responder import ModelResponder
    from tests.test_model import tiny_model

    model = ModelResponder(tiny_model())
    log = []
    real_read, real_answer = model.decoder.read, model.answer
    model.decoder.read = lambda steps, h: log.append(len(steps)) or real_read(steps, h)

    def answer(call, harmony, settings):
        log.append("answer")
        got = real_answer(call, harmony, settings)
        log.append((call, harmony, settings, got))
        return got

    model.answer = answer
    s, clock, inq, sink, rec = make(responder=model)
    s.start()
    log.clear()  # (the warm-up)
    play(s, clock, inq, CALL + [(t + 4.0, m) for t, m in CALL], until=8.0)
    s.close()
    assert s.answers == 2
    answers = [i for i, x in enumerate(log) if x == "answer"]
    for i in answers:
        assert not isinstance(log[i + 1], int), "the call was read at its end, not in the rest before it"
        call, harmony, settings, got = log[i + 1]
        assert ModelResponder(tiny_model()).answer(call, harmony, settings) == got  # and the same answer
    assert log[:answers[0]] == [1 + 2]  # one read, in the rest after the call: START and its 2 notes


def test_two_quick_ctrl_cs_still_release_every_note_and_write_the_recording():
    import os
    import signal

    s, clock, inq, sink, rec = make(clock=RealClock(), threaded=True)
    said = []
    restore = install_signal_handlers(s, said.append)
    inq.push([0x90, 60, 100])  # a key held through the end
    try:
        def ctrl_c_twice():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.03)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Timer(0.2, ctrl_c_twice).start()
        assert s.run(duration=10.0) == "interrupted"
        time.sleep(0.2)  # (the command is still reporting when the second press lands)
    finally:
        restore()
    assert rec[0].closed and sink.sounding() == set()


def test_a_third_ctrl_c_abandons_only_after_the_notes_are_released():
    import signal

    s, *_ = make()
    restore = install_signal_handlers(s)
    try:
        handler = signal.getsignal(signal.SIGINT)
        handler(signal.SIGINT, None)
        assert s.stop_reason == "interrupted"
        handler(signal.SIGINT, None)  # the second only says it is closing
        s.notes_released = False  # close() is releasing notes
        handler(signal.SIGINT, None)  # a third waits for that...
        s.notes_released = True
        with pytest.raises(KeyboardInterrupt):  # ...then abandons writing the file
            handler(signal.SIGINT, None)
    finally:
        restore()


def test_the_passthrough_figure_leaves_out_what_waited_for_the_start():
    """Messages that arrived while the ports were being wired (before the session started)
    waited for it, and the summary's 'passthrough p99' read 141-377 ms for 2-5 ms."""
    s, clock, inq, sink, rec = make()
    inq.push([0xB0, 1, 0])  # a wiring probe, 0.2 s before the start
    clock.advance(0.2)
    s.start()
    inq.push([0x90, 60, 100])
    clock.advance(0.001)
    s.step()
    assert len(sink.sent) == 2 and len(s.player.thru_ms) == 1 and s.player.thru_ms[0] == pytest.approx(1.0)
    s.close()


def test_ctrl_cs_after_the_session_closed_change_nothing():
    """Three presses 0.1-0.2 s apart: the third landed after the recording was written and cut
    the report short, so the screen said the recording was abandoned (and `improv recover`
    found nothing to recover)."""
    import signal

    s, *_ = make()
    s.start()
    said = []
    restore = install_signal_handlers(s, said.append)
    try:
        handler = signal.getsignal(signal.SIGINT)
        handler(signal.SIGINT, None)
        handler(signal.SIGINT, None)  # while it closes: it says so
        assert len(said) == 1 and said[0].startswith("closing: releasing notes and writing the recording")
        s.close()
        assert s.closed
        for _ in range(3):
            handler(signal.SIGINT, None)  # (raised KeyboardInterrupt before)
            handler(signal.SIGTERM, None)
        assert len(said) == 1
    finally:
        restore()


def test_passthrough_goes_out_on_the_ports_thread_and_the_conductor_keeps_the_books():
    cfg = override(config(), "controls", comp="note 36")
    s, clock, inq, sink, rec = make(cfg, clock=RealClock(), threaded=True)
    s.start()
    try:
        inq.push([0x93, 60, 100])  # (channel 4 in: thru goes out on the player's channel)
        assert [(m.type, m.note, m.channel) for _, m in sink.sent] == [("note_on", 60, 0)]  # before any round
        inq.push([0x90, 36, 100])  # a bound pad: not music, not passed through
        inq.push([0x90, 200, 5])  # malformed: not sent (the conductor counts it)
        assert len(sink.sent) == 1 and len(s.player.thru_ms) == 1
        s.inq.drain(s.player.handle)
        assert s.player.sounding == {(0, 60)} and s.player.malformed == 1 and len(sink.sent) == 1  # not sent twice
    finally:
        s.close()
    assert sink.sounding() == set() and inq.thru is None


def test_a_beat_turned_into_seconds_reads_back_as_itself_on_the_log():
    """An answer placed on bar 4 (beat 12) was logged "answering at 3:4": beat_at(time_of(12))
    came back as 11.999999..., and the bar:beat truncated it."""
    cfg = override(config(), "timing", tempo=66.0)
    misread = []
    for start in range(200):
        s, clock, inq, sink, rec = make(cfg, clock=ManualClock(1000.0 + start * 0.0137))
        s.start()
        for beat in range(4, 40):
            if s.bar_beat(s.time_of(float(beat))) != f"{beat // 4 + 1}:{beat % 4 + 1}":
                misread.append((start, beat))
        s.close()
    assert not misread, misread[:5]


def test_what_was_played_while_the_session_started_goes_out_first_and_once():
    # Notes waited in the queue while the partner warmed up; passthrough on the port's thread
    # begins with them, in order, and the conductor sends none of them again. (Before, the
    # waiting notes went out through the conductor after newer ones had taken the fast path:
    # a note-off could leave before its note-on and the note hung.)
    s, clock, inq, sink, rec = make()
    early = [[0x90, 60, 90], [0x90, 62, 90], [0x80, 60, 0]]
    for k, data in enumerate(early):
        clock.set(10.0 + 0.05 * k)
        inq.push(data)
    clock.set(10.3)
    s.start()
    inq.start_thru(s.player.fast_thru)  # (as a threaded session does at start)
    inq.push([0x80, 62, 0])  # released as soon as the session is up
    for _ in range(5):
        s.step()
    player = [(m.type, m.note) for _, m in sink.sent if m.type in ("note_on", "note_off") and m.channel == 0]
    assert player == [("note_on", 60), ("note_on", 62), ("note_off", 60), ("note_off", 62)]
    s.close()


def test_input_passthrough_begins_without_a_gap_or_an_overtake():
    # A port thread pushes 2,000 messages while passthrough begins: every message is passed
    # through exactly once, in the order played.
    import threading

    from improv.live.clock import ManualClock as Clock

    inq = InputQueue(Clock(0.0))
    out = []
    started = threading.Event()

    def port():
        for k in range(2000):
            if k == 200:
                started.set()
            inq.push([0x90, k % 128, 1 + k // 128])

    th = threading.Thread(target=port)
    th.start()
    started.wait(2.0)
    inq.start_thru(lambda data, t: out.append(tuple(data)))
    th.join()
    want = [(0x90, k % 128, 1 + k // 128) for k in range(2000)]
    assert out == want


def test_a_player_who_began_while_it_started_began_the_session():
    # With nothing keeping time but the player, the notes played while the partner warmed
    # up start the timeline: they are recorded where they were played (not squashed onto
    # its first instant) and answered as a call.
    s, clock, inq, sink, rec = make(chart=None)
    for t, data in CALL:
        clock.set(10.0 + t)
        inq.push(data)
    clock.set(11.5)
    s.start()
    assert s.t0 == pytest.approx(10.0)
    assert rec[0].t0 == pytest.approx(10.0)
    for k in range(300):
        clock.set(11.5 + 0.01 * k)
        s.step()
    played = [(m.type, t) for part, m, t in rec[0].events if part == "player"]
    assert [t - 10.0 for _, t in played] == pytest.approx([t for t, _ in CALL])
    assert sink.ons(1)  # the partner answered them
    s.close()


def test_a_keyboards_chatter_while_it_started_does_not_move_the_session():
    # Active sensing and controllers waiting from before the start are not a player playing:
    # the session starts when it is ready, as before.
    s, clock, inq, sink, rec = make(chart=None)
    clock.set(10.0)
    inq.push([0xFE])
    inq.push([0xB0, 7, 100])
    clock.set(11.5)
    s.start()
    assert s.t0 == pytest.approx(11.5)
    s.close()


def test_close_releases_every_note_and_writes_the_recording_whatever_the_partner_does():
    """The partner was stopped first, and nothing after a failure ran: a worker that would
    not die in time (TimeoutExpired from its stop) left the player's key, the partner's note
    and the band hanging, the outputs open and the recording unwritten. The music is
    released first now, the partner stopped last, and each step runs whatever the one
    before it raised."""
    from improv.core.theory.notes import Note, Phrase
    from improv.live.band import phrase_notes

    s, clock, inq, sink, rec = make(config())
    s.start()
    play(s, clock, inq, CALL[:1], until=0.2)  # the player holds F
    s.feeder.add(phrase_notes(Phrase((Note(0.0, 72, 4.0, 90),), s.beat_at(clock.now()) + 0.05, 4.0), s.partner_ch))
    for _ in range(30):
        clock.set(clock.now() + 0.01)
        s.step()
    assert len(sink.sounding()) == 2

    def stuck() -> None:
        raise subprocess.TimeoutExpired("improv.partner.worker", 2.0)

    s.partner.close = stuck
    s.close()
    assert sink.sounding() == set() and sink.closed and rec[0].closed and s.closed


class HandPartner:
    """The partner's interface, its answers handed in by the test (on a thread it names)."""

    name, reads_ahead, state, responder = "hand", False, "ready", None

    def __init__(self) -> None:
        self.jobs: list = []
        self.dropped_numbers: list[int] = []

    def start(self, make_setup, on_result, say) -> None:
        self.on_result = on_result

    def submit(self, job, now) -> None:
        self.jobs.append(job)

    def read(self, r) -> None:
        pass

    def dropped(self, n) -> None:
        self.dropped_numbers.append(n)

    def check(self, now) -> None:
        pass

    def close(self) -> None:
        pass


def asked_by_hand(offset: float, length: float):
    """A session with a `HandPartner`, asked one second in for an answer `offset` beats
    later and `length` beats long. Returns (session, clock, sink, partner, the beat asked at)."""
    partner = HandPartner()
    s, clock, inq, sink, rec = make(config(), responder=partner)
    s.start()
    t = s.t0 + 1.0
    clock.set(t)
    beat = s.beat_at(t)
    s.ask(Phrase.of([(65, 0.0, 0.5)], start=beat - 1), s.chart, beat + offset, length, t)
    return s, clock, sink, partner, beat


def test_an_answer_ready_after_it_began_comes_in_where_it_is_through_the_exchange():
    # (a partner restarted while it thought answers late): the notes already past are left
    # out, the rest keep their beats, and none of them is sent late or counted as late
    from improv.partner.protocol import Result

    s, clock, sink, partner, beat = asked_by_hand(1.0, 8.0)
    answer = Phrase(tuple(Note(float(i), 60 + i, 0.5, 90) for i in range(8)), beat + 1.0, 8.0)
    clock.set(s.time_of(beat + 4.5))  # its first four notes are past
    s.exchange.on_result(Result(partner.jobs[-1].number, answer))
    for k in range(1, 400):
        clock.set(s.time_of(beat + 4.5) + 0.01 * k)
        s.step()
    s.close()
    got = sink.ons(channel=1)
    assert [p for _, p in got] == [64, 65, 66, 67]
    assert [round(s.beat_at(when) - beat, 3) for when, _ in got] == [5.0, 6.0, 7.0, 8.0]
    assert s.scheduler.late == 0 and s.answers == 1


def test_an_answer_arriving_as_the_player_comes_back_in_plays_nothing():
    """The answer's first notes were handed to the scheduler after the exchange's lock, so
    a yield between the two (the player coming back in) still played them over the player.
    The yield is forced into that gap here."""
    from improv.partner.protocol import Result

    s, clock, sink, partner, beat = asked_by_hand(0.1, 4.0)
    t = clock.now()
    answer = Phrase(tuple(Note(i * 0.5, 70 + i, 0.45, 90) for i in range(8)), beat + 0.1, 4.0)
    in_gap, yielded = threading.Event(), threading.Event()
    play = s.scheduler.play

    def late_play(notes, generation=None):
        if threading.current_thread().name == "improv-partner-rx":
            in_gap.set()
            yielded.wait(2)  # the receiving thread is pre-empted here
        return play(notes, generation)

    s.scheduler.play = late_play
    rx = threading.Thread(target=s.exchange.on_result, args=(Result(partner.jobs[-1].number, answer),),
                          name="improv-partner-rx")
    rx.start()
    assert in_gap.wait(2)
    s.yield_to_player(clock.now())
    yielded.set()
    rx.join(2)
    for k in range(1, 200):
        clock.set(t + k * 0.01)
        s.scheduler.poll()
    assert not [m for _, m in sink.sent if m.type == "note_on" and m.velocity and m.channel == s.partner_ch]
    s.close()


def test_playing_on_while_a_dropped_answer_is_still_computing_yields_once():
    """The player came back in while the partner was still computing its answer, and played
    on: every note of the new phrase made the partner "yield" again, to an answer already
    dropped, until it came back (on a busy machine, three lines of "you came back in:
    partner yields" at one beat, a "partner yields" marker each in the file, the yields
    counted three times in the summary, and the status line saying "answering" over the
    player's phrase)."""
    from improv.partner.protocol import Result

    partner = HandPartner()
    s, clock, inq, sink, rec = make(config(), responder=partner)
    said = []
    s.say = said.append
    s.start()
    back = [e for k in range(4) for e in ((1.45 + 0.1 * k, [0x90, 72 + k, 100]), (1.5 + 0.1 * k, [0x80, 72 + k, 0]))]
    play(s, clock, inq, CALL + back, until=1.8)
    assert len(partner.jobs) == 1  # the call was asked for; its answer has not come back
    assert s.yields == 1, said
    assert [line.split("  ")[1] for line in said if "came back in" in line] == ["you came back in: partner yields"], said
    assert [text for text, _ in rec[0].markers if text == "partner yields"] == ["partner yields"]
    assert not s.partner_busy() and s.policy.state(s.beat_at(clock.now())) == "listening"
    s.exchange.on_result(Result(1, Phrase.of([(70, 0.0, 0.5)], start=3.0, length=4.0)))  # it comes back: not played
    play_more(s, clock, inq, [], 1.81, 2.5)
    assert sink.ons(channel=1) == []
    s.close()


def test_a_stop_during_the_warm_up_still_records_what_was_played():
    """SIGTERM (or Ctrl-C) while the partner warmed up: the session started, its loop saw
    the stop at once and closed, and the notes played meanwhile, still waiting in the input
    queue, were passed through but never recorded. They are recorded at close, and a key
    still down is released (sent and recorded), but they are not answered."""
    s, clock, inq, sink, rec = make(config())
    for data in ([0x90, 65, 100], [0x80, 65, 0], [0x90, 69, 90]):  # played while it warmed up
        inq.push(data)
    s.start()
    s.stop("SIGTERM")
    s.close()
    played = [(m.type, m.note) for part, m, _ in rec[0].events if part == "player"]
    assert played == [("note_on", 65), ("note_off", 65), ("note_on", 69), ("note_off", 69)]
    assert s.calls == 0 and sink.sounding() == set()


@pytest.mark.parametrize("band", [{"comp": True}, {"trade_bars": 4}], ids=["comp", "trading"])
def test_notes_played_while_the_partner_warms_up_keep_their_times_when_bar_1_comes_later(tmp_path, band):
    # With a band (or trading's count-in) bar 1 is set after the warm-up; the recording began
    # there, so a phrase played meanwhile was squashed onto one instant at the file's start.
    from improv.core.formats.midifile import load_recording
    from improv.live.recorder import Recorder

    made = []
    s, clock, inq, sink, _ = make(override(config(), "band", **band),
                                  recorder_factory=lambda t0, c: made.append(
                                      Recorder(tmp_path, 120.0, 4, 1, 2, t0, chart=c, stamp="s")) or made[-1])
    for t, data in CALL:  # 10.0 .. 10.9 s, before the session starts
        clock.set(10.0 + t)
        inq.push(data)
    clock.set(12.0)
    s.start()
    for k in range(100):
        clock.set(12.0 + 0.01 * k)
        s.step()
    s.close()
    early = made[0].before_start
    assert early is not None, "the warm-up's phrase has a file of its own, beside the session's"
    got = [(e.msg.type, e.msg.note, e.t) for e in load_recording(early).events if e.part == "player"]
    first = got[0][2]
    assert [(kind, note) for kind, note, _ in got] == [("note_on", 65), ("note_off", 65), ("note_on", 69),
                                                        ("note_off", 69)]
    assert [t - first for *_, t in got] == pytest.approx([0.0, 0.4, 0.5, 0.9], abs=2e-3)


def test_a_yield_while_an_answer_is_handed_over_takes_it_back_everywhere():
    # The player comes back in just as the partner's answer is put on the timeline (forced
    # here inside the hand-over's first pump): nothing of it sounds, so it is not counted,
    # not in the history, and the partner is told it was dropped.
    s, clock, inq, sink, rec = make()
    s.start()
    pump, fired, dropped = s.feeder.pump, [], []

    def pump_then_yield(now_beat, hold=None, generation=None):
        if generation is not None and not fired:  # the hand-over's pump, on the partner's thread
            fired.append(True)
            s.yield_to_player(clock.now())
        return pump(now_beat, hold, generation)

    s.feeder.pump = pump_then_yield
    real_dropped = s.partner.dropped
    s.partner.dropped = lambda n: (dropped.append(n), real_dropped(n))
    play(s, clock, inq, CALL, until=4.0)
    assert fired and s.yields == 1
    assert sink.ons(channel=1) == []
    assert s.answers == 0 and len(s.exchange.memory.phrases) == 1 and dropped == [1]
    # ... and the partner's own memory: the next answer's history is the first call alone
    second = [(5.0 + t, [d[0], d[1] + 2, d[2]]) for t, d in CALL]
    play_more(s, clock, inq, second, 4.01, 8.0)
    s.close()
    assert s.answers == 1
    assert [p.pitches() for p in s.responder.histories[-1]] == [[65, 69]]


def test_substitutes_are_kept_for_the_band_only_when_a_band_plays():
    from improv.core.respond.markov import MarkovResponder

    cfg = override(config(), "embrace", mode="embrace", daring=1.0)
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7", responder=MarkovResponder(seed=3))
    s.start()
    outside = [(0.0, [0x90, 61, 120]), (1.4, [0x80, 61, 0])]  # a long, accented C# over Cmaj7
    for i in range(8):
        t = 8.0 * i
        play_more(s, clock, inq, [(t + 0.01 + dt, d) for dt, d in outside], start=t + (0.01 if i else 0.0),
                  until=t + 8.0)
    s.close()
    assert s.band is None and s.answers >= 4
    assert len(s.exchange.band_overrides) == 0  # (before: one kept per re-harmonised answer, for the whole set)


def test_a_terminal_stopped_by_ctrl_s_does_not_hold_the_recording_or_the_note_offs():
    class StoppedTerminal:  # write waits until Ctrl-Q
        def __init__(self):
            self.resume = threading.Event()

        def isatty(self):
            return True

        def fileno(self):
            return 2

        def write(self, text):
            self.resume.wait()

        def flush(self):
            pass

    term = StoppedTerminal()
    s, clock, inq, sink, rec = make(display=Display(term, tty=True, background=True))
    s.start()
    play(s, clock, inq, CALL, until=4.0)
    closer = threading.Thread(target=s.close, daemon=True)
    closer.start()
    deadline = time.monotonic() + 5.0
    while not (rec[0].closed and sink.closed and s.notes_released) and time.monotonic() < deadline:
        time.sleep(0.01)
    done_while_stopped = rec[0].closed, sink.closed, s.notes_released
    term.resume.set()
    closer.join(5.0)
    assert done_while_stopped == (True, True, True)
    assert not closer.is_alive()


def test_panic_lifts_the_sustain_pedal_before_all_notes_off_on_every_channel():
    s, clock, inq, sink, rec = make()
    s.start()
    play(s, clock, inq, [(0.0, [0xB0, 64, 127]), (0.1, [0x90, 60, 90])], until=0.5)  # pedal down, a key
    n = len(sink.sent)
    s.panic()
    ccs = [(m.channel, m.control, m.value) for _, m in sink.sent[n:] if m.type == "control_change"]
    for ch in range(16):
        mine = [(c, v) for c_ch, c, v in ccs if c_ch == ch]
        assert mine[:4] == [(64, 0), (123, 0), (120, 0), (121, 0)], (ch, mine)
    bends = [(m.channel, m.pitch) for _, m in sink.sent[n:] if m.type == "pitchwheel"]
    assert bends == [(ch, 0) for ch in range(16)]  # a bend the player left is centred
    assert not sink.sounding()
    s.close()


def test_panic_mid_answer_silences_the_partner_and_rests_the_band_for_a_bar():
    # Panic pressed while the partner answers over a band: the answer stops for good (the
    # rest of it was still queued) and the band rests a bar before it comes back in.
    s, clock, inq, sink, rec = make(override(config(), "band", comp=True))
    s.start()
    play(s, clock, inq, CALL, until=1.8)  # the answer began at 1.5 s (beat 3)
    assert sink.ons(channel=s.partner_ch), "the answer is sounding when panic is pressed"
    pressed = clock.now()
    s.panic()
    play_more(s, clock, inq, [], 1.81, 4.5)
    after = [(t, m) for t, m in sink.sent if t > pressed and m.type == "note_on" and m.velocity > 0]
    assert not [m for _, m in after if m.channel == s.partner_ch], "the answer went on after panic"
    bar_s = 4 * 60.0 / s.tempo
    assert not [m for t, m in after if t < pressed + 0.9 * bar_s], "the band played on through panic"
    assert [m for t, m in after if t >= pressed + 0.9 * bar_s], "the band comes back in after its bar's rest"
    s.close()


def test_panic_pressed_before_the_call_has_ended_is_not_answered():
    """Panic slammed in the gap that ends a call (0.3 s after its last note): the partner
    still answered it a moment later, for the bars asked."""
    s, clock, inq, sink, rec = make()
    s.start()
    play(s, clock, inq, CALL, until=1.2)  # the call's last note ended at 0.9 s; its end is heard at 1.4 s
    s.panic()
    play_more(s, clock, inq, [], 1.21, 5.0)
    assert not sink.ons(channel=s.partner_ch) and s.answers == 0
    play_more(s, clock, inq, [(5.5, [0x90, 65, 100]), (5.9, [0x80, 65, 0])], 5.01, 9.0)  # the next call is
    assert sink.ons(channel=s.partner_ch)  # answered as ever
    s.close()


def test_a_knob_turned_is_said_once_where_it_settled():
    cfg = override(config(), "controls", daring="cc 20", comp="cc 25")
    s, clock, inq, sink, rec = make(cfg)
    said = []
    s.say = said.append
    s.start()
    sweep = [(0.01 * k, [0xB0, 20, v]) for k, v in enumerate(range(0, 128, 4))]  # a quick turn, 0.32 s
    play(s, clock, inq, sweep + [(0.4, [0xB0, 25, 127])], until=1.0)
    knob = [line for line in said if "daring" in line]
    assert len(knob) == 1 and knob[0].endswith("daring 0.98"), knob  # where it stopped: 124/127
    assert s.cfg.embrace.daring == 0.98
    assert any(line.endswith("comp: no rhythm section (start with --comp/--bass and a chart)") for line in said)
    s.close()


def test_a_free_jam_places_its_answer_later_where_answers_come_back_slower():
    """Under load long answers were ready after they had begun and their first notes were
    left out: once the last answers took 75 ms a beat of answer, a one-bar answer (0.3 s)
    goes on the beat after the one it would have begun on, whole; quick ones are placed as
    ever (the first test of this file: beat 3, 1.5 s)."""
    s, clock, inq, sink, rec = make()
    s.exchange.pace.extend([(0, 0.075), (0, 0.075)])  # (call, seconds to ready a beat of answer) of the last answers
    s.start()
    play(s, clock, inq, CALL, until=5.0)
    partner = sink.ons(channel=1)
    s.close()
    # noticed at beat 2.8: the 0.3 s answer and a margin reach past beat 3, so it begins on beat 4
    assert len(partner) == 8 and partner[0][0] == pytest.approx(s.t0 + 2.0)
    assert s.scheduler.late == 0


def test_a_reharmonised_answer_writes_its_substitute_and_the_tunes_chord_after_into_the_file():
    """The band plays a substitute for the bar of the chord it stands in for; the file's
    chords said the tune's chord there (the explanation alone named the substitute)."""
    from improv.core.embrace.reharm import substitute
    from improv.partner.protocol import Result

    s, clock, sink, partner, beat = asked_by_hand(1.0, 8.0)
    start = beat + 1.0
    sub = substitute(s.chart, start, start + 3.0, parse_chart("B7").chord_at(0.0))
    answer = Phrase(tuple(Note(float(i), 60 + i, 0.5, 90) for i in range(8)), start, 8.0)
    s.exchange.on_result(Result(partner.jobs[-1].number, answer, ("reharmonise as B7",), (start, start + 3.0, sub)))
    s.close()
    got = [(text, round(t - s.t0, 3)) for text, t in s.recorder.chords]
    assert got == [("B7", round(s.time_of(start) - s.t0, 3)), (str(s.chart.chord_at(start + 3.0)),
                                                                 round(s.time_of(start + 3.0) - s.t0, 3))]

def test_an_answers_marker_sits_at_its_first_note_not_where_its_span_begins():
    """The recording's "answer N" marker (and what the answer did with the call) went at the
    first beat of the answer's span; an answer that rests a beat and a half in was marked on
    silence. It goes at its first note, as a call's does."""
    from improv.partner.protocol import Result

    s, clock, sink, partner, beat = asked_by_hand(1.0, 8.0)
    start = beat + 1.0
    answer = Phrase(tuple(Note(1.5 + i, 60 + i, 0.5, 90) for i in range(4)), start, 8.0)
    s.exchange.on_result(Result(partner.jobs[-1].number, answer, ("bar 1: heard E over F7 -> let it pass",)))
    s.close()
    marks = {text: round(s.beat_at(t) - start, 3) for text, t in s.recorder.markers
             if not text.startswith(("tempo", "call"))}
    assert marks == {"answer 1: 4 notes": 1.5, "bar 1: heard E over F7 -> let it pass": 1.5}, marks


def test_with_no_chart_a_substitute_is_written_as_one_and_the_heard_chord_after_it_as_heard():
    """With no chart the file's chords are those heard in the calls, "(heard) F7"; an answer
    re-harmonised there wrote its substitute and the heard chord after it plain, "B7" and
    "F7", read as a tune's chords that were never written. They say what they are."""
    from improv.core.embrace.reharm import substitute
    from improv.partner.protocol import Result

    partner = HandPartner()
    s, clock, inq, sink, rec = make(config(), chart="", responder=partner)
    assert s.chart is None
    s.start()
    t = s.t0 + 1.0
    clock.set(t)
    beat = s.beat_at(t)
    heard = parse_chart("F7")
    s.ask(Phrase.of([(65, 0.0, 0.5)], start=beat - 1), heard, beat + 1.0, 8.0, t)
    start = beat + 1.0
    sub = substitute(heard, start, start + 3.0, parse_chart("B7").chord_at(0.0))
    answer = Phrase(tuple(Note(float(i), 60 + i, 0.5, 90) for i in range(8)), start, 8.0)
    s.exchange.on_result(Result(partner.jobs[-1].number, answer, ("reharmonise as B7",), (start, start + 3.0, sub)))
    s.close()
    got = [(text, round(s.beat_at(t) - start, 3)) for text, t in rec[0].chords]
    assert got == [("(substitute) B7", 0.0), ("(heard) F7", 3.0)], got


def test_the_status_line_shows_the_substitute_a_reharmonised_answer_opens_over():
    """Over a chart, an answer re-harmonised as B7 (the band comping B7, the file's chords
    saying B7) had the status line and the stage view saying the tune's chord under it."""
    from improv.core.embrace.reharm import substitute
    from improv.partner.protocol import Result

    s, clock, sink, partner, beat = asked_by_hand(1.0, 8.0)
    start = beat + 1.0
    sub = substitute(s.chart, start, start + 3.0, parse_chart("B7").chord_at(0.0))
    answer = Phrase(tuple(Note(float(i), 60 + i, 0.5, 90) for i in range(8)), start, 8.0)
    s.exchange.on_result(Result(partner.jobs[-1].number, answer, ("reharmonise as B7",), (start, start + 3.0, sub)))
    written = str(s.chart.chord_at(start + 1.0))
    assert written != "B7"
    clock.set(s.time_of(start + 1.0))
    assert s.snapshot(clock.now()).harmony == "B7"
    clock.set(s.time_of(start + 3.5))  # past its span: the tune's chord again
    assert s.snapshot(clock.now()).harmony == str(s.chart.chord_at(start + 3.5))
    s.close()

def test_a_pedal_pressed_while_the_partner_warms_up_does_not_move_the_files_bar_one(tmp_path):
    """Following the player over a chart, their first note is bar 1 of the chart and of the
    file. A message other than a note waiting at the start (the sustain pedal, a mod wheel,
    the volume a keyboard sends when it connects) set the file's beat 0 at the session's
    start instead, and the file's bars and chord markers were two beats off what was played."""
    from improv.config import override
    from improv.core.formats.midifile import TempoMap, load_recording
    from improv.core.formats.miditrack import PPQ
    from improv.live.recorder import Recorder

    def first_note_beat(folder, before):
        cfg = override(config(), "timing", tempo=120.0, follow=True)
        s, clock, inq, _, _ = make(cfg, chart="C7 | F7 | G7 | C7", recorder_factory=lambda t0, chart: Recorder(
            folder, 120.0, chart.beats_per_bar, 1, 2, t0, chart=chart, stamp="s"))
        for data in before:
            inq.push(data)
        clock.set(clock.now() + 0.2)
        s.start()
        play(s, clock, inq, [(1.0, [0x90, 60, 90]), (1.4, [0x80, 60, 0]), (1.5, [0xB0, 64, 0])], until=1.6)
        s.close()
        rec = load_recording(s.record_path)
        tm = TempoMap(rec.tempos)
        on = min(e.t for e in rec.events if e.part == "player" and e.msg.type == "note_on" and e.msg.velocity)
        chords = [(round(tm.ticks(m.t) / PPQ, 3), m.text) for m in rec.markers if m.kind == "chord"]
        return round(tm.ticks(on) / PPQ, 3), chords[:1]

    assert first_note_beat(tmp_path / "a", []) == (0.0, [(0.0, "C7")])
    assert first_note_beat(tmp_path / "b", [[0xB0, 64, 127]]) == (0.0, [(0.0, "C7")])


def test_the_session_so_far_changes_only_under_the_exchange_lock():
    """An answer landing on the partner's thread adds to the calls and answers so far while
    the conductor may recount the bars (following over a chart, the partner still busy with
    the last call): the recount walked them as the landing added, and the jam ended with
    "deque mutated during iteration". Every change is under the exchange's lock now."""
    from improv.core.respond.base import SessionMemory
    from improv.partner.protocol import Result

    locked: list[tuple[str, bool]] = []

    class Watched(SessionMemory):
        def add(self, *phrases):
            locked.append(("add", s.exchange._lock.locked()))
            super().add(*phrases)

        def discard(self, phrase):
            locked.append(("discard", s.exchange._lock.locked()))
            super().discard(phrase)

        def remap(self, beat_of):
            locked.append(("remap", s.exchange._lock.locked()))
            super().remap(beat_of)

    s, clock, sink, partner, beat = asked_by_hand(1.0, 4.0)
    s.exchange.memory = Watched()
    s.exchange.on_result(Result(partner.jobs[-1].number, None, error="no answer"))  # the call is kept alone
    s.ask(Phrase.of([(67, 0.0, 0.5)], start=beat), s.chart, beat + 2.0, 4.0, clock.now())
    s.exchange.on_result(Result(partner.jobs[-1].number, Phrase.of([(62, 0.0, 0.5)], start=beat + 2.0, length=4.0)))
    s.yield_to_player(clock.now())  # before it sounded: taken back
    s.player.recounted(lambda b: b + 0.5, clock.now())
    s.close()
    assert {what for what, _ in locked} == {"add", "discard", "remap"}
    assert all(held for _, held in locked), locked


class LoopingSink(FakeSink):
    """A sink wired back into the session's input (a DAW track sending improv's output back)."""

    def __init__(self, clock, inq):
        super().__init__(clock)
        self.inq = inq

    def send(self, msg, at=None):
        super().send(msg, at)
        if len(self.sent) < 2000:  # (the storm a loop makes, bounded so that a test without the guard ends)
            self.inq.push(msg.bytes())


def test_a_midi_loop_is_said_once_and_its_echoes_are_not_sent_round_again():
    """improv's output wired back into its input: every echo was passed through again and came
    back again (two notes became 5,647 in 8 s on JACK), and the partner heard its own answers
    as calls. Now the loop is said once, its echoes are dropped, the player's call is answered
    once, and nothing is left sounding."""
    s, clock, inq, _, rec = make()
    sink = LoopingSink(clock, inq)
    s.sinks = [sink]
    s.start()
    play(s, clock, inq, CALL, until=6.0)
    said = [e for e in s.errors if "MIDI loop" in e]
    assert len(said) == 1
    ons = [m for _, m in sink.sent if m.type == "note_on" and m.velocity]
    assert len(ons) < 30, len(ons)  # (no guard: one more echo every round, thousands)
    assert s.player.loop.looping and s.player.loop.dropped > 0
    assert s.calls == 1 and "echoed messages ignored" in s.summary()
    s.close()
    # what the loop doubled is silenced: all notes off on its channel after its last note-on
    for ch, note in sink.sounding():
        last_on = max(k for k, (_, m) in enumerate(sink.sent) if m.type == "note_on" and m.velocity
                      and (m.channel, m.note) == (ch, note))
        assert any(m.type == "control_change" and m.control == 123 and m.channel == ch
                   for _, m in sink.sent[last_on:]), (ch, note)


def test_a_player_repeating_a_note_at_a_fixed_velocity_is_not_a_loop():
    """A keyboard with a fixed velocity sends identical bytes for a repeated note: played as
    fast as a finger repeats a key (16ths at 240 bpm), every one is passed through."""
    s, clock, inq, sink, rec = make()
    s.start()
    events = []
    for k in range(24):
        events += [(0.0625 * k, [0x90, 60, 100]), (0.0625 * k + 0.03, [0x80, 60, 0])]
    play(s, clock, inq, events, until=2.0)
    assert not s.player.loop.looping and not any("MIDI loop" in e for e in s.errors)
    assert len([1 for _, m in sink.sent if m.type == "note_on" and m.channel == 0 and m.velocity]) == 24
    s.close()


def test_a_fast_passage_through_the_ports_thread_is_not_taken_for_its_own_echo():
    """The passthrough sends a player's message on the port's thread before the conductor
    reads it: judged there, after the send, every note matched its own passthrough, and a
    fast run was taken for a loop (then its notes were dropped)."""
    s, clock, inq, sink, rec = make()
    s.start()
    inq.start_thru(s.player.fast_thru)
    for k in range(16):
        clock.set(s.t0 + 0.05 * k)
        inq.push([0x90, 60 + k, 90])
        inq.push([0x80, 60 + k, 0])
        s.step()
    assert not s.player.loop.looping and s.player.loop.dropped == 0 and not any("MIDI loop" in e for e in s.errors)
    assert len([1 for _, m in sink.sent if m.type == "note_on" and m.channel == 0 and m.velocity]) == 16
    s.close()


class DeferredLoopSink(FakeSink):
    """A loop on the live path: what is sent comes back into the input 2 ms later (pushed by
    the test, as a port's thread would: `InputQueue.push` passes it through at once)."""

    def __init__(self, clock, echoing=True):
        super().__init__(clock)
        self.pending, self.echoing = [], echoing

    def send(self, msg, at=None):
        super().send(msg, at)
        if self.echoing and len(self.sent) < 3000:
            self.pending.append(msg.bytes())


def _play_live(s, clock, inq, sink, events, until):
    """Step a session with the port thread's passthrough in 10 ms steps, the sink's echoes
    pushed back 2, 4, 6 and 8 ms after each step's sends."""
    events, i = sorted(events), 0
    for step in range(int(until / 0.01)):
        t = s.t0 + step * 0.01
        clock.set(t)
        while i < len(events) and events[i][0] <= step * 0.01 + 1e-9:
            inq.push(events[i][1])
            i += 1
        for sub in range(1, 5):
            back, sink.pending = sink.pending, []
            clock.set(t + 0.002 * sub)
            for data in back:
                inq.push(data)
        s.step()


def _looped_live_session():
    """A started session on the live path (the port thread's passthrough) whose output comes
    back into its input (`DeferredLoopSink`); its log lines kept in `said`."""
    s, clock, inq, _, _ = make()
    said = []
    s.say = said.append
    sink = DeferredLoopSink(clock)
    s.sinks = [sink]
    s.start()
    inq.start_thru(s.player.fast_thru)
    return s, clock, inq, sink, said


def test_a_midi_loop_on_the_live_path_is_said_once_and_its_echoes_not_sent_round_again():
    s, clock, inq, sink, said = _looped_live_session()
    _play_live(s, clock, inq, sink, CALL, until=6.0)
    ons = [m for _, m in sink.sent if m.type == "note_on" and m.velocity]
    assert sum("MIDI loop:" in e for e in s.errors) == 1 and s.player.loop.looping
    assert len(ons) < 30, len(ons)  # (echoes passed through again: hundreds)
    assert s.calls == 1 and s.answers == 1  # the partner's answer was not heard as a call
    s.close()


def test_when_the_loop_is_taken_away_nothing_more_is_dropped():
    s, clock, inq, sink, said = _looped_live_session()
    _play_live(s, clock, inq, sink, CALL, until=2.0)
    assert s.player.loop.looping
    sink.echoing = False  # the patch cable pulled
    later = [(0.0, [0x90, 62, 90]), (0.3, [0x80, 62, 0]), (1.5, [0x90, 64, 90]), (1.8, [0x80, 64, 0])]
    later += [(2.0 + 0.01 * k, [0xB0, 64, v]) for k, v in enumerate((0, 5, 0))]  # a half pedal settling at 0
    s.t0 += 2.0
    _play_live(s, clock, inq, sink, later, until=3.0)
    assert not s.player.loop.looping and sum("MIDI loop gone" in line for line in said) == 1
    pedal = [m.value for _, m in sink.sent if m.type == "control_change" and m.control == 64 and m.channel == 0]
    assert pedal[-3:] == [0, 5, 0]
    s.close()


def test_the_loop_is_gone_when_notes_alone_stop_coming_back():
    """Cable pulled, the player goes on with notes only: each note had just been passed through
    as the conductor looked, so the loop never cleared (only a pedal or a bend cleared it), and
    the summary still said a loop sent improv's output back."""
    s, clock, inq, sink, said = _looped_live_session()
    _play_live(s, clock, inq, sink, CALL, until=2.0)
    assert s.player.loop.looping
    sink.echoing = False
    later = [(0.5 * k + dt, [status, 60 + 2 * k, 90 if status == 0x90 else 0])
             for k in range(8) for dt, status in ((0.0, 0x90), (0.3, 0x80))]
    s.t0 += 2.0
    _play_live(s, clock, inq, sink, later, until=6.0)
    assert not s.player.loop.looping and sum("MIDI loop gone" in line for line in said) == 1
    assert "MIDI loop" not in s.summary()
    s.close()


def test_the_call_during_which_a_loop_is_found_keeps_every_note():
    """A loop found in the middle of a call: the panic that silences the loop forgot the call
    (its first notes were not answered), and the note echoes heard before it re-struck each of
    the call's notes as a 2 ms one."""
    s, clock, inq, sink, said = _looped_live_session()
    pitches = [65, 67, 69, 70, 72, 74]
    events = [(0.25 * k + dt, [status, p, 90 if status == 0x90 else 0])
              for k, p in enumerate(pitches) for dt, status in ((0.0, 0x90), (0.2, 0x80))]
    _play_live(s, clock, inq, sink, events, until=4.0)
    assert sum("MIDI loop:" in e for e in s.errors) == 1
    (call,) = s.responder.learned
    assert [n.pitch for n in call.notes] == pitches
    assert all(n.duration == pytest.approx(0.4, abs=0.05) for n in call.notes), call.notes  # (0.2 s at 120 bpm)
    s.close()


@pytest.mark.parametrize("stream", ["aftertouch", "bend", "half pedal"])
@pytest.mark.parametrize("live", [False, True])
def test_a_controller_stream_repeating_its_values_is_not_a_loop(stream, live):
    """Aftertouch, a bend or a half pedal wobbles between a few values every few ms: each
    value comes again within 30 ms of its passthrough, with no loop."""
    s, clock, inq, sink, rec = make()
    s.start()
    if live:
        inq.start_thru(s.player.fast_thru)
    t = s.t0
    clock.set(t)
    inq.push([0x90, 60, 100])
    s.step()
    make_msg = {"aftertouch": lambda k: [0xD0, 40 + k % 2], "bend": lambda k: [0xE0, 0, 64 + k % 2],
                "half pedal": lambda k: [0xB0, 64, (0, 3, 0, 5)[k % 4]]}[stream]
    for k in range(120):
        t += 0.005
        clock.set(t)
        inq.push(make_msg(k))
        s.step()
    assert not s.player.loop.looping and not any("MIDI loop" in e for e in s.errors)
    assert sink.sounding() == {(0, 60)}  # the held note was not cut by a panic
    assert len([1 for _, m in sink.sent if m.type != "note_on"]) == 120  # every value passed through
    s.close()


def test_eight_note_echoes_within_a_second_make_a_loop_and_no_fewer_or_slower():
    from improv.live.loopguard import LoopGuard

    def echoes(n, spacing):
        g = LoopGuard()
        for k in range(n):
            t = k * spacing
            note = bytes([0x90, 60 + k, 90])
            g.sent(note, t)
            assert g.take_echo(note, t + 0.002)
            if g.echo_heard(list(note), t + 0.002):
                return True
        return False

    assert echoes(8, 0.1) and not echoes(7, 0.1) and not echoes(8, 0.15)
    g = LoopGuard()  # two identical echoes stamped alike (the queue keeps stamps in order) are two
    g.sent(bytes([0x91, 60, 90]), 1.0)
    g.sent(bytes([0x91, 60, 90]), 1.001)
    assert g.check_before_thru([0x91, 60, 90], 1.01) and g.check_before_thru([0x91, 60, 90], 1.01)
    assert g.was_echo([0x91, 60, 90], 1.01) and g.was_echo([0x91, 60, 90], 1.01)
    assert not g.was_echo([0x91, 60, 90], 1.01)
    assert not g.take_echo([0x91, 60, 90], 1.02)  # each message sent answers for one echo
    g.sent(bytes([0x90, 62, 80]), 2.005)
    assert not g.take_echo([0x90, 62, 80], 2.0)  # arrived before it was sent: not its echo


def test_over_a_chart_in_three_four_the_call_is_counted_in_its_bars():
    """A waltz played with --tune or a 3/4 tune file and no [timing] beats_per_bar: the
    segmenter counted the call's bars, and the bar an answer starts on, in 4/4, so an answer
    set to start on the bar came in on beat 2 or 3 of the waltz's bar."""
    clock = ManualClock(10.0)
    inq = InputQueue(clock)
    sink = FakeSink(clock)
    rec = []
    s = Session(config(answer_on="bar"), clock, inq, [sink], StepResponder(), chart=parse_chart("Cmaj7 | Dm7 | G7", 3),
                recorder_factory=lambda t0, c: rec.append(FakeRecorder(t0, c)) or rec[-1], threaded=False)
    s.start()
    play(s, clock, inq, CALL, until=4.0)
    partner = sink.ons(channel=1)
    assert partner
    first = s.beat_at(partner[0][0])
    assert first == pytest.approx(3.0)  # the waltz's bar 2, not beat 4 (4/4's bar 2)
    assert len(partner) == 6  # one 3/4 bar of eighths: the call's one bar, in its metre
    s.close()


@pytest.mark.parametrize("chart, cfg_bpb, line", [
    ("Cmaj7 | A7 | Dm7 | G7", 3, "over the chart (4 bars in 3/4, looping)"),
    ("Cmaj7 | A7 | Dm7 | G7", 4, "over the chart (4 bars, looping)"),
    (None, 3, "over harmony inferred from your playing in 3/4"),
])
def test_the_opening_line_says_a_metre_other_than_four(chart, cfg_bpb, line):
    """The opening line read "over the chart (4 bars, looping)" in 3/4 too: a forgotten or a
    mistaken `--time 3/4` showed only when the band played across the player's bars."""
    from improv.core.theory.chart import parse_chart as parse

    cfg = override(config(), "timing", beats_per_bar=cfg_bpb)
    s, *_ = make(cfg, chart=parse(chart, beats_per_bar=cfg_bpb) if chart else None)
    said = []
    s.say = said.append
    s.start()
    assert any(line in x for x in said), said
    if cfg_bpb == 4:
        assert not any("/4" in x for x in said), said
    s.close()


def _comping_and_line(vamp="line", then=(48, 53, 57, 60)):
    """A left hand's chord on every beat for 6 bars under the right hand's bar of eighths,
    a bar's rest, and one note in bar 3 (120 bpm, no chart, the tempo not followed); from
    bar 2 on, every other chord is `then`."""
    cfg = override(override(config(), "timing", follow=False), "phrase", vamp=vamp)
    s, clock, inq, sink, rec = make(cfg, chart=None)
    s.start()
    b = 0.5
    events = [e for beat in range(24) for e in _keys(beat * b, then if beat >= 4 and beat % 2 else (48, 53, 57, 60),
                                                      0.5 * b, 60)]
    for k, p in enumerate((67, 69, 71, 72, 74, 72, 71, 69)):
        events += _keys(k * 0.5 * b, [p], 0.4 * b, 90)
    events += _keys(8 * b, [76], 0.9 * b, 90)
    play(s, clock, inq, events, until=14.0)
    s.close()
    return s, sink, rec


def test_the_left_hand_comping_under_the_answer_does_not_make_it_yield_the_right_hand_does():
    """Comping on every beat under a bar of line, then a bar's rest: the call went on to its
    8-bar cap (no key ever up for the gap) and the partner yielded to the next chord. The
    line's rest ends the call, the answer plays over the comping in the right hand's rest,
    and the right hand's note in bar 3 makes it yield; the comping under it is the next
    call's, heard, recorded and passed through."""
    s, sink, rec = _comping_and_line()
    partner = [round(t - s.t0, 6) for t, _ in sink.ons(channel=1)]
    assert partner == [3.0, 3.25, 3.5, 3.75] + [t for t in partner if t >= 5.5]  # beat 7 to the right hand's note
    assert s.yields == 1 and s.calls == 2 and sink.sounding() == set()
    second = s.responder.learned[-1] if s.responder.learned else None
    assert second is not None and second.start == 4.0  # the chords from beat 5 on, in the rest and under the answer
    assert [n.pitch for n in second.notes[:4]] == [48, 53, 57, 60]
    thru = [m for _, m in sink.sent if m.type == "note_on" and m.velocity and m.channel == 0]
    assert len(thru) == 24 * 4 + 9  # every key passed through
    assert sum(1 for part, m, _ in rec[0].events if m.type == "note_on" and m.velocity and m.channel == 0) == 24 * 4 + 9


def test_a_voicing_moving_up_under_the_answer_does_not_make_it_yield():
    """The comping's next voicing a step higher (top D4 over the C4 heard under the line
    from G4 up) during the answer: a note over the comping's top so far made it yield."""
    s, sink, rec = _comping_and_line(then=(50, 55, 59, 62))
    partner = [round(t - s.t0, 6) for t, _ in sink.ons(channel=1)]
    assert partner[:4] == [3.0, 3.25, 3.5, 3.75] and s.yields == 1


def test_with_vamp_all_the_comping_holds_the_call_open_as_before():
    s, sink, rec = _comping_and_line("all")
    assert s.calls == 1 and min(t - s.t0 for t, _ in sink.ons(channel=1)) >= 12.5  # once both hands rest


def test_a_phrase_played_on_before_its_answer_began_is_answered_whole():
    """A soloist's phrase whose last note came after a breath a little longer than the gap
    was answered as a call of one note (the partner yielded, then answered the lone note):
    played on before the answer began, the call goes on, and the answer answers all of it."""
    s, clock, inq, sink, rec = make()
    said = []
    s.say = said.append
    s.start()
    # the call ends at beat 1.8; its end noticed at 2.8, the answer due at beat 3 (1.5 s): the
    # player plays on at 1.45 s, then rests
    play(s, clock, inq, CALL + [(1.45, [0x90, 72, 100]), (1.7, [0x80, 72, 0])], until=4.0)
    assert s.exchange.calls == 2 and s.yields == 1
    heard = [line for line in said if "heard call 2" in line]
    assert heard and "3 notes (call 1 resumed)" in heard[0], said
    calls = [p for p in s.exchange.memory.phrases if {n.pitch for n in p.notes} <= {65, 69, 72}]
    last = calls[-1]
    assert [n.pitch for n in last.notes] == [65, 69, 72] and last.start == pytest.approx(s.beat_at(s.t0))
    assert [n.start for n in last.notes] == pytest.approx([0.0, 1.0, 2.9], abs=0.02)
    assert sink.ons(channel=1), "the whole phrase is answered"
    s.close()
    assert sink.sounding() == set()


def _resumed_jam(responder):
    """A five-note call, then its phrase played on before its answer began: the jam, closed."""
    s, clock, inq, sink, rec = make(responder=responder)
    s.start()
    notes = [(0.0, 65), (0.2, 67), (0.4, 69), (0.6, 70), (0.75, 72)]
    events = [e for t, p in notes for e in ((t, [0x90, p, 100]), (t + 0.15, [0x80, p, 0]))]
    # as the call above: it ends at 0.9 s, its answer due at beat 3 (1.5 s); played on at 1.45 s
    play(s, clock, inq, events + [(1.45, [0x90, 74, 100]), (1.7, [0x80, 74, 0])], until=4.0)
    s.close()
    assert s.exchange.calls == 2 and s.yields == 1
    return s


def test_a_resumed_phrase_is_learned_once_by_the_markov_partner():
    """Call 1 was learned, then call 2 (call 1 resumed: its notes and the one played on) was
    learned whole: call 1's steps counted twice in the partner's memory of the player."""
    from improv.core.respond.markov import MarkovResponder

    s = _resumed_jam(MarkovResponder(order=3))
    (merged,) = [p for p in s.exchange.memory.phrases if len(p) == 6]
    once = MarkovResponder(order=3)
    once.learn(merged, None, tempo=s.tempo)
    assert s.responder.session_notes == once.session_notes == 6
    assert dict(s.responder._session.counts) == dict(once._session.counts)


def test_a_resumed_phrase_is_read_once_in_the_partners_history():
    """Call 2 holds call 1 whole (call 1 resumed): the partner read call 1 in the history it
    answered call 2 with, and again in the call, and the session kept both."""
    from improv.core.respond.markov import MarkovResponder

    class Reading(MarkovResponder):
        histories: list = []

        def answer(self, call, harmony, settings):
            self.histories.append([len(p) for p in settings.history])
            return super().answer(call, harmony, settings)

    s = _resumed_jam(Reading(order=3))
    assert Reading.histories[-1] == []  # (call 1 is in the call: nothing before it was played)
    assert [len(p) for p in s.exchange.memory.phrases if p.notes][:1] == [6]  # the whole phrase, once


def test_a_new_phrase_after_an_answer_began_is_a_call_of_its_own():
    s, clock, inq, sink, rec = make()
    said = []
    s.say = said.append
    s.start()
    # played on at 1.6 s, after the answer's first note (1.5 s): the partner yields, and the
    # note begins a call of its own
    play(s, clock, inq, CALL + [(1.6, [0x90, 72, 100]), (1.8, [0x80, 72, 0])], until=4.5)
    heard = [line for line in said if "heard call 2" in line]
    assert heard and "1 note;" in heard[0] and "resumed" not in heard[0], said
    s.close()


def test_a_resumed_phrase_longer_than_a_bar_is_answered_for_as_many_bars():
    """Call 1 (two bars of quarter notes), played on before its answer began: the whole phrase
    is three bars, and so is its answer (the phrase made whole had no length, and every
    resumed call was counted as one bar, its answer a bar long)."""
    s, clock, inq, sink, rec = make()
    said = []
    s.say = said.append
    s.start()
    notes = [(i * 0.5, 65 + i) for i in range(7)]  # beats 0-6.8; its end noticed at beat 7.8, answer due at 8 (4 s)
    events = [e for t, p in notes for e in ((t, [0x90, p, 100]), (t + 0.4, [0x80, p, 0]))]
    play(s, clock, inq, events + [(3.95, [0x90, 74, 100]), (4.2, [0x80, 74, 0])], until=7.0)
    assert s.exchange.calls == 2 and s.yields == 1
    heard = [line for line in said if "heard call 2" in line]
    assert heard and "3 bars, 8 notes (call 1 resumed)" in heard[0] and "for 3 bars" in heard[0], said
    (whole,) = [p for p in s.exchange.memory.phrases if len(p) == 8]
    assert whole.length == pytest.approx(max(n.end for n in whole.notes))  # to the last release, as the segmenter's calls
    s.close()
