"""The MIDI output sink: a port that never leaves a note hanging, silences a synth on every
channel as it closes, waits for a JACK server to take the last note-offs, and waits for a
device unplugged mid-set to come back (`MidiOutSink.reconnect`). Opened by
improv/live/ports.py (`open_output`), as the player's input (improv/live/midiinput.py) is.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import mido

from improv.live.midiapi import CLIENT_NAME, close_client
from improv.live.portnames import port_short_name

# What silences a synth on a channel, in this order: sustain pedal up (under a held pedal All
# Notes Off leaves notes sounding), All Notes Off, All Sound Off; then Reset All Controllers
# and the pitch bend centred (a player's bend or mod wheel passed through stayed where they
# left it: the synth played on detuned). Closing a port, the jam's panic control and `improv
# panic` all send these (`silence_messages`).
SILENCE_CCS = (64, 123, 120, 121)
BEND_CENTRE = (0x00, 0x40)  # pitch bend 8192, LSB first


def silence_messages(ch: int) -> list[list[int]]:
    """The messages that silence and reset a synth on channel `ch` (0-15), in order."""
    return [[0xB0 | ch, cc, 0] for cc in SILENCE_CCS] + [[0xE0 | ch, *BEND_CENTRE]]


def panic_messages() -> list[list[int]]:
    """What `improv panic` sends (and a dead jam's worker, `improv.live.ports.panic`): on
    every channel `silence_messages`, then a note-off for each of the 128 pitches, for synths
    that ignore All Notes Off."""
    out = []
    for ch in range(16):
        out += silence_messages(ch) + [[0x80 | ch, p, 0] for p in range(128)]
    return out


PANIC_PACE = 8  # panic messages a millisecond: a JACK port carries only so many a period
BURST = 32  # messages sent back to back before a pause of a JACK period (its MIDI buffer's room)
CLOSE_DRAIN_S = 0.05  # time for the last messages to leave before an output closes
DRAIN_WAIT_S = 8.0  # how long a JACK server that has stopped cycling (a synchronous one waiting out a
# dead client, about 5 s) is waited for, so that the last note-offs leave before the port closes
DRAIN_SAY_S = 1.0  # a wait longer than this is said


class MidiOutSink:
    """A MIDI output that remembers which notes it started, so none is left hanging.

    `send` may be called from several threads (thru on the conductor, the partner on the
    scheduler); a lock keeps messages whole. A send that fails (port gone) marks the sink
    `failed` instead of raising into the real-time threads. A device port that disappears
    mid-set (a synth or the player's own keyboard unplugged) is waited for: `reconnect`.
    """

    def __init__(self, midi_out: Any, name: str, virtual: bool, watch: Any = None,
                 say: Callable[[str], None] | None = None, api: str = "") -> None:
        self.name = name
        self.api = api  # the backend it is open on ("alsa", "jack", ...; "" not told)
        self.say = say  # where a long wait at `finish` is said (None: not said)
        self.virtual = virtual
        self._own = name if virtual else f"{CLIENT_NAME} out"  # our port's own name (`open_output`)
        self._full = ""  # ... and its full JACK name, once told (`listeners`)
        self.failed = ""
        self.watch = watch  # a JackWatch on JACK (sends to a dead server do not fail): see alive()
        # RtMidi drops what a JACK period's MIDI buffer cannot hold (some 40 short messages at
        # 128 frames): a burst of releases waits a whole period before the next one.
        period = getattr(watch, "period_s", 0.0) or 0.0
        self._burst_pause = max(0.001, 1.25 * period)
        self._out = midi_out
        self._lock = threading.Lock()
        self._sounding: set[tuple[int, int]] = set()
        self._closed = False  # (`finish`ed: nothing more is sent)
        self._frame = getattr(watch, "frame", None)  # the JACK server's frame count now (a JackWatch's), or None
        self._off_frame: int | None = None  # the server's frame when the last note-off was written (JACK)
        self._finished_at = 0.0  # monotonic seconds
        self.gone = False  # a device port unplugged, not yet back (`reconnect`): nothing is sent
        self._tried = ""  # the last failure to open it again, said once

    def send(self, msg: mido.Message, at: float | None = None) -> None:
        """Send one message now (any thread); `at` (when a player's note arrived) is not
        needed: a port has no block to place it in."""
        with self._lock:
            if self._closed or self.gone:
                return
            self._write(msg.bytes())
            if msg.type == "note_on" and msg.velocity > 0:
                self._sounding.add((msg.channel, msg.note))
            elif msg.type in ("note_on", "note_off"):
                self._sounding.discard((msg.channel, msg.note))
                self._mark_off()

    def _mark_off(self) -> None:
        """Note the server's frame as a note-off is written (a shared-memory read), for `finish`."""
        if self._frame is not None:
            self._off_frame = self._frame()

    def _write(self, data: list[int]) -> None:
        try:
            self._out.send_message(data)
        except Exception as e:  # noqa: BLE001
            self.failed = self.failed or f"MIDI output {self.name!r} failed: {e}"

    @property
    def sounding(self) -> set[tuple[int, int]]:
        """(channel 0-15, pitch) of the notes this sink started and has not ended."""
        with self._lock:
            return set(self._sounding)

    def all_notes_off(self) -> None:
        """A note-off for every note this sink started and has not ended (any thread)."""
        with self._lock:
            for i, (ch, pitch) in enumerate(sorted(self._sounding)):
                self._write([0x80 | ch, pitch, 0])
                if i % BURST == BURST - 1:
                    time.sleep(self._burst_pause)  # a JACK port carries only so many messages a period
            if self._sounding:
                self._mark_off()
            self._sounding.clear()

    def alive(self) -> bool:
        """False once the device port we opened has disappeared, a send failed or the MIDI
        server is gone (conductor thread: a flag read and, for a device port, a listing)."""
        if self.failed:
            return False
        lost = self.watch.lost if self.watch is not None else ""
        if lost:
            self.failed = f"MIDI output {self.name!r} is gone: the JACK server stopped ({lost})"
            return False
        if self.virtual or self.gone:
            return True
        try:
            return self.name in self._out.get_ports()
        except Exception:  # noqa: BLE001
            return False

    def reconnect(self) -> str:
        """A device port unplugged mid-set is waited for, not the end of the session
        (conductor thread, each watch round, before `alive`; improv/live/replug.py does the
        same for the player's input). Gone, nothing is sent (the partner plays on unheard,
        the session's time goes on); back (the same name, less the numbers a device plugged
        in again may get anew), the port is opened again and every channel silenced first,
        so that a note the unplug cut off is not left sounding. Returns a line to say ("" for none)."""
        from improv.live.replug import device_name

        if self.virtual or self.failed or self._closed or (self.watch is not None and self.watch.lost):
            return ""
        try:
            names = list(self._out.get_ports())
        except Exception:  # noqa: BLE001 - the backend's trouble: look again next round
            return ""
        if not self.gone:
            if self.name in names:
                return ""
            with self._lock:
                self.gone = True
                self._sounding.clear()  # (their note-offs cannot reach it: the silence when it is back does)
            return (f"MIDI output {self.name!r} is gone (unplugged, or switched off): the session plays on unheard "
                    "there, and improv connects to it again when it is back")
        want = device_name(self.name)
        back = next((i for i, n in enumerate(names) if device_name(n) == want), None)
        if back is None:
            return ""
        with self._lock:
            try:
                self._out.close_port()
                self._out.open_port(back, f"{CLIENT_NAME} out")
            except Exception as e:  # noqa: BLE001 - rtmidi raises its own types: try again next round
                said = f"MIDI output {names[back]!r} is back but could not be opened ({e}); trying again"
                said, self._tried = ("" if said == self._tried else said), said
                return said
        for ch in range(16):  # (a channel at a time, as `finish` sends them: a JACK period holds only so many)
            with self._lock:
                for data in silence_messages(ch):
                    self._write(data)
            time.sleep(0.0005)
        with self._lock:
            self.name, self.gone, self._tried, self._full = names[back], False, "", ""
        return f"MIDI output {self.name!r} is back: every channel silenced, play on"

    def listeners(self) -> frozenset[str] | None:
        """The ports our output is connected to (full JACK names: the synths that hear it),
        or None where that cannot be told (not on JACK, the server gone, our port not found
        once and only once). Conductor thread: a listing and a server round trip, no more
        often than the session's watch round, off the notes' way. A synth connected in a
        patchbay after the session started heard none of the band's program changes: the
        session sends them again when a port shows up here (`SessionOutput.watch_listeners`)."""
        watch = self.watch
        if watch is None or self._closed or watch.lost:
            return None
        if not self._full:
            ours = [p for p in watch.midi_ports(False) if port_short_name(p) == self._own]
            if not self.virtual:  # ("improv out" of another jam too: ours is the one wired to the port we opened)
                ours = [p for p in ours if self.name in (watch.connections(p) or ())]
            if len(ours) != 1:
                return None
            self._full = ours[0]
        conns = watch.connections(self._full)
        return None if conns is None else frozenset(conns)

    def finish(self) -> None:
        """The port's last messages: note-offs for what sounds, then on every channel pedal
        up, all-notes-off, all-sound-off, controllers reset and the bend centred
        (`silence_messages`); nothing is sent after them. The port stays open for them to
        leave: `close` lets it go (a round trip to a JACK server, which a busy machine can
        make take seconds: the jam does it last, within a deadline). Safe to call twice."""
        self.all_notes_off()
        with self._lock:
            if self._closed:
                return
            for ch in range(16):
                for data in silence_messages(ch):
                    self._write(data)
                time.sleep(0.0005)
            self._closed = True
            self._finished_at = time.monotonic()
        self._wait_for_the_server()

    def _wait_for_the_server(self) -> None:
        """Wait until the JACK server has begun a cycle after the last note-off was written
        (rtmidi hands what is queued to the server in our part of a cycle), at most
        `DRAIN_WAIT_S`. A synchronous server stalls for about 5 s when a client dies (a
        player's program killed); a jam stopped in that time closed its port with its
        note-offs still queued, and the notes hung on the synth. The messages after them
        (`silence_messages`) are not waited for: a server stuck after the note-offs left
        is let go at once. Off JACK, with no note-off sent, or the server gone: no wait."""
        frame, start = self._frame, self._off_frame
        if frame is None or start is None:
            return
        need = max(1, int(getattr(self.watch, "period_frames", 0) or 0))
        deadline = time.monotonic() + DRAIN_WAIT_S
        said = False
        while True:
            now = frame()
            if now is None or (now - start) % (1 << 32) >= need:
                return
            t = time.monotonic()
            if t >= deadline:
                return
            if not said and t - self._finished_at >= DRAIN_SAY_S and self.say is not None:
                said = True
                self.say(f"MIDI output {self.name!r}: waiting for the JACK server to take the last note-offs "
                         f"(it has stopped cycling: a client of it died?), at most {DRAIN_WAIT_S:g} s")
            time.sleep(0.005)

    def close(self) -> None:
        """`finish`, then close the port. Safe to call twice."""
        self.finish()
        with self._lock:
            out, self._out = self._out, None
        if out is None:
            return
        # rtmidi's JACK output hands messages to the server in its next period: closing the
        # port at once would throw the last ones away. (rtmidi's own close waits, up to 1 s,
        # for one more period of the output's, which takes all that is queued: this wait is
        # only what is left of `CLOSE_DRAIN_S` since `finish`, for a backend that does not.)
        time.sleep(max(0.0, self._finished_at + CLOSE_DRAIN_S - time.monotonic()))
        close_client(out)
