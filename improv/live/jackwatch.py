"""A passive JACK client (libjack through ctypes) that notices what rtmidi cannot tell us.

python-rtmidi's JACK ports go on answering after the server has died (port lists come
from shared memory that stays mapped; sends succeed into the void), and it does not say
who is connected to a port. This client registers no ports and is never activated; it
only asks the server:

- `lost`: set by libjack's shutdown callback (on libjack's own thread) within
  milliseconds of the server going away;
- `connections(port)`: the ports connected to one of ours, so that a player who vanishes
  from our virtual input can be noticed (improv/live/inputguard.py releases their keys);
- `midi_ports(inputs)`: full `client:port` names;
- `period_s`: the server's period, which paces bursts of messages (a period's MIDI buffer
  holds only so many);
- `realtime`: whether the server runs real-time (improv's timing threads never go above a
  server that does not: improv/realtime.py).

`shared_watch()` keeps one per JACK server name for the process. When libjack cannot be
loaded or no server runs, it is None and callers fall back to what rtmidi can tell.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import threading
from typing import Any, Iterable
from pathlib import Path

_JACK_NO_START_SERVER = 0x01
_PORT_IS_INPUT = 0x1
_PORT_IS_OUTPUT = 0x2
MIDI_TYPE = b"8 bit raw midi"
_SHUTDOWN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


def _candidates() -> list[str]:
    names = [ctypes.util.find_library("jack") or "", "libjack.so.0", "libjack.so", "libjack.dylib"]
    try:  # the copy bundled with python-rtmidi's wheels, when the system has none
        import rtmidi

        names += glob.glob(str(Path(rtmidi.__file__).resolve().parent.parent / "python_rtmidi.libs" / "libjack*"))
    except ImportError:
        pass
    return [n for n in names if n]


Signature = tuple[str, Any, list[Any]]  # a libjack function: name, restype, argtypes


def load_libjack(signatures: Iterable[Signature]) -> ctypes.CDLL | None:
    """The first libjack that loads (the system's, else python-rtmidi's bundled copy) with
    `signatures` set on it; None when there is none, or it lacks one of the functions.
    Each caller (this watch, the bench's probes) declares the calls it makes."""
    signatures = list(signatures)
    for name in _candidates():
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            for fn, res, args in signatures:
                f = getattr(lib, fn)
                f.restype, f.argtypes = res, args
        except AttributeError:
            continue
        return lib
    return None


_VP, _INT = ctypes.c_void_p, ctypes.c_int
_SIGNATURES: list[Signature] = [
    ("jack_client_open", _VP, [ctypes.c_char_p, _INT, ctypes.POINTER(_INT)]),
    ("jack_client_close", _INT, [_VP]),
    ("jack_on_info_shutdown", None, [_VP, _SHUTDOWN, _VP]),
    ("jack_get_ports", ctypes.POINTER(ctypes.c_char_p), [_VP, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]),
    ("jack_port_by_name", _VP, [_VP, ctypes.c_char_p]),
    ("jack_port_get_all_connections", ctypes.POINTER(ctypes.c_char_p), [_VP, _VP]),
    ("jack_free", None, [_VP]),
    ("jack_get_buffer_size", ctypes.c_uint32, [_VP]),
    ("jack_get_sample_rate", ctypes.c_uint32, [_VP]),
    ("jack_is_realtime", _INT, [_VP]),
]


def _load() -> ctypes.CDLL | None:
    return load_libjack(_SIGNATURES)


_LIB: ctypes.CDLL | None = None
_LOADED = False
_LOCK = threading.Lock()
_WATCHES: dict[str, "JackWatch"] = {}


def _lib() -> ctypes.CDLL | None:
    global _LIB, _LOADED
    if not _LOADED:
        _LIB, _LOADED = _load(), True
    return _LIB


def _names(arr: ctypes.Array | None) -> list[str]:
    """A NULL-terminated `const char **` from libjack -> names (freed)."""
    if not arr:
        return []
    out = []
    i = 0
    while arr[i]:
        out.append(arr[i].decode(errors="replace"))
        i += 1
    _lib().jack_free(ctypes.cast(arr, ctypes.c_void_p))  # type: ignore[union-attr]
    return out


class JackWatch:
    """A passive libjack client: the server's death, ports and connections.

    Raises:
        OSError: libjack is missing or no JACK server runs (it never starts one).
    """

    def __init__(self, name: str = "improv-watch") -> None:
        lib = _lib()
        if lib is None:
            raise OSError("libjack is not installed")
        self.lost = ""  # why the server went away ("" while it runs)
        status = ctypes.c_int(0)
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        self._client = lib.jack_client_open(name.encode(), _JACK_NO_START_SERVER, ctypes.byref(status))
        if not self._client:
            raise OSError(f"no JACK server runs (status 0x{status.value:x})")
        self._callback = _SHUTDOWN(self._on_shutdown)  # kept: libjack holds a pointer to it
        lib.jack_on_info_shutdown(self._client, self._callback, None)
        rate = lib.jack_get_sample_rate(self._client)
        self.period_s = lib.jack_get_buffer_size(self._client) / rate if rate else 0.0  # seconds a period
        self.realtime = bool(lib.jack_is_realtime(self._client))  # the server's own threads real-time

    def _on_shutdown(self, code: int, reason: bytes | None, _arg: object) -> None:
        """libjack's thread: the server has gone (or thrown us out)."""
        self.lost = (reason or b"").decode(errors="replace") or f"JACK server gone (code {code})"

    @property
    def alive(self) -> bool:
        """True while the server runs (any thread; a flag read, no server round trip)."""
        return not self.lost and bool(self._client)

    def midi_ports(self, inputs: bool) -> list[str]:
        """Full names of the MIDI ports that receive (inputs) or send (outputs)."""
        if not self.alive:
            return []
        flags = _PORT_IS_INPUT if inputs else _PORT_IS_OUTPUT
        return _names(_lib().jack_get_ports(self._client, None, MIDI_TYPE, flags))  # type: ignore[union-attr]

    def connections(self, port: str) -> list[str] | None:
        """Full names of the ports connected to `port` (a full name), or None when there is
        no such port (or the server is gone)."""
        if not self.alive:
            return None
        lib = _lib()
        handle = lib.jack_port_by_name(self._client, port.encode())  # type: ignore[union-attr]
        if not handle:
            return None
        return _names(lib.jack_port_get_all_connections(self._client, handle))  # type: ignore[union-attr]

    def close(self) -> None:
        """Leave the server (idempotent)."""
        if self._client:
            if not self.lost:
                _lib().jack_client_close(self._client)  # type: ignore[union-attr]
            self._client = None


def server_name() -> str:
    """The JACK server clients of this process connect to."""
    return os.environ.get("JACK_DEFAULT_SERVER", "default")


def shared_watch() -> JackWatch | None:
    """The process's watch on the current JACK server (made on first use, and again after
    that server went away), or None when libjack or the server is missing."""
    key = server_name()
    with _LOCK:
        w = _WATCHES.get(key)
        if w is not None and w.alive:
            return w
        try:
            w = JackWatch()
        except OSError:
            return None
        _WATCHES[key] = w
        return w
