"""The time feel: placing grid notes as played, reading played notes back onto the grid,
and learning it from solos whose played timing is known."""

from __future__ import annotations

import math
import random

from dataclasses import replace

import numpy as np
import pytest

from improv.core.formats.wjazzd import Solo
from improv.core.model.feel import NEXT_GAPS, OFFBEAT, TICKS, Feel, FeelModel, FeelPlayer
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Note, Phrase
from improv.train.feel import TEMPO_EDGES, fit_feel

ROWS = len(TEMPO_EDGES) + 2


def toy(swing: float = 0.1, lag: float = 0.02, scale: float = 0.01, follow: float = 0.5) -> FeelModel:
    """Every note `lag` behind, the off-beat eighth `swing` more, small strays."""
    mean = np.full((ROWS, TICKS), lag)
    mean[:, OFFBEAT] += swing
    prior = np.full((ROWS, TICKS), 0.02)
    prior[:, [0, 6]] = 0.4
    return FeelModel(TEMPO_EDGES, mean, np.full((ROWS, TICKS), scale), prior / prior.sum(1, keepdims=True),
                     np.full(ROWS, 0.01), np.full(ROWS, 0.02), (follow, follow), (0.005, 0.01), (0.4, 0.2),
                     None, np.linspace(0.6, 1.0, 101))


EIGHTHS = Phrase.of([(60 + i, 0.5 * i, 0.5) for i in range(8)], start=4.0)  # a written line of eighths


def test_dict_round_trip_and_bad_tables():
    m = toy()
    back = FeelModel.from_dict(m.to_dict())
    assert back.to_dict() == m.to_dict()
    bad = m.to_dict()
    bad["mean"] = bad["mean"][:-1]
    with pytest.raises(ValueError, match="shape"):
        FeelModel.from_dict(bad)
    bad = m.to_dict()
    bad["legato_q"] = list(reversed(bad["legato_q"]))
    with pytest.raises(ValueError, match="rising"):
        FeelModel.from_dict(bad)
    full = replace(m, next_mean=np.linspace(-0.02, 0.02, NEXT_GAPS))
    assert FeelModel.from_dict(full.to_dict()).to_dict() == full.to_dict()
    bad = full.to_dict()
    bad["next_mean"] = [0.0] * 5
    with pytest.raises(ValueError, match="next_mean"):
        FeelModel.from_dict(bad)


def test_amount_zero_plays_the_grid():
    m = toy()
    got = m.play(EIGHTHS.notes, 4.0, 4.0, 200.0, (0.05, 0.05), np.random.default_rng(1), amount=0.0)
    assert got == list(EIGHTHS.notes)


def test_played_notes_swing_lag_keep_order_and_stay_in_the_span():
    m = toy(swing=0.12, lag=0.03)
    rng = np.random.default_rng(3)
    got = m.play(EIGHTHS.notes, 4.0, 4.0, 200.0, (0.0, 0.0), rng)
    starts = [n.start for n in got]
    assert starts == sorted(starts) and 0.0 <= starts[0] and starts[-1] < 4.0
    offs = [n.start - g.start for n, g in zip(got, EIGHTHS.notes)]
    assert np.mean(offs[1::2]) - np.mean(offs[0::2]) == pytest.approx(0.12, abs=0.03)  # the off-beats swing
    assert np.mean(offs[0::2]) == pytest.approx(0.03, abs=0.02)  # behind the beat
    for a, b in zip(got, got[1:]):  # legato on the grid: a share of the played gap (0.6-1.0 here)
        assert 0.55 * (b.start - a.start) <= a.duration <= b.start - a.start + 1e-9


def test_streaming_gives_what_the_batch_gives():
    m = toy()
    batch = m.play(EIGHTHS.notes, 4.0, 4.0, 120.0, (0.01, 0.02), np.random.default_rng(5))
    player = FeelPlayer(m, 4.0, 4.0, 120.0, (0.01, 0.02), np.random.default_rng(5))
    out = [n for n in map(player.push, EIGHTHS.notes) if n is not None]
    assert len(out) == len(batch) - 2  # a note is given once the one after its next is known
    assert out + player.finish() == batch
    assert player.finish() == []


def test_to_grid_reads_a_played_line_back():
    m = toy(swing=0.12, lag=0.03, scale=0.015)
    played = Phrase.of(m.play(EIGHTHS.notes, 4.0, 4.0, 200.0, (0.0, 0.0), np.random.default_rng(7)), start=4.0)
    back = m.to_grid(played, 200.0)
    assert [round((back.start + n.start) * TICKS) for n in back.notes] == [48 + 6 * i for i in range(8)]
    naive = [round((played.start + n.start) * TICKS) for n in played.notes]
    assert naive != [48 + 6 * i for i in range(8)]  # rounding alone would not


def test_measure_and_follow_the_call():
    m = toy(swing=0.05, lag=0.0, scale=0.03, follow=0.5)
    hard = Phrase.of([(60 + i, 0.5 * i + (0.08 if i % 2 else 0.0), 0.4) for i in range(8)], start=8.0)
    feel = m.measure([hard], 200.0)
    # the call swings 0.03 beat more than the model expects at this tempo
    assert feel.swing == pytest.approx(0.03, abs=0.01) and feel.n_off == 4 and feel.lag == pytest.approx(0.0)
    swings = [m.phrase_feel(200.0, feel, np.random.default_rng(i))[1] for i in range(400)]
    assert np.mean(swings) == pytest.approx(0.015, abs=0.003)  # half of it taken up
    plain = [m.phrase_feel(200.0, Feel(), np.random.default_rng(i))[1] for i in range(400)]
    assert abs(np.mean(plain)) < 0.004


def _solo(name: str, tempo: float, swing: float, rng: random.Random) -> Solo:
    chart = parse_chart("C7")
    grid, played = [], []
    t = 0.0
    for _ in range(30):
        n = rng.randint(4, 10)
        notes = [Note(0.5 * i, 60 + rng.randint(0, 12), 0.5) for i in range(n)]
        grid.append(Phrase.of(notes, start=t))
        pn = [Note(0.5 * i + (swing if i % 2 else 0.0) + rng.gauss(0.02, 0.01), x.pitch, 0.45)
              for i, x in enumerate(notes)]
        first = pn[0].start
        played.append(Phrase(tuple(Note(x.start - first, x.pitch, x.duration) for x in pn), t + first,
                             max(x.end for x in pn) - first))
        t += math.ceil(0.5 * n) + 2.0
    return Solo(name, "P", name, tempo, "C", "BEBOP", "ts", "SWING", tuple(grid), chart, tuple(played))


def test_fit_learns_the_swing_of_each_tempo():
    rng = random.Random(0)
    solos = [_solo(f"Slow{i}", 120.0, 0.15, rng) for i in range(4)] + [_solo(f"Fast{i}", 300.0, 0.03, rng)
                                                                          for i in range(4)]
    m = fit_feel(solos)
    slow, fast = m.band(120.0), m.band(300.0)
    assert m.mean[slow, OFFBEAT] - m.mean[slow, 0] == pytest.approx(0.15, abs=0.02)
    assert m.mean[fast, OFFBEAT] - m.mean[fast, 0] == pytest.approx(0.03, abs=0.02)
    assert m.mean[slow, 0] == pytest.approx(0.02, abs=0.01)
    assert np.all(m.scale > 0) and math.isfinite(m.follow[0])
    assert FeelModel.from_dict(m.to_dict()).to_dict() == m.to_dict()
    with pytest.raises(ValueError, match="no solo"):
        fit_feel([])


def test_a_phrases_swing_puts_its_off_beat_eighths_later():
    """Played with swing 0.1 the off-beat eighths come 0.1 beat later than played straight,
    the on-beats where they were: a sign slip rushes them (a Scotch snap, not swing)."""
    m = toy(swing=0.0, lag=0.0)
    straight = m.play(EIGHTHS.notes, 4.0, 4.0, 200.0, (0.0, 0.0), np.random.default_rng(2))
    swung = m.play(EIGHTHS.notes, 4.0, 4.0, 200.0, (0.0, 0.1), np.random.default_rng(2))
    moved = [b.start - a.start for a, b in zip(straight, swung)]
    assert moved[1::2] == pytest.approx([0.1] * 4, abs=1e-9) and moved[0::2] == pytest.approx([0.0] * 4, abs=1e-9)


def test_an_answer_follows_a_call_played_behind_the_beat():
    """A call laid back 0.05 beat gets an answer laid back too (half of it, as learned): a
    sign slip pushes the answer ahead of the beat the player sits behind."""
    m = toy(swing=0.05, lag=0.0, scale=0.03, follow=0.5)
    behind = Phrase.of([(60 + i, 0.5 * i + 0.05 + (0.05 if i % 2 else 0.0), 0.4) for i in range(8)], start=8.0)
    feel = m.measure([behind], 200.0)
    assert feel.lag == pytest.approx(0.05, abs=1e-9) and feel.n == 4 and feel.swing == pytest.approx(0.0, abs=1e-9)
    lags = [m.phrase_feel(200.0, feel, np.random.default_rng(i))[0] for i in range(400)]
    assert np.mean(lags) == pytest.approx(0.025, abs=0.002)  # follow 0.5 of it
    rng = np.random.default_rng(4)
    played = m.play(EIGHTHS.notes, 4.0, 4.0, 200.0, m.phrase_feel(200.0, feel, rng), rng)
    assert np.mean([n.start - g.start for n, g in zip(played, EIGHTHS.notes)][0::2]) > 0.01  # behind the beat


def test_the_gap_to_the_next_note_moves_a_note():
    """A note before a fast run is played early, one before a long note late
    (`next_mean`): a slip that reads the gap before the note, or none, leaves the run's
    first note where the others are."""
    nm = np.zeros(NEXT_GAPS)
    nm[3], nm[12] = -0.03, 0.04  # before a sixteenth; before a quarter note
    m = replace(toy(swing=0.0, lag=0.0, scale=1e-4), next_mean=nm)
    line = [Note(0.0, 60, 1.0), Note(1.0, 62, 0.25), Note(1.25, 64, 0.25), Note(1.5, 65, 0.5), Note(2.0, 67, 1.0)]
    got = m.play(line, 4.0, 4.0, 200.0, (0.0, 0.0), np.random.default_rng(0), amount=1.0)
    offs = [n.start - g.start for n, g in zip(got, line)]
    # quarter -> 0.04 late; sixteenths -> 0.03 early; the eighth (6 ticks) and the last: 0
    assert offs == pytest.approx([0.04, -0.03, -0.03, 0.0, 0.0], abs=1e-3)
    plain = toy(swing=0.0, lag=0.0, scale=1e-4).play(line, 4.0, 4.0, 200.0, (0.0, 0.0), np.random.default_rng(0))
    assert [n.start - g.start for n, g in zip(plain, line)] == pytest.approx([0.0] * 5, abs=1e-3)


def _timed_solo(name: str, rng: random.Random) -> Solo:
    """Phrases of a quarter note, two sixteenths and six eighths; every note before a
    sixteenth is played 0.04 beat early."""
    chart = parse_chart("C7")
    grid, played = [], []
    t = 0.0
    for _ in range(40):
        written = [Note(0.0, 60, 1.0), Note(1.0, 62, 0.25), Note(1.25, 64, 0.25)] + \
                  [Note(1.5 + 0.5 * i, 65 + i, 0.5) for i in range(6)]
        pn = []
        for i, x in enumerate(written):
            early = -0.04 if i + 1 < len(written) and written[i + 1].start - x.start == 0.25 else 0.0
            pn.append(Note(x.start + early + rng.gauss(0.0, 0.005), x.pitch, 0.2))
        grid.append(Phrase.of(written, start=t))
        first = pn[0].start
        played.append(Phrase(tuple(Note(x.start - first, x.pitch, x.duration) for x in pn), t + first,
                             max(x.end for x in pn) - first))
        t += 8.0
    return Solo(name, "P", name, 160.0, "C", "BEBOP", "ts", "SWING", tuple(grid), chart, tuple(played))


def test_fit_learns_what_the_gap_to_the_next_note_adds():
    m = fit_feel([_timed_solo(f"T{i}", random.Random(i)) for i in range(8)])
    # the notes before a sixteenth: early (part of it is learned by the ticks they sit on)
    assert m.next_mean[3] < -0.015 and min(m.next_mean[6], m.next_mean[12]) > m.next_mean[3] + 0.015
    assert FeelModel.from_dict(m.to_dict()).to_dict() == m.to_dict()
