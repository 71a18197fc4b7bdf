import re

import pytest

from improv.tunefiles import find_tune, shipped_tunes
from improv.core.theory.chart import load_tune, parse_chart, split_bar, tune_from_dict
from improv.core.theory.chords import parse_chord
from improv.errors import ChordError, ConfigError


def test_bars_split_and_repeat():
    ch = parse_chart("Dm7 G7 | Cmaj7 | %")
    assert ch.length == 12
    assert [str(ch.chord_at(b)) for b in (0, 1.9, 2, 4, 8, 11.9)] == ["Dm7", "Dm7", "G7", "Cmaj7", "Cmaj7", "Cmaj7"]


def test_chart_loops():
    ch = parse_chart("C7 | F7")
    assert str(ch.chord_at(8 * 10 + 4.5)) == "F7"
    assert str(ch.chord_at(8 * 3)) == "C7"


def test_three_chords_in_a_bar():
    assert split_bar(3, 4) == [2.0, 1.0, 1.0]
    assert split_bar(2, 4) == [2.0, 2.0]
    assert split_bar(2, 5) == [3.0, 2.0]  # Take Five: 3 + 2, not 4 + 1
    assert split_bar(3, 5) == [2.0, 2.0, 1.0]
    assert split_bar(2, 3) == [2.0, 1.0]
    assert split_bar(4, 3) == [0.75] * 4
    ch = parse_chart("A7 Bb7 C7")
    assert [str(ch.chord_at(b)) for b in (0, 1.5, 2, 3)] == ["A7", "A7", "Bb7", "C7"]


@pytest.mark.parametrize("text", ["Dm7 G7 | Cmaj7 | Cmaj7", "F7 | Bb7 | F7 | Cm7 F7", "NC | C6/9 | A7(b9,#11) Bb7 C7", "CmMaj7 | C(add9)/E"])
def test_text_round_trip(text):
    ch = parse_chart(text)
    assert ch.to_text() == text
    assert parse_chart(ch.to_text()) == ch


@pytest.mark.parametrize("text,bpb", [("Dm7 / / G7", 4), ("Dm7 G7 / / | C", 4), ("C / G7 | F Bb / / / | NC C", 5)])
def test_text_round_trip_keeps_beat_slashes(text, bpb):
    """A session's journal keeps its chart as `to_text`: "Dm7 / / G7" came back from
    `improv recover` as "Dm7 G7", its G7 two beats early."""
    ch = parse_chart(text, bpb)
    assert parse_chart(ch.to_text(), bpb) == ch


def test_bad_symbol_names_symbol_and_bar():
    with pytest.raises(ChordError, match=r"bar 3: .*'Qm7'"):
        parse_chart("C | F | Qm7")


@pytest.mark.parametrize("lead_sheet, plain", [
    ("Dm7 / G7 / | Cmaj7 / / /", "Dm7 G7 | Cmaj7"),  # beat slashes, as lead sheets and iReal Pro write them
    ("|: Dm7 | G7 :|", "Dm7 | G7"),  # repeat signs around the whole chart: one chorus (it loops)
    ("Dm7 G7 ||| Cmaj7", "Dm7 G7 | Cmaj7"),
    ("Dm7 | / G7 / /", "Dm7 | Dm7 G7 G7 G7"),  # a slash at the start of a bar carries the last chord over
])
def test_lead_sheet_notation_reads_as_the_plain_chart(lead_sheet, plain):
    a, b = parse_chart(lead_sheet), parse_chart(plain)
    assert a.bars == b.bars and [a.chord_at(x) for x in range(16)] == [b.chord_at(x) for x in range(16)]


def test_a_slash_with_nothing_before_it_is_an_error():
    with pytest.raises(ChordError, match="bar 1: a / carries on the chord before it"):
        parse_chart("/ Dm7 | G7")


def test_percent_first_is_an_error():
    with pytest.raises(ChordError, match="previous bar"):
        parse_chart("% | C")


def test_changes_between_crosses_the_loop():
    ch = parse_chart("C7 | F7")
    spans = ch.changes_between(6, 10)
    assert [(s.start, s.duration, str(s.chord)) for s in spans] == [(6, 2, "F7"), (8, 2, "C7")]


def test_shipped_tunes_parse():
    names = shipped_tunes()
    for needed in ("blues-f", "minor-blues-c", "rhythm-changes-bb", "ii-v-i-major", "dorian-vamp-d", "ballad-eb"):
        assert needed in names
    for name in names:
        ch = load_tune(find_tune(name))
        assert ch.bars % 4 == 0 and ch.tempo
    rc = load_tune(find_tune("rhythm-changes-bb"))
    assert rc.bars == 32 and [s for _, s in rc.sections] == ["A1", "A2", "B", "A2"]
    assert rc.chord_at(16 * 4) == parse_chord("D7")
    assert rc.section_at(17 * 4) == "B"


def test_tune_errors():
    with pytest.raises(ConfigError, match="unknown key 'tmpo'"):
        tune_from_dict({"tmpo": 100, "bars": "C"})
    with pytest.raises(ConfigError, match="section 'C'"):
        tune_from_dict({"form": ["A", "C"], "sections": {"A": "C"}})
    with pytest.raises(ChordError, match="section A: bar 2"):
        tune_from_dict({"sections": {"A": "C | Zz"}})
    with pytest.raises(ConfigError, match="no tune named 'nope'"):
        find_tune("nope")
    with pytest.raises(ConfigError, match=r"no tune named 'bluesf' \(--tune, .*\): did you mean blues-f\? shipped"):
        find_tune("bluesf")
    with pytest.raises(ConfigError, match=r"^no tune named 'blues-g': did you mean"):  # (improv tunes NAME: no flag)
        find_tune("blues-g", "")
    with pytest.raises(ConfigError, match="key must be a note name"):
        tune_from_dict({"bars": "C", "key": "Q#"})
    with pytest.raises(ConfigError, match="form is empty"):
        tune_from_dict({"form": [], "sections": {"A": "C"}})
    with pytest.raises(ConfigError, match="not both"):
        tune_from_dict({"bars": "C", "sections": {"A": "F"}})
    with pytest.raises(ConfigError, match=r"form lists \[sections\], but the tune gives its chords as bars"):
        tune_from_dict({"bars": "C | F", "form": ["A", "A", "B", "A"]})  # (the form went unplayed, unsaid)
    for key in ("Bb", "Cm", "F#m", "Eb"):
        assert tune_from_dict({"bars": "C", "key": key}).bars == 1


def test_a_tune_is_found_by_its_name_however_it_is_written():
    for name in ("blues-f", "Blues-F", "Blues F", "blues_f", " BLUES  F "):
        assert find_tune(name).name == "blues-f.toml", name


def test_the_tunes_chord_around_an_overlay_ends_where_it_begins_and_starts_where_it_ends():
    """A substitute laid over beats 6-8 of a bar of G7: span_at(5) still said G7 until beat 8,
    so the walking bass walked to the next bar's chord, past the substitute."""
    from improv.core.theory.chords import parse_chord

    chart = parse_chart("Cmaj7 | G7 | Cmaj7").with_overlay(6.0, 8.0, parse_chord("Db7"))
    before = chart.span_at(5.0)
    assert str(before.chord) == "G7" and (before.start, before.end) == (4.0, 6.0)
    assert str(chart.chord_at(6.0)) == "Db7" and chart.span_at(7.0).end == 8.0
    middle = parse_chart("Cmaj7 | Cmaj7").with_overlay(2.0, 3.0, parse_chord("Db7"))
    after = middle.span_at(3.5)
    assert str(after.chord) == "Cmaj7" and (after.start, after.end) == (3.0, 8.0)
    later = middle.span_at(9.0)  # the next chorus: the overlay was this chorus's only
    assert (later.start, later.end) == (0.0, 8.0)


@pytest.mark.parametrize("written, played", [
    ("|: Dm7 | G7 :| Cmaj7 | %", "Dm7 | G7 | Dm7 | G7 | Cmaj7 | %"),  # a repeat inside the chart is played twice
    ("Dm7 | G7 :| Cmaj7", "Dm7 | G7 | Dm7 | G7 | Cmaj7"),  # a :| with no |: goes back to the start
    ("|: Dm7 | G7 |1. Em7 A7 :|2. Cmaj7 | %", "Dm7 | G7 | Em7 A7 | Dm7 | G7 | Cmaj7 | %"),  # first and second endings
    ("F | |: Dm7 :||: G7 :| C", "F | Dm7 | Dm7 | G7 | G7 | C"),
    ("|: Dm7 | G7 :|", "Dm7 | G7"),  # around the whole chart: one chorus (it loops)
])
def test_repeats_and_endings_are_played_as_written(written, played):
    a, b = parse_chart(written), parse_chart(played)
    assert a.bars == b.bars and [a.chord_at(x) for x in range(int(b.length))] == [b.chord_at(x) for x in range(int(b.length))]


def test_a_repeated_section_of_a_form_is_played_twice():
    chart = tune_from_dict({"form": ["A", "B"], "sections": {"A": "|: Cm7 | F7 :|", "B": "Bbmaj7 | %"}})
    assert chart.bars == 6 and chart.to_text() == "Cm7 | F7 | Cm7 | F7 | Bbmaj7 | Bbmaj7"


@pytest.mark.parametrize("text, said", [
    ("|: C | 1. F | 2. G", "bar 3: a 2. ending, but the 1. ending before it has no :|"),
    ("C | 2. G", "bar 2: a 2. ending with no 1. ending before it"),
    ("|: C |1. F", "bar 2: a 1. ending with no :| after it"),
])
def test_endings_written_wrong_are_named(text, said):
    with pytest.raises(ChordError, match=re.escape(said)):
        parse_chart(text)
