"""Musical statistics over hand-written phrases (table-driven)."""

import math

import pytest

from improv.core.theory.chart import parse_chart
from improv.core.theory.metrics import (
    INTERVAL_BINS,
    in_harmony_share,
    interval_cells,
    interval_histogram,
    is_strong_onset,
    js_distance,
    notes_per_beat,
    pitch_class_entropy,
    relatedness,
    rhythm_cells,
    strong_beat_chord_tone_counts,
    strong_beat_chord_tone_share,
    summarize,
)
from improv.core.theory.notes import Phrase

CMAJ = parse_chart("Cmaj7")
II_V = parse_chart("Dm7 | G7")  # Dm7 on beats 0-4, G7 on 4-8, looping


@pytest.mark.parametrize(
    "beat, bpb, strong",
    [
        (0.0, 4, True), (2.0, 4, True), (4.0, 4, True), (6.0, 4, True),
        (1.0, 4, False), (3.0, 4, False), (0.5, 4, False),
        (2.0 + 1 / 12, 4, True),  # within a tick after
        (4.0 - 1 / 12, 4, True),  # a tick early: anticipates the barline
        (2.0 + 2 / 12, 4, False),
        (0.0, 3, True), (1.0, 3, False), (2.0, 3, False),
    ],
)
def test_strong_onsets(beat, bpb, strong):
    assert is_strong_onset(beat, bpb) is strong


@pytest.mark.parametrize(
    "notes, start, chart, counts",
    [
        # C E on beats 1 and 3 of Cmaj7: both chord tones; the D on beat 2 is weak.
        ([(60, 0, 1), (62, 1, 1), (64, 2, 1)], 0.0, CMAJ, (2, 2)),
        # D (a tension) on beat 1, F (avoid) on beat 3.
        ([(62, 0, 1), (65, 2, 1)], 0.0, CMAJ, (0, 2)),
        # Timeline position matters: starting at beat 1, the notes land on beats 2 and 4.
        ([(60, 0, 1), (64, 2, 1)], 1.0, CMAJ, (0, 0)),
        # Over the ii-V: F (3rd of Dm7) at beat 0, F (7th of G7) at beat 4, C# nowhere at 6.
        ([(65, 0, 1), (65, 4, 1), (61, 6, 1)], 0.0, II_V, (2, 3)),
        # B anticipating bar 2 by a tick is judged against G7 (its 3rd).
        ([(71, 4 - 1 / 12, 1)], 0.0, II_V, (1, 1)),
    ],
)
def test_strong_beat_chord_tones(notes, start, chart, counts):
    assert strong_beat_chord_tone_counts(Phrase.of(notes, start=start), chart) == counts


def test_strong_beat_share_skips_no_chord_and_empty():
    nc = parse_chart("NC | Cmaj7")
    ph = Phrase.of([(61, 0, 1), (60, 4, 1)])
    assert strong_beat_chord_tone_counts(ph, nc) == (1, 1)
    assert math.isnan(strong_beat_chord_tone_share(Phrase.of([]), CMAJ))


@pytest.mark.parametrize(
    "notes, chart, share",
    [
        ([(60, 0, 1), (62, 1, 1), (64, 2, 1), (71, 3, 1)], CMAJ, 1.0),  # chord tones and the 9th
        ([(61, 0, 1), (63, 1, 1)], CMAJ, 0.0),  # C# and D# over Cmaj7
        ([(65, 0, 1), (66, 1, 1)], CMAJ, 0.5),  # F is no tension of Cmaj7; F# (#11) is
        ([(66, 0, 1), (68, 1, 1)], CMAJ, 0.5),
        ([(65, 0, 1), (65, 4, 1), (56, 5, 1), (61, 6, 1)], II_V, 0.5),  # G7: F yes, Ab no (9 only), C# no
    ],
)
def test_in_harmony_share(notes, chart, share):
    assert in_harmony_share(Phrase.of(notes), chart) == pytest.approx(share)


def test_in_harmony_share_avoid_note():
    # Cmaj7 admits 9, #11, 13: F natural is outside, F# inside.
    assert in_harmony_share(Phrase.of([(65, 0, 1)]), CMAJ) == 0.0
    assert in_harmony_share(Phrase.of([(66, 0, 1)]), CMAJ) == 1.0


@pytest.mark.parametrize(
    "pitches, bits",
    [
        ([60], 0.0),
        ([60, 72, 48], 0.0),  # octaves are one pitch class
        ([60, 62], 1.0),
        ([60, 62, 64, 65], 2.0),
        (list(range(60, 72)), math.log2(12)),
        ([60, 60, 60, 62], -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))),
    ],
)
def test_pitch_class_entropy(pitches, bits):
    ph = Phrase.of([(p, i, 1) for i, p in enumerate(pitches)])
    assert pitch_class_entropy(ph.notes) == pytest.approx(bits)


def test_interval_histogram_bins():
    ph = Phrase.of([(60, 0, 1), (60, 1, 1), (62, 2, 1), (59, 3, 1), (71, 4, 1), (50, 5, 1)])
    hist = interval_histogram([ph, Phrase.of([(60, 0, 1)])])
    assert len(hist) == INTERVAL_BINS
    # 0, +2, -3, +12, -21 (wider than an octave -> last bin)
    expected = [0] * INTERVAL_BINS
    for b in (0, 2, 3, 12, 13):
        expected[b] += 1
    assert hist == expected


@pytest.mark.parametrize(
    "p, q, d",
    [
        ([1, 0], [1, 0], 0.0),
        ([1, 0], [0, 1], 1.0),
        ([2, 2], [1, 1], 0.0),  # counts are normalized first
        ([1, 1], [1, 0], 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)) + 0.5 * math.log2(1 / 0.75)),
    ],
)
def test_js_distance(p, q, d):
    assert js_distance(p, q) == pytest.approx(d)
    assert js_distance(q, p) == pytest.approx(d)  # symmetric


def test_js_distance_empty_and_mismatch():
    assert math.isnan(js_distance([0, 0], [1, 0]))
    with pytest.raises(ValueError):
        js_distance([1], [1, 0])


def test_notes_per_beat_uses_given_span():
    a = Phrase.of([(60, 0, 0.5), (62, 0.5, 0.5)], length=4)  # 2 notes in 4 beats
    b = Phrase.of([(60, 0, 1), (62, 1, 1), (64, 2, 1), (65, 3, 1)])  # 4 in 4
    assert notes_per_beat([a]) == 0.5
    assert notes_per_beat([a, b]) == 0.75
    assert math.isnan(notes_per_beat([]))


LINE = [(60, 0, 0.5), (62, 0.5, 0.5), (64, 1, 0.5), (67, 1.5, 1)]  # +2 +2 +3, IOIs 6 6 6


@pytest.mark.parametrize(
    "call, answer, interval, rhythm",
    [
        # The same shape a fourth higher, later in the bar: interval-related.
        (LINE, [(p + 5, s + 2, d) for p, s, d in LINE], True, False),
        # Uniform eighths are not a rhythm cell; a dotted figure is.
        ([(60, 0, 0.75), (62, 0.75, 0.25), (60, 1, 0.75), (55, 1.75, 0.25)],
         [(70, 0, 0.75), (70, 0.75, 0.25), (70, 1, 0.75), (70, 1.75, 0.25)], False, True),
        # Both.
        ([(60, 0, 0.75), (62, 0.75, 0.25), (64, 1, 0.75), (67, 1.75, 0.25)],
         [(65, 0, 0.75), (67, 0.75, 0.25), (69, 1, 0.75), (72, 1.75, 0.25)], True, True),
        # Inversion (-2 -2 -3) is a different cell; repeated notes never count.
        (LINE, [(67, 0, 1), (65, 1, 1), (63, 2, 1), (60, 3, 1)], False, False),
        ([(60, 0, 1), (60, 1, 1), (60, 2, 1), (60, 3, 1)], [(62, 0, 1), (62, 1, 1), (62, 2, 1), (62, 3, 1)], False, False),
        # Too short to hold a cell.
        ([(60, 0, 1), (62, 1, 1)], [(60, 0, 1), (62, 1, 1)], False, False),
        ([], LINE, False, False),
    ],
)
def test_relatedness(call, answer, interval, rhythm):
    r = relatedness(Phrase.of(call), Phrase.of(answer))
    assert (r.interval, r.rhythm) == (interval, rhythm)
    assert r.either == (interval or rhythm)


def test_cells_ignore_transposition_and_chords():
    assert interval_cells(Phrase.of(LINE)) == {(2, 2, 3)}
    assert interval_cells(Phrase.of(LINE).transpose(7)) == {(2, 2, 3)}
    # Two notes struck together share one onset: IOIs of 0 do not appear.
    ph = Phrase.of([(60, 0, 1), (64, 0, 1), (62, 1, 1), (64, 1.5, 1), (65, 3, 1)])
    assert rhythm_cells(ph) == {(12, 6, 18)}


def test_summarize():
    calls = [Phrase.of(LINE), Phrase.of([(60, 0, 1), (61, 1, 1)])]
    answers = [
        Phrase.of([(p + 5, s, d) for p, s, d in LINE], start=4, length=4),  # related to call 0
        Phrase.of([(72, 0, 1)], start=8, length=4),
    ]
    s = summarize(answers, [CMAJ, CMAJ], calls)
    assert s["n_phrases"] == 2 and s["n_notes"] == 5
    assert s["notes_per_beat"] == pytest.approx(5 / 8)
    # Strong beats: F at beat 4 (no), Bb at 5.5? no; C at 8 (yes) -> 1 of 2.
    assert s["strong_beat_chord_tone_share"] == pytest.approx(0.5)
    assert s["relatedness"] == 0.5 and s["interval_related"] == 0.5 and s["rhythm_related"] == 0.0
    assert s["relatedness_shuffled"] == 0.0
    # consecutive phrases: the next pair's call is this pair's answer, which never counts as chance
    ph = [Phrase.of([(p + k, s, d) for p, s, d in LINE], start=4 * k) for k in range(4)]
    chained = summarize(ph[1:], [CMAJ] * 3, ph[:-1])
    assert chained["relatedness"] == 1.0
    assert chained["relatedness_shuffled"] == 1.0  # every call here shares the shape
    solo = summarize([ph[1]], [CMAJ], [ph[0]])
    assert math.isnan(solo["relatedness_shuffled"])
    loop = summarize([ph[1], ph[0]], [CMAJ, CMAJ], [ph[0], ph[1]])
    assert math.isnan(loop["relatedness_shuffled"])  # both comparisons would be an answer against itself
    assert sum(s["interval_hist"]) == 3
    assert s["pc_entropy_bits"] == pytest.approx((2.0 + 0.0) / 2)
    with pytest.raises(ValueError):
        summarize(answers, [CMAJ], calls)
