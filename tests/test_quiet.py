"""The sound libraries' noise is held back, and `improv ports` names the MIDI API in use in
one clean line per missing system (no `ALSA lib ...` or JACK lines on the terminal)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from improv.live.quiet import is_noise, quiet_stderr

ROOT = Path(__file__).resolve().parent.parent
NOISE = [
    "ALSA lib seq_hw.c:466:(snd_seq_hw_open) open /dev/snd/seq failed: No such file or directory",
    "Cannot connect to server socket err = No such file or directory",
    "Cannot connect to server request channel",
    "jack server is not running or cannot be started",
    "JackShmReadWritePtr::~JackShmReadWritePtr - Init not done for -1, skipping unlock",
    "Jack::MidiBufferMixdown - invalid source buffer",  # a port closed while a client still reads it
    "Expression 'ret' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1736",
    # Ctrl-C while a JACK client opens: libjack's read from the server is interrupted
    "Cannot read socket fd = 5 err = Interrupted system call",
    "CheckRes error",
    "Could not read result type = 22",
    "Client name = improv conflits with another running client",
    "Cannot connect to the server",
    "Cannot open improv client",
]


@pytest.mark.parametrize("line", NOISE)
def test_library_noise_is_recognised(line):
    assert is_noise(line)


@pytest.mark.parametrize("line", ["improv jam: no MIDI system", "Traceback (most recent call last):",
                                  "MIDI: using JACK, since no ALSA sequencer", "Cannot write sessions/x.mid"])
def test_other_lines_are_not_noise(line):
    assert not is_noise(line)


def test_noise_written_to_fd_2_is_dropped_and_the_rest_kept(capfd):
    with quiet_stderr() as dropped:
        os.write(2, ("\n".join(NOISE[:3]) + "\nsomething else a thread said\n").encode())  # as a C library writes
    err = capfd.readouterr().err
    assert err == "something else a thread said\n"
    assert dropped == NOISE[:3]
    os.write(2, b"after\n")  # fd 2 is back
    assert capfd.readouterr().err == "after\n"


def test_fd_2_is_restored_when_the_block_raises(capfd):
    with pytest.raises(RuntimeError):
        with quiet_stderr():
            raise RuntimeError("boom")
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


def run_ports(env_extra, *args):
    env = {k: v for k, v in os.environ.items() if k != "IMPROV_MIDI_API"}
    env.update(env_extra, PYTHONPATH=str(ROOT), JACK_NO_START_SERVER="1")
    return subprocess.run([sys.executable, "-m", "improv", "ports", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_ports_with_no_midi_system_prints_one_line_each_and_no_noise():
    server = f"improv-no-such-server-{os.getpid()}"
    proc = run_ports({"JACK_DEFAULT_SERVER": server})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # no library noise, nothing else either
    lines = proc.stdout.splitlines()
    api = next(line for line in lines if line.startswith("MIDI API: "))
    assert "platform default" not in api or "ALSA (the platform default)" in api
    notes = [line for line in lines if line.startswith("note: ")]
    if not os.path.exists("/dev/snd/seq") and sys.platform.startswith("linux"):
        assert api == "MIDI API: none"
        assert notes[0] == "note: no ALSA sequencer: /dev/snd/seq is missing (load the snd-seq kernel module)"
        assert notes[1].startswith(f"note: no JACK server '{server}' running (start one")
    assert len(notes) == len(set(notes))  # one line per missing system, not one per client opened


@pytest.mark.jack
def test_ports_names_the_fallback_to_jack():
    from improv.bench.jackprobe import jack_unavailable

    reason = jack_unavailable()
    if reason:
        pytest.skip(f"needs a JACK server: {reason}")
    proc = run_ports({})
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    api = proc.stdout.splitlines()[0]
    if not os.path.exists("/dev/snd/seq"):
        assert api == "MIDI API: JACK, since no ALSA sequencer: /dev/snd/seq is missing (load the snd-seq kernel module)"
    else:
        assert api in ("MIDI API: ALSA (the platform default)",) or api.startswith("MIDI API: JACK, since")
    proc = run_ports({}, "--midi-api", "jack")
    assert proc.stdout.splitlines()[0] == "MIDI API: JACK (asked for)" and proc.stderr == ""


def test_blocks_nest(capfd):
    with quiet_stderr():
        with quiet_stderr() as inner:
            os.write(2, (NOISE[0] + "\nkept\n").encode())
        os.write(2, (NOISE[1] + "\n").encode())
    assert capfd.readouterr().err == "kept\n" and inner == NOISE[:1]
