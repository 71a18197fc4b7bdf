"""The partner's notes, sent at their times on absolute deadlines.

A scheduler thread waits (sleep short, then spin, via the `Clock`) for the next deadline
and sends what is due. A note-on that would go out more than `late_threshold_ms` late is
reported (counter + log) and, per `late_policy`, dropped (with its note-off) or shifted to
now (its note-off moves with it); several late notes are never sent in a bunch: under
"shift" only the newest plays, the older ones are dropped. A note-off is never lost for a
note-on that went out, and a key still sounding is released before it is struck again. Every note-on's timing error (send time minus deadline) is kept for
the status line and the benchmark.

`poll()` does one round of sending and is what tests call with a `ManualClock`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import statistics
import sys
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

import mido

from improv import realtime
from improv.live.clock import Clock

log = logging.getLogger("improv.scheduler")

SWITCH_INTERVAL_S = float(os.environ.get("IMPROV_SWITCH_INTERVAL", "0.0005"))  # see Scheduler.start

# A note handed to the scheduler: (on deadline s, off deadline s, channel 0-15, pitch, velocity).
# Notes to be played are `BeatNote`s in timeline beats (improv/live/band.py: `phrase_notes`),
# made seconds by a `BeatFeeder` shortly before they sound.
TimedNote = tuple[float, float, int, int, int]


@dataclass(eq=False)
class _Note:
    on: float
    off: float
    channel: int
    pitch: int
    velocity: int
    state: str = "pending"  # pending -> sounding -> done; or dropped / cancelled


class Scheduler:
    """Sends scheduled notes through `send` at their deadlines (seconds on `clock`).

    Args:
        clock: the session clock.
        send: called with each message, on the scheduler thread (or the caller of
            `poll`/`cancel`); must not block for long.
        late_threshold_ms: a note-on later than this is late.
        late_policy: "drop" or "shift".
        on_sent: called with (message, send time in seconds) after each send (the recorder).
        max_errors: how many timing errors are kept (the newest).
        name: whose notes it plays, for its log lines.
    """

    def __init__(
        self,
        clock: Clock,
        send: Callable[[mido.Message], None],
        *,
        late_threshold_ms: float = 10.0,
        late_policy: str = "drop",
        on_sent: Callable[[mido.Message, float], None] | None = None,
        max_errors: int = 100_000,
        name: str = "partner",
    ) -> None:
        if late_policy not in ("drop", "shift"):
            raise ValueError(f"late_policy must be 'drop' or 'shift', got {late_policy!r}")
        self.clock = clock
        self.name = name  # whose notes, for the log ("partner", "band")
        self._send = send
        self.late_s = late_threshold_ms / 1000.0
        self.late_policy = late_policy
        self.on_sent = on_sent
        self.generation = 0
        self.late = 0  # note-ons found late
        self.dropped = 0  # note-ons not sent (late and dropped, or older late ones under "shift")
        self.sent_ons = 0
        self.failures = 0  # messages that could not be made or sent (the thread goes on)
        self.unrecorded = 0  # notes sent whose recording (`on_sent`) failed: still released
        self.last_failure = ""
        self.errors_ms: deque[float] = deque(maxlen=max_errors)
        self._heap: list[tuple[float, int, int, _Note]] = []  # (time, 0=off/1=on/2=off after its on, seq, note)
        self._seq = itertools.count()
        self._sounding: set[_Note] = set()
        self._cond = threading.Condition(threading.RLock())
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_log = -1e9
        self._unlogged = 0

    # --- feeding -------------------------------------------------------------------
    def play(self, notes: Iterable[TimedNote], generation: int | None = None) -> bool:
        """Queue notes (any thread). Ignored, returning False, if `generation` is given and
        a `cancel()` happened since it was read."""
        with self._cond:
            if generation is not None and generation != self.generation:
                return False
            for on, off, channel, pitch, velocity in notes:
                n = _Note(on, max(off, on), channel, pitch, velocity)
                heapq.heappush(self._heap, (n.on, 1, next(self._seq), n))
                # (an off sorts before an on at the same time, for a key struck again there; a
                # note of no length ends after its own on: before it, it was skipped and hung)
                heapq.heappush(self._heap, (n.off, 0 if n.off > n.on else 2, next(self._seq), n))
            self._cond.notify_all()
        return True

    def cut(self, t: float, channel: int, pitches: Iterable[int] | None = None) -> int:
        """Notes on `channel` (of `pitches`; None: any) that started before `t` and would
        sound past it end at `t` instead (any thread): a chord held over a bar line that the
        music left, a stab the next one replaces. Returns how many were cut."""
        keep = None if pitches is None else set(pitches)
        cut = 0
        with self._cond:
            notes = {e[3] for e in self._heap if e[3].state == "pending"} | self._sounding
            for n in notes:
                if n.channel == channel and (keep is None or n.pitch in keep) and n.on < t < n.off:
                    n.off = t  # (its old note-off is stale: `poll` sends the one at `off`)
                    heapq.heappush(self._heap, (t, 0, next(self._seq), n))
                    cut += 1
            self._cond.notify_all()
        return cut

    def busy(self) -> bool:
        """True while partner notes are pending or sounding."""
        with self._cond:
            return bool(self._sounding) or any(e[3].state == "pending" for e in self._heap)

    def next_deadline(self) -> float | None:
        with self._cond:
            return self._heap[0][0] if self._heap else None

    # --- sending -------------------------------------------------------------------
    def poll(self) -> int:
        """Send everything due by now (any thread). Returns the number of messages sent."""
        sent = 0
        with self._cond:
            now = self.clock.now()
            due = []
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap))
            # Under "shift" only the newest due onset (a chord: all its notes) may play late.
            ons = [e for e in due if e[1] == 1 and e[3].state == "pending"]
            keep: set[_Note] = set()
            if ons and self.late_policy == "shift":
                keep = {e[3] for e in ons if e[0] == ons[-1][0]}
            for t, kind, _, n in due:
                if kind != 1:
                    if n.state == "sounding" and t == n.off:  # (a shifted note's old off is stale)
                        self._out_note("note_off", n, 0)
                        n.state = "done"
                        self._sounding.discard(n)
                        sent += 1
                    continue
                if n.state != "pending":
                    continue
                if now - t > self.late_s:
                    self.late += 1
                    self._report_late(now - t, now)
                    if n not in keep:
                        n.state = "dropped"
                        self.dropped += 1
                        continue
                    shift = now - n.on
                    n.off += shift
                    heapq.heappush(self._heap, (n.off, 0, next(self._seq), n))
                sent += self._end_restruck(n)
                sent_at = self.clock.now()
                if not self._out_note("note_on", n, n.velocity):
                    n.state = "dropped"
                    self.dropped += 1
                    continue
                self.errors_ms.append((sent_at - t) * 1000.0)
                self.sent_ons += 1
                n.state = "sounding"
                self._sounding.add(n)
                sent += 1
        return sent

    def _end_restruck(self, n: _Note) -> int:
        """End a note still sounding on `n`'s key before `n` strikes it (its old note-off
        comes later and is stale). Notes are made seconds a little before they sound: a tempo
        sped up in between (a tap, the follower, a DAW) brings the next onset before the last
        note's end, and a synth that stacks voices would hold the note that was struck twice."""
        same = [o for o in self._sounding if o.channel == n.channel and o.pitch == n.pitch]
        for old in same:
            self._out_note("note_off", old, 0)
            old.state = "done"
            self._sounding.discard(old)
        return len(same)

    def cancel(self) -> int:
        """The partner yields (any thread): note-offs now for sounding notes, pending ones
        forgotten, and answers queued for the old generation refused. Returns offs sent."""
        with self._cond:
            self.generation += 1
            for e in self._heap:
                if e[3].state == "pending":
                    e[3].state = "cancelled"
            self._heap.clear()
            sounding = sorted(self._sounding, key=lambda n: (n.channel, n.pitch))
            self._sounding.clear()
            for n in sounding:
                n.state = "done"
                self._out_note("note_off", n, 0)
            self._cond.notify_all()
            return len(sounding)

    def _out_note(self, kind: str, n: _Note, velocity: int) -> bool:
        """Send a note message; a note that cannot be made (a bad channel or pitch) or sent
        is counted and logged, never the end of this thread. Returns whether it went out."""
        try:
            msg = mido.Message(kind, channel=n.channel, note=n.pitch, velocity=velocity)
            self._send(msg)
        except Exception as e:  # noqa: BLE001 - the other notes (and the thread) go on
            self.failures += 1
            self.last_failure = f"{type(e).__name__}: {e}"
            if self.failures == 1 or self.failures % 100 == 0:
                log.error("a note could not be sent (%d so far): %s", self.failures, self.last_failure)
            return False
        if self.on_sent is not None:
            try:
                self.on_sent(msg, self.clock.now())
            except Exception as e:  # noqa: BLE001 - the note went out: it must still be released
                self.unrecorded += 1
                if self.unrecorded == 1 or self.unrecorded % 100 == 0:
                    log.error("a sent note could not be recorded (%d so far): %s: %s", self.unrecorded,
                              type(e).__name__, e)
        return True

    def _report_late(self, late_s: float, now: float) -> None:
        self._unlogged += 1
        if now - self._last_log >= 0.5:  # at most two log lines a second however bad it gets
            log.warning("%s note %.1f ms late: %s (%d late so far)", self.name, late_s * 1000.0,
                        self.late_policy + "ped" if self.late_policy == "drop" else "shifted", self.late)
            self._last_log, self._unlogged = now, 0

    # --- timing figures ------------------------------------------------------------
    def timing_ms(self, last: int | None = None) -> tuple[float, float, int]:
        """(median, p99, count) of note-on timing errors in ms (the newest `last` only)."""
        with self._cond:
            errs = list(itertools.islice(reversed(self.errors_ms), last)) if last else list(self.errors_ms)
        if not errs:
            return 0.0, 0.0, 0
        errs.sort()
        p99 = errs[min(len(errs) - 1, int(round(0.99 * (len(errs) - 1))))]
        return statistics.median(errs), p99, len(errs)

    # --- the thread ----------------------------------------------------------------
    def start(self) -> None:
        """Start the scheduler thread.

        Also shortens the interpreter's GIL switch interval (process-wide): with the default
        5 ms, a responder computing in pure Python would hold this thread, and the port
        callbacks that JACK runs on its own thread, up to 5 ms past their deadlines.
        """
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="improv-scheduler", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        realtime.enter("scheduler")
        spin_s = getattr(self.clock, "spin_s", 0.001)
        while not self._stop.is_set():
            with self._cond:
                deadline = self._heap[0][0] if self._heap else None
                if deadline is None:
                    self._cond.wait(0.1)
                    continue
                wait = deadline - self.clock.now() - spin_s
                if wait > 0:
                    self._cond.wait(min(wait, 0.1))  # woken early by play()/cancel()/stop()
                    continue
            self.clock.sleep_until(deadline)
            try:
                self.poll()
            except Exception as e:  # noqa: BLE001 - this thread must outlive any bug in what it calls
                self.failures += 1
                self.last_failure = f"{type(e).__name__}: {e}"
                log.exception("the scheduler's round failed")
                self._stop.wait(0.01)

    def stop(self) -> None:
        """Stop the thread (pending notes stay pending; call `cancel()` to release)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def close(self) -> int:
        """Stop the thread and release every sounding note. Returns offs sent."""
        self.stop()
        return self.cancel()
