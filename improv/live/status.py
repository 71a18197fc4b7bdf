"""The terminal display: one compact status line, refreshed a few times a second on a TTY,
plain log lines otherwise (so logs and CI output stay readable).

    120 bpm  5:3  answering  F7  call 2 bars  timing 0.05/0.31 ms  dropped 0

Runs on the conductor thread; `log` may be called from any thread.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class Snapshot:
    """What the status line shows.

    Attributes:
        tempo: beats per minute.
        bar: bar number from 1; beat: beat in the bar from 1.
        state: "listening" or "answering".
        harmony: the current chord, or the inferred chord and key.
        call_bars: length of the last call in bars (0 = none yet).
        timing_median_ms, timing_p99_ms: partner note-on timing error.
        timed: how many partner notes the timing figures cover.
        dropped: input messages dropped or unreadable, plus partner notes dropped late.
        mode: what the partner does with outside notes, e.g. "embrace 0.5" ("" = not shown).
    """

    tempo: float
    bar: int
    beat: int
    state: str
    harmony: str
    call_bars: int
    timing_median_ms: float
    timing_p99_ms: float
    timed: int
    dropped: int
    mode: str = ""


def render(s: Snapshot) -> str:
    """The status line for a snapshot (no trailing newline)."""
    call = f"call {s.call_bars} bar{'s' if s.call_bars != 1 else ''}" if s.call_bars else "call -"
    timing = f"timing {s.timing_median_ms:.2f}/{s.timing_p99_ms:.2f} ms" if s.timed else "timing -"
    return (f"{s.tempo:g} bpm  {s.bar:>3}:{s.beat}  {s.state:<9}  {s.harmony or '-':<14}  {call}  "
            f"{timing}  dropped {s.dropped}" + (f"  {s.mode}" if s.mode else ""))


class Display:
    """Writes the status line and log lines to `stream` (stderr by default).

    Args:
        stream: where to write.
        tty: refresh one line in place (None = ask the stream).
        every_s: seconds between refreshes on a TTY.
        plain_every_s: seconds between status lines when not a TTY.
    """

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None,
                 every_s: float = 0.2, plain_every_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s if self.tty else plain_every_s
        self._last = -1e9
        self._line = ""
        self._lock = threading.Lock()

    def due(self, now: float) -> bool:
        """Whether `update` would show a snapshot at `now` (seconds)."""
        return now - self._last >= self.every_s

    def update(self, now: float, snapshot: Snapshot, force: bool = False) -> None:
        """Show the snapshot if it is time to (conductor thread). `now` in seconds."""
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        line = render(snapshot)
        with self._lock:
            if self.tty:
                self.stream.write("\r" + line.ljust(len(self._line)) + "\r")
                self._line = line
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def log(self, text: str) -> None:
        """One log line (any thread); on a TTY it goes above the status line."""
        with self._lock:
            if self.tty and self._line:
                self.stream.write("\r" + " " * len(self._line) + "\r")
            self.stream.write(text + "\n")
            if self.tty and self._line:
                self.stream.write(self._line + "\r")
            self.stream.flush()

    def finish(self) -> None:
        """End the status line (on a TTY) so what follows starts on a fresh line."""
        with self._lock:
            if self.tty and self._line:
                self.stream.write("\n")
                self.stream.flush()
            self._line = ""


class DisplayHandler(logging.Handler):
    """Routes `improv.*` log records (e.g. the scheduler's late notes) to a Display."""

    def __init__(self, display: Display) -> None:
        super().__init__(logging.INFO)
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.display.log(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break the session
            pass


def percentile(values: Any, q: float) -> float:
    """The `q` quantile (0-1) of some numbers, nearest rank; 0.0 for none."""
    xs = sorted(values)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else 0.0
