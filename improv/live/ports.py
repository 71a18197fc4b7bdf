"""MIDI ports through python-rtmidi: finding ports, opening the player's input and the
partner's output, and what `improv ports` lists. The backend they open on is chosen, and
named, in improv/live/midiapi.py; the output sink that never leaves a note hanging is
`MidiOutSink` (improv/live/midiout.py).

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
from improv.live.midiout import PANIC_PACE, MidiOutSink, panic_messages
from improv.live.portnames import port_short_name, unique_port_name


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


SOFTWARE_BUSES = ("through", "iac driver", "network session", "loopmidi", "loopbe")  # ports between programs, not
# devices: ALSA's Midi Through, macOS's IAC bus and network session, Windows' loopMIDI and LoopBe (a DAW sending
# there, improv's own output routed there, would be heard as the player)


def is_hardware(name: str, api: str) -> bool:
    """Whether a port looks like a device, not software (ALSA kernel clients, JACK system
    ports and a2jmidid's bridges of ALSA kernel clients; on CoreMIDI and WinMM, any port
    but improv's own and the `SOFTWARE_BUSES`)."""
    def kernel(client: str) -> bool:  # ALSA: 0 = System, 14 = Midi Through, >= 128 = programs
        return 0 < int(client) < 128 and int(client) != 14

    m = re.search(r"(\d+):(\d+)$", name)
    if m and api in ("", "alsa"):
        return kernel(m.group(1))
    if api == "jack" or name.startswith(("system:", "a2j:")):
        bridged = re.search(r"\[(\d+)\]", name) if name.startswith("a2j:") else None
        if bridged:  # a2jmidid's bridge of an ALSA client ("a2j:Keystation [24] (capture): ..."): ALSA's rule
            return kernel(bridged.group(1))
        return name.startswith(("system:", "a2j:", "system_midi:")) and "midi through" not in name.lower()
    low = name.lower()
    return CLIENT_NAME not in low and not any(bus in low for bus in SOFTWARE_BUSES)


def open_input(inq: InputQueue, api: str = "", port: str = "", virtual: str = "",
               default_virtual: str = "improv in", say: Callable[[str], None] | None = None,
               later: bool = False, several: bool = False) -> MidiInput:
    """Open the player's input: `port` (index or name), else the virtual port `virtual`, else
    the first hardware input, else a virtual port named `default_virtual`. A port name that
    another program (another jam) already uses gets a number (" 2"), and the input's
    `notice` says so. A fallback (another backend than the platform's, or a virtual port
    because no hardware input was found) is said in one line on `say` (default: stderr);
    `later`: the line says that a keyboard plugged in later is opened (the jam's, which does:
    improv/live/replug.py). The first hardware input taken, the other hardware inputs there
    are named in one line on `say` with the flag that picks one (`several`: that plays them
    all, given once for each: the jam's `--in`, improv/live/playerinputs.py).

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
            devices = [i for i, n in enumerate(names) if is_hardware(n, system.api)]
            if devices:
                midi_in.open_port(devices[0], own)
                mi = MidiInput(inq, midi_in, names[devices[0]], virtual=False)
                others = [names[i] for i in devices[1:] if not same_device(names[i], mi.name)]
                if others:
                    (say or _stderr_line)(also_here(mi.name, others, several))
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


# the words that end a port's name after its device's ("KeyLab mkII 61 DAW", "nanoKEY2 MIDI 1",
# "Launchkey MK3 49 LKMK3 MIDI Out"): what tells one device's ports apart where no client number does
_PORT_WORDS = re.compile(r"(?:\s+(?:midi|daw|port|in|out|input|output|incontrol|control)(?:\s+\d+)?)+$", re.I)
_WINMM_MORE = re.compile(r"MIDIIN\d+ \((.+)\)(?: \d+)?")  # WinMM: a device's further ports, "MIDIIN2 (Keystation 49) 1"


def same_device(a: str, b: str) -> bool:
    """Whether two listed ports are one device's (a keyboard's keys and its DAW-control port):
    one ALSA client ("... 24:0", "... 24:1") or one a2j client ("[24]"); elsewhere (CoreMIDI,
    WinMM) one device's name before the port's words ("KeyLab mkII 61 MIDI" and "... DAW"),
    or WinMM's "MIDIIN2 (Keystation 49)" beside "Keystation 49"."""
    def client(name: str) -> str:
        m = re.search(r"\s(\d+):\d+$", name) or re.search(r"\[(\d+)\]", name)
        return m.group(1) if m else ""

    if client(a) or client(b):
        return client(a) == client(b)
    for x, y in ((a, b), (b, a)):
        m = _WINMM_MORE.fullmatch(y.strip())
        if m and m.group(1) in (x.strip(), re.sub(r" \d+$", "", x.strip())):
            return True
    stems = [_PORT_WORDS.sub("", x.strip()).lower() for x in (a, b)]
    named = all(x and not _PORT_WORDS.fullmatch(" " + x) for x in stems)  # ("MIDI In" alone names no device)
    return stems[0] == stems[1] if named else a == b


def also_here(opened: str, others: list[str], several: bool) -> str:
    """The line naming the hardware inputs not opened beside `opened`, the first found, with
    the flags that play them (`several`: all of them at once, `--in` given for each)."""
    import shlex

    listed = ", ".join(repr(n) for n in others)
    if several:
        flags = " ".join(f"--in {shlex.quote(port_short_name(n))}" for n in [opened] + others)
        how = f"to play them too: {flags}, or [midi] input = [...] in a --config file"
    else:
        how = "--in PORT picks another"
    return f"MIDI: playing from {opened!r}, the first input found; also here, not opened: {listed} ({how})"


def _delete(client: Any) -> None:
    """Delete an rtmidi client, if any, ignoring errors (an exit path)."""
    close_client(client)


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
            return MidiOutSink(midi_out, names[i], virtual=False, watch=watch, say=say or _stderr_line,
                               api=system.api)
        refuse_virtual(system.api, f"--virtual-out {virtual!r}",
                       f"{LOOPBACK} and give --out PORT (`improv ports` lists the outputs)")
        own = unique_port_name(virtual, _sources(system.api))
        if own != virtual:  # as the input does: two jams' outputs told apart
            (say or _stderr_line)(f"improv: warning: a MIDI port named {virtual!r} exists already (another jam?): "
                                  f"this one is {own!r}")
        midi_out.open_virtual_port(own)
        return MidiOutSink(midi_out, own, virtual=True, watch=watch, say=say or _stderr_line, api=system.api)
    except PortError:
        midi_out.delete()
        raise
    except Exception as e:  # noqa: BLE001
        midi_out.delete()
        raise PortError(f"cannot open MIDI output {port or virtual!r} on {system.label}: {e}") from None


def panic(api: str, port: str) -> str:
    """Open the output `port` (index or name substring) on backend `api` ("": the default),
    send it `panic_messages`, close it, and give the port's full name.

    Raises:
        PortError: as `open_output`.
    """
    sink = open_output(api, port=port, say=lambda _line: None)
    try:
        for i, data in enumerate(panic_messages()):
            sink.send(mido.Message.from_bytes(data))
            if i % PANIC_PACE == PANIC_PACE - 1:
                time.sleep(0.001)
    finally:
        sink.close()
    return sink.name


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
