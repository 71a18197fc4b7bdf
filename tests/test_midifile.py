import mido
import pytest

from improv.core.theory.chart import parse_chart
from improv.core.formats.midifile import (
    Marker,
    Recording,
    TimedMessage,
    chart_markers,
    load_recording,
    midi_to_recording,
    recording_notes,
    recording_to_midi,
    save_recording,
)
from improv.core.formats.miditrack import read_midi_notes
from improv.core.formats.tempomap import seconds_to_ticks, ticks_to_seconds
from midisession import off, on, session
from improv.errors import DataError


def test_seconds_ticks_round_trip_with_tempo_map():
    tempos = ((0.0, 120.0), (2.0, 60.0))
    assert seconds_to_ticks(1.0, tempos) == 960
    assert seconds_to_ticks(3.0, tempos) == 4 * 480 + 480
    for ticks in (0, 1, 479, 1920, 1921, 5000):
        assert seconds_to_ticks(ticks_to_seconds(ticks, tempos), tempos) == ticks


def test_a_rest_longer_than_a_midi_delta_is_written_in_standard_steps(tmp_path):
    # A recording may run for days: 40 hours between two notes at 240 bpm is more ticks than
    # a delta holds (mido wrote a 5-byte number that other readers refuse).
    from improv.core.formats.miditrack import MAX_DELTA

    events = (TimedMessage(0.0, "player", on(60)), TimedMessage(0.5, "player", off(60)),
              TimedMessage(40 * 3600.0, "player", on(62)), TimedMessage(40 * 3600.0 + 0.5, "player", off(62)))
    rec = Recording(events, (), ((0.0, 240.0),), 4, 1, 2, "a long rest")
    path = tmp_path / "long.mid"
    save_recording(rec, path)
    mid = mido.MidiFile(str(path))
    assert max(m.time for track in mid.tracks for m in track) <= MAX_DELTA
    back = load_recording(path)
    assert [(round(e.t, 3), e.msg.type) for e in back.events] == [(round(e.t, 3), e.msg.type) for e in events]


def test_a_long_followed_session_works_out_its_tempo_map_once_each_way(monkeypatch):
    # A jam that follows the player writes a tempo every few beats; building the map's
    # segments again for every event made closing a long session take minutes.
    from improv.core.formats import midifile

    built = []

    class Counting(midifile.TempoMap):
        def __init__(self, *a, **k):
            built.append(1)
            super().__init__(*a, **k)

    monkeypatch.setattr(midifile, "TempoMap", Counting)
    tempos = tuple((2.0 * k, 100.0 + k % 7) for k in range(300))
    events = tuple(TimedMessage(0.3 * k + 0.01, "player", on(60) if k % 2 == 0 else off(60)) for k in range(2000))
    rec = Recording(events, (), tempos, 4, 1, 2, "followed")
    mid = recording_to_midi(rec)
    assert len(built) == 1
    built.clear()
    back = midi_to_recording(mid)
    assert len(built) == 1
    assert len(back.tempos) == 300 and back.tempos[-1][0] == pytest.approx(598.0, abs=1e-6)
    assert [e.t for e in back.events] == pytest.approx([e.t for e in events], abs=1e-3)  # a tick at ~100 bpm


def test_recording_round_trip_through_a_file(tmp_path):
    rec = session()
    path = save_recording(rec, tmp_path / "s.mid")
    back = load_recording(path)
    assert back.tempos == rec.tempos
    assert back.beats_per_bar == 3 and back.title == "test session"
    assert (back.player_channel, back.partner_channel) == (1, 2)
    assert [(m.kind, m.text) for m in back.markers] == [(m.kind, m.text) for m in rec.markers]
    assert len(back.events) == len(rec.events)
    for a, b in zip(rec.events, back.events):
        assert a.part == b.part
        assert b.t == pytest.approx(a.t, abs=60 / 100 / 480)  # one tick at 100 bpm
        assert b.msg.type == a.msg.type
        assert b.msg.channel == (0 if a.part == "player" else 1)  # moved onto the part's channel
    # the file itself: type 1, conductor + player + partner, named tracks
    mid = mido.MidiFile(str(path))
    assert mid.type == 1 and mid.ticks_per_beat == 480
    assert [t.name for t in mid.tracks] == ["test session", "player", "partner"]
    metas = [m.type for m in mid.tracks[0]]
    assert "set_tempo" in metas and "time_signature" in metas


def test_tempo_changes_survive():
    rec = Recording((TimedMessage(0.5, "player", on(60)), TimedMessage(3.0, "player", off(60))),
                    tempos=((0.0, 120.0), (1.0, 90.0)))
    back = midi_to_recording(recording_to_midi(rec))
    assert back.tempos == ((0.0, 120.0), (1.0, 90.0))
    assert [e.t for e in back.events] == pytest.approx([0.5, 3.0], abs=1e-3)


def test_held_notes_get_a_note_off_at_the_end():
    rec = Recording((TimedMessage(0.0, "partner", on(60)), TimedMessage(1.0, "player", on(62)),
                     TimedMessage(1.5, "player", off(62))))
    mid = recording_to_midi(rec)
    partner = [m for m in mid.tracks[2] if not m.is_meta]
    assert [m.type for m in partner] == ["note_on", "note_off"]
    assert sum(m.time for m in mid.tracks[2]) == 3 * 480  # 1.5 s at 120 bpm


def test_a_key_struck_again_while_it_sounds_is_let_go_first():
    """Two ons and one off on a key (the same key held on two channels merged onto the
    player's): the file had no off between the ons, and an off added at its end, so a DAW
    that pairs them in turn held the second note to the end of the file."""
    rec = Recording((TimedMessage(0.0, "player", on(60)), TimedMessage(0.5, "player", on(60)),
                     TimedMessage(1.0, "player", off(60)), TimedMessage(4.0, "player", on(62)),
                     TimedMessage(4.5, "player", off(62))))
    mid = recording_to_midi(rec)
    ticks, seq = 0, []
    for m in mid.tracks[1]:
        ticks += m.time
        if m.type in ("note_on", "note_off"):
            seq.append((ticks, m.note, "on" if m.type == "note_on" and m.velocity else "off"))
    assert seq == [(0, 60, "on"), (480, 60, "off"), (480, 60, "on"), (960, 60, "off"), (3840, 62, "on"),
                   (4320, 62, "off")]
    # struck twice at once (a layered keyboard's two channels merged): one note, not a zero-length one
    rec = Recording((TimedMessage(0.0, "player", on(60)), TimedMessage(0.0, "player", on(60)),
                     TimedMessage(1.0, "player", off(60)), TimedMessage(1.0, "player", off(60))))
    ticks, seq = 0, []
    for m in recording_to_midi(rec).tracks[1]:
        ticks += m.time
        if m.type in ("note_on", "note_off"):
            seq.append((ticks, "on" if m.type == "note_on" and m.velocity else "off"))
    assert seq == [(0, "on"), (960, "off")]


def test_a_note_let_go_within_a_tick_of_its_strike_lasts_a_tick_not_zero():
    """A partner note cut by a yield a fraction of a millisecond after it began was written
    with its note-on and note-off at one tick: a zero-length note, which DAWs drop, or hold to
    the next release of the key when they take the release first."""
    rec = Recording((TimedMessage(1.0, "partner", on(60, ch=1)), TimedMessage(1.0003, "partner", off(60, ch=1)),
                     TimedMessage(1.0006, "partner", on(60, ch=1)), TimedMessage(1.5, "partner", off(60, ch=1)),
                     TimedMessage(2.0, "player", on(62)), TimedMessage(2.0, "player", off(62))))
    seqs = []
    for track in recording_to_midi(rec).tracks[1:3]:
        ticks, seq = 0, []
        for m in track:
            ticks += m.time
            if m.type in ("note_on", "note_off"):
                seq.append((ticks, m.note, "on" if m.type == "note_on" and m.velocity else "off"))
        seqs.append(seq)
    assert seqs[0] == [(1920, 62, "on"), (1921, 62, "off")]
    # (struck again a moment later: the same key's next note starts after the first one's tick)
    assert seqs[1] == [(960, 60, "on"), (961, 60, "off"), (961, 60, "on"), (1440, 60, "off")], seqs[1]
    # struck again within that tick: after the release, not two strikes and then a release
    rec = Recording((TimedMessage(1.0, "partner", on(60, ch=1)), TimedMessage(1.0001, "partner", off(60, ch=1)),
                     TimedMessage(1.0002, "partner", on(60, ch=1)), TimedMessage(1.5, "partner", off(60, ch=1))))
    ticks, seq = 0, []
    for m in recording_to_midi(rec).tracks[2]:
        ticks += m.time
        if m.type in ("note_on", "note_off"):
            seq.append((ticks, "on" if m.type == "note_on" and m.velocity else "off"))
    assert seq == [(960, "on"), (961, "off"), (961, "on"), (1440, "off")], seq
    # struck and let go twice within it: each lasts a tick, none is let go before it is struck
    rec = Recording(tuple(TimedMessage(1.0 + k * 0.0001, "partner", (on if k % 2 == 0 else off)(60, ch=1))
                          for k in range(4)))
    ticks, seq = 0, []
    for m in recording_to_midi(rec).tracks[2]:
        ticks += m.time
        if m.type in ("note_on", "note_off"):
            seq.append((ticks, "on" if m.type == "note_on" and m.velocity else "off"))
    assert seq == [(960, "on"), (961, "off"), (961, "on"), (962, "off")], seq


def test_a_restruck_key_ends_at_its_next_release_as_heard_and_no_release_is_left_unpaired():
    """Merged input whose first strike is released just after the second (the live test's
    replayed solo: 5 keys in 890 notes): the file plays what the synth played and what the
    session's notes say (the next release ends the key), and the other release, with nothing
    sounding on the key, is left out (it was written as a stray note-off). Strikes 5 ms apart
    (a layered keyboard) are one note; a key struck at the very end still sounds a tick."""
    rec = Recording((TimedMessage(0.0, "player", on(60)), TimedMessage(0.5, "player", on(60)),
                     TimedMessage(0.51, "player", off(60)), TimedMessage(1.0, "player", off(60)),
                     TimedMessage(2.0, "player", on(62)), TimedMessage(2.005, "player", on(62)),
                     TimedMessage(2.5, "player", off(62)), TimedMessage(2.501, "player", off(62)),
                     TimedMessage(3.0, "player", off(64)), TimedMessage(3.5, "player", on(65))))
    ticks, seq = 0, []
    for m in recording_to_midi(rec).tracks[1]:
        ticks += m.time
        if m.type in ("note_on", "note_off"):
            seq.append((ticks, m.note, "on" if m.type == "note_on" and m.velocity else "off"))
    assert seq == [(0, 60, "on"), (480, 60, "off"), (480, 60, "on"), (490, 60, "off"), (1920, 62, "on"),
                   (2400, 62, "off"), (3360, 65, "on"), (3361, 65, "off")]
    file_notes = recording_notes(midi_to_recording(recording_to_midi(rec)), "player")
    assert [(n.pitch, round(n.start, 2), round(n.duration, 2)) for n in file_notes] == \
        [(60, 0.0, 1.0), (60, 1.0, 0.02), (62, 4.0, 1.0), (65, 7.0, 0.0)]
    same = recording_notes(rec, "player")  # the session in memory reads the re-strike as the file does
    assert [(n.pitch, round(n.start, 2), round(n.duration, 2)) for n in same][:2] == [(60, 0.0, 1.0), (60, 1.0, 0.02)]


@pytest.mark.parametrize("ccs", [(123, 120), (124, 127)])
def test_the_keyboards_all_notes_off_ends_the_keys_it_held_in_the_file(ccs):
    """Keys whose releases never came, silenced with the keyboard's own panic (All Notes Off,
    All Sound Off, or the other channel mode messages): the synth stopped them there, but the
    file held them to its end (the close's note-offs), 8 s of notes in a 1 s phrase; a
    release that comes later is a stray."""
    cc = [mido.Message("control_change", channel=0, control=c, value=0) for c in ccs]
    rec = Recording((TimedMessage(0.0, "player", on(60)), TimedMessage(0.0, "player", on(64)),
                     TimedMessage(0.5, "player", cc[0]), TimedMessage(1.0, "player", on(67)),
                     TimedMessage(1.5, "player", cc[1]), TimedMessage(8.0, "player", off(60)),
                     TimedMessage(8.0, "player", off(67))))
    ticks, seq = 0, []
    for m in recording_to_midi(rec).tracks[1]:
        ticks += m.time
        if m.type in ("note_on", "note_off"):
            seq.append((ticks, m.note, "on" if m.type == "note_on" and m.velocity else "off"))
    assert seq == [(0, 60, "on"), (0, 64, "on"), (480, 60, "off"), (480, 64, "off"), (960, 67, "on"),
                   (1440, 67, "off")]


def test_recording_notes_in_beats():
    notes = recording_notes(session(tempo=60.0), "partner")
    assert [(n.pitch, round(n.start, 2), round(n.duration, 2)) for n in notes] == [(67, 1.2, 0.63), (71, 1.2, 0.71)]


def test_foreign_file_first_note_track_is_the_player():
    mid = mido.MidiFile(type=1)
    for pitch in (60, 72):
        t = mido.MidiTrack()
        t.extend([on(pitch).copy(time=0), off(pitch).copy(time=480)])
        mid.tracks.append(t)
    rec = midi_to_recording(mid)
    assert [(e.part, e.msg.note) for e in rec.events if e.msg.type == "note_on"] == [("player", 60), ("partner", 72)]


def test_chart_markers():
    chart = parse_chart("Dm7 G7 | Cmaj7 | % ")  # 3 bars, loops
    marks = chart_markers(chart, end=7.0, tempos=((0.0, 120.0),))  # 14 beats
    assert [(m.t, m.text) for m in marks] == [(0.0, "Dm7"), (1.0, "G7"), (2.0, "Cmaj7"), (6.0, "Dm7"), (7.0, "G7")]


# --- band parts and files no reader can use ---------------------------------------------------


def test_band_parts_round_trip_on_their_own_tracks_and_channels(tmp_path):
    events = [(0.0, "player", on(72)), (0.4, "player", off(72)),
              (0.0, "comp", on(64, ch=0)), (0.9, "comp", off(64, ch=0)),  # played on a stray channel...
              (0.0, "bass", on(29, ch=3)), (0.45, "bass", off(29, ch=3)),
              (0.0, "click", on(76, ch=9)), (0.05, "click", off(76, ch=9))]
    rec = Recording(tuple(TimedMessage(t, p, m) for t, p, m in events), comp_channel=6, bass_channel=4, click_channel=10)
    path = save_recording(rec, tmp_path / "band.mid")
    names = [next(m.name for m in t if m.type == "track_name") for t in mido.MidiFile(str(path)).tracks]
    assert names == ["improv session", "player", "partner", "comp", "bass", "click"]
    back = load_recording(path)
    assert back.parts == ("player", "comp", "bass", "click")
    assert {e.msg.channel for e in back.events if e.part == "comp"} == {5}  # ...written on the comp channel
    assert (back.comp_channel, back.bass_channel, back.click_channel) == (6, 4, 10)
    assert [n.pitch for n in recording_notes(back, "bass")] == [29]
    assert not recording_notes(back, "partner")


def test_a_session_without_a_band_has_no_band_tracks():
    mid = recording_to_midi(session())
    assert len(mid.tracks) == 3


def test_marker_text_that_latin_1_cannot_hold_is_spelled_out(tmp_path):
    rec = Recording((TimedMessage(0.0, "player", on(60)),), (Marker(0.0, "C\u266f7 \u2192 F\u266d \u00e9 \u4e2d", "text"),))
    back = load_recording(save_recording(rec, tmp_path / "m.mid"))
    assert back.markers[0].text == "C#7 -> Fb \u00e9 ?"


def test_recordings_that_no_file_can_hold_are_refused():
    bad_tempo = Recording((TimedMessage(0.0, "player", on(60)),), tempos=((0.0, 0.5),))
    with pytest.raises(ValueError, match="tempo"):
        recording_to_midi(bad_tempo)
    too_long = Recording((TimedMessage(0.0, "player", on(60)), TimedMessage(1e9, "player", off(60))))
    with pytest.raises(ValueError, match="long"):
        recording_to_midi(too_long)
    with pytest.raises(ValueError, match="comp channel"):
        recording_to_midi(Recording(comp_channel=0))


def _file(tmp_path, name, ppq=480, metas=(), notes_at=0, patterns=1):
    mid = mido.MidiFile(type=2 if patterns > 1 else 1, ticks_per_beat=ppq)
    mid.tracks.extend(mido.MidiTrack() for _ in range(patterns - 1))
    t = mido.MidiTrack()
    mid.tracks.append(t)
    t.extend(metas)
    t.append(mido.Message("note_on", note=60, velocity=90, time=0))
    t.append(mido.Message("note_off", note=60, time=notes_at or 480))
    path = tmp_path / name
    mid.save(str(path))
    return path


@pytest.mark.parametrize("name, kwargs, match", [
    ("division0.mid", {"ppq": 0}, "division of 0"),
    ("smpte.mid", {"ppq": -7688}, "SMPTE"),
    ("tempo0.mid", {"metas": [mido.MetaMessage("set_tempo", tempo=0)]}, "tempo of 0 microseconds"),
    ("fast.mid", {"metas": [mido.MetaMessage("set_tempo", tempo=1)]}, "6e\\+07 bpm"),
    ("bar0.mid", {"metas": [mido.MetaMessage("time_signature", numerator=0)]}, "0/4"),
    ("long.mid", {"notes_at": 20_000_000 * 480}, "lasts 2,777.8 hours"),
    ("patterns.mid", {"patterns": 3}, "type 2 MIDI file \\(3 independent patterns.*export it again .* as type 1"),
])
def test_files_no_reader_can_use_are_refused_in_one_line(tmp_path, name, kwargs, match):
    path = _file(tmp_path, name, **kwargs)
    for read in (load_recording, read_midi_notes):
        with pytest.raises(DataError, match=match) as e:
            read(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_folder_is_not_a_midi_file(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        load_recording(tmp_path)


def test_a_midi_file_that_cannot_be_read_for_its_permissions_says_so(tmp_path, monkeypatch):
    import builtins

    from improv.core.formats.midicheck import open_midi_file

    p = tmp_path / "locked.mid"
    p.write_bytes(b"MThd")
    real_open = builtins.open

    def locked(file, *a, **k):
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", locked)
    with pytest.raises(DataError, match=r"^cannot read .*locked.mid: permission denied; check the file's permissions$"):
        open_midi_file(p)


def test_a_tempo_between_whole_bpm_round_trips():
    """A jam at 97.5 bpm is written at 97.5, not 98: on a DAW's grid the file would slip a
    beat off its bars every two minutes."""
    rec = Recording((TimedMessage(0.5, "player", on(60)), TimedMessage(60.0, "player", off(60))),
                    tempos=((0.0, 97.5),))
    mid = recording_to_midi(rec)
    tempos = [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(97.5)]
    back = midi_to_recording(mid)
    assert back.tempos[0][1] == pytest.approx(97.5, abs=0.01)
    assert [e.t for e in back.events] == pytest.approx([0.5, 60.0], abs=1e-3)


def test_a_title_beyond_latin_1_is_written_spelled_out_and_read_back(tmp_path):
    """A tune titled "Autumn Leaves – Les Feuilles mortes" (an en dash) or with a flat sign
    or another script: the file could not be written (mido's track names are Latin-1), so
    neither the jam's recording nor `improv recover` of its journal could make one."""
    from dataclasses import replace

    rec = replace(session(), title="Autumn Leaves \u2013 Les Feuilles mortes in B\u266d \u65e5\u672c")
    path = save_recording(rec, tmp_path / "take.mid")
    names = [m.name for m in mido.MidiFile(path).tracks[0] if m.type == "track_name"]
    assert names == ["Autumn Leaves - Les Feuilles mortes in Bb ??"]
    assert load_recording(path).events == load_recording(save_recording(session(), tmp_path / "plain.mid")).events


def test_a_long_sessions_file_is_read_and_planned_for_playback_without_checking_each_message_again(
        tmp_path, monkeypatch):
    """A message read from a file was checked as it was read: reading it into a recording
    and planning its playback copied it with every field checked again (four checks a
    message), most of the 8.6 s `improv play` took before the first note of a three-hour
    session's file (345,000 messages). Bounded here by the file's own reading, not by the
    copies."""
    from mido.messages import messages as mido_messages

    from improv.commands.play import playback_plan
    from improv.core.formats.midicheck import open_midi_file

    events = []
    for k in range(2000):
        for part, ch in (("player", 0), ("partner", 1)):
            pitch = 50 + (k * 5 + ch) % 30
            events += [TimedMessage(k * 0.25, part, on(pitch, ch=ch)), TimedMessage(k * 0.25 + 0.2, part, off(pitch, ch=ch))]
    path = save_recording(Recording(tuple(events), (), ((0.0, 120.0),), 4, 1, 2, "long"), tmp_path / "long.mid")
    mid = open_midi_file(path)
    checks = []
    real = mido_messages.check_msgdict
    monkeypatch.setattr(mido_messages, "check_msgdict", lambda d: checks.append(d) or real(d))
    rec = midi_to_recording(mid)
    plan = playback_plan(rec, 5, 6)
    assert len(checks) <= 4, f"{len(checks)} checks of {len(events)} messages"
    sent = [m for _, m in plan if not isinstance(m, str)]
    assert len(sent) == len(events) and {m.channel for m in sent} == {4, 5}  # (moved onto the channels asked for)
