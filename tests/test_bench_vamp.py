"""The vamp bench's own reckoning (`improv.bench.vamp`), on hand-made keys."""

from improv.bench.vamp import Key, judge, one_key_each, play, rests
from improv.core.listen.segment import SegmentSettings


def line(*notes):
    return [Key(s, p, s + d, True) for s, p, d in notes]


def test_rests_are_the_lines_gaps_of_the_gap_or_more_and_its_end():
    ln = line((0.0, 67, 0.4), (0.5, 69, 0.4), (2.0, 71, 0.4), (2.5, 72, 1.0))
    assert [round(e, 6) for e, _ in rests(ln, 1.0)] == [0.9, 3.5]
    assert [round(e, 6) for e, _ in rests(ln, 0.5)] == [0.9, 3.5]
    assert [round(e, 6) for e, _ in rests(ln, 2.0)] == [3.5]


def test_a_key_goes_down_once_and_the_right_hand_keeps_its_key():
    keys = [Key(0.0, 60, 2.1, False), Key(2.0, 60, 4.0, False), Key(1.0, 55, 1.5, False), Key(1.2, 55, 1.4, True)]
    out = one_key_each(keys)
    assert [(k.start, k.pitch, round(k.end, 6), k.line) for k in out] == [(0.0, 60, 1.99, False), (1.2, 55, 1.4, True),
                                                                          (2.0, 60, 4.0, False)]


def test_a_line_over_held_chords_is_judged_against_its_rests():
    chords = [Key(b * 4.0, p, b * 4.0 + 3.9, False) for b in range(4) for p in (48, 52, 55, 60)]
    ln = line(*[(b * 4.0 + 3.5 + 0.5 * k, (67, 69, 71, 72)[k], 0.4) for b in range(3) for k in range(4)])
    keys = one_key_each(chords + ln)
    calls, acc = play(keys, SegmentSettings(gap_beats=1.0))
    got = judge(ln, calls, 1.0)
    assert got["rests"] == 3 and got["caught"] == 3  # (held through each rest: `LineTracker.rested`)
    assert got["wrong_cuts"] == 0 and got["notes_split"] == 0
    assert acc["line_as_acc"] == 0 and acc["dips"] == 0
    lone, _ = play(ln, SegmentSettings(gap_beats=1.0))  # the line alone: the gap cuts it at each rest
    assert judge(ln, lone, 1.0)["caught"] == 3
