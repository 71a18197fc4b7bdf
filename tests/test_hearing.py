"""The classifier, pinned on hand-written cases: (pitch, start, duration[, velocity]) tuples."""

import pytest

from improv.core.theory.chart import parse_chart, single_chord_chart
from improv.core.theory.chords import parse_chord
from improv.core.embrace.hearing import (
    APPROACH, CHORD, FREE, OUTSIDE, TENSION, classify_pitch, hear, metric_weight, most_salient,
)
from improv.core.theory.notes import Note, Phrase

CMAJ7 = parse_chart("Cmaj7")


def kinds(call, chart=CMAJ7):
    return [h.kind for h in hear(call, chart)]


def test_c_sharp_over_cmaj7_on_beat_1_held_two_beats_is_outside_and_salient():
    call = Phrase.of([(61, 0, 2), (62, 2, 1), (64, 3, 1)])
    h = hear(call, CMAJ7)[0]
    assert h.kind == OUTSIDE
    assert h.salience >= 0.7
    assert "long" in h.reasons and "beat 1" in h.reasons
    assert (h.bar, h.beat, h.pitch) == (0, 0.0, 61)
    assert most_salient(hear(call, CMAJ7)) == h


def test_chromatic_passing_sixteenth_is_an_approach():
    # D Eb E on sixteenths: Eb passes from D to E.
    call = Phrase.of([(62, 0, 0.25), (63, 0.25, 0.25), (64, 0.5, 0.5)])
    heard = hear(call, CMAJ7)
    assert heard[1].kind == APPROACH
    assert heard[1].salience == 0.0
    assert most_salient(heard) is None


def test_f_sharp_over_c7_sharp11_is_a_tension():
    call = Phrase.of([(66, 0, 2)])
    assert kinds(call, parse_chart("C7#11")) == [TENSION]
    assert kinds(call, parse_chart("Cmaj7")) == [TENSION]


def test_a_dominants_altered_tensions_and_a_blues_blue_notes_are_not_mistakes():
    """A long accented b9, #9, #11 or b13 on a dominant, the blue third and fifth over a
    blues's I7, and the major seventh on a minor tonic are jazz vocabulary: they were all
    heard as mistakes (reharmonised; guide told the player to avoid the blue third). The
    natural 11 and the major seventh of a dominant still are."""
    for pc, name in ((1, "b9"), (3, "#9"), (6, "#11"), (8, "b13")):
        assert kinds(Phrase.of([(67 + pc, 0, 2, 110)]), parse_chart("G7 | Cmaj7")) == [TENSION], name
    for pitch in (68, 71):  # Ab and B over F7: the blue third and fifth of an F blues
        assert kinds(Phrase.of([(pitch, 0, 2, 110)]), parse_chart("F7 | Bb7")) == [TENSION]
    assert kinds(Phrase.of([(71, 0, 2)]), parse_chart("Cm6")) == [TENSION]  # melodic minor
    for pitch in (72, 78):  # C (11) and F# (major seventh) over G7
        assert kinds(Phrase.of([(pitch, 0, 2, 110)]), parse_chart("G7 | Cmaj7")) == [OUTSIDE]
    assert most_salient(hear(Phrase.of([(64, 0, 2, 120), (65, 2, 1, 80)]), parse_chart("F7"))).pitch == 64


def test_chord_tone_is_a_chord_tone():
    call = Phrase.of([(64, 0, 1), (67, 1, 1), (71, 2, 1), (60, 3, 1)])
    assert kinds(call) == [CHORD] * 4
    assert all(h.salience == 0.0 for h in hear(call, CMAJ7))


def test_tension_and_no_chord():
    assert classify_pitch(62, parse_chord("Cmaj7")) == TENSION
    assert kinds(Phrase.of([(61, 0, 1)]), single_chord_chart(None)) == [FREE]


def test_long_neighbour_that_resolves_late_is_not_an_approach():
    # C# held two beats, then D: it resolves, but not within a beat.
    assert kinds(Phrase.of([(61, 0, 2), (62, 2, 1)])) == [OUTSIDE, TENSION]


def test_neighbour_that_leaps_away_is_outside():
    assert kinds(Phrase.of([(63, 0, 0.5), (67, 0.5, 0.5)])) == [OUTSIDE, CHORD]


def test_approach_resolves_to_the_next_chord():
    # B on beat 4 of a C7 bar resolves up to C, the 5th of F: an approach across the barline.
    chart = parse_chart("C7 | Fmaj7")
    assert kinds(Phrase.of([(71, 3.5, 0.5), (72, 4, 1)]), chart) == [APPROACH, CHORD]


def test_salience_orders_metric_duration_velocity_and_repetition():
    def sal(call):
        return [h.salience for h in hear(call, CMAJ7) if h.kind == OUTSIDE]

    beat1 = sal(Phrase.of([(61, 0, 1), (67, 1, 1), (64, 2, 2)]))[0]
    beat3 = sal(Phrase.of([(64, 0, 1), (60, 1, 1), (61, 2, 1), (67, 3, 1)]))[0]
    beat2 = sal(Phrase.of([(64, 0, 1), (61, 1, 1), (67, 2, 1), (60, 3, 1)]))[0]
    offbeat = sal(Phrase.of([(64, 0, 1), (61, 1.5, 0.5), (67, 3, 1)]))[0]
    assert beat1 > beat3 > beat2 > offbeat
    short = sal(Phrase.of([(61, 0, 0.5), (67, 0.5, 1)]))[0]
    assert beat1 > short
    loud = hear(Phrase.of([(61, 2, 1, 110), (64, 0, 1, 70), (60, 1, 1, 70), (67, 3, 1, 70)]), CMAJ7)
    soft = hear(Phrase.of([(61, 2, 1, 60), (64, 0, 1, 70), (60, 1, 1, 70), (67, 3, 1, 70)]), CMAJ7)
    hl = next(h for h in loud if h.pitch == 61)
    hs = next(h for h in soft if h.pitch == 61)
    assert hl.salience > hs.salience and "accented" in hl.reasons and "accented" not in hs.reasons
    twice = hear(Phrase.of([(61, 1, 0.5), (64, 1.5, 1), (73, 3, 0.5), (76, 3.5, 0.5)]), CMAJ7)
    assert twice[0].kind == OUTSIDE and "repeated" in twice[0].reasons


def test_positions_are_on_the_session_timeline():
    call = Phrase.of([(61, 0.5, 1)], start=16.0)
    h = hear(call, parse_chart("Dm7 | G7 | Cmaj7 | %"))[0]
    assert (h.bar, h.beat, h.onset) == (4, 0.5, 16.5)
    assert str(h.chord) == "Dm7"  # the chart loops: bar 5 is bar 1 again


def test_metric_weights():
    assert metric_weight(0.0)[1] == "beat 1" and metric_weight(2.05)[1] == "beat 3"
    assert metric_weight(1.0)[0] < metric_weight(2.0)[0] < metric_weight(0.0)[0]
    assert metric_weight(0.5)[0] < metric_weight(3.0)[0]
    assert metric_weight(0.25)[0] < metric_weight(0.5)[0]


def test_empty_call():
    assert hear(Phrase.of([]), CMAJ7) == ()


# --- played time: a note belongs to the beat it is played at ------------------------------

C7_F7 = parse_chart("C7 F7")  # C7 on beats 1-2, F7 on beats 3-4


def test_a_note_a_few_ms_before_the_change_is_heard_against_the_coming_chord():
    # E, 15 ms before beat 3 at 160 bpm (0.04 beat): the 3rd of C7, but heard on beat 3, over F7 (outside)
    call = Phrase.of([(64, 1.96, 1.5, 100), (65, 3.5, 0.5, 70)])
    h = hear(call, C7_F7, tempo=160)[0]
    assert str(h.chord) == "F7" and h.kind == OUTSIDE
    assert (h.bar, h.beat, h.onset) == (0, 2.0, 2.0) and h.played == pytest.approx(1.96)
    assert "beat 3" in h.reasons


def test_a_swung_eighth_anticipation_held_over_the_change_is_heard_on_the_change():
    call = Phrase.of([(60, 0, 1), (64, 1.62, 1.4, 100)])
    h = hear(call, C7_F7, tempo=180)[1]
    assert str(h.chord) == "F7" and h.kind == OUTSIDE
    assert "anticipated" in h.reasons and "beat 3" in h.reasons
    # ...but not a short one that stops before the change, nor a syncopation with no change
    assert str(hear(Phrase.of([(64, 1.62, 0.3)]), C7_F7, tempo=180)[0].chord) == "C7"
    plain = hear(Phrase.of([(61, 0.62, 1.4, 100)]), CMAJ7, tempo=180)[0]
    assert "anticipated" not in plain.reasons and plain.onset == pytest.approx(0.62)


def test_the_on_beat_tolerance_scales_with_the_tempo():
    from improv.core.embrace.hearing import on_beat_tolerance

    assert on_beat_tolerance(None) == 0.125 and on_beat_tolerance(60) == 0.125
    assert on_beat_tolerance(160) == pytest.approx(0.16) and on_beat_tolerance(300) == 0.2
    late = Phrase.of([(61, 2.17, 0.5, 100), (64, 0, 1, 70), (67, 1, 1, 70)])  # a short note 0.17 beat late on beat 3
    assert "beat 3" in next(h for h in hear(late, CMAJ7, tempo=280) if h.pitch == 61).reasons  # 36 ms
    assert "beat 3" not in next(h for h in hear(late, CMAJ7, tempo=90) if h.pitch == 61).reasons  # 113 ms
    assert "beat 3" not in next(h for h in hear(late, CMAJ7) if h.pitch == 61).reasons
    early = Phrase.of([(61, 1.85, 0.5, 100), (64, 0, 1, 70)])  # 0.15 beat early
    assert next(h for h in hear(early, CMAJ7, tempo=200) if h.pitch == 61).onset == 2.0
    assert next(h for h in hear(early, CMAJ7) if h.pitch == 61).onset == pytest.approx(1.85)


def test_a_long_note_attacked_late_is_heard_on_its_beat():
    # held over the beat, attacked a sixteenth behind it: still beat 1; a swung eighth late is not
    for start, on_beat in ((4.25, True), (4.3, True), (4.45, False)):
        h = hear(Phrase.of([(61, start, 2.0, 100), (64, 6.5, 0.5)]), CMAJ7, tempo=120)[0]
        assert ("beat 1" in h.reasons) == on_beat, start
    short = hear(Phrase.of([(61, 4.25, 0.5, 100), (64, 6.5, 0.5)]), CMAJ7, tempo=120)[0]
    assert "beat 1" not in short.reasons


def test_salience_counts_seconds_as_well_as_beats():
    call = Phrase.of([(61, 0.5, 0.7), (64, 1.5, 0.5), (67, 2, 1)])
    slow = hear(call, CMAJ7, tempo=60)[0]  # 0.7 s
    fast = hear(call, CMAJ7, tempo=200)[0]  # 0.21 s
    assert "long" in slow.reasons and "long" not in fast.reasons
    assert slow.salience > fast.salience
    assert hear(call, CMAJ7)[0].salience == fast.salience  # no tempo: beats only


def test_a_long_accented_mistake_played_late_is_embraced_at_its_tempo():
    from improv.core.embrace.plan import embrace_threshold, plan_answer
    from improv.core.embrace.strategies import EmbraceSettings

    # C# 50 ms late on beat 3 at 240 bpm (0.2 beat), held two seconds, accented
    call = Phrase.of([(64, 0, 0.5, 70), (67, 0.5, 0.5, 70), (72, 1, 1, 70), (61, 2.2, 8, 110)])
    heard = next(h for h in hear(call, CMAJ7, tempo=240) if h.pitch == 61)
    assert heard.salience >= embrace_threshold(0.5) and "beat 3" in heard.reasons
    plan = plan_answer(call, CMAJ7, 12.0, 4.0, EmbraceSettings(), seed=1, tempo=240)
    assert plan.handled and plan.handled[0].heard.pitch == 61


def test_a_left_hand_voicing_under_the_line_is_harmony_not_a_mistake():
    """A keyboardist's C7 voicing (C E G Bb, held a bar) under a right-hand line over Cm7:
    its E was 'embraced' as the player's mistake and the answer opened on E3."""
    from improv.core.embrace.hearing import most_salient, under_the_line

    line = [Note(0.0, 75, 0.9, 90), Note(1.0, 74, 0.4, 80), Note(1.5, 72, 0.4, 80), Note(2.0, 70, 1.0, 85)]
    voicing = [Note(0.0, p, 4.0, 70) for p in (48, 52, 55, 58)]  # C3 E3 G3 Bb3, struck with the line's first note
    call = Phrase.of(sorted(line + voicing, key=lambda n: (n.start, n.pitch)), start=0.0, length=4.0)
    heard = hear(call, parse_chart("Cm7"), tempo=120.0)
    e3 = next(h for h in heard if h.pitch == 52)
    assert e3.kind == OUTSIDE and e3.salience == 0.0 and e3.reasons == ("under the line",)
    assert most_salient(heard) is None
    # a right-hand mistake over the voicing is still heard as one
    wrong = Phrase.of(sorted(line[:3] + [Note(2.0, 71, 1.5, 110)] + voicing, key=lambda n: (n.start, n.pitch)),
                      start=0.0, length=4.0)
    assert most_salient(hear(wrong, parse_chart("Cm7"), tempo=120.0)).pitch == 71
    # a voicing's E under the line does not make the line's own E "repeated"
    alone = Phrase.of(line[:3] + [Note(2.0, 76, 0.5, 85)], start=0.0, length=4.0)
    over = Phrase.of(sorted(alone.notes + tuple(voicing), key=lambda n: (n.start, n.pitch)), start=0.0, length=4.0)
    e5 = [h for h in hear(alone, parse_chart("Cm7"), tempo=120.0) if h.pitch == 76][0]
    e5_over = [h for h in hear(over, parse_chart("Cm7"), tempo=120.0) if h.pitch == 76][0]
    assert e5_over.salience == e5.salience and "repeated" not in e5_over.reasons
    # a legato line (each note overlapping the next a little) stays on the line
    legato = [Note(0.5 * k, 72 - k, 0.55, 90) for k in range(6)]
    assert under_the_line(legato) == [False] * 6
    fast = [Note(0.25 * k, 72 - k, 0.55, 90) for k in range(6)]  # sixteenths at 300 bpm, keys held over
    assert under_the_line(fast, tempo=300.0) == [False] * 6  # (a 60 ms overlap: 0.3 beat at 300)
    grace = [Note(0.0, 74, 0.1, 90), Note(0.09, 73, 1.0, 100)]  # a grace note 90 ms ahead at 60 bpm
    assert under_the_line(grace, tempo=60.0) == [False, False]


def test_under_the_line_is_the_same_as_comparing_every_pair():
    import random

    from improv.core.embrace.hearing import CHORD_SPREAD, UNDER_HELD, under_the_line
    from improv.core.theory.notes import Note

    def every_pair(notes):
        return [any(j != i and m.pitch > n.pitch and (
                    m.start <= n.start + CHORD_SPREAD
                    and (m.start >= n.start - CHORD_SPREAD or m.start + m.duration >= n.start + UNDER_HELD)
                    or m.start > n.start and n.start + n.duration >= m.start + UNDER_HELD)  # (held under it)
                    for j, m in enumerate(notes)) for i, n in enumerate(notes)]

    rng = random.Random(3)
    for _ in range(200):
        notes = sorted((Note(rng.choice([0.0, 0.02, 0.15, 0.5, 1.0]) + rng.randrange(8) * 0.5, rng.randrange(40, 90),
                             rng.choice([0.1, 0.5, 2.0, 6.0]), 80) for _ in range(rng.randrange(1, 20))),
                       key=lambda n: (n.start, n.pitch))
        assert under_the_line(notes) == every_pair(notes)
    assert hear(Phrase.of([(61, 0, 0.25)]), parse_chart("Cmaj7"), tempo=0.0)  # a tempo of 0 is no tempo known


def test_an_enclosure_onto_a_chord_tone_is_an_approach_not_a_mistake():
    """F, D#, E in eighths onto the third of Cmaj7: bebop's enclosure. The F's next note is
    itself outside, so the F never counted as an approach, and at 60 bpm it was embraced in
    20 seeds of 20, its answer restating the enclosure without its target."""
    call = Phrase.of([(65, 0, 0.5), (63, 0.5, 0.5), (64, 1.0, 1.0)])
    assert kinds(call) == [APPROACH, APPROACH, CHORD]
    assert most_salient(hear(call, CMAJ7, tempo=60.0)) is None
    # a leap away, or not landing on the chord, is no enclosure
    assert kinds(Phrase.of([(65, 0, 0.5), (68, 0.5, 0.5), (64, 1.0, 1.0)]))[0] == OUTSIDE
    assert kinds(Phrase.of([(65, 0, 1.0), (63, 1.0, 0.5), (61, 1.5, 1.0)]))[0] == OUTSIDE
    assert kinds(Phrase.of([(65, 0, 1.0), (63, 1.0, 0.5), (64, 1.5, 1.0)]))[0] == OUTSIDE  # F held a beat first


def test_a_long_note_pushed_ahead_of_its_beat_is_heard_on_it_as_one_laid_back_is():
    """A long accented F over Cmaj7 played 0.18 beat late was heard on beat 3 and embraced;
    pushed 0.18 beat early (77 ms at 140 bpm) it was heard off the beat and let pass."""
    for start, on_beat in ((4.0 + 2 - 0.18, True), (4.0 + 2 + 0.18, True), (4.0 + 2 - 0.4, False)):
        call = Phrase.of([(64, 4.0, 0.5, 80), (67, 4.5, 0.5, 80), (65, start, 2.0, 110)])
        h = hear(call, CMAJ7, tempo=140)[2]
        assert ("beat 3" in h.reasons) == on_beat, (start, h.reasons)
    short = hear(Phrase.of([(64, 4.0, 0.5), (65, 5.82, 0.4, 110)]), CMAJ7, tempo=140)[1]
    assert "beat 3" not in short.reasons  # a short note ahead of the beat is an off-beat note


def test_the_bass_of_a_slash_chord_is_a_chord_tone():
    """G over Am/G (a line-cliche bar) and Bb over C/Bb were heard as mistakes, embraced or
    avoided: the note the chart puts in the bass sounds in the chord."""
    for chord, pitch in (("Am/G", 67), ("C/Bb", 70), ("D/C", 72), ("C/F#", 66)):
        assert kinds(Phrase.of([(pitch, 0, 2, 110)]), parse_chart(chord)) == [CHORD], chord
    assert kinds(Phrase.of([(71, 0, 2, 110)]), parse_chart("C/Bb")) == [OUTSIDE]  # (the B against it still is)


def test_the_minor_seventh_over_a_minor_triad_is_not_a_mistake():
    """A lead sheet's Am (Summertime, a minor tonic) is Dorian or Aeolian: G over it was heard
    as outside and embraced or avoided, while the rarer G# already was not."""
    for pitch in (67, 68):
        assert kinds(Phrase.of([(pitch, 0, 2, 110)]), parse_chart("Am | E7")) == [TENSION], pitch
    assert kinds(Phrase.of([(67, 0, 2, 110)]), parse_chart("A | E7")) == [OUTSIDE]  # (a major triad's b7 still is)


def test_the_major_seventh_over_a_major_triad_or_sixth_chord_is_not_a_mistake():
    """Rhythm changes' Bb6 and a lead sheet's C are tonics, Cmaj7 by another name: an A
    held over Bb6 was heard as outside, embraced as a mistake or steered away from, while
    the major seventh over a minor sixth chord already was a tension."""
    for chart, pitch in (("Bb6 | F7", 69), ("C | G7", 71), ("C6 | G7", 71)):
        assert kinds(Phrase.of([(pitch, 0, 2, 110)]), parse_chart(chart)) == [TENSION], chart
    assert kinds(Phrase.of([(70, 0, 2, 110)]), parse_chart("C6 | G7")) == [OUTSIDE]  # (the b7 still is)
    assert kinds(Phrase.of([(71, 0, 2, 110)]), parse_chart("C7 | F")) == [OUTSIDE]  # (and the maj7 over a dominant)


def test_the_line_leaves_out_a_left_hands_chord_struck_while_the_right_hand_rests():
    from improv.core.theory.line import the_line

    line = [(72, 0, .5), (74, .5, .5), (76, 1, .5), (79, 1.5, .5), (77, 2, .5), (72, 2.5, 1.0)]
    lh = [(p, 0, 1.9) for p in (50, 53, 57, 60)] + [(p, 4, 2.0) for p in (48, 52, 55, 59)]  # (the second after the line)
    call = Phrase.of(line + lh, start=4.0)
    assert [n.pitch for n in the_line(call, 120.0).notes] == [72, 74, 76, 79, 77, 72]
    blocks = Phrase.of([(p, 0, 1.9) for p in (62, 65, 69, 72)] + [(p, 2, 1.9) for p in (59, 65, 67, 71)])
    assert [n.pitch for n in the_line(blocks).notes] == [72, 71]  # chords alone: their top notes
    octaves = Phrase.of([(p + o, i * .5, .45) for i, p in enumerate((72, 74, 75, 77)) for o in (0, -12)])
    assert [n.pitch for n in the_line(octaves).notes] == [72, 74, 75, 77]
    rolled = Phrase.of([(p, 0.08 * i, 4.0 - 0.08 * i) for i, p in enumerate((41, 48, 57, 63, 67, 72))])
    assert [n.pitch for n in the_line(rolled, 120.0).notes] == [72]
    # a melody note struck with the left hand, far above it, is the right hand's (a leap down in the line)
    dip = Phrase.of([(79, 0, .5), (67, .5, .5), (79, 1, .5)] + [(p, .5, 1.5) for p in (48, 52, 55)])
    assert [n.pitch for n in the_line(dip).notes] == [79, 67, 79]
    grace = Phrase.of([(72, 0, .5), (66, .45, .05), (67, .5, .5), (79, 1, .5)])  # a grace note is the line's
    assert [n.pitch for n in the_line(grace, 120.0).notes] == [72, 66, 67, 79]
    single = Phrase.of(line)
    assert the_line(single) is single


def test_a_chord_rolled_slower_than_a_strike_is_still_harmony_under_the_line():
    """A Db7 voicing rolled up at 50-120 ms a note (a pianist's roll) and held under the line
    over Cmaj7: notes 40 ms apart counted as struck together, so a slower roll's lower notes
    were the line, and its Ab was embraced as the player's mistake ('long, beat 1')."""
    from improv.core.theory.line import the_line, under_the_line

    line = [(72, 0.5, .5), (71, 1, .5), (67, 1.5, .5), (64, 2, 1.0)]
    for seconds in (0.05, 0.08, 0.12):
        step = seconds * 2  # beats at 120 bpm
        roll = [(p, k * step, 4.0 - k * step, 80) for k, p in enumerate((49, 53, 56, 59))]
        call = Phrase.of(roll + line)
        heard = hear(call, CMAJ7, tempo=120.0)
        assert most_salient(heard) is None
        assert all(h.reasons == ("under the line",) for h in heard if h.is_outside)
        assert [n.pitch for n in the_line(call, 120.0).notes] == [72, 71, 67, 64]
    # a line's notes, each let go as the next comes, are no roll however fast
    run = Phrase.of([(60 + 4 * k, 0.12 * k, 0.1) for k in range(4)])
    assert under_the_line(run.notes, 120.0) == [False] * 4 and the_line(run, 120.0) is run


def test_a_left_hands_chord_struck_while_the_right_hand_rests_is_no_mistake():
    """An Ab triad in the left hand (Ab3 C4 Eb4) between two right-hand phrases over Cmaj7:
    its top had no higher note over it, so the Eb was embraced as the player's mistake
    ('long, beat 1'), though the partners read the chord as harmony."""
    line = [(72, 0, .5), (76, .5, .5), (79, 1, .5), (76, 1.5, .5), (74, 2, .5), (71, 2.5, 1.0), (72, 6, 1.0)]
    lh = [(p, 4, 2.0, 80) for p in (56, 60, 63)]
    heard = hear(Phrase.of(line + lh), parse_chart("Cmaj7 | Cmaj7"), tempo=120.0)
    assert most_salient(heard) is None
    assert [h.reasons for h in heard if h.is_outside] == [("under the line",)] * 2
    # the right hand's own Eb there is the line's, and a mistake
    wrong = hear(Phrase.of(line + [(75, 4, 2.0, 80)]), parse_chart("Cmaj7 | Cmaj7"), tempo=120.0)
    assert most_salient(wrong).pitch == 75
