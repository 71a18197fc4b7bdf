"""Answer features and the two-sample classifier test: it must tell apart what differs and
not what does not (a test that cannot fail would prove nothing)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from improv.core.theory.chart import parse_chart
from improv.core.theory.features import NAMES, RHYTHM, answer_features, feature_matrix
from improv.core.theory.notes import Phrase
from improv.train.twosample import feature_gaps, fit_logistic, two_sample_test

C7 = parse_chart("C7")


def feats(phrase: Phrase, call: Phrase | None = None) -> dict[str, float]:
    return dict(zip(NAMES, answer_features(phrase, C7, call)))


def test_feature_list():
    assert len(NAMES) == 44 and len(set(NAMES)) == 44
    assert set(RHYTHM) < set(NAMES) and len(RHYTHM) == 25


def test_features_by_hand():
    # C E G Bb on beats 0..3 (chord tones), then D (a tension) and F# (outside) as eighths
    p = Phrase.of([(60, 0, 1), (64, 1, 1), (67, 2, 1), (70, 3, 0.5), (62, 3.5, 0.25), (66, 3.75, 0.05)],
                  start=8.0, length=4.0)
    f = feats(p, Phrase.of([(48, 0, 1), (52, 1, 1)], length=2.0))
    assert f["chord_tone_share"] == pytest.approx(4 / 6) and f["tension_share"] == pytest.approx(1 / 6)
    assert f["outside_share"] == pytest.approx(1 / 6) and f["root_share"] == pytest.approx(1 / 6)
    assert f["strong_beat_chord_tones"] == 1.0  # beats 0 and 2: C and G
    assert f["abs_interval_mean"] == pytest.approx((4 + 3 + 3 + 8 + 4) / 5)
    assert f["leap_share"] == pytest.approx(1 / 5) and f["pitch_range"] == 10
    assert f["pitch_vs_call"] == pytest.approx(np.mean([60, 64, 67, 70, 62, 66]) - 50)
    assert f["gap_gt_1.1"] == 0 and f["gap_0.6_1.1"] == pytest.approx(3 / 5) and f["gap_lt_0.2"] == 0
    assert f["offbeat_place"] == pytest.approx(0.625) and f["onbeat_lag"] == 0.0  # onsets 0.5 and 0.75 in the beat
    assert f["dur_lt_0.1"] == pytest.approx(1 / 6) and f["notes_per_beat"] == pytest.approx(1.5)
    assert f["log_density_vs_call"] == pytest.approx(math.log2(1.5))
    assert f["together_share"] == 0 and f["max_per_beat"] == 3
    lagged = Phrase.of([(60, 0.05, 0.4), (62, 0.62, 0.3), (64, 1.03, 0.4), (65, 1.65, 0.3)], start=8.0, length=2.0)
    g = feats(lagged)
    assert g["onbeat_lag"] == pytest.approx(0.04) and g["offbeat_place"] == pytest.approx(0.635)
    chord = Phrase.of([(60, 0, 1), (64, 0, 1), (67, 1, 1)], length=2.0)
    assert feats(chord)["together_share"] == pytest.approx(2 / 3)


def test_empty_and_single_notes_give_nan_not_errors():
    m = feature_matrix([Phrase((), 0.0, 4.0), Phrase.of([(60, 0, 1)], length=4.0)], [C7, C7])
    assert m.shape == (2, 44) and np.isnan(m[0]).sum() > 30 and np.isfinite(m[1, NAMES.index("notes_per_beat")])


def test_logistic_regression_separates_separable_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(float)
    w = fit_logistic(x, y, l2=1e-3)
    assert np.mean(((np.hstack([x, np.ones((200, 1))]) @ w) > 0) == y) > 0.97
    assert w[0] > w[1] > abs(w[2])


def _lines(rng: np.random.Generator, n: int, swing: float) -> list[Phrase]:
    out = []
    for _ in range(n):
        k = int(rng.integers(6, 12))
        notes = [(60 + int(rng.integers(-5, 6)), 0.5 * i + (swing if i % 2 else 0) + rng.normal(0, 0.02), 0.4)
                 for i in range(k)]
        out.append(Phrase.of([(p, max(0.0, s), d) for p, s, d in notes], start=4.0, length=8.0))
    return out


def test_two_sample_test_is_blind_to_the_same_source_and_sees_a_different_one():
    rng = np.random.default_rng(1)
    a, b = _lines(rng, 150, 0.1), _lines(rng, 150, 0.1)
    c = _lines(rng, 150, 0.0)  # straight eighths instead of swung
    fa, fb, fc = (feature_matrix(x, [C7] * 150) for x in (a, b, c))
    same = two_sample_test(fa, fb, NAMES)
    differ = two_sample_test(fa, fc, NAMES)
    assert same.accuracy < 0.6 and differ.accuracy > 0.9
    assert differ.top_features[0][0] == "offbeat_place"
    assert differ.gaps[0][0] == "offbeat_place" and differ.gaps[0][1] < -1.0  # straight: the off-beat earlier
    assert max(abs(g) for _, g in same.gaps) < 0.5 and len(same.gaps) == 8
    assert differ.to_dict()["gaps"][0] == ["offbeat_place", differ.gaps[0][1]]
    assert len(differ.folds) == 10 and differ.n_cases == 150 and 0 <= differ.stderr < 0.05 < same.stderr + 0.05
    with pytest.raises(ValueError, match="shape"):
        two_sample_test(fa, fc[:, :3])
    with pytest.raises(ValueError, match="too few"):
        two_sample_test(fa[:5], fc[:5])


def test_feature_gaps_are_each_features_distance_in_pooled_deviations():
    rng = np.random.default_rng(3)
    real = rng.normal(0.0, 1.0, (400, 4))
    gen = real.copy()
    gen[:, 1] += 0.5  # half a deviation up
    gen[:, 2] -= 2.0  # two down
    real[:, 3] = gen[:, 3] = 7.0  # never varies
    real[::2, 1] = np.nan  # nothing to measure in half the real answers
    gaps = dict(feature_gaps(real, gen, ("a", "b", "c", "d")))
    assert list(gaps) == ["c", "b", "a", "d"]
    assert gaps["c"] == pytest.approx(-2.0 / real[:, 2].std())  # the same spread: the pooled one is its own
    assert gaps["b"] == pytest.approx(0.5, abs=0.15)
    assert gaps["a"] == 0.0 and gaps["d"] == 0.0
    assert len(feature_gaps(real, gen, top=2)) == 2
