"""A MIDI server that dies mid-set is noticed within a second: each scenario starts a private
JACK server (dummy driver), opens improv's ports (or a jam) on it, kills it with SIGKILL and
watches what improv does. The scenarios live in serverlost_cases.py and each runs in a fresh
process (libjack serves one server per process). Skipped, saying why, where jackd or
python-rtmidi's JACK API is missing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from improv.bench.jackprobe import unique

CASES = Path(__file__).resolve().parent / "serverlost_cases.py"


def run_case(case: str, tmp_path: Path) -> None:
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt install jackd2)")
    import rtmidi

    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        pytest.skip("python-rtmidi was built without the JACK API")
    name = unique("improv-dies")
    env = {k: v for k, v in os.environ.items() if k != "JACK_DEFAULT_SERVER"}
    env["JACK_NO_AUDIO_RESERVATION"] = "1"
    proc = subprocess.Popen([sys.executable, str(CASES), case, name, str(tmp_path)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    finally:
        _clean_up(name, out if proc.poll() is not None else "", env)
    if proc.returncode == 77:
        pytest.skip(next((line[5:] for line in out.splitlines() if line.startswith("SKIP ")), "no JACK"))
    assert proc.returncode == 0, out[-3000:]


def _clean_up(name: str, out: str, env: dict) -> None:
    """If the case process died before cleaning up, stop its server and reclaim its entry."""
    for line in (out or "").splitlines():
        if line.startswith("SERVER "):
            pid = int(line.split()[1])
            try:  # still running (the case crashed)? only if that pid is still our jackd
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if name.encode() in cmdline:
                os.kill(pid, signal.SIGTERM)  # a clean stop frees its registry entry
    if any(Path("/dev/shm").glob(f"jack_{name}_*")):
        subprocess.run([sys.executable, str(CASES), "reclaim", name, ""], env=env, timeout=60, capture_output=True)


def test_ports_report_a_dead_server_within_a_second(tmp_path):
    run_case("ports", tmp_path)


def test_a_jam_whose_server_dies_stops_says_why_and_writes_the_recording(tmp_path):
    run_case("jam", tmp_path)


def test_a_jam_playing_from_a_port_it_opened_stops_too_when_the_server_dies(tmp_path):
    """(An unplugged keyboard is waited for: improv/live/replug.py. A dead server is not.)"""
    run_case("jam_device", tmp_path)


def test_a_jam_stopped_while_its_server_stalls_still_ends_promptly_and_cleanly(tmp_path):
    run_case("stall", tmp_path)


def test_two_jams_asking_for_the_same_virtual_input_get_two_names(tmp_path):
    run_case("names", tmp_path)


def test_a_jam_whose_server_never_answers_says_so_and_gives_up_in_one_line(tmp_path):
    run_case("silent", tmp_path)
