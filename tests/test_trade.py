"""The trading driver and the band on a ManualClock: turns, chords, grid, Stop (no JACK)."""

from dataclasses import replace

import pytest

from improv.config import Config
from improv.core.theory.chart import parse_chart
from improv.core.listen.midiclock import CLOCK, CONTINUE, START, STOP, tick_time
from improv.core.theory.notes import Note, Phrase
from improv.core.respond.base import AnswerSettings
from improv.live.band import CLICK_HIGH
from improv.live.clock import ManualClock
from improv.live.midisync import ExternalClock, TapTempo
from improv.live.inputqueue import InputQueue
from improv.live.session import Session
from improv.partner.protocol import TURN_FILL

BLUES = parse_chart("F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7")


class RecordingSink:
    def __init__(self, clock):
        self.clock, self.sent = clock, []

    def send(self, msg, at=None):
        self.sent.append((self.clock.now(), msg))

    def close(self):
        pass


class RootsResponder:
    """A fake partner: the root of the chord sounding on each beat of its turn."""

    name = "roots"

    def learn(self, call, harmony, tempo=None):
        pass

    def __init__(self):
        self.histories = []
        self.fills = []

    def answer(self, call, harmony, settings: AnswerSettings):
        self.histories.append(settings.history)
        self.fills.append(settings.fill)
        notes = [Note(float(i), 60 + harmony.chord_at(settings.start + i).root, 0.5, 90)
                 for i in range(int(settings.length))]
        return Phrase(tuple(notes), settings.start, settings.length)


def _cfg(**band):
    cfg = Config()
    return replace(cfg, timing=replace(cfg.timing, tempo=300.0),
                   band=replace(cfg.band, trade_bars=4, **band), record=replace(cfg.record, enabled=False))


def _session(clock, **band):
    sink = RecordingSink(clock)
    inq = InputQueue(clock)
    s = Session(_cfg(**band), clock, inq, [sink], RootsResponder(), chart=BLUES, threaded=False, seed=1)
    return s, sink, inq


def _ons(sink, channel):
    return [(t, m.note) for t, m in sink.sent if m.type == "note_on" and m.velocity > 0 and m.channel == channel]


def _play_at(s, clock, inq, plan, until):
    """The player's (beat, pitch) notes, each struck at its beat and let go 50 ms later, the
    session stepped between; then stepped on to beat `until`."""
    tl = s.timeline
    for beat, pitch in plan:
        while tl.beat_at(clock.now()) < beat:
            s.step()
            clock.advance(0.002)
        inq.push([0x90, pitch, 90])
        s.step()
        clock.advance(0.05)
        inq.push([0x80, pitch, 0])
    while tl.beat_at(clock.now()) < until:
        s.step()
        clock.advance(0.005)


def _daw_ticks(s, clock, ext, dues):
    """A DAW's clock ticks at `dues` (seconds), the session stepped every 2 ms between them."""
    for due in dues:
        while clock.now() + 0.002 < due:
            clock.advance(0.002)
            s.step()
        clock.set(due)
        ext.receive([CLOCK])
        s.step()


def test_three_choruses_of_fours_with_comp_bass_and_click():
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock, comp=True, bass=True, click=True)
    s.start()
    tl = s.timeline
    end_t = tl.time_of(3 * 48)
    played = 0
    while clock.now() < end_t:
        beat = tl.beat_at(clock.now())
        turn = s.policy.form.turn_at(beat)
        if turn is not None and turn.owner == "player" and int(beat * 2) > played:  # the player: eighths
            played = int(beat * 2)
            inq.push([0x90, 65, 90])
            inq.push([0x80, 65, 0])
        s.step()
        clock.advance(0.005)
    s.close()
    partner = _ons(sink, 1)
    assert partner, "the partner never played"
    by_turn = {}
    for t, note in partner:
        beat = tl.beat_at(t)
        turn = s.policy.form.turn_at(beat + 1e-6)
        assert turn.owner == "partner", (beat, turn)  # only in its own bars
        by_turn.setdefault(turn.index, []).append((beat, note))
        assert (note - 60) % 12 == BLUES.chord_at(round(beat)).root  # the form's chords, chorus after chorus
    assert sorted(by_turn) == [1, 3, 5, 7]  # 9 turns in 3 choruses: partner turns 1, 3, 5, 7
    # each turn is answered after the exchange so far: the player's turns and its own
    assert [len(h) for h in s.responder.histories][1:5] == [0, 2, 4, 6]  # (first: the warm-up)
    assert s.responder.fills[1:5] == [TURN_FILL] * 4  # a turn is played through (the model may not end it early)
    for idx, notes in by_turn.items():
        assert abs(notes[0][0] - s.policy.form.turn(idx).start) < 0.03  # starts on its downbeat
    bass = _ons(sink, 3)
    assert len(bass) >= 3 * 48 - 2
    for t, _ in bass:
        beat = tl.beat_at(t)
        assert beat >= -1e-6 and abs(beat - round(beat)) < 0.03  # on the beat grid, not in the count-in
    clicks = _ons(sink, 9)
    assert abs(tl.beat_at(clicks[0][0]) - s.policy.form.start) < 0.03  # the click counts in
    assert _ons(sink, 2), "no comping"
    # every note that went on went off
    sounding = set()
    for _, m in sink.sent:
        if m.type == "note_on" and m.velocity > 0:
            sounding.add((m.channel, m.note))
        elif m.type in ("note_on", "note_off"):
            sounding.discard((m.channel, m.note))
    assert not sounding


def test_trading_with_no_click_still_counts_in_out_loud_and_then_stops_clicking():
    """configs/uptempo.toml (bass, no click) and plain --mode trade counted in in silence."""
    for band in ({}, {"bass": True}):
        clock = ManualClock(100.0)
        s, sink, inq = _session(clock, **band)
        s.start()
        tl = s.timeline
        while clock.now() < tl.time_of(8.0):
            s.step()
            clock.advance(0.005)
        s.close()
        clicks = [tl.beat_at(t) for t, _ in _ons(sink, 9)]
        start = s.policy.form.start
        assert start < 0 and len(clicks) == -start, (band, clicks)
        assert all(abs(c - b) < 0.03 for c, b in zip(clicks, range(int(start), 0))), (band, clicks)


def test_the_count_in_clicks_are_not_recorded_onto_the_files_first_tick(tmp_path):
    """The file starts at bar 1: the count-in's clicks were all written at its first tick."""
    from improv.core.formats.midifile import load_recording, recording_notes
    from improv.live.recorder import Recorder

    clock = ManualClock(100.0)
    cfg = replace(_cfg(click=True), record=replace(_cfg().record, enabled=True, folder=str(tmp_path)))
    s = Session(cfg, clock, InputQueue(clock), [RecordingSink(clock)], RootsResponder(), chart=BLUES,
                threaded=False, seed=1, recorder_factory=lambda t0, chart: Recorder.from_config(cfg, t0, chart))
    s.start()
    played = False
    while clock.now() < s.timeline.time_of(8.0):
        if not played and clock.now() >= s.timeline.time_of(1.0):
            played = True  # something played, so the session is written
            s.inq.push([0x90, 65, 90])
            s.inq.push([0x80, 65, 0])
        s.step()
        clock.advance(0.005)
    s.close()
    clicks = [n.start for n in recording_notes(load_recording(s.record_path), "click")]
    assert clicks and min(clicks) > -0.01 and len([b for b in clicks if b < 0.1]) <= 1  # bar 1's click alone


def test_external_clock_drives_the_band_and_stop_silences_at_once():
    clock = ManualClock(10.0)
    ext = ExternalClock(clock)
    sink = RecordingSink(clock)
    inq = InputQueue(clock)
    s = Session(_cfg(bass=True, comp=True), clock, inq, [sink], RootsResponder(), chart=BLUES,
                     external=ext, threaded=False, seed=2)
    s.start()
    ext.receive([START])
    start = 10.05
    ticks = [tick_time(start, 100.0, k) for k in range(24 * 12)]
    stop_at = ticks[24 * 10 + 5]
    for k, t in enumerate(ticks):
        clock.set(t)
        ext.receive([CLOCK])
        s.step()
        if t >= stop_at:
            break
    before = len(sink.sent)
    ext.receive([STOP])
    s.step()
    after = sink.sent[before:]
    assert after and all(m.type == "note_off" or m.velocity == 0 for _, m in after)
    for k in range(20):  # nothing more while stopped
        clock.advance(0.02)
        s.step()
    assert len(sink.sent) == before + len(after)
    bass = _ons(sink, 3)
    assert bass
    spb = 60 / 100.0
    count_in = -s.policy.form.start
    for t, _ in bass:
        pos = (t - start) / spb - count_in  # the clock's beat grid
        assert abs(pos - round(pos)) * spb < 0.002, pos
    s.close()


def test_tap_tempo():
    tap = TapTempo()
    assert tap.tap(0.0) is None
    assert abs(tap.tap(0.5) - 120) < 1e-9
    tap.tap(1.0)
    assert abs(tap.tap(1.5) - 120) < 1e-9
    assert tap.tap(10.0) is None  # a long pause starts over
    # six human taps at 100 bpm, 20 ms early and late by turns: 97.8 or 102.2 bpm by which came
    # last (the first-to-last mean of four); a line through them gives what was tapped
    human = TapTempo()
    got = [human.tap(20.0 + 0.6 * k + (0.02 if k % 2 else -0.02)) for k in range(6)]
    assert abs(got[-1] - 100.0) < 1.0 and abs(got[-2] - 100.0) < 1.5, got
    faster = [human.tap(23.6 + 0.4 * k) for k in range(1, 4)]  # then straight on at 150: its own taps
    assert faster[-1] == pytest.approx(150.0), faster


def test_live_controls_toggle_comp_and_panic():
    clock = ManualClock(5.0)
    cfg = _cfg(comp=True, bass=True)
    cfg = replace(cfg, controls=replace(cfg.controls, comp="note 36", panic="cc 65"))
    sink = RecordingSink(clock)
    inq = InputQueue(clock)
    s = Session(cfg, clock, inq, [sink], RootsResponder(), chart=BLUES, threaded=False, seed=3)
    s.start()
    t_off = s.timeline.time_of(8)
    while clock.now() < t_off:
        s.step()
        clock.advance(0.005)
    inq.push([0x90, 36, 100])  # comp off; the key is a control, not music
    s.step()
    n = len(sink.sent)
    while clock.now() < s.timeline.time_of(24):
        s.step()
        clock.advance(0.005)
    late_comp = [m for t, m in sink.sent[n:] if m.type == "note_on" and m.channel == 2 and t > t_off + 0.4]
    assert not late_comp and not any(m.type == "note_on" and m.note == 36 and m.channel == 0 for _, m in sink.sent)
    inq.push([0xB0, 65, 127])  # panic
    s.step()
    assert sum(1 for _, m in sink.sent if m.type == "control_change" and m.control == 123) == 16
    s.close()


class CallsResponder(RootsResponder):
    """Keeps each call it is asked to answer."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def answer(self, call, harmony, settings: AnswerSettings):
        self.calls.append(call)
        return super().answer(call, harmony, settings)


def test_a_pickup_into_the_players_turn_is_part_of_the_call():
    clock = ManualClock(100.0)
    inq = InputQueue(clock)
    responder = CallsResponder()
    s = Session(_cfg(), clock, inq, [RecordingSink(clock)], responder, chart=BLUES, threaded=False, seed=1)
    s.start()
    # beats 3 and 4 of the count-in, then four quarter notes in the player's first turn (beats 0-15);
    # a note two and a half bars before the turn is not a pickup
    plan = [(-10.0, 50), (-2.0, 70), (-1.02, 72)] + [(float(b), 74 + b) for b in range(4)]
    _play_at(s, clock, inq, plan, until=17.0)
    s.close()
    call = responder.calls[-1]  # the first partner turn's (the first of all is the warm-up)
    assert [n.pitch for n in call.notes] == [70, 72, 74, 75, 76, 77]
    assert abs(call.start - -2.0) < 0.05 and abs(call.start + call.length - 16.0) < 1e-6


def test_an_answer_ready_after_it_began_comes_in_where_it_is():
    # (a partner restarted while it thought answers late): the notes already past are left out,
    # the rest keep their beats, and nothing is counted as a late note
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock)
    s.start()
    tl = s.timeline
    answer = Phrase(tuple(Note(float(i), 60 + i, 0.5, 90) for i in range(8)), 20.0, 8.0)
    while tl.beat_at(clock.now()) < 23.5:
        s.step()
        clock.advance(0.005)
    kept, missed = s.exchange._still_due(answer, clock.now())
    assert missed == 4 and [n.pitch for n in kept.notes] == [64, 65, 66, 67]
    assert kept.start == answer.start and [n.start for n in kept.notes] == [4.0, 5.0, 6.0, 7.0]
    on_time, none = s.exchange._still_due(answer, tl.time_of(19.0))
    assert none == 0 and on_time is answer
    s.close()


def test_after_stop_and_continue_the_band_plays_on_from_where_it_stopped_with_nothing_late():
    # a DAW that stops its clock while stopped: on Continue the song position reads where it
    # stopped (not where the old tempo line runs on to) and the band resumes from there
    from improv.core.listen.midiclock import CONTINUE

    clock = ManualClock(10.0)
    ext = ExternalClock(clock, guess=100.0)  # (as the jam opens it: the downbeat at the Start plays at once)
    sink = RecordingSink(clock)
    s = Session(_cfg(bass=True, comp=True), clock, InputQueue(clock), [sink], RootsResponder(), chart=BLUES,
                external=ext, threaded=False, seed=2)
    s.start()

    def run(t0, ticks):
        for k in range(ticks):
            due = tick_time(t0, 100.0, k)
            while clock.now() + 0.005 < due:  # the scheduler's thread, stepped finely
                clock.advance(0.005)
                s.step()
            clock.set(due)
            ext.receive([CLOCK])
            s.step()

    ext.receive([START])
    run(10.05, 24 * 10 + 5)  # to mid-bar, then Stop
    late_before = s.band.scheduler.late
    ext.receive([STOP])
    s.step()
    stopped_at = s.beat_at(clock.now())
    clock.advance(2.0)
    s.step()
    resumed = len(sink.sent)
    ext.receive([CONTINUE])
    s.step()
    assert abs(s.beat_at(clock.now()) - stopped_at) < 0.1  # not 3 beats on
    run(clock.now() + 0.01, 24 * 6)
    assert s.band.scheduler.late == late_before and s.late_dropped == 0
    assert any(m.type == "note_on" and m.velocity > 0 for _, m in sink.sent[resumed:])  # it plays on
    s.close()


def test_a_free_jam_with_a_band_plays_bar_ones_downbeat_even_when_the_start_is_slow():
    """The band's first downbeat was due the instant the session started: by the time its
    threads ran it was late and dropped (the bass came in on beat 2) in two starts of three."""
    clock = ManualClock(100.0)
    cfg = replace(_cfg(bass=True), band=replace(_cfg().band, trade_bars=0, bass=True))
    sink = RecordingSink(clock)
    s = Session(cfg, clock, InputQueue(clock), [sink], RootsResponder(), chart=BLUES, threaded=False, seed=1)
    s.start()
    clock.advance(0.1)  # imports, threads: the first look comes 100 ms after start()
    while clock.now() < s.timeline.time_of(4.0):
        s.step()
        clock.advance(0.005)
    s.close()
    bass = [s.timeline.beat_at(t) for t, _ in _ons(sink, 3)]
    assert s.late_dropped == 0 and s.band.scheduler.late == 0
    assert bass and abs(bass[0]) < 0.03, bass[:3]  # bar 1, beat 1


def _recorded_session(cfg, clock):
    """A session over BLUES recording with the real `Recorder` into `cfg.record.folder`."""
    from improv.live.recorder import Recorder

    inq = InputQueue(clock)
    s = Session(cfg, clock, inq, [RecordingSink(clock)], RootsResponder(), chart=BLUES, threaded=False, seed=1,
                recorder_factory=lambda t0, chart: Recorder.from_config(cfg, t0, chart))
    return s, inq


def _play_and_close(s, clock, inq, played: dict, until_beat: float) -> None:
    """Push each of `played` (time -> raw message) when its time comes, stepping every 2 ms
    up to timeline beat `until_beat`; then close the session."""
    while clock.now() < s.timeline.time_of(until_beat):
        for t in [t for t in played if t <= clock.now()]:
            inq.push(played.pop(t))
        s.step()
        clock.advance(0.002)
    s.close()


def test_a_pickup_played_in_the_count_in_is_kept_and_the_file_still_starts_at_bar_one(tmp_path):
    """Notes played before bar 1 were clamped onto the file's first tick, zero-length."""
    from improv.core.formats.midifile import load_recording, recording_notes

    clock = ManualClock(100.0)
    cfg = replace(_cfg(), record=replace(_cfg().record, enabled=True, folder=str(tmp_path)))
    s, inq = _recorded_session(cfg, clock)
    s.start()
    tl = s.timeline
    pickup = {tl.time_of(-1.0): [0x90, 62, 90], tl.time_of(-0.5): [0x80, 62, 0],  # a pickup: beat 4 of the count-in
              tl.time_of(-0.5) + 0.001: [0x90, 64, 90], tl.time_of(0.5): [0x80, 64, 0],  # held over bar 1
              tl.time_of(1.0): [0x90, 65, 90], tl.time_of(1.5): [0x80, 65, 0]}
    _play_and_close(s, clock, inq, pickup, 2.0)
    main = load_recording(s.record_path)
    spb = 60.0 / 300.0
    got = [(round(n.start, 1), n.pitch, round(n.duration, 1)) for n in recording_notes(main, "player")]
    assert got == [(0.0, 64, 0.5), (1.0, 65, 0.5)], got  # from bar 1: the held note starts there
    early = s.recorder.before_start
    assert early is not None and early.exists()
    before = [(n.pitch, round(n.duration * spb, 1)) for n in recording_notes(load_recording(early), "player")]
    assert (62, 0.1) in before, before  # the pickup, as played


def test_a_free_jam_on_a_daws_clock_plays_the_downbeat_and_follows_a_tempo_jump_at_once():
    """With a DAW that sends no clock while stopped the bass's downbeat was dropped as late,
    and the first beat after a jump from 160 to 200 bpm came at the old tempo (timed a beat ahead)."""
    clock = ManualClock(10.0)
    ext = ExternalClock(clock, guess=120.0)
    sink = RecordingSink(clock)
    cfg = replace(_cfg(bass=True), band=replace(_cfg().band, trade_bars=0, bass=True))
    s = Session(cfg, clock, InputQueue(clock), [sink], RootsResponder(), chart=BLUES, external=ext, threaded=False,
                seed=2)
    s.start()
    t0 = 10.5
    clock.set(t0)
    ext.receive([START])
    s.step()
    jump = tick_time(t0, 160.0, 96)  # beat 4: the DAW goes to 200 bpm
    _daw_ticks(s, clock, ext, [tick_time(t0, 160.0, k) if k < 96 else tick_time(jump, 200.0, k - 96)
                               for k in range(24 * 8)])
    s.close()
    bass = [t - t0 for t, _ in _ons(sink, 3)]
    want = [b * 0.375 for b in range(5)] + [1.5 + b * 0.3 for b in range(1, 4)]
    assert s.late_dropped == 0 and s.band.scheduler.late == 0
    assert len(bass) >= len(want) and all(abs(a - b) < 0.01 for a, b in zip(bass, want)), bass


def test_the_log_numbers_the_partners_turns_as_a_player_counts_them():
    """'heard call 2 ...; partner turn 3': the turns were numbered with the player's among them."""
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock)
    said = []
    s.say = said.append
    s.start()
    tl = s.timeline
    played = 0
    while clock.now() < tl.time_of(2 * 48):
        beat = tl.beat_at(clock.now())
        turn = s.policy.form.turn_at(beat)
        if turn is not None and turn.owner == "player" and int(beat) > played:
            played = int(beat)
            inq.push([0x90, 65, 90])
            inq.push([0x80, 65, 0])
        s.step()
        clock.advance(0.005)
    s.close()
    calls = [line for line in said if "heard call" in line]
    assert [c.rsplit("the partner's turn ", 1)[1] for c in calls[:3]] == ["1", "2", "3"], calls
    assert any("partner's bar 1" in line for line in said) and not any("partner 1 " in line for line in said), said[:12]


def test_trading_answers_again_after_the_daw_jumps_back_to_the_players_bar():
    """Stop, a Song Position back to the player's bar, Continue: the partner's turn that
    follows had been answered on the first pass, and was never answered again."""
    from improv.core.listen.midiclock import CONTINUE, SONG_POSITION

    clock = ManualClock(10.0)
    ext = ExternalClock(clock)
    sink, inq = RecordingSink(clock), InputQueue(clock)
    cfg = _cfg()
    cfg = replace(cfg, band=replace(cfg.band, trade_bars=1))
    s = Session(cfg, clock, inq, [sink], RootsResponder(), chart=BLUES, external=ext, threaded=False, seed=2)
    s.start()
    song = [0.0]

    def run(beats, notes):
        t0 = clock.now() + 0.01
        for k in range(int(beats * 24)):
            clock.set(tick_time(t0, 100.0, k))
            ext.receive([CLOCK])
            b = song[0] + k / 24
            for nb, p in notes:
                if abs(b - nb) < 1e-6:
                    inq.push([0x90, p, 90])
                if abs(b - nb - 0.5) < 1e-6:
                    inq.push([0x80, p, 0])
            s.step()
        song[0] += beats

    ext.receive([START])
    s.step()
    run(8.5, [(0.0, 65), (1.0, 69), (2.0, 72)])  # the player's bar 0-3 (the DAW's bar 1), the partner's 4-7
    assert s.answers == 1
    ext.receive([STOP])
    s.step()
    clock.advance(1.0)
    ext.receive([SONG_POSITION, 0, 0])  # song beat 0: the player's bar again
    s.step()
    song[0] = 0.0
    ext.receive([CONTINUE])
    s.step()
    run(8.5, [(0.0, 67), (1.0, 70), (2.0, 74)])
    assert s.answers == 2
    s.close()


@pytest.mark.parametrize("ahead_s", [0.0, 0.02])
def test_a_downbeat_played_with_the_daws_start_is_the_calls_first_note(ahead_s):
    """The player's downbeat arriving with the Start (or a hair before it) was taken as played
    while stopped: passed through and recorded, but the call began with its second note."""
    from test_session import config, make

    clock = ManualClock(10.0)
    ext = ExternalClock(clock, guess=100.0)
    s, clock, inq, sink, rec = make(config(), chart="F7 | Bb7", clock=clock, external=ext)
    said = []
    s.say = said.append
    s.start()
    clock.set(10.5 - ahead_s)
    inq.push([0x90, 65, 100])  # the downbeat, played as the DAW starts
    s.step()
    clock.set(10.5)
    ext.receive([START])
    call = {12: [0x80, 65, 0], 24: [0x90, 69, 90], 36: [0x80, 69, 0]}
    for k in range(24 * 6):
        clock.set(tick_time(10.501, 100, k))
        ext.receive([CLOCK])
        if k in call:
            inq.push(call[k])
        s.step()
    assert any("heard call 1: 1 bar, 2 notes" in line for line in said), said
    s.close()


def test_a_clock_that_stops_with_no_stop_silences_the_band_and_its_return_goes_on():
    """The DAW quit (or the cable came out) mid-song: no Stop, the ticks just stop. improv
    played on its own line (108 notes in 30 s, to bar 17) and snapped back when they
    returned; now a beat with no tick is a stop, and after 30 s it waits for Play."""
    clock = ManualClock(10.0)
    ext = ExternalClock(clock)
    sink = RecordingSink(clock)
    s = Session(_cfg(bass=True, comp=True), clock, InputQueue(clock), [sink], RootsResponder(), chart=BLUES,
                external=ext, threaded=False, seed=2)
    said = []
    s.say = said.append
    s.start()
    ext.receive([START])
    start = 10.05
    for k in range(24 * 10):
        clock.set(tick_time(start, 100.0, k))
        ext.receive([CLOCK])
        s.step()
    quiet_from = clock.now() + 0.6 * 1.5  # a beat (0.6 s) and a half later, at the latest
    for _ in range(30 * 200):  # 30 s with no tick
        clock.advance(0.005)
        s.step()
    ons = [t for t, m in sink.sent if m.type == "note_on" and m.velocity > 0]
    assert not [t for t in ons if t > quiet_from], "the band played on with no clock"
    assert any(line.startswith("MIDI clock lost with no Stop") for line in said) and s.band is not None and not s.running
    before = len(ons)
    back = clock.now() + 0.01
    for k in range(24):  # ticks again after 30 s: a DAW idling (or relaunched), not playing
        clock.set(tick_time(back, 100.0, k))
        ext.receive([CLOCK])
        s.step()
    assert not s.running
    ext.receive([CONTINUE])  # Play pressed
    for k in range(24, 24 * 5):
        clock.set(tick_time(back, 100.0, k))
        ext.receive([CLOCK])
        s.step()
    assert s.running and any("clock continue: from bar" in line for line in said), said
    assert len([1 for t, m in sink.sent if m.type == "note_on" and m.velocity > 0]) > before  # it plays again
    s.close()


def test_the_position_shown_stands_still_while_the_daw_stands_stopped():
    """After a Stop (or ticks that vanished) the status line went on counting bars from the
    last tempo, the chord with them, then snapped back on Continue."""
    clock = ManualClock(10.0)
    ext = ExternalClock(clock)
    s = Session(_cfg(), clock, InputQueue(clock), [RecordingSink(clock)], RootsResponder(), chart=BLUES,
                external=ext, threaded=False, seed=2)
    s.start()
    ext.receive([START])
    for k in range(24 * 10):  # ten beats at 100 bpm
        clock.set(tick_time(10.05, 100.0, k))
        ext.receive([CLOCK])
        s.step()
    ext.receive([STOP])
    s.step()
    stopped = s.snapshot(clock.now())
    for _ in range(10):  # 10 s stopped
        clock.advance(1.0)
        s.step()
        now = s.snapshot(clock.now())
        assert (now.bar, now.beat, now.harmony, now.state) == (stopped.bar, stopped.beat, stopped.harmony, "waiting")
    s.close()


def _daw_clock_before_start(jitter_s=0.0):
    """A free jam over F7 | Bb7 hearing four beats of a DAW's clock at 100 bpm and no Start
    (each tick `jitter_s` early and late by turns): (session, what it said)."""
    from test_session import config, make

    clock = ManualClock(10.0)
    ext = ExternalClock(clock)
    s, clock, inq, sink, rec = make(config(), chart="F7 | Bb7", clock=clock, external=ext)
    said = []
    s.say = said.append
    s.start()
    for k in range(24 * 4):
        clock.set(tick_time(10.0, 100.0, k) + (jitter_s if k % 2 == 0 else -jitter_s))
        ext.receive([CLOCK])
        s.step()
    return s, said


def test_a_daw_clock_heard_before_any_start_says_to_press_play():
    """A DAW already playing when the jam opened its port: improv said 'waiting' for ever."""

    s, said = _daw_clock_before_start()
    assert [line for line in said if "waiting for the DAW's Play" in line] == [
        "MIDI clock heard (100 bpm): waiting for the DAW's Play; if it is playing already, stop it and press Play "
        "again"], said
    # the opening line says whose tempo it is (it said "jamming at 120 bpm" while the DAW ran at 100)
    assert [line for line in said if line.startswith("jamming")] == [
        "jamming on the DAW's clock over the chart (2 bars, looping); partner: step"], said
    s.close()


def test_a_daw_clock_heard_before_any_start_is_said_at_its_tempo_not_its_first_two_ticks():
    """Ticks a millisecond early and late by turns (a USB MIDI path): the tempo said was the
    first two ticks', 109 bpm for a DAW at 100."""

    s, said = _daw_clock_before_start(jitter_s=0.001)
    heard = [line for line in said if "waiting for the DAW's Play" in line]
    assert len(heard) == 1 and heard[0].startswith("MIDI clock heard (100 bpm)"), said
    s.close()


def test_the_partners_downbeat_is_held_only_until_its_answer_is_back():
    """The band holds the partner turn's downbeat for a substitute, but once the answer is
    back it hands out as ever: holding on to 40 ms before the downbeat left a conductor
    stall of 50 ms to drop it."""
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock, bass=True)
    s.start()
    tl = s.timeline
    turn = s.policy.form.next_turn(0.0, "partner").start
    before, after = [], []
    inq.push([0x90, 65, 90])
    while clock.now() < tl.time_of(turn + 1.0):
        beat = tl.beat_at(clock.now())
        hold = s.policy.band_hold(beat)
        if beat < turn - 1.0:
            before.append(hold)
        elif beat < turn and s.exchange.calls >= 1 and not s.exchange.awaited():
            after.append(hold)
        s.step()
        clock.advance(0.002)
    s.close()
    assert before and set(before) == {turn}
    assert after and set(after) == {None}, after
    assert s.answers >= 1


class SlowRoots(RootsResponder):
    """`RootsResponder` taking `delay` seconds of the session's clock to answer; notes
    (turn start in beats, the clock when asked)."""

    def __init__(self, clock, delay):
        super().__init__()
        self.clock, self.delay, self.asked = clock, delay, []

    def answer(self, call, harmony, settings: AnswerSettings):
        self.asked.append((settings.start, self.clock.now()))
        self.clock.advance(self.delay)
        return super().answer(call, harmony, settings)


def test_the_call_goes_out_earlier_once_answers_come_back_slower():
    """On a busy machine answers of 60-100 ms came back after the band had committed the
    partner's downbeat: once answers are that slow, the call goes out early enough for
    them, never more than the cap; quick answers leave it as it was."""
    from improv.live.trade import MAX_TRADE_LEAD_S, TRADE_LEAD_S

    def leads(delay, turns=3):
        clock = ManualClock(100.0)
        inq = InputQueue(clock)
        cfg = _cfg()
        cfg = replace(cfg, timing=replace(cfg.timing, tempo=120.0))
        partner = SlowRoots(clock, delay)
        s = Session(cfg, clock, inq, [RecordingSink(clock)], partner, chart=BLUES, threaded=False, seed=1)
        s.start()
        inq.push([0x90, 65, 90])
        turns_asked = lambda: [(b, t) for b, t in partner.asked if s.beat_at(t) >= s.policy.form.start]  # noqa: E731
        while len(turns_asked()) < turns:  # (not the partner's warm-up)
            s.step()
            clock.advance(0.001)
        s.close()
        return [round(s.time_of(start) - t, 3) for start, t in turns_asked()]

    assert leads(0.02) == [TRADE_LEAD_S] * 3  # quick answers: as before
    slow = leads(0.09)
    assert slow[0] == TRADE_LEAD_S and all(abs(x - 0.15) < 0.003 for x in slow[1:]), slow  # 90 + 40 + 20 ms
    assert leads(0.9)[1:] == [MAX_TRADE_LEAD_S] * 2


def test_panic_in_the_players_turn_stands_the_partner_down_for_the_next_turn():
    """Panic on the last beat of the player's turn: the log said 'panic: all notes off', then
    the partner heard the call and played its whole turn (the free jam stood down)."""
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock)
    s.start()
    tl = s.timeline
    pressed = False
    while clock.now() < tl.time_of(4 * 16):  # the player's turns 0 and 2, the partner's 1 and 3
        beat = tl.beat_at(clock.now())
        turn = s.policy.form.turn_at(beat)
        if turn is not None and turn.owner == "player" and abs(beat - round(beat)) < 0.01 and int(beat) % 2 == 0:
            inq.push([0x90, 65, 90])
            inq.push([0x80, 65, 0])
        if not pressed and beat >= 15.0:  # the last beat of the player's first turn
            pressed = True
            s.panic()
        s.step()
        clock.advance(0.005)
    s.close()
    partner = [tl.beat_at(t) for t, _ in _ons(sink, s.partner_ch)]
    assert partner and not [b for b in partner if b < 32.0], partner  # turn 1 (16-32) stood down
    assert all(48.0 - 0.1 <= b < 64.0 for b in partner), partner  # turn 3 answered as ever


def test_comp_or_bass_turned_back_on_comes_in_at_once_not_bars_later():
    """'comp on' was said at once, but the comping came in up to two bars later (at 80 bpm,
    5 s of silence after the press): the bars ahead had been rendered without it."""
    for part, channel in (("comp", 2), ("bass", 3)):
        clock = ManualClock(5.0)
        cfg = _cfg(comp=part != "comp", bass=part != "bass")
        cfg = replace(cfg, timing=replace(cfg.timing, tempo=80.0))
        sink = RecordingSink(clock)
        s = Session(cfg, clock, InputQueue(clock), [sink], RootsResponder(), chart=BLUES, threaded=False, seed=3)
        s.start()
        tl = s.timeline
        while clock.now() < tl.time_of(21.0):  # a beat into bar 6
            s.step()
            clock.advance(0.005)
        s.band.set_part(part, True)
        pressed = tl.beat_at(clock.now())
        while clock.now() < tl.time_of(32.0):
            s.step()
            clock.advance(0.005)
        s.close()
        first = min(tl.beat_at(t) for t, m in sink.sent if m.type == "note_on" and m.velocity > 0
                    and m.channel == channel)
        assert first - pressed <= 3.0, (part, pressed, first)  # within the bar, not two bars on


def test_an_answer_being_put_on_the_timeline_still_holds_the_partners_downbeat():
    """The answer was no longer awaited from the moment it came back, but its substitute was
    queued for the band only after it was put on the timeline: a conductor round between
    handed the partner's downbeat out over the written chord (seen live in about 2 % of the
    re-harmonised downbeats). It is awaited until its substitute is queued."""
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock, bass=True)
    seen = []
    real = s.exchange._tell

    def tell(*args):  # where a conductor round may come in
        seen.append((s.exchange.awaited(), s.policy.band_hold(s.beat_at(clock.now()))))
        real(*args)

    s.exchange._tell = tell
    s.start()
    tl = s.timeline
    turn = s.policy.form.next_turn(0.0, "partner").start
    inq.push([0x90, 65, 90])
    while clock.now() < tl.time_of(turn + 1.0):
        s.step()
        clock.advance(0.002)
    s.close()
    assert seen and all(awaited and hold == turn for awaited, hold in seen), (seen, turn)
    assert not s.exchange.awaited()


def test_notes_played_before_a_free_jams_band_comes_in_are_kept(tmp_path):
    """A free jam's band comes in a moment after the session starts (its threads must be
    running first): a note played in that moment was put on the file's first tick, cut to
    what sounded after the downbeat (or to nothing). Now it goes beside the file, as a
    pickup in trading's count-in does, and a note held over bar 1 starts there in the file."""
    from improv.core.formats.midifile import load_recording, recording_notes

    clock = ManualClock(100.0)
    base = _cfg(bass=True)
    cfg = replace(base, band=replace(base.band, trade_bars=0),
                  record=replace(base.record, enabled=True, folder=str(tmp_path)))
    s, inq = _recorded_session(cfg, clock)
    s.start()
    tl = s.timeline
    assert tl.time_of(0.0) > clock.now() + 0.1  # the band's lead
    played = {clock.now() + 0.01: [0x90, 62, 90], clock.now() + 0.04: [0x80, 62, 0],  # before bar 1
              tl.time_of(0.0) - 0.05: [0x90, 64, 90], tl.time_of(0.5): [0x80, 64, 0],  # held over bar 1
              tl.time_of(1.0): [0x90, 65, 90], tl.time_of(1.5): [0x80, 65, 0]}
    _play_and_close(s, clock, inq, played, 2.0)
    got = [(round(n.start, 1), n.pitch, round(n.duration, 1)) for n in recording_notes(load_recording(s.record_path),
                                                                                         "player")]
    assert got == [(0.0, 64, 0.5), (1.0, 65, 0.5)], got
    early = s.recorder.before_start
    assert early is not None and early.exists()
    before = [(n.pitch, round(n.duration * 60.0 / 300.0, 2)) for n in recording_notes(load_recording(early), "player")]
    assert (62, 0.03) in before, before


def test_a_waltz_counts_in_with_three_clicks_a_bar():
    """Trading a 3/4 tune: the count-in is bars of three clicks, bar 1 right after them; four
    a bar put the player's bar 1 a beat off the band's."""
    waltz = parse_chart("C | G7 | G7 | C", 3)
    for tempo, bars in ((300.0, 1), (80.0, 2)):
        clock = ManualClock(100.0)
        cfg = _cfg(click=True)
        cfg = replace(cfg, timing=replace(cfg.timing, tempo=tempo, beats_per_bar=3))
        sink = RecordingSink(clock)
        s = Session(cfg, clock, InputQueue(clock), [sink], RootsResponder(), chart=waltz, threaded=False, seed=1)
        s.start()
        tl = s.timeline
        assert s.policy.form.start == -3 * bars
        while clock.now() < tl.time_of(0.5):
            s.step()
            clock.advance(0.005)
        s.close()
        clicks = [(tl.beat_at(t), note) for t, note in _ons(sink, 9)]
        count_in = [(round(b), note) for b, note in clicks if b < -0.5]
        assert [b for b, _ in count_in] == list(range(-3 * bars, 0)), (tempo, clicks)
        assert all(abs(b - round(b)) < 0.03 for b, _ in clicks)
        assert [n for b, n in count_in if b % 3 == 0] == [CLICK_HIGH] * bars  # each count-in bar's first click
        assert any(abs(b) < 0.03 and n == CLICK_HIGH for b, n in clicks)  # bar 1 on the click after them


def test_on_a_daws_clock_there_is_no_count_in_and_bar_one_is_the_daws_first_beat():
    """On a DAW's clock the DAW counts in itself: improv adds no bar of its own, so the
    tune's bar 1 falls on the DAW's first beat, not a bar after it."""
    clock = ManualClock(10.0)
    ext = ExternalClock(clock, guess=100.0)
    sink = RecordingSink(clock)
    s = Session(_cfg(bass=True, click=True), clock, InputQueue(clock), [sink], RootsResponder(), chart=BLUES,
                external=ext, threaded=False, seed=2)
    assert s.policy.form.start == 0 and s.policy.form.count_in == 0
    s.start()
    t0 = 10.5
    clock.set(t0)
    ext.receive([START])
    s.step()
    _daw_ticks(s, clock, ext, [tick_time(t0, 100.0, k) for k in range(24 * 6)])
    s.close()
    bass, clicks = _ons(sink, 3), _ons(sink, 9)
    assert bass and clicks
    assert abs(bass[0][0] - t0) < 0.002 and bass[0][1] % 12 in BLUES.chord_at(0).chord_tones()  # F7 on beat 1
    assert abs(clicks[0][0] - t0) < 0.002 and clicks[0][1] == CLICK_HIGH  # the bar's downbeat
    assert s.policy.form.position(s.beat_at(t0 + 4 * 0.6)).bar == 2  # the DAW's bar 2 is the tune's


def test_the_players_all_notes_off_lets_go_of_every_key_in_the_call():
    """A key whose release never came, silenced with the keyboard's own panic (All Notes Off):
    trading still took it as held, sounding in the call to the hand-over (the free jam lets
    go of it)."""
    clock = ManualClock(100.0)
    inq = InputQueue(clock)
    responder = CallsResponder()
    s = Session(_cfg(), clock, inq, [RecordingSink(clock)], responder, chart=BLUES, threaded=False, seed=1)
    s.start()
    tl = s.timeline
    for beat, data in [(2.0, [0x90, 65, 90]), (3.0, [0xB0, 123, 0]), (4.0, [0x90, 69, 90]), (4.5, [0x80, 69, 0])]:
        while tl.beat_at(clock.now()) < beat:
            s.step()
            clock.advance(0.002)
        inq.push(data)
    while tl.beat_at(clock.now()) < 17.0:
        s.step()
        clock.advance(0.005)
    s.close()
    call = responder.calls[-1]
    assert [n.pitch for n in call.notes] == [65, 69]
    assert abs(call.notes[0].duration - 1.0) < 0.05, call.notes[0]  # let go at the All Notes Off


def test_in_two_four_trading_one_bar_a_note_is_in_one_call_only():
    """Turns of two beats are shorter than a pickup (up to 2.25 beats before the turn): the
    last note of one of the player's turns was in its call and again, as a pickup across the
    partner's whole turn, in the next one."""
    clock = ManualClock(100.0)
    inq = InputQueue(clock)
    responder = CallsResponder()
    cfg = _cfg()
    cfg = replace(cfg, band=replace(cfg.band, trade_bars=1), timing=replace(cfg.timing, beats_per_bar=2, tempo=120.0))
    s = Session(cfg, clock, inq, [RecordingSink(clock)], responder, chart=parse_chart("F7 | Bb7 | C7 | F7", 2),
                threaded=False, seed=1)
    s.start()
    # the player's turns are beats 0-2 and 4-6; 1.75 is the last eighth but one of the first
    _play_at(s, clock, inq, [(0.0, 60), (1.75, 62), (3.5, 64), (4.0, 65)], until=6.5)
    s.close()
    first, second = responder.calls[-2:]
    assert [n.pitch for n in first.notes] == [60, 62]
    assert [n.pitch for n in second.notes] == [64, 65]  # the pickup in the partner's turn, then the turn


def test_send_clock_while_trading_puts_the_daws_bar_1_on_the_tunes_bar_1():
    """Start went out with the count-in's first tick, so a DAW following improv had the
    count-in as its bar 1 and the tune from its bar 2 (bar 3 at 80 bpm or slower, two bars
    counted in), where `--clock external` has the DAW's bar 1 be the tune's. The count-in's
    ticks still give the tempo before it."""
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock, send_clock=True)
    s.start()
    bar_one = s.time_of(0.0)
    assert s.policy.band_start < 0  # (trading counts in)
    while clock.now() < bar_one + 0.5:
        clock.advance(0.002)
        s.step()
    s.close()
    sent = [(t, m.type) for t, m in sink.sent if m.type in ("start", "clock", "songpos", "continue")]
    first_start = next(i for i, (_, kind) in enumerate(sent) if kind == "start")
    ticks_before = [t for t, kind in sent[:first_start] if kind == "clock"]
    assert len(ticks_before) == round(-24 * s.policy.band_start)  # the count-in's ticks, then Start
    assert sent[first_start + 1][1] == "clock" and abs(sent[first_start + 1][0] - bar_one) < 0.003
    assert [kind for _, kind in sent].count("start") == 1 and "songpos" not in [k for _, k in sent]


def test_a_daws_start_after_a_stop_in_the_first_turn_says_your_turn_again():
    """Stopped in turn 0 and started again from the top, "your turn" was not said (the turn
    was the one last said), and a key held across the Stop stayed in the next call."""
    clock = ManualClock(10.0)
    ext = ExternalClock(clock)
    inq = InputQueue(clock)
    s = Session(_cfg(), clock, inq, [RecordingSink(clock)], RootsResponder(), chart=BLUES, external=ext,
                threaded=False, seed=2)
    said = []
    s.say = said.append
    s.start()
    for run in range(2):
        ext.receive([START])
        for k in range(24 * 2):  # two beats of the player's turn, a key pressed and held
            clock.set(10.05 + 10 * run + k * 0.025)
            ext.receive([CLOCK])
            s.step()
            if k == 12 and run == 0:
                inq.push([0x90, 65, 90])
        ext.receive([STOP])
        s.step()
    assert sum("your turn" in line for line in said) == 2, said
    assert not s.policy._open


def test_trading_one_bar_at_a_time_is_said_as_one_bar(tmp_path, capsys):
    """`--trade-bars 1` started with 'trading 1 bars at 120 bpm', and a flag trading does
    not use was said to be unused with '(1 bars each; ...)'."""
    from improv.cli import build_parser
    from improv.commands.jam import checked_settings

    for bars, said in ((1, "trading 1 bar at"), (2, "trading 2 bars at")):
        clock = ManualClock(100.0)
        cfg = replace(_cfg(), band=replace(_cfg().band, trade_bars=bars))
        s = Session(cfg, clock, InputQueue(clock), [RecordingSink(clock)], RootsResponder(), chart=BLUES,
                    threaded=False, seed=1)
        lines = []
        s.say = lines.append
        s.start()
        s.close()
        assert any(said in line for line in lines), lines
    checked_settings(build_parser("jam").parse_args(["jam", "--tune", "blues-f", "--trade-bars", "1", "--gap", "2",
                                                     "--record", str(tmp_path)]))
    err = capsys.readouterr().err
    assert "(1 bar each;" in err, err


def test_the_status_line_counts_in_to_bar_one_and_says_what_is_left_of_the_turn():
    """Without --view the status line read '1:1  count-in' all through the count-in (two
    bars of it at a ballad's tempo: bar:beat stood at bar 1 before it came), and in the
    turns it said whose turn it was but not how much of it was left; the stage view shows both."""
    from improv.live.status import render

    clock = ManualClock(100.0)
    s, sink, inq = _session(clock)
    s.start()
    tl = s.timeline
    lines = {}
    for beat in (-4.8, -3.0, -0.5, 5.5, 15.2, 20.0):
        clock.set(tl.time_of(beat))
        s.step()
        lines[beat] = render(s.snapshot(clock.now()))
    s.close()
    # (the moment before the first click, `LEAD_S`, counts no beat of its own: at 300 bpm it was "6 beats to bar 1")
    assert "count-in: 4 beats to bar 1" in lines[-4.8], lines[-4.8]
    assert "count-in: 3 beats to bar 1" in lines[-3.0] and "1:1" not in lines[-3.0], lines[-3.0]
    assert "count-in: 1 beat to bar 1" in lines[-0.5], lines[-0.5]
    assert "2:2  your turn, 11 beats left" in lines[5.5], lines[5.5]
    assert "your turn, 1 beat left" in lines[15.2], lines[15.2]
    assert "6:1  partner, 12 beats left" in lines[20.0], lines[20.0]


class DraftingRoots(RootsResponder):
    """`RootsResponder` that reads ahead and drafts, as the model does."""

    learns = False

    def prime(self, call, harmony, history=(), max_read=None, tempo=None):
        return True


def test_the_call_goes_out_earlier_once_drafted_answers_come_back_slower():
    """In the turn's last beat every key played or let go drafts the call again, so on a
    busy machine the draft of the call as handed over is often still being decoded at the
    hand-over: its answer comes back drafted, but as late as one decoded then (live, at 64
    bpm: 'answer 2 ... reharmonise as Abm7 ..., ready in 74.8 ms (drafted in your rest)',
    after the band commits the partner's downbeat 40 ms before it sounds). Those answers
    were left out of what the hand-over is timed by, so the call still went out 100 ms
    before the turn and the band played the written chord under the substitute's downbeat."""
    from improv.live.trade import MAX_TRADE_LEAD_S, TRADE_LEAD_S
    from improv.partner.inline import InlinePartner

    class LateDrafts(InlinePartner):
        """The draft of the call as handed over is still being decoded: it takes `delay`
        seconds of the session's clock to come back (drafted)."""

        def __init__(self, clock, delay):
            super().__init__(DraftingRoots(), threaded=False)
            self.clock, self.delay, self.asked, self.results = clock, delay, [], []

        def start(self, make_setup, on_result, say=lambda s: None):
            super().start(make_setup, lambda r: (self.results.append(r), on_result(r)), say)

        def submit(self, job, now):
            self.asked.append((job.settings.start, self.clock.now()))
            self.clock.advance(self.delay)
            super().submit(job, now)

    def leads(delay, turns=3):
        clock = ManualClock(100.0)
        inq = InputQueue(clock)
        cfg = _cfg()
        cfg = replace(cfg, timing=replace(cfg.timing, tempo=120.0))
        partner = LateDrafts(clock, delay)
        s = Session(cfg, clock, inq, [RecordingSink(clock)], partner, chart=BLUES, threaded=False, seed=1)
        s.start()
        tl, played = s.timeline, -1
        while len(partner.asked) < turns:
            beat = tl.beat_at(clock.now())
            turn = s.policy.form.turn_at(beat)
            if turn is not None and turn.owner == "player" and int(beat) > played:
                played = int(beat)
                inq.push([0x90, 65, 90])  # a note on every beat, the last one in the turn's last beat
                inq.push([0x80, 65, 0])
            s.step()
            clock.advance(0.001)
        s.close()
        assert all(r.drafted for r in partner.results), partner.results
        return [round(s.time_of(start) - t, 3) for start, t in partner.asked]

    assert leads(0.02) == [TRADE_LEAD_S] * 3  # quick answers: as before
    slow = leads(0.09)
    assert slow[0] == TRADE_LEAD_S and all(abs(x - 0.15) < 0.006 for x in slow[1:]), slow  # 90 + 40 + 20 ms
    assert leads(0.9)[1:] == [MAX_TRADE_LEAD_S] * 2


def test_a_hand_over_missed_by_a_stall_is_still_answered_where_the_turn_is():
    """The conductor held up across the hand-over (0.2 s: a busy machine) came back in the
    partner's first bar and took its turn for one it had joined late (a DAW's jump into it),
    so the partner sat out all four bars; it is asked then, and comes in where its turn is,
    the notes already past left out."""
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock)
    s.start()
    tl = s.timeline
    _play_at(s, clock, inq, [(float(b), 65 + b) for b in range(0, 15, 2)], until=15.3)  # the hand-over: 15.5
    clock.set(tl.time_of(16.5))  # stalled past it, into the partner's turn (16-32)
    _play_at(s, clock, inq, [], until=33.0)
    s.close()
    partner = [tl.beat_at(t) for t, _ in _ons(sink, s.partner_ch)]
    turn1 = [b for b in partner if b < 32.0]
    assert s.calls == 1 and [round(b) for b in turn1] == list(range(17, 32)), partner  # (16, before 16.5: left out)
    assert all(abs(b - round(b)) < 0.03 for b in turn1), turn1  # (on its beats, within the 5 ms steps)


def test_panic_in_the_count_in_leaves_the_turns_to_come_as_they_were():
    """Panic pressed in the count-in (a synth note left hanging from before) stood the
    partner down for its first turn: the player then played their four bars and the partner
    sat out its four, though no call was under way; the pickup played before the panic is
    what it stands down (not part of the call), and the turns go on as ever."""
    clock = ManualClock(100.0)
    inq = InputQueue(clock)
    responder = CallsResponder()
    s = Session(_cfg(), clock, inq, [RecordingSink(clock)], responder, chart=BLUES, threaded=False, seed=1)
    sink = s.sinks[0]
    s.start()
    _play_at(s, clock, inq, [(-2.2, 60)], until=-1.9)  # a pickup before the panic...
    s.panic()
    _play_at(s, clock, inq, [(-1.0, 70)] + [(float(b), 74 + b) for b in range(0, 8, 2)], until=33.0)  # ...and after
    s.close()
    assert [n.pitch for n in responder.calls[-1].notes] == [70, 74, 76, 78, 80], responder.calls
    partner = [s.timeline.beat_at(t) for t, _ in _ons(sink, s.partner_ch)]
    assert partner and all(16.0 - 0.1 <= b < 32.0 for b in partner), partner


def test_panic_in_the_count_in_keeps_the_count_and_bar_one():
    """Panic in the count-in restarted the band a bar later: the rest of the count-in's
    clicks and bar 1's downbeat (its bass note) were lost, so the player came in with no
    count. Now the clicks go on from the next beat and bar 1 sounds where it was counted."""
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock, bass=True)
    s.start()
    tl = s.timeline
    start = s.policy.form.start
    assert start <= -4
    while tl.beat_at(clock.now()) < -2.5:
        s.step()
        clock.advance(0.005)
    s.panic()
    while clock.now() < tl.time_of(4.0):
        s.step()
        clock.advance(0.005)
    s.close()
    clicks = [round(tl.beat_at(t)) for t, _ in _ons(sink, 9)]
    assert clicks[-2:] == [-2, -1], clicks  # the count goes on after the panic
    bass = [tl.beat_at(t) for t, _ in _ons(sink, 3)]
    assert bass and abs(bass[0]) < 0.03, bass  # bar 1's downbeat


def test_a_turns_call_marker_sits_at_its_first_note():
    """The recording's "call N" marker went where the turn was handed over (the turn's end);
    it goes at the first note played in the turn, where an editor looks for the call."""
    clock = ManualClock(100.0)
    marks = []

    class Marks:
        def __init__(self, t0, chart):
            pass

        def event(self, part, msg, t):
            pass

        def marker(self, text, t, kind="text"):
            marks.append((text, t))

        def tempo(self, bpm, t):
            pass

        def close(self):
            return None

    cfg = replace(_cfg(), record=replace(_cfg().record, enabled=True))
    s = Session(cfg, clock, InputQueue(clock), [RecordingSink(clock)], RootsResponder(), chart=BLUES,
                threaded=False, seed=1, recorder_factory=lambda t0, chart: Marks(t0, chart))
    inq = s.inq
    s.start()
    _play_at(s, clock, inq, [(5.0, 65), (6.0, 67), (9.5, 69)], until=20.0)
    calls = [(text, t) for text, t in marks if text.startswith("call ")]
    assert len(calls) == 1 and calls[0][0] == "call 1: 3 notes", marks
    assert s.timeline.beat_at(calls[0][1]) == pytest.approx(5.0, abs=0.01)
    s.close()
def test_a_turn_laid_out_is_said_as_laid_out_not_as_a_call_of_no_notes():
    """Laying out for a turn logged 'heard call 1: 0 notes in your 4 bars': the partner still
    takes its turn, and the log now says the player laid out."""
    clock = ManualClock(100.0)
    s, sink, inq = _session(clock)
    said = []
    s.say = said.append
    s.start()
    while clock.now() < s.timeline.time_of(s.policy.form.turn_beats + 1):
        s.step()
        clock.advance(0.005)
    s.close()
    calls = [line for line in said if "heard call" in line]
    assert calls and "you laid out your 4 bars; the partner's turn 1" in calls[0], calls
    assert not any("0 notes" in line for line in said), said
