"""The terminal display: one compact status line, refreshed a few times a second on a TTY,
plain log lines otherwise (so logs and CI output stay readable).

    120 bpm  5:3  answering  F7  call 2 bars  timing 0.05/0.31 ms  dropped 0
    93.9 bpm (heard 94, 82% sure)  7:1  listening  Bbmaj7 ...   (following the player)

Runs on the conductor thread; `log` may be called from any thread. Writing never holds
either up: to a real terminal or file the lines go through a bounded queue to a writer
thread, so a terminal that stops reading (a stray Ctrl-S, a stalled SSH session) costs lines
of text, never the music. The `Snapshot` is also
what the full-screen stage view draws (improv/live/view.py, `improv jam --view`): the
fields after `mode` are for it, all optional; the status line shows only the heard tempo
and how sure it is.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import queue
import sys
import threading
import time
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

        For the stage view (each may stay at its default: the view leaves it out):
        tempo_heard: the tempo heard in the player's playing, bpm (0 = not following the
            player: `tempo` is the only tempo).
        tempo_sure: how sure that tempo is now, 0..1, fading with the silence since the
            player's last note (-1 = not estimated).
        tempo_from: who keeps `tempo` when it is not improv's setting ("DAW": an external clock).
        chorus: the chorus of the chart now, from 1 (0 = no chart).
        section: the form section now, e.g. "A2" ("" = none).
        form_bar: the bar within the chorus, from 1 (0 = no chart).
        form_bars: bars in one chorus (0 = no chart).
        chord_next: the next different chord ("" = none, or no chart).
        next_in_beats: beats until `chord_next` starts.
        turn: whose turn it is: "you", "partner" or "count-in" (trading); "" = free play,
            where `state` says who plays.
        turn_beats_left: beats left in this turn (trading; 0 = not shown).
        heard: the last outside note the partner heard, e.g. "bar 15: E over F7 (outside,
            long, beat 1, accented)" ("" = none yet); see `explanation_fields`.
        did: what the partner did with it, e.g. "reharmonise as Gb7 (tritone substitute
            into F7) -> answer opens on E".
        controls: the live controls' values, in order, short names, e.g. (("outside",
            "embrace"), ("daring", "0.50"), ("comp", "on")); see `control_values`.
        errors: recent problems worth a musician's eye, newest last (a port gone, late
            notes, a band part failing); the view shows the last few in red.
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
    tempo_heard: float = 0.0
    tempo_sure: float = -1.0
    tempo_from: str = ""
    chorus: int = 0
    section: str = ""
    form_bar: int = 0
    form_bars: int = 0
    chord_next: str = ""
    next_in_beats: float = 0.0
    turn: str = ""
    turn_beats_left: float = 0.0
    heard: str = ""
    did: str = ""
    controls: tuple[tuple[str, str], ...] = ()
    errors: tuple[str, ...] = ()


def explanation_fields(line: str) -> tuple[str, str]:
    """An embrace explanation line (`improv.core.embrace.explain.explain`) -> (heard, did)
    for a Snapshot: "bar 15: heard E over F7 (...) -> reharmonise as Gb7 (...) -> answer
    opens on E" gives ("bar 15: E over F7 (...)", "reharmonise as Gb7 (...) -> answer opens
    on E"). A line without " -> " is all `heard`."""
    heard, _, did = line.partition(" -> ")
    return heard.replace(": heard ", ": ", 1).strip(), did.strip()


def control_values(cfg: Any, comp: bool | None = None, bass: bool | None = None,
                   trading: bool = False) -> tuple[tuple[str, str], ...]:
    """The live controls' values for a Snapshot, from the session's current config (and
    the band's comp/bass switches when a band plays): outside-note mode, daring,
    temperature, answer length (`trading`: the turn's, which the form sets), comp, bass."""
    e, r, ph = cfg.embrace, cfg.responder, cfg.phrase
    if trading:
        answer = f"{cfg.band.trade_bars or 4}-bar turns"
    else:
        answer = f"{ph.answer_bars} bar{'s' if ph.answer_bars != 1 else ''}" if ph.answer_bars else "as call"
    out = [("outside", e.mode), ("daring", f"{e.daring:.2f}"), ("temp", f"{r.temperature:.2f}"), ("answer", answer)]
    for name, on in (("comp", comp), ("bass", bass)):
        if on is not None:
            out.append((name, "on" if on else "off"))
    return tuple(out)


def render(s: Snapshot) -> str:
    """The status line for a snapshot (no trailing newline)."""
    call = f"call {s.call_bars} bar{'s' if s.call_bars != 1 else ''}" if s.call_bars else "call -"
    timing = f"timing {s.timing_median_ms:.2f}/{s.timing_p99_ms:.2f} ms" if s.timed else "timing -"
    tempo = f"{round(s.tempo, 1):g} bpm"
    if s.tempo_heard > 0 and s.tempo_sure >= 0:  # following the player: the tempo is what it hears
        tempo += f" (heard {s.tempo_heard:.0f}, {100 * s.tempo_sure:.0f}% sure)"
    where = f"{s.bar:>3}:{s.beat}  {s.state:<9}"
    if s.turn_beats_left > 0 and s.state == s.turn == "count-in":  # (bar:beat stands at 1:1 until bar 1)
        where = f"count-in: {beats_text(s.turn_beats_left)} to bar 1"
    elif s.turn_beats_left > 0 and (s.turn, s.state) in (("you", "your turn"), ("partner", "partner")):
        where = f"{s.bar:>3}:{s.beat}  {f'{s.state}, {beats_text(s.turn_beats_left)} left':<24}"
    return (f"{tempo}  {where}  {s.harmony or '-':<14}  {call}  "
            f"{timing}  dropped {s.dropped}" + (f"  {s.mode}" if s.mode else ""))


def beats_text(beats: float) -> str:
    """Beats still to go, as a musician counts them: whole beats, the one under way counted
    ("in 2 beats" at 1.7 to go), never "in 0" (the status line's and the stage view's)."""
    n = max(1, math.ceil(beats - 1e-6))
    return f"{n} beat{'s' if n != 1 else ''}"


QUEUED_WRITES = 256  # writes waiting for a terminal that does not read; more are dropped (counted)
DRAIN_S = 2.0  # `drain` (at exit) waits this long at most for the waiting writes to reach the terminal


def _columns(stream: Any) -> int:
    """The terminal's width in cells (0 = not known: not a terminal)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def _has_fd(stream: Any) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):  # (io.UnsupportedOperation is an OSError)
        return False


class Display:
    """Writes the status line and log lines to `stream` (stderr by default).

    Args:
        stream: where to write.
        tty: refresh one line in place (None = ask the stream).
        every_s: seconds between refreshes on a TTY.
        plain_every_s: seconds between status lines when not a TTY.
        background: write on a writer thread through a bounded queue, so that a stream that
            blocks (a terminal stopped by Ctrl-S) never blocks the caller (None: when the
            stream is a real file or terminal; an in-memory stream is written at once).
    """

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None,
                 every_s: float = 0.2, plain_every_s: float = 5.0, background: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s if self.tty else plain_every_s
        self._last = -1e9
        self._line = ""
        self._lock = threading.Lock()
        self.dropped = 0  # writes dropped while the stream did not take them
        self._finished = False  # after `finish` (the music is over) lines are written at once, in order
        self._ended = False  # after `end_line`: no status line any more, log lines only
        self._queue: queue.Queue[str | threading.Event] | None = None
        if background if background is not None else _has_fd(self.stream):
            self._queue = queue.Queue(maxsize=QUEUED_WRITES)
            threading.Thread(target=self._writer, name="improv-display", daemon=True).start()
            atexit.register(self.drain)  # a session that never started (or ended without `finish`)

    def _write(self, text: str) -> None:
        """Write `text` now, or queue it for the writer thread (lock held; never blocks)."""
        if self._queue is None or self._finished:
            try:
                self.stream.write(text)
                self.stream.flush()
            except OSError:  # the terminal is gone (closed window: EIO): nobody to tell, the music is over
                self.dropped += 1
            return
        try:
            self._queue.put_nowait(text)
        except queue.Full:
            self.dropped += 1

    def _writer(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self.stream.write(item)
                self.stream.flush()
            except Exception:  # noqa: BLE001 - a closed or broken terminal: the music goes on
                pass

    def drain(self, timeout: float = DRAIN_S) -> bool:
        """Wait until what was queued has been written (at most `timeout` s); whether it was."""
        if self._queue is None:
            return True
        done = threading.Event()
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(max(0.0, deadline - time.monotonic()))

    def due(self, now: float) -> bool:
        """Whether `update` would show a snapshot at `now` (seconds)."""
        return now - self._last >= self.every_s

    def update(self, now: float, snapshot: Snapshot, force: bool = False) -> None:
        """Show the snapshot if it is time to (conductor thread). `now` in seconds."""
        if self._ended or (not force and now - self._last < self.every_s):
            return
        self._last = now
        line = render(snapshot)
        with self._lock:
            if self.tty:
                # within the terminal's width (its last cell left free): a line that wrapped would
                # scroll the screen at every refresh, the '\r' going back only to its last row
                width = _columns(self.stream) - 1
                pad = len(self._line)
                if width > 0:
                    line, pad = line[:width], min(pad, width)
                self._write("\r" + line.ljust(pad) + "\r")
                self._line = line
            elif line != self._line:  # a log shows a line once, not again when nothing moved
                self._write(line + "\n")
                self._line = line

    def log(self, text: str) -> None:
        """One log line (any thread); on a TTY it goes above the status line."""
        with self._lock:
            out = "\r" + " " * len(self._line) + "\r" if self.tty and self._line else ""
            out += text + "\n"
            if self.tty and self._line:
                out += self._line + "\r"
            self._write(out)

    def end_line(self) -> None:
        """End the status line (on a TTY), never waiting: what is logged after it goes below
        it, and it is not drawn again (the session is closing; `finish` then waits)."""
        with self._lock:
            if self.tty and self._line:
                self._write("\n")
            self._line = ""
            self._ended = True

    def finish(self) -> None:
        """End the status line (on a TTY) so what follows starts on a fresh line; the music
        is over, so this waits for what is queued to reach the terminal (a terminal still
        stopped by Ctrl-S: until it reads again; the report of where the recording went
        must not be lost), and every line after it is written at once, in order."""
        with self._lock:  # (no other thread queues a line meanwhile)
            if self._finished:
                return
            if self.tty and self._line:
                self._write("\n")
            self._line = ""
            if self._queue is not None:
                done = threading.Event()
                self._queue.put(done)
                done.wait()
            self._finished = True
            if self.dropped:
                self._write(f"({self.dropped} status or log lines not shown: the terminal was not reading)\n")


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
