"""The player's keyboard unplugged mid-set and plugged back in: the session plays on.

A device input (`--in PORT`, or the hardware input improv found) whose port disappeared (a
USB cable knocked out, the keyboard switched off, its program quit) ended the session: the
set stopped for a loose cable, and the tempo heard and the partner's memory of the
session went with it. Now the keys and the pedal it held are released (as if lifted), the
port is let go, the partner and the band play on, and every watch round (half a second)
improv looks for it again: the first input with the lost one's name, less the numbers a
device plugged in again may be given anew (ALSA's `client:port`, a2j's `[client]`), is
opened, and the player plays on. A virtual input goes only with the MIDI server, and a
server that stops still ends the session (`alive`). With no `--in`, a device plugged in
during the jam is opened as it appears (`DeviceWatch`): the keyboard plugged in late, a pad
controller plugged in mid-set.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from improv.live.midiinput import released_said

if TYPE_CHECKING:
    from improv.live.inputqueue import InputQueue
    from improv.live.midiinput import MidiInput


def device_name(full: str) -> str:
    """A listed port's name less the numbers a device plugged in again may get anew:
    "nanoKEY2:nanoKEY2 MIDI 1 24:0" (ALSA) -> "nanoKEY2:nanoKEY2 MIDI 1";
    "a2j:nanoKEY2 [24] (capture): nanoKEY2 MIDI 1" -> "a2j:nanoKEY2 (capture): nanoKEY2 MIDI 1"."""
    return re.sub(r"\s*\[\d+\]", "", re.sub(r"\s+\d+:\d+$", "", full)).strip()


class ReplugInput:
    """A device `MidiInput` opened again when its port comes back (see the module doc). It
    stands for the input in the session's watched ports and in what the jam closes.

    Args:
        current: the open input.
        ports: the input ports there are now (their listed names); may raise.
        reopen: opens the input port of that listed name; raises when it cannot.
        on_close: called once as it closes (the listing's client, let go).
    """

    virtual = False

    def __init__(self, current: "MidiInput", ports: Callable[[], list[str]],
                 reopen: Callable[[str], "MidiInput"], on_close: Callable[[], None] = lambda: None) -> None:
        self.current: MidiInput | None = current
        self.name = current.name
        self.notice = current.notice
        self.gone = False  # unplugged, not yet back
        self.failed = ""  # the MIDI server stopped: the session ends (`alive`)
        self._ports, self._reopen, self._on_close = ports, reopen, on_close
        self._server: Any = None  # the JACK watch of the input let go (is the server still there?)
        self._tried = ""  # the last failure to open it again, said once

    def reconnect(self) -> str:
        """Watch the port (conductor thread, every watch round): let it go when it has
        disappeared, open it again when it is back. Returns a line to say ("" for none)."""
        if self.current is not None:
            if self.current.alive():
                return ""
            if self.current.failed:  # the MIDI server stopped: nothing will come back
                self.failed = self.current.failed
                return ""
            return self._let_go()
        lost = getattr(self._server, "lost", "")
        if lost:
            self.failed = f"MIDI input {self.name!r} is gone: the JACK server stopped ({lost})"
            return ""
        try:
            names = self._ports()
        except Exception:  # noqa: BLE001 - the backend's trouble: look again next round
            return ""
        want = device_name(self.name)
        back = next((n for n in names if device_name(n) == want), None)
        if back is None:
            return ""
        try:
            self.current = self._reopen(back)
        except Exception as e:  # noqa: BLE001 - PortError, rtmidi's own: try again next round
            said = f"MIDI input {back!r} is back but could not be opened ({e}); trying again"
            said, self._tried = ("" if said == self._tried else said), said
            return said
        self.name, self.gone, self._tried = self.current.name, False, ""
        return f"MIDI input {self.name!r} is back: play on"

    def sensing_stopped(self) -> str:
        """The open input's `MidiInput.sensing_stopped` (a cable out, the port still there)."""
        return self.current.sensing_stopped() if self.current is not None else ""

    def _let_go(self) -> str:
        current, self.current = self.current, None
        assert current is not None
        held = current.release_held()  # (note-offs through the queue, as if the player had lifted them)
        released = f" ({released_said(*current.released_last)} it held released)" if held else ""
        self._server = getattr(current.guard, "watch", None)
        current.close()
        self.gone = True
        return (f"MIDI input {self.name!r} is gone (unplugged, or switched off): the partner plays on, and improv "
                f"connects to it again when it is back{released}")

    def alive(self) -> bool:
        """False once the MIDI server has stopped (the session ends); an unplugged port is
        waited for (`reconnect`)."""
        return not self.failed

    def close(self) -> None:
        """Close the input (idempotent)."""
        current, self.current = self.current, None
        if current is not None:
            current.close()
        on_close, self._on_close = self._on_close, lambda: None
        on_close()


class DeviceWatch:
    """The devices plugged in during the jam, opened as they appear, when no `--in` chose the
    inputs: the keyboard plugged in late (the jam made a virtual input for want of one), or a
    pad controller or second keyboard plugged in mid-set beside the keyboard improv found. A
    port listed as the jam started is not opened while it stays (the others there were named,
    with the flags that play them; unplugged and plugged in again, it is); a port an input of
    the jam has, or waits for (unplugged), is not either, nor a second port of a device just
    opened (its DAW-control port: `ports.same_device`).
    Each device opened is a `ReplugInput` of its own, handed to the session (`arrived`) to
    be watched as any input: unplugged, it is waited for by name.

    Args:
        inputs: the jam's inputs (their names are taken).
        ports, reopen, on_close: as `ReplugInput`'s.
        is_device: whether a listed port is a device (`ports.is_hardware` on the backend).
        same_device: whether two listed ports are one device's (`ports.same_device`).
    """

    gone = False  # (never: each device opened here is watched, and said gone, on its own)

    def __init__(self, inputs: list[Any], ports: Callable[[], list[str]], reopen: Callable[[str], "MidiInput"],
                 is_device: Callable[[str], bool], same_device: Callable[[str, str], bool] = lambda a, b: a == b,
                 on_close: Callable[[], None] = lambda: None) -> None:
        self.name = "MIDI devices plugged in"
        self.inputs = list(inputs)
        self.opened: list[ReplugInput] = []  # the devices opened here (this watch closes them)
        self._new: list[ReplugInput] = []  # opened, not yet handed to the session (`arrived`)
        self._ports, self._reopen, self._is_device, self._same = ports, reopen, is_device, same_device
        self._on_close = on_close
        try:
            self._seen = set(ports())  # (listed as the jam started: not plugged in during it)
        except Exception:  # noqa: BLE001 - the backend's trouble: every device listed later counts as new
            self._seen = set()
        self._tried = ""

    def reconnect(self) -> str:
        """Open the devices that have appeared since the last round (conductor thread, every
        watch round). Returns a line to say ("" for none)."""
        try:
            names = self._ports()
        except Exception:  # noqa: BLE001 - the backend's trouble: look again next round
            return ""
        fresh = [n for n in names if n not in self._seen and self._is_device(n)]
        self._seen = set(names)
        lines = []
        for name in fresh:
            mine = [mi.name for mi in self.inputs + self.opened]
            if any(device_name(name) == device_name(m) or self._same(name, m) for m in mine):
                continue  # (an input's own port back, which it opens; or a second port of its device)
            try:
                opened = self._reopen(name)
            except Exception as e:  # noqa: BLE001 - PortError, rtmidi's own: try again next round
                self._seen.discard(name)
                said = f"MIDI input {name!r} is plugged in but could not be opened ({e}); trying again"
                if said != self._tried:
                    lines.append(said)
                self._tried = said
                continue
            self._tried = ""
            device = ReplugInput(opened, self._ports, self._reopen)
            first = not self.opened and next((mi.name for mi in self.inputs if mi.virtual), None)
            also = f" (the virtual input {first!r} still listens too)" if first else ""
            self.opened.append(device)
            self._new.append(device)
            lines.append(f"MIDI input {device.name!r} plugged in: play{also}")
        return "; ".join(lines)

    def arrived(self) -> list[ReplugInput]:
        """The devices opened since the last call, for the session to watch (conductor thread)."""
        new, self._new = self._new, []
        return new

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        """Close the devices opened here, and the listing (idempotent)."""
        opened, self.opened, self._new = self.opened, [], []
        for device in opened:
            device.close()
        on_close, self._on_close = self._on_close, lambda: None
        on_close()


def _backend(inq: "InputQueue", api: str) -> tuple[Callable[[], list[str]], Callable[[str], "MidiInput"],
                                                  Callable[[], None]]:
    """(ports, reopen, on_close) on backend `api`: the ports listed by a client of their own
    (opened when first needed, let go by `on_close`), an input port opened as the jam opens one."""
    from improv.live.midiapi import api_name, close_client, open_client
    from improv.live.ports import open_input

    lister: list[Any] = []

    def ports() -> list[str]:
        if not lister:
            lister.append(open_client("in", api_name(api))[0])
        return list(lister[0].get_ports())

    def let_go() -> None:
        if lister:
            close_client(lister.pop())

    return ports, lambda name: open_input(inq, api, port=name, say=lambda line: None), let_go


def replugging(current: "MidiInput", inq: "InputQueue", api: str) -> ReplugInput:
    """`current` (a device input the jam opened on backend `api`) as a `ReplugInput`."""
    ports, reopen, let_go = _backend(inq, api)
    return ReplugInput(current, ports, reopen, let_go)


def watching_for_devices(inputs: list[Any], inq: "InputQueue", api: str) -> DeviceWatch:
    """A `DeviceWatch` beside the jam's `inputs` on backend `api` (no `--in` chose them):
    each device plugged in during the jam is opened as it appears."""
    from improv.live.midiapi import api_name
    from improv.live.ports import is_hardware, same_device

    ports, reopen, let_go = _backend(inq, api)
    backend = api_name(api)
    return DeviceWatch(inputs, ports, reopen, lambda name: is_hardware(name, backend), same_device, let_go)
