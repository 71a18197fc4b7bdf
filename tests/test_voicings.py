import random

import pytest

from improv.core.theory.chords import QUALITIES, Chord, parse_chord
from improv.core.theory.voicings import (
    REGISTERS,
    STYLES,
    candidates,
    guide_intervals,
    max_step,
    movement,
    next_voicing,
    voice_lead,
)

CYCLE = [parse_chord(s) for s in ("Dm7", "G7", "Cmaj7", "A7") * 4]
MANY = [parse_chord(s) for s in (
    "Dm7 G7 Cmaj7 Am7 Bm7b5 E7alt Am6 F#dim7 Bb7(#11) Gsus4 Ebmaj7 Ab7(b9) Dbmaj7 Gm7 C7 F6 "
    "Cmmaj7 F#m7b5 B7(#9) Em C Eb+ Ab7sus4 D7(b13) Gdim"
).split()]


def _pcs(v):
    return {p % 12 for p in v}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("quality", sorted(QUALITIES))
def test_every_voicing_holds_the_guide_tones(style, quality):
    for root in range(12):
        ch = Chord(root, quality)
        third, seventh = guide_intervals(ch)
        cands = candidates(ch, style)
        assert cands, (style, str(ch))
        for v in cands:
            assert {(root + third) % 12, (root + seventh) % 12} <= _pcs(v), (style, str(ch), v)


def test_guide_tones_are_third_and_seventh_or_equivalents():
    table = [("Cmaj7", (4, 11)), ("C7", (4, 10)), ("Cm7", (3, 10)), ("C6", (4, 9)), ("Cm6", (3, 9)),
             ("C7sus4", (5, 10)), ("Cm7b5", (3, 10)), ("Cdim7", (3, 9)), ("C7alt", (4, 10))]
    for sym, want in table:
        assert guide_intervals(parse_chord(sym)) == want, sym


def test_rootless_a_and_b_shapes_of_dm7_g7_cmaj7():
    # Dm7 B form (C E F A), G7 A form (B E F A), Cmaj7 B form (B D E G): the textbook ii-V-I.
    vs = voice_lead([parse_chord(s) for s in ("Dm7", "G7", "Cmaj7")], prev=(60, 64, 65, 69))
    assert vs == [(60, 64, 65, 69), (59, 64, 65, 69), (59, 62, 64, 67)]
    assert all(parse_chord("Dm7").root not in _pcs(v) for v in vs[:1])  # rootless


def test_written_tensions_colour_the_voicing():
    assert 1 in {(p - 7) % 12 for p in next_voicing(parse_chord("G7(b9)"))}  # Ab
    assert 8 in {(p - 7) % 12 for p in next_voicing(parse_chord("G7alt"))}  # Eb (b13)
    assert 6 in {(p - 10) % 12 for p in next_voicing(parse_chord("Bb7(#11)"))}  # E


@pytest.mark.parametrize("style", ["rootless", "guide"])
def test_ii_v_i_vi_cycle_moves_by_small_steps(style):
    vs = voice_lead(CYCLE, style)
    steps = [max_step(a, b) for a, b in zip(vs, vs[1:])]
    assert max(steps) <= 4, steps
    # common tones are kept: Dm7 -> G7 moves one voice by one semitone (C -> B)
    assert movement(vs[0], vs[1]) <= 2


def test_shell_upper_voices_move_by_small_steps():
    vs = voice_lead(CYCLE, "shell")
    assert max(max_step(a[1:], b[1:]) for a, b in zip(vs, vs[1:])) <= 4
    for v, ch in zip(vs, CYCLE):
        assert v[0] % 12 == ch.root  # shells keep the root at the bottom


@pytest.mark.parametrize("style", STYLES)
def test_register_is_comfortable_over_a_long_progression(style):
    reg = REGISTERS[style]
    vs = voice_lead(MANY * 3, style)
    for v in vs:
        assert v[0] >= reg.bottom_low and reg.top_low <= v[-1] <= reg.top_high, v
        assert list(v) == sorted(v) and len(set(v)) == len(v)
    assert max(max_step(a, b) for a, b in zip(vs, vs[1:])) <= 9


def test_voice_leading_is_deterministic_and_continues_from_prev():
    a = voice_lead(MANY)
    b = voice_lead(MANY[:10]) + voice_lead(MANY[10:], prev=voice_lead(MANY[:10])[-1])
    assert a == b


def test_unknown_style_is_an_error():
    with pytest.raises(ValueError, match="style"):
        next_voicing(parse_chord("C7"), None, "cluster")


@pytest.mark.parametrize("style", STYLES)
def test_no_voicing_tops_out_of_its_register(style):
    """Every candidate's top note, and every voicing chosen along a random progression, stays
    in the style's register: one above it pokes out shrill over the player's line."""
    reg = REGISTERS[style]
    for quality in sorted(QUALITIES):
        for root in range(12):
            for v in candidates(Chord(root, quality), style):
                assert reg.top_low <= v[-1] <= reg.top_high, (style, root, quality, v)
    rng = random.Random(7)
    prog = [Chord(rng.randrange(12), rng.choice(sorted(QUALITIES))) for _ in range(300)]
    prev = None
    for ch in prog:
        prev = next_voicing(ch, prev, style)
        assert reg.top_low <= prev[-1] <= reg.top_high, (style, str(ch), prev)


def test_augmented_triad_is_voiced_in_close_position():
    """C+ rootless is 3-#5-R-9 or #5-R-9-3 inside an octave, as a pianist's hand takes it:
    stacked in slot order (3, root, #5, 9) it was E3 C4 G#4 D5, spread over a tenth and a half."""
    for root in range(12):
        ch = Chord(root, "+")
        for v in candidates(ch, "rootless"):
            assert v[-1] - v[0] <= 11, (str(ch), v)
            assert {(root + 4) % 12, (root + 8) % 12} <= _pcs(v), (str(ch), v)
        prev = None
        for _ in range(3):
            prev = next_voicing(ch, prev)
            assert prev[-1] - prev[0] <= 11, (str(ch), prev)


def test_rootless_comping_stays_under_the_soloist_over_rising_keys():
    """A tune that modulates up (ii-V-Is a half step apart, major sevenths rising) is
    voiced between C3 and D5, as a pianist's left hand keeps it: led by the smallest motion
    alone, the voicings climbed with the keys to tops of A5 and stayed there, over the player."""
    keys = list(range(12))
    names = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    for chain in (
        [parse_chord(f"{names[k]}maj7") for k in keys] * 3,
        [parse_chord(s) for k in keys for s in (f"{names[(k + 2) % 12]}m7", f"{names[(k + 7) % 12]}7",
                                                f"{names[k]}maj7")] * 3,
    ):
        for v in voice_lead(chain, "rootless"):
            assert 48 <= v[0] and v[-1] <= 74, v
    # (a shape too wide for those tops still sounds: Eb5(b13), R-b13-5-R, an octave higher)
    assert candidates(parse_chord("Eb5(b13)"), "rootless") == [] and next_voicing(parse_chord("Eb5(b13)"))


def test_a_written_13_on_a_sixth_chord_is_not_doubled():
    """C6(13) or Cadd13 is voiced as C6 (3-5-6-9 / 6-9-3-5): the 13 went into the 5th slot as
    well as the 6th's, so the comp played E3 A3 A4 D5, the 6th in octaves, the 5th gone, over
    a tenth and a half."""
    for sym in ("C6(13)", "Cadd13", "F6(13)"):
        ch = parse_chord(sym)
        for v in candidates(ch, "rootless"):
            assert len(_pcs(v)) == 4 and v[-1] - v[0] <= 11, (sym, v)
        assert _pcs(next_voicing(ch)) == _pcs(next_voicing(parse_chord(sym.replace("(13)", "").replace("add13", "6")))), sym
