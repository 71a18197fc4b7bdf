"""Time from a MIDI clock, MIDI clock for others, and tap tempo (`--clock internal|external`).

- `FixedTimeline`: improv keeps time (a tempo, a beat 0, swing).
- `ExternalClock` + `FollowedTimeline`: follow MIDI clock from an input port. The port
  callback (on JACK a `JackReader`) only timestamps and enqueues; `ExternalClock.poll()` (conductor thread) feeds
  `improv.core.listen.midiclock.ClockFollower`, whose tempo follows changes and whose phase is
  locked to the tick count. Start/Stop/Continue/Song Position come back as events.
- `ClockSender`: with the internal clock, send MIDI clock (24 ppqn, on absolute
  deadlines) and Start/Stop so a DAW or drum machine follows improv.
- `TapTempo`: the tempo from the last few taps of a key or controller.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Any, Callable

import mido

from improv.core.listen.midiclock import CLOCK, START, STOP, ClockEvent, ClockFollower, tick_at, tick_time
from improv.core.theory.notes import beats_to_seconds, seconds_to_beats, swing_beats, unswing_beats
from improv.errors import PortError
from improv import realtime
from improv.live.clock import Clock
from improv.live.midiapi import IDLE_POLL_S, JackReader, close_client, is_jack

ERRORS_KEPT = 24 * 120 * 60  # clock ticks timed and kept: an hour at 120 bpm


class FixedTimeline:
    """improv's own time: beat 0 at `t0` seconds, `tempo` bpm, swing ratio (thread-safe reads).

    `set_tempo` changes the tempo from now on, keeping the current beat where it is.
    """

    def __init__(self, t0: float, tempo: float, swing: float = 1.0) -> None:
        self.t0, self.tempo, self.swing = t0, tempo, swing
        self._lock = threading.Lock()

    def time_of(self, beat: float) -> float:
        with self._lock:
            return self.t0 + beats_to_seconds(swing_beats(beat, self.swing), self.tempo)

    def beat_at(self, t: float) -> float:
        with self._lock:
            return unswing_beats(seconds_to_beats(t - self.t0, self.tempo), self.swing)

    def set_tempo(self, tempo: float, now: float) -> None:
        with self._lock:
            straight = seconds_to_beats(now - self.t0, self.tempo)
            self.t0 = now - beats_to_seconds(straight, tempo)
            self.tempo = tempo


class FollowedTimeline:
    """Timeline beats on an external MIDI clock: timeline beat = song beat + `offset`
    (negative offset = count-in bars before the form's beat 0). Swing is applied inside
    each beat, the beat grid itself is the clock's."""

    def __init__(self, follower: ClockFollower, offset: float = 0.0, swing: float = 1.0) -> None:
        self.follower = follower
        self.offset = offset
        self.swing = swing
        self.lock = threading.Lock()

    def time_of(self, beat: float) -> float:
        with self.lock:
            t = self.follower.time_of_beat(swing_beats(beat, self.swing) - self.offset)
        return t if t is not None else float("inf")

    def beat_at(self, t: float) -> float:
        with self.lock:
            b = self.follower.beat_at(t)
        return unswing_beats(b + self.offset, self.swing) if b is not None else float("-inf")

    @property
    def tempo(self) -> float | None:
        with self.lock:
            return self.follower.tempo


class ExternalClock:
    """MIDI clock from an input port.

    Args:
        clock: the session clock (arrival timestamps).
        midi_in: an opened `rtmidi.MidiIn` (timing messages not ignored), or None for tests
            that call `receive` directly.
        name: the port's name, for messages.
        source: the `--clock-in` given (an index or a name substring) when it opened another
            program's port ("" for improv's own virtual input): `watch` looks for it again
            when that program quits and comes back.
    """

    def __init__(self, clock: Clock, midi_in: Any = None, name: str = "", guess: float | None = None,
                 source: str = "") -> None:
        self.clock = clock
        self.name = name
        self.source = source
        self.gone = False  # the source port has disappeared (see `watch`)
        self._failed = ""  # the last reconnection's failure, said once
        self.follower = ClockFollower(guess=guess)
        self.timeline = FollowedTimeline(self.follower)
        self._queue: queue.Queue[tuple[float, list[int]]] = queue.Queue(maxsize=8192)
        self._in = midi_in
        self._reader: JackReader | None = None
        if midi_in is not None:
            # active sensing is let through (and dropped in `receive`): a message rtmidi
            # skips takes its gap with it, and the ticks are placed by those gaps on JACK
            midi_in.ignore_types(sysex=True, timing=False, active_sense=False)
            self._listen()

    def _listen(self) -> None:
        midi_in = self._in
        if is_jack(midi_in):  # no Python on JACK's thread: a missed period loses ticks
            # ticks need their times (placed by JACK's clock), not handling within 0.1 ms:
            # the conductor takes them in its own time, and a clock runs all set long
            self._reader = JackReader(midi_in, self.receive, self.name, poll_s=IDLE_POLL_S)
        else:
            midi_in.set_callback(lambda event, _data=None: self.receive(event[0]))

    def watch(self) -> str:
        """Look for the clock's source port (conductor thread, every few tenths of a second).
        A DAW that quits takes its port with it, and the one it opens when it comes back
        is a new port nothing connects: say so once, and connect to it again when a port
        `source` names is there. Returns what to say ("" for nothing)."""
        if self._in is None or not self.source:
            return ""
        from improv.live.ports import find_port

        try:
            ports = self._in.get_ports()
        except Exception:  # noqa: BLE001 - the MIDI server's own loss is the player's input's to say
            return ""
        if not self.gone:
            if self.name in ports:
                return ""
            self.gone = True
            return (f"MIDI clock input {self.name!r} is gone: the band waits; improv connects again when a port "
                    f"{self.source!r} names is back")
        try:
            idx = find_port(ports, self.source, "input")
        except PortError:
            return ""
        try:
            if self._reader is not None:
                self._reader.stop()
                self._reader = None
            else:
                self._in.cancel_callback()
            self._in.close_port()
            self._in.open_port(idx, "clock in")
            self.name = ports[idx]
            self._listen()
        except Exception as e:  # noqa: BLE001 - rtmidi raises its own types; try again on the next look
            said = f"MIDI clock input {ports[idx]!r} is back but could not be opened ({e}); trying again"
            said, self._failed = ("" if said == self._failed else said), said
            return said
        self.gone, self._failed = False, ""
        return f"MIDI clock input {self.name!r} is back: press play"

    def receive(self, data: list[int], age: float = 0.0) -> None:
        """Port callback (rtmidi's thread, or the JACK reader): timestamp and enqueue,
        nothing else. `age`: seconds since it arrived."""
        if data and data[0] in (CLOCK, START, STOP, 0xFB, 0xF2):
            try:
                self._queue.put_nowait((self.clock.now() - age, list(data)))
            except queue.Full:
                pass

    def poll(self) -> list[ClockEvent]:
        """Feed what arrived to the follower (conductor thread); returns start/stop/
        continue/position/beat events (ticks are left out)."""
        out = []
        while True:
            try:
                t, data = self._queue.get_nowait()
            except queue.Empty:
                break
            with self.timeline.lock:
                events = self.follower.feed(t, data)
            out += [e for e in events if e.kind != "tick"]
        with self.timeline.lock:  # ticks that stopped with no Stop are a stop (a DAW quit, a cable out)
            return out + self.follower.silence(self.clock.now())

    @property
    def running(self) -> bool:
        return self.follower.running

    def close(self) -> None:
        if self._reader is not None:
            self._reader.stop()
        if self._in is not None:
            midi_in, self._in = self._in, None
            close_client(midi_in, cancel_callback=self._reader is None)


def open_clock_input(clock: Clock, api: str = "", port: str = "", virtual: str = "improv clock",
                     guess: float | None = None) -> ExternalClock:
    """Open a MIDI input for the external clock (by index or name substring; "" = a
    virtual input named `virtual`); `guess`: the tempo (bpm) a Start plays at until the
    clock's ticks give theirs.

    Raises:
        PortError: the port is not found or cannot be opened.
    """
    from improv.live.ports import LOOPBACK, api_name, find_port, open_client, refuse_virtual, say_fallback

    midi_in, system = open_client("in", api_name(api))  # $IMPROV_MIDI_API too, like the player's input
    say_fallback(system)
    try:
        if not port:
            refuse_virtual(system.api, f"--clock external without --clock-in (a virtual input {virtual!r})",
                           f"{LOOPBACK}, send the DAW's clock to it and give --clock-in PORT")
        if port:
            idx = find_port(midi_in.get_ports(), port, "input")
            midi_in.open_port(idx, "clock in")
            name = midi_in.get_ports()[idx]
        else:
            midi_in.open_virtual_port(virtual)
            name = virtual
    except PortError as e:
        midi_in.delete()
        if not port:  # (a virtual input this backend cannot make: said as it is)
            raise
        # (the player's --in is said the same way: which port this is, and the other way to connect)
        raise PortError(f"MIDI clock input (--clock-in) {str(e).removeprefix('MIDI input ')}; or leave --clock-in "
                        f"out and send the DAW's clock to improv's own input {virtual!r}") from None
    except Exception as e:  # noqa: BLE001 - rtmidi raises its own types
        midi_in.delete()
        raise PortError(f"cannot open the clock input {port or virtual!r}: {e}") from None
    return ExternalClock(clock, midi_in, name, guess, source=port)


class ClockSender:
    """Sends MIDI clock at `tempo` from `start` seconds (Start first, or Song Position and
    Continue for a session that starts after beat 0), on absolute deadlines, on its own
    thread ("improv-clock"); `stop()` sends Stop.

    Args:
        clock: the session clock.
        send: where the messages go (the sinks).
        tempo: beats per minute.
        start: when tick 0 (the first beat) is due, in seconds.
        position: the beat of tick 0 on the session's timeline, a whole sixteenth (a DAW's
            song position counts sixteenths); 0 sends Start; below 0 (trading's count-in)
            the ticks give the tempo from there, and Start goes with bar 1's first tick, so
            that the DAW's bar 1 is the tune's (as `--clock external` has it).
    """

    def __init__(self, clock: Clock, send: Callable[[mido.Message], None], tempo: float, start: float,
                 position: float = 0.0) -> None:
        self.clock, self._send = clock, send
        self._grid = (start, tempo)  # one attribute: the thread never reads a new start with an old tempo
        self.position = position
        self.sent = 0
        self._begun = False  # Start (or Song Position and Continue) sent
        self.errors_ms: deque[float] = deque(maxlen=ERRORS_KEPT)  # the last hour at 120 bpm, not the whole set
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_until(self, t_end: float) -> None:
        """Send the ticks due before `t_end` (the thread's body; tests call it directly)."""
        if not self._begun:  # (once: a session stepped by hand calls this at every step)
            self._begun = True
            if self.position > 0:
                self._send(mido.Message("songpos", pos=min(16383, round(4 * self.position))))
                self._send(mido.Message("continue"))
            elif self.position == 0:
                self._send(mido.Message("start"))
        while not self._stop.is_set():
            grid = start, tempo = self._grid
            due = tick_time(start, tempo, self.sent)
            if due >= t_end:
                return
            self.clock.sleep_until(due)
            if self._grid is not grid:  # a tempo tapped while it waited: the tick's time on the new grid
                continue
            if self.position < 0 and self.sent == round(-24 * self.position):
                self._send(mido.Message("start"))  # bar 1: a DAW plays from the tick after a Start
            self._send(mido.Message("clock"))
            self.errors_ms.append((self.clock.now() - due) * 1000.0)
            self.sent += 1

    @property
    def start(self) -> float:
        """When tick 0 is (or would have been) due at the tempo now, seconds."""
        return self._grid[0]

    @property
    def tempo(self) -> float:
        return self._grid[1]

    def set_tempo(self, tempo: float, now: float) -> None:
        """Carry on at `tempo` from `now` (a tapped tempo; any thread): the song position at
        `now` stays where it is, as the session's timeline keeps its beat (`FixedTimeline.
        set_tempo`), so the ticks after it fall on the band's beats. (The next tick kept the
        old tempo's time: every beat after it was off the band's by up to a 24th of the
        change.) A tick due before `now` and not yet sent goes at once."""
        start, old = self._grid
        at = tick_at(start, old, now)  # the ticks (fractional) gone by at `now`
        self._grid = (now - at * 60.0 / (24 * tempo), tempo)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="improv-clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        realtime.enter("MIDI clock")
        self.run_until(float("inf"))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self._send(mido.Message("stop"))


MIN_TAP_S = 0.15  # a tap this soon after the last is a bounce (400 bpm), not a beat
RETAP = 0.25  # a tap this much sooner or later than the taps' beat starts a new tempo


class TapTempo:
    """Tempo from taps: the interval of a straight line fitted through the last taps (least
    squares: a human's early and late taps cancel, where the first-to-last mean of four
    swung 2 % with which tap came last); 2 s without a tap starts over, and so does a tap
    `RETAP` off the taps' beat (a new tempo tapped at once); a tap within `MIN_TAP_S` of the
    last is a bounce and left out.

    Args:
        taps: how many taps to fit (at least 2).
        low, high: the tempo range accepted (bpm).
    """

    def __init__(self, taps: int = 8, low: float = 30.0, high: float = 320.0) -> None:
        self.n, self.low, self.high = max(2, taps), low, high
        self._times: list[float] = []

    def _gap(self) -> float:
        """The seconds between taps of the line through them (least squares; 2 taps or more)."""
        n = len(self._times)
        mean_k, mean_t = (n - 1) / 2.0, sum(self._times) / n
        return sum((k - mean_k) * (x - mean_t) for k, x in enumerate(self._times)) / \
            sum((k - mean_k) ** 2 for k in range(n))

    def tap(self, t: float) -> float | None:
        """A tap at `t` seconds; the new tempo once there are two taps, else None."""
        if self._times and 0 <= t - self._times[-1] < MIN_TAP_S:
            return None
        if self._times and t - self._times[-1] > 2.0:
            self._times = []
        elif len(self._times) >= 2 and abs((t - self._times[-1]) / self._gap() - 1.0) > RETAP:
            self._times = self._times[-1:]  # a new tempo tapped: the taps before it are not its
        self._times = (self._times + [t])[-self.n:]
        if len(self._times) < 2:
            return None
        gap = self._gap()
        if gap <= 0:
            return None
        bpm = 60.0 / gap
        return bpm if self.low <= bpm <= self.high else None
