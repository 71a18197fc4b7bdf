"""The line over a left hand's vamp (`improv.core.listen.vamp.LineTracker`), through the segmenter."""

import pytest

from improv.core.listen.segment import Segmenter, SegmentSettings

ORDER = {"off": 0, "cc": 1, "on": 2, "tick": 3}


def feed(seg, events):
    """Events: ("on", pitch, beat), ("off", pitch, beat), ("tick", beat), played in time
    order (at one beat: releases, then strikes, then the tick). Returns the calls completed."""
    calls = []
    for ev in sorted(events, key=lambda e: (e[-1], ORDER[e[0]])):
        if ev[0] == "on":
            c = seg.note_on(ev[1], ev[2], 80)
        elif ev[0] == "off":
            c = seg.note_off(ev[1], ev[2])
        else:
            c = seg.tick(ev[1])
        if c is not None:
            calls.append(c)
    return calls


def keys(pitches, start, length):
    return [("on", p, start) for p in pitches] + [("off", p, start + length) for p in pitches]


def test_a_chord_held_through_the_lines_rest_ends_the_call_after_the_gap():
    """The left hand holds a whole-note chord (top C4) each bar, the right hand plays four
    eighths from G4, from the last bar's "and of 4", and rests 2.1 beats to the next one:
    the line's rests were never answered (nothing was struck in them: only a re-struck
    chord counted as the accompaniment going on, and the next chord came after the line's
    next pickup), and the call ran on to its cap. A musician holding a chord under a
    phrase's end expects the answer after the gap, as with a re-struck one: each phrase
    ends a call at its last release."""
    events = [("tick", q / 8) for q in range(8 * 26)]
    for bar in range(5):
        events += keys((48, 52, 55, 60), bar * 4.0, 3.9)
    for bar in range(4):
        for k, p in enumerate((67, 69, 71, 72)):
            events += keys((p,), bar * 4.0 + 3.5 + 0.5 * k, 0.4)
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [c.reason for c in calls] == ["line"] * 4
    assert [round(c.ended, 6) for c in calls] == [5.4, 9.4, 13.4, 17.4]
    assert [c.detected for c in calls] == [6.5, 10.5, 14.5, 18.5]  # (the first tick past the gap)
    assert calls[1].phrase.start == pytest.approx(7.5)  # the next phrase: from its pickup on
    assert calls[1].bars == 1


def test_every_key_up_in_the_lines_rest_is_still_the_gap():
    """The chord lifted with the line: no accompaniment goes on, so the gap cuts the call
    (and its line's register is forgotten)."""
    events = [("tick", q / 8) for q in range(8 * 6)] + keys((48, 52, 55, 60), 0.0, 1.9)
    events += [e for k, p in enumerate((67, 69, 71, 72)) for e in keys((p,), 0.5 * k, 0.4)]
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    assert [(c.reason, c.ended) for c in feed(seg, events)] == [("gap", 1.9)]
    assert seg.line.split is None
