"""The hand-off from a MIDI input's thread to the conductor: `InputQueue`.

The port callback (rtmidi's thread, or the demo's scripted player) stamps each message
with the session clock, passes it through at once when passthrough is on (`thru`: the
player hears themselves without waiting for the conductor), and queues it; the conductor
takes messages out in arrival order. The queue is bounded: under a flood messages are
dropped and counted, but a release (`is_release`), which would leave a note hanging, waits
in a side queue eight times as long (past that, the oldest is let go and counted too).
Messages from several devices (each input pushes with its `source`) are merged key by key
on the way in (improv/live/keymerge.py), so that one device's release never cuts a note
another still holds.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from improv.core.listen.segment import ALL_OFF_CCS, pedal_up
from improv.live.clock import Clock
from improv.live.keymerge import KeyMerge

QUEUE_SIZE = 4096  # about two seconds of a 2,000 message/s flood
RELEASES_KEPT = 8  # times QUEUE_SIZE: releases that wait beside a full queue


def is_note_on(data: list[int]) -> bool:
    """True for a note-on with a velocity (a key played)."""
    return len(data) >= 3 and data[0] & 0xF0 == 0x90 and data[2] > 0


def is_release(data: list[int]) -> bool:
    """True for a message that ends sound: note-off, note-on at velocity 0, sustain pedal
    up or reset, all-notes-off / all-sound-off and the other channel mode messages."""
    if len(data) < 3:
        return False
    kind = data[0] & 0xF0
    return (kind == 0x80 or (kind == 0x90 and data[2] == 0)
            or (kind == 0xB0 and (data[1] in ALL_OFF_CCS or pedal_up(data[1], data[2]))))


@dataclass
class InputQueue:
    """The bounded hand-off from a port callback (or the demo's scripted player) to the
    conductor. Items are (arrival time in seconds, raw message bytes).

    Under a flood the queue fills and messages are dropped (counted), except releases:
    a dropped note-off would leave a note hanging, so they wait in a side queue
    (`RELEASES_KEPT` times as long, its overflow counted) and `get` hands out both in
    arrival order.
    """

    clock: Clock
    maxsize: int = QUEUE_SIZE
    dropped: int = 0
    # Passthrough, straight from the producer's thread (the port callback): called with the
    # raw message and its stamp before it is queued, so the player's notes never wait for
    # the conductor to wake (the session sets it; it must not block).
    thru: Callable[[list[int], float], None] | None = None
    queue: "queue.Queue[tuple[float, list[int]]]" = field(init=False)
    releases: "deque[tuple[float, list[int]]]" = field(init=False)
    merge: KeyMerge = field(init=False)  # several devices' keys (`push`'s `source`)

    def __post_init__(self) -> None:
        self.queue = queue.Queue(self.maxsize)
        self.releases = deque(maxlen=RELEASES_KEPT * self.maxsize)
        # (held by `push` and by `start_thru` only: a passthrough that begins while messages
        # wait sends those first, so that nothing overtakes what was played before it)
        self._thru_lock = threading.Lock()
        self._last = float("-inf")  # the latest stamp given (under the lock)
        self.merge = KeyMerge()

    def push(self, data: list[int], age: float = 0.0, source: Hashable | None = None) -> None:
        """Stamp, pass through (`thru`), enqueue (any thread, never blocks for longer than
        `start_thru` holds it once); counts a drop when full. `age`: how many seconds ago the
        message arrived (0: now); `source`: the device it came from, merged with the others'
        (`KeyMerge`; None: taken as it is)."""
        t = self.clock.now() - age
        with self._thru_lock:
            # Stamps keep arrival order: a note-off read in the same JACK period as its note-on
            # has the same age, but `now` is read once per message, so a thread switch between
            # the reader's clock and this one stamped it microseconds *before* its note-on, and
            # the recording put it first (a flicked note rang on in the file to the key's next
            # release).
            t = self._last = max(t, self._last)
            for msg in (self.merge.take(data, source, t) if source is not None else (data,)):
                self._put(msg, t)

    def _put(self, data: list[int], t: float) -> None:
        """Pass through and enqueue one message (under the lock)."""
        thru = self.thru
        if thru is not None:
            thru(data, t)
        try:
            self.queue.put_nowait((t, data))
        except queue.Full:
            if is_release(data):
                if len(self.releases) == self.releases.maxlen:
                    self.dropped += 1  # (the oldest waiting release is let go: counted, never silent)
                self.releases.append((t, data))
            else:
                self.dropped += 1

    def start_thru(self, thru: Callable[[list[int], float], None]) -> None:
        """Begin passing messages through with `thru`: first every message already waiting
        (arrived before, not yet taken by the conductor), in arrival order, then each new
        one as it is pushed; none can come in between (a note-off played just after would
        otherwise go out before its note-on, and leave it hanging)."""
        with self._thru_lock:
            waiting = sorted([*self.queue.queue, *self.releases], key=lambda item: item[0])
            for t, data in waiting:
                thru(data, t)
            self.thru = thru

    def first_waiting(self, which: Callable[[list[int]], bool] = lambda data: True) -> float | None:
        """The arrival time of the earliest message waiting (of those `which` is true for), or None."""
        with self._thru_lock:
            times = [t for t, data in (*self.queue.queue, *self.releases) if which(data)]
        return min(times) if times else None

    def get(self, timeout: float | None = None) -> tuple[float, list[int]]:
        """The next message in arrival order (one consumer: the conductor thread).

        Raises:
            queue.Empty: nothing arrived within `timeout` seconds (None: don't wait).
        """
        if self.releases:
            try:
                head = self.queue.queue[0]  # peek: only this thread takes items out
            except IndexError:
                return self.releases.popleft()
            return self.queue.get_nowait() if head[0] <= self.releases[0][0] else self.releases.popleft()
        if timeout is None:
            return self.queue.get_nowait()
        return self.queue.get(timeout=timeout)

    def get_nowait(self) -> tuple[float, list[int]]:
        """`get` without waiting (raises queue.Empty)."""
        return self.get(None)

    def drain(self, handle: Callable[[float, list[int]], None]) -> None:
        """Hand every waiting message to `handle(t, data)`, in arrival order (conductor thread)."""
        while True:
            try:
                t, data = self.get(None)
            except queue.Empty:
                return
            handle(t, data)
