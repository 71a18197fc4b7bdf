"""Stopping a training run by hand (Ctrl-C, or SIGTERM from a scheduler or `torchrun`)
without losing it.

The first signal only asks: the loop finishes the step it is in (so the weights and the
optimizer state agree), every process agrees to stop at that step, rank 0 writes
`last.pt`, and the run ends with `Interrupted`. A second signal stops at once, unsaved
(for a step or a validation that takes too long).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from improv.errors import ImprovError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
REPEAT_S = 1.0  # a second signal sooner than this after the first is the same one, sent twice


class Interrupted(ImprovError):
    """A run stopped by hand; the message says what was saved and how to resume."""

    exit_code = EXIT_INTERRUPTED


class StopRequest:
    """While in a `with` block (in the main thread), SIGINT and SIGTERM raise
    KeyboardInterrupt, as Ctrl-C does; while `armed` (the training loop runs), the first
    sets `asked` instead, and a second (`REPEAT_S` or more later) raises. The handlers
    before are put back on leaving.

    Args:
        notice: written to stdout (the training log) on the first signal, so that a
            user waiting on a long step knows it was heard; "" writes nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, notice: str = "") -> None:
        self.armed = False
        self.asked = False
        self._first = 0.0
        self._notice = notice
        self._before: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # (signals can only be handled there)
            for sig in self.SIGNALS:
                self._before[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._before.items():
            signal.signal(sig, handler)
        self._before.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if not self.armed:  # (reading the data, or finishing): nothing to save by waiting
            raise KeyboardInterrupt
        if self.asked:
            if now - self._first >= REPEAT_S:
                raise KeyboardInterrupt
            return  # the same stop, delivered twice: `timeout -s INT` signals the child and its group
        self.asked, self._first = True, now
        if self._notice:
            try:  # os.write: print() from a signal handler can meet stdout mid-write
                os.write(1, (self._notice + "\n").encode())
            except OSError:
                pass
