"""Noticing improv's own output coming back into its input: a MIDI loop.

A DAW track or a patchbay that sends improv's output back to its input (a common wiring
slip) turns every note into a storm: the passthrough sends the echo out again, it comes
back again, and the partner hears its own answers, and its own passthrough, as the
player's calls (two notes became 5,647 in 8 s on JACK).

`LoopGuard` remembers every message sent, by its bytes, for `ECHO_S`; a message arriving
identical to one sent that recently takes it up as its echo (each message sent answers for
one echo at most: a player's value repeated as its echo comes back is one of each).

A note's echo is never heard as the player's (it would re-strike the note in the call being
heard as a 2 ms one); before a loop is sure it is still passed through and recorded, as
anything else (a player's note taken for an echo loses nothing but being heard). Notes
decide whether it is a loop: `LOOP_ECHOES` note echoes within `LOOP_WINDOW_S` (a stream of
aftertouch, pitch bend or half-pedal repeats its values within milliseconds, with no loop).
The session then says so once and silences what it sounded (a note doubled by its echo hangs
on a synth that stacks voices; the call being played goes on), and from then on echoes of
any kind are neither passed through nor heard nor recorded. When the notes sent stop coming
back (`CLEAR_S` of notes without an echo), the loop is gone and nothing is dropped any more.

The check runs on the port's thread before the passthrough sends the message (after, a
player's message would match its own passthrough), or on the conductor where there is no
such passthrough. Thread-safe: sends come from the conductor, the scheduler, the band and
the port's thread.
"""

from __future__ import annotations

import threading
from collections import Counter, deque

ECHO_S = 0.03  # an identical message arriving this soon after one went out is its echo (JACK: 1-2 periods)
LOOP_ECHOES = 8  # this many note echoes ...
LOOP_WINDOW_S = 1.0  # ... within this long make it a loop
CLEAR_S = 1.0  # notes sent for this long after the last note echo, none back: the loop is gone
KEPT = 256  # remembered messages before the old ones are let go

LOOP_WARNING = ("MIDI loop: improv's own output is coming back into its input (a DAW track or patchbay "
                "sends it back): silenced, and its echoes ignored from now on; route improv's output elsewhere")
LOOP_GONE = "MIDI loop gone: improv's output no longer comes back into its input"


def is_note(data: bytes | list[int]) -> bool:
    return len(data) == 3 and data[0] & 0xE0 == 0x80  # note-on or note-off, any channel


class LoopGuard:
    """See the module docstring."""

    def __init__(self) -> None:
        self._sent: dict[bytes, deque[float]] = {}  # times sent, each not yet taken up by an echo
        self._lock = threading.Lock()
        self._verdicts: Counter[tuple[float, bytes]] = Counter()  # echoes found on the port's thread
        self._echoes: deque[float] = deque(maxlen=LOOP_ECHOES)  # the last note echoes' times
        self._notes_sent: deque[float] = deque(maxlen=64)  # when the last notes went out
        self._note_echo = -float("inf")  # when a note echo last came back
        self.looping = False  # a loop was heard: echoes are dropped
        self.dropped = 0  # echoes dropped

    def sent(self, data: bytes, t: float) -> None:
        """A message went out at `t` (the session clock's seconds)."""
        with self._lock:
            times = self._sent.get(data)
            if times is None:
                if len(self._sent) >= KEPT:
                    self._sent = {k: v for k, v in self._sent.items() if v and t - v[-1] <= ECHO_S}
                times = self._sent[data] = deque(maxlen=8)
            times.append(t)
            if is_note(data):
                self._notes_sent.append(t)

    def take_echo(self, data: bytes | list[int], t: float) -> bool:
        """`data`, arrived at `t`, is the echo of a message sent within `ECHO_S` before it
        arrived (not after: a player's message is passed through after it arrives, and is not
        its own echo); that message then answers for no other."""
        key = bytes(data)
        with self._lock:
            times = self._sent.get(key)
            while times and t - times[0] > ECHO_S:
                times.popleft()  # (too old to come back now)
            if not times or times[0] > t:
                return False
            times.popleft()
            if is_note(key):
                self._note_echo = t
            return True

    def check_before_thru(self, data: list[int], t: float) -> bool:
        """`take_echo` on the port's thread, before the passthrough sends `data`; the conductor
        reads the verdict with `was_echo`."""
        echo = self.take_echo(data, t)
        if echo:
            with self._lock:
                if len(self._verdicts) > KEPT:
                    self._verdicts.clear()  # (a conductor that never read them: closing)
                self._verdicts[(t, bytes(data))] += 1
        return echo

    def was_echo(self, data: list[int], t: float) -> bool:
        """The verdict `check_before_thru` gave `data`, arrived at `t` (conductor)."""
        key = (t, bytes(data))
        with self._lock:
            if self._verdicts[key] <= 0:  # (a Counter reads a missing key as 0, adding nothing)
                return False
            self._verdicts[key] -= 1
            if not self._verdicts[key]:
                del self._verdicts[key]
            return True

    def echo_heard(self, data: list[int], t: float) -> bool:
        """Count an echo that arrived at `t` (conductor); True the moment note echoes make a loop."""
        if not is_note(data):
            return False
        self._echoes.append(t)
        if self.looping or len(self._echoes) < LOOP_ECHOES or t - self._echoes[0] > LOOP_WINDOW_S:
            return False
        self.looping = True
        return True

    def gone(self, now: float) -> bool:
        """While looping: True the moment the notes sent have stopped coming back (conductor):
        a note sent more than `CLEAR_S` after the last echo, long enough ago that its own echo
        would be back by `now` (the note being handled has just been passed through: its echo
        is not due yet, so it cannot tell)."""
        if not self.looping:
            return False
        with self._lock:
            due = next((t for t in reversed(self._notes_sent) if t <= now - ECHO_S), None)
            quiet = due is not None and due - self._note_echo > CLEAR_S
        if quiet:
            self.looping = False
            self._echoes.clear()
        return quiet
