"""Measuring clients on a JACK server: a scripted player, a listener, and a patchbay.

Used by `improv bench` and by the end-to-end tests (tests/jackutil.py) to talk to a
running `improv jam` from outside, over real JACK MIDI ports:

- `Patchbay`: a tiny libjack client (ctypes) that lists ports, connects them, and reads
  the server's period and sample rate. It never starts a server.
- `Player`: an rtmidi JACK output that sends messages at exact times (sleep short, then
  spin on `time.perf_counter`).
- `Listener`: an rtmidi JACK input that stamps every message with its arrival time on
  `time.perf_counter` (the same monotonic clock as the sender's, system-wide on Linux),
  without running Python on JACK's process thread.
(`improv.bench.jamprocess.JamProcess` runs `improv jam` wired to a player and a listener.)

Every wait here is bounded by a timeout.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from improv.errors import PortError
from improv.live.jackwatch import load_libjack, server_answers
from improv.live.midiapi import JackReader, close_client
from improv.live.quiet import quiet_stderr

MIDI_TYPE = b"8 bit raw midi"
_JACK_NO_START_SERVER = 0x01
# How to start a server for the tests (as CI does): synchronous (-S), so that a client not
# run within its period delays it instead of losing its MIDI (on the project's shared VMs
# the asynchronous default lost up to 1 % of messages; a real-time server lost more).
START_SERVER = "jackd -S --no-realtime -d dummy -r 48000 -p 128"
_PORT_IS_INPUT = 0x1
_PORT_IS_OUTPUT = 0x2


@dataclass(frozen=True)
class Arrival:
    """One message seen by a `Listener`.

    Attributes:
        t: arrival time, `time.perf_counter()` seconds (the JACK period the listener got it in).
        data: the raw MIDI bytes.
    """

    t: float
    data: tuple[int, ...]

    @property
    def kind(self) -> int:
        """Status high nibble: 0x90 note-on, 0x80 note-off, 0xB0 CC, 0xF0 system."""
        return self.data[0] & 0xF0 if self.data else 0

    @property
    def channel(self) -> int:
        """MIDI channel 1-16 (0 for system messages)."""
        return (self.data[0] & 0x0F) + 1 if self.data and self.data[0] < 0xF0 else 0

    @property
    def is_note_on(self) -> bool:
        """A well-formed note-on with velocity > 0 (what a synth would sound)."""
        return self.kind == 0x90 and self._valid_note() and self.data[2] > 0

    @property
    def is_note_off(self) -> bool:
        return self._valid_note() and (self.kind == 0x80 or (self.kind == 0x90 and self.data[2] == 0))

    def _valid_note(self) -> bool:
        return len(self.data) == 3 and self.data[1] < 128 and self.data[2] < 128


_VP, _STR = ctypes.c_void_p, ctypes.c_char_p
_SIGNATURES = [  # the calls the patchbay makes
    ("jack_client_open", _VP, [_STR, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]),
    ("jack_client_close", ctypes.c_int, [_VP]),
    ("jack_get_buffer_size", ctypes.c_uint32, [_VP]),
    ("jack_get_sample_rate", ctypes.c_uint32, [_VP]),
    ("jack_is_realtime", ctypes.c_int, [_VP]),
    ("jack_get_ports", ctypes.POINTER(_STR), [_VP, _STR, _STR, ctypes.c_ulong]),
    ("jack_free", None, [_VP]),
    ("jack_connect", ctypes.c_int, [_VP, _STR, _STR]),
    ("jack_disconnect", ctypes.c_int, [_VP, _STR, _STR]),
]


_LIB = load_libjack(_SIGNATURES)


def jack_unavailable(say: Callable[[str], None] | None = None) -> str | None:
    """Why the JACK tools cannot run here, or None when a server runs and rtmidi has JACK.
    A server that takes the connection and never answers (stopped, stuck) is a reason too,
    given after `jackwatch.OPEN_WAIT_S`, with a wait past its first seconds said on `say`:
    a client of our own opened on it would wait for ever."""
    try:
        import rtmidi
    except ImportError:
        return "python-rtmidi is not installed"
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        return "python-rtmidi was built without the JACK API"
    if _LIB is None:
        return "libjack is not installed (apt install libjack-jackd2-0)"
    try:
        server_answers(say, keep=False)
        with quiet_stderr():  # libjack's "Cannot connect to server socket" lines: the PortError says it once
            Patchbay("improv-probe").close()
    except PortError as e:
        return str(e)
    return None


class Patchbay:
    """A passive libjack client: list and connect ports, read period and rate.

    Raises:
        PortError: when no JACK server runs (it never starts one).
    """

    def __init__(self, name: str = "improv-patchbay") -> None:
        if _LIB is None:
            raise PortError("libjack is not installed (apt install libjack-jackd2-0)")
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        status = ctypes.c_int(0)
        self._client = _LIB.jack_client_open(name.encode(), _JACK_NO_START_SERVER, ctypes.byref(status))
        if not self._client:
            server = os.environ.get("JACK_DEFAULT_SERVER", "default")
            raise PortError(f"no JACK server {server!r} runs (status 0x{status.value:x}): start one with "
                            f"`{START_SERVER}`")

    def close(self) -> None:
        if self._client:
            _LIB.jack_client_close(self._client)
            self._client = None

    def __enter__(self) -> "Patchbay":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def period(self) -> int:
        """Frames per JACK period."""
        return int(_LIB.jack_get_buffer_size(self._client))

    @property
    def rate(self) -> int:
        """Sample rate, Hz."""
        return int(_LIB.jack_get_sample_rate(self._client))

    @property
    def period_ms(self) -> float:
        return 1000.0 * self.period / self.rate

    @property
    def realtime(self) -> bool:
        """Whether the server (and so every client's process thread) runs with real-time
        priority. Either way a client whose process thread is not run within a period
        misses that period's MIDI (jackd logs `client = ... was not finished`)."""
        return bool(_LIB.jack_is_realtime(self._client))

    def midi_ports(self, inputs: bool) -> list[str]:
        """Full names (`client:port`) of MIDI ports that receive (inputs) or send (outputs)."""
        flags = _PORT_IS_INPUT if inputs else _PORT_IS_OUTPUT
        arr = _LIB.jack_get_ports(self._client, None, MIDI_TYPE, flags)
        if not arr:
            return []
        names = []
        i = 0
        while arr[i]:
            names.append(arr[i].decode(errors="replace"))
            i += 1
        _LIB.jack_free(ctypes.cast(arr, ctypes.c_void_p))
        return names

    def find(self, name: str, inputs: bool) -> str | None:
        """The port whose name is `name` (after the client's colon) or, failing that, contains it."""
        ports = self.midi_ports(inputs)
        exact = [p for p in ports if p.split(":", 1)[-1] == name or p == name]
        loose = [p for p in ports if name in p]
        return (exact or loose or [None])[0]

    def wait_for(self, name: str, inputs: bool, timeout: float) -> str:
        """Poll until a port named `name` exists; its full name.

        Raises:
            PortError: after `timeout` seconds, listing the ports there are.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(name, inputs)
            if found:
                return found
            if time.monotonic() > deadline:
                kind = "input" if inputs else "output"
                raise PortError(f"no JACK MIDI {kind} port {name!r} after {timeout:.1f} s "
                                f"(there are: {', '.join(self.midi_ports(inputs)) or 'none'})")
            time.sleep(0.02)

    def wait_gone(self, name: str, inputs: bool, timeout: float) -> bool:
        """Poll until no port named `name` exists; False if it is still there after `timeout` s."""
        deadline = time.monotonic() + timeout
        while self.find(name, inputs):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def connect(self, source: str, destination: str) -> None:
        """Connect an output port to an input port (full names); already connected is fine."""
        rc = _LIB.jack_connect(self._client, source.encode(), destination.encode())
        if rc not in (0, 17):  # 17 = EEXIST
            raise PortError(f"cannot connect JACK port {source!r} to {destination!r} (error {rc})")

    def disconnect(self, source: str, destination: str) -> None:
        _LIB.jack_disconnect(self._client, source.encode(), destination.encode())


def sleep_until(deadline: float, spin_s: float = 0.0005) -> float:
    """Sleep until `deadline` (perf_counter seconds): sleep short, then spin; the time woken."""
    while True:
        now = time.perf_counter()
        left = deadline - now
        if left <= 0:
            return now
        if left > spin_s:
            time.sleep(min(left - spin_s, 0.05))


class Player:
    """A scripted player: an rtmidi JACK output port that sends at exact times.

    Args:
        client: JACK client name (the port is `client:port`).
        port: port name.
    """

    def __init__(self, client: str, port: str = "out") -> None:
        import rtmidi

        self._out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
        self._out.open_virtual_port(port)
        self.port_name = port
        self.client = client
        self.sent: list[tuple[float, tuple[int, ...]]] = []

    def send(self, data: Sequence[int]) -> float:
        """Send now; the perf_counter time just before sending (seconds)."""
        t = time.perf_counter()
        self._out.send_message(list(data))
        self.sent.append((t, tuple(data)))
        return t

    def play(self, events: Iterable[tuple[float, Sequence[int]]], start: float | None = None) -> list[float]:
        """Send `(offset_seconds, bytes)` events at `start + offset`; returns the send times.

        Runs on the calling thread and returns when the last event is out. It spins the
        last half millisecond before each event, holding the GIL: other threads of the same
        process (a `Listener`'s reader) wait for it, so keep `sys.setswitchinterval` small
        (tests/jackutil.py does).
        """
        start = time.perf_counter() + 0.01 if start is None else start
        times = []
        for offset, data in sorted(events, key=lambda e: e[0]):
            sleep_until(start + offset)
            times.append(self.send(data))
        return times

    def close(self) -> None:
        """Close the port and the JACK client now (not whenever the object is collected)."""
        close_client(self._out)  # spaced from this process's other JACK closes (libjack's race)


class Listener:
    """An rtmidi JACK input port that records every message with its arrival time.

    No Python runs on JACK's process thread: a `JackReader` takes what rtmidi queued
    there, looking every 0.1 ms even when idle (a message read on its own is timed by its
    read; a burst read at once keeps its spacing on JACK's clock).

    Args:
        client: JACK client name.
        port: port name.
    """

    def __init__(self, client: str, port: str = "in") -> None:
        import rtmidi

        self._in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=client, queue_size_limit=65536)
        self._in.ignore_types(sysex=False, timing=False, active_sense=False)
        self._seen: list[Arrival] = []
        self._cond = threading.Condition()
        self._in.open_virtual_port(port)
        self.port_name = port
        self.client = client
        self._reader = JackReader(self._in, self._take, client, idle_poll_s=JackReader.POLL_S)
        from improv import realtime

        self.realtime = realtime.promote(self._reader._thread)  # (a measuring instrument: see `promote`)

    def _take(self, data: list[int], age: float) -> None:
        """The reader's thread: stamp and keep."""
        with self._cond:
            self._seen.append(Arrival(time.perf_counter() - age, tuple(data)))
            self._cond.notify_all()

    @property
    def arrivals(self) -> list[Arrival]:
        """Every message so far, with its arrival time (`time.perf_counter()` seconds)."""
        with self._cond:
            return list(self._seen)

    def wait(self, predicate: Callable[[list[Arrival]], bool], timeout: float) -> bool:
        """Wait until `predicate(arrivals)` holds; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.arrivals):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._cond:
                self._cond.wait(min(left, 0.05))
        return True

    def wait_quiet(self, quiet: float, timeout: float) -> bool:
        """Wait until nothing has arrived for `quiet` seconds; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.arrivals
            last = got[-1].t if got else 0.0
            if time.perf_counter() - last >= quiet:
                return True
            time.sleep(min(0.02, quiet))
        return False

    def clear(self) -> None:
        """Forget what has arrived."""
        with self._cond:
            self._seen = []

    def close(self) -> None:
        """Stop reading; close the port and the JACK client now (not whenever the object
        is collected)."""
        self._reader.stop()
        close_client(self._in)


def sounding_notes(arrivals: Iterable[Arrival]) -> dict[tuple[int, int], int]:
    """Notes left sounding after a stream: {(channel, pitch): count of unmatched note-ons}.

    A CC 123 (all notes off) or CC 120 (all sound off) clears its channel.
    """
    on: dict[tuple[int, int], int] = {}
    for a in arrivals:
        if a.is_note_on:
            key = (a.channel, a.data[1])
            on[key] = on.get(key, 0) + 1
        elif a.is_note_off:
            key = (a.channel, a.data[1])
            if on.get(key):
                on[key] -= 1
        elif a.kind == 0xB0 and len(a.data) >= 3 and a.data[1] in (120, 123):
            for key in [k for k in on if k[0] == a.channel]:
                on[key] = 0
    return {k: v for k, v in on.items() if v > 0}


def _stop_with_parent() -> None:
    """(In the forked jackd, Linux) SIGTERM when the process that started it dies, even of a
    segfault that skips its `finally`: a server left running keeps one of JACK's 8 registry
    places on the machine. (Linux ties it to the starting thread: start servers from a thread
    that outlives them, as the bench and the tests do from the main thread.)"""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_private_server(name: str, period: int = 64, rate: int = 48000, timeout: float = 10.0) -> subprocess.Popen:
    """Start a dummy-driver jackd named `name` and wait until it answers. It is not
    real-time, as the published figures' server was (figures/README.md); the bench's JSON
    says whether the server it measured on was (`jack.realtime`).

    Raises:
        PortError: when jackd is missing or does not come up within `timeout` seconds.
    """
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", JACK_DEFAULT_SERVER=name)
    try:
        proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(rate),
                                 "-p", str(period)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                preexec_fn=_stop_with_parent if sys.platform.startswith("linux") else None)
    except FileNotFoundError:
        raise PortError("jackd is not installed (apt install jackd2)") from None
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with quiet_stderr():  # "Cannot connect to server socket" until it is up
                Patchbay("improv-probe").close()
            return proc
        except PortError:
            time.sleep(0.1)
    stop_private_server(proc)
    died = proc.returncode not in (None, -signal.SIGTERM, -signal.SIGKILL)
    how = f"exited with {proc.returncode}" if died else f"did not answer within {timeout:.0f} s"
    if old is None:
        os.environ.pop("JACK_DEFAULT_SERVER", None)
    else:
        os.environ["JACK_DEFAULT_SERVER"] = old
    raise PortError(f"a private jackd ({name}, {period} frames) {how}")


def stop_private_server(proc: subprocess.Popen) -> None:
    """Stop a server from `start_private_server` (terminate, then kill after 5 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


_names = itertools.count()


def unique(stem: str) -> str:
    """A JACK client or port name that no other process of ours uses."""
    return f"{stem}-{os.getpid()}-{next(_names)}"
