"""Telling a late partner worker that is slow (a busy machine) from one that is stuck.

A worker late with a call is replaced as stuck by `ProcessPartner.check`; but on a busy
machine a worker running at a lower priority than the real-time process can be seconds late
and still working, and replacing it costs a start and a reading of the whole session on the
same busy cores (a soak under load restarted it 12 times in 8 minutes, and gave it up for a
minute). `Vitals` keeps what shows the difference: the worker's CPU time and scheduler state
from /proc where there is one (Linux), sampled at each of the conductor's looks, and the
pulses (`Alive`) the worker sends with its CPU time on its own clock (macOS, Windows). A
worker is slow while it waits for a CPU or its CPU time moves; stopped, asleep with its CPU
time standing still (blocked), or spending half a core or more on a late call (a loop), it
is stuck. On Linux the CPU time and state are its main thread's, the one that decodes: the
pulse thread's few microseconds every 50 ms, counted in whole clock ticks, once read as a
blocked worker working.
"""

from __future__ import annotations

import os
import time
from collections import deque

from improv.partner.protocol import Alive

IDLE_SHARE = 0.005  # a share of a core below this, and not runnable: blocked, not working
SPIN_SHARE = 0.5  # this share of a core or more on a late call: caught in a loop, not slow
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 100


def _share(points: list[tuple[float, float]], window: float) -> float | None:
    """The share of a core used between the newest (time, CPU seconds) point and the newest
    one at least half a `window` before it (however long before: a look delayed on a busy
    machine still measures), or None when there is none that far back."""
    t1, cpu1 = points[-1]
    base = [p for p in points[:-1] if p[0] <= t1 - 0.5 * window]
    if not base:
        return None
    t0, cpu0 = base[-1]
    return (cpu1 - cpu0) / (t1 - t0)


def _stat_fields(path: str) -> list[str]:
    """The fields of a /proc stat file after the command's name (the state first)."""
    with open(path, "rb") as f:
        st = f.read()
    return st[st.rindex(b")") + 2:].decode("ascii", "replace").split()


class Vitals:
    """What a worker process (`pid`) shows of its life: `samples` of its CPU time and state
    (`sample`, Linux) and its `pulses` (`pulse`). Threads: `pulse` on the receiving thread,
    the rest on the conductor."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pulses: deque[tuple[float, float, float]] = deque(maxlen=256)  # (arrived at; sent at, its clock; CPU s)
        self.samples: deque[tuple[float, float, str]] = deque(maxlen=64)  # (at; its CPU seconds; state)

    def pulse(self, msg: Alive) -> None:
        """A pulse arrived (the worker's CPU time at `msg.at_s` on its own clock)."""
        self.pulses.append((time.monotonic(), msg.at_s, msg.cpu_s))

    def sample(self, threads: bool = True) -> None:
        """Note the worker's main thread's CPU time and scheduler state now, where the system
        shows them (Linux: /proc; `ProcessPartner.check` calls this on every look, two file
        reads). The CPU time is to the nanosecond where the kernel keeps scheduler statistics
        (`schedstat`), else in clock ticks. With `threads` (a late worker, about to be judged)
        and the main thread not runnable, the state is "r" when another of its threads is
        runnable: on a busy machine the main thread sleeps waiting for the GIL while the thread
        holding it waits for a CPU (`working` believes it only when two looks in a row see it:
        the pulse thread, waking every 50 ms, is runnable for a moment at some looks)."""
        base = f"/proc/{self.pid}/task/{self.pid}"  # (the main thread's id is the process's)
        try:
            fields = _stat_fields(f"{base}/stat")
            state = fields[0]
            try:
                with open(f"{base}/schedstat", "rb") as f:
                    cpu = int(f.read().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            if threads and state not in ("R", "T", "t"):
                for task in os.listdir(f"/proc/{self.pid}/task"):
                    if task == str(self.pid):
                        continue
                    try:
                        if _stat_fields(f"/proc/{self.pid}/task/{task}/stat")[0] == "R":
                            state = "r"
                            break
                    except (OSError, IndexError):
                        continue  # (a thread that just ended)
        except (OSError, ValueError, IndexError):
            return
        self.samples.append((time.monotonic(), cpu, state))

    def working(self, window: float) -> bool:
        """Whether the worker, late with what it was sent, is working on it (slow, on a busy
        machine) rather than stuck. Where the system shows its CPU time and state (Linux):
        not stopped, not spending `SPIN_SHARE` of a core or more (a loop), and either waiting
        for a CPU (its main thread runnable, or another thread at this look and the one before)
        or its CPU time moving by more than `IDLE_SHARE` (not blocked). Elsewhere, by its pulse
        (`Alive`): one came within `window`, and the CPU time the pulses carry moved within
        those shares. False for a worker not sampled or pulsed yet."""
        now = time.monotonic()
        if self.samples and now - self.samples[-1][0] <= window:
            state = self.samples[-1][2]
            share = _share([(t, cpu) for t, cpu, _ in self.samples], window)
            if state in ("T", "t") or (share is not None and share >= SPIN_SHARE):
                return False  # stopped (SIGSTOP, a debugger), or a loop spending a core
            waiting = state == "R" or (state == "r" and len(self.samples) > 1 and self.samples[-2][2] in ("R", "r"))
            return waiting or (share is not None and share > IDLE_SHARE)
        share = self.cpu_share(window)
        return share is not None and IDLE_SHARE < share < SPIN_SHARE

    def cpu_share(self, window: float) -> float | None:
        """The share of a core the worker used lately (`_share`): from the samples where
        there are some, else from its pulses (on its own clock); None when the latest is
        older than `window`."""
        now = time.monotonic()
        if self.samples and now - self.samples[-1][0] <= window:
            return _share([(t, cpu) for t, cpu, _ in self.samples], window)
        if self.pulses and now - self.pulses[-1][0] <= window:
            return _share([(at, cpu) for _, at, cpu in self.pulses], window)
        return None
