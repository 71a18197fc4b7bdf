"""The over-a-chart count benchmark (improv/bench/chartcount.py) on hand-made solos."""

import pytest

from improv.bench.chartcount import bench_chart_count, count_errors, format_chart_count, is_off, main, stretches
from improv.bench.human import BeatTrack, HumanPhrase, HumanSolo, PlayedNote


def _solo(bpm, offbeat, bars=40, name="s"):
    """Two bars of eighths (the off-beat at `offbeat` of a beat), then two bars' rest, over and over."""
    period = 60.0 / bpm
    track = BeatTrack(range(0, 4 * bars + 8), [1.0 + period * b for b in range(4 * bars + 8)])
    phrases = []
    for bar in range(0, bars, 4):
        notes = tuple(PlayedNote(1.0 + period * (4 * bar + b + off), 0.3 * period, 60 + (2 * b + k) % 12,
                                 100 if k == 0 else 70, 4 * bar + b + off)
                      for b in range(8) if b % 4 != 3 for k, off in enumerate((0.0, offbeat)))
        phrases.append(HumanPhrase(name, notes, track))
    return HumanSolo(name, bpm, tuple(phrases), track)


def test_a_steady_swung_player_keeps_the_count():
    solo = _solo(150.0, 0.62)
    tempo, errors = count_errors(solo, 4, 1.0, keep=True)
    assert tempo == pytest.approx(150.0) and len(errors) >= 15
    assert max(abs(e) for e in errors) < 0.25 and not is_off(errors)


def test_a_line_heard_in_double_time_is_counted_at_the_tempo_said_only_with_the_level_kept():
    """Lightly swung eighths at 100 are heard at 200: followed as heard, the chart's count
    runs twice as fast as the player's bars."""
    solo = _solo(100.0, 0.55)
    _, kept = count_errors(solo, 4, 1.0, keep=True)
    _, heard = count_errors(solo, 4, 1.0, keep=False)
    assert not is_off(kept), kept
    assert is_off(heard) and heard[-1] > 8.0, heard


def test_the_bench_reports_each_tempo_said_with_and_without_the_level_kept():
    result = bench_chart_count([_solo(150.0, 0.62, name="a"), _solo(100.0, 0.55, name="b")], said=(1.0, 0.8))
    assert result["stretches"] == len(stretches([_solo(150.0, 0.62), _solo(100.0, 0.55)])) > 0
    assert {(r["said"], r["level_kept"]) for r in result["results"]} == {(1.0, True), (1.0, False), (0.8, True),
                                                                           (0.8, False)}
    said_right = {r["level_kept"]: r["off"] for r in result["results"] if r["said"] == 1.0}
    assert said_right[True] < said_right[False]
    lines = format_chart_count(result)
    assert "said x1:" in lines[1] and "with the level kept" in lines[1]


def test_command_names_data_it_cannot_use(tmp_path, capsys):
    assert main([str(tmp_path / "missing.tar.gz")]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_json_path_that_cannot_be_written_is_said_before_the_data_is_read(tmp_path, capsys):
    """`--json` into a folder that does not exist ran the whole count (a minute and a half on
    the archive), then ended in a FileNotFoundError traceback."""
    bad = tmp_path / "no-such-folder" / "count.json"
    assert main([str(tmp_path / "missing.tar.gz"), "--json", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "does not exist" in err and len(err.strip().splitlines()) == 1, err


def test_data_with_no_stretch_to_count_is_said_in_one_line(capsys):
    """The fixture's one 4/4 solo (training split) is too short for a 16-bar stretch: the
    command ended in a TypeError traceback formatting the median error of no stretch."""
    from pathlib import Path

    fixture = Path(__file__).resolve().parent / "data" / "wjazzd-mini"
    assert main([str(fixture), "--split", "train"]) == 2
    err = capsys.readouterr().err
    assert "no stretch of 16 bars" in err and len(err.strip().splitlines()) == 1, err
