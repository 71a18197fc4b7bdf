"""Substitute chords around a note, and laying a substitute over a looping chart."""

import pytest

from improv.core.theory.chart import parse_chart
from improv.core.theory.chords import parse_chord
from improv.core.embrace.reharm import candidates, reach_for, substitute


def test_candidates_fit_the_note_nearest_first():
    subs = candidates(1, parse_chord("Cmaj7"), parse_chord("Dm7"))
    assert str(subs[0].chord) == "A7" and subs[0].role == "chord tone" and subs[0].reach == 1
    assert subs[0].describe() == "dominant of Dm7"
    assert [s.reach for s in subs] == sorted(s.reach for s in subs)
    for s in subs:
        assert 1 in s.chord.scale() and s.chord != parse_chord("Cmaj7")
        assert (1 in s.chord.chord_tones()) == (s.role == "chord tone")
    assert len({s.chord for s in subs}) == len(subs)


def test_a_dominant_takes_an_altered_tension():
    subs = candidates(1, parse_chord("C7"), parse_chord("F"))
    first = subs[0]
    assert first.kind == "altered dominant" and str(first.chord) == "C7(b9)" and first.role == "tension"
    assert any(s.kind == "tritone substitute" and str(s.chord).startswith("Gb7") for s in subs)


def test_a_dominant_takes_the_natural_tension_in_place_of_its_written_alteration():
    """An E over the AABA tune's D7(b9) was re-harmonised as D7(b9,9), the b9 and the 9 both
    voiced: the 9 replaces the b9 (D7(9)), and the 13 a written b13."""
    for written, pc, wanted in (("D7b9", 4, "D7(9)"), ("G7#9", 9, "G7(9)"), ("G7(b9,#11)", 9, "G7(9,#11)"),
                                ("A7b13", 6, "A7(13)")):
        first = candidates(pc, parse_chord(written), parse_chord("Cmaj7"))[0]
        assert (first.kind, str(first.chord), first.role) == ("altered dominant", wanted, "tension")


def test_a_chord_leading_down_a_half_step_is_spelled_flat_and_a_dominant_of_b_sharp():
    """The demo said "reharmonise as F#7 (tritone substitute into F7)": a musician writes Gb7."""
    into_f = candidates(4, parse_chord("F7"), parse_chord("F7"))
    assert "Gb7" in [str(s.chord) for s in into_f if s.kind == "tritone substitute"]
    slips = [str(s.chord) for s in candidates(1, parse_chord("Fmaj7"), None) if s.kind == "side-slip"]
    assert "Gbmaj7" in slips and "Emaj7" in slips
    of_b = [s for s in candidates(10, parse_chord("Bm7"), parse_chord("Bm7")) if s.kind == "dominant"]
    assert "F#7" in [str(s.chord)[:3] for s in of_b]


def test_no_chord_gives_nothing():
    assert candidates(1, None, None) == []
    assert candidates(1, None, parse_chord("Dm7"))  # NC before Dm7: lead into it


def test_reach_for_daring():
    assert reach_for(0.0) == 0 and reach_for(0.1) == 1 and reach_for(0.5) == 3 and reach_for(1.0) == 4


def _text(chart, start, end):
    return " ".join(f"{s.start:g}-{s.end:g}:{s.chord}" for s in chart.changes_between(start, end))


def test_substitute_sounds_over_its_stretch_only():
    chart = parse_chart("Cmaj7 | Dm7 G7 | Cmaj7 | %")
    sub = substitute(chart, 16.0, 20.0, parse_chord("A7"))  # chorus 2, bar 1
    assert _text(sub, 16, 32) == "16-20:A7 20-22:Dm7 22-24:G7 24-32:Cmaj7"
    assert sub.chord_at(0.0) == sub.chord_at(32.0) == parse_chord("Cmaj7")  # not every chorus
    assert sub.length == chart.length and sub.to_text() == chart.to_text()
    assert sub != chart and sub.before(16.0) == chart and sub.before(17.0) == sub  # caches key on this
    part = substitute(chart, 4.0, 6.0, parse_chord("Ab7"))
    assert _text(part, 4, 8) == "4-6:Ab7 6-8:G7"
    again = substitute(part, 5.0, 7.0, parse_chord("Db7"))  # a later answer cuts into an earlier one
    assert _text(again, 4, 8) == "4-5:Ab7 5-7:Db7 7-8:G7"


def test_substitute_across_the_end_of_the_form():
    chart = parse_chart("Cmaj7 | Dm7 G7 | Cmaj7 | %")
    sub = substitute(chart, 14.0, 18.0, parse_chord("A7"))
    assert _text(sub, 12, 20) == "12-14:Cmaj7 14-18:A7 18-20:Cmaj7"
    assert sub.chord_at(2.0) == parse_chord("Cmaj7")  # the first chorus is untouched
    assert sub.span_at(17.0).chord == parse_chord("A7") and sub.transpose(2).chord_at(15.0) == parse_chord("B7")
    with pytest.raises(ValueError):
        substitute(chart, 0.0, 0.0, parse_chord("A7"))


def test_a_substitute_is_spelled_as_the_degree_it_is_of_the_chart_s_chord():
    """Over a C#m7 the plan said "reharmonise as Ab7 (dominant of C#m7)" and "borrowed in Db
    minor", over Bbmaj7 "F#maj7 (borrowed from Bb minor)", and a written Gb7 came back as
    F#7(#11): a substitute's root is named as the scale degree it is (G#7 is the V of C#m7,
    Gbmaj7 the bVI of Bb) and a written chord keeps the chart's spelling."""
    def names(pc, written, following=None):
        return {(str(s.chord), s.describe()) for s in candidates(pc, parse_chord(written),
                                                                   parse_chord(following or written))}

    of_c_sharp = names(2, "C#m7", "F#7")
    assert ("G#7(#11)", "dominant of C#m7") in of_c_sharp and ("C#7(b9)", "dominant of F#7") in of_c_sharp
    assert ("F#7(b13)", "borrowed in C# minor") in of_c_sharp
    assert ("Gbmaj7", "borrowed from Bb minor") in names(1, "Bbmaj7")
    assert {"C#maj7", "G#maj7"} <= {c for c, d in names(5, "Emaj7") if d.startswith("chromatic mediant")}
    assert ("Gb7(#11)", "altered dominant") in names(0, "Gb7", "Cbmaj7")
    assert ("Db7(b9)", "dominant of Gb") in names(2, "Dbmaj7")  # (the V of IV, from the chart's Db)
    for pc in range(12):  # the sound is the same chord, whatever its name
        for s in candidates(pc, parse_chord("C#m7"), parse_chord("F#7")):
            assert pc in s.chord.scale()
