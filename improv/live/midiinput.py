"""The player's MIDI input: an rtmidi input whose messages are stamped and enqueued, and
that cannot go deaf.

On ALSA, CoreMIDI and WinMM rtmidi calls back on its own thread, which only stamps the
message with the session clock and puts it in the bounded `InputQueue`
(improv/live/inputqueue.py). On JACK no Python runs on JACK's process thread: a
`midiapi.JackReader` takes the messages rtmidi queued there, each stamped with when it
arrived. Besides, the input drops sysex, takes the messages out of a sysex
that was cut short (improv/live/wire.py), and keeps the keys and pedals held so that a
player who vanishes can be released: so too a keyboard whose active sensing stops (its
DIN cable pulled, the USB-MIDI interface still plugged in: the port stays), as a synth
does (`sensing_stopped`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from improv.core.listen.segment import ALL_OFF_CCS, PEDAL_CC, RESET_CC, pedal_up
from improv.core.theory.notes import counted
from improv.live.midiapi import JackReader, close_client, is_jack
from improv.live.wire import SYSEX_END, SYSEX_START, split_sysex

if TYPE_CHECKING:
    from improv.live.inputqueue import InputQueue

ACTIVE_SENSING = 0xFE
# A source that sends active sensing sends it at least every 300 ms while it has nothing else to
# send; MIDI 1.0 has a receiver that hears nothing for longer take the cable for gone: notes off.
SENSING_S = 0.3


def released_said(keys: int, pedals: int) -> str:
    """What `MidiInput.release_held` let go, as a line says it: "2 keys and the sustain pedal"
    ("" for nothing)."""
    return " and ".join(x for x in (counted(keys, "key") if keys else "", "the sustain pedal" if pedals else "") if x)


class MidiInput:
    """An open rtmidi input feeding an `InputQueue`.

    The callback (rtmidi's thread; on JACK a reader thread, see the module's doc) stamps
    and enqueues; it also drops complete sysex (counted in `sysex`), takes the messages
    out of a sysex that was cut short (counted in `sysex_cut`, see improv/live/wire.py)
    and keeps the set of keys and pedals held, so that a player who vanishes can be
    released (`release_held`). On JACK an `InputGuard` bounds an open sysex in time,
    watches who is connected, and notices a dead server (improv/live/inputguard.py).

    Args:
        inq: where messages go.
        midi_in: an rtmidi.MidiIn already opened on a port.
        name: the port's name (for messages and `alive()`).
        virtual: whether we created the port (only the server's death can take it away).
        guard: the JACK guard (`open_input` starts one; None: none).
        notice: one line for the user about this input (e.g. that its name was taken and
            it got another), or "".
    """

    def __init__(self, inq: InputQueue, midi_in: Any, name: str, virtual: bool, *,
                 guard: Any = None, notice: str = "") -> None:
        self.inq = inq
        self.name = name
        self.virtual = virtual
        self.notice = notice
        self.failed = ""
        self.sysex = 0  # complete sysex messages (improv plays none)
        self.sysex_cut = 0  # sysex messages that never ended (cut off, what they swallowed played)
        self.released = 0  # keys and pedals released because their player left
        self.guard = guard
        self._held: set[tuple[int, int]] = set()  # (channel 0-15, pitch) keys down
        self._pedal: set[int] = set()  # channels with the sustain pedal down
        self._sensing = False  # the source sends active sensing (until it stops: `sensing_stopped`)
        self._heard = 0.0  # time.monotonic() of its last message
        self._in = midi_in
        # Sysex comes through so that one cut short can be found and ended (see wire.py), and
        # active sensing so that a cable pulled out can be told (`sensing_stopped`).
        self._in.ignore_types(sysex=False, timing=True, active_sense=False)
        self._reader: JackReader | None = None
        if is_jack(midi_in):
            self._reader = JackReader(midi_in, self._receive, name)
        else:
            self._in.set_callback(self._callback)

    def _callback(self, event: tuple[list[int], float], _data: Any = None) -> None:
        """rtmidi's thread (ALSA, CoreMIDI, WinMM): the message arrived now."""
        self._receive(event[0], 0.0)

    def _receive(self, data: list[int], age: float) -> None:
        """Stamp and enqueue; drop sysex, unpick a cut one (rtmidi's thread or the JACK
        reader). `age`: seconds since it arrived."""
        if data and data[0] >= 0xF0:
            if data[0] == SYSEX_START:
                cut, rest = split_sysex(data)
                if not cut:
                    self.sysex += 1
                    return
                self.sysex_cut += 1
                for msg in rest:
                    self._take(msg, age)
                return
            if data[0] == SYSEX_END:
                return  # the guard's own end of sysex, or a stray one
        self._take(data, age)

    def _take(self, data: list[int], age: float = 0.0) -> None:
        """Note what it holds down, then enqueue (rtmidi's thread); active sensing is only
        noted."""
        self._heard = time.monotonic() - age
        if data == [ACTIVE_SENSING]:
            self._sensing = True
            return
        if len(data) == 3:
            kind, ch = data[0] & 0xF0, data[0] & 0x0F
            if kind == 0x90 and data[2] > 0:
                self._held.add((ch, data[1]))
            elif kind in (0x80, 0x90):
                self._held.discard((ch, data[1]))
            elif kind == 0xB0 and data[1] in (PEDAL_CC, RESET_CC):
                if not pedal_up(data[1], data[2]):
                    self._pedal.add(ch)
                else:
                    self._pedal.discard(ch)
            elif kind == 0xB0 and data[1] in ALL_OFF_CCS:
                self._held.difference_update([k for k in tuple(self._held) if k[0] == ch])
        self.inq.push(data, age, source=self.name)

    def release_held(self) -> int:
        """Lift every key and pedal this input holds, through the queue, as if the player
        had (any thread; the guard calls it when a player leaves). Returns how many."""
        keys, pedals = tuple(self._held), tuple(self._pedal)  # atomic copies under the GIL
        for ch, pitch in keys:
            self._held.discard((ch, pitch))
            self.inq.push([0x80 | ch, pitch, 0], source=self.name)
        for ch in pedals:
            self._pedal.discard(ch)
            self.inq.push([0xB0 | ch, 64, 0], source=self.name)
        self.released += len(keys) + len(pedals)
        self.released_last = (len(keys), len(pedals))  # (for the guard's message: keys, pedals)
        return len(keys) + len(pedals)

    def sensing_stopped(self, now: float | None = None) -> str:
        """A source that sent active sensing and has sent nothing for `SENSING_S`: its cable
        is out (conductor thread, each watch round; `now`: time.monotonic()). The keys and
        pedal it held are released, as if the player had lifted them, once; returns a line
        to say when there were any ("" otherwise)."""
        if not self._sensing or (now if now is not None else time.monotonic()) - self._heard <= SENSING_S:
            return ""
        self._sensing = False  # (until it sends again)
        held = self.release_held()
        if not held:
            return ""
        return (f"MIDI input {self.name!r} stopped its active sensing (a cable out?): "
                f"{released_said(*self.released_last)} it held released")

    def alive(self) -> bool:
        """False once the port we opened has disappeared, or the MIDI server is gone
        (conductor thread: a flag read and, for a device port, a port listing)."""
        if self._in is None:
            return False
        lost = self.guard.lost if self.guard is not None else ""
        if lost:
            self.failed = self.failed or f"MIDI input {self.name!r} is gone: the JACK server stopped ({lost})"
            return False
        if self.virtual:
            return True
        try:
            return self.name in self._in.get_ports()
        except Exception:  # noqa: BLE001 - a backend that errors has lost the port too
            return False

    def close(self) -> None:
        """Stop listening and close the port (idempotent)."""
        if self.guard is not None:
            self.guard.stop()
        if self._in is None:
            return
        if self._reader is not None:
            self._reader.stop()
        midi_in, self._in = self._in, None
        close_client(midi_in, cancel_callback=self._reader is None)
