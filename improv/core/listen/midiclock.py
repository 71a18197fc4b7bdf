"""Following (and sending) MIDI clock, pure: fed timestamps, no clock of its own.

MIDI clock is 24 ticks (0xF8) per quarter note. Start (0xFA) rewinds to the song's
beginning, and the first tick after it is beat 0; Stop (0xFC) halts; Continue (0xFB)
resumes from where Stop left off or from the Song Position Pointer (0xF2, in sixteenths). A
Song Position while running (a DAW's loop, a click elsewhere during play) is a jump: a stop
where the clock was and a continue from the new position, at the same moment; a Start while
running is a stop where it was and a start.

The follower keeps the beat *phase* locked to the tick count (beat = ticks / 24) and
the *tempo* from a least-squares line through the last `window` tick times, which
averages out jitter. A tempo change shows as ticks off that line in the same direction;
the fit then restarts from the change so it follows within a quarter of a beat. Ticks off
the line are kept out of the fit until enough follow them to say whether they began a
change or were jitter, and ticks held up on the way and delivered together (a busy MIDI
path, a JACK period run late), closer than `COLLAPSED` of a tick, are catching up, not a
new tempo. Ticks that arrive while stopped still feed the tempo (DAWs keep sending them),
so the tempo is known before Start.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

TICKS_PER_BEAT = 24
COLLAPSED = 0.4  # a tick this close to the last one (share of a tick) was held up and delivered in a burst
CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
HALTED_TICKS = 12  # no tick for half a beat before a Start/Continue: the clock itself had stopped
SILENT_TICKS = 24  # running, no tick for a beat: the clock stopped with no Stop (a DAW quit, a cable out)
RESUME_S = 5.0  # ticks back within this (seconds): a glitch, they go on; later, a Start or Continue must say so
MAX_BPM = 1000.0  # ticks closer than a tick at this tempo were held up and delivered together, not a tempo
MIN_TICK_S = 60.0 / (MAX_BPM * TICKS_PER_BEAT)


@dataclass(frozen=True)
class ClockEvent:
    """Something the clock did.

    Attributes:
        kind: "start", "stop", "continue", "position", "tick" or "beat" (a tick on a beat).
        time: when (seconds, the caller's clock).
        beat: the song position in beats at that moment (next tick's position for
            start/continue/position).
    """

    kind: str
    time: float
    beat: float


class ClockFollower:
    """Tempo and beat phase from incoming MIDI clock.

    Args:
        window: ticks in the least-squares tempo fit (24-48: one to two beats).
        change_ms: a tick further than this (ms) from the fitted line counts as off-line.
        change_ticks: this many off-line ticks in a row, same direction, mean a new tempo:
            5 follows a change within a quarter of
            a beat and stands a sender's jitter of 10-20 ms (2 restarted the fit from its
            hiccups, and a fit from 2 ticks put the next beat up to 0.5 s off).
        infer_lost: read a tick that lands two to four ticks along the fitted line as the
            one after ticks lost in transport (off by default: a tick held up and delivered
            late, as a busy MIDI path does far more often than it loses one, reads the same,
            and counting it as lost moves the beat for good; counting keeps the phase).
    """

    def __init__(self, window: int = 36, change_ms: float = 4.0, change_ticks: int = 5,
                 infer_lost: bool = False, guess: float | None = None) -> None:
        self.window = window
        # a Start with no tempo known yet (a sender that sends no clock while stopped): beat 0
        # is at the Start, at this tempo (bpm), until two ticks give the sender's own
        self.guess = guess
        self._provisional = False
        self._rephase = False  # the next tick sets the phase (after a halted clock's Start or Continue)
        self.infer_lost = infer_lost
        self.change_s = change_ms / 1000.0
        self.change_ticks = change_ticks
        self._ticks: deque[tuple[int, float]] = deque(maxlen=window)  # (global tick no, time)
        self._k = -1  # global count of ticks received
        self._next = 0  # song position (ticks) of the next tick while running
        self._pending: list[tuple[int, float]] = []  # off-line ticks held out of the fit, one direction
        self._pending_sign = 0
        self._last_t: float | None = None  # arrival of the last tick
        self.running = False
        self._silent = False  # stopped because the ticks stopped (`silence`): they resume it
        self.lost = 0  # ticks inferred lost in transport
        self._fit: tuple[float, float] | None = None  # t = a + b * k

    # -- feeding -----------------------------------------------------------------------

    def feed(self, t: float, message: bytes | list[int] | tuple[int, ...]) -> list[ClockEvent]:
        """Take one MIDI message received at `t` (seconds); return what happened."""
        if not message:
            return []
        status = message[0]
        if status == CLOCK:
            if self._silent:  # the ticks are back: after a glitch go on from where they stopped; after
                self._silent = False  # longer (a DAW relaunched, idling), wait for its Start or Continue
                if self._last_t is not None and t - self._last_t <= RESUME_S:
                    self._resume(t)
                    self.running = True
                    return [ClockEvent("continue", t, self._next / TICKS_PER_BEAT)] + self._tick(t)
            return self._tick(t)
        self._silent = False
        if status == START:
            was = self._next if self.running else 0
            self._resume(t)
            self._next, self.running = 0, True
            self._guess_line(t)
            # a Start while running (a DAW rewinding so, Play pressed again): a stop where it was first
            stop = [ClockEvent("stop", t, was / TICKS_PER_BEAT)] if was else []
            return stop + [ClockEvent("start", t, 0.0)]
        if status == CONTINUE:
            self._resume(t)
            self.running = True
            self._guess_line(t)
            return [ClockEvent("continue", t, self._next / TICKS_PER_BEAT)]
        if status == STOP:
            self.running = False
            return [ClockEvent("stop", t, self._next / TICKS_PER_BEAT)]
        if status == SONG_POSITION and len(message) >= 3:
            sixteenths = (message[1] & 0x7F) | ((message[2] & 0x7F) << 7)
            was, self._next = self._next, sixteenths * (TICKS_PER_BEAT // 4)
            if self.running and abs(self._next - was) < TICKS_PER_BEAT // 4:
                self._next = was  # within a sixteenth (what it counts in) while running: where it is, no jump
            elif self.running:
                # a jump while running (a DAW's loop going round, a click back to bar 1 during
                # play): a stop where it was and a continue from there, at once
                return [ClockEvent("stop", t, was / TICKS_PER_BEAT),
                        ClockEvent("continue", t, self._next / TICKS_PER_BEAT)]
            return [ClockEvent("position", t, self._next / TICKS_PER_BEAT)]
        return []

    def silence(self, now: float) -> list[ClockEvent]:
        """While running, no tick for `SILENT_TICKS`: the clock stopped without a Stop (the DAW
        quit or hung, the cable came out). Returns a stop where the ticks stopped (and the
        song position reached), once; the next tick continues from there."""
        if not self.running or self._fit is None or self._last_t is None:
            return []
        tick_s = self._fit[1]
        if now - self._last_t < SILENT_TICKS * tick_s:
            return []
        self.running, self._silent = False, True
        return [ClockEvent("stop", self._last_t + tick_s, self._next / TICKS_PER_BEAT)]

    @property
    def ticked(self) -> bool:
        """Any tick heard yet."""
        return self._k >= 0

    @property
    def ticks_stopped(self) -> bool:
        """Stopped because the ticks stopped with no Stop (`silence`), until they come back
        or a Start or Continue comes."""
        return self._silent

    def _tick(self, t: float) -> list[ClockEvent]:
        lost = self._lost_before(t)
        self._k += 1 + lost
        if self._rephase and self._fit is not None:  # the first tick after a halt: its phase, the tempo kept
            self._rephase = False
            a, b = self._fit
            self._shift(t - (a + b * self._k))
        if self.running:
            self._next += lost
        if self._fit is not None and len(self._ticks) >= 3:
            self._weigh(t)
        else:
            if self._last_t is not None and t - self._last_t < MIN_TICK_S:
                # the first ticks held up and delivered together (a JACK period run late at the
                # Start): only the last of them is near its time; a fit through them read 1e7 bpm
                self._ticks.clear()
            self._ticks.append((self._k, t))
        self._last_t = t
        line = self._line()
        if line is None and self._provisional and self._fit is not None:
            line = (t - self._fit[1] * self._k, self._fit[1])  # the guessed tempo, on this tick's phase
        self._provisional = self._provisional and len(self._ticks) < 2
        self._fit = line
        if not self.running:
            return []
        pos = self._next
        self._next += 1
        beat = pos / TICKS_PER_BEAT
        if pos % TICKS_PER_BEAT == 0:
            return [ClockEvent("beat", t, beat)]
        return [ClockEvent("tick", t, beat)]

    def _weigh(self, t: float) -> None:
        """Put tick `self._k` at `t` into the tempo fit, hold it back, or restart the fit.

        A tick off the line is held back; `change_ticks` held back in a row, the same way
        (late, or early), are a new tempo and the fit restarts from them. A tick back on the
        line, or off the other way, and the held-back ones were jitter: they stay out."""
        a, b = self._fit
        r = t - (a + b * self._k)
        if abs(r) <= max(self.change_s, 0.15 * b):
            self._pending.clear()
            self._ticks.append((self._k, t))
            return
        if self._last_t is not None and t - self._last_t < COLLAPSED * b:
            self._pending.clear()  # held up and delivered in a burst: neither tempo nor phase
            return
        sign = 1 if r > 0 else -1
        if self._pending and self._pending_sign != sign:
            self._pending.clear()
        self._pending_sign = sign
        self._pending.append((self._k, t))
        if len(self._pending) >= self.change_ticks:  # a new tempo: fit from the change on
            self._ticks.clear()
            self._ticks.extend(self._pending)
            self._pending.clear()

    def _resume(self, t: float) -> None:
        """Start or Continue at `t` after the clock itself stopped (no ticks for a while, as
        some DAWs do while stopped): the fitted line is moved on to `t`, so that the song
        position reads where it stopped, not where the old line would have run on to. The
        next tick (the downbeat, after a Start) is due at `t`, as `_guess_line` has it when no
        tempo is known (a DAW sends its first tick with its Start: put a tick later, the
        band's downbeat after a Stop and a Play came 21-28 ms after the DAW's), and the
        first tick that comes sets the phase (`_rephase`), the tempo kept."""
        if self._fit is None:
            return
        a, b = self._fit
        delta = t - (a + b * (self._k + 1))  # since the next tick was due
        if delta <= (HALTED_TICKS - 1) * b:
            return  # ticks kept coming (or a moment's gap, which the fit's restart absorbs)
        self._rephase = True
        self._shift(delta)

    def _shift(self, delta: float) -> None:
        """Move the fitted line and the ticks behind it by `delta` seconds (the tempo kept)."""
        a, b = self._fit  # type: ignore[misc]
        self._ticks = deque(((k, tk + delta) for k, tk in self._ticks), maxlen=self.window)
        self._pending = [(k, tk + delta) for k, tk in self._pending]
        if self._last_t is not None:
            self._last_t += delta
        self._fit = (a + delta, b)

    def _guess_line(self, t: float) -> None:
        """No tempo known at a Start or Continue (`t`): the next tick is due at `t` on a line
        at the guessed tempo, so the downbeat can be played at once instead of after two
        ticks (15 ms later at 160 bpm: dropped as late). The ticks replace it."""
        if self._fit is not None or self.guess is None or not self.guess > 0:
            return
        b = 60.0 / (self.guess * TICKS_PER_BEAT)
        self._fit = (t - b * (self._k + 1), b)
        self._provisional = True

    def _lost_before(self, t: float) -> int:
        """Ticks lost in transport (an overloaded MIDI path drops some): a tick that lands
        on the fitted line two to four ticks after the last one stands for the missing
        ones, so the phase stays right. (A sudden halving of the tempo would read the
        same; real tempo changes are gentler.)"""
        if not self.infer_lost or self._fit is None or len(self._ticks) < 6:
            return 0
        a, b = self._fit
        m = round((t - (a + b * self._k)) / b)
        if 2 <= m <= 4 and abs(t - (a + b * (self._k + m))) < 0.15 * b:
            self.lost += m - 1
            return m - 1
        return 0

    def _line(self) -> tuple[float, float] | None:
        n = len(self._ticks)
        if n < 2:
            return None
        mk = sum(k for k, _ in self._ticks) / n
        mt = sum(t for _, t in self._ticks) / n
        sxx = sum((k - mk) ** 2 for k, _ in self._ticks)
        sxy = sum((k - mk) * (t - mt) for k, t in self._ticks)
        b = sxy / sxx
        if b < MIN_TICK_S:  # (no sender ticks this fast: ticks delivered together)
            return None
        return mt - b * mk, b

    # -- reading -----------------------------------------------------------------------

    @property
    def tempo(self) -> float | None:
        """The tempo (bpm) from the fit, or None before two ticks."""
        if self._fit is None:
            return None
        return 60.0 / (self._fit[1] * TICKS_PER_BEAT)

    @property
    def position(self) -> float:
        """The song position (beats) of the next tick."""
        return self._next / TICKS_PER_BEAT

    def time_of_beat(self, beat: float) -> float | None:
        """When song position `beat` falls (seconds), past or future, on the fitted line;
        None before the tempo is known. Meaningful while running (or just started)."""
        if self._fit is None:
            return None
        a, b = self._fit
        last_song_tick = self._next - 1  # the song position of the last tick received
        return a + b * (self._k + (beat * TICKS_PER_BEAT - last_song_tick))

    def beat_at(self, t: float) -> float | None:
        """The song position (beats) at time `t`: the inverse of `time_of_beat`."""
        if self._fit is None:
            return None
        a, b = self._fit
        return ((t - a) / b - self._k + self._next - 1) / TICKS_PER_BEAT


def tick_time(start: float, tempo: float, tick: int) -> float:
    """When tick number `tick` is due (seconds) for a clock started at `start` at `tempo` bpm.
    Inverse: `tick_at`."""
    return start + tick * 60.0 / (tempo * TICKS_PER_BEAT)


def tick_at(start: float, tempo: float, t: float) -> float:
    """The (fractional) tick number at time `t`: the inverse of `tick_time`."""
    return (t - start) * tempo * TICKS_PER_BEAT / 60.0


def tick_times(start: float, tempo: float, count: int, first: int = 0) -> list[float]:
    """Absolute deadlines (seconds) for `count` ticks from tick `first`: each computed from
    `start`, never accumulated, so there is no drift."""
    return [tick_time(start, tempo, k) for k in range(first, first + count)]


def song_position(beat: float) -> bytes:
    """A Song Position Pointer message for a position in beats (rounded down to sixteenths)."""
    sixteenths = max(0, min(0x3FFF, int(beat * 4 + 1e-9)))
    return bytes((SONG_POSITION, sixteenths & 0x7F, sixteenths >> 7))
