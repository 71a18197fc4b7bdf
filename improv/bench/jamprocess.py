"""`python3 -m improv jam --midi-api jack ...` in a subprocess, wired to a scripted player
and a listener (improv/bench/jackprobe.py): for the end-to-end tests and `improv bench`.
Every wait is bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from improv.errors import ImprovError
from improv.bench.jackprobe import Arrival, Listener, Patchbay, Player, unique


class JamFailed(ImprovError):
    """The `improv jam` under test did not start, or did not stop, in time."""


class JamProcess:
    """`python3 -m improv jam --midi-api jack` in a subprocess, wired to a player and a listener.

    On `__enter__` it starts the jam, waits (bounded) for its virtual ports, and connects
    `player` -> jam input and jam output -> `listener`. On `__exit__` it stops the jam
    (SIGTERM, then SIGKILL) if it still runs, and closes the clients.

    Args:
        workdir: a folder for the recording (`workdir/sessions`) and the jam's logs.
        duration: `--duration` in seconds.
        extra: more flags for `improv jam`.
        record: pass `--record workdir/sessions` (else `--no-record`).
        start_timeout: seconds to wait for the jam's ports.
        in_port: open this existing port with `--in` instead of a virtual input (the
            player is then not wired to the jam: whoever owns the port plays); None: no
            input flag, the jam opens what it finds (nor is the player wired then).
        out_port: play on this existing port with `--out` instead of a virtual output
            (the listener is then not wired to the jam: whoever owns the port hears it).

    Raises:
        JamFailed: the jam exited or made no ports within `start_timeout`.
    """

    def __init__(self, workdir: Path, duration: float, extra: Sequence[str] = (), record: bool = True,
                 start_timeout: float = 30.0, in_port: str | None = "", out_port: str = "") -> None:
        self.workdir = Path(workdir)
        self.record_dir = self.workdir / "sessions"
        self.vin = unique("improv-in")
        self.vout = unique("improv-out")
        self.in_port, self.out_port = in_port, out_port
        inputs = ["--in", in_port] if in_port else [] if in_port is None else ["--virtual-in", self.vin]
        outputs = ["--out", out_port] if out_port else ["--virtual-out", self.vout]
        self.cmd = [sys.executable, "-m", "improv", "jam", "--midi-api", "jack", *inputs, *outputs,
                    "--duration", f"{duration:g}"]
        self.cmd += ["--record", str(self.record_dir)] if record else ["--no-record"]
        self.cmd += list(extra)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.player: Player | None = None
        self.listener: Listener | None = None
        self.patchbay: Patchbay | None = None
        self.jam_in = self.jam_out = ""
        self.wired_at = 0.0  # perf_counter seconds when the ports were found and connected

    def __enter__(self) -> "JamProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        root = Path(__file__).resolve().parent.parent.parent
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
                   JACK_NO_START_SERVER="1", PYTHONUNBUFFERED="1")
        self._out = open(self.workdir / "jam.stdout", "wb")
        self._err = open(self.workdir / "jam.stderr", "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=self.workdir, env=env, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        try:
            self.patchbay = Patchbay(unique("probe-patch"))
            self.player = Player(unique("probe-player"))
            self.listener = Listener(unique("probe-listener"))
            if not self.out_port:
                self.jam_out = self._wait_port(self.vout, inputs=False)
            if self.in_port == "":
                self.jam_in = self._wait_port(self.vin, inputs=True)
                self.patchbay.connect(f"{self.player.client}:{self.player.port_name}", self.jam_in)
            if not self.out_port:
                self.patchbay.connect(self.jam_out, f"{self.listener.client}:{self.listener.port_name}")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.wired_at = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop(timeout=10.0)
            except JamFailed:
                pass
        for client in (self.player, self.listener, self.patchbay):
            if client is not None:
                try:
                    client.close()
                except Exception:  # a client whose server went away must not mask the real error
                    pass
        self.player = self.listener = self.patchbay = None
        self._out.close()
        self._err.close()

    def children(self) -> list[int]:
        """The jam's child processes (its partner's worker), on Linux (/proc); else []."""
        if self.proc is None:
            return []
        pids: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids += [int(x) for x in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
        return sorted(set(pids))

    def _wait_port(self, name: str, inputs: bool) -> str:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise JamFailed(f"improv jam exited ({self.proc.returncode}) before its ports appeared: "
                                f"{self.stderr()[-2000:]}")
            found = self.patchbay.find(name, inputs)
            if found:
                return found
            time.sleep(0.05)
        raise JamFailed(f"improv jam made no port {name!r} within {self.start_timeout:.0f} s: {self.stderr()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig` and wait (bounded) for the exit code.

        Raises:
            JamFailed: it did not exit within `timeout` seconds (it is killed).
        """
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        """Wait (bounded) for the jam to exit; its exit code.

        Raises:
            JamFailed: it did not exit within `timeout` seconds (it is killed).
        """
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise JamFailed(f"improv jam did not exit within {timeout:.0f} s: {self.stderr()[-2000:]}") from None

    def rss_kb(self, own: bool = False) -> int:
        """The jam's resident memory in KiB (0 when unknown).

        Args:
            own: leave out shared memory (RssShmem): JACK maps its whole shared segment (about
                200 MiB on the dummy driver) into every client, the jam included, so VmRSS
                counts memory the jam never allocated.
        """
        fields: dict[str, int] = {}
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssShmem"):
                    fields[key] = int(value.split()[0])
        except (OSError, ValueError, IndexError):
            return 0
        return fields.get("VmRSS", 0) - (fields.get("RssShmem", 0) if own else 0)

    def stderr(self) -> str:
        self._err.flush()
        return (self.workdir / "jam.stderr").read_text(errors="replace")

    def stdout(self) -> str:
        self._out.flush()
        return (self.workdir / "jam.stdout").read_text(errors="replace")

    def recordings(self) -> list[Path]:
        return sorted(self.record_dir.glob("*.mid"))

    def arrivals(self, channel: int | None = None) -> list[Arrival]:
        """What the listener got so far (on one channel 1-16, or all)."""
        return [a for a in self.listener.arrivals if channel is None or a.channel == channel]
