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


def strike_and_ask(events, pitch, beat):
    """Feed `events` to a fresh segmenter, strike `pitch` at `beat`, and ask whether it accompanies."""
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    feed(seg, [e for e in events if e[-1] <= beat])
    seg.note_on(pitch, beat, 80)
    return seg.accompanies(pitch)


HELD = keys((48, 52, 55, 60), 0.0, 3.9) + [e for k, p in enumerate((72, 71, 69, 67)) for e in keys((p,), 0.25 + 0.5 * k, 0.4)]


def test_a_line_note_struck_over_the_chord_the_left_hand_holds_is_the_lines():
    """The left hand holds a chord topped by C4 under a phrase from C5 down to G4, then one
    topped by G3; the right hand comes down to B3 and C4 over it, struck alone. By pitch
    (at or under the C4 heard as the accompaniment's top) they were taken as the
    accompaniment's, and the partner did not yield to them. The left hand's thumb is on
    the G3 it holds: a key struck alone over it is the right hand's."""
    bar2 = HELD + keys((47, 50, 53, 57), 4.0, 3.9)
    assert not strike_and_ask(bar2, 59, 4.75)
    assert not strike_and_ask(bar2, 60, 4.75)


def test_under_the_held_chords_top_or_struck_with_a_voicing_a_key_still_accompanies():
    assert strike_and_ask(HELD, 57, 2.75)  # under the thumb: the left hand may have a finger free
    bar2 = HELD + keys((47, 50, 53, 57), 4.0, 3.9)
    assert strike_and_ask(bar2, 52, 4.75)
    assert strike_and_ask(HELD + keys((47, 50, 53), 4.0, 3.9), 57, 4.05)  # struck with the next chord: the voicing's
    rolled = HELD + [e for k, p in enumerate((47, 50, 53)) for e in keys((p,), 4.0 + 0.06 * k, 3.8)]
    assert strike_and_ask(rolled, 57, 4.24)  # a chord rolled up to its G3
    moving = HELD + keys((50, 53, 57), 4.0, 3.9)
    assert strike_and_ask(moving, 62, 4.01)  # the next voicing's top, a step up


def test_a_line_that_runs_on_down_into_the_left_hands_register_is_the_line_at_each_strike():
    """Comping struck on every beat (top C4) under a line from C5 stepping down below it:
    the segmenter already read the steps under C4 as the line running on, but
    `accompanies` judged them by pitch and took them as the left hand's."""
    events = [e for beat in range(5) for e in keys((48, 53, 57, 60), float(beat), 0.5)]
    run = (72, 71, 69, 67, 65, 64, 62, 60, 59)
    events += [e for k, p in enumerate(run[:-1]) for e in keys((p,), 0.25 + 0.5 * k, 0.4)]
    assert not strike_and_ask(events, 59, 0.25 + 0.5 * 8)
    assert strike_and_ask(events, 48, 5.0)  # and the next chord's first key, on its beat, is the left hand's
    # even one a step from the line's last note: the left hand's voicing was due (on every
    # beat), and a chord's first key is struck alone
    assert strike_and_ask(events + keys((59,), 4.25, 0.4), 57, 5.0)



def on_2_and_4(bars, top=(48, 52, 55, 60)):
    """The left hand's chord on beats 2 and 4 of `bars`, half a beat long."""
    return [e for bar in bars for at in (1.0, 3.0) for e in keys(top, bar * 4.0 + at, 0.5)]


def eighths(start, pitches, length=0.4):
    return [e for k, p in enumerate(pitches) for e in keys((p,), start + 0.5 * k, length)]


# a bar of eighths over the chords on 2 and 4; the line rests from 3.9 to 8.0, both hands from 3.9 to 5.0
PHRASE_A = eighths(0.0, (67, 69, 71, 72, 74, 72, 71, 69))


def test_comping_on_2_and_4_goes_on_under_the_line_across_the_gap_both_hands_rest():
    """Chords on 2 and 4 under phrases: after a phrase's last release both hands rest the
    gap (the chord on 4 lifted at 3.5, the next on 2 at 5.0), so the gap cuts the call, and
    the split it heard was forgotten: the next chords were not known as the left hand's
    (the partner yielded to them), and began the next call, answered for two bars where
    the line played one. The left hand keeps its pace: its chords are still under the line."""
    events = [("tick", q / 8) for q in range(8 * 16)] + on_2_and_4(range(4)) + PHRASE_A
    events += eighths(8.0, (72, 71, 69, 67, 69, 71, 72, 74))  # 8.0 to 11.9
    assert strike_and_ask(events, 48, 5.0)
    assert strike_and_ask(events, 55, 5.004)  # (the chord's keys reach us a few ms apart)
    assert strike_and_ask(events, 52, 7.0)
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("gap", 3.9), ("gap", 11.9)]
    assert calls[1].bars == 1  # from the line's first note, as after a line's rest
    assert strike_and_ask(events, 52, 13.0)


def test_a_phrase_ending_under_the_chord_on_4_ends_at_the_lines_release():
    """The line's last note (11.2 to 11.3) is struck under the chord on 4 (11.0 to 11.5),
    and both hands rest to the next chord on 2 (13.0): the gap cut the call at the chord's
    release, not at the line's, and answered later than the line's rest asks."""
    events = [("tick", q / 8) for q in range(8 * 16)] + on_2_and_4(range(4)) + PHRASE_A
    events += eighths(8.0, (72, 71, 69, 67, 69)) + keys((67,), 11.2, 0.1)
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("gap", 3.9), ("line", 11.3)]
    assert calls[1].detected == 12.375  # (the first tick past the gap)


def test_the_left_hand_that_stops_comping_is_forgotten():
    """After the chord on 4 (11.0) nothing comes: by its next one overdue (half its pace
    late) with every key up, the vamp is over and a key in its register is the line's."""
    events = on_2_and_4(range(3)) + PHRASE_A + eighths(8.0, (72, 71, 69, 67)) + [("tick", q / 8) for q in range(8 * 16)]
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    feed(seg, [e for e in events if e[-1] <= 13.5])
    assert seg.line.split is not None  # (the chord on 2 may still come)
    feed(seg, [e for e in events if 13.5 < e[-1] <= 14.5])
    assert seg.line.split is None
    assert not strike_and_ask(events, 55, 15.0)


def test_a_line_down_in_the_left_hands_register_after_the_gap_makes_the_partner_yield():
    """Both hands rest after the chord on 4; the player goes on with a line alone in the
    left hand's register (keys struck alone, no voicing): by its third key the carried
    split is forgotten and the line's keys are the line's."""
    events = on_2_and_4(range(3)) + PHRASE_A + eighths(8.0, (72, 71, 69, 67)) + [("tick", q / 8) for q in range(8 * 13)]
    low = eighths(12.75, (55, 57, 59, 60, 62))
    assert not strike_and_ask(events + low, 59, 13.75)
    assert not strike_and_ask(events + low, 60, 14.25)


def test_a_line_note_struck_just_after_the_chord_is_not_its_rolled_top():
    """Chords struck on every beat (a block, top C4) under a line; the line's F4 comes
    0.12 beat after the chord on 2 (within a roll's reach of it) and is held 1.5 beats:
    it was read as the chord rolled up to its top, the line "rested" from the note before,
    and the call was cut while the F4 sounded (and the partner did not yield to it). A
    block chord is not rolled: the key over it a moment later is the right hand's."""
    events = [e for beat in range(5) for e in keys((48, 53, 57, 60), float(beat), 0.5)]
    events += keys((72,), 0.0, 0.4) + keys((71,), 0.5, 0.4) + keys((65,), 1.12, 1.5) + keys((72,), 2.75, 0.4)
    events += [("tick", q / 8) for q in range(8 * 8)]
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("line", 3.15)]
    assert not strike_and_ask(events, 65, 1.12)


def ostinato(bars, bass=(36, 43)):
    """The left hand's bass, one note a beat by turns (0.8 beats long), over `bars`."""
    return [e for beat in range(bars * 4) for e in keys((bass[beat % len(bass)],), float(beat), 0.8)]


# bars 1 and 3 of line (eighths on 1 and 3 and their "and"s, struck with the C2s, and on the
# "and" of 2 and 4: never struck with a G2), resting in bars 2 and 4 (from 3.9 and 11.9): the
# G2s on 2 and 4 are struck alone, with nothing sounding over them
OSTINATO_LINE = [e for bar in (0, 2) for at, p in ((0.0, 67), (0.5, 69), (1.5, 71), (2.0, 72), (2.5, 71), (3.5, 69))
                 for e in keys((p,), bar * 4.0 + at, 0.4)]


def test_an_ostinatos_note_over_those_struck_with_the_line_is_the_left_hands():
    """A C2-G2 ostinato under a line struck only with its C2s: a G2 struck alone (nothing
    over it) was read as the line, and as the line's lowest note, so the next G2s were
    over the accompaniment's register (the partner yielded to the bass); the G2s in the
    line's rest held it open (its rests were not answered). The left hand's single bass
    notes, a step over those heard under the line and far under it, are its own."""
    events = ostinato(5) + OSTINATO_LINE + [("tick", q / 8) for q in range(8 * 21)]
    assert strike_and_ask(events, 43, 3.0)
    assert strike_and_ask(events, 43, 5.0)  # in the line's rest
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("line", 3.9), ("line", 11.9)]


def test_a_line_diving_low_over_an_ostinato_is_still_the_line():
    """Over the same ostinato the line leaps down (to F3 and G3, an octave over the G2)
    from each bar's last note: those notes stay the line's, and the line's rest still ends
    the call at their release."""
    events = ostinato(5) + [e for e in OSTINATO_LINE if e[-1] not in (3.5, 3.9, 11.5, 11.9)]
    events += keys((53,), 3.5, 0.4) + keys((55,), 11.5, 0.4) + [("tick", q / 8) for q in range(8 * 21)]
    assert not strike_and_ask(events, 53, 3.5)
    assert not strike_and_ask(events, 55, 11.5)
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("line", 3.9), ("line", 11.9)]
