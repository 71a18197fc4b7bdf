"""MIDI ports through python-rtmidi: finding ports, opening the player's input, the output
sink that never leaves a note hanging, and what `improv ports` lists. The backend they
open on is chosen, and named, in improv/live/midiapi.py.

The input callback runs on rtmidi's own thread: it hands each message to an `InputQueue`
(improv/live/inputqueue.py), which stamps it with the session clock, passes it through
to the outputs when passthrough is on, and queues it for the conductor thread (parsing,
recording and everything else happen there). The input itself is `MidiInput`
(improv/live/midiinput.py: sysex cut short, keys of a player who leaves); on JACK an
`InputGuard` (improv/live/inputguard.py) bounds an open sysex and watches the server,
which `MidiOutSink.alive()` watches too (improv/live/jackwatch.py).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable

import mido

from improv.errors import PortError
from improv.live.midiapi import (  # noqa: F401 - the backend choice, re-exported for its callers
    API_ATTRS, API_LABELS, CLIENT_NAME, ENV_API, LOOPBACK, NO_VIRTUAL, MidiSystem, _open_client, _stderr_line, api_name,
    close_client, open_client, refuse_virtual, say_fallback, try_open, unavailable_reason)
from improv.live.quiet import quiet_stderr
from improv.live.inputguard import GUARD_PORT, guard_jack_input
from improv.live.inputqueue import InputQueue
from improv.live.midiinput import MidiInput
from improv.live.portnames import port_short_name, unique_port_name

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

BURST = 32  # messages sent back to back before a pause of a JACK period (its MIDI buffer's room)
CLOSE_DRAIN_S = 0.05  # time for the last messages to leave before an output closes
DRAIN_WAIT_S = 8.0  # how long a JACK server that has stopped cycling (a synchronous one waiting out a
# dead client, about 5 s) is waited for, so that the last note-offs leave before the port closes
DRAIN_SAY_S = 1.0  # a wait longer than this is said


def find_port(names: list[str], spec: str, kind: str) -> int:
    """The index of the port named by `spec` (an index or a case-insensitive name substring).
    improv's own sysex guard port (improv/live/inputguard.py) is never a choice.

    Raises:
        PortError: one line naming `spec` and listing the ports that exist.
    """
    spec = spec.strip()
    ours = {i for i, n in enumerate(names) if GUARD_PORT in n}
    if spec.isdigit() and int(spec) < len(names) and int(spec) not in ours:
        return int(spec)
    for i, n in enumerate(names):
        if i not in ours and spec.lower() in n.lower():
            return i
    listing = "; ".join(f"{i}: {n}" for i, n in enumerate(names) if i not in ours)
    # the fix, not only the fault: what to give instead, or (none there) what to do first
    fix = (f"{listing} (give one's number or part of its name)" if listing else
           "none (connect the device, or start the program that makes the port, and run again; "
           "`improv ports` lists them)")
    raise PortError(f"MIDI {kind} {spec!r} not found; MIDI {kind}s: {fix}")


def is_hardware(name: str, api: str) -> bool:
    """Whether a port looks like a device, not software (ALSA kernel clients, JACK system ports)."""
    m = re.search(r"(\d+):(\d+)$", name)
    if m and api in ("", "alsa"):  # ALSA: 0 = System, 14 = Midi Through, >= 128 = programs
        client = int(m.group(1))
        return 0 < client < 128 and client != 14
    if api == "jack" or name.startswith(("system:", "a2j:")):
        return name.startswith(("system:", "a2j:", "system_midi:"))
    return CLIENT_NAME not in name.lower() and "through" not in name.lower()


def open_input(inq: InputQueue, api: str = "", port: str = "", virtual: str = "",
               default_virtual: str = "improv in", say: Callable[[str], None] | None = None,
               later: bool = False) -> MidiInput:
    """Open the player's input: `port` (index or name), else the virtual port `virtual`, else
    the first hardware input, else a virtual port named `default_virtual`. A port name that
    another program (another jam) already uses gets a number (" 2"), and the input's
    `notice` says so. A fallback (another backend than the platform's, or a virtual port
    because no hardware input was found) is said in one line on `say` (default: stderr);
    `later`: the line says that a keyboard plugged in later is opened (the jam's, which does:
    improv/live/replug.py).

    Raises:
        PortError: the port was not found (naming it and listing what exists) or cannot open.
    """
    api = api_name(api)
    midi_in, system = open_client("in", api)
    say_fallback(system, say)
    lister: Any = None
    try:
        try:
            lister = _open_client("out", system.api)  # input ports are listed by an output client
            taken = list(lister.get_ports())
        except PortError:
            taken = []
        names = midi_in.get_ports()
        own = unique_port_name(f"{CLIENT_NAME} in", taken)
        mi: MidiInput | None = None
        if port:
            i = find_port(names, port, "input")
            midi_in.open_port(i, own)
            mi = MidiInput(inq, midi_in, names[i], virtual=False)
        elif not virtual:
            for i, n in enumerate(names):
                if is_hardware(n, system.api):
                    midi_in.open_port(i, own)
                    mi = MidiInput(inq, midi_in, n, virtual=False)
                    break
        if mi is None:
            wanted = virtual or default_virtual
            if virtual:
                refuse_virtual(system.api, f"--virtual-in {virtual!r}",
                               f"{LOOPBACK} and give --in PORT (`improv ports` lists the inputs)")
            if system.api in NO_VIRTUAL:
                raise PortError(f"no MIDI input on {system.label}, and it cannot make a virtual one ({wanted!r}) to "
                                f"play into: connect your keyboard, or {LOOPBACK}, and run again (`improv ports` "
                                "lists the inputs; --in PORT picks one)")
            own = unique_port_name(wanted, taken)
            notice = "" if own == wanted else (f"a MIDI port named {wanted!r} exists already (another jam?): "
                                               f"this one is {own!r}")
            midi_in.open_virtual_port(own)
            mi = MidiInput(inq, midi_in, own, virtual=True, notice=notice)
            if not virtual:
                # a software keyboard or a DAW's output is not taken unasked: name them, since `--in` takes one
                others = [n for n in names if GUARD_PORT not in n and CLIENT_NAME not in n.lower()
                          and "through" not in n.lower()][:3]  # (ALSA's Midi Through carries nothing played)
                also = f"; inputs here: {', '.join(repr(n) for n in others)}" if others else ""
                when = "; a keyboard plugged in later is opened as it appears" if later else ""
                (say or _stderr_line)(f"MIDI: no hardware input on {system.label}: play into the virtual input "
                                      f"{own!r} (connect your keyboard to it, or give --in PORT{also}){when}")
        mi.guard = guard_jack_input(mi, midi_in, own, lister)
        if mi.guard is None or mi.guard.kicker is None:
            _delete(lister)
        return mi
    except PortError:
        _delete(lister)
        midi_in.delete()
        raise
    except Exception as e:  # noqa: BLE001 - rtmidi errors become one line
        _delete(lister)
        midi_in.delete()
        raise PortError(f"cannot open MIDI input {port or virtual or default_virtual!r} on {system.label}: {e}") from None


def _delete(client: Any) -> None:
    """Delete an rtmidi client, if any, ignoring errors (an exit path)."""
    close_client(client)


class MidiOutSink:
    """A MIDI output that remembers which notes it started, so none is left hanging.

    `send` may be called from several threads (thru on the conductor, the partner on the
    scheduler); a lock keeps messages whole. A send that fails (port gone) marks the sink
    `failed` instead of raising into the real-time threads. A device port that disappears
    mid-set (a synth or the player's own keyboard unplugged) is waited for: `reconnect`.
    """

    def __init__(self, midi_out: Any, name: str, virtual: bool, watch: Any = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.name = name
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


def check_output(api: str, port: str) -> None:
    """Refuse a MIDI output `port` that does not exist before the session opens its input,
    so that the message lists the outputs there are, not the session's own input among
    them, and comes before "listening on ...".

    Raises:
        PortError: the port was not found (naming it and listing what exists), or no MIDI
            system could be opened.
    """
    midi_out, _ = open_client("out", api_name(api))
    try:
        find_port(midi_out.get_ports(), port, "output")
    finally:
        close_client(midi_out)


def open_output(api: str = "", port: str = "", virtual: str = "",
                say: Callable[[str], None] | None = None) -> MidiOutSink:
    """Open `port` (index or name substring), or create the virtual output `virtual`. A
    fallback to another backend than the platform's is said on `say` (default: stderr).

    Raises:
        PortError: the port was not found (naming it and listing what exists) or cannot open.
    """
    api = api_name(api)
    midi_out, system = open_client("out", api)
    say_fallback(system, say)
    try:
        watch = _jack_watch(midi_out)
        if port:
            names = midi_out.get_ports()
            i = find_port(names, port, "output")
            midi_out.open_port(i, f"{CLIENT_NAME} out")
            return MidiOutSink(midi_out, names[i], virtual=False, watch=watch, say=say or _stderr_line)
        refuse_virtual(system.api, f"--virtual-out {virtual!r}",
                       f"{LOOPBACK} and give --out PORT (`improv ports` lists the outputs)")
        own = unique_port_name(virtual, _sources(system.api))
        if own != virtual:  # as the input does: two jams' outputs told apart
            (say or _stderr_line)(f"improv: warning: a MIDI port named {virtual!r} exists already (another jam?): "
                                  f"this one is {own!r}")
        midi_out.open_virtual_port(own)
        return MidiOutSink(midi_out, own, virtual=True, watch=watch, say=say or _stderr_line)
    except PortError:
        midi_out.delete()
        raise
    except Exception as e:  # noqa: BLE001
        midi_out.delete()
        raise PortError(f"cannot open MIDI output {port or virtual!r} on {system.label}: {e}") from None


def _sources(api: str) -> list[str]:
    """The ports one can read MIDI from on backend `api` (other programs' outputs), as an
    input client lists them; [] when none can be listed."""
    lister: Any = None
    try:
        lister = _open_client("in", api)
        return list(lister.get_ports())
    except Exception:  # noqa: BLE001 - a name we cannot check is used as given
        return []
    finally:
        close_client(lister)


def _jack_watch(client: Any) -> Any:
    """The shared JACK watch when `client` is on JACK, else None."""
    import rtmidi

    if client.get_current_api() != rtmidi.API_UNIX_JACK:
        return None
    from improv.live.jackwatch import shared_watch

    return shared_watch()


def list_ports(api: str = "") -> dict[str, Any]:
    """What `improv ports` shows.

    Returns:
        {"api": the MIDI backend in use ("" = none could be opened), "system": how it was
        chosen (`MidiSystem.describe`, or "none"), "inputs": [...], "outputs": [...],
        "audio": [...], "problems": [...]}: one line per missing system in "problems".

    Audio output devices come from sounddevice, imported here (quietly: PortAudio's start
    probes every host API) so that its absence only adds a line to "problems".
    """
    out: dict[str, Any] = {"api": "", "system": "none", "inputs": [], "outputs": [], "audio": [], "problems": []}
    api = api_name(api)
    for kind, key in (("in", "inputs"), ("out", "outputs")):
        client, system, problems = try_open(kind, api)
        if client is not None and system is not None:
            try:
                out[key] = list(client.get_ports())
            finally:
                client.delete()
            out["api"], out["system"] = system.api, system.describe()
        elif not problems:
            problems = ["python-rtmidi has no MIDI backend"]
        elif api:
            out["system"] = f"{API_LABELS[api]} (asked for), unavailable"
        if client is None or api:  # a fallback's reasons are in "system" already
            out["problems"] += [p for p in problems if p not in out["problems"]]
    out["audio"], problem = audio_outputs()
    if problem:
        out["problems"].append(problem)
    return out


def audio_outputs() -> tuple[list[str], str]:
    """PortAudio's output devices, one line each ("name [host API, channels, rate]"), and a
    line saying why there are none ("" when there are some)."""
    try:
        from improv.live.portaudio import load_sounddevice

        sd = load_sounddevice(_stderr_line)  # (before the quiet block: a wait for the JACK server is said at once)
        with quiet_stderr():
            hostapis = [str(h["name"]) for h in sd.query_hostapis()]
            devices = list(sd.query_devices())
            default = sd.default.device
    except PortError as e:  # (a JACK server that does not answer)
        return [], f"no audio output: {e}"
    except Exception as e:  # noqa: BLE001 - no PortAudio library, no devices: say so, carry on
        return [], f"no audio output: PortAudio is not available ({e}); install libportaudio2 or play through --out"
    default_out = default[1] if isinstance(default, (tuple, list)) else -1
    lines = []
    for i, dev in enumerate(devices):
        if dev["max_output_channels"] > 0:
            host = hostapis[dev["hostapi"]] if 0 <= dev["hostapi"] < len(hostapis) else "?"
            mark = " (default)" if i == default_out else ""
            lines.append(f"{dev['name']} [{host}, {dev['max_output_channels']} ch, "
                         f"{dev['default_samplerate']:g} Hz]{mark}")
    if lines:
        return lines, ""
    tried = ", ".join(hostapis) or "none"
    jack = "" if any("JACK" in h for h in hostapis) else "; no JACK server running"
    return [], (f"no audio output device (PortAudio's host APIs here: {tried}{jack}): connect a sound card or "
                "start JACK for the built-in synth, or play through a MIDI port with --out")
