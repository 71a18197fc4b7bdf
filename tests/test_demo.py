"""`improv demo`'s scripted player: it plays the calls file on the file's own timeline, so
the demo and `improv respond --explain` hear each call over the same chord."""


import mido
import pytest

from improv.cli import main
from improv.tunefiles import find_tune
from improv.commands.demo import DEMO_CALLS, DEMO_TUNE, ScriptedPlayer, count_calls, load_calls
from improv.core.theory.chart import load_tune


class FakeSession:
    """What the scripted player uses of a session: a clock that does not wait, the beat ->
    time map, and an input queue that records what it is given."""

    bpb = 4

    def __init__(self, busy: tuple[float, float] = (0.0, 0.0)):
        self.asked: list[float] = []
        self.pushed: list[list[int]] = []
        self.said: list[str] = []
        self.clock = self
        self.inq = self
        self.t = 0.0  # seconds = beats here
        self.busy = busy  # (from, until) seconds: the partner answers then
        self.played_at: list[float] = []
        self.stop_reason = ""

    def say(self, text):
        self.said.append(text)

    def sleep_until(self, t):
        self.t = max(self.t, t)

    def now(self):
        return self.t

    def time_of(self, beat):
        self.asked.append(beat)
        return beat

    def beat_at(self, t):
        return t

    def partner_busy(self):
        busy = self.busy[0] <= self.t < self.busy[1]
        if busy:
            self.t += 0.2  # time goes on while the player waits
        return busy

    def push(self, data):
        self.pushed.append(data)
        self.played_at.append(self.t)


def test_the_demo_plays_each_event_at_its_file_beat():
    events = load_calls(DEMO_CALLS)
    session = FakeSession()
    player = ScriptedPlayer(events)
    player.start(session)
    assert player.done.wait(5.0)
    assert sorted(set(session.asked)) == sorted({b for b, _ in events})  # no count-in added on top of the file
    assert session.played_at == [b for b, _ in events]
    assert session.pushed == [list(d) for _, d in events]
    assert len(session.said) == 1 and session.said[0].startswith("first note at ")  # the start-up bench reads it


def test_the_scripted_player_plays_nothing_more_once_the_session_ends():
    """`demo --duration 0` said 'nothing was played' and then 'first note at 1.27 s'."""
    session = FakeSession()
    session.stop_reason = "duration"
    player = ScriptedPlayer(load_calls(DEMO_CALLS))
    player.start(session)
    assert player.done.wait(5.0)
    assert session.pushed == [] and session.said == []


def test_the_shipped_calls_start_after_a_bar_and_end_on_an_e_over_f7():
    events = load_calls(DEMO_CALLS)
    chart = load_tune(find_tune(DEMO_TUNE))
    ons = [(beat, data[1]) for beat, data in events if data[0] & 0xF0 == 0x90 and data[2] > 0]
    assert ons[0][0] == 4.0  # the file's first bar is the count-in
    beat, pitch = ons[-4]  # the last call opens on its long E
    assert pitch == 76 and str(chart.chord_at(beat)) == "F7" and int(beat // 4) + 1 == 15
    assert count_calls(events, 1.0) == 5


def test_respond_hears_the_last_call_where_the_demo_plays_it(tmp_path, capsys):
    assert main(["respond", str(DEMO_CALLS), "-o", str(tmp_path / "a.mid"), "--tune", DEMO_TUNE,
                 "--responder", "markov", "--seed", "7", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "bar 15: heard E over F7" in out, out
    assert "from track 0 'demo player'" in out


def test_a_session_file_plays_its_player_track(tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    for name, pitch in (("improv session", None), ("player", 60), ("partner", 72)):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        if pitch is not None:
            track += [mido.Message("note_on", note=pitch, velocity=90, time=480),
                      mido.Message("note_off", note=pitch, velocity=0, time=480)]
        mid.tracks.append(track)
    path = tmp_path / "session.mid"
    mid.save(str(path))
    assert load_calls(path) == [(1.0, [0x90, 60, 90]), (2.0, [0x80, 60, 0])]
    assert [d[1] for _, d in load_calls(path, "partner")] == [72, 72]


def test_demo_duration_is_checked_and_cuts_the_demo_short(monkeypatch, capsys):
    import pytest

    import improv.commands.demo as demo

    got = {}
    monkeypatch.setattr(demo, "play_session", lambda *a, **k: got.update(k) or 0)
    assert main(["demo", "--duration", "3", "--no-record"]) == 0 and got["duration"] == pytest.approx(3.0)
    assert main(["demo", "--no-record"]) == 0 and got["duration"] > 20.0  # the whole script and its answers
    for bad in ("nan", "-1", "inf"):
        assert main(["demo", "--duration", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--duration" in err, err


def test_a_call_due_while_the_partner_still_answers_waits_and_keeps_its_place_in_the_bar():
    # the ballad preset answers on the next bar and later: the script came back in over
    # four of the five answers, which yielded. Now the rest of the file moves on by bars.
    events = [(1.0, [0x90, 60, 90]), (2.0, [0x80, 60, 0]),  # call 1
              (5.5, [0x90, 62, 90]), (6.0, [0x80, 62, 0]), (6.0, [0x90, 64, 90]), (7.0, [0x80, 64, 0]),  # call 2
              (13.5, [0x90, 65, 90]), (14.0, [0x80, 65, 0])]  # call 3
    session = FakeSession(busy=(3.0, 7.2))  # the answer to call 1 sounds until beat 7.2
    player = ScriptedPlayer(events)
    player.start(session)
    assert player.done.wait(5.0)
    # call 2 was due at 5.5: it waits for the answer and starts at 9.5, a bar on, and
    # carries on from there as written (a note that follows a note within the call does not wait)
    assert session.played_at == [1.0, 2.0, 9.5, 10.0, 10.0, 11.0, 17.5, 18.0]


def test_a_calls_file_whose_tempo_is_not_the_sessions_is_said(tmp_path):
    """demo --calls with a 100 -> 140 bpm file played it at 120 without a word."""
    import mido

    from improv.commands.demo import file_tempos, tempo_note

    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)),
                                      mido.Message("note_on", note=60, velocity=90),
                                      mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(140), time=960),
                                      mido.Message("note_off", note=60, time=0)]))
    mid.save(str(tmp_path / "calls.mid"))
    assert file_tempos(tmp_path / "calls.mid") == [100.0, 140.0]
    assert tempo_note([100.0, 140.0], 120.0) == ("; the file's tempo (100-140 bpm) is not followed: its beats are "
                                                "played at 120 bpm (--tempo sets it)")
    assert tempo_note([120.0], 120.0) == "" and tempo_note([], 120.0) == ""


def test_a_record_folder_that_cannot_be_used_is_refused_before_anything_starts(monkeypatch, capsys, tmp_path):
    import improv.commands.demo as demo

    started = []
    monkeypatch.setattr(demo, "play_session", lambda *a, **k: started.append(1) or 0)
    taken = tmp_path / "notes.txt"
    taken.write_text("a file where the folder would go")
    assert main(["demo", "--record", str(taken)]) == 2 and not started
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "record folder" in err and str(taken) in err, err
    folder = tmp_path / "takes"  # a calls file that cannot be read is refused before the folder is made
    assert main(["demo", "--calls", str(tmp_path / "missing.mid"), "--record", str(folder)]) == 2
    assert not folder.exists() and not started


def test_with_nothing_to_sound_on_the_recording_says_how_to_hear_it(monkeypatch, capsys, tmp_path):
    """No sound device and no MIDI output (a plain machine): the demo still records, and says
    how to hear the file (--out cannot help where there is no MIDI system either)."""
    import improv.live.audio as audio
    from improv.live.ports import PortError

    def no_sound(cfg, *a, **k):
        raise PortError("no audio output device")

    monkeypatch.setattr(audio, "SynthSink", no_sound)
    assert main(["demo", "--duration", "4", "--responder", "markov", "--record", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    (mid,) = tmp_path.glob("*.mid")
    assert "no sound (no audio output device); carrying on MIDI-only" in err and "improv render" in err, err
    assert f"recorded to {mid} (nothing sounded here: hear it with `improv render {mid}`, a .wav beside it)" in err, err


def test_a_config_that_trades_gets_the_scripts_call_and_response_and_is_told(monkeypatch, capsys):
    """`improv demo --config configs/uptempo.toml` (trade_bars = 4) traded: the script's calls
    fell across the turns (13, 19, 3 and 7 notes in the player's four bars), the long E landed
    over Cm7, and the demo went on into a fifth turn, empty, that the partner answered."""
    from pathlib import Path

    import improv.commands.demo as demo

    got = {}
    monkeypatch.setattr(demo, "play_session", lambda cfg, chart, **k: got.update(cfg=cfg) or 0)
    uptempo = Path(__file__).resolve().parents[1] / "configs" / "uptempo.toml"
    assert main(["demo", "--config", str(uptempo), "--no-record"]) == 0
    assert got["cfg"].band.trade_bars == 0 and got["cfg"].band.bass  # (the rest of the preset stays)
    err = capsys.readouterr().err
    assert "trading ([band] trade_bars = 4) is left to `improv jam`" in err and err.count("\n") == 1, err
    assert main(["demo", "--no-record"]) == 0 and capsys.readouterr().err == ""  # (not trading: nothing said)


def test_a_config_asking_a_fresh_seed_each_session_gets_one_in_the_demo_too(monkeypatch, tmp_path):
    """The demo plays seed 7 so that it sounds the same every time, but it put 7 over a
    config's own `seed = -1` ("a fresh one each session"), where only no seed said is 7."""
    import improv.commands.demo as demo

    got = {}
    monkeypatch.setattr(demo, "play_session", lambda cfg, chart, **k: got.update(cfg=cfg) or 0)
    fresh = tmp_path / "fresh.toml"
    fresh.write_text("[responder]\nseed = -1\n")
    assert main(["demo", "--config", str(fresh), "--no-record"]) == 0
    assert got["cfg"].responder.seed == -1
    assert main(["demo", "--no-record"]) == 0 and got["cfg"].responder.seed == 7
    assert main(["demo", "--no-record", "--seed", "3"]) == 0 and got["cfg"].responder.seed == 3


def test_time_without_a_chart_names_the_demos_tune_not_a_flag_never_given(monkeypatch, capsys):
    """`improv demo --time 3/4` was refused as "--time 3/4 with --tune blues-f", a flag the
    user never gave (the demo's own tune), and `--time 4/4`, the blues's own metre, too."""
    import improv.commands.demo as demo

    got = {}
    monkeypatch.setattr(demo, "play_session", lambda cfg, chart, **k: got.update(cfg=cfg, chart=chart) or 0)
    assert main(["demo", "--time", "3/4", "--no-record"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--tune" not in err and "--chords" in err and "3/4" in err, err
    assert main(["demo", "--time", "4/4", "--no-record"]) == 0 and got["chart"].beats_per_bar == 4
    assert main(["demo", "--time", "3/4", "--chords", "C | G7 | C | C", "--no-record"]) == 0
    assert got["chart"].beats_per_bar == 3 and got["cfg"].timing.beats_per_bar == 3


def test_a_calls_file_in_three_has_the_chords_read_in_three_and_another_metre_said(monkeypatch, capsys, tmp_path):
    """`improv demo --calls waltz.mid --chords "..."` read the chords in 4/4 (the calls of a
    3/4 file fell across 4/4 bars, the answers were counted in fours), where `improv respond`
    reads them in the file's metre; over the blues (no chart given) nothing was said."""
    import improv.commands.demo as demo

    got = {}
    monkeypatch.setattr(demo, "play_session", lambda cfg, chart, **k: got.update(cfg=cfg, chart=chart) or 0)
    for name, (num, den) in (("waltz.mid", (3, 4)), ("jig.mid", (6, 8))):
        mid = mido.MidiFile(type=1, ticks_per_beat=480)
        mid.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=num, denominator=den),
                                          mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120))]))
        track = mido.MidiTrack()
        for pitch in (67, 69, 71, 72, 74, 72):
            track += [mido.Message("note_on", note=pitch, velocity=90, time=0),
                      mido.Message("note_off", note=pitch, velocity=0, time=480)]
        mid.tracks.append(track)
        mid.save(str(tmp_path / name))
        assert main(["demo", "--calls", str(tmp_path / name), "--chords", "Cmaj7 | A7 | Dm7 | G7", "--no-record"]) == 0
        assert got["chart"].beats_per_bar == 3 and got["cfg"].timing.beats_per_bar == 3, name
        assert capsys.readouterr().err == ""
        assert main(["demo", "--calls", str(tmp_path / name), "--no-record"]) == 0  # over the blues, in 4/4
        err = capsys.readouterr().err
        assert f"{name} is in {num}/{den} but Blues in F in 4/4" in err and err.count("\n") == 1, err
    assert main(["demo", "--no-record"]) == 0 and capsys.readouterr().err == ""  # the shipped calls: in 4/4


def test_ctrl_c_while_the_partner_starts_stops_at_once_leaving_nothing_behind(monkeypatch, capsys, tmp_path):
    """Ctrl-C while the partner's worker started (the model loading: seconds) waited for the
    warm-up to end, up to 30 s, then said the partner was not ready. It now stops at once:
    the worker killed, no note sounding, the session ended as a Ctrl-C in the setup ends it."""
    import os
    import signal
    import threading
    import time

    import improv.partner.process as process
    from improv.commands import jam

    monkeypatch.setattr(process, "READY_TIMEOUT_S", 8.0)  # (before: 8 s, then "not ready")
    slow, pidfile = tmp_path / "slow-python", tmp_path / "pid"
    slow.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 300\n")  # a worker that never gets ready
    slow.chmod(0o755)
    made = process.ProcessPartner.__init__
    monkeypatch.setattr(process.ProcessPartner, "__init__", lambda self, *a, **k: made(self, *a, python=str(slow), **k))
    sent = []

    class Sink:
        name = "test"

        def send(self, msg, at=None):
            sent.append(msg)

        def close(self):
            pass

    monkeypatch.setattr(jam, "open_sinks", lambda cfg, say: [Sink()])
    pressed = []

    def press_ctrl_c() -> None:  # once the worker is starting
        end = time.monotonic() + 20
        while not pidfile.exists() and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(0.2)
        pressed.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    code = main(["demo", "--no-record"])
    took = time.monotonic() - pressed[0]
    err = capsys.readouterr().err
    assert code == 0 and took < 2.0, (took, err)
    assert "session ended (interrupted)" in err and "jamming" not in err, err
    with pytest.raises(ProcessLookupError):  # the worker was killed (and reaped)
        os.kill(int(pidfile.read_text()), 0)
    sounding = set()
    for msg in sent:
        if msg.type in ("note_on", "note_off"):
            (sounding.add if msg.type == "note_on" and msg.velocity else sounding.discard)((msg.channel, msg.note))
    assert not sounding


def _stops_caught(pid: int, signum: int) -> bool:
    """Whether process `pid` catches `signum` now (Linux: its /proc status's SigCgt mask)."""
    from pathlib import Path

    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


@pytest.mark.parametrize("moment", ["start-up", "mid-answer"])
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_demo_ended_by_a_signal_at_any_moment_exits_0_cleanly(tmp_path, signame, moment):
    """Ctrl-C and SIGTERM end a session the same way wherever they come: status 0, one line
    saying the session ended, nothing left sounding, what was played recorded. Before, Ctrl-C
    gave 130 while improv started and 0 in the session; SIGTERM 0 in the session, 143 while
    the settings were read, and in the first half second it killed the process outright."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    if not Path(f"/proc/{os.getpid()}/status").exists():
        pytest.skip("reads when improv catches signals from /proc (Linux)")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "improv", "demo", "--responder", "markov", "--record",
                             str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path)
    lines: list[str] = []
    answering = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if "  answering " in line:
                answering.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if moment == "start-up":  # as soon as improv catches SIGTERM (its settings, calls and ports still to come)
            end = time.monotonic() + 30
            while not _stops_caught(proc.pid, signal.SIGTERM) and proc.poll() is None and time.monotonic() < end:
                time.sleep(0.001)
        else:
            assert answering.wait(60), "\n".join(lines[-20:])
            time.sleep(0.8)  # (the answer starts on the next beat and lasts a bar, 2 s: it is sounding)
        proc.send_signal(getattr(signal, signame))
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    log = "\n".join(lines)
    reason = "interrupted" if signame == "SIGINT" else "SIGTERM"
    assert rc == 0 and "Traceback" not in log, f"exit {rc}:\n{log[-2000:]}"
    assert not list(tmp_path.glob("*.journal")), log[-2000:]
    if moment == "start-up":
        assert lines[-1] == f"improv demo: session ended ({reason}) before it started: nothing played, nothing " \
            "recorded", log[-2000:]
        assert not list(tmp_path.glob("*.mid"))
        return
    assert any(line.startswith(f"session ended ({reason}): ") for line in lines), log[-2000:]
    (mid,) = tmp_path.glob("*.mid")
    assert f"recorded to {mid}" in log, log[-2000:]
    sounding: set[tuple[str, int, int]] = set()
    for track in mido.MidiFile(mid).tracks:
        for msg in track:
            if msg.type in ("note_on", "note_off"):
                key = (track.name, msg.channel, msg.note)
                (sounding.add if msg.type == "note_on" and msg.velocity else sounding.discard)(key)
    assert not sounding, sounding
    assert any(m.type == "note_on" for t in mido.MidiFile(mid).tracks if t.name == "partner" for m in t)


def test_a_signal_as_the_session_reports_its_end_changes_nothing(monkeypatch, capsys):
    """Once the session had put its signal handlers back (its report being written), SIGTERM
    ended the demo with 143 and Ctrl-C with 130, the session over and recorded."""
    import os
    import signal

    import improv.commands.demo as demo
    import improv.live.audio as audio
    from improv.live.ports import PortError

    def no_sound(cfg, *a, **k):
        raise PortError("no audio output device")

    monkeypatch.setattr(audio, "SynthSink", no_sound)
    real = demo.play_session

    def then_signals(*a, **k):
        code = real(*a, **k)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        return code

    monkeypatch.setattr(demo, "play_session", then_signals)
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert main(["demo", "--duration", "0.5", "--responder", "markov", "--no-record"]) == 0
    err = capsys.readouterr().err
    assert "session ended (duration)" in err and "interrupted" not in err and "stopped" not in err, err
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_the_set_up_is_frozen_before_the_session_starts_and_given_back_after_it(monkeypatch):
    """The jam's and the demo's set-up (imports, settings, ports) is frozen out of the collector
    before the session starts, so that a full collection in it walks only what the session
    makes (improv/gctime.py: 8.5 ms held GIL -> 0.09 ms), and given back once it has closed."""
    import gc

    import improv.gctime as gctime
    import improv.live.audio as audio
    from improv.live.ports import PortError
    from improv.live.session import Session

    def no_sound(cfg, *a, **k):
        raise PortError("no audio output device")

    order = []
    real_settle, real_release, real_start = gctime.settle, gctime.release, Session.start
    monkeypatch.setattr(audio, "SynthSink", no_sound)
    monkeypatch.setattr(gctime, "settle", lambda: order.append("settle") or real_settle())
    monkeypatch.setattr(gctime, "release", lambda: order.append("release") or real_release())
    monkeypatch.setattr(Session, "start", lambda s: order.append(("start", gc.get_freeze_count() > 0)) or real_start(s))
    try:
        assert main(["demo", "--duration", "0.5", "--responder", "markov", "--no-record"]) == 0
    finally:
        gc.unfreeze()
    assert order[0] == "settle" and order[-1] == "release", order
    assert set(order[1:-1]) == {("start", True)}, order  # (the conductor asks again: a no-op once started)
    assert gc.get_freeze_count() == 0
