"""The clocks: a manual one that advances instantly, a real one that never wakes early."""

import threading

import pytest

from improv.live.clock import Clock, ManualClock, RealClock


def test_manual_clock_moves_only_when_told():
    c = ManualClock(5.0)
    assert c.now() == 5.0
    c.advance(0.25)
    assert c.now() == 5.25
    c.set(6.0)
    assert c.now() == 6.0
    c.sleep_until(7.5)
    assert c.now() == 7.5
    c.sleep_until(1.0)  # a past deadline returns at once, time stays
    assert c.now() == 7.5
    with pytest.raises(ValueError):
        c.set(1.0)
    with pytest.raises(ValueError):
        c.advance(-1.0)


def test_manual_clock_is_safe_across_threads():
    c = ManualClock()
    ts = [threading.Thread(target=lambda: [c.advance(0.001) for _ in range(1000)]) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.now() == pytest.approx(4.0)


def test_real_clock_is_monotonic_and_never_wakes_early():
    c = RealClock(spin_ms=1.0)
    t0 = c.now()
    for i in range(1, 6):
        deadline = t0 + i * 0.002
        c.sleep_until(deadline)
        assert c.now() >= deadline
    c.sleep_until(c.now() - 1.0)  # the past: no wait


def test_both_satisfy_the_protocol():
    assert isinstance(RealClock(), Clock) and isinstance(ManualClock(), Clock)
    with pytest.raises(ValueError):
        RealClock(spin_ms=-1)


def test_on_windows_the_real_clock_asks_for_a_one_millisecond_system_timer(monkeypatch):
    """Windows' default 15.6 ms timer tick woke the scheduler's wait for a note's deadline up
    to 15 ms late (found by the portability audit): the live clock asks for 1 ms, as audio
    programs do; elsewhere nothing is asked."""
    import ctypes
    import sys

    asked = []

    class WinMM:
        def timeBeginPeriod(self, ms):
            asked.append(ms)
            return 0

    monkeypatch.setattr(ctypes, "windll", type("W", (), {"winmm": WinMM()})(), raising=False)
    assert RealClock().fine is False and asked == []  # (not Windows)
    monkeypatch.setattr(sys, "platform", "win32")
    assert RealClock().fine is True and asked == [1]
    monkeypatch.delattr(ctypes, "windll")
    assert RealClock().fine is False  # no winmm: as coarse as the system's, no traceback
