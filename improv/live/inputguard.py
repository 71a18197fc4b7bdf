"""The input's guard on JACK: an unterminated sysex cut off within a bound, a player who
leaves our virtual input while holding keys released, a dead server noticed.

It runs on its own small thread ("improv-input-guard"), waking every `SYSEX_BOUND_S`:

1. It sends a lone 0xF7 to our own input port through a JACK output of its own (the
   "improv sysex guard" port, connected only to our input). RtMidi's JACK input appends
   every message after an unterminated sysex to that sysex until a message ends in 0xF7;
   ours ends it, the input callback receives the stitched message, counts the cut and
   takes the swallowed messages out of it (improv/live/wire.py). With no sysex open, the
   lone 0xF7 arrives as such and the callback drops it.
2. It reads who is connected to our input (improv/live/jackwatch.py). When a source goes
   away (a player's program quit, a cable's a2j port vanished), every key and pedal that
   input holds is released through the input queue, as if the player had lifted them.
3. The shared watch's shutdown flag makes `MidiInput.alive()` False when the server dies.

On ALSA nothing of this is needed for sysex (the next message ends it there, and the
callback takes it out of the glued message the same way); connections are not watched.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from improv.live.jackwatch import JackWatch, shared_watch
from improv.live.midiapi import close_client
from improv.live.midiinput import released_said
from improv.live.portnames import port_short_name
from improv.live.wire import SYSEX_BOUND_S, SYSEX_END

log = logging.getLogger("improv.ports")

GUARD_PORT = "improv sysex guard"


class Guarded(Protocol):
    """What the guard needs of a `MidiInput`."""

    name: str
    sysex_cut: int

    def release_held(self) -> int: ...


class InputGuard:
    """Periodic care for one JACK MIDI input (see the module docstring).

    Args:
        target: the input (its held keys, its sysex count).
        port: our input's full JACK name (`client:port`), or "" if it could not be told.
        kicker: an rtmidi MidiOut connected to `port`, or None (no sysex bound).
        watch: the JACK watch, or None (no connection watch).
        period: seconds between rounds (the sysex bound).
    """

    def __init__(self, target: Guarded, port: str, kicker: Any, watch: JackWatch | None,
                 period: float = SYSEX_BOUND_S) -> None:
        self.target = target
        self.port = port
        self.kicker = kicker
        self.watch = watch
        self.period = period
        self.rounds = 0
        self._sources: set[str] | None = None
        self._cuts_told = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="improv-input-guard", daemon=True)

    @property
    def lost(self) -> str:
        """Why the server is gone ("" while it runs, or when it cannot be told)."""
        return self.watch.lost if self.watch is not None else ""

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        """The guard's thread: a round every `period` seconds until `stop`."""
        while not self._stop.wait(self.period):
            if self.lost:
                return  # nothing left to guard; alive() says so
            self.tick()

    def tick(self) -> None:
        """One round: end any open sysex, notice sources that left, report cuts."""
        self.rounds += 1
        if self.kicker is not None:
            try:
                self.kicker.send_message([SYSEX_END])
            except Exception:  # noqa: BLE001 - a guard must never take the input down
                pass
        self._check_sources()
        cuts = self.target.sysex_cut
        if cuts > self._cuts_told:
            log.warning("MIDI input %r: %d sysex message(s) with no end were cut off after at most %.0f ms; "
                        "the messages inside them were played", self.target.name, cuts, self.period * 2000)
            self._cuts_told = cuts

    def _check_sources(self) -> None:
        if self.watch is None or not self.port:
            return
        conns = self.watch.connections(self.port)
        if conns is None:
            return
        sources = {c for c in conns if not c.endswith(f":{GUARD_PORT}")}
        if self._sources is not None and self._sources - sources:
            gone = ", ".join(sorted(self._sources - sources))
            n = self.target.release_held()
            if n:
                held = released_said(*getattr(self.target, "released_last", (n, 0)))
                name = self.target.name
                log.warning("%s left %sholding %s: released", gone,
                            "" if gone == name else f"MIDI input {name!r} ", held)
        self._sources = sources

    def stop(self) -> None:
        """Stop the thread and close the guard's port (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if self.kicker is not None:
            kicker, self.kicker = self.kicker, None
            close_client(kicker)


def guard_jack_input(target: Guarded, midi_in: Any, port_name: str, lister: Any) -> InputGuard | None:
    """An `InputGuard` for an input on JACK (None on other backends): `lister` (a MidiOut
    on the same backend) becomes its sysex guard port, connected to our input port, whose
    own name is `port_name`."""
    import rtmidi

    if midi_in.get_current_api() != rtmidi.API_UNIX_JACK:
        return None
    watch = shared_watch()
    kicker = lister if lister is not None and lister.get_current_api() == rtmidi.API_UNIX_JACK else None
    listed = kicker.get_ports() if kicker is not None else (watch.midi_ports(True) if watch is not None else [])
    ours = [i for i, p in enumerate(listed) if port_short_name(p) == port_name]
    full = listed[ours[0]] if len(ours) == 1 else ""  # two of that name (a race with another jam): not watched
    if kicker is not None:
        try:
            kicker.open_port(ours[0], GUARD_PORT)
        except Exception:  # noqa: BLE001 - IndexError, rtmidi errors: no sysex bound, the rest works
            kicker = None
    guard = InputGuard(target, full, kicker, watch)
    guard.start()
    return guard
