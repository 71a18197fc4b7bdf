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

A server that takes the connection and then does not answer (stopped, or stuck) holds a
new client in libjack's handshake for ever, and python-rtmidi waits there with the GIL
held: a jam froze at its start, saying nothing, and no Ctrl-C or SIGTERM could end it. So
the watch is opened on a thread of its own (ctypes lets the GIL go while libjack waits),
the caller waits `OPEN_WAIT_S` at most, saying after `SAY_WAIT_S` what it waits for, and
`server_answers()` refuses, in one line, a server that did not answer: improv then opens
no rtmidi client on it (improv/live/midiapi.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import threading
import time
from typing import Any, Callable, Iterable
from pathlib import Path

from improv.live.quiet import quiet_stderr

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
    ("jack_last_frame_time", ctypes.c_uint32, [_VP]),
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
        self.period_frames = int(lib.jack_get_buffer_size(self._client))
        self.period_s = self.period_frames / rate if rate else 0.0  # seconds a period
        self.realtime = bool(lib.jack_is_realtime(self._client))  # the server's own threads real-time

    def _on_shutdown(self, code: int, reason: bytes | None, _arg: object) -> None:
        """libjack's thread: the server has gone (or thrown us out)."""
        self.lost = (reason or b"").decode(errors="replace") or f"JACK server gone (code {code})"

    @property
    def alive(self) -> bool:
        """True while the server runs (any thread; a flag read, no server round trip)."""
        return not self.lost and bool(self._client)

    def frame(self) -> int | None:
        """The server's frame count at the start of its last cycle (any thread; read from
        shared memory, no round trip), or None when the server is gone. It stands still
        while the server does not cycle: a synchronous server waits out a client that died
        (about 5 s), and no client's messages move meanwhile."""
        if not self.alive:
            return None
        return int(_lib().jack_last_frame_time(self._client))  # type: ignore[union-attr]

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


OPEN_WAIT_S = 30.0  # how long a JACK server is given to answer a new client (a busy one took seconds)
SAY_WAIT_S = 2.0  # a wait longer than this is said, once, with how to give up
_OPENING: dict[str, "_Opening"] = {}  # per server name: a watch being opened
_GIVE_UP = threading.Event()  # a stop signal came while a command started (`give_up_waiting`)


class _Opening:
    """A `JackWatch` being opened on a thread of its own (libjack may wait on the server for
    ever); the watch, or None, once `done`."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.started = time.monotonic()
        self.done = threading.Event()
        self.watch: JackWatch | None = None
        self.said = False
        threading.Thread(target=self._open, name="improv-jack-open", daemon=True).start()

    def _open(self) -> None:
        # (No signal is blocked on this thread: libjack keeps the signal mask of the thread that opens its
        # first client and puts it back on whichever thread closes its last, so a mask set here became the
        # main thread's, and Ctrl-C was lost. Linux gives a process's signals to its main thread first.)
        w: JackWatch | None = None
        try:
            w = JackWatch()
        except Exception:  # noqa: BLE001 - OSError: no libjack, no server; anything else: no watch either
            pass
        finally:
            with _LOCK:
                self.watch = w
                if w is not None:
                    _WATCHES[self.key] = w
                if _OPENING.get(self.key) is self:
                    del _OPENING[self.key]
            self.done.set()


def _named(key: str) -> str:
    return "" if key == "default" else f" {key!r}"


def shared_watch(say: Callable[[str], None] | None = None) -> JackWatch | None:
    """The process's watch on the current JACK server (made on first use, and again after
    that server went away), or None when libjack or the server is missing, or when the
    server has not answered within `OPEN_WAIT_S` of the first try (`server_answers` tells
    which). A wait past `SAY_WAIT_S` is said once on `say` (default: not said); a stop
    signal a command's start caught (`give_up_waiting`) ends the wait."""
    key = server_name()
    with _LOCK:
        w = _WATCHES.get(key)
        if w is not None and w.alive:
            return w
        opening = _OPENING.get(key)
        if opening is None:
            opening = _OPENING[key] = _Opening(key)
    deadline = opening.started + OPEN_WAIT_S
    # The first SAY_WAIT_S are waited out whatever comes (a server that answers, as one does within milliseconds,
    # is never left in the middle of a handshake: a stop signal in a command's start then ends it after the open,
    # as before), quietly (libjack's lines when no server runs); past them, a stop signal gives up at once.
    with quiet_stderr():
        _wait(opening, min(deadline, opening.started + SAY_WAIT_S), stoppable=False)
    if not opening.done.is_set() and not _GIVE_UP.is_set() and time.monotonic() < deadline:
        if say is not None and not opening.said:
            opening.said = True
            say(f"waiting for the JACK server{_named(key)} to answer (busy, or stopped?); Ctrl-C gives up")
        _wait(opening, deadline, stoppable=True)
    return opening.watch if opening.done.is_set() else None


def _wait(opening: _Opening, until: float, stoppable: bool) -> None:
    """Until `opening` is done, `until` (monotonic), or (`stoppable`) a stop signal gives up (`give_up_waiting`)."""
    while not opening.done.is_set() and not (stoppable and _GIVE_UP.is_set()):
        left = until - time.monotonic()
        if left <= 0:
            return
        opening.done.wait(min(0.05, left))


def server_answers(say: Callable[[str], None] | None = None, keep: bool = True) -> None:
    """Return once the current JACK server has answered a client of ours, or when there is
    no server (or no libjack) to ask: rtmidi or PortAudio then finds that out for itself,
    at once. `keep` False: a watch opened only for this question is closed again (a jam
    whose MIDI is on ALSA keeps no JACK client of its own: on a PipeWire desktop it would
    show in the graph).

    Raises:
        PortError: the server took the connection and has not answered for `OPEN_WAIT_S`
            (stopped, or stuck): a client opened on it would wait for ever.
    """
    key = server_name()
    with _LOCK:
        had = _WATCHES.get(key)
    w = shared_watch(say)
    if w is not None:
        if not keep and w is not had:
            with _LOCK:
                if _WATCHES.get(key) is w:
                    del _WATCHES[key]
            w.close()
        return
    with _LOCK:
        opening = _OPENING.get(key)
    if opening is not None:  # (still waiting: given up on, or a stop signal came)
        from improv.errors import PortError

        waited = time.monotonic() - opening.started
        raise PortError(f"the JACK server{_named(opening.key)} does not answer (waited {waited:.0f} s): it is "
                        "stopped or stuck; restart it (jackd, QjackCtl or pipewire-jack), then start improv again")


def give_up_waiting(stop: bool = True) -> None:
    """A stop signal came while a command started (`improv.live.conductor.EarlyStop`): a wait
    for the JACK server ends now (`stop` False: a new command's start, the waits wait again)."""
    if stop:
        _GIVE_UP.set()
    else:
        _GIVE_UP.clear()
