"""The recording's tempo map fitted to the session's beats (improv/core/formats/tempofit.py):
few, steady tempo changes, the file's beat never more than `eps` off the session's."""

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from improv.core.formats.tempofit import EPS_BEATS, TempoFit, tempo_at
from improv.core.listen.tempo import BeatEstimate
from improv.core.listen.timeline import PlayerTimeline


def map_beat(records, t0, beat0, t):
    """The beat at `t` of the map `records` make from (t0, beat0): each (seconds, bpm) a tempo
    from then on, the last given at a time counting (as the recorder's journal is read)."""
    at = {}
    for when, bpm in records:
        at[when] = bpm
    beat, prev, rate = beat0, t0, 0.0
    for when in sorted(at):
        if when > t:
            break
        beat += (when - prev) * rate
        prev, rate = when, at[when] / 60.0
    return beat + (t - prev) * rate


def fitted(points, t0=0.0, beat0=0.0, eps=EPS_BEATS, end=True):
    """Every record the fit gives for `points` (then its flush, with `end`)."""
    fit, records = TempoFit(t0, beat0, eps), []
    for t, b in points:
        records += fit.add(t, b)
    return records + (fit.flush() if end else [])


def changes(records):
    """The map's tempo changes: one a time (the last given), none repeating the tempo before."""
    at = {}
    for when, bpm in records:
        at[when] = bpm
    out = []
    for when in sorted(at):
        if not out or abs(at[when] - out[-1][1]) > 1e-9:
            out.append((when, at[when]))
    return out


def followed_timeline(bpm, seconds, jitter_beats, seed, every_beats=1.5, tempo_jitter=0.003):
    """A followed timeline (improv/core/listen/timeline.py) re-anchored for `seconds` on a
    steady player heard with a jittery phase and tempo, about every `every_beats`."""
    rnd, period = random.Random(seed), 60.0 / bpm
    tl = PlayerTimeline(0.0, bpm)
    t = period
    while t < seconds:
        heard_bpm = bpm * (1 + rnd.gauss(0, tempo_jitter))  # (drawn before the beat: the seeds' timelines as they were)
        tl.follow(BeatEstimate(heard_bpm, (round(t / period) + rnd.gauss(0, jitter_beats)) * period, 0.9), t)
        t += every_beats * period * rnd.uniform(0.7, 1.3)
    return tl


def followed(bpm, seconds, jitter_beats, seed, every_beats=1.5):
    """The points of `followed_timeline`: (seconds, beat) of its breakpoints, and its end at `seconds`."""
    tl = followed_timeline(bpm, seconds, jitter_beats, seed, every_beats)
    return [(s.time, s.beat) for s in tl.segments if s.time < seconds] + [(seconds, tl.beat_at(seconds))]


def test_a_steady_tempo_with_its_phase_made_up_jittery_is_a_few_steady_changes():
    """A player steady at 111 bpm, heard with the follower's scatter: the timeline bends at
    every note (its phase made up over two beats, tempos swinging several percent); copied
    into the file that was a sawtooth. Fitted, it is a handful of changes near 111."""
    points = followed(111.0, 120.0, 0.02, seed=3)
    rates = [60 * (b2 - b1) / (t2 - t1) for (t1, b1), (t2, b2) in zip(points, points[1:])]
    assert len(points) > 100 and max(rates) - min(rates) > 6  # (the sawtooth copied)
    tmap = changes(fitted(points))
    print(f"{len(points)} stretches {min(rates):.1f}-{max(rates):.1f} bpm -> {len(tmap)} changes "
          f"{min(b for _, b in tmap):.1f}-{max(b for _, b in tmap):.1f}")
    assert len(tmap) <= 3, tmap
    assert all(abs(bpm / 111.0 - 1) < 0.02 for _, bpm in tmap), tmap


def test_a_timeline_that_fits_one_line_is_one_tempo():
    points = [(t, 1.85 * t + (0.02 if k % 2 else -0.02)) for k, t in enumerate(x * 0.7 for x in range(1, 200))]
    assert changes(fitted(points)) == [(0.0, pytest.approx(111.0, abs=0.5))]


def test_a_real_accelerando_is_followed_within_eps():
    """100 to 140 bpm over a minute, in the followed timeline's small steps: the map keeps up
    (within eps at every point) and ends at the tempo played."""
    points, t, beat, bpm = [], 0.0, 0.0, 100.0
    while t < 60.0:
        t, beat = t + 0.5, beat + 0.5 * bpm / 60.0
        points.append((t, beat))
        bpm = 100.0 + 40.0 * min(t, 60.0) / 60.0
    records = fitted(points)
    assert all(abs(map_beat(records, 0.0, 0.0, t) - b) <= EPS_BEATS + 1e-9 for t, b in points)
    tmap = changes(records)
    assert 3 <= len(tmap) < len(points) / 4, len(tmap)
    assert tmap[-1][1] == pytest.approx(140.0, rel=0.03)
    assert [bpm for _, bpm in tmap] == sorted(bpm for _, bpm in tmap)  # (it only speeds up)


timelines = st.lists(st.tuples(st.floats(0.05, 5.0), st.floats(20.0, 400.0)), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(timelines, st.floats(0.01, 0.2), st.floats(-0.4, 0.4))
def test_the_map_never_strays_more_than_eps_from_any_point_given(stretches, eps, start_off):
    """Any timeline (stretches of (seconds, bpm)), the map started `start_off` beats off it
    (bars counted again): from the first point on, every point is within eps, and at every
    moment the records given so far already make such a map (a crash's journal)."""
    assume(start_off + stretches[0][0] * stretches[0][1] / 60.0 > 0)  # (a map's beat cannot go back)
    points, t, beat = [], 0.0, start_off
    for dt, bpm in stretches:
        t, beat = t + dt, beat + dt * bpm / 60.0
        points.append((t, beat))
    fit, records = TempoFit(0.0, 0.0, eps), []
    for k, (t, b) in enumerate(points):
        records += fit.add(t, b)
        for t2, b2 in points[:k + 1] if k < 8 or k == len(points) - 1 else [(t, b)]:
            assert abs(map_beat(records, 0.0, 0.0, t2) - b2) <= eps + 1e-9, (k, t2)
    records += fit.flush()
    for t2, b2 in points:
        assert abs(map_beat(records, 0.0, 0.0, t2) - b2) <= eps + 1e-9


def test_the_flush_ends_the_open_stretch_on_the_last_point():
    """The session's end: the open stretch's tempo (given at once, the one that moves least)
    becomes the one that ends it nearest the session's beat, within eps of every point."""
    points = [(1.0, 2.0), (2.0, 4.05), (3.0, 5.95), (4.0, 8.04)]
    fit, records = TempoFit(0.0, 0.0, 0.1), []
    for p in points:
        records += fit.add(*p)
    assert records[0][0] == 0.0  # (written from the start: a crash's journal has it)
    end = fit.flush()
    assert end == [(0.0, pytest.approx(60 * 8.04 / 4.0))]
    records += end
    assert map_beat(records, 0.0, 0.0, 4.0) == pytest.approx(8.04)
    assert fit.flush() == []  # (said once)


def test_a_map_started_off_the_sessions_count_makes_it_up_in_its_first_stretch():
    """Bars counted again: the file's beat 0 is the first note, the session's count there a
    fifth of a beat on; the map bends to it by the next point, and keeps within eps after."""
    points = [(t, 0.2 + 2.0 * t) for t in (1.0, 2.0, 3.0, 4.0, 5.0)]
    records = fitted(points)
    assert all(abs(map_beat(records, 0.0, 0.0, t) - b) <= EPS_BEATS + 1e-9 for t, b in points)


def test_tempo_at_reads_the_last_record_given_at_or_before_a_time():
    records = [(0.0, 100.0), (0.0, 110.0), (5.0, 120.0), (5.0, 118.0)]
    assert [tempo_at(records, t) for t in (-1.0, 0.0, 4.9, 5.0, 9.0)] == [None, 110.0, 110.0, 118.0, 118.0]


def test_eps_must_be_positive():
    with pytest.raises(ValueError, match="eps must be > 0"):
        TempoFit(0.0, eps=0.0)


def conductor_points(tl, seconds, every=0.005, settle=0.1):
    """The points the jam hands the fit (`Player.write_file_tempo`): each conductor round,
    `every` seconds, the timeline's breakpoints since the last round and its beat `settle`
    before the round."""
    out, last, now = [], 0.0, settle + every
    while now < seconds:
        until = now - settle
        out += [(s.time, s.beat) for s in tl.segments if last < s.time <= until]
        out.append((until, tl.beat_at(until)))
        last, now = until, now + every
    return out


def test_a_stretch_a_few_milliseconds_old_aims_at_the_sessions_line():
    """The jam hands the fit a point every conductor round, milliseconds apart. A stretch
    just begun held the line through its latest point: 0.06 beat over 5 ms is 720 bpm, and
    here that gave 368 records of 1 to 898 bpm (now 137, 127.5-193.4), each written over
    within a beat (a crash's file in between counted its last notes at them; in a jam over
    JACK one at the file's bound, 1000.0000000000001, was refused by the recorder with a
    warning). Now every tempo given stays near the tempo played, and the map keeps within eps
    of every point."""
    bpm = 162.0  # (the follower's scatter, about +-0.13 beat, about every beat)
    points = conductor_points(followed_timeline(bpm, 60.0, 0.13, seed=7, every_beats=1.0, tempo_jitter=0.01), 60.0)
    fit, records = TempoFit(0.0, 0.0), []
    for k, (pt, pb) in enumerate(points):
        records += fit.add(pt, pb)
        assert abs(map_beat(records, 0.0, 0.0, pt) - pb) <= EPS_BEATS + 1e-9, k
    given = [b for _, b in records]
    print(f"{len(points)} points -> {len(records)} records, {min(given):.1f}-{max(given):.1f} bpm")
    assert all(0.5 * bpm < b < 2.0 * bpm for b in given), (min(given), max(given))
    assert len(records) < 4 * len(changes(records)) + 4  # (not one a conductor round while a stretch is young)


def test_the_tempos_given_stay_inside_the_files_range():
    """A stretch that must run at the file's fastest tempo gives exactly its bound (1000 / 60 * 60
    is 1000.0000000000001 in floats, which the recorder refused)."""
    fit = TempoFit(0.0, 0.0)
    records = fit.add(0.001, 5.0) + fit.add(0.002, 10.0) + fit.flush()
    assert records and all(1.0 <= b <= 1000.0 for _, b in records), records


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0.2, 3.0), st.floats(40.0, 320.0)), min_size=1, max_size=12),
       st.lists(st.floats(0.001, 0.02), min_size=1, max_size=50))
def test_points_milliseconds_apart_give_tempos_the_timeline_has(stretches, steps):
    """Any timeline (stretches of (seconds, bpm)) handed over as the jam does, a point every
    1-20 ms: every tempo given lies between half the slowest stretch's and twice the fastest's
    (given the line through the latest point, 9.7 times the fastest and 1 bpm, on random such
    timelines), and the map keeps within eps of every point."""
    points, t, beat, k = [], 0.0, 0.0, 0
    for dt, bpm in stretches:
        end = t + dt
        while t < end - 1e-9:
            step = min(steps[k % len(steps)], end - t)
            t, beat, k = t + step, beat + step * bpm / 60.0, k + 1
            points.append((t, beat))
    records = fitted(points)
    slowest, fastest = min(b for _, b in stretches), max(b for _, b in stretches)
    assert all(0.5 * slowest <= bpm <= 2.0 * fastest for _, bpm in records), (slowest, fastest, records)
    assert all(abs(map_beat(records, 0.0, 0.0, t2) - b2) <= EPS_BEATS + 1e-9 for t2, b2 in points)
