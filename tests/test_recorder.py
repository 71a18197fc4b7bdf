import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest

from improv.core.theory.chart import load_tune
from improv.core.formats.midifile import load_recording, recording_notes
from improv.live.recorder import Recorder, journal_to_recording, recover

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


def test_close_writes_the_midi_file_and_removes_the_journal(tmp_path):
    chart = load_tune(ROOT / "improv" / "data" / "tunes" / "blues-f.toml") if (ROOT / "improv/data/tunes/blues-f.toml").exists() else None
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=50.0, chart=chart, stamp="20240101-120000")
    rec.event("player", mido.Message("note_on", note=60, velocity=90, channel=7), 50.5)
    rec.event("player", mido.Message("note_off", note=60, channel=7), 51.0)
    rec.event("partner", mido.Message("note_on", note=64, velocity=70), 52.0)
    rec.event("partner", mido.Message("clock"), 52.1)  # not a channel message: not recorded
    rec.marker("bar 2: heard C# over F7", 52.0)
    path = rec.close()
    assert path == tmp_path / "20240101-120000.mid" and path.exists()
    assert not rec.journal_path.exists()
    assert rec.close() == path  # idempotent
    back = load_recording(path)
    assert [(e.part, e.msg.type, round(e.t, 3)) for e in back.events] == [
        ("player", "note_on", 0.5), ("player", "note_off", 1.0), ("partner", "note_on", 2.0), ("partner", "note_off", 2.0)]
    texts = [(m.kind, m.text) for m in back.markers]
    assert ("text", "bar 2: heard C# over F7") in texts
    if chart is not None:
        assert texts[0][0] in ("chord", "section") and any(k == "chord" for k, _ in texts)
    # a second recorder in the same second gets its own file
    again = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="20240101-120000")
    assert again.close() == tmp_path / "20240101-120000-2.mid"


def test_unwritable_folder_warns_and_returns_none(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    warnings = []
    rec = Recorder(blocker / "sessions", 120.0, 4, 1, 2, t0=0.0, warn=warnings.append)
    rec.event("player", mido.Message("note_on", note=60), 0.1)
    rec.marker("x", 0.2)
    assert rec.failed
    assert rec.close() is None
    assert len(warnings) == 1


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


def test_recover_leaves_a_live_journal_alone(tmp_path):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="live")
    rec.event("player", mido.Message("note_on", note=60), 0.1)
    assert recover(tmp_path) == []
    assert rec.journal_path.exists()
    assert rec.close() == tmp_path / "live.mid"


def test_recover_a_torn_journal(tmp_path):
    j = tmp_path / "torn.journal"
    j.write_text('{"improv_journal":1,"tempo":90.0,"beats_per_bar":3,"player_channel":3,"partner_channel":4}\n'
                 '["player",0.5,[144,60,90]]\n["partner",1.0,[144,67,80]]\n["player",1.5,[128,6')
    rec = journal_to_recording(j)
    assert rec.tempos == ((0.0, 90.0),) and rec.beats_per_bar == 3 and rec.player_channel == 3
    assert len(rec.events) == 2
    assert recover(j) == [tmp_path / "torn.mid"]
    (tmp_path / "empty.journal").write_text("")
    warnings = []
    (tmp_path / "junk.journal").write_text("hello\n")
    assert recover(tmp_path, warn=warnings.append) == []
    assert not (tmp_path / "empty.journal").exists()
    assert len(warnings) == 1 and "junk.journal" in warnings[0]


def test_improv_recover_command(tmp_path, capsys):
    from improv.cli import main

    (tmp_path / "x.journal").write_text('{"improv_journal":1,"tempo":100.0}\n["player",0.5,[144,60,90]]\n')
    assert main(["recover", str(tmp_path)]) == 0
    assert f"recovered {tmp_path / 'x.mid'}" in capsys.readouterr().out
    assert main(["recover", str(tmp_path)]) == 0
    assert "nothing to recover" in capsys.readouterr().out
    assert main(["recover", str(tmp_path / "nope")]) == 2
