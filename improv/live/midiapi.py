"""Choosing the MIDI backend (ALSA, JACK, CoreMIDI, Windows MM) and opening rtmidi clients on
it, saying which one is in use and, in one line each, why others were not.

With none asked for (`--midi-api`, $IMPROV_MIDI_API), the first of rtmidi's compiled
backends that opens is used: ALSA, then JACK on Linux. Falling back is said once, in one
line (`MIDI: using JACK, since no ALSA sequencer: /dev/snd/seq is missing ...`); the C
libraries' own noise about a missing system is held back (improv/live/quiet.py).

On JACK an input is read by a `JackReader` thread, never by a callback on JACK's process
thread (where Python would wait for the GIL and a missed period loses messages).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable

from improv.errors import ConfigError, PortError
from improv import realtime
from improv.live.quiet import quiet_stderr

ENV_API = "IMPROV_MIDI_API"
CLIENT_NAME = "improv"
API_ATTRS = {"alsa": "API_LINUX_ALSA", "jack": "API_UNIX_JACK", "coremidi": "API_MACOSX_CORE",
             "winmm": "API_WINDOWS_MM"}
API_LABELS = {"alsa": "ALSA", "jack": "JACK", "coremidi": "CoreMIDI", "winmm": "Windows MM"}
ALSA_SEQ = "/dev/snd/seq"
NO_VIRTUAL = ("winmm",)  # backends that cannot make virtual ports (rtmidi refuses them on Windows MM)
LOOPBACK = "make a port with loopMIDI (a free virtual MIDI cable for Windows)"


def api_name(requested: str = "") -> str:
    """The MIDI backend to use: the flag, else $IMPROV_MIDI_API, else "" (platform default).

    Raises:
        ConfigError: for a name that is not alsa, jack, coremidi or winmm.
    """
    name = (requested or os.environ.get(ENV_API, "")).strip().lower()
    if name and name not in API_ATTRS:
        where = "--midi-api" if requested else f"${ENV_API}"
        raise ConfigError(f"{where}: expected one of {', '.join(API_ATTRS)}, found {name!r}")
    return name


def _rtmidi_api(name: str) -> int:
    import rtmidi

    if not name:
        return rtmidi.API_UNSPECIFIED
    api = getattr(rtmidi, API_ATTRS[name])
    if api not in rtmidi.get_compiled_api():
        have = [k for k, v in API_ATTRS.items() if getattr(rtmidi, v) in rtmidi.get_compiled_api()]
        raise PortError(f"MIDI API {name!r} is not in this python-rtmidi build; available: {', '.join(have)}")
    return api


@dataclass(frozen=True)
class MidiSystem:
    """The MIDI backend a client was opened on, and why the ones tried before it were not.

    Attributes:
        api: the backend in use: "alsa", "jack", "coremidi" or "winmm".
        requested: the backend asked for (flag or $IMPROV_MIDI_API); "" = the platform's.
        unavailable: one line per backend tried first that could not be opened.
    """

    api: str
    requested: str = ""
    unavailable: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """"ALSA", "JACK", "CoreMIDI" or "Windows MM"."""
        return API_LABELS.get(self.api, self.api)

    def describe(self) -> str:
        """The backend and how it was chosen, e.g. "JACK, since no ALSA sequencer: ..."."""
        if self.requested:
            return f"{self.label} (asked for)"
        if self.unavailable:
            return f"{self.label}, since {'; '.join(self.unavailable)}"
        return f"{self.label} (the platform default)"


def unavailable_reason(api: str, error: object) -> str:
    """One line saying why backend `api` could not be opened, and what to do about it."""
    if api == "alsa":
        if not os.path.exists(ALSA_SEQ):
            return f"no ALSA sequencer: {ALSA_SEQ} is missing (load the snd-seq kernel module)"
        if not os.access(ALSA_SEQ, os.R_OK | os.W_OK):
            return f"no ALSA sequencer for you: {ALSA_SEQ} is not readable and writable (join the audio group)"
        return f"no ALSA sequencer: it cannot be opened ({error})"
    if api == "jack":
        server = os.environ.get("JACK_DEFAULT_SERVER", "")
        named = f" {server!r}" if server else ""
        return f"no JACK server{named} running (start one: jackd, QjackCtl or pipewire-jack)"
    return f"no {API_LABELS.get(api, api)} MIDI: it cannot be opened ({error})"


def refuse_virtual(api: str, what: str, fix: str) -> None:
    """Refuse, in one line, a virtual port (`what`, e.g. "--virtual-out 'partner'") on a
    backend that cannot make one (Windows MM), saying `fix`: rtmidi's own error named no
    way out.

    Raises:
        PortError: `api` is one of `NO_VIRTUAL`.
    """
    if api in NO_VIRTUAL:
        raise PortError(f"{what}: {API_LABELS[api]} cannot make virtual MIDI ports; {fix}")


def _api_key(rt_api: int) -> str:
    import rtmidi

    return next((k for k, attr in API_ATTRS.items() if getattr(rtmidi, attr, None) == rt_api), "")


def try_open(kind: str, api: str) -> tuple[Any | None, MidiSystem | None, list[str]]:
    """Open a rtmidi MidiIn or MidiOut on the first backend that opens, quietly.

    Args:
        kind: "in" or "out".
        api: a backend from `api_name`; "" = rtmidi's compiled backends in order (ALSA,
            then JACK on Linux).

    Returns:
        (the client or None, its backend or None, one line per backend that failed).

    Raises:
        PortError: `api` is not in this python-rtmidi build.
    """
    import rtmidi

    cls = rtmidi.MidiIn if kind == "in" else rtmidi.MidiOut
    order = [api] if api else [k for k in (_api_key(a) for a in rtmidi.get_compiled_api()) if k]
    problems: list[str] = []
    for name in order:
        rt_api = _rtmidi_api(name)
        if name == "jack":  # a server that does not answer would hold rtmidi's client (and the GIL) for ever
            from improv.live.jackwatch import server_answers

            try:
                server_answers(midi_line)
            except PortError as e:
                problems.append(str(e))
                continue
        with quiet_stderr():  # ALSA and JACK print their own lines when a system is missing
            try:
                return cls(rt_api, CLIENT_NAME), MidiSystem(name, api, tuple(problems)), problems
            except rtmidi.RtMidiError as e:
                problems.append(unavailable_reason(name, e))
    return None, None, problems


def open_client(kind: str, api: str) -> tuple[Any, MidiSystem]:
    """A rtmidi MidiIn or MidiOut, and the backend it runs on (see `try_open`).

    Raises:
        PortError: no backend could be opened (one line naming what is missing).
    """
    client, system, problems = try_open(kind, api)
    if client is not None and system is not None:
        return client, system
    if api:
        raise PortError(f"cannot open a MIDI {kind}put on {API_LABELS[api]}: {problems[0]}")
    raise PortError(f"no MIDI system to open an {kind}put on: {'; '.join(problems) or 'python-rtmidi has no backend'}")


_said: set[tuple[str, tuple[str, ...]]] = set()  # fallbacks already reported in this process


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def midi_line(text: str) -> None:
    """Say `text` on stderr as a line about the MIDI system ("MIDI: ...")."""
    _stderr_line(f"MIDI: {text}")


def say_fallback(system: MidiSystem, say: Callable[[str], None] | None = None) -> None:
    """Say once per process (on `say`, default stderr) that the platform's backend was
    unavailable and which one is used instead; nothing when there was no fallback."""
    if system.requested or not system.unavailable:
        return
    key = (system.api, system.unavailable)
    if key in _said:
        return
    _said.add(key)
    (say or _stderr_line)(f"MIDI: using {system.label}, since {'; '.join(system.unavailable)}")


def _open_client(kind: str, api: str, say: Callable[[str], None] | None = None) -> Any:
    """A rtmidi MidiIn or MidiOut on backend `api` ("" = the platform's, falling back and
    saying so on `say`).

    Raises:
        PortError: see `open_client`.
    """
    client, system = open_client(kind, api)
    say_fallback(system, say)
    return client


# --- closing ----------------------------------------------------------------------------
# libjack (jack2; python-rtmidi's wheels carry their own copy) crashes when a client's port
# list is edited (a port closed) while that client's notification thread still walks it for
# the latency update that another port's closing caused (JackClient::HandleLatencyCallback:
# a segfault in 1 of 10-40 back-to-back closes of two clients' ports on a busy 2-core
# machine). Within this process JACK ports and clients are therefore closed at least
# JACK_SETTLE_S apart, which lets each change's notifications be handled first.
JACK_SETTLE_S = 0.05
_jack_lock = threading.Lock()
_jack_last = 0.0


class JackArrivals:
    """When each message rtmidi queued on JACK arrived, on `time.perf_counter`'s clock.

    rtmidi gives each queued message the time since the one before it, from JACK's clock
    in the period it came in. Two bounds hold for certain: a message arrived after the
    reader's last look that found nothing (`after`) and before the read that found it
    (`read_at`), and a burst read at once keeps its spacing within those. Inside them each
    message is placed at the one before it plus its gap: a reader held up (a busy machine,
    the GIL) reads late, yet its messages keep JACK's timing, as MIDI clock ticks must.
    The gaps alone cannot be trusted over a session: those of what rtmidi read and did not
    queue (ignored types such as active sensing, the chunks of a long sysex, a full queue)
    are left out, so a chain of them runs early; the bounds stop that at the next look.
    Times are in order and never after their read.
    """

    BURST = 256  # at most this many are placed (and handled) at once

    def __init__(self) -> None:
        self.last = float("-inf")

    def place(self, deltas: list[float], read_at: float, after: float = float("-inf")) -> list[float]:
        """Arrival times of a burst read at `read_at`, from rtmidi's time since the previous;
        `after`: the time of the last look that found nothing; none known (-inf): each is
        placed back from the read by the burst's gaps, as nothing bounds a chain from below."""
        n = len(deltas)
        upper = [0.0] * n  # the latest each can be: the burst's spacing back from the read
        t = read_at
        for k in range(n - 1, -1, -1):
            upper[k] = t
            t -= deltas[k]
        times = [0.0] * n
        lower, prev = after, self.last
        for k in range(n):
            if k:
                lower += deltas[k]  # the burst's spacing forward from the look before it
            chained = prev + deltas[k] if prev > float("-inf") and after > float("-inf") else upper[k]
            prev = times[k] = max(min(max(chained, lower), upper[k]), self.last)
            self.last = prev
        return times


IDLE_POLL_S = 0.001  # how often a JackReader looks once idle: a tenth of the wake-ups (18 % of a core at POLL_S here)


class JackReader:
    """Reads an rtmidi input on JACK from a thread of its own, so that no Python runs on
    JACK's process thread.

    A Python callback there waits for the GIL, and a period it misses loses that period's
    messages (an xrun). Instead rtmidi queues them with JACK's clock, and this thread
    takes them out every `POLL_S` (every `idle_poll_s` once nothing came for `IDLE_S`: the
    first note after a rest may wait up to a millisecond) and calls `handle(bytes, age)`,
    `age` being how many seconds ago the message arrived (see `JackArrivals`). A message
    `handle` fails on is said on stderr and lost, not the input.

    Args:
        midi_in: an opened rtmidi MidiIn on JACK with no callback set.
        handle: called on this thread for each message.
        name: the port's name (for the thread and messages).
        idle_poll_s: how often it looks once idle (a measuring client keeps `POLL_S`).
        poll_s: how often it looks while messages come. An input whose messages need their
            times more than quick handling (MIDI clock, which the conductor takes in its own
            time) can look every `IDLE_POLL_S`: `JackArrivals` places them by JACK's clock,
            and a clock running all set long costs a tenth of the wake-ups.
    """

    POLL_S = 0.0001  # how often it looks while messages come: at most this much later than a callback
    IDLE_S = 1.0

    def __init__(self, midi_in: Any, handle: Callable[[list[int], float], None], name: str,
                 idle_poll_s: float = IDLE_POLL_S, poll_s: float = POLL_S) -> None:
        self._in, self._handle, self.name = midi_in, handle, name
        self.idle_poll_s, self.poll_s = idle_poll_s, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"midi-in {name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        realtime.enter("MIDI input")
        arrivals, get = JackArrivals(), self._in.get_message
        last = 0.0
        looked = float("-inf")  # the last look that found nothing: what comes next arrived after it
        while not self._stop.is_set():
            burst = []
            before = time.perf_counter()
            while len(burst) < arrivals.BURST and (msg := get()) is not None:
                burst.append(msg)
                before = time.perf_counter()
            now = time.perf_counter()
            if burst:
                if any(data != [0xF7] for data, _ in burst):  # (the input guard's lone end of sysex, every 0.1 s, is no one playing)
                    last = now
                times = arrivals.place([delta for _, delta in burst], now, looked)
                for (data, _), t in zip(burst, times):
                    try:
                        self._handle(data, time.perf_counter() - t)
                    except Exception as e:  # noqa: BLE001 - as rtmidi's callback thread: one message lost, not the input
                        print(f"improv: MIDI input {self.name!r} skipped {data}: {e!r}", file=sys.stderr)
                if len(burst) == arrivals.BURST:
                    continue
            looked = before  # (the get that found nothing began after this)
            time.sleep(self.poll_s if now - last < self.IDLE_S else self.idle_poll_s)

    def stop(self) -> None:
        """Stop reading (before the input is closed); idempotent."""
        self._stop.set()
        self._thread.join(timeout=1.0)


def is_jack(client: Any) -> bool:
    """Whether an rtmidi client is on JACK."""
    try:
        import rtmidi

        return client.get_current_api() == rtmidi.API_UNIX_JACK
    except Exception:  # noqa: BLE001 - a client that cannot say is not worth waiting for
        return False


def jack_port_changed() -> None:
    """Note that a JACK port or client of this process was just opened or closed."""
    global _jack_last
    _jack_last = time.monotonic()


def close_client(client: Any, cancel_callback: bool = False) -> None:
    """Close an rtmidi client's port and delete the client, ignoring errors (an exit path);
    under JACK, spaced from this process's other port changes (see JACK_SETTLE_S).

    Args:
        client: an rtmidi MidiIn or MidiOut (None: nothing to do).
        cancel_callback: a MidiIn with a callback: cancel it first.
    """
    if client is None:
        return
    if cancel_callback:
        try:
            client.cancel_callback()
        except Exception:  # noqa: BLE001
            pass
    jack = is_jack(client)
    with _jack_lock if jack else nullcontext():
        for step in (client.close_port, client.delete):
            if jack:
                wait = _jack_last + JACK_SETTLE_S - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            try:
                with quiet_stderr() if jack else nullcontext():  # libjack's complaints about a port going away
                    step()
            except Exception:  # noqa: BLE001 - closing must not raise on an exit path
                pass
            if jack:
                jack_port_changed()
