"""Noticing improv's own output coming back into its input: a MIDI loop.

A DAW track or a patchbay that sends improv's output back to its input (a common wiring
slip) turns every note into a storm: the passthrough sends the echo out again, it comes
back again, and the partner hears its own answers, and its own passthrough, as the
player's calls (two notes became 5,647 in 8 s on JACK). `LoopGuard` remembers the bytes of
every message sent out for `ECHO_S`; a message arriving identical to one sent that
recently is an echo. Once `LOOP_ECHOES` echoes have come within `LOOP_WINDOW_S` it is a
loop: the session says so once and silences what it sounded (a note doubled by its echo
hangs on a synth that stacks voices), and from then on echoes are neither passed through nor
heard nor recorded (the player's own notes still are: an echo must match a message sent
within `ECHO_S`, byte for byte, velocity included). A stray echo or two before that is
taken as played, so a player's fast repeated note never trips it.

Thread-safe: sends come from the conductor, the scheduler, the band and the port's
thread; arrivals are checked on the port's thread and the conductor's.
"""

from __future__ import annotations

import threading
from collections import deque

ECHO_S = 0.03  # an identical message arriving this soon after one went out is its echo (JACK: 1-2 periods)
TIMES_KEPT = 4  # the last times each message went out
LOOP_ECHOES = 8  # this many echoes ...
LOOP_WINDOW_S = 1.0  # ... within this long make it a loop
KEPT = 256  # remembered messages before the old ones are let go


class LoopGuard:
    """See the module docstring."""

    def __init__(self) -> None:
        self._sent: dict[bytes, tuple[float, ...]] = {}  # the last few times each went out
        self._lock = threading.Lock()
        self._echoes: deque[float] = deque(maxlen=LOOP_ECHOES)
        self._verdicts: set[tuple[float, bytes]] = set()  # echoes seen on the port's thread
        self.looping = False  # a loop was heard: echoes are dropped
        self.dropped = 0  # echoes dropped since

    def sent(self, data: bytes, t: float) -> None:
        """A message went out at `t` (the session clock's seconds)."""
        with self._lock:
            self._sent[data] = self._sent.get(data, ())[-(TIMES_KEPT - 1):] + (t,)
            if len(self._sent) > KEPT:
                self._sent = {k: v for k, v in self._sent.items() if t - v[-1] <= ECHO_S}

    def is_echo(self, data: bytes | list[int], t: float) -> bool:
        """`data`, arrived at `t`, is what was sent within `ECHO_S` before it arrived. (Not
        after: a player's message is passed through after it arrives, and is not its own echo.)"""
        with self._lock:
            sent = self._sent.get(bytes(data), ())
        return any(0.0 <= t - s <= ECHO_S for s in sent)

    def check_before_thru(self, data: list[int], t: float) -> bool:
        """`is_echo`, on the port's thread before the passthrough sends `data` (after it, the
        message would match its own passthrough); the conductor reads the verdict (`was_echo`)."""
        echo = self.is_echo(data, t)
        if echo:
            with self._lock:
                if len(self._verdicts) > KEPT:
                    self._verdicts.clear()  # (a conductor that never read them: closing)
                self._verdicts.add((t, bytes(data)))
        return echo

    def was_echo(self, data: list[int], t: float) -> bool:
        """The verdict `check_before_thru` gave `data` arrived at `t` (conductor)."""
        with self._lock:
            key = (t, bytes(data))
            if key in self._verdicts:
                self._verdicts.discard(key)
                return True
        return False

    def echo_heard(self, t: float) -> bool:
        """Count an echo that arrived at `t` (conductor); True the moment they make a loop."""
        self._echoes.append(t)
        if self.looping or len(self._echoes) < LOOP_ECHOES or t - self._echoes[0] > LOOP_WINDOW_S:
            return False
        self.looping = True
        return True


LOOP_WARNING = ("MIDI loop: improv's own output is coming back into its input (a DAW track or patchbay "
                "sends it back): silenced, and its echoes ignored from now on; route improv's output elsewhere")
