"""The player-following timeline: continuous, increasing, re-anchored without jumping back."""

import pytest

from improv.core.listen.tempo import BeatEstimate
from improv.core.listen.timeline import MAX_SEGMENTS, PlayerTimeline


def increasing(tl, start, end, step=0.005):
    prev = tl.beat_at(start)
    t = start + step
    while t <= end:
        b = tl.beat_at(t)
        if not prev < b <= prev + step * 10:  # no jump: at most 600 bpm between two samples
            return False
        prev, t = b, t + step
    return True


def test_a_fresh_timeline_is_a_line_and_round_trips():
    tl = PlayerTimeline(2.0, 120.0)
    assert tl.beat_at(2.0) == 0.0 and tl.beat_at(3.0) == 2.0 and tl.time_of(4.0) == 4.0
    assert tl.beat_at(1.0) == -2.0  # before beat 0 it goes on backwards
    for b in (-1.5, 0.0, 3.25, 17.0):
        assert tl.beat_at(tl.time_of(b)) == pytest.approx(b)
    assert tl.tempo == 120.0


def test_follow_keeps_now_and_the_past_and_lands_on_the_players_beats():
    tl = PlayerTimeline(0.0, 120.0, horizon=2.0)
    past = [tl.beat_at(t) for t in (0.5, 1.7, 3.9)]
    now = 4.0  # timeline beat 8.0
    player = BeatEstimate(150.0, 3.9, 0.8)  # their beats at 3.9 + k * 0.4
    ahead = tl.follow(player, now)
    assert tl.beat_at(now) == pytest.approx(8.0)
    assert [tl.beat_at(t) for t in (0.5, 1.7, 3.9)] == past
    assert ahead == pytest.approx(-0.25)  # 4.0 is a quarter beat past their beat at 3.9: the timeline is behind
    # after the horizon its whole beats fall on the player's beats, at their tempo
    t_whole = tl.time_of(11.0)
    assert t_whole > now + 2 * 0.4 - 1e-9
    k = (t_whole - 3.9) / 0.4
    assert k == pytest.approx(round(k), abs=1e-9)
    assert tl.time_of(12.0) - tl.time_of(11.0) == pytest.approx(0.4)
    assert tl.tempo == pytest.approx(150.0)
    assert increasing(tl, 0.0, 10.0)
    for b in (2.0, 8.0, 8.3, 9.9, 11.0, 20.0):
        assert tl.beat_at(tl.time_of(b)) == pytest.approx(b)


def test_a_new_estimate_replaces_the_planned_correction_without_jumping():
    tl = PlayerTimeline(0.0, 120.0, horizon=4.0)
    tl.follow(BeatEstimate(100.0, 0.1, 0.5), 1.0)
    mid = 1.5  # inside the correction
    before = tl.beat_at(mid)
    tl.follow(BeatEstimate(110.0, 1.3, 0.6), mid)
    assert tl.beat_at(mid) == pytest.approx(before)
    assert increasing(tl, 0.0, 12.0)


def test_an_agreeing_estimate_adds_nothing_and_segments_are_bounded():
    tl = PlayerTimeline(0.0, 120.0)
    assert tl.follow(BeatEstimate(120.0, 0.0, 0.9), 3.0) == pytest.approx(0.0)
    assert len(tl.segments) == 1
    for k in range(3 * MAX_SEGMENTS):
        tl.follow(BeatEstimate(120.0 + (k % 7), 0.05 * (k % 5), 0.9), 4.0 + k)
    assert len(tl.segments) <= MAX_SEGMENTS
    assert increasing(tl, 4.0 + 3 * MAX_SEGMENTS - MAX_SEGMENTS / 2, 4.0 + 3 * MAX_SEGMENTS + 5)


def test_set_tempo_keeps_the_beat_at_now():
    tl = PlayerTimeline(0.0, 120.0)
    tl.set_tempo(60.0, 2.0)
    assert tl.beat_at(2.0) == pytest.approx(4.0) and tl.beat_at(3.0) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        tl.set_tempo(0.0, 3.0)
    with pytest.raises(ValueError, match="horizon"):
        PlayerTimeline(0.0, 120.0, horizon=0.5)
