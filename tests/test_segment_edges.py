"""Segmenter edge cases a mutation audit found untested (each test fails under its mutation): CC 120, an end CC of exactly 64, the cap against the gap, a lost key, a held flood."""

from improv.core.listen.segment import Segmenter, SegmentSettings
import pytest

def test_all_sound_off_also_releases():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    seg.note_on(60, 0.0); seg.note_on(64, 0.5)
    assert seg.control(120, 0, 1.0) is None
    call = seg.tick(2.0)
    assert call is not None and [(n.pitch, n.duration) for n in call.phrase.notes] == [(60, 1.0), (64, 0.5)]

def test_end_cc_at_64_cuts():
    seg = Segmenter(SegmentSettings(end_cc=20))
    seg.note_on(60, 0.0)
    c = seg.control(20, 64, 1.0)
    assert c is not None and c.reason == "cc"

def test_gap_past_cap_is_max():
    seg = Segmenter(SegmentSettings(max_call_bars=1, gap_beats=1.0))
    seg.note_on(60, 0.0); seg.note_off(60, 3.5)
    c = seg.tick(4.6)
    assert c.reason == "max" and c.ended == 3.5 and c.detected == 4.6

def test_silent_at_cap_ends_at_release():
    seg = Segmenter(SegmentSettings(max_call_bars=1, gap_beats=1.0))
    seg.note_on(60, 0.0); seg.note_off(60, 3.5)
    c = seg.tick(4.0)
    assert c.reason == "max" and c.ended == 3.5 and c.phrase.length == 3.5

def test_late_tick_at_cap_answers_after_now():
    seg = Segmenter(SegmentSettings(max_call_bars=1, gap_beats=1.0))
    seg.note_on(60, 0.0)
    c = seg.tick(6.0)
    assert c.reason == "max" and c.ended == 4.0 and c.detected == 6.0 and c.answer_start >= 6.0

def test_phrase_length_is_relative():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    seg.note_on(60, 0.5); seg.note_off(60, 1.0); seg.note_on(64, 1.0); seg.note_off(64, 2.25)
    c = seg.tick(3.25)
    assert c.phrase.length == pytest.approx(c.ended - c.phrase.start) == pytest.approx(1.75)

def test_zero_gap_rejected():
    with pytest.raises(ValueError):
        SegmentSettings(gap_beats=0)

def test_held_chord_flood_capped():
    seg = Segmenter(SegmentSettings(max_call_notes=10, gap_beats=1.0))
    for i in range(20):
        seg.note_on(40 + i, i * 0.01)
    c = seg.control(123, 0, 1.0) or seg.tick(2.5)
    assert len(c.phrase.notes) == 10 and seg.dropped == 10

def test_key_pressed_inside_call_survives_cap():
    seg = Segmenter(SegmentSettings(max_call_bars=1, gap_beats=1.0))
    seg.note_on(60, 0.0); seg.note_off(60, 0.5); seg.note_on(62, 0.75)
    seg.note_on(64, 2.0); seg.note_off(62, 2.5)
    c = seg.tick(4.0)
    assert c is not None and c.reason == "max" and c.phrase.start == 0.0
    assert 64 in seg.held

def test_lost_key_call_ends_at_cap():
    seg = Segmenter(SegmentSettings(max_call_bars=2, gap_beats=1.0))
    seg.note_on(48, 0.0); seg.note_on(60, 1.0); seg.note_off(60, 2.0)
    c = seg.tick(8.0)
    assert c.reason == "max" and c.ended == 8.0
