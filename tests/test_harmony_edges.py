"""HarmonyTracker cases a mutation audit found untested: a chord heard whole, a secondary dominant, a line pushed early, late-reported notes, a long held note, ghost notes, key spelling, a zero window, a repeated note."""

from improv.core.theory.chords import parse_chord
from improv.core.listen.harmony import HarmonyTracker, key_name

def e8(p, start=0.0, dur=0.5, vel=90):
    return [(x, start + 0.5 * i, dur, vel) for i, x in enumerate(p)]

def feed(t, notes):
    for n in notes:
        t.add(*n)
    return t.current()

def test_a_chord_heard_whole_beats_one_missing_its_seventh():
    # C Eb Gb, then a short soft Ab: every tone of Ab7 heard; Cm7b5's Bb never
    t = HarmonyTracker()
    assert feed(t, e8([60, 63, 66]) + [(68, 1.5, 0.25, 50)])[0] == parse_chord("Ab7")

def test_a_secondary_dominant_does_not_modulate():
    t = HarmonyTracker(window_beats=4.0)
    scale = [(p, float(i), 1.0, 90) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60])]
    chord, key = feed(t, scale + e8([62, 66, 69, 72, 74, 72, 69, 66], start=15.0))
    assert chord == parse_chord("D7") and key == "C major"

def test_a_line_played_a_little_early_reads_the_same():
    t = HarmonyTracker(window_beats=4.0)
    line = [(p, 1.0 + 0.5 * i - 0.03, 0.5, 90) for i, p in enumerate([67, 71, 74, 77, 79, 78, 77, 76, 74, 72, 71, 69, 67])]
    assert feed(t, line)[0] == parse_chord("G7")

def test_a_note_reported_late_counts_at_its_place():
    # "notes may arrive slightly out of order": the G on 4.0 comes in after the B on 4.5
    t = HarmonyTracker(window_beats=4.0)
    feed(t, e8([62, 65, 69, 72, 74, 72, 69, 65]))
    t.add(71, 4.5, 0.5, 90)
    t.add(67, 4.0, 0.5, 90)
    assert t.current()[0] == parse_chord("G7")

def test_a_long_held_note_does_not_outweigh_the_line():
    t = HarmonyTracker()
    feed(t, e8([62, 65, 69, 72, 74, 72, 69, 65]) + [(65, 4.0, 16.0, 90)])
    assert t.current()[0] == parse_chord("Dm7")

def test_ghost_notes_weigh_little():
    t = HarmonyTracker()
    notes = [(p, 0.5 * i, 0.5, 110) for i, p in enumerate([67, 71, 74, 77])]
    notes += [(p, 2.0 + 0.5 * i, 0.5, 10) for i, p in enumerate([68, 73, 75, 78])]
    assert feed(t, notes)[0] == parse_chord("G7")

def test_minor_keys_are_spelled_with_sharps():
    assert key_name(1, True) == "C# minor" and key_name(8, True) == "G# minor"
    assert key_name(1, False) == "Db major"

def test_a_zero_window_is_clamped():
    t = HarmonyTracker(window_beats=0)
    t.add(60, 0.0, 1.0, 90); t.add(64, 0.5, 1.0, 90)
    assert t.current()[0] is not None

def test_a_repeated_note_does_not_move_the_key():
    t = HarmonyTracker()
    notes = [(60 + p, float(i), 1.0, 90) for i, p in enumerate([0, 2, 4, 5, 7, 9, 11, 12])]
    notes += [(62, 8 + 0.5 * i, 0.5, 90) for i in range(8)]  # a repeated D
    assert feed(t, notes)[1] == "C major"
