"""Helpers for tests over a real JACK server: skip cleanly, run `improv jam`, play and listen.

The clients themselves live in improv/bench/jackprobe.py (the bench uses them too). Every
wait is bounded: a test fails with the jam's stderr rather than hanging.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import pytest

from improv.bench.jackprobe import jack_unavailable, unique
from improv.bench.jamprocess import JamFailed, JamProcess

ROOT = Path(__file__).resolve().parent.parent
PADS_CH = 10  # a keyboard's drum pads (improv/live/player.py `is_pad`)
# The player spins before each note while the listener's reader and the jam's log reader
# want the GIL: switch threads often, so each sends and reads on time (tests only).
sys.setswitchinterval(0.0002)

__all__ = ["ROOT", "Jam", "SenderProcess", "check_transport", "hold_the_gil", "note_dropped", "note_events",
           "require_jack", "require_jam", "unique", "wired"]


def require_jack() -> None:
    """Skip the calling test (with the reason) unless a JACK server runs and rtmidi has JACK."""
    reason = jack_unavailable()
    if reason:
        pytest.skip(f"needs a JACK server: {reason}")


def require_jam() -> None:
    """Skip unless JACK runs and the `jam` command exists."""
    require_jack()
    from improv.cli import COMMANDS

    if "jam" not in COMMANDS:
        pytest.skip("improv has no `jam` command yet")


def note_events(notes: Sequence[tuple[int, float, float]], tempo: float, channel: int = 1,
                velocity: int = 90) -> list[tuple[float, list[int]]]:
    """Readable `(pitch, start_beats, dur_beats)` -> `(offset_seconds, bytes)` on a channel 1-16.

    At equal times note-offs come first, as a player's fingers do.
    """
    spb = 60.0 / tempo
    off = 0x80 | (channel - 1)
    out: list[tuple[float, list[int]]] = []
    for pitch, start, dur in notes:
        out.append((start * spb, [0x90 | (channel - 1), pitch, velocity]))
        out.append(((start + dur) * spb, [off, pitch, 0]))
    return sorted(out, key=lambda e: (e[0], e[1][0] != off))


class Jam(JamProcess):
    """`JamProcess` whose failures to start or stop fail the test with the jam's stderr."""

    def __init__(self, tmp: Path, duration: float, extra: Sequence[str] = (), record: bool = True,
                 start_timeout: float = 30.0, in_port: str | None = "", out_port: str = "") -> None:
        # The partner a user gets (the model, in its worker process) unless a test asks for another.
        super().__init__(tmp, duration, extra, record, start_timeout, in_port, out_port)

    def __enter__(self) -> "Jam":
        try:
            return super().__enter__()
        except JamFailed as e:
            pytest.fail(str(e))

    def wait(self, timeout: float) -> int:
        try:
            return super().wait(timeout)
        except JamFailed as e:
            pytest.fail(str(e))


def wired(jam: JamProcess, timeout: float = 10.0) -> None:
    """Wait until a probe (a volume CC: thru passes it, it starts no call) comes back through
    the jam: the ports are connected and the session listens. Probes are repeated, since
    one sent in the very first JACK cycles of a connection may be lost."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mark = time.perf_counter()
        jam.player.send([0xB0, 7, 100])
        if jam.listener.wait(lambda a: any(x.t > mark and x.data == (0xB0, 7, 100) for x in a), timeout=0.2):
            return
    pytest.fail(f"no probe came through the jam within {timeout:.0f} s:\n{jam.stderr()[-2000:]}")


def note_dropped(what: str) -> None:
    """Say (in the test's captured output) that JACK dropped MIDI in this run: see
    `check_transport`."""
    print(f"JACK dropped MIDI: {what}")


def _notes(items) -> list[tuple[str, int | str]]:
    """(on|off, key) of each note message in `(time, bytes or mido message)` items, in time
    order (within one time, as given): the key is its pitch, or "pad N" on channel 10 (a
    drum pad, which the jam passes through and records on its own channel)."""
    out: list[tuple[str, int | str]] = []
    for _, m in sorted(items, key=lambda item: item[0]):
        data = tuple(m.bytes()) if hasattr(m, "bytes") else tuple(m)
        if len(data) == 3 and data[0] & 0xF0 in (0x80, 0x90):
            key = f"pad {data[1]}" if data[0] & 0x0F == PADS_CH - 1 else data[1]
            out.append(("on" if data[0] & 0xF0 == 0x90 and data[2] > 0 else "off", key))
    return out


def _track(recording: Path, name: str) -> list[tuple[int, object]]:
    import mido

    for track in mido.MidiFile(recording).tracks:
        if track.name == name:
            ticks, out = 0, []
            for msg in track:
                ticks += msg.time
                if not msg.is_meta:
                    out.append((ticks, msg))
            return out
    return []


def _by_key(notes: list[tuple[str, int | str]]) -> dict[int | str, list[str]]:
    """(on|off, key) messages -> each key's on/off sequence."""
    out: dict[int | str, list[str]] = {}
    for kind, pitch in notes:
        out.setdefault(pitch, []).append(kind)
    return out


def check_transport(sent, recording: Path, arrivals, thru: bool = True, player_ch: int = 1,
                    partner_ch: int = 2) -> list[str]:
    """What JACK lost between the player and the jam, or between the jam and the listener
    (each said with `note_dropped`; returned). A JACK client whose period is not run in
    time loses that period's MIDI (jackd logs `client = ... was not finished`): on these
    shared 2-core VMs the dummy driver does that every few seconds of streaming. Most
    drops change nothing a test checks; one that does (a lost note-off holds a call open)
    fails the test, which pytest-rerunfailures then runs again (tests/conftest.py), and
    this says why in the failure's output.

    Args:
        sent: the player's `(time, bytes)` as sent.
        recording: the jam's session file: what it heard (player) and played (partner).
        arrivals: the listener's.
        thru: the player's notes should come back (the recording's player notes, close-time
            releases included).
    """
    found = []
    played = _notes(sent)
    heard = _notes(_track(recording, "player"))  # (then the keys still held at the end, released)
    # Key by key: the file writes a release before a note-on of another key on the same tick,
    # which the player may have sent the other way round a fraction of a tick apart.
    played_keys, heard_keys = _by_key(played), _by_key(heard)
    for pitch, kinds in sorted(played_keys.items(), key=lambda kv: str(kv[0])):
        got = heard_keys.get(pitch, [])
        if got[:len(kinds)] != kinds:
            i = next(i for i, k in enumerate(kinds) if i >= len(got) or got[i] != k)
            found.append(f"the jam's recording differs from what the player sent on key {pitch} at its message "
                         f"{i + 1} of {len(kinds)}: {kinds[i]} sent, {got[i] if i < len(got) else None} recorded")
            break
    got = {ch: _notes((a.t, a.data) for a in arrivals if a.data and a.data[0] & 0x0F == ch - 1)
           for ch in (player_ch, partner_ch, PADS_CH)}
    if any(isinstance(k, str) for k in heard_keys):  # drum pads played: they come back on their channel
        got[player_ch] = got[player_ch] + got[PADS_CH]  # (each key's messages in their order: all `_by_key` needs)
    if thru and _by_key(got[player_ch]) != heard_keys:
        found.append(f"the listener got {len(got[player_ch])} of the {len(heard)} note messages the jam passed through")
    ons = sum(n[0] == "on" for n in _notes(_track(recording, "partner")))
    if sum(n[0] == "on" for n in got[partner_ch]) != ons:
        found.append(f"the listener got {sum(n[0] == 'on' for n in got[partner_ch])} of the {ons} partner notes")
    for what in found:
        note_dropped(what)
    return found


class SenderProcess:
    """A `Player` in another process (so it keeps time while this one holds the GIL) that
    sends `n` note-ons `spacing` seconds apart on `go()`: note i is (0x90, 40 + i % 40,
    1 + i % 100). `expected` lists them; leave the `with` block to wait for it to finish."""

    def __init__(self, n: int, spacing: float) -> None:
        self.client = unique("t-sender")
        self.expected = [(0x90, 40 + i % 40, 1 + i % 100) for i in range(n)]
        script = ("import time, sys\n"
                  "from improv.bench.jackprobe import Player\n"
                  f"p = Player({self.client!r})\n"
                  "sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.readline()\n"
                  f"p.play([({spacing} * i, m) for i, m in enumerate({self.expected!r})])\n"
                  "time.sleep(0.2); p.close()\n")
        self.proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def __enter__(self) -> "SenderProcess":
        assert self.proc.stdout.readline() == "ready\n", "the sender process did not start"
        return self

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def __exit__(self, *exc: object) -> None:
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def hold_the_gil(seconds: float) -> float:
    """Sleep in a C call that keeps the GIL (no other thread of this process runs, and the
    CPUs stay free for JACK); returns the seconds it held it."""
    t = time.perf_counter()
    ctypes.PyDLL(None).usleep(int(seconds * 1e6))
    return time.perf_counter() - t
