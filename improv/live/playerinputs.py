"""The player's MIDI inputs, one or several: a keyboard, and beside it a pad controller or a
second keyboard (`--in` given once for each, or `[midi] input = ["Keystation", "MPD218"]`).

Every input feeds the same `InputQueue`: one call, one passthrough, one recording, as if
the notes came down one cable (its `push` takes them from several ports' threads in
arrival order). Each device input is watched on its own: one unplugged mid-set is let go
with what it held released while the others play on, and opened again when it is back
(improv/live/replug.py). With no `--in`, the first hardware input is opened, as before,
the others there are named in one line with the flags that add them, and a device plugged
in during the jam is opened as it appears (`watch_for_devices`).
"""

from __future__ import annotations

from typing import Any

from improv.errors import ConfigError


def open_player_inputs(inq: Any, api: str, names: tuple[str, ...], virtual: str = "",
                       default_virtual: str = "improv in") -> list[Any]:
    """Open the inputs `names` (each an index or a name substring) on backend `api`, in
    order; none named: the first hardware input, else the virtual input `virtual` or
    `default_virtual` (`ports.open_input`). A device input is wrapped to be opened again
    when unplugged (`replugging`).

    Raises:
        PortError: an input was not found or cannot open (those opened before it are closed).
        ConfigError: two names found the same port (its notes would come twice).
    """
    from improv.live.ports import open_input
    from improv.live.replug import replugging

    opened: list[Any] = []
    try:
        for name in names or ("",):  # (a name given opens that port: `virtual` is for none given)
            mi = open_input(inq, api, port=name, virtual=virtual, default_virtual=default_virtual, later=not names,
                            several=True)
            same = next((o for o in opened if o.name == mi.name), None)
            if same is not None:
                mi.close()
                given = names[opened.index(same)]
                raise ConfigError(f"the inputs {given!r} and {name!r} (--in, or [midi] input) both open the MIDI "
                                  f"input {mi.name!r} (its notes would come twice): give each device once, with a "
                                  "name only it has (`improv ports` lists the inputs)")
            if not mi.virtual:  # (unplugged mid-set, it is waited for and opened again)
                mi = replugging(mi, inq, api)
            opened.append(mi)
        return opened
    except BaseException:
        for mi in reversed(opened):
            mi.close()
        raise


def watch_for_devices(inputs: list[Any], inq: Any, api: str, names: tuple[str, ...], virtual: str = "") -> Any:
    """The watch that opens each device plugged in during the jam (`replug.DeviceWatch`: the
    keyboard plugged in after the jam made a virtual input for want of one, a pad controller
    plugged in mid-set), or None when `--in` (`names`) or `--virtual-in` (`virtual`) chose
    the inputs."""
    from improv.live.replug import watching_for_devices

    return None if names or virtual else watching_for_devices(inputs, inq, api)


def listening_line(inputs: list[Any]) -> str:
    """What the jam says it listens on: "listening on MIDI input 'Keys'" (or a virtual one)
    or, for several (each a device named with --in), "listening on MIDI inputs 'Keys' and 'Pads'"."""
    if len(inputs) == 1:
        return f"listening on {'virtual ' if inputs[0].virtual else ''}MIDI input {inputs[0].name!r}"
    names = [repr(mi.name) for mi in inputs]
    return f"listening on MIDI inputs {', '.join(names[:-1])} and {names[-1]}"
