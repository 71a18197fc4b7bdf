"""The scheduler, driven by a ManualClock: deadlines, late policy, cancel, no lost note-offs."""

import time

import pytest

from improv.live.clock import ManualClock, RealClock
from improv.live.scheduler import Scheduler


class FakeSink:
    """Records (time, type, pitch) of everything it is sent."""

    def __init__(self, clock):
        self.clock = clock
        self.sent = []

    def send(self, msg):
        self.sent.append((round(self.clock.now(), 6), msg.type, msg.note, msg.channel))


def make(policy="drop", threshold=10.0):
    clock = ManualClock(100.0)
    sink = FakeSink(clock)
    recorded = []
    s = Scheduler(clock, sink.send, late_threshold_ms=threshold, late_policy=policy,
                  on_sent=lambda m, t: recorded.append((m.type, t)))
    return clock, sink, s, recorded


def balanced(sent):
    """Every note-on sent has a later note-off, and nothing is left sounding."""
    sounding = {}
    for _, kind, pitch, ch in sent:
        key = (ch, pitch)
        if kind == "note_on":
            sounding[key] = sounding.get(key, 0) + 1
        else:
            assert sounding.get(key, 0) > 0, f"note-off without note-on: {key}"
            sounding[key] -= 1
    return all(v == 0 for v in sounding.values())


def test_notes_go_out_at_their_deadlines_offs_before_ons():
    clock, sink, s, rec = make()
    s.play([(100.5, 101.0, 1, 60, 90), (101.0, 101.5, 1, 62, 90)])
    assert s.poll() == 0
    clock.set(100.5)
    s.poll()
    clock.set(101.0)
    s.poll()
    clock.set(101.5)
    s.poll()
    assert sink.sent == [(100.5, "note_on", 60, 1), (101.0, "note_off", 60, 1),
                         (101.0, "note_on", 62, 1), (101.5, "note_off", 62, 1)]
    assert rec == [("note_on", 100.5), ("note_off", 101.0), ("note_on", 101.0), ("note_off", 101.5)]
    assert not s.busy()
    med, p99, n = s.timing_ms()
    assert (med, p99, n) == (0.0, 0.0, 2)


def test_timing_error_is_measured_against_the_deadline():
    clock, sink, s, _ = make(threshold=50.0)
    s.play([(100.5, 101.0, 0, 60, 90)])
    clock.set(100.503)
    s.poll()
    med, p99, n = s.timing_ms()
    assert n == 1 and med == pytest.approx(3.0) and p99 == pytest.approx(3.0)
    assert s.late == 0


def test_late_notes_are_dropped_with_their_offs_never_bunched():
    clock, sink, s, _ = make("drop")
    s.play([(100.1, 100.2, 0, 60, 90), (100.2, 100.3, 0, 62, 90), (100.3, 100.6, 0, 64, 90)])
    clock.set(100.305)  # the thread stalled: two notes are late, the third just due
    s.poll()
    clock.set(101.0)
    s.poll()
    assert sink.sent == [(100.305, "note_on", 64, 0), (101.0, "note_off", 64, 0)]
    assert s.late == 2 and s.dropped == 2


def test_the_late_threshold_is_where_dropping_begins():
    """A note later than the threshold is dropped, one a little less late is played (the
    other tests are late by 3 ms or by 100 ms and more, which a threshold off by a factor
    of two would pass)."""
    clock, sink, s, _ = make("drop", threshold=10.0)
    s.play([(100.1, 100.2, 0, 60, 90)])
    clock.set(100.115)  # 15 ms late
    s.poll()
    assert sink.sent == [] and s.dropped == 1 and s.late == 1
    s.play([(100.3, 100.4, 0, 62, 90)])
    clock.set(100.308)  # 8 ms late: within the threshold
    s.poll()
    assert sink.sent == [(100.308, "note_on", 62, 0)] and s.dropped == 1 and s.late == 1


def test_shift_plays_only_the_newest_late_note_now_keeping_its_length():
    clock, sink, s, _ = make("shift")
    s.play([(100.1, 100.2, 0, 60, 90), (100.2, 100.4, 0, 62, 90), (100.6, 100.7, 0, 65, 90)])
    clock.set(100.25)
    s.poll()
    assert sink.sent == [(100.25, "note_on", 62, 0)]
    assert s.dropped == 1 and s.late == 2
    clock.set(100.4)  # the original off time: the shifted note still sounds
    s.poll()
    assert len(sink.sent) == 1
    for t in (100.45, 100.6, 100.7):
        clock.set(t)
        s.poll()
    assert sink.sent[1] == (100.45, "note_off", 62, 0)
    assert sink.sent[2] == (100.6, "note_on", 65, 0)
    assert balanced(sink.sent) and not s.busy()


def test_late_offs_always_go_out():
    clock, sink, s, _ = make()
    s.play([(100.1, 100.2, 0, 60, 90)])
    clock.set(100.1)
    s.poll()
    clock.set(105.0)  # a long stall before the off
    s.poll()
    assert sink.sent[-1] == (105.0, "note_off", 60, 0)


def test_cancel_releases_sounding_and_forgets_pending():
    clock, sink, s, _ = make()
    s.play([(100.1, 100.5, 0, 60, 90), (100.2, 100.6, 0, 64, 90), (100.7, 100.8, 0, 67, 90)])
    for t in (100.1, 100.2):
        clock.set(t)
        s.poll()
    assert s.busy()
    gen = s.generation
    assert s.cancel() == 2
    assert not s.busy()
    clock.set(102.0)
    s.poll()
    assert [(k, p) for _, k, p, _ in sink.sent] == [("note_on", 60), ("note_on", 64),
                                                    ("note_off", 60), ("note_off", 64)]
    # an answer computed for the old generation is refused
    assert not s.play([(102.5, 103.0, 0, 60, 90)], generation=gen)
    assert s.play([(102.5, 103.0, 0, 60, 90)], generation=s.generation)


def test_same_pitch_reused_keeps_pairs_in_order():
    clock, sink, s, _ = make()
    s.play([(100.0, 100.5, 0, 60, 90), (100.5, 101.0, 0, 60, 90)])
    for t in (100.0, 100.5, 101.0):
        clock.set(t)
        s.poll()
    assert [k for _, k, _, _ in sink.sent] == ["note_on", "note_off", "note_on", "note_off"]


def test_a_key_still_sounding_is_released_before_it_is_struck_again():
    """Two notes on one key that overlap in seconds (a tempo sped up between the times they
    were made seconds): the first ends as the second strikes, its own note-off later is not
    sent, and the second ends at its time. A synth that stacks voices held the first."""
    clock, sink, s, rec = make()
    s.play([(100.0, 101.0, 2, 60, 90), (100.0, 101.0, 2, 64, 90)])
    s.play([(100.5, 101.5, 2, 60, 80)])
    for t in (100.0, 100.5, 101.0, 101.5):
        clock.set(t)
        s.poll()
    assert sink.sent == [(100.0, "note_on", 60, 2), (100.0, "note_on", 64, 2),
                         (100.5, "note_off", 60, 2), (100.5, "note_on", 60, 2),
                         (101.0, "note_off", 64, 2), (101.5, "note_off", 60, 2)]
    assert balanced(sink.sent) and not s.busy()
    assert [k for k, _ in rec].count("note_off") == 3  # (the recording ends the first one too)


def test_bad_policy():
    with pytest.raises(ValueError):
        Scheduler(ManualClock(), lambda m: None, late_policy="bunch")


def test_thread_sends_everything_and_close_leaves_nothing_sounding():
    # Catches a close() that stops the thread without releasing what sounds: a note is
    # still held when close() is called, and its note-off must go out then.
    clock = RealClock(spin_ms=0.5)
    sink = FakeSink(clock)
    s = Scheduler(clock, sink.send, late_threshold_ms=1000.0)
    s.start()
    t0 = clock.now() + 0.02
    s.play([(t0 + i * 0.005, t0 + i * 0.005 + 0.02, 0, 60 + i, 90) for i in range(10)])
    s.play([(t0, t0 + 10.0, 1, 50, 90)])  # held: still sounding at close
    s.play([(t0 + 10.0, t0 + 11.0, 0, 40, 90)])  # far in the future: still pending at close
    deadline = time.monotonic() + 5.0
    while sum(1 for e in sink.sent if e[1] == "note_off") < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e[1:] for e in sink.sent if e[2] == 50] == [("note_on", 50, 1)]  # sounding as close() comes
    assert s.close() == 1
    assert [e[1:] for e in sink.sent if e[2] == 50] == [("note_on", 50, 1), ("note_off", 50, 1)]
    assert sink.sent[-1][1:] == ("note_off", 50, 1)
    assert sum(1 for e in sink.sent if e[1] == "note_on") == 11 and not any(e[2] == 40 for e in sink.sent)
    assert balanced(sink.sent) and not s.busy()
    assert s.timing_ms()[2] == 11


def test_a_note_that_cannot_be_sent_is_counted_and_the_rest_play_on():
    from improv.live.clock import ManualClock
    from improv.live.scheduler import Scheduler

    clock = ManualClock(0.0)
    sent = []
    sched = Scheduler(clock, sent.append)
    sched.play([(0.1, 0.2, -1, 60, 90), (0.15, 0.25, 0, 62, 90)])  # a channel of -1: a bad band setting
    for t in (0.1, 0.15, 0.2, 0.25):
        clock.set(t)
        sched.poll()
    assert sched.failures == 1 and "channel" in sched.last_failure
    assert [(m.type, m.note) for m in sent] == [("note_on", 62), ("note_off", 62)]  # the good note played
    assert sched.dropped == 1 and not sched.busy()


def test_a_failing_recorder_hook_never_leaves_a_sent_note_sounding():
    # on_sent (the recorder) raising once: the note-on went out, so its note-off must too,
    # and the chord's other note is still played
    clock = ManualClock(0.0)
    sent, heard = [], []

    def on_sent(msg, t):
        heard.append(msg)
        if len(heard) == 1:
            raise RuntimeError("recorder hiccup")

    sched = Scheduler(clock, sent.append, on_sent=on_sent)
    sched.play([(1.0, 1.5, 1, 60, 90), (1.0, 1.5, 1, 64, 90)])
    for t in (1.0, 2.0):
        clock.set(t)
        sched.poll()
    sched.close()
    on = sorted(m.note for m in sent if m.type == "note_on")
    off = sorted(m.note for m in sent if m.type == "note_off")
    assert on == off == [60, 64]
    assert sched.unrecorded == 1 and sched.failures == 0


def test_cut_ends_held_notes_early_and_their_old_note_off_is_not_sent_again():
    """The band cuts a chord held over a bar line the music left (a substitute came after
    it was handed out): sounding and pending notes of those pitches on that channel end at
    the cut; other channels and pitches, and notes that start at the cut, are untouched."""
    clock, sink, s, _ = make()
    s.play([(100.0, 102.0, 2, 60, 90), (100.0, 102.0, 2, 64, 90), (100.0, 102.0, 3, 60, 90),
            (100.8, 102.0, 2, 67, 90), (101.0, 101.5, 2, 60, 90)])
    clock.set(100.0)
    s.poll()
    assert s.cut(101.0, 2, [60, 64, 67, 71]) == 3  # 60 and 64 sounding, 67 pending; not the one from 101.0
    for t in (100.8, 101.0, 101.5, 102.0):
        clock.set(t)
        s.poll()
    offs = [(t, p, ch) for t, kind, p, ch in sink.sent if kind == "note_off"]
    assert sorted(offs) == [(101.0, 60, 2), (101.0, 64, 2), (101.0, 67, 2), (101.5, 60, 2), (102.0, 60, 3)]
    assert [(t, p) for t, kind, p, ch in sink.sent if kind == "note_on" and t == 101.0] == [(101.0, 60)]
    assert sink.sent.index((101.0, "note_off", 60, 2)) < sink.sent.index((101.0, "note_on", 60, 2))
    assert balanced(sink.sent)
