"""Call-cell reuse, the spread of gaps and durations, and how density follows the call."""

from __future__ import annotations

import math

import pytest

from improv.core.theory.development import cell_reuse, density_stats, spread_distance, time_spread
from improv.core.theory.notes import Phrase

CALL = Phrase.of([(60, 0, 0.5), (62, 0.5, 0.5), (64, 1, 0.5), (65, 1.5, 0.5), (67, 2, 1)])  # +2 +2 +1 +2


def test_cell_reuse_counts_the_answers_cells_found_in_the_call():
    sequenced = Phrase.of([(67, 0, 0.5), (69, 0.5, 0.5), (71, 1, 0.5), (72, 1.5, 0.5)])  # +2 +2 +1, a fifth up
    other = Phrase.of([(60, 0, 0.5), (55, 0.5, 0.5), (64, 1, 0.5), (59, 1.5, 0.5)])  # -5 +9 -5
    assert cell_reuse([CALL], [sequenced], 3) == 1.0  # its one 4-note cell is the call's
    assert cell_reuse([CALL], [sequenced], 2) == 1.0  # (+2 +2) and (+2 +1)
    assert cell_reuse([CALL, CALL], [sequenced, other], 3) == 0.5
    assert math.isnan(cell_reuse([CALL], [Phrase.of([(60, 0, 1)])], 3))


def test_time_spread_and_distance():
    eighths = Phrase.of([(60 + i, 0.5 * i, 0.45) for i in range(8)], length=4.0)
    clipped = Phrase.of([(60 + i, 0.5 * i, 0.05) for i in range(8)] + [(70, 3.5, 0.3)], length=4.0)
    a, b = time_spread([eighths]), time_spread([clipped])
    assert a["gap_quantiles"][2] == pytest.approx(0.5) and a["short_share"] == 0 and a["together_share"] == 0
    assert b["short_notes"] == 8 and b["together_share"] == pytest.approx(1 / 9)
    assert sum(a["gap_hist"]) == 7 and sum(a["dur_hist"]) == 8
    d = spread_distance(a, b)
    assert d["dur_js"] > 0.5 and spread_distance(a, a)["gap_js"] == 0.0


def test_density_follows_the_call():
    calls = [Phrase.of([(60, 0.25 * i, 0.2) for i in range(k)], length=4.0) for k in (2, 4, 8, 16)]
    follow = [Phrase.of([(60, 0.25 * i, 0.2) for i in range(k)], length=4.0) for k in (2, 4, 8, 16)]
    against = list(reversed(follow))
    assert density_stats(calls, follow, [200, 200, 100, 100])["density_call_corr"] == pytest.approx(1.0)
    got = density_stats(calls, against, [200, 200, 100, 100])
    assert got["density_call_corr"] == pytest.approx(-1.0) and got["max_notes"] == 16
    assert got["max_notes_under_120_bpm"] == 4 and got["answers_with_notes_together"] == 0
