"""A phrase's last note held as soloists hold it (improv.core.model.endings)."""

import json
from pathlib import Path

import numpy as np
import pytest

from improv.core.model.endings import MAX_TICKS, PhraseEndings, fit
from improv.core.model.responder import ModelResponder
from improv.core.respond.base import AnswerSettings
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Phrase
from improv.errors import DataError
from improv.train import endings as train_endings

MINI = Path(__file__).parent / "data" / "wjazzd-mini"


def synthetic(n: int = 400, seed: int = 0) -> list:
    """Phrases whose inner notes are 1-4 ticks and whose last notes are 6-12, at 150 bpm."""
    rng = np.random.default_rng(seed)
    return [([*rng.integers(1, 5, size=6).tolist(), int(rng.integers(6, 13))], 150.0) for _ in range(n)]


def test_last_note_takes_the_last_notes_spread_keeping_its_rank():
    e = fit(synthetic())
    rng = np.random.default_rng(1)
    inner = rng.integers(1, 5, size=4000)
    mapped = np.array([e.last_ticks(int(k), 150.0, float(rng.random())) for k in inner])
    assert mapped.min() >= 6 and mapped.max() <= 12  # where the last notes lie, not the inner ones
    assert abs(np.median(mapped) - 9) <= 1
    means = [mapped[inner == k].mean() for k in range(1, 5)]
    assert means == sorted(means) and means[-1] - means[0] > 3  # a longer inner note, a longer last one
    assert e.last_ticks(500, 150.0, 0.5) <= MAX_TICKS and e.last_ticks(0, None, 0.0) >= 1


def test_bands_keep_their_own_lengths_and_unknown_tempo_pools():
    slow = [([1, 1, 1, 12], 70.0)] * 50
    fast = [([4, 4, 4, 6], 250.0)] * 50
    e = fit(slow + fast)
    assert e.last_ticks(1, 70.0, 0.5) == 12 and e.last_ticks(4, 250.0, 0.5) == 6
    assert e.band(None) == len(e.tempo_edges) + 1 and e.counts[-1] == 100


def test_shipped_table_holds_last_notes_longer_in_every_band():
    e = PhraseEndings.shipped()
    for inner, last in zip(e.inner_cdf, e.last_cdf):
        median = lambda c: int(np.searchsorted(c, 0.5)) + 1  # noqa: E731
        assert median(last) > median(inner)


def test_bad_tables_are_one_line_errors(tmp_path):
    good = fit(synthetic()).to_dict()
    for bad, why in (("not json", "cannot read"), ("[1, 2]", "expected a JSON object"),
                     (json.dumps({**good, "last_cdf": good["last_cdf"][:2]}), "last_cdf must be"),
                     (json.dumps({k: v for k, v in good.items() if k != "inner_cdf"}), "malformed")):
        path = tmp_path / "endings.json"
        path.write_text(bad)
        with pytest.raises(DataError) as err:
            PhraseEndings.load(path)
        assert why in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError, match="no phrase"):
        fit([([3], 120.0)])


def test_learned_from_the_data_and_read_back(tmp_path):
    out = tmp_path / "endings.json"
    assert train_endings.main([str(MINI), "--out", str(out)]) == 0
    e = PhraseEndings.load(out)
    assert e.counts[-1] > 0
    assert train_endings.main([str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_the_model_holds_only_its_answers_last_note_longer():
    held = ModelResponder.load()
    plain = ModelResponder(held.weights, feel=held.feel, endings=None)
    chart = parse_chart("Dm7 G7 | Cmaj7 | %")
    call = Phrase.of([(62, 0, 0.5), (65, 0.5, 0.5), (69, 1, 0.5), (72, 1.5, 0.5), (71, 2, 1)])
    longer = shorter = 0
    for seed in range(24):
        s = AnswerSettings(start=4.0, length=8.0, seed=seed, tempo=160.0, feel=0.0)
        a, b = held.answer(call, chart, s), plain.answer(call, chart, s)
        assert a.notes[:-1] == b.notes[:-1]  # everything before the last note as decoded
        assert (a.notes[-1].start, a.notes[-1].pitch) == (b.notes[-1].start, b.notes[-1].pitch)
        assert a.notes[-1].end <= 8.0 + 1e-9  # and still inside the answer's span
        longer += a.notes[-1].duration > b.notes[-1].duration
        shorter += a.notes[-1].duration < b.notes[-1].duration
    assert shorter == 0 and longer >= 6  # (an answer that runs to its span's end cannot hold longer)
