"""`improv play` stopped by a signal leaves no note hanging: over JACK, a dense recording is
played into a listener and stopped mid-way by SIGTERM, SIGINT, SIGHUP or SIGQUIT; every note-on the
listener got must have had its own note-off (all-notes-off is not counted: not every synth
honours it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import mido
import pytest

from improv.bench.jackprobe import Listener, unique
from improv.core.formats.midifile import Recording, TimedMessage, save_recording
from jackutil import ROOT, require_jack

pytestmark = pytest.mark.jack  # (over the JACK server: skipped when none runs, rerun after a failure)


def dense_session(seconds: float = 20.0) -> Recording:
    """Overlapping notes on three parts: at any moment a dozen notes sound."""
    events = []
    t = 0.0
    k = 0
    while t < seconds:
        for part, ch, base in (("player", 0, 60), ("partner", 1, 48), ("bass", 3, 30)):
            pitch = base + (k * 5) % 24
            events.append(TimedMessage(t, part, mido.Message("note_on", channel=ch, note=pitch, velocity=80)))
            events.append(TimedMessage(t + 0.6, part, mido.Message("note_off", channel=ch, note=pitch)))
        t += 0.05
        k += 1
    return Recording(tuple(sorted(events, key=lambda e: e.t)))


def unmatched(arrivals) -> dict[tuple[int, int], int]:
    """(channel, pitch) -> note-ons not followed by a note-off (a hanging note). On a loaded
    machine JACK may lose a message or deliver one twice in an xrun: a note-off with no
    note-on before it hangs nothing, and a message repeated within 20 ms is one."""
    count: dict[tuple[int, int], int] = {}
    last: dict[tuple[int, ...], float] = {}
    for a in arrivals:
        if a.t - last.get(a.data, -1.0) < 0.02:
            continue  # the same message twice within a few periods: a late JACK client's stale buffer, read again
        last[a.data] = a.t
        if a.is_note_on:
            key = (a.channel, a.data[1])
            count[key] = count.get(key, 0) + 1
        elif a.is_note_off and count.get((a.channel, a.data[1])):
            count[(a.channel, a.data[1])] -= 1
    return {k: v for k, v in count.items() if v}


def _play_dense_into_a_listener(tmp_path, name: str) -> tuple[Listener, subprocess.Popen]:
    """`improv play` of `dense_session()` started in a subprocess, its --out a fresh JACK listener."""
    require_jack()
    path = save_recording(dense_session(), tmp_path / "dense.mid")
    listener = Listener(unique(name))
    env = dict(os.environ, IMPROV_MIDI_API="jack", JACK_NO_START_SERVER="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "improv", "play", str(path), "--out", listener.client, "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return listener, proc


@contextmanager
def playing(tmp_path, name: str):
    """`_play_dense_into_a_listener`, once 40 notes have come; stopped and closed after."""
    listener, proc = _play_dense_into_a_listener(tmp_path, name)
    try:
        assert listener.wait(lambda a: sum(x.is_note_on for x in a) >= 40, timeout=20), proc.stderr.read() \
            if proc.poll() is not None else "no notes arrived"
        yield listener, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        listener.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT])
def test_a_signal_stops_play_with_every_note_released(sig, tmp_path):
    with playing(tmp_path, "play-listener") as (listener, proc):
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        listener.wait_quiet(0.3, timeout=3)
        arrivals = list(listener.arrivals)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and f"stopped ({signal.Signals(sig).name})" in out
    ons = sum(a.is_note_on for a in arrivals)
    assert ons >= 40
    assert not unmatched(arrivals), f"hanging after {signal.Signals(sig).name}: {unmatched(arrivals)}"
    assert "ended without closing" not in err, err  # (its sentinel was told it closed: no panic of its own)


def test_play_killed_outright_leaves_nothing_sounding_on_its_output(tmp_path):
    """Killed with no chance to close (SIGKILL here; the out-of-memory killer, a crash in
    native code or a "Force Quit" alike), play sends no note-off: a dozen notes hung on its
    synth. Its sentinel process outlives it, reads its stdin end with no word that play
    closed, runs `improv panic` on the output (every channel: note-offs and all-notes-off)
    and says so on play's terminal. (Under a second over JACK here, on a synchronous server
    too; the wait is long because a synchronous server stalls some 25 s as it waits out a
    killed jam's clients, and could for play's.)"""
    with playing(tmp_path, "play-killed") as (listener, proc):
        proc.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        assert unmatched(listener.arrivals), "nothing was sounding at the kill: the test proves nothing"
        silenced = listener.wait(lambda a: not unmatched(a) and {x.channel for x in a if x.t > killed and
                                 x.data[0] & 0xF0 == 0xB0 and x.data[1] == 123} == set(range(1, 17)), timeout=60)
        out, err = proc.communicate(timeout=60)  # (its stderr ends when the sentinel, which shares it, ends)
        arrivals = list(listener.arrivals)
    assert proc.returncode == -signal.SIGKILL
    assert silenced, f"still sounding after the kill: {unmatched(arrivals)}\n{err}"
    assert f"improv: the playback ended without closing: all notes off on '{listener.client}:" in err, err


def test_a_file_with_no_notes_is_refused_before_any_output_opens(tmp_path, capsys):
    from improv.cli import main

    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0),
                                      mido.Message("control_change", control=7, value=100, time=960)]))
    mid.save(str(tmp_path / "silent.mid"))
    assert main(["play", str(tmp_path / "silent.mid")]) == 2
    out = capsys.readouterr()
    assert out.err.strip() == f"improv play: {tmp_path / 'silent.mid'} has no notes to play; give a session or MIDI " \
                              "file in which something was played"
    assert "playing" not in out.out


def test_a_drums_only_file_plays_on_the_built_in_synths_kit(tmp_path, capsys, monkeypatch):
    """The built-in synth had no drum kit: a drums-only file was refused, and a song's drums
    were left out of its playback. Channel 10 is played now, as drum hits."""
    import sys

    import numpy as np

    from improv.cli import main
    from improv.live import audio
    from test_audio import FakeSounddevice

    monkeypatch.setitem(sys.modules, "sounddevice", FakeSounddevice())
    sinks = []

    class Kept(audio.SynthSink):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            sinks.append(self)

    monkeypatch.setattr(audio, "SynthSink", Kept)
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack()
    for key in (36, 42, 38, 42):
        track += [mido.Message("note_on", channel=9, note=key, velocity=90), mido.Message("note_off", channel=9,
                                                                                         note=key, time=30)]
    mid.tracks.append(track)
    mid.save(str(tmp_path / "drums.mid"))
    assert main(["play", str(tmp_path / "drums.mid"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert "improv play:" not in out.err and "playing" in out.out and "left out" not in out.out
    engine = sinks[0].engine
    hits = [(source, d1) for _, _, kind, d1, d2, source in engine.pending if kind == 0x90 and d2 > 0]
    assert hits == [(9, 36), (9, 42), (9, 38), (9, 42)] and 9 in engine.kit
    block = np.zeros((1024, 2), np.float32)
    engine.process(block, 1024, now=max(t for t, *_ in engine.pending) + 1.0)  # (the pending all at once)
    assert engine.errors == 0 and np.abs(block).max() > 0.01


def test_play_stops_with_one_line_when_its_output_goes_away(tmp_path):
    """The port `play --out` plays into disappears mid-file (the synth quit, the cable
    pulled): play says so on one line, with where it got to, instead of playing on into
    nothing."""
    listener, proc = _play_dense_into_a_listener(tmp_path, "play-gone")
    try:
        assert listener.wait(lambda a: sum(x.is_note_on for x in a) >= 20, timeout=20), "no notes arrived"
        listener.close()  # the output goes away
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 1 and "Traceback" not in err  # a failure, as the jam's port gone (it was 2: bad input)
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "is gone" in lines[0] and "s into" in lines[0] and "--from" in lines[0], err


def test_looking_for_the_output_never_makes_a_note_late(tmp_path, monkeypatch):
    """The check that the output is still there lists the ports, which takes time on a
    busy MIDI system: it runs only with room before the next message, so a listing of
    20 ms leaves every note on its time (it made the next note 19 ms late)."""
    import time

    import improv.live.ports as ports
    from improv.cli import main

    class SlowListing:
        name = "synth"

        def __init__(self) -> None:
            self.sent: list = []
            self.checks = 0

        def alive(self) -> bool:
            self.checks += 1
            time.sleep(0.02)
            return True

        def send(self, msg, at=None) -> None:
            self.sent.append((time.perf_counter(), msg))

        def close(self) -> None:
            pass

    sink = SlowListing()
    monkeypatch.setattr(ports, "open_output", lambda *a, **k: sink)
    events = []
    for k in range(16):  # a note every 0.2 s for 3.2 s
        events += [TimedMessage(0.2 * k, "player", mido.Message("note_on", channel=0, note=60 + k % 12, velocity=80)),
                   TimedMessage(0.2 * k + 0.1, "player", mido.Message("note_off", channel=0, note=60 + k % 12))]
    path = save_recording(Recording(tuple(sorted(events, key=lambda e: e.t))), tmp_path / "steady.mid")
    assert main(["play", str(path), "--out", "synth", "--quiet"]) == 0
    ons = [t for t, m in sink.sent if m.type == "note_on" and m.velocity > 0]
    assert len(ons) == 16 and sink.checks >= 4  # it did look, several times
    late = [t - ons[0] - 0.2 * i for i, t in enumerate(ons)]
    assert max(late) < 0.012, [round(x * 1000, 1) for x in late]


def _improv(*args: str, **popen) -> subprocess.Popen:
    """`improv ARGS` in a subprocess on the JACK server, its output read as text."""
    env = dict(os.environ, IMPROV_MIDI_API="jack", JACK_NO_START_SERVER="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "improv", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def test_play_sends_to_the_config_files_midi_output_and_out_beats_it(tmp_path):
    """`improv jam --config my.toml` sent the partner to the file's `[midi] output`, and
    `improv play --config my.toml` played the recording on the built-in synth instead; a
    --out given beside the file wins, as it does for the jam."""
    require_jack()
    path = save_recording(dense_session(0.5), tmp_path / "short.mid")
    listener = Listener(unique("play-config"))
    try:
        config = tmp_path / "mine.toml"
        config.write_text(f'[midi]\noutput = "{listener.client}"\n')
        proc = _improv("play", str(path), "--config", str(config), "--quiet")
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert f"through MIDI output '{listener.client}" in out, out
        assert listener.wait(lambda a: sum(x.is_note_on for x in a) >= 10, timeout=5), "no notes arrived"

        config.write_text('[midi]\noutput = "no such port anywhere"\n')
        proc = _improv("play", str(path), "--config", str(config), "--out", listener.client, "--quiet")
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and f"through MIDI output '{listener.client}" in out, err
    finally:
        listener.close()


def test_a_config_files_output_that_is_not_there_is_named_with_the_way_to_play_without_it(tmp_path):
    require_jack()
    path = save_recording(dense_session(0.5), tmp_path / "short.mid")
    config = tmp_path / "mine.toml"
    config.write_text('[midi]\noutput = "no such port anywhere"\n')
    proc = _improv("play", str(path), "--config", str(config))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "playing" not in out, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no such port anywhere" in lines[0], err
    assert lines[0].endswith("that is the config file's [midi] output: --synth plays the built-in synth instead"), err


def test_synth_plays_the_built_in_synth_whatever_the_config_file_names():
    import argparse

    from improv.commands.play import output_port
    from improv.config import Config, override

    cfg = override(Config(), "midi", output="FluidSynth")
    assert output_port(cfg, argparse.Namespace(out=None, synth=False)) == "FluidSynth"
    assert output_port(cfg, argparse.Namespace(out=None, synth=True)) == ""
    assert output_port(cfg, argparse.Namespace(out="IAC", synth=False)) == "IAC"


def test_synth_and_out_ask_for_two_outputs(tmp_path, capsys):
    from improv.cli import main

    with pytest.raises(SystemExit) as e:
        main(["play", str(tmp_path / "x.mid"), "--synth", "--out", "1"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "--synth" in err, err


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_file_loads_ends_play_as_the_user_ended_it(tmp_path, monkeypatch, capsys, signame):
    """Ctrl-C while a long recording loaded raised there (130, "improv play: interrupted"),
    SIGTERM ended play as a command that does not handle signals (143): a playback stopped by
    the user ends with 0 at any moment, as the jam's session does, and no port is opened."""
    import improv.core.formats.midifile as midifile
    import improv.live.ports as ports
    from improv.cli import main

    path = save_recording(dense_session(1.0), tmp_path / "s.mid")
    real = midifile.load_recording

    def signalled(p):
        os.kill(os.getpid(), getattr(signal, signame))
        return real(p)

    opened = []
    monkeypatch.setattr(midifile, "load_recording", signalled)
    monkeypatch.setattr(ports, "open_output", lambda *a, **k: opened.append(a))
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert main(["play", str(path), "--out", "FakeSynth"]) == 0 and not opened
    out = capsys.readouterr()
    assert out.out == f"stopped ({signame}) before playing: nothing played\n" and out.err == ""
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before  # (put back)


def test_a_signal_that_cuts_the_outputs_opening_short_is_the_users_stop_not_a_port_error(tmp_path, monkeypatch,
                                                                                       capsys):
    """A signal as the MIDI client opens interrupts libjack's read from the server: the
    opening fails, and that failure is the signal's, not a missing port's."""
    import improv.live.ports as ports
    from improv.cli import main
    from improv.errors import PortError

    path = save_recording(dense_session(1.0), tmp_path / "s.mid")

    def interrupted_open(api, port):
        os.kill(os.getpid(), signal.SIGINT)
        raise PortError("cannot open MIDI output: Cannot open improv client")

    monkeypatch.setattr(ports, "open_output", interrupted_open)
    assert main(["play", str(path), "--out", "FakeSynth"]) == 0
    out = capsys.readouterr()
    assert out.out == "stopped (SIGINT) before playing: nothing played\n" and out.err == ""


def test_play_freezes_its_set_up_before_the_first_note_and_gives_it_back_after(tmp_path, monkeypatch):
    """`improv play` times its notes on its own thread: a full collection of Python's garbage
    collector mid-file held the GIL (8-13 ms in the jam's process, improv/gctime.py), a note that
    late. Like the jam, it settles (collect, freeze) before the first note and releases after."""
    import gc
    import sys

    import improv.gctime as gctime
    from improv.cli import main
    from improv.live import audio
    from test_audio import FakeSounddevice

    monkeypatch.setitem(sys.modules, "sounddevice", FakeSounddevice())
    order = []

    class Kept(audio.SynthSink):
        def send(self, msg, at=None):
            order.append(("note", gc.get_freeze_count() > 0))
            super().send(msg, at)

    monkeypatch.setattr(audio, "SynthSink", Kept)
    real_settle, real_release = gctime.settle, gctime.release
    monkeypatch.setattr(gctime, "settle", lambda: order.append("settle") or real_settle())
    monkeypatch.setattr(gctime, "release", lambda: order.append("release") or real_release())
    save_recording(dense_session(0.2), tmp_path / "short.mid")
    assert main(["play", str(tmp_path / "short.mid"), "--quiet"]) == 0
    notes = [x for x in order if isinstance(x, tuple)]
    assert order[0] == "settle" and order[-1] == "release" and order.count("release") == 1, order
    assert notes and all(frozen for _, frozen in notes), order
    assert gc.get_freeze_count() == 0
