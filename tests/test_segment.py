"""Phrase segmentation, fed readable event tuples; no clocks, no sleeping."""

import pytest

from improv.core.listen.segment import Segmenter, SegmentSettings, whole_bars


def feed(seg, events):
    """Events: ("on", pitch, beat[, vel]), ("off", pitch, beat), ("cc", num, value, beat),
    ("tick", beat). Returns the calls completed, in order."""
    calls = []
    for ev in events:
        kind = ev[0]
        if kind == "on":
            c = seg.note_on(ev[1], ev[2], ev[3] if len(ev) > 3 else 80)
        elif kind == "off":
            c = seg.note_off(ev[1], ev[2])
        elif kind == "cc":
            c = seg.control(ev[1], ev[2], ev[3])
        else:
            c = seg.tick(ev[1])
        if c is not None:
            calls.append(c)
    return calls


def notes_of(call):
    return [(n.pitch, round(n.start, 6), round(n.duration, 6)) for n in call.phrase.notes]


def test_gap_ends_call_with_relative_notes_and_answer_on_next_beat():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    calls = feed(seg, [("on", 60, 0.5), ("off", 60, 1.0), ("on", 64, 1.0), ("off", 64, 2.25),
                       ("tick", 3.0), ("tick", 3.25)])
    assert len(calls) == 1
    c = calls[0]
    assert c.phrase.start == 0.5
    assert notes_of(c) == [(60, 0.0, 0.5), (64, 0.5, 1.25)]
    assert c.reason == "gap" and c.ended == 2.25 and c.detected == 3.25
    assert c.answer_start == 4.0  # next beat after 3.25 (+ lead)
    assert c.answer_length == 4.0 and c.bars == 1


def test_no_call_before_the_gap_has_passed():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    assert feed(seg, [("on", 60, 0.0), ("off", 60, 1.0), ("tick", 1.9)]) == []
    assert seg.in_call


def test_answer_on_bar_and_length_rounds_up_to_whole_bars():
    seg = Segmenter(SegmentSettings(gap_beats=1.0, answer_on="bar"))
    calls = feed(seg, [("on", 60, 0.0), ("off", 60, 5.0), ("tick", 6.5)])
    assert calls[0].answer_start == 8.0
    assert calls[0].answer_length == 8.0 and calls[0].bars == 2


def test_answer_bars_overrides_and_max_answer_caps():
    over = Segmenter(SegmentSettings(answer_bars=3))
    assert feed(over, [("on", 60, 0.0), ("off", 60, 1.0), ("tick", 2.0)])[0].answer_length == 12.0
    capped = Segmenter(SegmentSettings(max_answer_bars=2, max_call_bars=8))
    c = feed(capped, [("on", 60, 0.0), ("off", 60, 15.0), ("tick", 16.0)])[0]
    assert c.bars == 4 and c.answer_length == 8.0


def test_lead_keeps_the_answer_off_the_detection_instant():
    seg = Segmenter(SegmentSettings(gap_beats=1.0, lead_beats=0.1))
    c = feed(seg, [("on", 60, 0.0), ("off", 60, 3.0), ("tick", 4.0)])[0]
    assert c.detected == 4.0 and c.answer_start == 5.0


def test_sustain_pedal_counts_as_held():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    calls = feed(seg, [("cc", 64, 127, 0.0), ("on", 60, 0.0), ("off", 60, 0.5), ("tick", 3.0)])
    assert calls == []
    calls = feed(seg, [("cc", 64, 0, 3.0), ("tick", 3.9)])
    assert calls == []
    calls = feed(seg, [("tick", 4.0)])
    assert len(calls) == 1 and calls[0].ended == 3.0
    assert notes_of(calls[0]) == [(60, 0.0, 0.5)]  # the note keeps its key length


def test_a_reset_all_controllers_lifts_the_pedal():
    """Reset All Controllers (CC 121, from a keyboard's reset or panic button) puts the
    sustain pedal up: the call ended only at the next pedal press, or at the 8-bar cap."""
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    assert feed(seg, [("cc", 64, 127, 0.0), ("on", 60, 0.0), ("off", 60, 0.5), ("tick", 3.0)]) == []
    calls = feed(seg, [("cc", 121, 0, 3.0), ("tick", 4.0)])
    assert len(calls) == 1 and calls[0].ended == 3.0


@pytest.mark.parametrize("down, up", [(64, 63), (127, 0)])
def test_the_pedal_is_down_from_64(down, up):
    """MIDI reads a switch controller's 64 and above as on: a pedal at 64 holds the call
    (a half-pedalling player's 64 is a pedal down), 63 lets it go."""
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    assert feed(seg, [("on", 60, 0.0), ("off", 60, 0.5), ("cc", 64, down, 0.6), ("tick", 3.0)]) == []
    calls = feed(seg, [("cc", 64, up, 3.0), ("tick", 4.0)])
    assert len(calls) == 1 and calls[0].ended == 3.0


def test_a_pedal_held_after_the_phrase_is_not_more_bars_of_it():
    """A 2-bar phrase with the pedal held 3 bars more was answered for 5 bars: the answer
    is as long as what was played, to the last key's release (tester playing live)."""
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    events = [("cc", 64, 127, 0.0)] + [e for k in range(8) for e in (("on", 60 + k, k), ("off", 60 + k, k + 0.9))]
    assert feed(seg, events + [("tick", 19.0)]) == []  # the pedal still down: the call goes on
    (c,) = feed(seg, [("cc", 64, 0, 19.5), ("tick", 20.6)])
    assert c.ended == 19.5 and c.bars == 2 and c.answer_length == 8.0


def test_a_call_cut_at_its_longest_says_whether_the_pedal_held_a_rest_open():
    """`cut_by_pedal`: what the jam's hint names as why the call ran to its cap. A rest of the
    gap with no key down, held by the pedal (before the cap, or running at it), is the pedal's;
    a line played on with the pedal pressed only as the cap came is not."""
    cap = 8 * 4.0
    line = [e for k in range(40) for e in (("on", 60 + k % 5, k * 0.9), ("off", 60 + k % 5, k * 0.9 + 0.8))]
    rested = [e for k in range(8) for e in (("on", 60 + k, 4.0 * k), ("off", 60 + k, 4.0 * k + 1.0))]
    for events, pedalled in [
        (line + [("cc", 64, 127, cap - 1.0), ("cc", 64, 0, cap + 0.5)], False),  # touched at the cap
        ([("cc", 64, 127, 0.0)] + rested + [("cc", 64, 0, cap + 4.0)], True),  # held through 3-beat rests
        ([("cc", 64, 127, 0.0)] + line[:40] + [("cc", 64, 0, cap + 4.0)], True),  # rest under it at the cap
    ]:
        seg = Segmenter(SegmentSettings(gap_beats=1.0))
        calls = [c for c in feed(seg, sorted(events, key=lambda e: e[-1]) + [("tick", cap + 6.0)])
                 if c.reason == "max"]
        assert len(calls) == 1 and seg.cut_by_pedal is pedalled, (calls, pedalled)
    seg = Segmenter(SegmentSettings(gap_beats=1.0))  # a call ended by its rest: no cap, nothing to blame
    feed(seg, [("on", 60, 0.0), ("off", 60, 0.5), ("tick", 2.0)])
    assert not seg.cut_by_pedal


def test_end_of_call_cc_cuts_at_once_and_closes_held_notes():
    seg = Segmenter(SegmentSettings(end_cc=20))
    calls = feed(seg, [("on", 60, 0.0), ("on", 64, 1.0), ("off", 60, 1.5), ("cc", 20, 127, 2.0)])
    assert len(calls) == 1
    c = calls[0]
    assert c.reason == "cc" and c.ended == 2.0
    assert notes_of(c) == [(60, 0.0, 1.5), (64, 1.0, 1.0)]
    # the release of the note held across the cut starts nothing new
    assert feed(seg, [("off", 64, 2.5), ("tick", 10.0)]) == []


def test_other_cc_or_low_value_does_not_end_the_call():
    seg = Segmenter(SegmentSettings(end_cc=20))
    assert feed(seg, [("on", 60, 0.0), ("cc", 20, 10, 0.5), ("cc", 1, 127, 0.6)]) == []


def test_max_call_bars_forces_a_cut_with_held_notes_ending_there():
    seg = Segmenter(SegmentSettings(max_call_bars=1, gap_beats=1.0))
    calls = feed(seg, [("on", 60, 1.0), ("on", 67, 3.0), ("tick", 4.9), ("tick", 5.0)])
    assert len(calls) == 1
    c = calls[0]
    assert c.reason == "max" and c.ended == 5.0
    assert notes_of(c) == [(60, 0.0, 4.0), (67, 2.0, 2.0)]
    assert c.answer_start == 6.0 and c.answer_length == 4.0


def test_a_note_after_a_cut_starts_the_next_call():
    seg = Segmenter(SegmentSettings(gap_beats=0.5))
    calls = feed(seg, [("on", 60, 0.0), ("off", 60, 1.0), ("tick", 1.5),
                       ("on", 62, 4.0), ("off", 62, 4.5), ("tick", 5.0)])
    assert [c.phrase.start for c in calls] == [0.0, 4.0]
    assert notes_of(calls[1]) == [(62, 0.0, 0.5)]


def test_event_arriving_after_the_gap_closes_the_previous_call_first():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    calls = feed(seg, [("on", 60, 0.0), ("off", 60, 1.0), ("on", 62, 3.0)])
    assert len(calls) == 1 and notes_of(calls[0]) == [(60, 0.0, 1.0)]
    assert seg.in_call


def test_velocity_zero_is_a_release_and_restrike_closes_the_old_note():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    calls = feed(seg, [("on", 60, 0.0), ("on", 60, 0.5), ("on", 60, 1.0, 0), ("tick", 2.0)])
    assert notes_of(calls[0]) == [(60, 0.0, 0.5), (60, 0.5, 0.5)]


def test_a_flood_is_capped_and_counted():
    seg = Segmenter(SegmentSettings(max_call_notes=10, gap_beats=1.0))
    events = []
    for i in range(50):
        events += [("on", 40 + i % 40, i * 0.01), ("off", 40 + i % 40, i * 0.01 + 0.005)]
    calls = feed(seg, events + [("tick", 3.0)])
    assert len(calls[0].phrase.notes) == 10 and seg.dropped == 40


def test_pedal_alone_is_not_a_call():
    seg = Segmenter(SegmentSettings())
    assert feed(seg, [("cc", 64, 127, 0.0), ("cc", 64, 0, 1.0), ("tick", 9.0)]) == []


def test_whole_bars():
    assert [whole_bars(x, 4) for x in (0.0, 0.5, 4.0, 4.01, 8.0)] == [1, 1, 1, 2, 2]


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError):
        SegmentSettings(answer_on="later")


@pytest.mark.parametrize("cc", [123, 120, 124, 125, 126, 127])
def test_the_players_all_notes_off_releases_every_key(cc):
    """All notes off, all sound off and the other channel mode messages (omni off/on,
    mono/poly: MIDI lets every key go at each) end the held keys: with 124-127 a call
    stayed open until the 8-bar cap."""
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    seg.note_on(60, 0.0)
    seg.note_on(64, 0.5)
    assert seg.control(cc, 0, 1.0) is None
    call = seg.tick(2.0)  # a beat after the all-notes-off: the call is over
    assert call is not None and [(n.pitch, n.duration) for n in call.phrase.notes] == [(60, 1.0), (64, 0.5)]


def test_the_call_so_far_is_the_opening_of_the_call_as_it_will_be_cut():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    assert seg.call_so_far() is None
    feed(seg, [("on", 60, 0.5), ("on", 64, 0.75), ("off", 64, 1.0)])
    assert seg.call_so_far() is None  # 64 is over, but 60 began before it and is still held
    feed(seg, [("off", 60, 1.25), ("on", 67, 1.5), ("on", 72, 1.5), ("off", 67, 2.0)])
    so_far = seg.call_so_far()
    assert so_far.start == 0.5 and so_far.pitches() == [60, 64]  # 67 waits for 72, struck with it
    feed(seg, [("off", 72, 2.5)])
    so_far = seg.call_so_far()
    call = feed(seg, [("tick", 4.0)])[0]
    assert so_far.notes == call.phrase.notes and so_far.start == call.phrase.start  # all of it, read ahead
    assert seg.call_so_far() is None  # the call was cut: nothing under way


def test_on_a_timeline_that_follows_the_player_the_gap_is_in_their_beats():
    # The session feeds the segmenter timeline beats. Following a player at 80 bpm (the
    # timeline starts at 120), once the follower has their tempo (a bar of eighths) a rest of
    # 0.75 of their beats (0.56 s, 1.1 beats at 120) does not end the call; a rest of a beat
    # and a half does, and the answer starts on one of their beats. (Before it has their
    # tempo, the first rests are measured at its first guess: see the integration notes.)
    from improv.core.listen.tempo import TempoFollower
    from improv.core.listen.timeline import PlayerTimeline

    period = 0.75  # 80 bpm
    tl = PlayerTimeline(0.0, 120.0)
    follower = TempoFollower()
    seg = Segmenter(SegmentSettings(gap_beats=1.0, lead_beats=0.1))
    calls = []

    def play(pitch, start, length):
        on, off = 1.0 + start * period, 1.0 + (start + length) * period
        follower.add(on, 80)
        est = follower.estimate(on)
        tl.follow(est, on)  # re-anchored from the first notes on: the default tempo would cut the call
        for c in (seg.note_on(pitch, tl.beat_at(on)), seg.tick(tl.beat_at(off)), seg.note_off(pitch, tl.beat_at(off))):
            if c is not None:
                calls.append(c)

    for x in range(8):  # a bar of swung eighths
        play(60 + x, x // 2 + 0.62 * (x % 2), 0.3)
    beat = 4.0
    for bar in range(3):  # swung eighths, with a 0.75-beat rest in the middle of every bar
        for x, d in ((0.0, 0.55), (0.62, 0.3), (1.0, 0.55), (1.62, 0.28)):
            play(60 + int(x * 2), beat + x, d)
        for x, d in ((2.65, 0.3), (3.0, 0.55), (3.62, 0.3)):
            play(64, beat + x, d)
        beat += 4.0
    assert calls == []  # 4 bars of playing with 0.75-beat rests: one call still going
    end = 1.0 + (beat - 4.0 + 3.92) * period
    t_check = end + 1.5 * period
    call = seg.tick(tl.beat_at(t_check))
    assert call is not None and call.reason == "gap"
    assert tl.tempo == pytest.approx(80.0, rel=0.03)
    start_s = tl.time_of(call.answer_start)
    k = (start_s - 1.0) / period  # on one of the player's beats (the follower's beat is a little early)
    assert abs(k - round(k)) <= 0.1


def test_a_key_whose_release_was_lost_holds_no_call_past_the_first_cap():
    # the key 48 goes down with the call and its note-off never comes (a keyboard unplugged
    # mid-note): the call is cut at the cap, and from then on the player's gaps end calls again
    seg = Segmenter(SegmentSettings(max_call_bars=2, gap_beats=1.0))
    calls = feed(seg, [("on", 48, 0.0), ("on", 60, 1.0), ("off", 60, 2.0), ("tick", 8.0),
                       ("on", 62, 9.0), ("off", 62, 10.0), ("tick", 11.0)])
    assert [c.reason for c in calls] == ["max", "gap"]
    assert calls[1].phrase.start == 9.0 and notes_of(calls[1]) == [(62, 0.0, 1.0)]
    assert 48 not in seg.held




def vamp_and_line(line_bars, bars, chord=(48, 53, 57, 60), bass=None):
    """A left hand on every beat of `bars` bars (the `chord` for half a beat, or single `bass`
    notes by turns), and the right hand's eighths (0.4 beats, from G4 up) in `line_bars`;
    ticks every quarter beat to 2 bars past the end. Events in time order."""
    events = []
    for beat in range(bars * 4):
        keys = chord if bass is None else (bass[beat % len(bass)],)
        events += [(beat, 0, "on", p) for p in keys] + [(beat + 0.5, 1, "off", p) for p in keys]
    for bar in line_bars:
        for k in range(8):
            p = (67, 69, 71, 72, 74, 72, 71, 69)[k]
            events += [(bar * 4 + k * 0.5, 0, "on", p), (bar * 4 + k * 0.5 + 0.4, 1, "off", p)]
    events += [(q / 4, 2, "tick", None) for q in range((max(bars, *line_bars, 0) + 2) * 16)]
    events.sort(key=lambda e: (e[0], e[1]))
    return [(kind, beat) if kind == "tick" else (kind, p, beat) for beat, _, kind, p in events]


def test_a_left_hand_vamp_under_right_hand_phrases_is_answered_in_each_rest_of_the_line():
    """Comping on every beat under a bar of line, a bar's rest, two bars of line, two bars'
    rest: no key was ever up for the gap, so the call went on to its 8-bar cap, the rests
    unanswered. The line's rest ends the call at its last release; the chords struck in it
    begin the next call (voicings it is heard over), and the comping alone at the end is no call."""
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    calls = feed(seg, vamp_and_line([0, 2, 3], 6))
    assert [c.reason for c in calls] == ["line", "line"]
    first, second = calls
    assert first.phrase.start == 0.0 and first.ended == pytest.approx(3.9) and first.detected == pytest.approx(5.0)
    assert first.answer_start == 6.0 and first.bars == 1 and first.answer_length == 4.0
    assert len(first.phrase) == 8 + 4 * 4  # the line and the chords of beats 1-4, none struck in its rest
    assert second.phrase.start == 4.0 and second.ended == pytest.approx(15.9)
    assert len(second.phrase) == 16 + 12 * 4  # the chords from the first rest on, and the line
    assert second.bars == 2 and second.answer_length == 8.0  # the bars of its line, not of the comping before it
    assert not seg.in_call  # the comping after the line, stopped: not answered


def test_a_low_ostinato_under_the_line_is_accompaniment():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    calls = feed(seg, vamp_and_line([0, 2], 4, bass=(38, 45)))
    assert [c.reason for c in calls] == ["line", "line"]
    assert calls[0].ended == pytest.approx(3.9) and calls[1].ended == pytest.approx(11.9)


def test_with_vamp_all_only_a_rest_of_every_key_ends_a_call():
    seg = Segmenter(SegmentSettings(gap_beats=1.0, vamp="all"))
    calls = feed(seg, vamp_and_line([0, 2], 9))
    assert [(c.reason, c.ended) for c in calls] == [("max", 31.5), ("gap", 35.5)]


def test_chords_alone_or_a_line_alone_are_cut_as_before():
    chords = Segmenter(SegmentSettings(gap_beats=1.0))
    assert [(c.reason, c.ended) for c in feed(chords, vamp_and_line([], 9))] == [("max", 31.5), ("gap", 35.5)]
    line = Segmenter(SegmentSettings(gap_beats=1.0))  # its eighths' own rests are shorter than the gap
    assert [(c.reason, round(c.ended, 6)) for c in feed(line, vamp_and_line([0, 1, 3], 0))] \
        == [("gap", 7.9), ("gap", 15.9)]


def test_a_line_held_by_the_sustain_pedal_rests_when_the_pedal_comes_up():
    seg = Segmenter(SegmentSettings(gap_beats=1.0))
    events = vamp_and_line([0, 2], 4)
    k = events.index(("tick", 3.0))
    events[k:k] = [("cc", 64, 127, 3.0)]
    k = events.index(("tick", 4.75))
    events[k:k] = [("cc", 64, 0, 4.75)]
    calls = feed(seg, events)
    assert [c.reason for c in calls] == ["line", "line"]
    assert calls[0].ended == 4.75 and calls[0].detected == 5.75


def test_a_single_line_overlapping_itself_is_cut_as_before():
    """A horn's legato line: its C held half a beat into the G over it, then down to A3 and G3.
    The C read as a voicing's under the G, and the line's low notes as the accompaniment's: the
    call was cut at the G's release, in the middle of the phrase (13 of 38 WJazzD solos)."""
    line = [(60, 0.0, 1.0), (67, 0.5, 0.4), (72, 1.0, 0.4), (71, 1.5, 0.4), (69, 2.0, 0.4), (67, 2.5, 0.4),
            (57, 3.0, 0.4), (55, 3.5, 0.4), (57, 4.0, 0.4), (53, 4.5, 0.4)]
    events = sorted([(on, 1, "on", p) for p, on, _ in line] + [(on + d, 0, "off", p) for p, on, d in line]
                    + [(q / 4, 2, "tick", None) for q in range(40)])
    events = [(k, b) if k == "tick" else (k, p, b) for b, _, k, p in events]
    assert [(c.reason, c.ended) for c in feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)] \
        == [(c.reason, c.ended) for c in feed(Segmenter(SegmentSettings(gap_beats=1.0, vamp="all")), events)] \
        == [("gap", 4.9)]


def test_a_fast_line_whose_notes_touch_is_cut_as_before():
    """A tenor's sixteenths at 118 bpm as recorded (WJazzD, Chris Potter's Arjuna): two notes
    0.09 beats apart (struck together, by `CHORD_SPREAD`), the second held a hair into the
    next. A held key counted as sounding on for the gap, so the pair read as a voicing under
    the line, and the call was cut mid-phrase at the line's rest (22 of 317 solos)."""
    line = [(68, 0.0, 0.068), (71, 0.087, 0.157), (73, 0.243, 0.156), (68, 0.517, 0.148), (71, 0.747, 0.082),
            (66, 0.845, 0.116), (64, 0.991, 0.128), (68, 1.29, 0.086), (66, 1.468, 0.16), (61, 1.775, 0.091),
            (66, 1.886, 0.099), (63, 2.017, 0.123), (59, 2.293, 0.2)]
    events = sorted([(on, 1, "on", p) for p, on, _ in line] + [(on + d, 0, "off", p) for p, on, d in line]
                    + [(q / 8, 2, "tick", None) for q in range(40)])
    events = [(k, b) if k == "tick" else (k, p, b) for b, _, k, p in events]
    assert [(c.reason, round(c.ended, 6)) for c in feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)] \
        == [(c.reason, round(c.ended, 6)) for c in feed(Segmenter(SegmentSettings(gap_beats=1.0, vamp="all")), events)] \
        == [("gap", 2.493)]


def test_a_line_that_comes_down_towards_the_left_hand_is_still_the_line():
    """Comping (top C4) under a bar of line around G5, then a bar of E4s and F4s: an octave
    under the line's lowest note so far read as the comping's register, and the call was cut
    in the middle of the line's second bar; with the line within 5 semitones of the comping's
    top, that top was read as the line's once the line rested, and the comping alone after
    the line was answered."""
    events = vamp_and_line([], 4)
    line = [(79, 81, 83, 84, 83, 81, 79, 77)[k] if k < 8 else (64, 65)[k % 2] for k in range(16)]
    events += [("on", p, k * 0.5) for k, p in enumerate(line)] + [("off", p, k * 0.5 + 0.4) for k, p in enumerate(line)]
    order = {"off": 0, "on": 1, "tick": 2}
    events.sort(key=lambda e: (e[-1], order[e[0]]))
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("line", 7.9)]


def test_the_comping_alone_after_the_line_is_no_call_when_its_voicings_move_up():
    """After the line, the comping moves from a voicing topped by C4 to one topped by D4: a top
    over the register heard read as a line note, and the comping alone was answered."""
    events = [e for e in vamp_and_line([0], 2) if e[0] != "tick" or e[1] < 8.0]
    for kind, *rest in vamp_and_line([], 2, chord=(50, 55, 59, 62)):
        events.append((kind, rest[0] + 8.0) if kind == "tick" else (kind, rest[0], rest[1] + 8.0))
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("line", 3.9)]


def test_a_line_that_runs_down_into_the_left_hands_register_is_still_the_line():
    """Comping (top C4) on every beat under a bar of line around G4, then the line runs on
    down in eighths to G3 and back (a pianist's right hand below the left hand's top note):
    every key at or under the comping's top was read as the left hand's, so the line 'rested'
    in the middle of its run and the call was cut there, the answer coming in over the run
    (and the run's notes did not make it yield). The line ends at its last release."""
    run = [65, 64, 62, 60, 59, 57, 55, 57, 59, 60, 59, 57, 55, 57, 59, 60]  # bars 2 and 3, eighths
    events = vamp_and_line([0], 6)
    events += [("on", p, 4 + k * 0.5) for k, p in enumerate(run)] + [("off", p, 4 + k * 0.5 + 0.4) for k, p in enumerate(run)]
    order = {"off": 0, "on": 1, "tick": 2}
    events.sort(key=lambda e: (e[-1], order[e[0]]))
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("line", 11.9)]
    assert calls[0].bars == 3


def test_a_line_that_runs_down_under_a_held_left_hand_chord_is_still_the_line():
    """The same with the left hand's chord (top C4) held two beats: the run's notes under its
    top while it sounds were read as its voicing's."""
    events = [("tick", q / 4) for q in range(4 * 28)]
    for beat in range(0, 24, 2):
        events += [("on", p, beat) for p in (48, 53, 57, 60)] + [("off", p, beat + 1.9) for p in (48, 53, 57, 60)]
    line = [67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64, 62, 59, 56, 55, 56, 59, 62, 59, 56, 55, 56, 59, 62]
    events += [("on", p, 0.5 + k * 0.5) for k, p in enumerate(line)]
    events += [("off", p, 0.5 + k * 0.5 + 0.4) for k, p in enumerate(line)]
    order = {"off": 0, "on": 1, "tick": 2}
    events.sort(key=lambda e: (e[-1], order[e[0]]))
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, round(c.ended, 6)) for c in calls] == [("line", 12.4)]


def test_a_ballad_pedalled_legato_is_answered_when_the_line_rests_the_gap_after_the_pedal_change():
    """A pianist's ballad: the left hand's chord on each bar's downbeat and the pedal changed
    just after it (up 0.05 beats later, down again at 0.15), the line in bars 1 and 2. The
    line rests from the pedal change at beat 8.05, but the chord struck then came 0.05 beats
    before it, so no accompaniment counted as struck in the rest until the next bar's chord:
    the call was cut at beat 12, the answer three beats late (3 s at 60 bpm). The chord struck
    after the line's last key came up counts."""
    events = []
    for bar in range(6):
        c = bar * 4.0
        events += [("on", p, c) for p in (48, 52, 55, 59)] + [("off", p, c + 0.6) for p in (48, 52, 55, 59)]
        events += ([("cc", 64, 0, c + 0.05)] if bar else []) + [("cc", 64, 127, c + 0.15)]
    line = [(0.5, 72, 1.0), (1.5, 71, 0.5), (2, 69, 1.0), (3, 67, 1.0), (4.5, 69, 1.0), (5.5, 71, 0.5), (6, 72, 1.5)]
    events += [("on", p, b) for b, p, _ in line] + [("off", p, b + d) for b, p, d in line]
    events += [("tick", q / 8) for q in range(8 * 24)]
    order = {"off": 0, "cc": 1, "on": 2, "tick": 3}
    events.sort(key=lambda e: (e[-1], order[e[0]]))
    calls = feed(Segmenter(SegmentSettings(gap_beats=1.0)), events)
    assert [(c.reason, c.ended, c.detected, c.answer_start) for c in calls] == [("line", 8.05, 9.125, 10.0)]  # (noticed at the first tick past 9.05)
