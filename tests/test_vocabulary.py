"""The built-in jazz vocabulary: licks fit their chords and cover all 12 keys."""

import pytest

from improv.core.theory.notes import Phrase
from improv.core.respond.licks import DEGREES, LICKS, Lick, training_phrases


def on_beat(note) -> bool:
    return abs(note.start - round(note.start)) < 1e-9


@pytest.mark.parametrize("lick", LICKS, ids=lambda l: l.name)
def test_lick_fits_its_chords(lick):
    phrase, chart = lick.phrase(), lick.chart()
    # A line may land on the next downbeat (the chart loops, so the chord there is known).
    assert phrase.notes and all(0 <= n.start <= chart.length for n in phrase.notes)
    strong = [n for n in phrase.notes if on_beat(n)]
    inside = [n for n in strong if n.pitch % 12 in chart.chord_at(n.start).scale()]
    assert len(inside) >= 0.65 * len(strong), f"{lick.name}: too many outside notes on the beat"
    notes = phrase.notes
    for i, n in enumerate(notes):
        if n.pitch % 12 in chart.chord_at(n.start).scale():
            continue
        # An outside note is an approach: a chord/scale tone a step away follows within two notes.
        after = notes[i + 1:i + 3]
        assert any(
            abs(m.pitch - n.pitch) <= 2 and m.pitch % 12 in chart.chord_at(m.start).scale() for m in after
        ), f"{lick.name}: outside note {n.pitch} at beat {n.start} does not resolve by step"
    assert max(n.pitch for n in notes) - min(n.pitch for n in notes) <= 24


def test_chord_tones_dominate_strong_beats_overall():
    strong = inside = 0
    for lick in LICKS:
        chart = lick.chart()
        for n in lick.phrase().notes:
            if on_beat(n):
                strong += 1
                inside += n.pitch % 12 in chart.chord_at(n.start).chord_tones()
    assert inside / strong > 0.7


def test_vocabulary_covers_the_common_qualities():
    assert len(LICKS) >= 30
    fits = {l.fits for l in LICKS}
    assert {"maj7", "m7", "7", "m7b5", "ii-V", "ii-V-I", "blues"} <= fits
    assert len({l.name for l in LICKS}) == len(LICKS)


def test_every_degree_is_known_and_rhythms_are_on_the_grid():
    for lick in LICKS:
        for degree, onset, dur in lick.notes:
            assert degree.lstrip("^v") in DEGREES
            assert abs(onset * 12 - round(onset * 12)) < 1e-6 and dur > 0
        onsets = [o for _, o, _ in lick.notes]
        assert onsets == sorted(onsets) and len(set(onsets)) == len(onsets)


def test_placement_is_nearest_unless_forced():
    lick = Lick("t", "maj7", "Cmaj7", (("1", 0, 1), ("5", 1, 1), ("^5", 2, 1), ("v1", 3, 1), ("1", 4, 1)))
    assert lick.phrase().pitches() == [60, 55, 67, 60, 60]


def test_training_phrases_cover_all_12_keys():
    pairs = training_phrases()
    assert len(pairs) == 12 * len(LICKS)
    first = [(p, c) for p, c in pairs[:12]]
    roots = {c.chord_at(0).root for _, c in first}
    assert roots == set(range(12))
    for phrase, chart in first:
        assert isinstance(phrase, Phrase)
        # Transposed lick and transposed chart agree: same chord-relative degrees.
        shift = (chart.chord_at(0).root - LICKS[0].chart().chord_at(0).root) % 12
        assert [(p - shift) % 12 for p in phrase.pitches()] == [p % 12 for p in LICKS[0].phrase().pitches()]
