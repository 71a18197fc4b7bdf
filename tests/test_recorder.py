import errno
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest

from fsutil import read_only_folder, tiny_disk
from improv.core.formats.midifile import load_recording, recording_notes
from improv.core.theory.chart import load_tune, parse_chart
from improv.errors import ConfigError
from improv.live import journal as journal_mod
from improv.live.recorder import Recorder, check_record_folder
from improv.live.recovery import journal_to_recording, recover

ROOT = Path(__file__).resolve().parent.parent

# A session process: records a note every 10 ms (times on a fake clock: i / 100 s),
# announces each one on stdout, and never ends by itself.
CHILD = r"""
import sys, time
from pathlib import Path
import mido
sys.path.insert(0, sys.argv[2])
from improv.live.recorder import Recorder
rec = Recorder(Path(sys.argv[1]), 120.0, 4, 1, 2, t0=100.0, stamp="crash")
rec.marker("count-in", 100.0)
i = 0
while True:
    k = i // 2  # event pairs: note k goes on at event 2k and off at event 2k + 1
    part = "player" if k % 2 == 0 else "partner"
    msg = mido.Message("note_on" if i % 2 == 0 else "note_off", note=60 + k % 12, velocity=90)
    rec.event(part, msg, 100.0 + i / 100)
    print(i, flush=True)
    i += 1
    time.sleep(0.005)
"""


def on(note, vel=90, ch=0):
    return mido.Message("note_on", channel=ch, note=note, velocity=vel)


def off(note, ch=0):
    return mido.Message("note_off", channel=ch, note=note, velocity=0)


def play_a_little(rec, t=0.0):
    rec.event("player", on(60), t + 0.5)
    rec.event("player", off(60), t + 1.0)


def test_close_writes_the_midi_file_and_removes_the_journal(tmp_path):
    chart = load_tune(ROOT / "improv" / "data" / "tunes" / "blues-f.toml")
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=50.0, chart=chart, stamp="20240101-120000")
    rec.event("player", on(60, ch=7), 50.5)
    rec.event("player", off(60, ch=7), 51.0)
    rec.event("partner", on(64, 70), 52.0)
    rec.event("partner", mido.Message("clock"), 52.1)  # not a channel message: not recorded
    rec.marker("bar 2: heard C\u266f over F7 \u2192 a tritone away", 52.0)  # not Latin-1: spelled out
    path = rec.close()
    assert path == tmp_path / "20240101-120000.mid" and path.exists()
    assert not rec.journal_path.exists() and not rec.problem and not rec.failed
    assert rec.close() == path  # idempotent
    back = load_recording(path)
    assert [(e.part, e.msg.type, round(e.t, 3)) for e in back.events] == [
        ("player", "note_on", 0.5), ("player", "note_off", 1.0), ("partner", "note_on", 2.0),
        ("partner", "note_off", 2.001)]  # (struck at the very end: it sounds a tick, not zero)
    texts = [(m.kind, m.text) for m in back.markers]
    assert ("text", "bar 2: heard C# over F7 -> a tritone away") in texts
    assert texts[0][0] in ("chord", "section") and any(k == "chord" for k, _ in texts)
    # a second recorder in the same second gets its own file
    again = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="20240101-120000")
    play_a_little(again)
    assert again.close() == tmp_path / "20240101-120000-2.mid"


def test_a_session_where_nobody_played_writes_nothing_and_says_so(tmp_path, caplog):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="empty")
    rec.marker("count-in", 0.0)
    rec.event("player", mido.Message("control_change", control=7, value=100), 0.2)  # a knob is not playing
    rec.event("click", on(76, ch=9), 0.5)  # nor is the click alone
    with caplog.at_level(logging.INFO, logger="improv.recorder"):
        assert rec.close() is None
    assert rec.empty and not rec.problem
    assert list(tmp_path.iterdir()) == []
    assert "nothing was played" in caplog.text


def test_a_folder_that_cannot_be_recorded_into_is_refused_up_front(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for folder, why in ((blocker, "is a file"), (blocker / "sessions", "cannot create")):
        with pytest.raises(ConfigError, match=why) as e:
            Recorder(folder, 120.0, 4, 1, 2, t0=0.0)
        assert str(folder) in str(e.value) and "--no-record" in str(e.value) and "\n" not in str(e.value)
    made = check_record_folder(tmp_path / "new" / "sessions")
    assert made.is_dir()


def test_a_file_name_given_as_the_record_folder_is_refused_not_made_a_folder(tmp_path):
    """`--record take1.mid` made a folder named take1.mid, and the session went inside it."""
    with pytest.raises(ConfigError, match=r"is a file name \(--record, record.folder\)") as e:
        check_record_folder(tmp_path / "take1.mid")
    assert f"--record {tmp_path}" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "take1.mid").exists()
    (tmp_path / "old.mid").mkdir()  # a folder that is there already is one
    assert check_record_folder(tmp_path / "old.mid").is_dir()


def test_a_read_only_folder_is_refused(tmp_path):
    with read_only_folder(tmp_path) as ro:
        if ro is None:
            pytest.skip("cannot make a read-only folder here (root without mount)")
        with pytest.raises(ConfigError, match="not writable") as e:
            Recorder(ro, 120.0, 4, 1, 2, t0=0.0)
        assert str(ro) in str(e.value)


def test_a_nearly_full_folder_is_refused(tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=200_000))
    with pytest.raises(ConfigError, match=r"only 195 KB free"):
        Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0)


def test_a_write_failure_mid_session_is_shown_at_once_and_nothing_is_lost(tmp_path, monkeypatch):
    """The journal's file write is made to fail (ENOSPC) for a while: the session is told at
    once, the notes are held and written when the disk takes them again."""
    failures, warnings = [], []
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="s", on_fail=failures.append, warn=warnings.append)
    j = rec._journal
    real = journal_mod._write_all
    full = {"on": True}

    def write(fd, data):
        if fd == j._fd and full["on"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(journal_mod, "_write_all", write)
    for k in range(20):
        rec.event("player", on(60 + k), k * 0.5)
        rec.event("player", off(60 + k), k * 0.5 + 0.25)
    deadline = time.monotonic() + 2.0
    while not failures and time.monotonic() < deadline:
        time.sleep(0.01)
    assert failures and rec.failed == failures[0] and "No space left" in rec.failed and rec.error
    full["on"] = False
    path = rec.close()
    assert path == tmp_path / "s.mid" and not rec.problem
    assert len(recording_notes(load_recording(path), "player")) == 20


def test_a_full_disk_keeps_everything_in_a_rescued_journal(tmp_path, monkeypatch):
    """A real 64 KB disk fills mid-session: the journal is completed in a copy in the
    temporary folder, the file is written, and the notes are all in it."""
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(rescue))
    with tiny_disk(tmp_path) as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here: the simulated full disk above covers it")
        failures, warnings = [], []
        rec = Recorder(disk, 120.0, 4, 1, 2, t0=0.0, stamp="full", on_fail=failures.append, warn=warnings.append,
                       min_free=1024)
        n = 3000  # ~100 KB of journal lines
        for k in range(n):
            rec.event("player", on(40 + k % 40), k * 0.1)
            rec.event("player", off(40 + k % 40), k * 0.1 + 0.05)
        path = rec.close()
        assert failures and "No space left" in failures[0]
        # the full copy went to the temporary folder and the partial journal was removed: the
        # .mid (smaller than the journal) then fits in the record folder, else beside the copy
        assert path is not None and path.parent in (disk, rescue), (path, warnings, rec.problem)
        assert (rescue / "full-rescued.journal").exists() is False  # converted, then removed
        assert len(recording_notes(load_recording(path), "player")) == n
        assert not (disk / "full.journal").exists()
        assert any("nothing was lost" in w for w in warnings)


def test_a_journal_that_cannot_be_converted_says_where_it_is_and_how_to_recover(tmp_path, monkeypatch):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="s", warn=lambda s: None)
    play_a_little(rec)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(mido.MidiFile, "save", full)
    assert rec.close() is None
    assert f"improv recover {tmp_path / 's.journal'}" in rec.problem and "No space left" in rec.problem
    assert (tmp_path / "s.journal").exists()
    assert not list(tmp_path.glob("*.tmp")), "a failed write leaves no partial file"
    monkeypatch.undo()
    assert recover(tmp_path) == [tmp_path / "s.mid"]


def test_band_parts_are_recorded_on_their_own_tracks_and_channels(tmp_path):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="band",
                   band_channels={"comp": 5, "bass": 6, "click": 10})
    rec.event("player", on(72), 0.0)
    rec.event("player", off(72), 0.4)
    rec.event("partner", on(74, ch=1), 1.0)
    rec.event("partner", off(74, ch=1), 1.4)
    rec.event("comp", on(64, ch=4), 0.0)
    rec.event("comp", off(64, ch=4), 1.9)
    rec.event("bass", on(29, ch=5), 0.0)  # F1: it must not come back on the e-piano's channel
    rec.event("bass", off(29, ch=5), 0.45)
    for b in range(4):
        rec.event("click", on(76 if b == 0 else 77, ch=9), b * 0.5)
        rec.event("click", off(76 if b == 0 else 77, ch=9), b * 0.5 + 0.05)
    path = rec.close()
    mid = mido.MidiFile(str(path))
    tracks = {next(m.name for m in t if m.type == "track_name"): t for t in mid.tracks[1:]}
    assert list(tracks) == ["player", "partner", "comp", "bass", "click"]
    for name, ch in (("player", 1), ("partner", 2), ("comp", 5), ("bass", 6), ("click", 10)):
        channels = {m.channel + 1 for m in tracks[name] if not m.is_meta}
        assert channels == {ch}, (name, channels)
    back = load_recording(path)
    assert [n.pitch for n in recording_notes(back, "partner")] == [74]
    assert [n.pitch for n in recording_notes(back, "bass")] == [29]
    assert len(recording_notes(back, "click")) == 4
    assert (back.comp_channel, back.bass_channel, back.click_channel) == (5, 6, 10)


def test_the_walking_bass_opens_on_a_general_midi_bass_not_a_piano(tmp_path):
    """The file's tracks had no program change: a General MIDI DAW (or synth) opening a band
    session played the walking bass on a piano. The bass track now starts on GM's acoustic
    bass (program 33), as improv's own SoundFont playback has it; a program of the bass's own,
    or a channel it shares with another part, is left as it is."""
    def bass_session(stamp, channels, program=None):
        rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp=stamp, band_channels=channels)
        rec.event("player", on(72), 0.0)
        rec.event("player", off(72), 0.4)
        ch = channels["bass"] - 1
        if program is not None:
            rec.event("bass", mido.Message("program_change", channel=ch, program=program), 0.0)
        rec.event("bass", on(29, ch=ch), 0.5)
        rec.event("bass", off(29, ch=ch), 0.95)
        mid = mido.MidiFile(str(rec.close()))
        track = next(t for t in mid.tracks if t.name == "bass")
        return [(m.channel + 1, m.program) for m in track if m.type == "program_change"], track

    programs, track = bass_session("gm", {"comp": 3, "bass": 4, "click": 10})
    assert programs == [(4, 32)]
    first = [m for m in track if not m.is_meta]
    assert first[0].type == "program_change" and first[0].time == 0 and first[1].type == "note_on"
    assert bass_session("own", {"comp": 3, "bass": 4, "click": 10}, program=35)[0] == [(4, 35)]
    assert bass_session("shared", {"comp": 3, "bass": 1, "click": 10})[0] == []  # (the player's channel)
    assert bass_session("drums", {"comp": 3, "bass": 10, "click": 11})[0] == []


def test_a_format_1_journal_gives_the_band_back_its_parts(tmp_path):
    """Before the band had parts, comp, bass and click were journalled as "partner" on their
    own (default) channels; recover sorts them back out."""
    j = tmp_path / "old.journal"
    j.write_text('{"improv_journal":1,"tempo":120.0,"beats_per_bar":4,"player_channel":1,"partner_channel":2}\n'
                 '["partner",0.0,[145,70,90]]\n["partner",0.5,[129,70,0]]\n'  # the partner, channel 2
                 '["partner",0.0,[147,29,90]]\n["partner",0.5,[131,29,0]]\n'  # the bass, channel 4
                 '["partner",0.0,[153,76,90]]\n["partner",0.1,[137,76,0]]\n'  # the click, channel 10
                 '["player",0.2,[144,60,90]]\n["player",0.4,[128,60,0]]\n')
    rec = journal_to_recording(j)
    assert sorted({e.part for e in rec.events}) == ["bass", "click", "partner", "player"]
    assert recover(tmp_path) == [tmp_path / "old.mid"]


def test_an_external_clock_sets_beat_0_and_the_tempo_of_the_file(tmp_path):
    """Config tempo 120; the DAW runs at 90 and presses Start 7 s into the session. A note at
    the DAW's bar 2 beat 1 must land on beat 4 of the file, under bar 2's chord."""
    chart = parse_chart("C7 | F7 | C7 | G7")
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=10.0, chart=chart, stamp="ext")
    rec.event("player", on(50), 12.0)  # noodling before Start: in a file of its own
    rec.event("player", off(50), 12.5)
    rec.event("player", on(55), 16.0)  # held across Start: begins on beat 0
    rec.tempo(float("nan"), 16.5)  # a clock glitch: not recorded
    assert rec.set_origin(17.0) is True
    rec.tempo(90.0, 17.2)  # the DAW's tempo, measured from its clock a little after Start
    rec.event("player", off(55), 17.5)
    spb = 60.0 / 90.0
    rec.event("player", on(65), 17.0 + 4 * spb)  # DAW bar 2, beat 1
    rec.event("player", off(65), 17.0 + 5 * spb)
    assert rec.set_origin(30.0) is False  # a second Start cannot move beat 0 of a linear file
    back = load_recording(rec.close())
    assert back.tempos == ((0.0, 90.0),)
    notes = recording_notes(back, "player")
    assert [(n.pitch, round(n.start, 3)) for n in notes] == [(55, 0.0), (65, 4.0)]
    chords = [(round(m.t / spb, 3), m.text) for m in back.markers if m.kind == "chord"]
    assert (4.0, "F7") in chords
    # nothing is lost: what came before the Start is beside it, in its own time (120 bpm), from
    # the bar line counted back from the Start before its first note (7 s in, bars of 2 s: 1 s),
    # the note held across the Start ending there
    assert rec.before_start == tmp_path / "ext-before-start.mid"
    early = load_recording(rec.before_start)
    assert [(n.pitch, round(n.start * 0.5, 3), round(n.end * 0.5, 3)) for n in recording_notes(early, "player")] \
        == [(50, 1.0, 1.5), (55, 5.0, 6.0)]
    assert not early.markers or all(m.kind != "chord" for m in early.markers)


def test_recover_writes_what_came_before_a_start_beside_the_file(tmp_path):
    # the journal a crash left: a note, the DAW's Start 4 s in, a note after it
    (tmp_path / "daw.journal").write_text(
        '{"improv_journal":2,"tempo":120.0,"beats_per_bar":4,"player_channel":1,"partner_channel":2}\n'
        '["player",1.0,[144,60,90]]\n["player",1.5,[128,60,0]]\n["origin",4.0]\n["player",4.5,[144,62,90]]\n')
    said = []
    assert recover(tmp_path, say=said.append) == [tmp_path / "daw.mid", tmp_path / "daw-before-start.mid"]
    assert [n.pitch for n in recording_notes(load_recording(tmp_path / "daw-before-start.mid"), "player")] == [60]
    assert [n.pitch for n in recording_notes(load_recording(tmp_path / "daw.mid"), "player")] == [62]
    assert "before bar 1 (a count-in, or before a DAW's Start)" in said[0] and not (tmp_path / "daw.journal").exists()


def test_a_session_with_no_start_has_no_before_start_file(tmp_path):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="plain")
    play_a_little(rec)
    assert rec.close() == tmp_path / "plain.mid"
    assert rec.before_start is None and sorted(p.name for p in tmp_path.iterdir()) == ["plain.mid"]


def test_tempo_changes_are_kept_and_bad_ones_refused(tmp_path):
    warnings = []
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="t", warn=warnings.append)
    play_a_little(rec)
    rec.tempo(100.0, 2.0)
    rec.tempo(60_000_000.0, 3.0)
    rec.tempo(float("inf"), 3.5)
    back = load_recording(rec.close())
    assert back.tempos == ((0.0, 120.0), (2.0, 100.0))
    assert len(warnings) == 1 and "60000000" in warnings[0]


def test_an_exit_that_skips_close_still_writes_the_file(tmp_path):
    """A second Ctrl-C (or any exit path that never reaches the session's close) ends the
    process: the recording is written at exit, and the process says so."""
    code = ("import sys, mido; sys.path.insert(0, sys.argv[2]); from pathlib import Path\n"
            "from improv.live.recorder import Recorder\n"
            "rec = Recorder(Path(sys.argv[1]), 120.0, 4, 1, 2, t0=0.0, stamp='cut')\n"
            "rec.event('player', mido.Message('note_on', note=60, velocity=90), 0.5)\n"
            "raise KeyboardInterrupt\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(ROOT)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0
    assert (tmp_path / "cut.mid").exists(), r.stderr
    assert f"recorded to {tmp_path / 'cut.mid'}" in r.stderr


def test_sigkill_then_recover_loses_at_most_the_last_second(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(ROOT)],
                             stdout=subprocess.PIPE, text=True)
    announced: list[tuple[int, float]] = []  # (event index, when we heard of it)
    try:
        for line in child.stdout:
            announced.append((int(line), time.monotonic()))
            if announced[-1][1] - announced[0][1] >= 1.6:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        child.wait()
    journal = tmp_path / "crash.journal"
    assert journal.exists() and not (tmp_path / "crash.mid").exists()
    assert recover(tmp_path) == [tmp_path / "crash.mid"]
    assert not journal.exists()
    rec = load_recording(tmp_path / "crash.mid")
    got = sorted(round(e.t * 100) for e in rec.events if e.msg.type in ("note_on", "note_off"))
    # events come back at the times they happened (one tick at 120 bpm is ~1 ms)
    for e in rec.events:
        assert e.t * 100 == pytest.approx(round(e.t * 100), abs=0.15)
    # nothing invented, nothing lost except (at most) the last second before the kill
    sent = {i for i, _ in announced}
    must = {i for i, heard in announced if heard < killed - 1.0}
    assert must <= set(got)
    assert set(got) - sent <= set(range(max(sent) + 1, max(sent) + 200))  # sent but not yet announced
    assert len(got) >= len(must) and len(must) > 0
    assert [m.text for m in rec.markers] == ["count-in"]
    # every note comes back, and a note left sounding by the crash is closed in the file
    player_ons = {i for i in got if i % 2 == 0 and (i // 2) % 2 == 0}  # a set: the closing note-off shares its time
    assert len(recording_notes(rec, "player")) == len(player_ons)
    for track in mido.MidiFile(str(tmp_path / "crash.mid")).tracks[1:]:
        kinds = [m.type for m in track if not m.is_meta]
        assert kinds.count("note_on") == kinds.count("note_off")


def test_a_chord_held_on_the_pedal_through_a_crash_keeps_its_length_and_the_pedal_is_lifted(tmp_path):
    # The session writes "alive" every half second; a crash's held notes end at the last
    # one (they ended at the last message: a chord of no length), and a pedal is lifted.
    import json

    j = tmp_path / "crash.journal"
    lines = [{"improv_journal": 3, "tempo": 120.0, "beats_per_bar": 4, "player_channel": 1, "partner_channel": 2,
              "comp_channel": 3, "bass_channel": 4, "click_channel": 10}]
    lines += [["player", 1.0, [0x90, 48, 80]], ["player", 1.5, [0x80, 48, 0]], ["player", 2.0, [0xB0, 64, 127]]]
    lines += [["player", 2.0, [0x90, p, 90]] for p in (60, 64, 67)]
    lines += [["alive", 2.0 + 0.5 * k] for k in range(1, 11)]  # held for 5 s more, then the power went
    j.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = recover(tmp_path)
    rec = load_recording(out[0])
    notes = {n.pitch: n.duration for n in recording_notes(rec, "player")}
    assert notes[48] == pytest.approx(1.0, abs=0.01)  # beats at 120 bpm
    assert all(notes[p] == pytest.approx(10.0, abs=0.01) for p in (60, 64, 67))  # 2.0 s .. 7.0 s
    pedal = [(round(e.t, 3), e.msg.value) for e in rec.events if e.msg.type == "control_change" and e.msg.control == 64]
    assert pedal == [(2.0, 127), (7.0, 0)]


def test_the_session_says_it_is_alive_to_its_journal(tmp_path):
    # (what the crash test above reads: the conductor's half-second watch writes it)
    from test_session import config, make

    made = []
    s, clock, inq, sink, _ = make(config(), recorder_factory=lambda t0, c: made.append(
        Recorder(tmp_path, 120.0, 4, 1, 2, t0, chart=c, stamp="alive")) or made[-1])
    s.start()
    for k in range(300):  # 3 s
        clock.set(10.0 + 0.01 * k)
        s.step()
    inq.push([0x90, 60, 90])  # a key held down when the power goes
    for k in range(300, 500):
        clock.set(10.0 + 0.01 * k)
        s.step()
    made[0]._journal.close()  # the journal as a crash leaves it (written, never converted)
    made[0]._done(None)  # (and no exit hook converting it later: the process "died")
    (out,) = recover(tmp_path)
    (held,) = recording_notes(load_recording(out), "player")
    # pressed at 3.0 s (the first note: bar 1 with a chart), held to the last "alive"
    # (4.5 s or later) at 120 bpm, instead of ending where it began
    assert held.duration >= 2.0 * (4.5 - 3.0) - 0.05


def test_recover_leaves_a_live_journal_alone(tmp_path):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="live")
    play_a_little(rec)
    assert recover(tmp_path) == []
    assert rec.journal_path.exists()
    assert rec.close() == tmp_path / "live.mid"


def test_recover_leaves_a_closing_sessions_journal_alone(tmp_path, monkeypatch):
    # The session turns its journal into the .mid after the journal's writer has stopped (an
    # hour-long session takes seconds): an `improv recover` run then took the journal, and the
    # session said its file could not be written and its journal was kept (it was gone).
    import improv.live.recorder as recorder_mod

    real, found = recorder_mod.journal_to_midi_file, []

    def converting(*a, **k):
        found.append(recover(tmp_path))
        return real(*a, **k)

    monkeypatch.setattr(recorder_mod, "journal_to_midi_file", converting)
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="closing")
    play_a_little(rec)
    assert rec.close() == tmp_path / "closing.mid" and not rec.problem
    assert found == [[]] and sorted(p.name for p in tmp_path.iterdir()) == ["closing.mid"]


def test_recover_a_torn_journal_and_skip_damaged_records(tmp_path):
    j = tmp_path / "torn.journal"
    j.write_text('{"improv_journal":1,"tempo":90.0,"beats_per_bar":3,"player_channel":3,"partner_channel":4}\n'
                 '["player",0.5,[144,60,90]]\n["partner",1.0,[147,67,80]]\n'
                 '["player",NaN,[144,61,90]]\n'  # a time that is not a number
                 '["player",1.2,[240,1,2,247]]\n'  # sysex: not a channel message
                 '["player",1.3,[144,200,90]]\n'  # a data byte out of range
                 '["tempo",1.4,0]\n'  # a tempo of 0
                 '["marker",1.5]\n'  # a marker with no text
                 '["nonsense",1.6,1]\n42\n'
                 '["player",1.5,[128,6')
    rec = journal_to_recording(j)
    assert rec.tempos == ((0.0, 90.0),) and rec.beats_per_bar == 3 and rec.player_channel == 3
    assert [(e.t, e.msg.type) for e in rec.events] == [(0.5, "note_on"), (1.0, "note_on"), (1.0, "note_off"),
                                                        (1.0, "note_off")]  # held at the crash: ended at its end
    said = []
    assert recover(j, say=said.append) == [tmp_path / "torn.mid"]
    assert said == [f"{j}: 8 damaged records skipped"]
    (tmp_path / "empty.journal").write_text("")
    (tmp_path / "silent.journal").write_text('{"improv_journal":2,"tempo":120.0}\n["marker",0.5,"count-in","text"]\n')
    warnings = []
    (tmp_path / "junk.journal").write_text("hello\n")
    assert recover(tmp_path, warn=warnings.append, say=said.append) == []
    assert not (tmp_path / "empty.journal").exists() and not (tmp_path / "silent.journal").exists()
    assert len(warnings) == 1 and "junk.journal" in warnings[0]


def test_a_failed_recover_leaves_no_partial_file(tmp_path, monkeypatch):
    (tmp_path / "x.journal").write_text('{"improv_journal":2,"tempo":100.0}\n["player",0.5,[144,60,90]]\n')

    def full(self, filename=None, file=None):
        with open(filename, "wb") as f:
            f.write(b"MThd")  # a partial file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(mido.MidiFile, "save", full)
    warnings = []
    assert recover(tmp_path, warn=warnings.append) == []
    assert "No space left" in warnings[0] and "run improv recover again (the journal is kept)" in warnings[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.journal"]


def test_recover_says_each_file_as_it_is_written_and_an_empty_journal_it_removes(tmp_path, capsys, monkeypatch):
    """Ctrl-C while recovering a big journal printed only "interrupted": the smaller
    session already recovered (its journal deleted) went unsaid. A 0-byte journal was
    removed without a word."""
    from improv.cli import main
    from improv.live import recovery

    (tmp_path / "a.journal").write_text('{"improv_journal":2,"tempo":100.0}\n["player",0.5,[144,60,90]]\n')
    (tmp_path / "b.journal").write_text('{"improv_journal":2,"tempo":100.0}\n["player",0.5,[144,62,90]]\n')
    (tmp_path / "c.journal").write_text("")
    real = recovery.load_journal_report

    def slow_second(j):
        if j.name == "b.journal":
            raise KeyboardInterrupt  # Ctrl-C while the second is read
        return real(j)

    monkeypatch.setattr(recovery, "load_journal_report", slow_second)
    assert main(["recover", str(tmp_path)]) == 130
    out = capsys.readouterr().out
    assert f"recovered {tmp_path / 'a.mid'}" in out
    monkeypatch.setattr(recovery, "load_journal_report", real)
    assert main(["recover", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"recovered {tmp_path / 'b.mid'}" in out and "c.journal: an empty journal (nothing was recorded): removed" \
        in out
    assert not (tmp_path / "c.journal").exists()


def test_improv_recover_command(tmp_path, capsys):
    from improv.cli import main

    (tmp_path / "x.journal").write_text('{"improv_journal":1,"tempo":100.0}\n["player",0.5,[144,60,90]]\n'
                                        '["player",0.7,"bad"]\n')
    assert main(["recover", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"recovered {tmp_path / 'x.mid'}" in out and "1 damaged record skipped" in out
    assert main(["recover", str(tmp_path)]) == 0
    assert "nothing to recover" in capsys.readouterr().out
    assert main(["recover", str(tmp_path / "nope")]) == 2


def test_improv_recover_finds_a_journal_rescued_outside_the_full_sessions_folder(tmp_path, capsys, monkeypatch):
    # The sessions folder filled up, the journal was completed in the temporary folder and
    # the session died before converting it: `improv recover` said "nothing to recover".
    from improv.cli import main

    rescue, home, sessions = tmp_path / "tmp", tmp_path / "home", tmp_path / "sessions"
    for d in (rescue, home, sessions):
        d.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(rescue))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # (record.folder is "sessions")
    (rescue / "20261203-1500-rescued.journal").write_text(
        '{"improv_journal":3,"tempo":100.0}\n["player",0.5,[144,60,90]]\n["player",0.9,[128,60,0]]\n')
    assert main(["recover"]) == 0
    assert f"recovered {Path('sessions') / '20261203-1500-rescued.mid'}" in capsys.readouterr().out
    assert (sessions / "20261203-1500-rescued.mid").exists() and not list(rescue.iterdir())
    assert main(["recover"]) == 0
    assert "nothing to recover" in capsys.readouterr().out


def test_improv_recover_finds_a_rescued_journal_when_the_sessions_folder_is_gone(tmp_path, capsys, monkeypatch):
    """The record folder went away (a stick unplugged mid-set) and the journal was completed
    in the temporary folder: `improv recover` said "sessions not found" and left it there."""
    from improv.cli import main

    rescue, home = tmp_path / "tmp", tmp_path / "home"
    for d in (rescue, home):
        d.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(rescue))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # (record.folder is "sessions", not there)
    assert main(["recover"]) == 2 and "sessions not found" in capsys.readouterr().err  # nothing anywhere: as before
    (rescue / "20261203-1500-rescued.journal").write_text(
        '{"improv_journal":3,"tempo":100.0}\n["player",0.5,[144,60,90]]\n["player",0.9,[128,60,0]]\n')
    assert main(["recover"]) == 0
    assert (tmp_path / "sessions" / "20261203-1500-rescued.mid").exists() and not list(rescue.iterdir())


def test_the_recording_is_renamed_into_place_durably_before_its_journal_is_removed(tmp_path, monkeypatch):
    # Without syncing the folder, a power cut could keep the journal's removal and lose the
    # rename that put the .mid in place: the session would survive only as a hidden .part.
    import stat

    steps = []
    real_fsync, real_unlink = os.fsync, os.unlink

    def fsync(fd):
        steps.append("sync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "sync file")
        return real_fsync(fd)

    def unlink(path, *a, **k):
        steps.append(f"remove {Path(path).suffix}")
        return real_unlink(path, *a, **k)

    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="durable")
    assert (tmp_path / "durable.journal").exists()
    play_a_little(rec)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "unlink", unlink)
    assert rec.close() == tmp_path / "durable.mid"
    assert "remove .journal" in steps
    assert "sync folder" in steps[: steps.index("remove .journal")]


def test_rescued_journals_are_found_once_on_any_system(tmp_path, monkeypatch):
    # The temporary and home folders may be one folder (listed twice: recovered, then "no
    # such file"); Windows has no os.getuid (a traceback where a rescued journal waited).
    from improv.live.recovery import rescued_elsewhere

    both = tmp_path / "both"
    both.mkdir()
    (both / "x-rescued.journal").write_text('{"improv_journal":3,"tempo":100.0}\n')
    monkeypatch.setattr("tempfile.tempdir", str(both))
    monkeypatch.setenv("HOME", str(both))
    assert rescued_elsewhere(tmp_path / "sessions") == [both / "x-rescued.journal"]
    monkeypatch.delattr(os, "getuid")
    assert rescued_elsewhere(tmp_path / "sessions") == [both / "x-rescued.journal"]


def test_with_no_home_folder_a_journal_is_rescued_to_and_found_in_the_temporary_one(tmp_path, monkeypatch):
    # (HOME unset and no passwd entry: Path.home() raises, which ended the rescue and the
    # recover command in a traceback)
    from improv.live.journal import rescue_folders
    from improv.live.recovery import rescued_elsewhere

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert rescue_folders() == (tmp_path,)
    (tmp_path / "x-rescued.journal").write_text('{"improv_journal":3,"tempo":100.0}\n')
    assert rescued_elsewhere(tmp_path / "sessions") == [tmp_path / "x-rescued.journal"]


def test_recover_never_writes_over_a_file_that_is_there(tmp_path):
    # A session that kept its journal (a record it could not read) wrote its .mid, which may
    # have been edited since: recovering the journal writes beside it, not over it.
    (tmp_path / "odd.mid").write_bytes(b"edited in a DAW")
    (tmp_path / "odd.journal").write_text('{"improv_journal":3,"tempo":100.0}\n["player",0.5,[144,60,90]]\n'
                                          '["player",0.9,[128,60,0]]\n')
    assert recover(tmp_path) == [tmp_path / "odd-recovered.mid"]
    assert (tmp_path / "odd.mid").read_bytes() == b"edited in a DAW"


def _killed_after_its_file(folder):
    """A session "cut" whose .mid is written and whose journal is still there (killed before
    it removed it); returns the .mid."""
    rec = Recorder(folder, 120.0, 4, 1, 2, t0=0.0, stamp="cut")
    play_a_little(rec)
    rec._journal.close()
    kept = folder / "kept.journal"
    kept.write_bytes(rec.journal_path.read_bytes())
    path = rec.close()
    kept.rename(rec.journal_path)
    return path


def test_recover_after_a_kill_between_the_file_and_the_journals_removal_makes_no_copy(tmp_path):
    # A session killed (or a power cut) after its .mid was in place but before its journal
    # was removed: recovering the journal wrote the same recording again as -recovered.mid.
    path = _killed_after_its_file(tmp_path)  # (what the kill left: the file and the journal)
    data = path.read_bytes()
    assert recover(tmp_path) == [path]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mid"] and path.read_bytes() == data
    assert recover(tmp_path) == []


def test_a_note_held_at_a_crash_runs_to_the_journals_last_record_of_any_kind(tmp_path):
    # A format-2 journal has no "alive" records: a marker or a tempo written after the note
    # began still says the session ran on (the note was cut to one tick at its start).
    j = tmp_path / "old.journal"
    j.write_text('{"improv_journal":2,"tempo":120.0}\n["player",1.0,[144,60,90]]\n'
                 '["marker",3.0,"Bb7","chord"]\n["tempo",4.0,120.0]\n')
    (out,) = recover(j)
    (held,) = recording_notes(load_recording(out), "player")
    assert (held.start, held.duration) == (2.0, pytest.approx(6.0, abs=0.01))  # 1.0 s .. 4.0 s at 120 bpm


def test_recover_never_removes_a_file_that_is_not_a_journal(tmp_path, capsys):
    from improv.cli import main

    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"")
    assert recover(precious) == [] and precious.exists()
    assert main(["recover", str(precious)]) == 2 and precious.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a session journal" in err


def test_a_waltz_is_recorded_in_three_with_its_chords_on_its_bars(tmp_path):
    """A tune in 3/4 was recorded in 4/4 ([timing] beats_per_bar, 4 unless set), its chord
    and section markers on 4/4 bars (helper-trade's waltz)."""
    import dataclasses

    from improv.config import Config

    chart = parse_chart("Bbmaj7 | Gm7 | Cm7 | F7", 3)
    cfg = Config()
    cfg = dataclasses.replace(cfg, record=dataclasses.replace(cfg.record, folder=str(tmp_path)),
                              timing=dataclasses.replace(cfg.timing, tempo=150.0))
    rec = Recorder.from_config(cfg, 0.0, chart, warn=lambda s: None)
    rec.event("player", mido.Message("note_on", note=60, velocity=90), 0.0)
    rec.event("player", mido.Message("note_off", note=60, velocity=0), 4.7)  # 11.75 beats at 150
    mid = mido.MidiFile(rec.close())
    assert [(m.numerator, m.denominator) for m in mid.tracks[0] if m.type == "time_signature"] == [(3, 4)]
    ticks, chords = 0, {}
    for m in mid.tracks[0]:
        ticks += m.time
        if m.type == "text":
            chords[m.text] = ticks / mid.ticks_per_beat
    assert chords.get("Gm7") == 3.0 and chords.get("F7") == 9.0, chords


def test_recovery_takes_the_last_of_two_tempos_given_at_once_and_no_tempo_from_much_later(tmp_path):
    """Two tempos journalled at one time kept the larger, not the last given; and with none
    before the origin, bar 1 took the first tempo heard later, even a minute on."""
    rec = Recorder(tmp_path, 66.0, 4, 1, 2, t0=0.0, chart=parse_chart("Ebmaj7"), stamp="tie")
    rec.event("player", on(63), 1.0)
    rec.tempo(100.0, 1.0)
    rec.tempo(90.0, 1.0)
    rec.event("player", off(63), 2.0)
    assert load_recording(rec.close()).tempos == ((0.0, 66.0), (1.0, 90.0))
    rec = Recorder(tmp_path, 66.0, 4, 1, 2, t0=0.0, chart=parse_chart("Ebmaj7"), stamp="late")
    rec.event("player", on(63), 1.0)
    rec.set_origin(1.0)
    rec.tempo(143.0, 60.0)
    rec.event("player", off(63), 61.0)
    assert load_recording(rec.close()).tempos == ((0.0, 66.0), (59.0, 143.0))


def test_a_jam_that_runs_past_a_day_keeps_every_note(tmp_path):
    # A jam with no --duration has no time limit: notes past 24 hours were refused as damaged
    # records, left out of the file without a word, and the journal deleted with them.
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="long")
    times = (3600.0, 86400.0 + 600.0, 3 * 86400.0)
    for k, t in enumerate(times):
        rec.event("player", on(60 + k), t)
        rec.event("player", off(60 + k), t + 0.5)
    path = rec.close()
    assert not rec.problem and not rec.journal_path.exists()
    back = load_recording(path)
    assert [(round(e.t), e.msg.note) for e in back.events if e.msg.type == "note_on"] == [
        (round(t), 60 + k) for k, t in enumerate(times)]


def test_a_journal_record_the_closing_session_cannot_read_keeps_the_journal(tmp_path):
    # The live close wrote every record itself: one it cannot read is a fault, said, and the
    # journal stays (a crash's torn last line is `improv recover`'s business, not this).
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="odd")
    play_a_little(rec)
    rec._journal.write(["player", "not a time", [0x90, 60, 90]])
    play_a_little(rec, 2.0)
    path = rec.close()
    assert path is not None and path.exists()
    assert rec.problem and "1 record(s)" in rec.problem and str(rec.journal_path) in rec.problem
    assert rec.journal_path.exists()
    assert len([e for e in load_recording(path).events if e.msg.type == "note_on"]) == 2


def test_a_substitute_the_session_wrote_stands_for_the_charts_chord_in_the_file(tmp_path):
    """The chart's chord markers are laid on the file when it is written; a substitute an
    answer opened over (a "chord" marker of the session) replaces the chart's chord there,
    and the tune's chord the session wrote back after it is not doubled by the chart's."""
    chart = load_tune(ROOT / "improv" / "data" / "tunes" / "blues-f.toml")  # F7 | Bb7 | F7 | F7 ...
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, chart=chart, stamp="sub")
    rec.event("player", on(60), 0.5)
    rec.event("player", off(60), 9.0)
    rec.marker("B7", 2.0, "chord")  # bar 2 (beat 4 at 120 bpm) re-harmonised: B7 for Bb7
    rec.marker("F7", 4.0, "chord")  # ...and the tune's F7 again at bar 3
    back = load_recording(rec.close())
    chords = [(round(m.t, 3), m.text) for m in back.markers if m.kind == "chord"]
    assert (2.0, "B7") in chords and (2.0, "Bb7") not in chords
    assert [c for c in chords if c[0] == 4.0] == [(4.0, "F7")]
    assert (0.0, "F7") in chords  # the chart's own chords elsewhere stay


def test_a_note_played_while_improv_started_keeps_the_count_ins_bars_on_the_file_before_bar_1(tmp_path):
    """A note played while improv started (the partner warming up), then a two-bar count-in:
    the journal begins at that note, less than a bar before the count-in, and the file of what
    came before bar 1 kept the journal's times: its clicks at beats 0.6, 1.6 ... and the pickup
    on beat 4 of the count-in at 7.6, its bars not the count-in's and not leading into bar 1.
    It now starts on the bar line before that note, so the count-in is its bars."""
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="warm")
    assert rec.set_origin(4.3) is True  # bar 1: two bars of 2 s after the count-in began at 0.3 s
    rec.event("player", on(50), 0.0)  # played while improv started
    rec.event("player", off(50), 0.2)
    for k in range(8):
        rec.event("click", on(76 if k % 4 == 0 else 77, ch=9), 0.3 + 0.5 * k)
        rec.event("click", off(76 if k % 4 == 0 else 77, ch=9), 0.35 + 0.5 * k)
    rec.event("player", on(60), 3.8)  # a pickup on beat 4 of the count-in
    rec.event("player", off(60), 4.1)
    rec.event("player", on(62), 4.8)
    rec.event("player", off(62), 5.0)
    rec.close()
    early = load_recording(rec.before_start)
    clicks = [(round(n.start, 3), n.pitch) for n in recording_notes(early, "click")]
    assert clicks == [(4.0 + k, 76 if k % 4 == 0 else 77) for k in range(8)], clicks  # bars 2 and 3, on the beat
    assert [(n.pitch, round(n.start, 3)) for n in recording_notes(early, "player")] == [(50, 3.4), (60, 11.0)]
    assert early.tempos == ((0.0, 120.0),)


def test_a_sound_chosen_before_bar_1_is_the_sound_of_the_file_from_bar_1(tmp_path):
    """An organ chosen on the keyboard (bank select and program change) while improv started,
    or before a DAW's Start: the file from bar 1 had no program change (only the file of what
    came before it did), and a DAW or synth played the whole take on a piano."""
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="organ")
    rec.event("player", mido.Message("control_change", channel=4, control=0, value=1), 0.1)
    rec.event("player", mido.Message("program_change", channel=4, program=5), 0.1)  # (then thought better of it)
    rec.event("player", mido.Message("program_change", channel=4, program=16), 0.2)
    rec.event("player", on(50, ch=4), 0.5)
    rec.event("player", off(50, ch=4), 0.7)
    assert rec.set_origin(2.0) is True
    rec.event("player", on(60, ch=4), 2.5)
    rec.event("player", off(60, ch=4), 3.0)
    mid = mido.MidiFile(str(rec.close()))
    player = [m for m in mid.tracks[1] if not m.is_meta]
    assert [(m.type, m.time) for m in player[:2]] == [("control_change", 0), ("program_change", 0)]
    assert (player[0].control, player[0].value, player[1].program) == (0, 1, 16)
    assert {m.channel for m in player} == {0} and player[2].type == "note_on"
    plain = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="plain")  # nothing chosen: nothing added
    plain.event("player", on(50), 0.5)
    plain.event("player", off(50), 0.7)
    plain.set_origin(2.0)
    plain.event("player", on(60), 2.5)
    plain.event("player", off(60), 3.0)
    assert [m.type for m in mido.MidiFile(str(plain.close())).tracks[1] if not m.is_meta] == ["note_on", "note_off"]


def test_a_pickup_let_go_just_after_bar_1_is_not_a_tick_long_note_on_bar_1(tmp_path):
    """A pickup played in the count-in and released a few ms after bar 1 was carried into the
    main file as a 2-tick note on bar 1 (its real attack is in the file of what came before);
    a note held on well into bar 1 is still carried."""
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="pickup")
    rec.event("player", on(62), 1.6)
    rec.event("player", on(65), 1.8)
    assert rec.set_origin(2.0) is True
    rec.event("player", off(62), 2.01)  # let go 10 ms late
    rec.event("player", off(65), 2.6)  # held into bar 1
    rec.event("player", on(67), 2.5)
    rec.event("player", off(67), 3.0)
    back = load_recording(rec.close())
    main = [(n.pitch, round(n.start, 3)) for n in recording_notes(back, "player")]
    assert main == [(65, 0.0), (67, 1.0)]  # (beats)
    assert not [e for e in back.events if getattr(e.msg, "note", None) == 62]  # no stray note-off either
    early = [(n.pitch, round(n.end - n.start, 2)) for n in recording_notes(load_recording(rec.before_start), "player")]
    assert sorted(early) == [(62, 0.8), (65, 0.4)]  # each ends at bar 1


def test_keys_let_go_by_the_keyboards_all_notes_off_before_bar_1_are_not_carried_into_it(tmp_path):
    """Keys whose releases never came, silenced in the count-in with the keyboard's All Notes
    Off, were taken as held at bar 1 and carried into the main file to its end."""
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="panic")
    rec.event("player", on(60), 1.0)
    rec.event("player", on(64), 1.0)
    rec.event("player", mido.Message("control_change", channel=0, control=123, value=0), 1.5)
    assert rec.set_origin(2.0) is True
    rec.event("player", on(67), 2.5)
    rec.event("player", off(67), 3.0)
    rec.event("player", off(60), 9.0)  # (the close lets go of what it thinks still sounds)
    rec.event("player", off(64), 9.0)
    back = load_recording(rec.close())
    assert [(n.pitch, round(n.start, 2), round(n.duration, 2)) for n in recording_notes(back, "player")] == \
        [(67, 1.0, 1.0)]
    early = [(n.pitch, round(n.end - n.start, 2)) for n in recording_notes(load_recording(rec.before_start), "player")]
    assert sorted(early) == [(60, 1.0), (64, 1.0)]  # (beats) each ends at the All Notes Off


def test_recover_removes_the_hidden_part_file_a_session_killed_while_writing_left(tmp_path):
    # A kill between the part file's write and its rename left `.X.mid.<pid>.part`, a whole
    # hidden copy, in the sessions folder for good; one of a process still running is its own.
    import os

    _killed_after_its_file(tmp_path).unlink()  # (what the kill left: the journal, and the part file below)
    dead = 2 ** 22 + 12345
    while True:
        try:
            os.kill(dead, 0)
            dead += 1
        except ProcessLookupError:
            break
    left = tmp_path / f".cut.mid.{dead}.part"
    left.write_bytes(b"MThd half")
    mine = tmp_path / f".cut.mid.{os.getppid()}.part"  # (a process that runs: maybe writing it now)
    mine.write_bytes(b"MThd")
    (out,) = recover(tmp_path)
    assert out.name == "cut.mid" and not left.exists() and mine.exists()


def test_writing_a_long_sessions_file_checks_no_message_again(tmp_path, monkeypatch):
    """Every recorded message was checked when it was made (read from the journal): the
    file's writer moved each onto its part's channel and then to its delta time, checking
    all its fields again at each copy (four checks a message): 3.5 s more of CPU to write
    the .mid of a three-hour session with a band (345,000 messages) at the end of the
    night, 10.4 s in all. Bounded here by what the writer makes itself, not by the length
    of the session."""
    from mido.messages import messages as mido_messages

    from improv.core.formats.midifile import recording_to_midi
    from improv.live.recovery import journal_to_recording

    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="long")
    n = 0
    for k in range(2000):  # two parts and a bass, a note each every quarter second
        for part, ch in (("player", 0), ("partner", 1), ("bass", 3)):
            rec.event(part, on(40 + (k * 7 + ch) % 40, ch=ch), k * 0.25)
            rec.event(part, off(40 + (k * 7 + ch) % 40, ch=ch), k * 0.25 + 0.2)
            n += 2
    rec.event("player", on(90), 501.0)  # held to the end
    rec._journal.close()
    recording = journal_to_recording(rec.journal_path)
    assert len(recording.events) >= n + 1  # (the held note is let go at the end on reading)
    checks = []
    real = mido_messages.check_msgdict
    monkeypatch.setattr(mido_messages, "check_msgdict", lambda d: checks.append(d) or real(d))
    mid = recording_to_midi(recording)
    assert len(checks) <= 4, f"{len(checks)} checks writing {n + 1} messages"
    assert sum(1 for t in mid.tracks for m in t if m.type == "note_on" and m.velocity) == n // 2 + 1
    bass = next(t for t in mid.tracks if t.name == "bass")
    assert {m.channel for m in bass if not m.is_meta} == {3}  # (still moved onto its part's channel)
    rec.close()
