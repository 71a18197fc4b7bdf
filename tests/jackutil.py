"""Helpers for tests over a real JACK server: skip cleanly, run `improv jam`, play and listen.

The clients themselves live in improv/bench/jackprobe.py (the bench uses them too). Every
wait is bounded: a test fails with the jam's stderr rather than hanging.
"""

from __future__ import annotations

import ctypes
import functools
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import pytest

from improv.bench.jackprobe import jack_unavailable, unique
from improv.bench.jamprocess import JamFailed, JamProcess

ROOT = Path(__file__).resolve().parent.parent
# The player spins before each note while the listener's reader and the jam's log reader
# want the GIL: switch threads often, so each sends and reads on time (tests only).
sys.setswitchinterval(0.0002)

__all__ = ["ROOT", "Jam", "SenderProcess", "check_transport", "hold_the_gil", "note_dropped", "note_events",
           "replay_if_jack_dropped", "require_jack", "require_jam", "unique", "wired"]


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
                 start_timeout: float = 30.0, in_port: str = "") -> None:
        # The partner a user gets (the model, in its worker process) unless a test asks for another.
        super().__init__(tmp, duration, extra, record, start_timeout, in_port)

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


_dropped: list[str] = []  # what `note_dropped` found in the test running now


def note_dropped(what: str) -> None:
    """Note that JACK dropped MIDI in this test run (see `check_transport`): should the test
    then fail, `replay_if_jack_dropped` plays it again."""
    print(f"JACK dropped MIDI: {what}")
    _dropped.append(what)


def _notes(msgs) -> list[tuple[str, int]]:
    """(on|off, pitch) of each note message (raw bytes or mido messages), in order."""
    out = []
    for m in msgs:
        data = tuple(m.bytes()) if hasattr(m, "bytes") else tuple(m)
        if len(data) == 3 and data[0] & 0xF0 in (0x80, 0x90):
            out.append(("on" if data[0] & 0xF0 == 0x90 and data[2] > 0 else "off", data[1]))
    return out


def check_transport(sent, recording: Path, arrivals, thru: bool = True, player_ch: int = 1,
                    partner_ch: int = 2) -> None:
    """Note (`note_dropped`) when JACK lost a note message between the player and the jam,
    or between the jam and the listener. A JACK client whose cycle is not run in time loses
    that cycle's MIDI (jackd logs `client = ... was not finished`): on these shared 2-core
    VMs the dummy driver does that every few seconds of streaming, real-time or not. Most
    drops change nothing a test checks; one that does (a lost note-off keeps a call open)
    makes the test fail, and then it is played again.

    Args:
        sent: the player's `(time, bytes)` as sent.
        recording: the jam's session file: what it heard (player) and played (partner).
        arrivals: the listener's.
        thru: the player's notes should come back (the recording's player notes, close-time
            releases included).
    """
    import mido

    tracks = {t.name: [m for m in t if not m.is_meta] for t in mido.MidiFile(recording).tracks}
    played = _notes(d for _, d in sent)
    heard = _notes(tracks.get("player", []))
    if sorted(heard[:len(played)]) != sorted(played):  # (the file orders messages of one tick its own way)
        note_dropped(f"the jam's recording holds {len(heard)} of the player's {len(played)} note messages")
    got = {ch: _notes(a.data for a in arrivals if a.data and a.data[0] & 0x0F == ch - 1) for ch in (player_ch, partner_ch)}
    if thru and sorted(got[player_ch]) != sorted(heard):
        note_dropped(f"the listener got {len(got[player_ch])} of the {len(heard)} note messages the jam passed through")
    ons = sum(n[0] == "on" for n in _notes(tracks.get("partner", [])))
    if sum(n[0] == "on" for n in got[partner_ch]) != ons:
        note_dropped(f"the listener got {sum(n[0] == 'on' for n in got[partner_ch])} of the {ons} partner notes")


def replay_if_jack_dropped(tries: int = 3):
    """Run a test that failed again (up to `tries` times in all, in a fresh `tmp_path/try-N`)
    when JACK was noted to drop MIDI in that run (`note_dropped`); a failure with no drop
    noted, or on the last try, stands."""
    def wrap(test):
        @functools.wraps(test)
        def run(*args, **kwargs):
            tmp = kwargs.get("tmp_path")
            for n in range(1, tries + 1):
                if tmp is not None:
                    kwargs["tmp_path"] = tmp / f"try-{n}"
                    kwargs["tmp_path"].mkdir()
                _dropped.clear()
                try:
                    return test(*args, **kwargs)
                except (AssertionError, pytest.fail.Exception) as e:
                    if not _dropped or n == tries:
                        raise
                    print(f"try {n} failed after JACK dropped MIDI ({'; '.join(_dropped)}): playing it again\n{e}")
        return run
    return wrap


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
