import pytest

from improv.core.theory.notes import (Meter, Note, Phrase, beats_to_seconds, pitch_name, seconds_to_beats,
                               swing_beats, unswing_beats)


def test_phrase_from_readable_tuples_is_sorted():
    p = Phrase.of([(64, 1, 1), (60, 0, 0.5, 100)], start=8)
    assert p.pitches() == [60, 64]
    assert p.notes[0] == Note(0.0, 60, 0.5, 100)
    assert p.length == 2 and p.end == 10
    assert [n.start for n in p.absolute()] == [8, 9]


def test_note_validation():
    with pytest.raises(ValueError):
        Note(0, 128, 1)
    with pytest.raises(ValueError):
        Note(0, 60, 0)


@pytest.mark.parametrize("beats,tempo", [(0, 120), (1, 120), (3.25, 93.5), (100, 240)])
def test_beats_seconds_round_trip(beats, tempo):
    assert seconds_to_beats(beats_to_seconds(beats, tempo), tempo) == pytest.approx(beats)
    assert beats_to_seconds(1, 120) == 0.5


@pytest.mark.parametrize("ratio", [1.0, 1.5, 2.0, 3.0])
def test_swing_round_trip_and_offbeat(ratio):
    for b in (0, 0.25, 0.5, 0.75, 1.0, 7.5, 7.9):
        assert unswing_beats(swing_beats(b, ratio), ratio) == pytest.approx(b)
    assert swing_beats(0.5, ratio) == pytest.approx(ratio / (1 + ratio))
    assert swing_beats(3.0, ratio) == 3.0


def test_meter_boundaries():
    m = Meter(4)
    assert m.bar_beat(9.5) == (2, 1.5)
    assert m.next_boundary(4.2) == 5 and m.next_boundary(4.2, "bar") == 8 and m.next_boundary(8.0, "bar") == 8


def test_transpose_keeps_range():
    p = Phrase.of([(125, 0, 1)]).transpose(5)
    assert p.pitches() == [118]
    assert pitch_name(61) == "C#4"
