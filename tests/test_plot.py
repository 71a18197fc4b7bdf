import mido
import pytest

from improv.core.formats.midifile import Marker, Recording, TimedMessage, save_recording
from improv.core.formats.pianoroll import Roll, RollNote, recording_to_roll
from improv.core.theory.notes import Note


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
    assert roll.bar_lines(0, 8) == [0.0, 4.0, 8.0] and roll.bar_lines(1, 7.9) == [4.0] and roll.bars == 2



def test_a_chord_heard_with_no_chart_rings_the_notes_outside_it_and_keeps_its_label():
    """A session with no chart writes the chords it heard as "(heard) Dm7": the roll showed
    them, but read no chord from them, so no note was ringed."""
    rec = session()
    heard = tuple(Marker(m.t, f"(heard) {m.text}", m.kind) if m.kind == "chord" else m for m in rec.markers)
    roll = recording_to_roll(Recording(rec.events, heard))
    assert [n.outside for n in roll.notes] == [False, False, True, False, True]
    assert roll.chords == ((0.0, "(heard) Dm7"), (4.0, "(heard) G7"))


def test_a_substitute_put_in_for_a_heard_chord_rings_the_notes_outside_it_and_keeps_its_label():
    """With no chart, a chord an answer re-harmonised a heard one with is written as
    "(substitute) Db7": the roll reads the chord, and keeps the label."""
    rec = session()
    marks = tuple(Marker(m.t, f"(heard) {m.text}" if m.t == 0.0 else f"(substitute) {m.text}", m.kind)
                  if m.kind == "chord" else m for m in rec.markers)
    roll = recording_to_roll(Recording(rec.events, marks))
    assert [n.outside for n in roll.notes] == [False, False, True, False, True]
    assert roll.chords == ((0.0, "(heard) Dm7"), (4.0, "(substitute) G7"))

def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    from improv.cli import main

    mid = save_recording(session(), tmp_path / "s.mid")
    assert main(["plot", str(mid), "-o", str(tmp_path / "s.png")]) == 0
    data = (tmp_path / "s.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    # without -o beside the file, and never over the picture there (the README): s-2.png
    assert main(["plot", str(mid), "--bars", "1-2"]) == 0
    assert (tmp_path / "s.png").read_bytes() == data and (tmp_path / "s-2.png").read_bytes()[:8] == data[:8]
    assert main(["plot", str(mid), "--bars", "x"]) == 2


def test_dollar_signs_in_a_name_or_a_marker_are_drawn_as_they_are(tmp_path):
    """`improv plot 'riff $_$.mid'` or a marker `$\\badcmd$` ended in matplotlib's TeX parser's
    traceback (a "$" pair is maths to it)."""
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    from dataclasses import replace

    from improv.cli import main

    rec = session()
    rec = replace(rec, markers=rec.markers + (Marker(0.0, "$\\badcmd$", "chord"), Marker(0.0, "$}$", "section")))
    mid = save_recording(rec, tmp_path / "riff $_$.mid")
    assert main(["plot", str(mid), "-o", str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"


def test_play_plan_moves_parts_to_their_channels_and_keeps_markers():
    from improv.commands.play import playback_plan

    plan = playback_plan(session(), 3, 4, start=0.5)
    msgs = [(round(t, 3), m.channel, m.note) for t, m in plan if not isinstance(m, str)]
    assert msgs[0] == (0.0, 2, 65) and (1.5, 3, 71) in msgs
    assert [(round(t, 3), m) for t, m in plan if isinstance(m, str)] == [(0.5, "bar 1: heard C# over Dm7"), (1.5, "G7")]


def test_pitch_axis_names_every_c_with_its_octave():
    from improv.core.formats.pianoroll import pitch_ticks

    assert pitch_ticks(46, 86) == [48, 60, 72, 84]
    assert pitch_ticks(61, 71) == []


def test_legend_sits_outside_the_chart_and_every_c_is_labelled():
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    import matplotlib.pyplot as plt

    from improv.commands.plot import roll_figure

    roll = recording_to_roll(session())
    fig, legend = roll_figure(roll, 0.0, 8.0)
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["C4", "C5"]  # notes C#4-B4, axis 59-74
        box, chart = legend.get_window_extent(), ax.get_window_extent()
        assert box.y1 <= chart.y0 or box.x0 >= chart.x1, (box, chart)  # below or beside, never over it
    finally:
        plt.close(fig)
    narrow = Roll(tuple(RollNote(Note(b, p, 1.0), "player", False) for b, p in ((0, 63), (1, 66))), (), (), 4, 4.0)
    fig, _ = roll_figure(narrow, 0.0, 4.0)
    try:  # no C among 61-69: the axis reaches down to C4, so an octave is named
        assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["C4"] and fig.axes[0].get_ylim()[0] == 60
    finally:
        plt.close(fig)
    wide = Roll(tuple(RollNote(Note(b, p, 1.0), "player", False) for b, p in ((0, 40), (1, 90))),
                (), (), 4, 4.0)
    fig, _ = roll_figure(wide, 0.0, 4.0)
    try:
        assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["C3", "C4", "C5", "C6"]
    finally:
        plt.close(fig)


def test_a_note_two_million_beats_in_is_refused_quickly_with_the_fix(tmp_path, capsys):
    import time

    from improv.cli import main

    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="player", time=0),
                            mido.Message("note_on", note=60, velocity=90, time=0),
                            mido.Message("note_off", note=60, velocity=0, time=480)])
    for _ in range(12):  # the longest delta a MIDI file holds is 0x0FFFFFFF ticks (6 million beats in all)
        track.append(mido.MetaMessage("text", text="later", time=240_000_000))
    track += [mido.Message("note_on", note=64, velocity=90, time=0),
              mido.Message("note_off", note=64, velocity=0, time=480)]
    mid.tracks.append(track)
    path = tmp_path / "long.mid"
    mid.save(str(path))
    start = time.monotonic()
    assert main(["plot", str(path), "-o", str(tmp_path / "long.png")]) == 2  # 833 hours: no file of a session
    err = capsys.readouterr().err.strip()
    assert "improv reads files of up to 744 hours" in err and len(err.splitlines()) == 1
    assert time.monotonic() - start < 10
    # a long session within the limit (600 bars): a picture draws 256 bars at most, --bars picks them
    mid.tracks[0] = mido.MidiTrack([mido.MetaMessage("track_name", name="player", time=0),
                                    mido.Message("note_on", note=60, velocity=90, time=0),
                                    mido.Message("note_off", note=60, velocity=0, time=480),
                                    mido.Message("note_on", note=64, velocity=90, time=480 * 4 * 600),
                                    mido.Message("note_off", note=64, velocity=0, time=480)])
    mid.save(str(path))
    assert main(["plot", str(path), "-o", str(tmp_path / "long.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "long.mid spans 601 bars; a plot draws at most 256 bars: give --bars A-B" in err, err
    assert main(["plot", str(path), "-o", str(tmp_path / "long.png"), "--bars", "1-100000"]) == 2
    assert "--bars 1-100000 covers 601 bars of long.mid" in capsys.readouterr().err
    if __import__("importlib").util.find_spec("matplotlib"):
        assert main(["plot", str(path), "-o", str(tmp_path / "end.png"), "--bars", "590-601"]) == 0
        assert (tmp_path / "end.png").stat().st_size > 1000


def test_plot_says_what_it_drew_and_refuses_what_it_cannot_write(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    from improv.cli import main

    mid = save_recording(session(), tmp_path / "s.mid")  # 2 bars: 3 notes in bar 1 (1 outside), 2 in bar 2
    capsys.readouterr()
    assert main(["plot", str(mid), "-o", str(tmp_path / "one.png"), "--bars", "1-1"]) == 0
    assert "(3 notes, 1 outside the chord)" in capsys.readouterr().out
    assert main(["plot", str(mid), "-o", str(tmp_path / "bare")]) == 0  # matplotlib adds .png: the line says so
    assert f"wrote {tmp_path / 'bare.png'} " in capsys.readouterr().out and (tmp_path / "bare.png").exists()
    for args in (["-o", str(tmp_path / "x.txt")], ["--bars", "9-10"], ["-o", str(mid)]):
        assert main(["plot", str(mid), *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("improv plot: "), (args, err)


def test_bars_are_counted_as_the_file_lasts_and_a_range_past_the_end_draws_to_the_end(tmp_path, capsys):
    """A file of exactly 2 bars said it had 3, and --bars 3-3 drew an empty bar."""
    from improv.commands.plot import bar_window
    from improv.errors import ConfigError

    roll = recording_to_roll(session())  # ends at beat 8 (with its markers' 4 s)
    assert roll.bars == 2
    assert Roll((), (), (), 4, 8.0).bars == 2 and Roll((), (), (), 4, 8.01).bars == 3 and Roll((), (), (), 4, 0.0).bars == 1
    assert bar_window("2-9", 2, 4) == (4.0, 8.0)
    with pytest.raises(ConfigError, match="has 2 bars; give a range within 1-2"):
        bar_window("3-3", 2, 4)


def test_plot_refuses_a_file_with_nothing_to_draw_and_leaves_out_gm_drums(tmp_path, capsys):
    from improv.cli import main

    empty = save_recording(Recording((), (Marker(0.0, "C7", "chord"),)), tmp_path / "empty.mid")
    assert main(["plot", str(empty), "-o", str(tmp_path / "e.png")]) == 2
    err = capsys.readouterr().err
    assert "has no notes to draw" in err and err.count("\n") == 1 and not (tmp_path / "e.png").exists()
    drums = [TimedMessage(t, "player", mido.Message(kind, channel=9, note=36, velocity=100))
             for t, kind in ((0.0, "note_on"), (0.1, "note_off"))]
    roll = recording_to_roll(Recording(tuple(drums) + session().events, session().markers))
    assert 36 not in [n.note.pitch for n in roll.notes] and len(roll.notes) == 5


def test_play_says_when_a_recording_changes_tempo():
    """It printed the first tempo alone for a file that goes from 90 to 112.5 bpm."""
    from improv.commands.play import tempo_text

    assert tempo_text(((0.0, 120.0),)) == "120 bpm"
    assert tempo_text(((0.0, 89.982), (10.0, 112.5))) == "90 bpm, 1 tempo change, 90-112.5"
    assert tempo_text(((0.0, 90.0), (4.0, 100.0), (8.0, 80.0))) == "90 bpm, 2 tempo changes, 80-100"


def test_the_band_has_its_colours_in_the_legend_and_its_colours_are_not_mistakes():
    """A trading session with --comp --bass: the legend named only the player and the
    partner, and the walking bass's approach notes and the comping's voicings were ringed
    and counted as outside the chord (35 in one file)."""
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    import matplotlib.pyplot as plt

    from improv.commands.plot import roll_figure

    base = session()
    band = [TimedMessage(0.0, "bass", mido.Message("note_on", channel=2, note=37, velocity=80)),  # C# under Dm7
            TimedMessage(0.4, "bass", mido.Message("note_off", channel=2, note=37)),
            TimedMessage(0.5, "comp", mido.Message("note_on", channel=1, note=56, velocity=60)),  # G# in a voicing
            TimedMessage(0.9, "comp", mido.Message("note_off", channel=1, note=56))]
    roll = recording_to_roll(Recording(tuple(sorted(base.events + tuple(band), key=lambda e: e.t)), base.markers))
    assert {(n.part, n.outside) for n in roll.notes if n.part in ("bass", "comp")} == {("bass", False), ("comp", False)}
    assert sum(n.outside for n in roll.notes) == 2  # the player's C# and the partner's G#, as before
    fig, legend = roll_figure(roll, 0.0, 8.0)
    try:
        labels = [t.get_text() for t in legend.get_texts()]
        assert labels[:4] == ["player", "partner", "comp", "bass"] and "outside" in labels[-1]
    finally:
        plt.close(fig)


def test_a_bar_of_no_whole_number_of_quarters_is_said_not_drawn_silently_wrong(tmp_path, capsys):
    """7/8 was drawn as bars of 7 quarter notes, bar 2 at beat 7 instead of 3.5, without a word."""
    pytest.importorskip("matplotlib")
    from improv.cli import main

    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=7, denominator=8)])
    for k in range(7):
        track += [mido.Message("note_on", note=60 + k, velocity=80), mido.Message("note_off", note=60 + k, time=240)]
    mid.tracks.append(track)
    mid.save(str(tmp_path / "seven.mid"))
    assert main(["plot", str(tmp_path / "seven.mid"), "-o", str(tmp_path / "seven.png")]) == 0
    out = capsys.readouterr().out
    assert "seven.mid is in 7/8: each bar is drawn as many quarter notes long as its top number" in out
    mid.tracks[0][0] = mido.MetaMessage("time_signature", numerator=6, denominator=8)  # 3 quarters: drawn right
    mid.save(str(tmp_path / "six.mid"))
    assert main(["plot", str(tmp_path / "six.mid"), "-o", str(tmp_path / "six.png")]) == 0
    assert "is in" not in capsys.readouterr().out


def test_a_files_text_events_are_chords_only_on_a_track_of_chord_symbols():
    """A DAW file's conductor track said "Exported from Reaper" and a rehearsal letter "B":
    the "B" was read as a B major chord and four notes of an F major tune ringed as outside."""
    from improv.core.formats.midifile import midi_to_recording

    def song(texts):
        mid = mido.MidiFile(type=1, ticks_per_beat=480)
        mid.tracks.append(mido.MidiTrack([mido.MetaMessage("text", text=x, time=0 if k == 0 else 960)
                                          for k, x in enumerate(texts)]))
        mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=p, velocity=80, time=0 if k == 0 else 0)
                                          for k, p in enumerate((65, 69, 72, 70))]
                                         + [mido.Message("note_off", note=p, time=480 if k == 0 else 0)
                                            for k, p in enumerate((65, 69, 72, 70))]))
        return midi_to_recording(mid)

    rec = song(["Exported from Reaper", "B"])
    assert [m.kind for m in rec.markers] == ["text", "text"]
    assert not any(n.outside for n in recording_to_roll(rec).notes)
    assert [(m.kind, m.text) for m in song(["F", "Bb7", "NC"]).markers] == [("chord", "F"), ("chord", "Bb7"),
                                                                          ("chord", "NC")]


def test_chords_a_beat_apart_go_on_two_rows_not_on_top_of_each_other():
    """A re-harmonised bar's Cm7, Gb7 and F7 a beat apart were printed as one "Cm7Gb7F7"."""
    from improv.commands.plot import chord_rows

    close = chord_rows([(60.0, "Cm7"), (61.0, "Gb7"), (62.0, "F7"), (64.0, "Bb7")], beats_per_inch=4.0)
    assert [row for _, row in close] == [0, 1, 0, 0]
    wide = chord_rows([(0.0, "F7"), (4.0, "Bb7"), (8.0, "F7")], beats_per_inch=4.0)
    assert [row for _, row in wide] == [0, 0, 0]
