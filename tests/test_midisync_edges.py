"""Clock and tap-tempo edge cases a mutation audit found untested (each test fails under its mutation): a new tempo keeping the beat, swing read back, a count-in offset on a DAW's clock, no time before the clock is known, tap bounces, the taps window and range, and the JACK reader stopped on close."""

import threading

import pytest

from improv.core.listen.midiclock import START, ClockFollower
from improv.live.clock import ManualClock
from improv.live.midisync import ExternalClock, FixedTimeline, FollowedTimeline, TapTempo


def test_a_new_tempo_keeps_the_current_beat_where_it_is():
    """Catches set_tempo moving beat 0 (or reading the beats so far at the new tempo): a tapped tempo made the band jump bars."""
    tl = FixedTimeline(10.0, 120.0)
    assert tl.beat_at(12.0) == pytest.approx(4.0)
    tl.set_tempo(60.0, 12.0)
    assert tl.beat_at(12.0) == pytest.approx(4.0)
    assert tl.beat_at(13.0) == pytest.approx(5.0) and tl.time_of(6.0) == pytest.approx(14.0)


def test_a_swung_beat_reads_back_as_itself():
    """Catches beat_at returning swung beats: the off-beat eighth (0.5) read back as 0.667 under 2:1 swing."""
    tl = FixedTimeline(0.0, 120.0, swing=2.0)
    t = tl.time_of(0.5)
    assert t == pytest.approx(1 / 3)  # the swung eighth falls two thirds into the beat
    assert tl.beat_at(t) == pytest.approx(0.5)


def test_a_count_in_offset_puts_the_forms_beat_0_after_it_on_the_daws_clock():
    """Catches the offset applied the wrong way: over a DAW's clock the band played the count-in's bars as the form's."""
    f = ClockFollower(guess=120.0)
    f.feed(10.0, [START])
    tl = FollowedTimeline(f, offset=-4.0)  # a bar of count-in before the form
    assert tl.time_of(-4.0) == pytest.approx(10.0) and tl.time_of(0.0) == pytest.approx(12.0)
    assert tl.beat_at(10.0) == pytest.approx(-4.0) and tl.beat_at(12.0) == pytest.approx(0.0)


def test_before_the_clock_is_known_nothing_is_due():
    """Catches an unknown clock read as time 0 and beat 0: the band handed out its first bar before the DAW pressed play."""
    tl = FollowedTimeline(ClockFollower())
    assert tl.time_of(0.0) == float("inf")
    assert tl.beat_at(5.0) == float("-inf")


def test_a_tap_bounce_is_left_out():
    """Catches the bounce window shortened: a pad's double trigger 0.1 s after a tap was taken as a beat and the next tap gave 150 bpm, not 120."""
    tap = TapTempo()
    assert tap.tap(0.0) is None and tap.tap(0.5) == pytest.approx(120.0)
    assert tap.tap(0.6) is None  # the bounce
    assert tap.tap(1.0) == pytest.approx(120.0)


def test_tap_tempo_follows_the_last_taps_only():
    """Catches every tap kept: a tempo pushed 10 % faster over eight taps still read as a blend with the old one."""
    tap = TapTempo(taps=8)
    t, bpm = 0.0, None
    for _ in range(8):
        bpm = tap.tap(t); t += 0.5
    assert bpm == pytest.approx(120.0)
    t -= 0.05
    for _ in range(8):
        bpm = tap.tap(t); t += 0.45
    assert bpm == pytest.approx(60.0 / 0.45)


def test_a_tapped_tempo_above_the_range_is_refused():
    """Catches the upper bound left out: taps 0.16 s apart set 375 bpm."""
    tap = TapTempo()
    assert [tap.tap(i * 0.16) for i in range(4)] == [None, None, None, None]


def test_closing_a_jack_clock_input_stops_its_reader_thread():
    """Catches close() leaving the JACK reader running: it read a closed port for the rest of the process."""
    from test_ports import FakeJackIn

    ext = ExternalClock(ManualClock(0.0), FakeJackIn(), "daw clock")
    assert any(t.name == "midi-in daw clock" for t in threading.enumerate())
    ext.close()
    assert not any(t.name == "midi-in daw clock" and t.is_alive() for t in threading.enumerate())
