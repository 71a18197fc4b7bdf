"""Live harmony inference: chord and key from played notes."""

from improv.core.theory.chords import parse_chord
from improv.core.listen.harmony import HarmonyTracker, key_name, voiced_changes
from improv.core.theory.notes import Phrase


def play(tracker, notes, velocity=90):
    """Feed readable `(pitch, beat, duration)` tuples."""
    for pitch, beat, dur in notes:
        tracker.add(pitch, beat, dur, velocity)


def eighths(pitches, start=0.0):
    return [(p, start + 0.5 * i, 0.5) for i, p in enumerate(pitches)]


def test_nothing_heard_gives_none():
    assert HarmonyTracker().current() == (None, "")


def test_dm7_arpeggio_is_dm7():
    t = HarmonyTracker()
    play(t, eighths([62, 65, 69, 72, 74, 72, 69, 65]))
    assert t.current()[0] == parse_chord("Dm7")


def test_g7_line_is_g7():
    t = HarmonyTracker()
    # G B D F, then a bebop descent with the 9th and a passing major 7th.
    play(t, eighths([67, 71, 74, 77, 79, 78, 77, 76, 74, 72, 71, 69, 67]))
    assert t.current()[0] == parse_chord("G7")


def test_c_major_scale_gives_c_major():
    t = HarmonyTracker()
    play(t, [(p, float(i), 1.0) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60])])
    assert t.current()[1] == "C major"


def test_a_minor_line_gives_a_minor():
    t = HarmonyTracker()
    line = [57, 60, 64, 69, 68, 69, 71, 72, 71, 69, 68, 64, 65, 62, 64, 57]
    play(t, [(p, float(i), 1.0) for i, p in enumerate(line)])
    assert t.current()[1] == "A minor"


def test_follows_a_ii_v_i():
    t = HarmonyTracker(window_beats=4.0)
    play(t, eighths([62, 65, 69, 72, 74, 72, 69, 65], start=0.0))
    assert t.current()[0] == parse_chord("Dm7")
    play(t, eighths([67, 71, 74, 77, 79, 77, 74, 71], start=4.0))
    assert t.current()[0] == parse_chord("G7")
    play(t, eighths([60, 64, 67, 71, 72, 71, 67, 64], start=8.0))
    assert t.current()[0] == parse_chord("Cmaj7")
    assert t.current()[1] == "C major"


def test_one_passing_note_does_not_flip_the_chord():
    t = HarmonyTracker()
    play(t, eighths([62, 65, 69, 72, 74, 72, 69, 65]))
    seen = set()
    for i, p in enumerate([64, 66, 65, 62]):  # E, a chromatic F#, back to F and D
        t.add(p, 4.0 + 0.5 * i, 0.25, 60)
        seen.add(t.current()[0])
    assert seen == {parse_chord("Dm7")}


def test_transposed_material_gives_transposed_answers():
    for shift in range(12):
        t = HarmonyTracker()
        play(t, eighths([p + shift for p in [67, 71, 74, 77, 79, 77, 74, 71, 67]]))
        assert t.current()[0] == parse_chord("G7").transpose(shift)


def test_bad_input_is_ignored():
    t = HarmonyTracker()
    t.add(200, 0.0, 1.0, 90)
    t.add(60, float("nan"), 1.0, 90)
    t.add(60, 0.0, 1.0, 0)
    assert t.current() == (None, "")
    t.add(0, 0.0, 0.0, 127)
    t.add(127, 0.5, 100.0, 1)
    chord, key = t.current()
    assert chord is not None and key
    t.reset()
    assert t.current() == (None, "")


def test_old_notes_are_forgotten():
    t = HarmonyTracker(window_beats=2.0)
    for i in range(1000):
        t.add(60 + (i % 12), i * 0.5, 0.5, 80)
    assert len(t._events) <= 4 * 2.0 / 0.5 + 2


def test_key_names():
    assert key_name(2, False) == "D major"
    assert key_name(10, False) == "Bb major"
    assert key_name(9, True) == "A minor"


def _lead(tracker):
    """(the best-scoring chord, by how much it beats the current one as a share of the weight)."""
    scores = tracker._chord_scores()
    best = max(scores, key=scores.__getitem__)
    return best, (scores[best] - scores[tracker.current()[0]]) / sum(tracker._profile(tracker.window_beats))


def test_a_rival_chord_must_lead_clearly_before_the_chord_changes():
    """Dm7, then a G: G7sus4 edges ahead but not clearly, so Dm7 holds (no flicker to a
    sus chord on one note); the B makes G7 clearly better and it changes at once."""
    from improv.core.listen.harmony import _CHORD_SWITCH_MARGIN

    t = HarmonyTracker(window_beats=4.0)
    play(t, eighths([62, 65, 69, 72, 74, 72, 69, 65]))
    t.add(67, 4.0, 0.5, 90)
    rival, lead = _lead(t)
    assert rival == parse_chord("G7sus4") and 0 < lead < _CHORD_SWITCH_MARGIN  # ahead, within the margin
    assert t.current()[0] == parse_chord("Dm7")
    t.add(71, 4.5, 0.5, 90)
    assert t.current()[0] == parse_chord("G7")
    for i, p in enumerate([74, 77]):  # Dm7, then F6, edge ahead again: G7 holds
        t.add(p, 5.0 + 0.5 * i, 0.5, 90)
        rival, lead = _lead(t)
        assert rival != parse_chord("G7") and 0 < lead < _CHORD_SWITCH_MARGIN
        assert t.current()[0] == parse_chord("G7")


def test_the_chords_a_left_hand_voices_under_a_line_are_heard_where_it_strikes_them():
    """Shells struck a little early or late are heard from the beat; a rolled chord is one
    voicing; a Db7 shell under a long G is Db7 (the G its #11), not a G chord."""
    lh = [(p, 0.03, 1.9) for p in (50, 53, 60)] + [(p, 1.95, 2.0) for p in (43, 53, 59)]
    call = Phrase.of(lh + eighths([74, 72, 69, 65, 64, 65, 71, 74]), start=8.0)
    spans = voiced_changes(call, 120.0)
    assert [(s.start, str(s.chord)) for s in spans] == [(8.0, "Dm7"), (10.0, "G7")]
    assert spans[-1].end == call.end
    rolled = Phrase.of([(p, 0.08 * i, 4.0 - 0.08 * i) for i, p in enumerate((41, 48, 57, 63, 67, 72))])
    assert [str(s.chord) for s in voiced_changes(rolled, 120.0)] == ["F7"]
    tritone = Phrase.of([(p, 0.0, 1.8) for p in (49, 53, 59)] + [(67, 0.0, 3.5)])
    assert [str(s.chord) for s in voiced_changes(tritone, 120.0)] == ["Db7"]


def test_a_line_in_octaves_or_thirds_voices_no_chord():
    octaves = Phrase.of(eighths([72, 74, 76, 77]) + eighths([60, 62, 64, 65]))
    thirds = Phrase.of(eighths([76, 77, 79, 81]) + eighths([72, 74, 76, 77]))
    assert voiced_changes(octaves, 120.0) == [] and voiced_changes(thirds, 120.0) == []
    assert voiced_changes(Phrase.of(eighths([60, 64, 67, 71])), 120.0) == []  # an arpeggio is a line


def test_a_slow_roll_is_one_voicing():
    roll = Phrase.of([(p, 0.12 * i, 4.0 - 0.12 * i) for i, p in enumerate((41, 48, 57, 63, 67))])  # 60 ms a note
    assert [str(s.chord) for s in voiced_changes(roll, 120.0)] == ["F7"]


def test_a_voicing_is_heard_for_two_bars_at_most():
    """A left hand's G7 struck once, then three bars of line: the line goes on to other chords."""
    call = Phrase.of([(p, 0.0, 1.5) for p in (43, 53, 59)] + eighths([74, 72, 71, 67] * 6), start=4.0)
    spans = voiced_changes(call, 120.0)
    assert [(s.start, s.end, str(s.chord)) for s in spans] == [(4.0, 12.0, "G7")] and call.end > 12.0
    # two bars of the metre played: in 3/4 eight beats were two bars and two thirds
    waltz = Phrase.of([(p, 0.0, 1.5) for p in (43, 53, 59)] + eighths([74, 72, 71, 67] * 6), start=3.0)
    assert [(s.start, s.end, str(s.chord)) for s in voiced_changes(waltz, 120.0, 3)] == [(3.0, 9.0, "G7")]


def test_the_free_jam_and_respond_hear_a_waltz_voicing_for_two_of_its_bars():
    """The free jam (no chart, `--time 3/4`) and `improv respond` over a 3/4 guess hold a
    left hand's voicing two bars of the metre, not eight beats."""
    from improv.commands.respond import _voiced
    from improv.config import Config, override
    from improv.core.theory.chart import single_chord_chart
    from test_session import make

    call = Phrase.of([(p, 0.0, 1.5) for p in (43, 53, 59)] + eighths([74, 72, 71, 67] * 6), start=3.0)
    s, *_ = make(override(Config(), "timing", beats_per_bar=3, follow=False), chart=None)
    s.policy.chart_for(call)
    assert [(v.start, v.end) for v in s.policy._voiced[1]] == [(3.0, 9.0)]
    s.close()
    chart, _ = _voiced(single_chord_chart(parse_chord("C"), 3), "", call, 120.0)
    assert chart.chord_at(8.5) == parse_chord("G7") and chart.chord_at(9.5) != parse_chord("G7")


def waltz(*chords):
    """A jazz waltz line in 3/4: each `(chord tones, bars)` played a quarter note a beat,
    the root on each downbeat, as `(pitch, beat, duration)` tuples."""
    notes, bar = [], 0
    for tones, bars in chords:
        for _ in range(bars):
            notes += [(p, 3.0 * bar + i, 1.0) for i, p in enumerate(tones)]
            bar += 1
    return notes


def test_in_three_four_the_chord_window_is_two_bars_of_the_metre():
    """The window was a fixed 8 beats: in 3/4 it reached into a third bar back, and a jazz
    waltz's chord of two bars (Cmaj7 | Cmaj7 | Em7 | Em7) was still heard as the chord of
    the bars before it. Built as the free jam builds it (the session's beats per bar)."""
    for first, then, after in (([60, 64, 67], [64, 67, 71], "Em7"), ([53, 57, 60], [57, 60, 64], "Am7"),
                               ([50, 60, 57], [57, 67, 64], "Am7")):
        t = HarmonyTracker(beats_per_bar=3)
        play(t, waltz((first, 2), (then, 2)))
        assert t.current()[0] == parse_chord(after), (first, then, t.current())
    assert HarmonyTracker(beats_per_bar=3).window_beats == 6.0
    assert HarmonyTracker(beats_per_bar=5).window_beats == 10.0
    assert HarmonyTracker().window_beats == 8.0  # (4/4 as before: two bars)
