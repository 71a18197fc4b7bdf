"""Scheduler edge cases a mutation audit found untested (each test fails under its mutation): busy while a note sounds, the recent-window and p99 timing figures, cut by pitch, the thread handing over to the clock's spin, and a zero-length note (it hung)."""

import threading

import pytest

from improv.live.clock import ManualClock
from improv.live.scheduler import Scheduler


def make():
    clock = ManualClock(0.0)
    sent = []
    return clock, sent, Scheduler(clock, sent.append)


def test_busy_while_a_note_still_sounds():
    """Catches busy() looking only at pending notes: the partner's last note rang and the session took it as idle."""
    clock, sent, s = make()
    s.play([(1.0, 2.0, 1, 60, 90)])
    clock.set(1.0); s.poll()
    assert [m.type for m in sent] == ["note_on"] and s.busy()
    clock.set(2.0); s.poll()
    assert not s.busy()


def test_timing_window_reads_only_the_newest_errors():
    """Catches timing_ms(last=) reading every error ever kept: the status line showed the whole set's figures, not the recent ones."""
    clock, sent, s = make()
    s.errors_ms.extend(float(i) for i in range(100))
    assert s.timing_ms(last=10) == (94.5, 99.0, 10)
    assert s.timing_ms()[2] == 100


def test_p99_is_the_99th_percentile_not_the_maximum():
    """Catches a p99 index off by one: over 100 errors it read the largest (the one outlier) instead of the 99th."""
    clock, sent, s = make()
    s.errors_ms.extend(float(i) for i in range(100))
    med, p99, n = s.timing_ms()
    assert (med, p99, n) == (49.5, 98.0, 100)


def test_cut_by_pitch_leaves_other_pitches_on_the_channel():
    """Catches cut() ignoring `pitches`: a stab replacing one note ended every note the channel held."""
    clock, sent, s = make()
    s.play([(0.0, 4.0, 2, 60, 90), (0.0, 4.0, 2, 64, 90)])
    clock.set(0.0); s.poll()
    assert s.cut(1.0, 2, [60]) == 1
    clock.set(1.0); s.poll()
    assert [(m.type, m.note) for m in sent[2:]] == [("note_off", 60)]
    clock.set(4.0); s.poll()
    assert [(m.type, m.note) for m in sent[2:]] == [("note_off", 60), ("note_off", 64)]


def test_the_thread_hands_a_note_within_the_spin_to_the_clock():
    """Catches the thread's wait adding the spin instead of taking it off: it waited past every deadline (each note a spin late), and on a clock that only moves when slept on, never sent at all."""
    clock = ManualClock(10.0)
    clock.spin_s = 0.001  # (the scheduler reads it as RealClock's)
    went = threading.Event()
    s = Scheduler(clock, lambda m: went.set())
    s.play([(10.0005, 10.5, 0, 60, 90)])  # due within the spin: the clock's sleep_until takes it from here
    s.start()
    try:
        assert went.wait(2.0)
    finally:
        s.stop()
    assert clock.now() == pytest.approx(10.0005)


def test_a_zero_length_note_is_still_released():
    """A note whose off deadline equals (or, clamped by play(), precedes) its on: its note-off was popped before its note-on and skipped, and the note hung."""
    clock, sent, s = make()
    s.play([(1.0, 1.0, 0, 60, 90), (1.0, 0.5, 0, 62, 90)])
    for t in (1.0, 2.0):
        clock.set(t); s.poll()
    assert sorted((m.type, m.note) for m in sent) == [("note_off", 60), ("note_off", 62), ("note_on", 60), ("note_on", 62)]
    assert not s.busy()
