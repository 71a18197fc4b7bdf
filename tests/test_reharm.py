"""Substitute chords around a note, and laying a substitute over a looping chart."""

import pytest

from improv.core.theory.chart import parse_chart
from improv.core.theory.chords import parse_chord
from improv.core.embrace.reharm import candidates, reach_for, substitute


def test_candidates_fit_the_note_nearest_first():
    subs = candidates(1, parse_chord("Cmaj7"), parse_chord("Dm7"))
    assert str(subs[0].chord) == "A7" and subs[0].role == "chord tone" and subs[0].reach == 1
    assert subs[0].describe() == "secondary dominant of Dm7"
    assert [s.reach for s in subs] == sorted(s.reach for s in subs)
    for s in subs:
        assert 1 in s.chord.scale() and s.chord != parse_chord("Cmaj7")
        assert (1 in s.chord.chord_tones()) == (s.role == "chord tone")
    assert len({s.chord for s in subs}) == len(subs)


def test_a_dominant_takes_an_altered_tension():
    subs = candidates(1, parse_chord("C7"), parse_chord("F"))
    first = subs[0]
    assert first.kind == "altered dominant" and str(first.chord) == "C7(b9)" and first.role == "tension"
    assert any(s.kind == "tritone substitute" and str(s.chord).startswith("F#7") for s in subs)


def test_no_chord_gives_nothing():
    assert candidates(1, None, None) == []
    assert candidates(1, None, parse_chord("Dm7"))  # NC before Dm7: lead into it


def test_reach_for_daring():
    assert reach_for(0.0) == 0 and reach_for(0.1) == 1 and reach_for(0.5) == 3 and reach_for(1.0) == 4


def test_substitute_over_a_stretch_and_back():
    chart = parse_chart("Cmaj7 | Dm7 G7 | Cmaj7 | %")
    sub = substitute(chart, 16.0, 20.0, parse_chord("A7"))  # chorus 2, bar 1
    assert sub.to_text() == "A7 | Dm7 G7 | Cmaj7 | Cmaj7"
    assert sub.length == chart.length
    part = substitute(chart, 4.0, 6.0, parse_chord("Ab7"))
    assert part.to_text() == "Cmaj7 | Ab7 G7 | Cmaj7 | Cmaj7"


def test_substitute_wraps_around_the_form():
    chart = parse_chart("Cmaj7 | Dm7 G7 | Cmaj7 | %")
    sub = substitute(chart, 14.0, 18.0, parse_chord("A7"))
    assert sub.to_text() == "A7 Cmaj7 | Dm7 G7 | Cmaj7 | Cmaj7 A7"
    starts = [s.start for s in sub.spans]
    assert starts == sorted(starts) and all(abs(a.end - b.start) < 1e-9 for a, b in zip(sub.spans, sub.spans[1:]))
    with pytest.raises(ValueError):
        substitute(chart, 0.0, 0.0, parse_chord("A7"))
