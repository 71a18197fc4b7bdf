"""A MIDI server that dies mid-set is noticed within a second: each test starts a private JACK
server (dummy driver), opens improv's ports on it, kills it with SIGKILL and watches what
improv does. Skipped, saying why, where jackd or python-rtmidi's JACK API is missing."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from improv.bench.jackprobe import start_private_server, stop_private_server, unique
from improv.live.clock import RealClock
from improv.live.ports import InputQueue, open_input, open_output
from jackutil import Jam, note_events, require_jack, wired

TEMPO = 120.0


@pytest.fixture
def private_server():
    """A private jackd for this test (the environment points at it while the test runs)."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt install jackd2)")
    import rtmidi

    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        pytest.skip("python-rtmidi was built without the JACK API")
    old = os.environ.get("JACK_DEFAULT_SERVER")
    name = unique("improv-dies")
    proc = start_private_server(name, period=128)
    try:
        yield proc
    finally:
        stop_private_server(proc)
        if proc.returncode == -signal.SIGKILL:
            # A killed server leaves its entry in JACK's shared registry (8 servers a machine at
            # most), reclaimed only by a server of the same name: start one and stop it cleanly.
            stop_private_server(start_private_server(name, period=128))
        for leftover in Path("/dev/shm").glob(f"jack_sem.*_{name}_*"):
            leftover.unlink(missing_ok=True)
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old


def test_ports_report_a_dead_server_within_a_second(private_server):
    inq = InputQueue(RealClock())
    midi_in = open_input(inq, "jack", virtual="dies-in")
    device_in = None
    out = open_output("jack", virtual="dies-out")
    try:
        assert midi_in.alive() and out.alive()
        assert midi_in.guard is not None and midi_in.guard.kicker is not None  # the sysex bound runs
        private_server.send_signal(signal.SIGKILL)
        private_server.wait(5)
        killed = time.monotonic()
        while (midi_in.alive() or out.alive()) and time.monotonic() - killed < 5.0:
            time.sleep(0.01)
        noticed = time.monotonic() - killed
        assert not midi_in.alive() and not out.alive()
        assert noticed < 1.0, f"noticed after {noticed:.2f} s"
        assert "JACK server stopped" in midi_in.failed and "JACK server stopped" in out.failed
    finally:
        for port in (midi_in, device_in, out):
            if port is not None:
                port.close()  # on a dead server: must neither hang nor raise


def test_a_jam_whose_server_dies_stops_says_why_and_writes_the_recording(private_server, tmp_path):
    require_jack()
    with Jam(tmp_path, duration=60, extra=["--tempo", f"{TEMPO:g}"]) as jam:
        wired(jam)
        jam.player.play(note_events([(60, 0.0, 0.5), (64, 0.5, 0.5)], TEMPO), start=time.perf_counter() + 0.01)
        time.sleep(1.0)
        private_server.send_signal(signal.SIGKILL)
        private_server.wait(5)
        killed = time.monotonic()
        rc = jam.wait(timeout=15)
        took = time.monotonic() - killed
        log = jam.stderr()
        recs = jam.recordings()
    assert took < 5.0, f"the jam took {took:.1f} s to end after its server died:\n{log[-2000:]}"
    assert rc == 1, f"exit {rc}:\n{log[-2000:]}"
    assert "JACK server stopped" in log and "port gone" in log, log[-2000:]
    assert len(recs) == 1, f"the recording must be written:\n{log[-2000:]}"


def test_two_jams_asking_for_the_same_virtual_input_get_two_names(private_server):
    inq = InputQueue(RealClock())
    first = open_input(inq, "jack", virtual="keys")
    second = open_input(inq, "jack", virtual="keys")
    try:
        assert first.name == "keys" and not first.notice
        assert second.name == "keys 2" and "'keys' exists already" in second.notice
    finally:
        second.close()
        first.close()
