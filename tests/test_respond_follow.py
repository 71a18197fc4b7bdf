"""`improv respond --follow`: a call played with no click, in a file whose tempo map (a
recorder's 120 bpm) is not the player's, answered at the tempo and on the beat heard in its
notes (improv/commands/calltime.py); and the line that says so without --follow."""

import math
import random
import re
from pathlib import Path

import mido
import pytest

from improv.cli import main
from test_drum_pads import groove_under_held_notes
from test_respond import read_out
from improv.commands.calltime import lead_in_chart
from improv.core.theory.chart import parse_chart

_HERE = Path(__file__).resolve()
REAL = next((p / "shared" / "data" / "wjazzd-solos.tar.gz" for p in (_HERE.parents[2], _HERE.parents[3])
             if (p / "shared" / "data" / "wjazzd-solos.tar.gz").exists()),
            _HERE.parents[2] / "shared" / "data" / "wjazzd-solos.tar.gz")
FILE_BPM = 120.0


def write_seconds(path, notes, bpm=FILE_BPM):
    """A type-0 file at `bpm` holding `notes` [(onset s, end s, pitch, velocity)] where they
    were played: what a recorder with no click writes."""
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    tr = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)])
    ev = []
    for on, off, pitch, vel in notes:
        ev += [(round(on * bpm / 60 * 480), 1, pitch, vel), (round(off * bpm / 60 * 480), 0, pitch, 0)]
    now = 0
    for tick, _, pitch, vel in sorted(ev):
        tr.append(mido.Message("note_on", note=pitch, velocity=vel, time=tick - now))
        now = tick
    mid.tracks.append(tr)
    mid.save(str(path))
    return path


def swung_line(bpm, start_s, bars=4, seed=0, ahead=0.0):
    """Swung eighths (2:1) at `bpm` from `start_s`, accents on the beat, a breath at each bar's
    end, each onset up to 8 ms off: a player with no click. `ahead`: the first note that much
    early (seconds)."""
    rnd, beat = random.Random(seed), 60.0 / bpm
    notes = []
    for b in range(bars * 4):
        if b % 4 == 3:
            continue
        for half, pos in ((0, 0.0), (1, 2 / 3)):
            on = start_s + (b + pos) * beat + rnd.uniform(-0.008, 0.008)
            length = (0.6 if half == 0 else 0.25) * beat
            notes.append((on, on + length, 60 + (b * 2 + half * 3) % 12, 100 if half == 0 else 70))
    notes[0] = (notes[0][0] - ahead, notes[0][1], notes[0][2], notes[0][3])
    return notes


def test_a_call_played_with_no_click_is_answered_at_its_tempo_on_its_beat(tmp_path, capsys):
    """At 93 bpm, 1.7 s into a file at 120: answered at 120 on the file's beats before (the
    line's beat fell 0.4 beat off the answer's), now at 93 on the line's own beat."""
    bpm, start = 93.0, 1.7
    line = swung_line(bpm, start)
    src = write_seconds(tmp_path / "free.mid", line)
    assert main(["respond", str(src), "-o", str(tmp_path / "plain.mid"), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    said = re.search(r"the call sounds played at (\d+) bpm, not on the file's 120 \(played with no click\?\): "
                     r"--follow answers", out)
    assert said and abs(int(said.group(1)) - bpm) <= 0.03 * bpm, out
    assert read_out(tmp_path / "plain.mid")[0] == pytest.approx(FILE_BPM)

    assert main(["respond", str(src), "--follow", "-o", str(tmp_path / "followed.mid"), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "heard the call at 9" in out and "the file says 120" in out and "--follow answers" not in out, out
    tempo, tracks, _ = read_out(tmp_path / "followed.mid")
    assert tempo == pytest.approx(bpm, rel=0.03)
    call, answer = tracks["player"], tracks["partner"]
    assert len(call) == len(line) and answer
    # every note of the call where it was played: the same seconds from the first
    for (b, *_), (on, *_rest) in zip(call, sorted(line)):
        assert (b - call[0][0]) * 60.0 / tempo == pytest.approx(on - line[0][0], abs=0.003)
    # bar 1 on the first note's beat (a note a hair ahead of it: in the lead-in bar before), the
    # answer on a beat of the line's own grid
    assert call[0][0] < 0.1 or 3.9 < call[0][0] < 4.1, call[0]
    origin = line[0][0] - call[0][0] * 60.0 / tempo  # the file's beat 0 on the line's clock
    answer_s = origin + math.floor(answer[0][0] + 0.2) * 60.0 / tempo  # its first beat (a note may come off it)
    phase = ((answer_s - start) * bpm / 60.0) % 1.0
    assert min(phase, 1.0 - phase) <= 0.1, phase


def test_follow_with_too_few_notes_keeps_the_files_tempo_and_says_why(tmp_path, capsys):
    src = write_seconds(tmp_path / "two.mid", [(0.3, 0.6, 60, 90), (1.1, 1.9, 64, 90)])
    assert main(["respond", str(src), "--follow", "-o", str(tmp_path / "a.mid"), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "--follow: heard no steady tempo in the call" in out, out
    assert read_out(tmp_path / "a.mid")[0] == pytest.approx(FILE_BPM)


def test_follow_takes_tempo_as_a_first_guess_in_the_range_it_hears(tmp_path, capsys):
    src = write_seconds(tmp_path / "free.mid", swung_line(93.0, 1.7))
    assert main(["respond", str(src), "--follow", "--tempo", "30", "-o", str(tmp_path / "a.mid")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--follow hears tempos of 45-320 bpm; --tempo 30 is outside them" in err, err
    assert not (tmp_path / "a.mid").exists()


def test_with_a_chart_bar_1_is_the_calls_first_note_a_pickup_in_the_bar_before(tmp_path, capsys):
    """The first note 60 ms ahead of its beat: the file starts a bar earlier, on the chart's
    last bar (the turnaround into bar 1), and bar 1's chord at the first downbeat."""
    src = write_seconds(tmp_path / "free.mid", swung_line(100.0, 2.0, ahead=0.06))
    assert main(["respond", str(src), "--follow", "--chords", "C7 | F7 | G7", "-o", str(tmp_path / "a.mid"),
                 "--seed", "1"]) == 0
    assert "bar 1 on the beat after the call's first note (a pickup, in the bar before)" in capsys.readouterr().out
    tempo, tracks, texts = read_out(tmp_path / "a.mid")
    assert tempo == pytest.approx(100.0, rel=0.03)
    assert 3.8 <= tracks["player"][0][0] < 4.0  # the pickup, at the lead-in bar's end
    assert texts[:3] == [(0.0, "G7"), (4.0, "C7"), (8.0, "F7")], texts


def test_a_lead_in_bar_is_the_charts_last_bar_with_its_sections():
    chart = parse_chart("C7 | F7 | G7 D7 | Am7")
    moved = lead_in_chart(chart, 4)
    assert [str(moved.chord_at(b)) for b in (0, 4, 8, 12, 14)] == ["Am7", "C7", "F7", "G7", "D7"]
    assert moved.length == chart.length and lead_in_chart(chart, 0) is chart
    from dataclasses import replace

    form = replace(chart, sections=((0, "A"), (2, "B")))
    assert [lead_in_chart(form, 4).section_at(b) for b in (0, 4, 8, 12)] == ["B", "A", "A", "B"]


@pytest.mark.skipif(not REAL.exists(), reason="the WJazzD tar.gz is not in ../shared/data")
def test_validation_phrases_as_recorded_are_answered_in_their_time():
    """Single phrases of the validation solos (up to 6 a solo, 6 notes or more: 206), as
    played, written 1.3 s into a file at 120 bpm. Heard with --follow, the tempo (or half or
    double) within 3 % and the beat within 0.1 beat of the soloist's beat track in 35.0 % of
    them, against 1.0 % for the file's grid (59 not heard surely enough, answered on the
    file's); a slip under 25 % is a regression. Without --follow the line saying the call
    sounds off the file's tempo came for 34 % of them, and for 2.4 % of the same phrases
    played to a click at their own tempo (each note at its beat): over 6 % is a regression.
    (Seed 0 of figures/respond_follow.py, which gives the README's figures over three.)"""
    from improv.bench.follow import judge
    from improv.bench.human import load_human
    from improv.commands.callfile import CallFile
    from improv.commands.calltime import HINT_CONFIDENCE, heard_time, on_the_files_grid
    from improv.core.listen.tempo import BeatEstimate
    from improv.core.theory.notes import Note

    rng = random.Random(0)
    right = file_right = calls = hinted_click = 0
    for solo in load_human(REAL, "valid"):
        for ph in rng.sample(solo.phrases, min(6, len(solo.phrases))):
            if len(ph.notes) < 6:
                continue
            calls += 1
            t0 = ph.start - 1.3
            notes = [Note((n.onset - t0) * 2, n.pitch, n.duration * 2, n.velocity) for n in ph.notes]
            ended = max(n.end for n in notes)
            est = heard_time(CallFile(notes, [(0.0, FILE_BPM)], 4, 0, end=ended), [(0.0, FILE_BPM)], ended)
            if est is not None:
                r = judge(BeatEstimate(est.bpm, est.beat_time_s + t0, est.confidence), ph.track, ph.start, ph.end)
                right += r["tempo_ok"] and r["beat_ok"]
            r = judge(BeatEstimate(FILE_BPM, t0, 1.0), ph.track, ph.start, ph.end)
            file_right += r["tempo_ok"] and r["beat_ok"]
            b0, tempo = math.floor(ph.track.beat_at(ph.start)) - 2, float(round(ph.tempo))
            beats = [Note(ph.track.beat_at(n.onset) - b0, n.pitch, ph.track.beat_at(n.end) - ph.track.beat_at(n.onset),
                          n.velocity) for n in ph.notes]
            ended = max(n.end for n in beats)
            est = heard_time(CallFile(beats, [(0.0, tempo)], 4, 0, end=ended), [(0.0, tempo)], ended)
            hinted_click += est is not None and est.confidence >= HINT_CONFIDENCE and \
                not on_the_files_grid(est, tempo)
    assert calls >= 150, "the validation split changed: pick the phrases again"
    assert right / calls >= 0.25 and right >= 10 * max(file_right, 1), (right, file_right, calls)
    assert hinted_click / calls <= 0.06, (hinted_click, calls)


def test_a_groove_on_the_drum_pads_in_the_call_file_is_heard_as_its_time(tmp_path, capsys):
    """A session recorded with the pads keeping time at 84 bpm under three whole notes, in a
    file at 120: --follow hears 84 in the pads, as the jam did (the notes alone say little).
    The drums stay out of the call."""
    bpm, start = 84.0, 1.3
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    tr = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(FILE_BPM), time=0)])
    now = 0
    for t, data in groove_under_held_notes(bpm, start, seed=5):
        tick = round(t * FILE_BPM / 60 * 480)
        tr.append(mido.Message.from_bytes(data).copy(time=tick - now))
        now = tick
    mid.tracks.append(tr)
    src = tmp_path / "pads.mid"
    mid.save(str(src))
    assert main(["respond", str(src), "--follow", "-o", str(tmp_path / "out.mid"), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    tempo, tracks, _ = read_out(tmp_path / "out.mid")
    assert min(abs(tempo / (bpm * k) - 1) for k in (0.5, 1.0, 2.0)) <= 0.03, (tempo, out)
    assert len(tracks["player"]) == 3, tracks["player"]
