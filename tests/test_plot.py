import mido
import pytest

from improv.core.formats.midifile import Marker, Recording, TimedMessage, save_recording
from improv.core.formats.pianoroll import recording_to_roll


def session():
    ev = []
    # over Dm7 (beats 0-4): D and F are inside, C# is outside; over G7 (4-8): B inside, Bb... 
    for t, part, pitch in ((0.0, "player", 62), (0.5, "player", 65), (1.0, "player", 61), (2.0, "partner", 71),
                           (2.5, "partner", 68)):
        ev += [TimedMessage(t, part, mido.Message("note_on", note=pitch, velocity=90)),
               TimedMessage(t + 0.4, part, mido.Message("note_off", note=pitch))]
    ev.sort(key=lambda e: e.t)
    markers = (Marker(0.0, "A", "section"), Marker(0.0, "Dm7", "chord"), Marker(2.0, "G7", "chord"),
               Marker(1.0, "bar 1: heard C# over Dm7", "text"))
    return Recording(tuple(ev), markers)


def test_roll_marks_outside_notes_from_chord_markers():
    roll = recording_to_roll(session())  # 120 bpm: 2 s = beat 4
    got = [(n.part, n.note.pitch, n.outside) for n in roll.notes]
    assert got == [("player", 62, False), ("player", 65, False), ("player", 61, True),
                   ("partner", 71, False), ("partner", 68, True)]
    assert roll.chords == ((0.0, "Dm7"), (4.0, "G7")) and roll.sections == ((0.0, "A"),)
    assert roll.bar_lines[:3] == (0.0, 4.0, 8.0)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    from improv.cli import main

    mid = save_recording(session(), tmp_path / "s.mid")
    assert main(["plot", str(mid), "-o", str(tmp_path / "s.png")]) == 0
    data = (tmp_path / "s.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert main(["plot", str(mid), "--bars", "1-2"]) == 0 and (tmp_path / "s.png").exists()
    assert main(["plot", str(mid), "--bars", "x"]) == 2


def test_play_plan_moves_parts_to_their_channels_and_keeps_markers():
    from improv.commands.play import playback_plan

    plan = playback_plan(session(), 3, 4, start=0.5)
    msgs = [(round(t, 3), m.channel, m.note) for t, m in plan if not isinstance(m, str)]
    assert msgs[0] == (0.0, 2, 65) and (1.5, 3, 71) in msgs
    assert [(round(t, 3), m) for t, m in plan if isinstance(m, str)] == [(0.5, "bar 1: heard C# over Dm7"), (1.5, "G7")]
