"""The back-off table and the chord n-gram baseline: normalised, better with the chords
it reads, seeded, inside its span and range, and saved without pickles."""

from __future__ import annotations

import random

import numpy as np
import pytest

from improv.core.model.backoff import BackoffTable
from improv.core.model.chordgram import ChordGram
from improv.core.respond.base import AnswerSettings
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Phrase
from improv.errors import ModelError

CHANGES = parse_chart("Dm7 | G7 | Cmaj7 | A7")
TONES = {0: [62, 65, 69, 72], 1: [67, 71, 74, 77], 2: [60, 64, 67, 71], 3: [69, 73, 76, 79]}


def test_backoff_is_normalised_and_learns_its_context():
    rng = np.random.default_rng(0)
    ctx = rng.integers(0, 4, (5000, 2))
    y = (ctx[:, 0] * 2 + rng.integers(0, 2, 5000)) % 8  # the first column decides, the second is noise
    t = BackoffTable(8, 2).fit(ctx, y)
    for row in ([0, 1], [3, 3], [9, 9]):  # (an unseen context falls back to the unigram)
        assert t.distribution(np.array(row)).sum() == pytest.approx(1.0)
    assert t.distribution(np.array([1, 0]))[[2, 3]].sum() > 0.95
    t.depth = 0
    assert t.distribution(np.array([1, 0]))[[2, 3]].sum() < 0.4  # the unigram alone does not know
    arrays = t.to_arrays("x")
    back = BackoffTable.from_arrays(arrays, "x")
    assert back.depth == 0 and np.allclose(back.distribution(np.array([1, 2])), t.distribution(np.array([1, 2])))


def line(rng: random.Random, start: float, n: int) -> Phrase:
    """Eighths of chord tones of the bar under each note (the fixture of tests/data/eval, in beats)."""
    notes = []
    for k in range(n):
        t = start + 0.5 * k
        notes.append((rng.choice(TONES[int(t // 4) % 4]), 0.5 * k, 0.45))
    return Phrase.of(notes, start=start)


def pairs(seed: int, n: int) -> list[tuple[Phrase, Phrase, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        call = line(rng, 16.0 * i, 6)
        out.append((call, line(rng, 16.0 * i + 4.0, 8), CHANGES))
    return out


def test_chords_make_the_chord_ngram_sure_of_chord_tones():
    cg = ChordGram().fit(pairs(0, 150), pairs(1, 30))
    assert set(cg.meta["orders"]) == {"shift", "degree", "dur", "vel"}
    held = pairs(2, 30)
    nll = sum(cg.score(c, a, h)[0] for c, a, h in held) / sum(len(a) for _, a, _ in held)
    nc = sum(cg.score(c, a, None)[0] for c, a, _ in held) / sum(len(a) for _, a, _ in held)
    assert nll < nc  # told the chords, the chord tones are likelier
    assert cg.score(held[0][0], Phrase(), CHANGES) == (0.0, 0)
    assert cg.score(*held[0])[1] == 8


def test_score_parts_add_up_to_the_score_and_the_chords_speak_to_the_pitch():
    cg = ChordGram().fit(pairs(0, 150), pairs(1, 30))
    call, answer, chart = pairs(2, 1)[0]
    parts = cg.score_parts(call, answer, chart)
    assert parts.shape == (8, 4) and (parts >= 0).all()
    assert parts.sum() == pytest.approx(cg.score(call, answer, chart)[0])
    assert cg.score(call, answer, chart, include_end=True)[0] > cg.score(call, answer, chart)[0]  # the END too
    blind = cg.score_parts(call, answer, None)  # no chords: only the pitch (column 1) is harder
    assert np.allclose(np.delete(blind, 1, axis=1), np.delete(parts, 1, axis=1))
    assert blind[:, 1].sum() > parts[:, 1].sum()
    assert cg.score_parts(call, Phrase(), chart).shape == (0, 4)


def test_answers_are_seeded_single_line_and_inside_span_and_range(tmp_path):
    cg = ChordGram().fit(pairs(0, 150), pairs(1, 30))
    call = pairs(3, 1)[0][0]
    s = AnswerSettings(start=4.5, length=6.0, seed=7, low=60, high=72)
    a = cg.answer(call, CHANGES, s)
    assert a == cg.answer(call, CHANGES, s) and a != cg.answer(call, CHANGES, AnswerSettings(4.5, 6.0, seed=8))
    assert len(a) > 0 and a.start == 4.5 and all(0 <= n.start < 6.0 and 60 <= n.pitch <= 72 for n in a.notes)
    starts = [n.start for n in a.notes]
    assert len(set(starts)) == len(starts)
    path = cg.save(tmp_path / "cg.npz")
    back = ChordGram.load(path)
    held = pairs(2, 1)[0]
    assert back.answer(call, CHANGES, s) == a and back.score(*held) == pytest.approx(cg.score(*held))
    with pytest.raises(ModelError, match="not found"):
        ChordGram.load(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ModelError, match="bad.npz"):
        ChordGram.load(tmp_path / "bad.npz")
