"""`improv respond` end to end on small MIDI files: tracks, timeline, tempo, bad input."""

from pathlib import Path

import mido
import pytest

from improv.cli import main
from improv.commands.respond import heard_chord
from improv.core.theory.chords import Chord
from improv.core.theory.notes import Note

ROOT = Path(__file__).resolve().parent.parent
LINE = [(62, 0.0, 0.5), (65, 0.5, 0.5), (69, 1.0, 0.5), (72, 1.5, 0.5), (71, 2.0, 0.5), (67, 2.5, 0.5), (65, 3.0, 0.5)]


def write_mid(path, notes, tempo=100.0, channel=0, drums=(), extra_tracks=(), ppq=480):
    """A type-1 file: tempo in the first track, the notes (pitch, start beat, dur) in a second."""
    mid = mido.MidiFile(type=1, ticks_per_beat=ppq)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0)])
    mid.tracks.append(meta)
    for name, ch, ns in [("melody", channel, notes), ("drums", 9, drums), *extra_tracks]:
        if not ns and name != "melody":
            continue
        ev = []
        for p, s, d in ns:
            ev.append((int(round(s * ppq)), 1, mido.Message("note_on", channel=ch, note=p, velocity=90)))
            ev.append((int(round((s + d) * ppq)), 0, mido.Message("note_off", channel=ch, note=p, velocity=0)))
        tr = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        now = 0
        for t, _, m in sorted(ev, key=lambda x: (x[0], x[1])):
            tr.append(m.copy(time=t - now))
            now = t
        mid.tracks.append(tr)
    mid.save(str(path))
    return path


def read_out(path):
    """(tempo bpm, {track name: [(start beat, pitch, dur)]}, chord texts)."""
    mid = mido.MidiFile(str(path))
    tracks, tempo, texts = {}, None, []
    for t in mid.tracks:
        name = next((m.name for m in t if m.type == "track_name"), "")
        tick, on, notes = 0, {}, []
        for m in t:
            tick += m.time
            if m.type == "set_tempo" and tempo is None:
                tempo = mido.tempo2bpm(m.tempo)
            elif m.type == "text":
                texts.append((tick / mid.ticks_per_beat, m.text))
            elif m.type == "note_on" and m.velocity > 0:
                on[m.note] = tick
            elif m.type in ("note_on", "note_off") and m.note in on:
                s = on.pop(m.note)
                notes.append((s / mid.ticks_per_beat, m.note, (tick - s) / mid.ticks_per_beat))
        assert not on, f"hanging notes on track {name}"
        tracks[name] = sorted(notes)
    return tempo, tracks, texts


def respond(tmp_path, call, *flags):
    out = tmp_path / "answer.mid"
    rc = main(["respond", str(call), "-o", str(out), "--responder", "markov", *flags])
    return rc, out


def test_answer_follows_the_call_on_its_timeline(tmp_path, capsys):
    call = write_mid(tmp_path / "call.mid", LINE, tempo=100)
    rc, out = respond(tmp_path, call, "--chords", "Dm7 | G7 | Cmaj7 | %", "--seed", "3", "--outside", "off")
    assert rc == 0
    tempo, tracks, texts = read_out(out)
    assert tempo == pytest.approx(100.0)
    assert set(tracks) >= {"player", "partner"}
    assert tracks["player"] == sorted((s, p, d) for p, s, d in LINE)
    # the call ends at beat 3.5; the live engine notices after the 1-beat gap (4.5) and
    # answers on the next beat: 5.0, for as many bars as the call (1 bar)
    partner = tracks["partner"]
    assert partner and min(s for s, _, _ in partner) >= 5.0
    assert max(s + d for s, _, d in partner) <= 9.0 + 1e-6
    assert "from beat 5 (bar 2 beat 2)" in capsys.readouterr().out
    assert (0.0, "Dm7") in texts and (4.0, "G7") in texts


def test_answer_on_bar_and_bars(tmp_path):
    call = write_mid(tmp_path / "call.mid", LINE)
    rc, out = respond(tmp_path, call, "--chords", "Dm7 G7 | Cmaj7", "--answer-on", "bar", "--bars", "2", "--seed", "1")
    assert rc == 0
    partner = read_out(out)[1]["partner"]
    assert partner and min(s for s, _, _ in partner) >= 8.0
    assert max(s + d for s, _, d in partner) <= 16.0 + 1e-6


def test_same_seed_same_file(tmp_path):
    call = write_mid(tmp_path / "call.mid", LINE)
    a = tmp_path / "a.mid"
    b = tmp_path / "b.mid"
    for out in (a, b):
        assert main(["respond", str(call), "-o", str(out), "--responder", "markov", "--seed", "7", "--tune", "blues-f"]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_tempo_flag_and_no_tempo_in_file(tmp_path):
    call = write_mid(tmp_path / "call.mid", LINE, tempo=140)
    rc, out = respond(tmp_path, call, "--chords", "C7", "--tempo", "90", "--seed", "1")
    assert rc == 0 and read_out(out)[0] == pytest.approx(90.0)


def test_a_call_with_a_tempo_map_is_said_with_the_tempo_the_answer_plays_at(tmp_path, capsys):
    """A jam's recording following the player has a tempo map (94 tempos, 122.5-280.9 bpm in
    a three-minute jam); respond kept it but said only its first tempo, "122.5 bpm", for
    a call and an answer played at 242."""
    call = write_mid(tmp_path / "call.mid", LINE, tempo=90)
    mid = mido.MidiFile(str(call))
    mid.tracks[0].append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(180), time=2 * mid.ticks_per_beat))
    mid.save(str(call))
    rc, out = respond(tmp_path, call, "--chords", "C7", "--seed", "1")
    said = capsys.readouterr().out
    assert rc == 0 and "the call's tempo map (2 tempos, 90-180 bpm), the answer at 180 bpm" in said, said
    rc, out = respond(tmp_path, write_mid(tmp_path / "one.mid", LINE, tempo=90), "--chords", "C7", "--seed", "1")
    assert rc == 0 and "tracks player + partner, 90 bpm\n" in capsys.readouterr().out


def test_swing_places_the_answers_off_beats_as_the_jam_would(tmp_path):
    """--swing was read and then ignored: --swing 1 and 3 wrote the same bytes."""
    call = write_mid(tmp_path / "call.mid", LINE)
    offbeats = {}
    for ratio in ("1", "3"):
        rc, out = respond(tmp_path, call, "--chords", "C7", "--responder", "markov", "--seed", "2", "--swing", ratio)
        assert rc == 0
        fracs = [s % 1.0 for s, _, _ in read_out(out)[1]["partner"]]
        offbeats[ratio] = [f for f in fracs if 0.3 < f < 0.9]
    assert offbeats["1"] and all(abs(f - 0.5) < 1e-3 for f in offbeats["1"])  # markov: straight eighths
    assert offbeats["3"] and all(abs(f - 0.75) < 1e-3 for f in offbeats["3"])  # 3:1, the off-beat at 3/4


def test_the_model_hears_the_call_at_the_files_tempo(tmp_path, monkeypatch):
    from improv.core.embrace import plan

    seen = []
    real = plan.embraced_answer

    def spy(responder, call, chart, settings, embrace):
        seen.append((settings.tempo, settings.feel))
        return real(responder, call, chart, settings, embrace)

    monkeypatch.setattr(plan, "embraced_answer", spy)
    call = write_mid(tmp_path / "call.mid", LINE, tempo=176)
    assert respond(tmp_path, call, "--chords", "C7", "--responder", "markov", "--seed", "1")[0] == 0
    assert respond(tmp_path, call, "--chords", "C7", "--responder", "markov", "--seed", "1", "--tempo", "90",
                   "--swing", "2")[0] == 0
    assert seen[0][0] == pytest.approx(176.0) and seen[0][1] == 1.0
    assert seen[1] == (pytest.approx(90.0), 0.0)


def test_no_chart_guesses_one(tmp_path, capsys):
    call = write_mid(tmp_path / "call.mid", LINE)
    rc, out = respond(tmp_path, call, "--seed", "2")
    assert rc == 0
    assert "the chord heard at the call's end" in capsys.readouterr().out
    assert read_out(out)[1]["partner"]


@pytest.mark.parametrize(
    "notes, chord",
    [
        ([(60, 0, 1), (64, 1, 1), (67, 2, 1), (71, 3, 1)], Chord(0, "maj7")),
        ([(62, 0, 1), (65, 1, 1), (69, 2, 1), (72, 3, 1)], Chord(2, "m7")),
        ([(67, 0, 1), (71, 1, 1), (74, 2, 1), (77, 3, 1)], Chord(7, "7")),
    ],
)
def test_heard_chord(notes, chord):
    assert heard_chord([Note(s, p, d) for p, s, d in notes], 4) == chord


def test_a_call_with_no_chart_is_answered_over_the_chord_it_ends_on_as_the_jam_hears_it(tmp_path, capsys):
    """Two bars of Dm7 and two of G7, no chart: the whole call's notes added up were heard as
    Dm7, and the answer went over the ii where the jam, hearing the last bars most, answers
    over the V."""
    from improv.core.listen.harmony import HarmonyTracker

    ii = [(62, 0, 1), (65, 1, 1), (69, 2, 1), (72, 3, 1), (74, 4, 1), (72, 5, 1), (69, 6, 1), (65, 7, 1)]
    v = [(67, 8, 1), (71, 9, 1), (74, 10, 1), (77, 11, 1), (79, 12, 1), (77, 13, 1), (74, 14, 1), (71, 15, 1)]
    call = write_mid(tmp_path / "call.mid", [(p, float(s), float(d)) for p, s, d in ii + v])
    jam = HarmonyTracker(beats_per_bar=4)  # (the free jam's tracker, fed note by note as keys are let go)
    for p, s, d in ii + v:
        jam.add(p, s, d, 100)
    assert jam.current()[0] == Chord(7, "7")
    rc, out = respond(tmp_path, call, "--seed", "2")
    printed = capsys.readouterr().out
    assert rc == 0 and "answering over G7, the chord heard at the call's end" in printed, printed
    assert "G7" in read_out(out)[2][-1][1], read_out(out)[2]


def test_one_note_call(tmp_path):
    call = write_mid(tmp_path / "call.mid", [(60, 0.0, 1.0)])
    rc, out = respond(tmp_path, call, "--chords", "Cmaj7", "--seed", "1")
    assert rc == 0
    assert read_out(out)[1]["player"] == [(0.0, 60, 1.0)]


def test_300_note_call_is_answered_from_its_end(tmp_path, capsys):
    notes = [(60 + (i * 5) % 19, i * 0.25, 0.25) for i in range(300)]  # 75 beats
    call = write_mid(tmp_path / "call.mid", notes)
    rc, out = respond(tmp_path, call, "--chords", "Dm7 | G7", "--seed", "1")
    assert rc == 0
    text = capsys.readouterr().out
    assert "300 notes" in text and "last 8 bars" in text
    tracks = read_out(out)[1]
    assert len(tracks["player"]) == 300
    assert tracks["partner"] and min(s for s, _, _ in tracks["partner"]) >= 76.0


def test_drums_are_skipped(tmp_path, capsys):
    drums = [(36, i * 1.0, 0.1) for i in range(4)]
    call = write_mid(tmp_path / "call.mid", LINE, drums=drums)
    rc, out = respond(tmp_path, call, "--chords", "Dm7", "--seed", "1")
    assert rc == 0 and "4 drum notes skipped" in capsys.readouterr().out
    assert len(read_out(out)[1]["player"]) == len(LINE)


def test_track_flag(tmp_path):
    other = ("other", 1, [(48, 0.0, 4.0)])
    call = write_mid(tmp_path / "call.mid", LINE, extra_tracks=[other])
    rc, out = respond(tmp_path, call, "--chords", "Dm7", "--track", "other", "--seed", "1")
    assert rc == 0 and read_out(out)[1]["player"] == [(0.0, 48, 4.0)]
    rc, out = respond(tmp_path, call, "--chords", "Dm7", "--track", "1", "--seed", "1")
    assert rc == 0 and len(read_out(out)[1]["player"]) == len(LINE)


def _with_metres(path, *metres):
    """The file at `path` with time signatures (numerator, denominator) a bar apart in its first track."""
    mid = mido.MidiFile(path)
    for i, (num, den) in enumerate(metres):
        mid.tracks[0].insert(1 + i, mido.MetaMessage("time_signature", numerator=num, denominator=den,
                                                     time=0 if i == 0 else 4 * mid.ticks_per_beat))
    mid.save(path)
    return path


def _with_pickup(path):
    """The file at `path` as a notation program exports a call with a pickup: a bar of 1/4, then 4/4."""
    mid = mido.MidiFile(path)
    mid.tracks[0][1:1] = [mido.MetaMessage("time_signature", numerator=1, denominator=4),
                          mido.MetaMessage("time_signature", numerator=4, denominator=4, time=mid.ticks_per_beat)]
    mid.save(path)
    return path


@pytest.mark.parametrize("metre, quarters", [((2, 2), 4), ((6, 8), 3), ((12, 8), 6), ((3, 4), 3)])
def test_a_call_in_cut_time_or_compound_metre_is_read_in_quarter_note_bars(tmp_path, capsys, metre, quarters):
    call = _with_metres(write_mid(tmp_path / "c.mid", LINE), metre)  # refused before but 3/4 ("respond reads ... /4")
    rc, out = respond(tmp_path, call)
    assert rc == 0, capsys.readouterr().err
    sigs = [m for t in mido.MidiFile(out).tracks for m in t if m.type == "time_signature"]
    assert [(m.numerator, m.denominator) for m in sigs] == [metre]  # as written (bars of `quarters` quarters)


def test_a_call_in_another_metre_than_the_tune_names_it_as_written_and_the_way_out(tmp_path, capsys):
    call = _with_metres(write_mid(tmp_path / "c.mid", LINE), (6, 8))
    rc, _ = respond(tmp_path, call, "--tune", "blues-f")
    err = capsys.readouterr().err
    assert rc == 2 and "is in 6/8 (3 beats a bar)" in err  # (said 3/4 before, and not how to fix it)
    assert "--chords (read in 3 beats a bar), or a tune file with beats_per_bar = 3" in err
    assert respond(tmp_path, call, "--chords", "F7 | Bb7")[0] == 0


def test_time_is_the_metre_of_a_call_file_that_says_none_and_refused_against_one_that_does(tmp_path, capsys):
    """--time 3/4 beside a call file in 4/4 was passed over without a word (the file's won)."""
    call = write_mid(tmp_path / "c.mid", LINE)
    rc, out = respond(tmp_path, call, "--time", "3/4", "--chords", "F7 | Bb7 | F7")
    assert rc == 0, capsys.readouterr().err
    sigs = [m for t in mido.MidiFile(out).tracks for m in t if m.type == "time_signature"]
    assert [(m.numerator, m.denominator) for m in sigs] == [(3, 4)]
    waltz = _with_metres(write_mid(tmp_path / "w.mid", LINE), (4, 4))
    rc, _ = respond(tmp_path, waltz, "--time", "3/4")
    err = capsys.readouterr().err
    assert rc == 2 and "--time 3/4, but" in err and "is in 4/4" in err and len(err.strip().splitlines()) == 1, err


def _cut(path, n):
    path.write_bytes(path.read_bytes()[:-n])
    return path


@pytest.mark.parametrize(
    "make, flags, match",
    [
        (lambda d: write_mid(d / "c.mid", []), [], "no notes"),
        (lambda d: write_mid(d / "c.mid", [], drums=[(36, 0, 0.1), (38, 1, 0.1)]), [], "drum"),
        (lambda d: write_mid(d / "c.mid", LINE), ["--chords", "Xyz7 | G7"], "Xyz7"),
        (lambda d: write_mid(d / "c.mid", LINE), ["--tune", "no-such-tune"], "no-such-tune"),
        (lambda d: write_mid(d / "c.mid", LINE), ["--track", "9"], "no track"),
        (lambda d: d / "missing.mid", [], "not found"),
        (lambda d: _with_metres(write_mid(d / "c.mid", LINE), (7, 8)), [], "7/8"),
        (lambda d: _with_metres(write_mid(d / "c.mid", LINE), (4, 4), (3, 4)), [], "changes metre"),
        (lambda d: _with_pickup(write_mid(d / "c.mid", LINE)), [], "begins with a pickup bar (1/4, then 4/4)"),
        (lambda d: (d / "junk.mid").write_bytes(b"MThd junk") and d / "junk.mid", [], "not a readable MIDI file"),
        (lambda d: _cut(write_mid(d / "c.mid", LINE), 10), [], "ends in the middle of a track: cut short?"),
        (lambda d: write_mid(d / "c.mid", LINE), ["--bars", "16"], "--bars 16: an answer lasts at most 8 bars"),
    ],
)
def test_bad_input_gives_one_line(tmp_path, capsys, make, flags, match):
    call = make(tmp_path)
    rc, out = respond(tmp_path, call, *flags)
    err = capsys.readouterr().err.strip()
    assert rc != 0 and match in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_unwritable_output(tmp_path, capsys):
    call = write_mid(tmp_path / "call.mid", LINE)
    rc = main(["respond", str(call), "-o", str(tmp_path / "no" / "dir" / "a.mid"), "--responder", "markov",
               "--chords", "C7"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "does not exist" in err and len(err.splitlines()) == 1


def test_without_o_the_answer_goes_beside_the_call_as_the_readme_says(tmp_path, capsys):
    # README: `improv respond call.mid --tune blues-f --explain` does the demo's explaining offline
    call = write_mid(tmp_path / "call.mid", LINE)
    before = call.read_bytes()
    rc = main(["respond", str(call), "--tune", "blues-f", "--explain", "--responder", "markov", "--seed", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    answer = tmp_path / "call-answer.mid"
    assert f"wrote {answer}" in out and read_out(answer)[1]["partner"]
    assert call.read_bytes() == before


@pytest.mark.parametrize("flags", [["-o", "CALL"], ["-o", "OUT", "--explain-json", "CALL"],
                                   ["-o", "OUT", "--explain-json", "OUT"],
                                   ["-o", "OUT", "--explain-json", "MISSING/x.json"]])
def test_the_call_is_never_overwritten_and_outputs_are_checked_before_work(tmp_path, capsys, flags):
    call = write_mid(tmp_path / "call.mid", LINE)
    before = call.read_bytes()
    paths = {"CALL": str(call), "OUT": str(tmp_path / "out.mid"), "MISSING/x.json": str(tmp_path / "no" / "x.json")}
    rc = main(["respond", str(call), *[paths.get(f, f) for f in flags], "--responder", "markov", "--chords", "C7"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1, err
    assert call.read_bytes() == before and not (tmp_path / "out.mid").exists()


@pytest.mark.skipif(not (ROOT / "models" / "improv-phrase-v2.npz").exists(), reason="no shipped model weights yet")
def test_model_responder(tmp_path):
    call = write_mid(tmp_path / "call.mid", LINE)
    out = tmp_path / "m.mid"
    assert main(["respond", str(call), "-o", str(out), "--responder", "model", "--chords", "Dm7 | G7", "--seed", "1"]) == 0
    partner = read_out(out)[1]["partner"]
    assert partner and min(s for s, _, _ in partner) >= 5.0


def test_a_session_file_is_answered_from_its_player_track(tmp_path, capsys):
    partner = ("partner", 1, [(74, 4.0, 1.0), (77, 5.0, 1.0)])
    call = write_mid(tmp_path / "session.mid", LINE, extra_tracks=[partner])
    mid = mido.MidiFile(str(call))
    for t in mid.tracks:  # name the melody track as `improv jam` does
        for m in t:
            if m.type == "track_name" and m.name == "melody":
                m.name = "player"
    mid.save(str(call))
    rc, out = respond(tmp_path, call, "--chords", "Dm7", "--seed", "1")
    printed = capsys.readouterr().out
    assert rc == 0 and read_out(out)[1]["player"] == sorted((s, p, d) for p, s, d in LINE)
    assert f"call: {len(LINE)} notes from track 1 'player' of 3; 2 other tracks left out" in printed
    rc, out = respond(tmp_path, call, "--chords", "Dm7", "--seed", "1", "--track", "partner")
    assert rc == 0 and [p for _, p, _ in read_out(out)[1]["player"]] == [74, 77]


def test_explain_json_dash_goes_to_stdout(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    call = write_mid(tmp_path / "call.mid", LINE)
    assert main(["respond", str(call), "-o", str(tmp_path / "out.mid"), "--responder", "markov", "--chords", "C7",
                 "--explain-json", "-"]) == 0
    got = capsys.readouterr()
    # stdout is the JSON alone, to pipe (the report lines went before it); they go to stderr
    assert isinstance(json.loads(got.out), list) and not (tmp_path / "-").exists()
    assert "wrote " in got.err and "answer (markov" in got.err


def test_a_tune_in_another_metre_sets_it_for_a_call_file_that_says_none(tmp_path, capsys):
    """A 3/4 tune over a call file with no time signature was refused ("give a chart in
    that metre") where the jam and the demo play it: the file says nothing, the tune does."""
    tune = tmp_path / "waltz.toml"
    tune.write_text('title = "Waltz"\nbeats_per_bar = 3\n\n[sections]\nA = "Dm7 | G7 | Cmaj7 | %"\n')
    rc, out = respond(tmp_path, write_mid(tmp_path / "call.mid", LINE), "--tune", str(tune))
    assert rc == 0, capsys.readouterr().err
    ts = [m for t in mido.MidiFile(str(out)).tracks for m in t if m.type == "time_signature"]
    assert [(m.numerator, m.denominator) for m in ts] == [(3, 4)]


def test_an_output_of_another_kind_is_refused_and_a_bare_name_gets_mid(tmp_path, capsys):
    call = write_mid(tmp_path / "call.mid", LINE)
    args = ["respond", str(call), "--responder", "markov", "--chords", "C7", "--seed", "1"]
    assert main([*args, "-o", str(tmp_path / "answer.txt")]) == 2
    err = capsys.readouterr().err
    assert "the answer is a MIDI file; give a file ending in .mid or .midi" in err and err.count("\n") == 1
    assert not (tmp_path / "answer.txt").exists()
    assert main([*args, "-o", str(tmp_path / "answer")]) == 0 and (tmp_path / "answer.mid").exists()


def test_a_note_never_ended_in_the_call_file_runs_to_its_tracks_end(tmp_path, capsys):
    """It was cut to one tick; render held it (the two now agree)."""
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                                      mido.Message("note_off", note=60, time=480),
                                      mido.Message("note_on", note=64, velocity=90, time=480 * 5),
                                      mido.MetaMessage("end_of_track", time=960)]))
    mid.save(str(tmp_path / "hang.mid"))
    rc, out = respond(tmp_path, tmp_path / "hang.mid", "--chords", "C7", "--seed", "1")
    assert rc == 0 and read_out(out)[1]["player"] == [(0.0, 60, 1.0), (6.0, 64, 2.0)]


def test_the_partner_plays_the_weights_you_give_it(tmp_path, capsys):
    """The README said an exported best.npz is 'what the partner loads', but nothing loaded it:
    respond and jam always read the shipped file."""
    # A byte copy of the shipped weights answered the same whichever file was loaded, so a
    # --model checked and then ignored passed: these weights pick other pitches.
    import numpy as np

    from improv.config import ResponderSettings
    from improv.core.model import responder as model_responder
    from improv.partner.build import make_responder

    mine = tmp_path / "mine.npz"
    with np.load(ROOT / "models" / "improv-phrase-v2.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["o_pitch.out.weight"] = -arrays["o_pitch.out.weight"]  # the pitch head's scores turned around
    np.savez(mine, **arrays)
    assert make_responder(ResponderSettings(name="model", model=str(mine)), seed=1).path == mine  # it loads
    call = write_mid(tmp_path / "call.mid", LINE)

    def answer(*extra):
        out = tmp_path / "answer.mid"
        assert main(["respond", str(call), "-o", str(out), "--chords", "C7", "--seed", "4", *extra]) == 0
        return read_out(out)[1]["partner"]

    shipped, given = answer(), answer("--model", str(mine))
    assert given != shipped  # other weights, another answer (same seed)
    # ... and it is the answer of those weights: the same as when they are the default
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_responder, "DEFAULT_CHECKPOINT", mine)
        assert answer() == given
    for extra, says in ((["--model", str(tmp_path / "none.npz")], "no such weights file"),
                        (["--model", str(ROOT / "models" / "improv-phrase-v2.pt")], "improv export"),
                        (["--model", str(mine), "--responder", "markov"], "does not read them")):
        assert main(["respond", str(call), "-o", str(tmp_path / "x.mid"), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err


def test_a_call_ending_in_a_note_held_past_the_kept_bars_is_answered(tmp_path, capsys):
    # A pedal tone held for 40 beats after a short line: the kept last 8 bars start after
    # every onset. The held note is the call (from where the kept bars begin), not a crash.
    call = write_mid(tmp_path / "call.mid", [(62, 0.0, 0.5), (65, 0.5, 0.5), (60, 1.0, 40.0)])
    rc, out = respond(tmp_path, call, "--chords", "Cmaj7", "--seed", "1")
    assert rc == 0, capsys.readouterr()
    tracks = read_out(out)[1]
    assert tracks["partner"] and min(s for s, _, _ in tracks["partner"]) >= 41.0


def test_a_reharmonised_answer_is_written_over_its_substitute_with_the_reason(tmp_path, capsys):
    """The answer file's chord text still read the written chord where the answer played
    over a substitute (an A7 line under "Cmaj7" in a DAW), with no word of why."""
    call = write_mid(tmp_path / "call.mid", [(62, 0, 0.5), (65, 0.5, 0.5), (61, 4.0, 2.0), (64, 6.0, 1.0)])
    for seed in range(30):
        rc, out = respond(tmp_path, call, "--chords", "Dm7 G7 | Cmaj7 | %", "--seed", str(seed), "--explain")
        said = capsys.readouterr().out
        if rc == 0 and "reharmonise as" in said:
            break
    else:
        pytest.fail("no seed re-harmonised")
    sub = said.split("reharmonise as ")[1].split()[0]
    _, tracks, texts = read_out(out)
    start = tracks["partner"][0][0]
    assert (start, sub) in [(round(b, 6), t) for b, t in texts]
    cues = [m.text for t in mido.MidiFile(str(out)).tracks for m in t if m.type == "cue_marker"]
    assert any("reharmonise as" in c for c in cues)


def test_a_call_note_never_released_runs_to_the_songs_end(tmp_path):
    """The lead's last note is never released and its track ends on the note-on, while the
    pad's track runs on: the note was read as a 1-tick note at its own track's end."""
    import mido

    from improv.commands.callfile import read_call

    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="lead"),
                                      mido.Message("note_on", note=64, velocity=90),
                                      mido.Message("note_off", note=64, time=480),
                                      mido.Message("note_on", note=67, velocity=90, time=480)]))
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="pad"),
                                      mido.Message("note_on", channel=1, note=48, velocity=60),
                                      mido.Message("note_off", channel=1, note=48, time=480 * 6)]))
    mid.save(str(tmp_path / "call.mid"))
    call = read_call(tmp_path / "call.mid", "lead")
    assert [(n.pitch, n.start, n.duration) for n in call.notes] == [(64, 0.0, 1.0), (67, 2.0, 4.0)]


def test_the_sustain_pedal_counts_as_playing_and_is_kept_in_the_file(tmp_path):
    """Keys released by beat 2.75 under a pedal held to beat 6: the answer came in at beat 4
    over the still-sounding chord, and the written call lost its pedal (it played back
    staccato). As the live partner hears it, the call ends when the pedal lifts."""
    import mido

    from improv.cli import main

    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([mido.Message("control_change", control=64, value=127)])
    for k, pitch in enumerate((60, 64, 67, 71)):
        track += [mido.Message("note_on", note=pitch, velocity=80, time=0 if k == 0 else 120),
                  mido.Message("note_off", note=pitch, time=240)]
    track.append(mido.Message("control_change", control=64, value=0, time=480 * 6 - 4 * 360 + 120))
    mid.tracks.append(track)
    mid.save(str(tmp_path / "pedal.mid"))
    assert main(["respond", str(tmp_path / "pedal.mid"), "--chords", "Cmaj7", "--seed", "1",
                 "-o", str(tmp_path / "out.mid")]) == 0
    out = mido.MidiFile(str(tmp_path / "out.mid"))
    tracks = {t.name: t for t in out.tracks}
    pedal, tick = [], 0
    for msg in tracks["player"]:
        tick += msg.time
        if msg.type == "control_change" and msg.control == 64:
            pedal.append((tick / out.ticks_per_beat, msg.value))
    assert pedal == [(0.0, 127), (6.0, 0)]
    tick, first = 0, None
    for msg in tracks["partner"]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0 and first is None:
            first = tick / out.ticks_per_beat
    assert first is not None and first >= 7.0 - 0.25  # a beat's gap after the lift, give or take the feel


def test_the_answer_file_keeps_the_calls_time_signature(tmp_path):
    """A 6/8 call came back in a 3/4 file (and 12/8 in 6/4): the bars are the same length,
    but a DAW shows and counts them otherwise."""
    import mido

    from improv.cli import main

    for num, den in ((6, 8), (12, 8), (4, 4)):
        mid = mido.MidiFile(type=0, ticks_per_beat=480)
        track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=num, denominator=den)])
        for k, p in enumerate((60, 64, 67, 72)):
            track += [mido.Message("note_on", note=p, velocity=80, time=0 if k == 0 else 0),
                      mido.Message("note_off", note=p, time=240)]
        mid.tracks.append(track)
        mid.save(str(tmp_path / "call.mid"))
        assert main(["respond", str(tmp_path / "call.mid"), "--chords", "C", "--seed", "1", "-o",
                     str(tmp_path / "out.mid")]) == 0
        sigs = [(m.numerator, m.denominator) for t in mido.MidiFile(str(tmp_path / "out.mid")).tracks for m in t
                if m.type == "time_signature"]
        assert sigs == [(num, den)], (num, den, sigs)


def _instrument_file(path, keys_on, program_on, programs=((0, 66),), keys=((0.0, "Bb"),), bank=None):
    """LINE on channel 2 (mido channel 1) of a `melody` track, after a conductor track;
    `keys` [(beat, key)] and `programs` [(beat, program)] (with `bank` (msb, lsb) before the
    first) on the track named by `keys_on` / `program_on` ("conductor", "melody" or a third,
    note-less "setup" track)."""
    mid = mido.MidiFile(write_mid(path, LINE, channel=1))
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="setup")]))
    by_name = {"conductor": mid.tracks[0], "melody": mid.tracks[1], "setup": mid.tracks[2]}
    ppq = mid.ticks_per_beat
    adds = {name: [] for name in by_name}
    adds[keys_on] += [(round(b * ppq), mido.MetaMessage("key_signature", key=k)) for b, k in keys]
    moves = [mido.Message("control_change", channel=1, control=c, value=v) for c, v in zip((0, 32), bank or ())]
    adds[program_on] += [(0, m) for m in moves]
    adds[program_on] += [(round(b * ppq), mido.Message("program_change", channel=1, program=p)) for b, p in programs]
    for name, items in adds.items():  # merged in at their ticks, after the name, before what is there
        track, tick, timed = by_name[name], 0, []
        for m in track:
            tick += m.time
            timed.append((tick, 2, m))
        timed += [(t, 1, m) for t, m in items]
        timed.sort(key=lambda x: (x[0] if x[2].type != "end_of_track" else 10**9,  # (stable: their order)
                                  0 if x[2].type == "track_name" else x[1]))
        track.clear()
        now = 0
        for t, _, m in timed:
            track.append(m.copy(time=max(t, now) - now))
            now = max(t, now)
    mid.save(str(path))
    return path


def _setups(out):
    """{track name: [(tick, message type, channel, control or program, value)]} for the
    program changes and bank selects of the answer file, and its key signatures [(beat, key)]."""
    mid = mido.MidiFile(str(out))
    setups, keys = {}, []
    for t in mid.tracks:
        tick, got = 0, []
        for m in t:
            tick += m.time
            if m.type == "key_signature":
                keys.append((t.name, tick / mid.ticks_per_beat, m.key))
            elif m.type == "program_change":
                got.append((tick, m.type, m.channel, m.program, None))
            elif m.type == "control_change" and m.control in (0, 32):
                got.append((tick, m.type, m.channel, m.control, m.value))
        setups[t.name] = got
    return setups, keys


def test_the_answer_file_keeps_the_calls_key_and_instrument(tmp_path, capsys):
    """A tenor-sax call in Bb (program 66, channel 2) came back as a piano in no key: the
    file lost its key signature and program change. The partner answers on the player's sax."""
    from improv.config import MidiSettings

    call = _instrument_file(tmp_path / "sax.mid", "melody", "melody", bank=(1, 5),
                            programs=((0, 0), (0, 66), (2.0, 40)),  # the last before the first note counts
                            keys=((0.0, "Bb"), (2.0, "Eb"), (40.0, "F")))  # (F: long after the call)
    rc, out = respond(tmp_path, call, "--chords", "Bb7", "--seed", "1")
    assert rc == 0, capsys.readouterr().err
    setups, keys = _setups(out)
    assert keys == [("improv respond", 0.0, "Bb"), ("improv respond", 2.0, "Eb")]
    ch = MidiSettings()
    for name, channel in (("player", ch.player_channel - 1), ("partner", ch.partner_channel - 1)):
        assert setups[name] == [(0, "control_change", channel, 0, 1), (0, "control_change", channel, 32, 5),
                                (0, "program_change", channel, 66, None)], name
    tracks = read_out(out)[1]  # and the notes are as before
    assert tracks["player"] == sorted((s, p, d) for p, s, d in LINE) and tracks["partner"]


def test_a_call_with_no_program_change_gets_none(tmp_path, capsys):
    call = _instrument_file(tmp_path / "plain.mid", "melody", "melody", programs=())
    rc, out = respond(tmp_path, call, "--chords", "Bb7", "--seed", "1")
    assert rc == 0, capsys.readouterr().err
    setups, keys = _setups(out)
    assert keys == [("improv respond", 0.0, "Bb")]
    assert all(got == [] for got in setups.values()), setups


@pytest.mark.parametrize("keys_on, program_on", [("conductor", "conductor"), ("conductor", "setup"), ("setup", "setup")])
def test_a_key_and_program_on_another_track_than_the_notes_are_kept(tmp_path, capsys, keys_on, program_on):
    from improv.config import MidiSettings

    call = _instrument_file(tmp_path / "daw.mid", keys_on, program_on)
    rc, out = respond(tmp_path, call, "--chords", "Bb7", "--seed", "1")
    assert rc == 0, capsys.readouterr().err
    setups, keys = _setups(out)
    assert keys == [("improv respond", 0.0, "Bb")]
    ch = MidiSettings()
    assert setups["player"] == [(0, "program_change", ch.player_channel - 1, 66, None)]
    assert setups["partner"] == [(0, "program_change", ch.partner_channel - 1, 66, None)]


def test_explain_json_on_a_full_disk_leaves_no_empty_file(tmp_path, capsys, monkeypatch):
    import errno

    call = write_mid(tmp_path / "call.mid", LINE)
    real = Path.write_text

    def full(self, text, *a, **kw):
        if self.suffix == ".part":  # the JSON's own file: the disk fills up as it is written
            real(self, "", *a, **kw)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, text, *a, **kw)

    monkeypatch.setattr(Path, "write_text", full)
    rc = main(["respond", str(call), "-o", str(tmp_path / "out.mid"), "--responder", "markov", "--chords", "C7",
               "--explain-json", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write --explain-json" in err and "No space left" in err
    assert not (tmp_path / "x.json").exists() and not list(tmp_path.glob(".x.json*"))


def _with_texts(path, texts, ppq=480):
    """Add text events (beat, text) to the file's first track, as a session's chord symbols."""
    mid = mido.MidiFile(str(path))
    conductor = mid.tracks[0]
    now = 0
    for beat, text in texts:
        tick = int(round(beat * ppq))
        conductor.append(mido.MetaMessage("text", text=text, time=tick - now))
        now = tick
    mid.save(str(path))
    return path


def test_a_session_file_is_answered_over_the_chords_written_in_it(tmp_path, capsys):
    """`improv respond` on a session recorded over blues-f guessed one chord from the call
    (Am7b5) although the file names its chords (F7, Bb7, ...), as `improv plot` draws them."""
    from improv.commands.respond import chords_written

    call = _with_texts(write_mid(tmp_path / "session.mid", LINE), [(0.0, "F7"), (4.0, "Bb7"), (8.0, "F7"),
                                                                    (12.0, "F7"), (16.0, "Bb7")])
    rc = main(["respond", str(call), "-o", str(tmp_path / "out.mid"), "--responder", "markov", "--seed", "1"])
    printed = capsys.readouterr().out
    assert rc == 0 and "answering over the chords written in the file (F7, Bb7, F7, Bb7" in printed, printed
    assert "guessed" not in printed
    chart = chords_written(((0.0, "F7"), (4.0, "Bb7"), (4.0 * 4, "Bb7")), 4, 20.0)
    assert [(s.start, str(s.chord)) for s in chart.spans] == [(0.0, "F7"), (4.0, "Bb7")]
    assert str(chart.chord_at(90.0)) == "Bb7"  # after the file's end: the chord it ended on, not bar 1's
    plain = _with_texts(write_mid(tmp_path / "song.mid", LINE), [(0.0, "Copyright 2026 Someone")])
    assert main(["respond", str(plain), "-o", str(tmp_path / "out2.mid"), "--responder", "markov"]) == 0
    assert "the chord heard at the call's end" in capsys.readouterr().out  # text that is no chord: heard, as before


def test_chord_symbols_written_in_utf_8_by_a_daw_are_read(tmp_path, capsys):
    """A DAW writes "B♭7" as UTF-8 in the text event; read as Latin-1 it was no chord, and the
    answer went over a chord guessed from the call."""
    call = _with_texts(write_mid(tmp_path / "song.mid", LINE), [(0.0, "F7"), (4.0, "B?7")])
    mid = mido.MidiFile(str(call))  # (mido writes its text as Latin-1: put the UTF-8 bytes in as a DAW does)
    for msg in mid.tracks[0]:
        if msg.type == "text" and msg.text == "B?7":
            msg.text = "B\u266d7".encode("utf-8").decode("latin-1")
    mid.save(str(call))
    rc = main(["respond", str(call), "-o", str(tmp_path / "out.mid"), "--responder", "markov", "--seed", "1"])
    printed = capsys.readouterr().out
    assert rc == 0 and "answering over the chords written in the file (F7, Bb7" in printed, printed


def test_a_bar_longer_than_improv_plays_names_the_files_metre_not_a_flag(tmp_path, capsys):
    """A file in 32/4 (files may hold up to 32 beats a bar) said "--timing.beats_per_bar:
    expected 1 to 16 beats", a flag there is not."""
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("time_signature", numerator=32, denominator=4))
    track += [mido.Message("note_on", note=60, velocity=90), mido.Message("note_off", note=60, time=480)]
    mid.save(str(tmp_path / "long-bars.mid"))
    assert main(["respond", str(tmp_path / "long-bars.mid"), "-o", str(tmp_path / "out.mid")]) == 2
    err = capsys.readouterr().err
    assert "is in 32/4 (32 beats a bar)" in err and "--timing" not in err and len(err.splitlines()) == 1, err


def test_a_call_read_from_one_track_keeps_its_instrument_and_pedal_from_a_set_up_track(tmp_path, capsys):
    """`--track melody` of a song whose programs are on its conductor or a set-up track, and
    whose sustain pedal is on a track of its own: the answer file lost the instrument (the
    README: it keeps it) and the call its pedal, so the call ended, and was answered, while
    the pedal still held it. A pedal on another channel's set-up is not the call's."""
    from improv.config import MidiSettings

    for program_on in ("conductor", "setup"):
        call = _instrument_file(tmp_path / f"{program_on}.mid", "conductor", program_on)
        rc, out = respond(tmp_path, call, "--track", "melody", "--chords", "Bb7", "--seed", "1")
        assert rc == 0 and "beats 0-3.5\n" in capsys.readouterr().out
        ch = MidiSettings()
        assert _setups(out)[0]["player"] == [(0, "program_change", ch.player_channel - 1, 66, None)], program_on
    mid = mido.MidiFile(str(call))
    # LINE ends at beat 3.5; the melody's channel (2) holds it to beat 6, channel 1's pedal is another part's
    mid.tracks.append(mido.MidiTrack([mido.Message("control_change", channel=1, control=64, value=127),
                                      mido.Message("control_change", channel=0, control=64, value=127),
                                      mido.Message("control_change", channel=1, control=64, value=0, time=6 * 480),
                                      mido.Message("control_change", channel=0, control=64, value=0, time=480)]))
    mid.save(str(tmp_path / "pedal.mid"))
    rc, out = respond(tmp_path, tmp_path / "pedal.mid", "--track", "melody", "--chords", "Bb7", "--seed", "1")
    assert rc == 0
    assert "beats 0-6\n" in capsys.readouterr().out
    tick, pedal = 0, []
    for msg in next(t for t in mido.MidiFile(str(out)).tracks if t.name == "player"):
        tick += msg.time
        if msg.type == "control_change" and msg.control == 64:
            pedal.append((tick / 480, msg.value))
    assert pedal == [(0.0, 127), (6.0, 0)]
    # a session's partner that played nothing is no set-up of the player's, even on its channel
    mid = mido.MidiFile(write_mid(tmp_path / "session.mid", LINE))
    mid.tracks[1].name = "player"
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="partner"),
                                      mido.Message("program_change", channel=0, program=5)]))
    mid.save(str(tmp_path / "session.mid"))
    rc, out = respond(tmp_path, tmp_path / "session.mid", "--chords", "Bb7", "--seed", "1")
    assert rc == 0 and _setups(out)[0]["player"] == []


def test_with_no_chart_the_call_is_heard_over_the_chords_its_left_hand_plays(tmp_path, capsys):
    """A pianist's ii-V-I in a file with no chords: respond heard it over the one chord it
    guessed from all the notes, so the b9 over the left hand's G7 was "heard Ab over
    Cmaj7 (outside ...)" and the answer built on that mistake (the jam hears the voicings)."""
    notes = []
    for bar, voicing in enumerate([(50, 53, 57, 60), (43, 53, 59), (48, 52, 55, 59)]):
        for beat in (0, 2):
            notes += [(p, bar * 4 + beat, 1.8) for p in voicing]
    line = [(0, 74), (0.5, 72), (1, 69), (1.5, 65), (2, 64), (2.5, 65), (3, 69), (3.5, 72), (5.5, 67), (6, 65),
            (6.5, 62), (7, 59), (7.5, 62)]
    notes += [(p, beat, 0.45) for beat, p in line] + [(68, 4, 1.4), (64, 8, 1.9)]
    call = write_mid(tmp_path / "c.mid", notes, tempo=120)
    rc, _ = respond(tmp_path, call, "--explain", "--seed", "1")
    out = capsys.readouterr().out
    assert rc == 0
    assert "voicings spell (Dm7, G7, Cmaj7" in out, out
    assert "heard Ab" not in out, out


def test_a_configs_other_metre_under_a_tune_is_said_not_to_be_used_as_the_jam_says_it(tmp_path, capsys):
    """[timing] beats_per_bar = 3 in a config, --tune blues-f and a call file with no time
    signature: the answer was counted in the tune's 4/4 without a word, where the jam (and
    the demo) say the config's metre is not used."""
    cfg = tmp_path / "waltz-settings.toml"
    cfg.write_text("[timing]\nbeats_per_bar = 3\n")
    rc, out = respond(tmp_path, write_mid(tmp_path / "call.mid", LINE), "--config", str(cfg), "--tune", "blues-f")
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "[timing] beats_per_bar = 3 is not used: the tune is in 4/4" in err, err
    ts = [m for t in mido.MidiFile(str(out)).tracks for m in t if m.type == "time_signature"]
    assert [(m.numerator, m.denominator) for m in ts] == [(4, 4)]
    rc, _ = respond(tmp_path, write_mid(tmp_path / "call.mid", LINE), "--tune", "blues-f")  # nothing set: nothing said
    assert rc == 0 and "is not used" not in capsys.readouterr().err
