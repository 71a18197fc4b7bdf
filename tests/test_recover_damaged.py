"""Recovering damaged and awkward journals: a damaged header, a journal a running session
still holds, a hole in the middle, a session killed in its count-in; sessions started in the
same second; a journal handed to a command that reads MIDI files."""

import os
import fcntl
import re
import threading
from pathlib import Path

import mido
import pytest

from improv.core.formats.midicheck import open_midi_file
from improv.core.formats.midifile import load_recording, recording_notes
from improv.errors import DataError
from improv.live.recorder import Recorder
from improv.live.journalread import load_journal
from improv.live.recovery import recover

HEADER = ('{"improv_journal":2,"tempo":%s,"beats_per_bar":4,"player_channel":1,"partner_channel":2,'
          '"comp_channel":3,"bass_channel":4,"click_channel":10,"chart":"F7 | Bb7 | F7 | F7",'
          '"sections":[[0,"A"]],"title":"Blues in F"}\n')


def body(n=40, start=0.0):
    """n records: notes of the player, each on then off, 0.25 s apart."""
    lines = []
    for i in range(n // 2):
        t = start + i * 0.5
        lines.append(f'["player",{t:.4f},[144,{60 + i % 12},90]]\n')
        lines.append(f'["player",{t + 0.25:.4f},[128,{60 + i % 12},0]]\n')
    return "".join(lines)


def player_pitches(mid: Path):
    return [n.pitch for n in recording_notes(load_recording(mid), "player")]


# 1. a damaged header line ------------------------------------------------------------


def test_a_damaged_byte_in_the_header_keeps_the_notes_with_defaults(tmp_path):
    good = tmp_path / "good.journal"
    good.write_text(HEADER % "90.0" + body())
    expected = player_pitches(recover(good)[0])
    j = tmp_path / "bad.journal"
    j.write_text("X" + (HEADER % "90.0")[1:] + body())  # its first byte damaged
    said, warned = [], []
    assert recover(j, warn=warned.append, say=said.append) == [tmp_path / "bad.mid"]
    assert warned == [] and not j.exists()
    assert player_pitches(tmp_path / "bad.mid") == expected and len(expected) == 20
    back = load_recording(tmp_path / "bad.mid")
    assert back.tempos == ((0.0, 120.0),) and back.beats_per_bar == 4
    assert said == [f"{j}: no readable header line: assumed 120 bpm, 4/4, the default channels and no chart"]


def test_a_header_with_a_tempo_of_0_keeps_the_notes_and_the_rest_of_the_header(tmp_path):
    j = tmp_path / "t0.journal"
    j.write_text(HEADER % "0" + body())
    said = []
    assert recover(j, say=said.append) == [tmp_path / "t0.mid"]
    back = load_recording(tmp_path / "t0.mid")
    assert back.tempos == ((0.0, 120.0),) and len(recording_notes(back, "player")) == 20
    assert any(m.kind == "chord" and m.text == "Bb7" for m in back.markers)  # the chart is kept
    assert said == [f"{j}: damaged header (tempo 0): assumed 120 bpm"]


def test_a_lost_header_line_still_recovers(tmp_path):
    j = tmp_path / "cut.journal"
    j.write_text(body())  # the file lost its first line
    rec, damage = load_journal(j)
    assert len(recording_notes(rec, "player")) == 20 and damage == 0


@pytest.mark.parametrize("text", ["hello\nworld\n", '{"a":1}\n{"b":2}\n[1,2,3]\n', "[]\n[]\n"])
def test_a_file_that_is_not_a_journal_stays_refused_and_kept(tmp_path, text):
    j = tmp_path / "junk.journal"
    j.write_text(text)
    warned = []
    assert recover(j, warn=warned.append, say=warned.append) == []
    assert len(warned) == 1 and "is not an improv journal" in warned[0] and j.exists()


# 2. a journal a running session still writes --------------------------------------------


def test_recover_of_a_journal_still_being_written_says_so(tmp_path, capsys):
    from improv.cli import main

    j = tmp_path / "live.journal"
    j.write_text(HEADER % "120.0" + body())
    with open(j, "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # a running session's writer holds its journal so
        for target in (j, tmp_path):
            assert main(["recover", str(target)]) == 0
            out = capsys.readouterr().out
            assert out.count("\n") == 1 and "nothing to recover" not in out
            assert f"{j}: a running improv session is still writing it: left alone" in out
    assert j.exists() and not (tmp_path / "live.mid").exists()


# 3. two sessions in the same second -------------------------------------------------------


def test_sessions_started_in_the_same_second_each_get_their_own_file(tmp_path):
    n = 16
    gate = threading.Barrier(n)
    made, errors = [], []

    def start():
        gate.wait()
        try:
            made.append(Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="20260101-000000"))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        stamps = ["20260101-000000"] + [f"20260101-000000-{k}" for k in range(2, n + 1)]
        assert sorted(r.stamp for r in made) == sorted(stamps)
    finally:
        for r in made:
            r.close()


def test_a_name_taken_between_the_look_and_the_create_takes_the_next(tmp_path, monkeypatch):
    first = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="same")
    monkeypatch.setattr(Path, "exists", lambda self: False)  # the look sees nothing: the create must settle it
    second = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="same")
    monkeypatch.undo()
    assert (first.stamp, second.stamp) == ("same", "same-2")
    assert second.journal_path == tmp_path / "same-2.journal"
    for r in (first, second):
        r.event("player", mido.Message("note_on", note=60, velocity=90), 0.5)
        r.close()
    assert (tmp_path / "same.mid").exists() and (tmp_path / "same-2.mid").exists()


# 4. a journal given as a MIDI file -------------------------------------------------------


@pytest.mark.parametrize("command", ["render", "plot", "respond", "play"])
def test_a_journal_given_as_a_midi_file_points_to_recover(tmp_path, capsys, command):
    from improv.cli import main

    folder = tmp_path / "my sessions"
    folder.mkdir()
    j = folder / "s.journal"
    j.write_text(HEADER % "120.0" + body())
    assert main([command, str(j)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "MThd" not in err
    assert f"{j} is an improv session journal, not a MIDI file: run `improv recover '{folder}'`" in err


def test_a_journal_with_a_damaged_header_is_still_named_as_one(tmp_path):
    j = tmp_path / "s.journal"
    j.write_text("X" + (HEADER % "120.0")[1:] + body())
    with pytest.raises(DataError, match=f"improv session journal.*improv recover {re.escape(str(tmp_path))}"):
        open_midi_file(j)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(DataError, match="does not begin with MThd"):
        open_midi_file(other)


# 5. a hole in a journal ------------------------------------------------------------------


def test_a_hole_of_300_bytes_is_counted_as_the_records_it_held(tmp_path):
    text = (HEADER % "120.0" + body(60)).encode()
    j = tmp_path / "hole.journal"
    a = 600
    j.write_bytes(text[:a] + b"\0" * 300 + text[a + 300:])
    lines = text.split(b"\n")
    pos, touched = 0, 0
    for line in lines[1:-1]:
        pos_line = text.index(line + b"\n", pos)
        pos = pos_line + len(line) + 1
        if pos > a and pos_line < a + 300:
            touched += 1
    rec, damaged = load_journal(j)
    assert len(rec.events) == 60 - touched
    assert abs(damaged - touched) <= 1 and damaged > 3
    said = []
    recover(j, say=said.append)
    assert len(said) == 1 and "a damaged stretch of" in said[0] and "bytes skipped (about" in said[0]
    assert "1 damaged record" not in said[0]


def test_a_torn_line_is_still_one_damaged_record(tmp_path):
    j = tmp_path / "torn.journal"
    j.write_text(HEADER % "120.0" + body(10) + '["player",9.0,[144,6')
    said = []
    recover(j, say=said.append)
    assert said == [f"{j}: 1 damaged record skipped"]


# 7. killed in a count-in with a note held -------------------------------------------------


def test_a_note_held_when_killed_in_the_count_in_is_only_in_the_before_start_file(tmp_path):
    # trading: bar 1 (the origin) is set at the start, 4 s ahead; killed 0.6 s in, a key held
    j = tmp_path / "ci.journal"
    j.write_text(HEADER % "120.0" + '["origin",4.0]\n["click",0.0,[153,76,100]]\n["click",0.05,[137,76,0]]\n'
                 '["player",0.3,[144,55,90]]\n["click",0.5,[153,77,75]]\n["click",0.55,[137,77,0]]\n')
    said = []
    # (no ci.mid: it held no note, and a musician sent to it found an empty file)
    assert recover(j, say=said.append) == [tmp_path / "ci-before-start.mid"]
    assert not (tmp_path / "ci.mid").exists() and not j.exists()
    assert said == [f"{j}: the session ended before bar 1 (in its count-in, or before a DAW's Start): what was "
                    f"played is in {tmp_path / 'ci-before-start.mid'}"]
    early = recording_notes(load_recording(tmp_path / "ci-before-start.mid"), "player")
    assert [(n.pitch, round(n.start * 0.5, 3), round(n.end * 0.5, 3)) for n in early] == [(55, 0.3, 0.55)]


def test_a_note_held_across_bar_1_starts_there_with_its_remaining_length(tmp_path):
    j = tmp_path / "across.journal"
    j.write_text(HEADER % "120.0" + '["origin",4.0]\n["player",3.5,[144,55,90]]\n["player",5.0,[128,55,0]]\n'
                 '["player",5.5,[144,57,90]]\n["player",6.0,[128,57,0]]\n')
    recover(j)
    notes = recording_notes(load_recording(tmp_path / "across.mid"), "player")
    assert [(n.pitch, n.start * 0.5, n.end * 0.5) for n in notes] == [(55, 0.0, 1.0), (57, 1.5, 2.0)]
    early = recording_notes(load_recording(tmp_path / "across-before-start.mid"), "player")
    # (in the bar before bar 1: the file before it starts on the bar line before its first note)
    assert [(n.pitch, n.start * 0.5, n.end * 0.5) for n in early] == [(55, 1.5, 2.0)]


def test_the_live_recorder_ended_in_the_count_in_agrees(tmp_path):
    """Ctrl-C in trading's count-in after a pickup: the jam said "recorded to ci.mid", a file
    with no note in it; the pickup was only in ci-before-start.mid. No bar 1 was played: only
    that file is written, and close() says no file of bar 1 on (None)."""
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="ci")
    rec.set_origin(4.0)
    rec.event("player", mido.Message("note_on", note=55, velocity=90), 0.3)
    rec.event("player", mido.Message("note_off", note=55), 0.6)  # the session's end lets the key go
    assert rec.close() is None and not rec.empty and not rec.problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ci-before-start.mid"]
    assert [n.pitch for n in recording_notes(load_recording(rec.before_start), "player")] == [55]
    # a session started again in the same second does not write over it
    again = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="ci")
    assert again.stamp == "ci-2"
    again.close()


def test_a_session_ended_in_the_count_in_keeps_the_count_ins_bars(tmp_path):
    """Ctrl-C in a two-bar count-in that began 0.3 s into the journal: the file of what was
    played (now the session's only file) kept the journal's times, its clicks at beats 0.6,
    1.6 ... and a pickup on the count-in's beat 4 at 3.6; its bars are the count-in's."""
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="ci")
    rec.set_origin(4.3)
    for k in range(5):
        rec.event("click", mido.Message("note_on", channel=9, note=76, velocity=80), 0.3 + 0.5 * k)
        rec.event("click", mido.Message("note_off", channel=9, note=76), 0.35 + 0.5 * k)
    rec.event("player", mido.Message("note_on", note=60, velocity=80), 1.8)  # beat 4 of the count-in's first bar
    rec.event("player", mido.Message("note_off", note=60), 2.1)
    rec.alive(2.4)
    assert rec.close() is None
    early = load_recording(rec.before_start)
    assert [round(n.start, 3) for n in recording_notes(early, "click")] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [(n.pitch, round(n.start, 3), round(n.duration, 3)) for n in recording_notes(early, "player")] == \
        [(60, 3.0, 0.6)]


def test_recover_after_a_kill_once_the_count_ins_file_was_written_makes_no_copy(tmp_path):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="ci")
    rec.set_origin(4.0)
    rec.event("player", mido.Message("note_on", note=55, velocity=90), 0.3)
    rec.event("player", mido.Message("note_off", note=55), 0.6)
    rec._journal.close()
    kept = rec.journal_path.read_bytes()
    assert rec.close() is None
    rec.journal_path.write_bytes(kept)  # (killed before the journal was removed)
    early = tmp_path / "ci-before-start.mid"
    data = early.read_bytes()
    assert recover(tmp_path) == [early]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ci-before-start.mid"] and early.read_bytes() == data


def test_a_pickup_then_only_the_band_from_bar_1_writes_both_files(tmp_path):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="band")
    rec.set_origin(4.0)
    rec.event("player", mido.Message("note_on", note=55, velocity=90), 3.0)
    rec.event("player", mido.Message("note_off", note=55), 3.4)
    rec.event("bass", mido.Message("note_on", channel=3, note=41, velocity=90), 4.0)
    rec.event("bass", mido.Message("note_off", channel=3, note=41), 4.4)
    path = rec.close()
    assert path == tmp_path / "band.mid" and rec.before_start == tmp_path / "band-before-start.mid"
    assert [n.pitch for n in recording_notes(load_recording(path), "bass")] == [41]


def test_a_pickup_then_playing_from_bar_1_writes_both_files(tmp_path):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="both")
    rec.set_origin(4.0)
    rec.event("player", mido.Message("note_on", note=55, velocity=90), 3.0)
    rec.event("player", mido.Message("note_off", note=55), 3.4)
    rec.event("player", mido.Message("note_on", note=57, velocity=90), 4.5)
    rec.event("player", mido.Message("note_off", note=57), 5.0)
    path = rec.close()
    assert path == tmp_path / "both.mid"
    assert [n.pitch for n in recording_notes(load_recording(path), "player")] == [57]
    assert [n.pitch for n in recording_notes(load_recording(rec.before_start), "player")] == [55]


def test_a_journal_from_a_newer_improv_is_kept_and_said_so(tmp_path):
    j = tmp_path / "new.journal"
    j.write_text(HEADER.replace('"improv_journal":2', '"improv_journal":4') % "90.0" + body())
    warned = []
    assert recover(j, warn=warned.append) == []
    assert j.exists() and not (tmp_path / "new.mid").exists()
    assert warned == [f"cannot recover {j}: journal format 4 is newer than this improv reads (3): upgrade improv "
                      "to recover it (the journal is left as it was)"]


def test_a_journal_in_a_folder_it_cannot_write_says_how_to_recover_it(tmp_path, monkeypatch):
    import errno
    import improv.live.recovery as recovery

    j = tmp_path / "ro.journal"
    j.write_text(HEADER % "90.0" + body())

    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(recovery, "_write_parts", refuse)
    warned = []
    assert recover(j, warn=warned.append) == [] and j.exists()
    assert warned == [f"cannot recover {j}: the folder {tmp_path} is not writable (Permission denied); copy the "
                      "journal to a folder you can write and recover it there"]


def test_a_journal_it_cannot_read_says_so_not_that_the_folder_is_not_writable(tmp_path, monkeypatch):
    """Another user's journal (mode 600) was reported as "the folder is not writable; copy
    the journal": the folder was writable, and a journal one cannot read cannot be copied."""
    import errno
    import improv.live.recovery as recovery

    j = tmp_path / "theirs.journal"
    j.write_text(HEADER % "90.0" + body())

    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(recovery, "load_journal_report", refuse)
    monkeypatch.setattr(recovery.os, "access", lambda p, mode: not (mode & os.R_OK and Path(p) == j))
    warned = []
    assert recover(j, warn=warned.append) == [] and j.exists()
    assert warned == [f"cannot recover {j}: the journal cannot be read (Permission denied); recover it as the user "
                      "who recorded it (or give yourself read access to it)"]


# a session that did not end, said at the next start -------------------------------------


def test_the_next_jam_says_which_sessions_did_not_end_and_how_to_get_them_back(tmp_path, capsys):
    """A jam killed (or crashed) leaves its take in a journal that only `improv recover` turns
    into a MIDI file, and nothing told the musician so: the next jam (or demo) recording
    into that folder says it in one line, naming the journals. One a running session still
    writes, an empty one and a finished file are not named."""
    from improv.cli import build_parser
    from improv.commands.jam import checked_settings
    from improv.live.journal import Journal
    from improv.live.recovery import unfinished_hint

    folder = tmp_path / "my sessions"
    folder.mkdir()
    (folder / "2026-12-07-1032.journal").write_text(HEADER % "90.0" + body())
    os.utime(folder / "2026-12-07-1032.journal", (1e9, 1e9))  # (the older: named first)
    (folder / "2026-12-07-1105.journal").write_text(HEADER % "90.0" + body())
    (folder / "empty.journal").write_text("")
    (folder / "done.mid").write_bytes(b"")
    live = Journal(folder / "running.journal", {"h": 1})
    try:
        hint = unfinished_hint(folder)
        checked_settings(build_parser("jam").parse_args(["jam", "--record", str(folder)]))
        said = capsys.readouterr().err
        assert hint == (f"2 sessions recorded in {folder} did not end (killed, or a crash): `improv recover "
                        f"'{folder}'` makes their MIDI files from the journal (2026-12-07-1032.journal, "
                        "2026-12-07-1105.journal)"), hint
        assert said == f"improv: {hint}\n"
        checked_settings(build_parser("jam").parse_args(["jam", "--no-record"]))  # (not recording: not looked at)
        assert capsys.readouterr().err == ""
        recover(folder, say=lambda _: None)  # (the running session's is left alone)
        assert unfinished_hint(folder) == ""
    finally:
        live.close()
    (folder / "running.journal").unlink()
    for n in range(5):
        (folder / f"s{n}.journal").write_text(HEADER % "90.0" + body())
    assert unfinished_hint(folder).endswith("(s0.journal, s1.journal, s2.journal and 2 more)")
    assert unfinished_hint(tmp_path / "nowhere") == ""
