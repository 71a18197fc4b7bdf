"""Helpers for tests over a real JACK server: skip cleanly, run `improv jam`, play and listen.

Every wait is bounded: a test fails with the jam's stderr rather than hanging.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import pytest

from improv.live.jackprobe import Arrival, Listener, Patchbay, Player, jack_unavailable

ROOT = Path(__file__).resolve().parent.parent
_counter = itertools.count()


def require_jack() -> None:
    """Skip the calling test (with the reason) unless a JACK server runs and rtmidi has JACK."""
    reason = jack_unavailable()
    if reason:
        pytest.skip(f"needs a JACK server: {reason}")


def unique(stem: str) -> str:
    """A port or client name no other test (or helper session) uses."""
    return f"{stem}-{os.getpid()}-{next(_counter)}"


def note_events(notes: Sequence[tuple[int, float, float]], tempo: float, channel: int = 1,
                velocity: int = 90) -> list[tuple[float, list[int]]]:
    """Readable `(pitch, start_beats, dur_beats)` -> `(offset_seconds, bytes)` on a channel 1-16."""
    spb = 60.0 / tempo
    out: list[tuple[float, list[int]]] = []
    for pitch, start, dur in notes:
        out.append((start * spb, [0x90 | (channel - 1), pitch, velocity]))
        out.append(((start + dur) * spb, [0x80 | (channel - 1), pitch, 0]))
    return sorted(out, key=lambda e: (e[0], e[1][0] != 0x80 | (channel - 1)))


class Jam:
    """`python3 -m improv jam --midi-api jack ...` in a subprocess, wired to a player and a listener.

    Usage::

        with Jam(tmp_path, duration=8, extra=["--tempo", "120"]) as jam:
            jam.player.play(events)
            jam.listener.wait(...)

    On exit the jam is stopped (SIGTERM) if still running, and the clients are closed.

    Args:
        tmp: a folder for the recording and the jam's logs.
        duration: `--duration` in seconds.
        extra: more flags for `improv jam`.
        record: pass `--record tmp/sessions` (else `--no-record`).
        start_timeout: seconds to wait for the jam's ports to appear.
    """

    def __init__(self, tmp: Path, duration: float, extra: Sequence[str] = (), record: bool = True,
                 start_timeout: float = 30.0) -> None:
        self.tmp = Path(tmp)
        self.record_dir = self.tmp / "sessions"
        self.vin = unique("e2e-in")
        self.vout = unique("e2e-out")
        self.cmd = [sys.executable, "-m", "improv", "jam", "--midi-api", "jack",
                    "--virtual-in", self.vin, "--virtual-out", self.vout, "--duration", str(duration)]
        self.cmd += ["--record", str(self.record_dir)] if record else ["--no-record"]
        self.cmd += list(extra)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.player: Player | None = None
        self.listener: Listener | None = None
        self.patchbay: Patchbay | None = None
        self.started_at = 0.0  # perf_counter when the jam's ports were found and wired

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "Jam":
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   JACK_NO_START_SERVER="1", PYTHONUNBUFFERED="1")
        self._out = open(self.tmp / "jam.stdout", "wb")
        self._err = open(self.tmp / "jam.stderr", "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        try:
            self.patchbay = Patchbay(unique("e2e-patch"))
            self.player = Player(unique("e2e-player"))
            self.listener = Listener(unique("e2e-listener"))
            jam_in = self._wait_port(self.vin, inputs=True)
            jam_out = self._wait_port(self.vout, inputs=False)
            self.patchbay.connect(f"{self.player.client}:{self.player.port_name}", jam_in)
            self.patchbay.connect(jam_out, f"{self.listener.client}:{self.listener.port_name}")
            self.jam_in, self.jam_out = jam_in, jam_out
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.started_at = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop(timeout=10.0)
        for client in (self.player, self.listener, self.patchbay):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing a client whose server went away must not mask the test's error
                    pass
        self._out.close()
        self._err.close()

    def _wait_port(self, name: str, inputs: bool) -> str:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"improv jam exited ({self.proc.returncode}) before its ports appeared:\n"
                            f"{self.stderr()[-2000:]}")
            found = self.patchbay.find(name, inputs)
            if found:
                return found
            time.sleep(0.05)
        pytest.fail(f"improv jam made no port {name!r} within {self.start_timeout:.0f} s:\n{self.stderr()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig` and wait (bounded) for the exit code; kill and fail when it hangs."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        """Wait (bounded) for the jam to exit on its own; its exit code."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail(f"improv jam did not exit within {timeout:.0f} s:\n{self.stderr()[-2000:]}")

    # -- what it did ----------------------------------------------------------------------
    def stderr(self) -> str:
        self._err.flush()
        return (self.tmp / "jam.stderr").read_text(errors="replace")

    def stdout(self) -> str:
        self._out.flush()
        return (self.tmp / "jam.stdout").read_text(errors="replace")

    def recordings(self) -> list[Path]:
        return sorted(self.record_dir.glob("*.mid"))

    def arrivals(self, channel: int | None = None) -> list[Arrival]:
        assert self.listener is not None
        return [a for a in self.listener.arrivals if channel is None or a.channel == channel]
