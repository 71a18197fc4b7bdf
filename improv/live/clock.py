"""One monotonic clock for the live engine, passed in everywhere time is needed.

`RealClock` reads `time.perf_counter` (seconds) and waits by sleeping until `spin_ms`
before a deadline, then spinning: OS sleeps overshoot by up to a millisecond or more, a
short spin does not. The spin hands the GIL over on every turn, because port callbacks
(rtmidi calls Python from JACK's process thread) must not wait behind it. On Windows it
first asks for a 1 ms system timer (`fine_timer`): the default 15.6 ms tick wakes a wait
(the scheduler's, until the spin) up to 15 ms late. `ManualClock` is for tests: its time
only moves when told to, and `sleep_until` jumps there at once.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A monotonic clock in seconds."""

    def now(self) -> float:
        """The current time, in seconds (arbitrary origin, monotonic)."""
        ...

    def sleep_until(self, deadline: float) -> None:
        """Return at or just after `deadline` (seconds on this clock)."""
        ...


def fine_timer() -> bool:
    """On Windows, ask for the system timer's 1 ms resolution (winmm's timeBeginPeriod, as
    audio programs do; it holds until the process ends): at its default 15.6 ms a
    scheduler's wait for a note's deadline woke up to 15 ms late. True if it was granted;
    nothing elsewhere (their timers are fine)."""
    if sys.platform != "win32":
        return False
    try:
        import ctypes

        return ctypes.windll.winmm.timeBeginPeriod(1) == 0  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no winmm: waits as coarse as the system's
        return False


class RealClock:
    """`time.perf_counter`, with a sleep-then-spin wait.

    Args:
        spin_ms: how long before a deadline to stop sleeping and start spinning (ms).
    """

    def __init__(self, spin_ms: float = 1.0) -> None:
        if spin_ms < 0:
            raise ValueError(f"spin_ms must be >= 0, got {spin_ms}")
        self.spin_s = spin_ms / 1000.0
        self.fine = fine_timer()

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, deadline: float) -> None:
        """Sleep until `spin_ms` before `deadline`, then spin (any thread)."""
        remaining = deadline - time.perf_counter()
        if remaining > self.spin_s:
            time.sleep(remaining - self.spin_s)
        while time.perf_counter() < deadline:
            # sleep(0) lets go of the GIL: rtmidi's JACK callbacks need it within a period
            time.sleep(0)


class ManualClock:
    """A clock for tests: `now()` is whatever it was set to; waiting advances it instantly.

    Args:
        start: the initial time, in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def set(self, t: float) -> None:
        """Move the clock to `t` seconds (never backwards)."""
        with self._lock:
            if t < self._t:
                raise ValueError(f"ManualClock cannot go back from {self._t} to {t}")
            self._t = float(t)

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds`; returns the new time."""
        with self._lock:
            if seconds < 0:
                raise ValueError(f"ManualClock cannot go back ({seconds} s)")
            self._t += seconds
            return self._t

    def sleep_until(self, deadline: float) -> None:
        with self._lock:
            self._t = max(self._t, float(deadline))
