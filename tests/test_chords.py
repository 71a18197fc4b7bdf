import itertools

import pytest

from improv.core.theory.chords import _TENSION_ORDER, QUALITIES, Chord, parse_chord
from improv.errors import ChordError

# (spellings that must all read the same, canonical symbol, chord tones as pitch classes)
SAME = [
    (["Cm7", "C-7", "Cmin7", "Cmi7", "CMI7"], "Cm7", {0, 3, 7, 10}),
    # The New Real Book's capitals (MA, MI), and the minor-major seventh written with a slash
    (["CMA7", "Cmaj7"], "Cmaj7", {0, 4, 7, 11}), (["CMA9"], "Cmaj7(9)", {0, 4, 7, 11}),
    (["CMA13"], "Cmaj7(9,13)", {0, 4, 7, 11}), (["CMI", "Cmi", "C-"], "Cm", {0, 3, 7}),
    (["CMI9"], "Cm7(9)", {0, 3, 7, 10}), (["CMI7b5", "CMI7(b5)"], "Cm7b5", {0, 3, 6, 10}),
    (["CMA", "Cma"], "C", {0, 4, 7}), (["CMI6"], "Cm6", {0, 3, 7, 9}),
    (["Cm/maj7", "C-/maj7", "CMI(MA7)", "C-MA7", "Cmi(ma7)"], "CmMaj7", {0, 3, 7, 11}),
    (["Cmaj7", "CΔ7", "Cj7", "CM7", "Cma7", "CΔ", "C\u22067", "C\u2206", "C\u25b37"], "Cmaj7", {0, 4, 7, 11}),
    (["Cm7b5", "Cø", "Cø7", "C-7b5", "CØ", "CØ7"], "Cm7b5", {0, 3, 6, 10}),
    (["C7alt", "Calt"], "C7alt", {0, 4, 10}),
    (["C7b9", "C79b", "C7(b9)"], "C7(b9)", {0, 4, 7, 10}),
    (["C7#11", "C711#", "C7(#11)"], "C7(#11)", {0, 4, 7, 10}),
    (["C9#11", "C7911#", "C7(9,#11)"], "C7(9,#11)", {0, 4, 7, 10}),
    (["C6"], "C6", {0, 4, 7, 9}),
    (["C-6", "Cm6", "Cmin6"], "Cm6", {0, 3, 7, 9}),
    (["Co7", "Cdim7", "C°7"], "Cdim7", {0, 3, 6, 9}),
    (["Co", "Cdim"], "Cdim", {0, 3, 6}),
    (["Csus4", "Csus"], "Csus4", {0, 5, 7}),
    (["C7sus4", "Csus7", "C7sus"], "C7sus4", {0, 5, 7, 10}),
    (["C-j7", "Cm(maj7)", "CmM7", "CmMaj7", "C-\u22067", "Cm(Maj7)"], "CmMaj7", {0, 3, 7, 11}),
    (["CmMaj9", "Cm(maj9)", "C-maj9", "C-\u03949", "CmM9", "CmMaj7(9)"], "CmMaj7(9)", {0, 3, 7, 11}),
    (["C13sus4", "C13sus", "C7sus4(9,13)"], "C7sus4(9,13)", {0, 5, 7, 10}),
    # Cmaj13 read as a major triad with a 13th (no major seventh), Cm13 likewise: the 7th
    # decides what the partner, the comping and the bass play
    (["Cmaj13", "CΔ13", "CM13", "Cmaj7(9,13)"], "Cmaj7(9,13)", {0, 4, 7, 11}),
    (["Cm13", "C-13", "Cm7(9,11,13)"], "Cm7(9,11,13)", {0, 3, 7, 10}),
    (["C13b9", "C7(b9,13)"], "C7(b9,13)", {0, 4, 7, 10}),  # the altered ninth, not the 9 13 implies
    (["C7+9", "C7#9"], "C7(#9)", {0, 4, 7, 10}),  # + and - as sharp and flat
    (["C7-9", "C7b9"], "C7(b9)", {0, 4, 7, 10}),
    # the altered fifth replaces the natural one: a G over C7b5 is outside
    (["C7-5", "C7b5", "C7(b5)"], "C7b5", {0, 4, 6, 10}),
    (["C7b9b5", "C7b5b9", "C7(b5,b9)"], "C7b5(b9)", {0, 4, 6, 10}),
    (["C13b5"], "C7b5(9,13)", {0, 4, 6, 10}),
    # an augmented fifth written anywhere among the tensions, or as a trailing +
    (["E7#9#5", "E7#5#9", "E7(#9#5)", "E+7(#9)"], "E+7(#9)", {4, 8, 0, 2}),
    (["C7(b9#5)", "C7#5b9", "C+7b9"], "C+7(b9)", {0, 4, 8, 10}),
    (["C7+", "C+7"], "C+7", {0, 4, 8, 10}),
    (["C9+", "C9#5", "C+7(9)"], "C+7(9)", {0, 4, 8, 10}),
    (["C7(alt)", "C7alt"], "C7alt", {0, 4, 10}),
    (["E7b9sus", "E7b9sus4", "E7sus4b9"], "E7sus4(b9)", {4, 9, 11, 2}),
    (["Csus2"], "Csus2", {0, 2, 7}),
    (["C5"], "C5", {0, 7}),
    (["Cm7-5", "C-7-5", "Cm7b5"], "Cm7b5", {0, 3, 6, 10}),
    (["Cmaj7+5", "Cmaj7(#5)", "C+maj7"], "C+maj7", {0, 4, 8, 11}),
    (["C+7", "C7#5", "Caug7"], "C+7", {0, 4, 8, 10}),
    (["C9", "C79"], "C7(9)", {0, 4, 7, 10}),
    (["C69", "C6/9"], "C6/9", {0, 4, 7, 9}),
    (["C", "Cmaj"], "C", {0, 4, 7}),
    (["C-", "Cm"], "Cm", {0, 3, 7}),
    (["Cmaj7/E", "Cj7/E"], "Cmaj7/E", {0, 4, 7, 11}),
    (["Bb7", "A#7"], "Bb7", {10, 2, 5, 8}),
    (["F#m7", "Gb-7"], "F#m7", {6, 9, 1, 4}),
]


@pytest.mark.parametrize("spellings,canonical,tones", SAME)
def test_spellings_read_the_same_and_round_trip(spellings, canonical, tones):
    chords = [parse_chord(s) for s in spellings]
    assert all(c == chords[0] for c in chords), spellings
    assert str(chords[0]) == canonical
    assert parse_chord(str(chords[0])) == chords[0]
    assert set(chords[0].chord_tones()) == tones


@pytest.mark.parametrize("symbol,expected", [
    ("G79b13", "G7(9,b13)"),  # common notation: accidental before the number
    ("G79b13b", "G7(b9,b13)"),
])
def test_auto_dialect(symbol, expected):
    assert str(parse_chord(symbol)) == expected


def test_wjazzd_dialect_reads_accidentals_after_numbers():
    assert str(parse_chord("A79b13", "wjazzd")) == "A7(b9,13)"
    assert str(parse_chord("D79#11#", "wjazzd")) == "D7(#9,#11)"
    assert str(parse_chord("Csus7913", "wjazzd")) == "C7sus4(9,13)"


def test_no_chord():
    assert parse_chord("NC") is None


@pytest.mark.parametrize("bad", ["", "H7", "Cxyz", "C7/Q", "Cm7#13", "C/", "Bb7/"])  # ("C/": was read as C)
def test_unreadable_symbols_name_themselves(bad):
    with pytest.raises(ChordError) as e:
        parse_chord(bad)
    assert repr(bad) in str(e.value)


@pytest.mark.parametrize("bad, why", [
    ("C7(", "parentheses do not pair up"), ("C(b9", "parentheses do not pair up"),
    ("C7(#11))", "parentheses do not pair up"), ("C7)(b9", "parentheses do not pair up"),
    ("Bb#7", "both a flat and a sharp"),
])
def test_half_typed_symbols_are_refused_not_read_as_another_chord(bad, why):
    """C7( and C(b9 were read as C7 and C, and Bb#7 as a B7 shown back as "Bb#7"."""
    with pytest.raises(ChordError) as e:
        parse_chord(bad)
    assert repr(bad) in str(e.value) and why in str(e.value)
    assert str(parse_chord("G7(b9,#11)")) == "G7(b9,#11)" and str(parse_chord("Bbb7")) == "Bbb7"


def test_tensions():
    assert 6 in parse_chord("C7#11").tension_tones()  # F# over C7#11 is a tension
    assert 1 not in parse_chord("Cmaj7").scale()  # C# over Cmaj7 is outside
    assert 2 not in parse_chord("C7b9").tension_tones()  # b9 rules out the natural 9
    assert parse_chord("G7").guide_tones() == (11, 5)


@pytest.mark.parametrize("text,shown", [
    ("Cm(maj7)", "CmMaj7"), ("C-\u03947", "CmMaj7"), ("Cm/maj7", "CmMaj7"), ("CmMaj7/Bb", "CmMaj7/Bb"),
    ("C-maj7(9)", "CmMaj7(9)"),
    ("C69", "C6/9"), ("C6/9/E", "C6/9/E"), ("Cm69", "Cm6/9"), ("C-6/9", "Cm6/9"), ("C6(9,#11)", "C6(9,#11)"),
    ("Cadd9", "C(add9)"), ("C2", "C(add9)"), ("Cmadd9", "Cm(add9)"), ("Csus4add9", "Csus4(add9)"),
    ("C(#11)", "C(add#11)"), ("Cadd9/E", "C(add9)/E"),
    ("C\u00f8", "Cm7b5"), ("Calt", "C7alt"), ("E7b9sus", "E7sus4(b9)"), ("A/C#", "A/C#"),
])
def test_a_chord_is_shown_as_lead_sheets_write_it(text, shown):
    """Cm(maj7) was shown as "Cmmaj7" (status line, markers, explanations), C6/9 as "C6(9)", and
    Cadd9 as "C(9)", read by a musician as C9: a chord with a seventh it does not have."""
    c = parse_chord(text)
    assert str(c) == shown and parse_chord(str(c)) == c


def test_every_quality_with_tensions_and_a_bass_round_trips():
    for quality in QUALITIES:
        for n in range(3):
            for tens in itertools.combinations(_TENSION_ORDER, n):
                # (the parser keeps no tensions on an altered chord, nor a 9 beside an altered 9th)
                if quality == "7alt" and tens or "9" in tens and {"b9", "#9"} & set(tens):
                    continue
                for bass in (None, 4):
                    c = Chord(0, quality, tens, bass)
                    assert parse_chord(str(c)) == c, str(c)


def test_all_roots_round_trip():
    for root in range(12):
        for quality in ("", "m", "7", "maj7", "m7", "m7b5", "dim7", "6", "m6", "7sus4", "7alt", "+7"):
            c = Chord(root, quality)
            assert parse_chord(str(c)) == c
            assert c.transpose(12) == c


def test_a_root_is_shown_as_the_chart_spells_it_and_is_the_same_chord():
    # a tune in Gb read back as F#maj7 on the status line and the stage view
    gb, fs = parse_chord("Gbmaj7"), parse_chord("F#maj7")
    assert (str(gb), str(fs)) == ("Gbmaj7", "F#maj7")
    assert gb == fs and hash(gb) == hash(fs) and parse_chord(str(gb)) == gb
    assert str(parse_chord("C#m7")) == "C#m7" and str(parse_chord("D♭7")) == "Db7" and str(parse_chord("Cb7")) == "Cb7"
    assert str(gb.transpose(2)) == "Abmaj7"  # a transposed chord takes the usual name


def test_a_slash_bass_is_shown_as_the_chart_spells_it():
    """A walk-up's A/C# and E/G# were shown (explanations, status line, markers) as A/Db and E/Ab."""
    for text in ("A/C#", "E/G#", "Db/Gb", "F#m7/C#", "D/F#", "Bb/D"):
        c = parse_chord(text)
        assert str(c) == text and parse_chord(str(c)) == c
    assert parse_chord("A/C#") == parse_chord("A/Db") and str(parse_chord("a/c♯")) == "A/C#"
