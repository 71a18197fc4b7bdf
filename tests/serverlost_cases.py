"""The scenarios of test_server_lost.py, each run in a fresh process by that test: libjack
serves one JACK server per process, and a process whose clients talk to two servers (the
suite's and a private one) can crash. Run as `python serverlost_cases.py CASE SERVER`: it
starts the private server SERVER, prints "SERVER <pid>", runs CASE and exits 0 (passed),
77 (skipped, the reason printed) or 1 (failed, the traceback printed). Whatever happens, the
server is stopped and its entry in JACK's registry reclaimed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEMPO = 120.0


def case_ports(server) -> None:
    """improv's ports notice within a second that their server died."""
    from improv.live.clock import RealClock
    from improv.live.ports import open_input, open_output
    from improv.live.inputqueue import InputQueue

    inq = InputQueue(RealClock())
    midi_in = open_input(inq, "jack", virtual="dies-in")
    out = open_output("jack", virtual="dies-out")
    try:
        assert midi_in.alive() and out.alive()
        assert midi_in.guard is not None and midi_in.guard.kicker is not None  # the sysex bound runs
        server.send_signal(signal.SIGKILL)
        server.wait(5)
        killed = time.monotonic()
        while (midi_in.alive() or out.alive()) and time.monotonic() - killed < 5.0:
            time.sleep(0.01)
        noticed = time.monotonic() - killed
        assert not midi_in.alive() and not out.alive()
        assert noticed < 1.0, f"noticed after {noticed:.2f} s"
        assert "JACK server stopped" in midi_in.failed and "JACK server stopped" in out.failed
    finally:
        midi_in.close()  # on a dead server: must neither hang nor raise
        out.close()


def case_jam(server, workdir: Path, device: bool = False) -> None:
    """A jam whose server dies ends by itself, says why, exits 1 and writes its recording.
    `device`: its input a port it opened (`--in`), which an unplug would have it wait for."""
    from improv.bench.jackprobe import Player
    from jackutil import Jam, note_events, wired

    keys = Player("dies-keys") if device else None
    with Jam(workdir, duration=60, extra=["--tempo", f"{TEMPO:g}"], in_port="dies-keys:out" if device else "") as jam:
        if keys is None:
            wired(jam)
        else:
            time.sleep(0.5)  # (the jam connects to the port as it starts)
        (keys or jam.player).play(note_events([(60, 0.0, 0.5), (64, 0.5, 0.5)], TEMPO),
                                  start=time.perf_counter() + 0.01)
        time.sleep(1.0)
        server.send_signal(signal.SIGKILL)
        server.wait(5)
        killed = time.monotonic()
        rc = jam.wait(timeout=15)
        took = time.monotonic() - killed
        log = jam.stderr()
        recs = jam.recordings()
    assert took < 5.0, f"the jam took {took:.1f} s to end after its server died:\n{log[-2000:]}"
    assert rc == 1, f"exit {rc}:\n{log[-2000:]}"
    assert "JACK server stopped" in log and "port gone" in log, log[-2000:]
    assert len(recs) == 1, f"the recording must be written:\n{log[-2000:]}"


def case_stall(server, workdir: Path) -> None:
    """A jam stopped while its JACK server stalls (a busy machine: a server that is not
    real-time took 3-10 s, once over 30 s, to let a jam's ports go) still releases the held
    note, writes its recording, says so and exits 0, within a few seconds (the ports are given
    `improv.live.ownprocess.LET_GO_S`, 2 s): closing its ports waited on the server for as long as
    it stalled (python-rtmidi holds the GIL meanwhile, so nothing else in the jam could run)."""
    from jackutil import Jam, wired

    bound = 6.0  # seconds from the stall (room for a busy machine)

    with Jam(workdir, duration=60, extra=["--tempo", f"{TEMPO:g}"]) as jam:
        wired(jam)
        jam.player.send([0x90, 50, 80])  # a key held through the end
        assert jam.listener.wait(lambda a: any(x.is_note_on and x.data[1] == 50 for x in a), timeout=5)
        jam.proc.send_signal(signal.SIGTERM)
        released = jam.listener.wait(lambda a: any(x.is_note_off and x.data[1] == 50 for x in a), timeout=15)
        time.sleep(0.05)  # (a few periods: the server has begun a cycle after the note-off, as it did long ago)
        server.send_signal(signal.SIGSTOP)  # the note is out: now the server stops answering
        stalled = time.monotonic()
        try:
            rc = jam.proc.wait(bound + 6.0)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - stalled
        server.send_signal(signal.SIGCONT)
        if rc is None:
            rc = jam.wait(timeout=30)
        log = jam.stderr()
        recs = jam.recordings()
    assert released, f"the held key was not released:\n{log[-2000:]}"
    assert took < bound, f"the jam took {took:.1f} s to end with its server stalled:\n{log[-2000:]}"
    assert rc == 0, f"exit {rc}:\n{log[-2000:]}"
    assert "session ended (SIGTERM)" in log and "recorded to" in log, log[-2000:]
    assert len(recs) == 1 and not list((workdir / "sessions").glob("*.journal")), log[-2000:]


def case_names(server) -> None:
    """Two jams asking for the same virtual input get two names, and the second is told."""
    from improv.live.clock import RealClock
    from improv.live.ports import open_input
    from improv.live.inputqueue import InputQueue

    inq = InputQueue(RealClock())
    first = open_input(inq, "jack", virtual="keys")
    second = open_input(inq, "jack", virtual="keys")
    try:
        assert first.name == "keys" and not first.notice
        assert second.name == "keys 2" and "'keys' exists already" in second.notice, second.notice
    finally:
        second.close()
        first.close()


def case_silent(server, workdir: Path) -> None:
    """A JACK server that takes connections and never answers (stopped; stuck on a busy
    machine) held a jam's first client in libjack's handshake for ever: the jam froze at its
    start, said nothing, and neither Ctrl-C nor SIGTERM ended it. Now the jam says what it
    waits for, Ctrl-C gives up at once, and past the wait it ends in one line, exit 2."""
    import select

    server.send_signal(signal.SIGSTOP)
    try:
        cmd = [sys.executable, "-m", "improv", "jam", "--duration", "5", "--no-record", "--no-view"]
        jam = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        said, begun = "", time.monotonic()
        try:
            while "waiting for the JACK server" not in said and time.monotonic() - begun < 20:
                if select.select([jam.stderr], [], [], 0.5)[0]:
                    line = jam.stderr.readline()
                    if not line:
                        break
                    said += line
            assert "waiting for the JACK server" in said, f"nothing said after {time.monotonic() - begun:.1f} s: {said!r}"
            jam.send_signal(signal.SIGINT)
            pressed = time.monotonic()
            rc = jam.wait(10)
            took = time.monotonic() - pressed
            said += jam.stderr.read()
        finally:
            if jam.poll() is None:
                jam.kill()
                jam.wait()
        assert rc == 0 and took < 3.0, f"exit {rc} {took:.1f} s after Ctrl-C:\n{said}"
        assert "session ended (interrupted) before it started" in said, said
        # left to wait: a one-line error once the wait is over (shortened here; 30 s in a jam)
        script = ("import sys; import improv.live.jackwatch as w; w.OPEN_WAIT_S = 3.0; from improv.cli import main; "
                  "sys.exit(main(['jam', '--duration', '5', '--no-record', '--no-view']))")
        begun = time.monotonic()
        done = subprocess.run([sys.executable, "-c", script], cwd=workdir, capture_output=True, text=True, timeout=30)
        took = time.monotonic() - begun
        lines = [x for x in done.stderr.splitlines() if x.startswith("improv jam:")]
        assert done.returncode == 2 and took < 15, f"exit {done.returncode} after {took:.1f} s:\n{done.stderr}"
        assert len(lines) == 1 and "does not answer (waited 3 s)" in lines[0] and "Traceback" not in done.stderr, \
            done.stderr
    finally:
        server.send_signal(signal.SIGCONT)


def reclaim(name: str) -> None:
    """Start and cleanly stop a server named `name`: that frees the entry a killed one left in
    JACK's registry (8 servers a machine at most), and its semaphores."""
    from improv.bench.jackprobe import start_private_server, stop_private_server

    try:
        stop_private_server(start_private_server(name, period=128))
    finally:
        for leftover in Path("/dev/shm").glob(f"jack_sem.*_{name}_*"):
            leftover.unlink(missing_ok=True)


def main(case: str, name: str, workdir: str) -> int:
    from improv.bench.jackprobe import jack_unavailable, start_private_server, stop_private_server

    if case == "reclaim":
        reclaim(name)
        return 0
    from improv.errors import PortError

    try:
        server = start_private_server(name, period=128)
    except PortError as e:
        print(f"SKIP a private JACK server cannot start here: {e}", flush=True)
        return 77
    print(f"SERVER {server.pid}", flush=True)
    try:
        reason = jack_unavailable()
        if reason:
            print(f"SKIP {reason}", flush=True)
            return 77
        if case in ("jam", "jam_device", "stall", "silent"):
            {"jam": case_jam, "jam_device": lambda *a: case_jam(*a, device=True), "stall": case_stall,
             "silent": case_silent}[case](server, Path(workdir))
        else:
            {"ports": case_ports, "names": case_names}[case](server)
        return 0
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        stop_private_server(server)
        if server.returncode == -signal.SIGKILL:
            reclaim(name)
        for leftover in Path("/dev/shm").glob(f"jack_sem.*_{name}_*"):
            leftover.unlink(missing_ok=True)


if __name__ == "__main__":
    os.environ.pop("JACK_DEFAULT_SERVER", None)
    sys.exit(main(*sys.argv[1:4]))
