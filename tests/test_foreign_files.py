"""MIDI files from elsewhere (a DAW's or a notation program's export, a General MIDI song) in
the offline commands: `play` keeps a song's channels and its drums on channel 10 (`render`
plays them on the built-in kit), `plot`
counts a 6/8 bar in quarter notes, UTF-8 track names read as written, and an output that
cannot be written is one line with nothing half-written left behind."""

from __future__ import annotations

import errno

import mido
import pytest

from improv.cli import main
from improv.core.formats.midifile import load_recording, midi_to_recording
from improv.core.formats.miditrack import read_midi_notes

M, X = mido.Message, mido.MetaMessage


def _notes(name: str, channel: int, pitches, program: int | None = None, ticks: int = 480) -> mido.MidiTrack:
    track = mido.MidiTrack([X("track_name", name=name)])
    if program is not None:
        track.append(M("program_change", channel=channel, program=program))
    for p in pitches:
        track += [M("note_on", channel=channel, note=p, velocity=90), M("note_off", channel=channel, note=p, time=ticks)]
    return track


def gm_song(path, type_: int = 1):
    """A General MIDI song: piano on channel 1, bass on 2, drums on 10 (type 1, or merged as type 0)."""
    tracks = [mido.MidiTrack([X("set_tempo", tempo=mido.bpm2tempo(100))]),
              _notes("Piano", 0, [60, 62, 64, 65], program=0), _notes("Bass", 1, [36, 43, 41, 38], program=33),
              _notes("Drums", 9, [36, 42, 38, 42], ticks=480)]
    mid = mido.MidiFile(type=type_, ticks_per_beat=480)
    if type_ == 0:
        mid.tracks.append(mido.merge_tracks(tracks))
    else:
        mid.tracks.extend(tracks)
    mid.save(str(path))
    return path


def _channels(plan) -> dict[int, set[int]]:
    """1-based channel -> the pitches its note-ons play."""
    out: dict[int, set[int]] = {}
    for _, m in plan:
        if not isinstance(m, str) and m.type == "note_on" and m.velocity:
            out.setdefault(m.channel + 1, set()).add(m.note)
    return out


@pytest.mark.parametrize("type_", [0, 1])
def test_play_keeps_a_songs_channels_and_its_drums_on_channel_10(tmp_path, type_):
    from improv.commands.play import playback_plan

    rec = load_recording(gm_song(tmp_path / "song.mid", type_))
    plan = playback_plan(rec, 1, 2)
    assert _channels(plan) == {1: {60, 62, 64, 65}, 2: {36, 43, 41, 38}, 10: {36, 42, 38}}
    programs = {(m.channel + 1, m.program) for _, m in plan if not isinstance(m, str) and m.type == "program_change"}
    assert programs == {(1, 0), (2, 33)}  # the bass keeps its sound: its program moves with nothing


def test_play_moves_a_session_files_parts_but_never_a_drum_track(tmp_path):
    from improv.commands.play import playback_plan

    mid = mido.MidiFile(type=1)
    mid.tracks += [mido.MidiTrack([X("set_tempo", tempo=500000)]), _notes("Kit", 9, [36, 42]),
                   _notes("Lead", 4, [70, 72])]
    mid.save(str(tmp_path / "drums-first.mid"))
    plan = playback_plan(load_recording(tmp_path / "drums-first.mid"), 3, 4)
    assert _channels(plan) == {10: {36, 42}, 4: {70, 72}}  # the kit (read as the player) is no melody


def test_utf8_track_names_and_markers_read_as_written(tmp_path, capsys):
    utf8 = lambda s: s.encode("utf-8").decode("latin-1")  # noqa: E731 - what a DAW writes, as mido reads it
    mid = mido.MidiFile(type=1)
    mid.tracks.append(mido.MidiTrack([X("set_tempo", tempo=500000), X("marker", text=utf8("Refrain été"))]))
    mid.tracks.append(_notes(utf8("日本語"), 0, [60, 64, 67]))
    mid.tracks.append(_notes("Bass", 1, [36]))
    path = tmp_path / "utf8.mid"
    mid.save(str(path))
    rec = load_recording(path)
    assert [m.text for m in rec.markers] == ["Refrain été"]
    assert [n.pitch for n in read_midi_notes(path, "日本語")] == [60, 64, 67]
    rc = main(["respond", str(path), "--track", "日本語", "-o", str(tmp_path / "a.mid"), "--responder", "markov",
               "--chords", "C", "--seed", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "track 1 '日本語' of 3" in out


def test_a_6_8_bar_is_three_quarter_notes(tmp_path):
    from improv.core.formats.pianoroll import recording_to_roll

    mid = mido.MidiFile(type=1)
    mid.tracks.append(mido.MidiTrack([X("time_signature", numerator=6, denominator=8)]))
    mid.tracks.append(_notes("Flute", 0, [72, 74, 76, 77, 79, 81], ticks=240))  # two bars of eighths
    mid.save(str(tmp_path / "six8.mid"))
    roll = recording_to_roll(load_recording(tmp_path / "six8.mid"))
    assert roll.beats_per_bar == 3 and roll.bars == 1 and roll.bar_lines(0, 3) == [0.0, 3.0]


def test_plot_of_only_drums_says_so(tmp_path, capsys):
    mid = mido.MidiFile(type=0)
    mid.tracks.append(_notes("Drums", 9, [36, 42, 38]))
    mid.save(str(tmp_path / "kit.mid"))
    assert main(["plot", str(tmp_path / "kit.mid"), "-o", str(tmp_path / "kit.png")]) != 0
    assert "only 3 drum notes on channel 10" in capsys.readouterr().err


def _full_disk(real):
    """A writer that writes a little, then fails as a full disk does."""
    def write(self, target, *args, **kwargs):
        with open(target, "wb") as f:
            f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    return write


def test_plot_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    from matplotlib.figure import Figure

    song = gm_song(tmp_path / "song.mid")
    monkeypatch.setattr(Figure, "savefig", _full_disk(Figure.savefig))
    rc = main(["plot", str(song), "-o", str(tmp_path / "song.png")])
    err = capsys.readouterr().err
    assert rc != 0 and "No space left on device" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]


def test_respond_on_a_full_disk_leaves_the_earlier_answer_whole(tmp_path, capsys, monkeypatch):
    song = gm_song(tmp_path / "song.mid")
    out = tmp_path / "answer.mid"
    out.write_bytes(b"an earlier answer")
    monkeypatch.setattr(mido.MidiFile, "save", _full_disk(mido.MidiFile.save))
    rc = main(["respond", str(song), "--track", "Piano", "-o", str(out), "--responder", "markov", "--chords", "C"])
    err = capsys.readouterr().err
    assert rc != 0 and "No space left on device" in err and len(err.splitlines()) == 1
    assert out.read_bytes() == b"an earlier answer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answer.mid", "song.mid"]


@pytest.mark.parametrize("data, says", [
    (b"", "is empty (0 bytes)"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28), "not a readable MIDI file (it looks like a WAV audio file)"),
    (b"ID3\x03\x00", "not a readable MIDI file (it looks like an MP3 audio file)"),
    (b'<?xml version="1.0"?><score-partwise/>', "it looks like an XML file, such as MusicXML"),
])
@pytest.mark.parametrize("command", ["play", "render", "plot", "respond"])
def test_a_file_that_is_no_midi_file_is_named_for_what_it_is(tmp_path, capsys, data, says, command):
    path = tmp_path / "take.mid"
    path.write_bytes(data)
    assert main([command, str(path)]) != 0
    err = capsys.readouterr().err
    assert says in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("command", ["play", "render", "plot", "respond"])
def test_a_key_signature_out_of_range_is_one_line(tmp_path, capsys, command):
    """A key signature meta event with 64 sharps: mido's KeySignatureError is no ValueError,
    and every file reader ended in a traceback."""
    track = bytes([0x00, 0xFF, 0x59, 0x02, 64, 0x00,  # key signature: 64 sharps, major
                   0x00, 0x90, 60, 90, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00])
    path = tmp_path / "song.mid"
    path.write_bytes(b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96])
                     + b"MTrk" + len(track).to_bytes(4, "big") + track)
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not a readable MIDI file" in err and len(err.splitlines()) == 1, err


def test_respond_says_when_a_type_0_songs_channels_make_one_call(tmp_path, capsys):
    song = gm_song(tmp_path / "song.mid", type_=0)  # piano, bass and drums in one track
    rc = main(["respond", str(song), "-o", str(tmp_path / "a.mid"), "--responder", "markov", "--chords", "C"])
    out = capsys.readouterr().out
    assert rc == 0 and "call: 8 notes from track 0" in out and "channels 1, 2 merged, 4 drum notes skipped" in out


def test_plot_follows_a_pickup_bar_and_changes_of_metre(tmp_path):
    from improv.commands.plot import bar_window
    from improv.core.formats.midifile import recording_to_midi
    from improv.core.formats.pianoroll import recording_to_roll

    # a notation program's pickup (a bar of 1/4), then 4/4, then 3/4 from beat 9
    conductor = [X("time_signature", numerator=1, denominator=4), X("time_signature", numerator=4, denominator=4, time=480),
                 X("time_signature", numerator=3, denominator=4, time=480 * 8)]
    mid = mido.MidiFile(type=1)
    mid.tracks += [mido.MidiTrack(conductor), _notes("Lead", 0, [67] + [72] * 14)]
    mid.save(str(tmp_path / "tune.mid"))
    rec = load_recording(tmp_path / "tune.mid")
    assert rec.beats_per_bar == 1 and rec.metres == ((0.5, 4), (4.5, 3))
    roll = recording_to_roll(rec)
    assert roll.bar_lines(0, 15) == [0.0, 1.0, 5.0, 9.0, 12.0, 15.0] and roll.bars == 5
    assert roll.bar_lines(5.5, 11) == [9.0] and roll.bar_of(9.5) == 3
    assert bar_window("3-4", roll.bars, roll.beats_per_bar, "tune.mid", roll.bar_start) == (5.0, 12.0)
    again = midi_to_recording(recording_to_midi(rec))
    assert again.beats_per_bar == 1 and again.metres == rec.metres  # written back as it was read


def test_play_from_a_later_point_sets_each_channel_up_first(tmp_path):
    from improv.commands.play import playback_plan

    rec = load_recording(gm_song(tmp_path / "song.mid"))  # 100 bpm: a beat is 0.6 s
    plan = playback_plan(rec, 1, 2, start=1.0)
    first = [(round(t, 3), m.type, m.channel + 1) for t, m in plan if not isinstance(m, str)][:2]
    assert sorted(first) == [(0.0, "program_change", 1), (0.0, "program_change", 2)]
    assert [m for _, m in plan if not isinstance(m, str) and m.type == "program_change"][1].program == 33
    assert _channels(plan) == {1: {64, 65}, 2: {41, 38}, 10: {38, 42}}  # from beat 2: no note before --from


def test_a_track_added_to_a_session_file_in_a_daw_is_not_lost(tmp_path):
    mid = mido.MidiFile(type=1)
    mid.tracks += [mido.MidiTrack([X("set_tempo", tempo=500000)]), _notes("player", 0, [60, 62]),
                   _notes("partner", 1, [64, 65]), _notes("Strings", 4, [48, 52], program=48)]
    mid.save(str(tmp_path / "edited.mid"))
    rec = load_recording(tmp_path / "edited.mid")
    assert sorted({(e.part, e.msg.channel + 1) for e in rec.events}) == [("partner", 2), ("partner", 5), ("player", 1)]
    assert rec.player_channel == 1 and rec.partner_channel == 2


def test_render_plays_a_songs_drums_on_the_kit(tmp_path, capsys):
    """A song's drums were left out of its render (the built-in synth had no kit), and a
    drums-only file was refused. They play on the kit now: short hits, not organ notes at
    the keys' pitches (42, the hi-hat, is an F#2 at 92.5 Hz) and not held to their note-offs."""
    import numpy as np

    from improv.core.audio.render import recording_to_parts

    rate = 8000
    song = midi_to_recording(mido.MidiFile(str(gm_song(tmp_path / "song.mid"))))
    only_drums = type(song)(tuple(e for e in song.events if e.msg.channel == 9), (), song.tempos)
    assert only_drums.drum_notes() == 4
    x = recording_to_parts(only_drums, rate, tail_s=0.5).sum(axis=0).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    assert spectrum.sum() > 0 and spectrum[(f > 89) & (f < 96)].sum() < 0.01 * spectrum.sum()
    last = max(e.t for e in only_drums.events if e.msg.type == "note_on")
    assert not x[int((last + 0.35) * rate):].any()  # (each key is held 0.6 s: its hit is over sooner)
    assert main(["render", str(tmp_path / "song.mid"), "-o", str(tmp_path / "song.wav")]) == 0
    assert "left out" not in capsys.readouterr().out
    mid = mido.MidiFile(str(tmp_path / "song.mid"))
    mid.tracks = [mid.tracks[0], mid.tracks[3]]
    mid.save(str(tmp_path / "drums.mid"))
    assert main(["render", str(tmp_path / "drums.mid")]) == 0
    from improv.core.audio.render import wav_to_array

    audio, _ = wav_to_array(tmp_path / "drums.wav")
    assert np.abs(audio).max() > 0.02


def test_a_repeated_note_whose_release_is_written_after_its_restrike_sounds_its_length(tmp_path, capsys):
    """A legato repeated C (a beat, then another) from a program that writes, at the tick
    where they meet, the new note-on before the old note-off: respond heard a call one beat
    long, answered over the second C still sounding, and the plot and the render cut it to
    a tick (the render went silent for the second beat)."""
    from improv.core.audio.render import recording_to_parts
    from improv.core.formats.midifile import recording_notes

    track = mido.MidiTrack([M("note_on", note=60, velocity=90), M("note_on", note=60, velocity=90, time=480),
                            M("note_off", note=60, time=0), M("note_off", note=60, time=480)])
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(track)
    mid.save(str(tmp_path / "repeat.mid"))
    assert [(n.start, n.duration) for n in read_midi_notes(tmp_path / "repeat.mid")] == [(0.0, 1.0), (1.0, 1.0)]
    rec = load_recording(tmp_path / "repeat.mid")
    assert [(n.start, n.duration) for n in recording_notes(rec, "player")] == [(0.0, 1.0), (1.0, 1.0)]
    parts = recording_to_parts(rec, sample_rate=8000, tail_s=0.0)  # 120 bpm: the second C from 0.5 s to 1 s
    assert abs(parts[0, 6000:7900]).max() > 0.01
    assert main(["respond", str(tmp_path / "repeat.mid"), "-o", str(tmp_path / "a.mid"), "--responder", "markov",
                 "--chords", "C6"]) == 0
    assert "beats 0-2" in capsys.readouterr().out


def test_before_a_files_first_tempo_it_plays_at_120_bpm(tmp_path, capsys):
    """A file whose only tempo (60 bpm) comes at beat 4: MIDI plays the beats before it at
    120 bpm, as every player and DAW does (and as the file checks count it), but render,
    play and plot took 60 from the start (an 8 s render of a 6 s file), and respond's
    answer file moved the call's first bar to 60 bpm."""
    from improv.core.formats.midifile import TempoMap

    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([X("set_tempo", tempo=mido.bpm2tempo(60), time=4 * 480)]))
    mid.tracks.append(_notes("Lead", 0, [60, 62, 64, 65, 67, 69, 71, 72]))
    mid.save(str(tmp_path / "late.mid"))
    rec = load_recording(tmp_path / "late.mid")
    assert rec.tempos == ((0.0, 120.0), (2.0, 60.0))
    assert rec.duration == pytest.approx(mido.MidiFile(str(tmp_path / "late.mid")).length) == pytest.approx(6.0)
    assert TempoMap(rec.tempos).ticks(2.0) == 4 * 480
    assert main(["respond", str(tmp_path / "late.mid"), "-o", str(tmp_path / "a.mid"), "--responder", "markov",
                 "--chords", "C6"]) == 0
    tempos = [(tick, mido.tempo2bpm(m.tempo)) for tick, m in _timed(mido.MidiFile(str(tmp_path / "a.mid")).tracks[0])
              if m.type == "set_tempo"]
    assert tempos == [(0, 120.0), (4 * 480, 60.0)]


def _timed(track):
    tick = 0
    for m in track:
        tick += m.time
        yield tick, m


def test_of_two_tempos_at_one_tick_the_last_written_rules(tmp_path, capsys):
    """A file that sets 120 bpm and then 90 at its start (a tool's default, then the song's
    tempo): every player plays it at 90, but render, play and plot took 120 (the higher
    sorted last), and respond answered at 120 and wrote both, in the order that plays 120."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([X("set_tempo", tempo=mido.bpm2tempo(120)),
                                      X("set_tempo", tempo=mido.bpm2tempo(90))]))
    mid.tracks.append(_notes("Lead", 0, [60, 62, 64, 65, 67, 69, 71, 72]))
    mid.save(str(tmp_path / "two.mid"))
    rec = load_recording(tmp_path / "two.mid")
    assert rec.tempos == ((0.0, 90.0),)
    assert rec.duration == pytest.approx(mido.MidiFile(str(tmp_path / "two.mid")).length)
    assert main(["respond", str(tmp_path / "two.mid"), "-o", str(tmp_path / "a.mid"), "--responder", "markov",
                 "--chords", "C6"]) == 0
    assert "90 bpm" in capsys.readouterr().out
    tempos = [m.tempo for _, m in _timed(mido.MidiFile(str(tmp_path / "a.mid")).tracks[0]) if m.type == "set_tempo"]
    assert [round(mido.tempo2bpm(t), 3) for t in tempos] == [90.0]


def test_a_songs_set_up_and_pedal_on_tracks_of_no_notes_play_with_the_notes_of_their_channel(tmp_path):
    """A General MIDI song that sets its programs (violin, bass) and the volume on its first
    track, and a piano pedal on a track of its own: play, render and plot left out every
    message of a track with no notes, so the violin played as a piano on a GM synth and
    the pedal held nothing in the render (the note stopped after its beat)."""
    from improv.commands.play import playback_plan
    from improv.core.audio.render import recording_to_parts

    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([X("set_tempo", tempo=500000), M("program_change", channel=0, program=40),
                                      M("program_change", channel=1, program=33),
                                      M("control_change", channel=0, control=7, value=100)]))
    mid.tracks.append(_notes("Violin", 0, [60]))
    mid.tracks.append(_notes("Bass", 1, [36]))
    mid.tracks.append(mido.MidiTrack([X("track_name", name="Pedal"), M("control_change", channel=0, control=64, value=127),
                                      M("control_change", channel=0, control=64, value=0, time=4 * 480)]))
    mid.tracks.append(mido.MidiTrack([M("control_change", channel=1, control=0, value=0),
                                      M("program_change", channel=1, program=34)]))  # a later track's, before the notes'

    mid.save(str(tmp_path / "song.mid"))
    rec = load_recording(tmp_path / "song.mid")
    plan = [m for _, m in playback_plan(rec, 1, 2) if not isinstance(m, str)]
    assert [(m.channel, m.program) for m in plan if m.type == "program_change"] == [(0, 40), (1, 33), (1, 34)]
    assert [(m.channel, m.control, m.value) for m in plan if m.type == "control_change"] == \
        [(0, 7, 100), (0, 64, 127), (1, 0, 0), (0, 64, 0)]
    assert [m.type for m in plan][:6] == ["program_change", "program_change", "control_change", "control_change",
                                          "control_change", "program_change"]  # all set up before the first note
    assert rec.duration == pytest.approx(2.0)  # to the pedal's lift: 4 beats at 120 bpm
    parts = recording_to_parts(rec, sample_rate=8000, tail_s=0.0)
    assert abs(parts[0, 12000:15000]).max() > 0.01  # the violin's C, released at 0.5 s, held by the pedal at 1.5 s


def test_a_type_2_file_of_one_pattern_is_read_by_respond_as_by_the_others(tmp_path, capsys):
    """A type-2 file holding one pattern (what some pattern sequencers export) is a song of
    one track: render, play and plot read it, but respond refused it ("save it as type 0
    or 1"), where the file checks every command shares are meant to refuse the same files."""
    mid = mido.MidiFile(type=2, ticks_per_beat=480)
    mid.tracks.append(_notes("Lead", 0, [60, 62, 64, 65]))
    mid.save(str(tmp_path / "one.mid"))
    assert main(["respond", str(tmp_path / "one.mid"), "-o", str(tmp_path / "a.mid"), "--responder", "markov",
                 "--chords", "C6"]) == 0
    assert "call: 4 notes from track 0 'Lead', beats 0-4" in capsys.readouterr().out
    assert len(load_recording(tmp_path / "one.mid").events) == 8
