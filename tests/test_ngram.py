"""The n-gram baseline: counts, Kneser-Ney probabilities, scoring, sampling, files."""

import math

import numpy as np
import pytest

from improv.core.theory.chart import parse_chart
from improv.core.model.ngram import (
    NgramModel,
    count_ngrams,
    pair_sequences,
    token_kind,
    transpose_tokens,
)
from improv.core.model.ngram_train import per_note_nll, train_baseline
from improv.core.theory.notes import Phrase
from improv.core.respond.base import AnswerSettings
from improv.core.model.tokens import BOS, EOS, PITCH0, SEP, SHIFT0, VOCAB_SIZE, encode, pair_tokens
from improv.errors import ModelError

CHART = parse_chart("Dm7 | G7 | Cmaj7 | %")


def line(pitches, step=0.5, start=0.0, vel=81):
    return Phrase.of([(p, i * step, step, vel) for i, p in enumerate(pitches)], start=start)


CALLS = [line([62, 65, 69, 72]), line([67, 71, 74, 77]), line([60, 64, 67, 71]), line([69, 67, 65, 64])]
ANSWERS = [line([71, 69, 67, 65], start=4), line([76, 74, 72, 71], start=8),
           line([72, 71, 69, 67], start=4), line([62, 64, 65, 67], start=8)]
PAIRS = list(zip(CALLS, ANSWERS)) * 3


def test_counts_by_hand():
    a, b = SHIFT0 + 1, SHIFT0 + 2
    c = count_ngrams([[BOS, a, b, a, b]], max_order=2)
    raw2 = dict(zip(c.raw[1][0].tolist(), c.raw[1][1].tolist()))
    assert raw2[(a << 9) | b] == 2 and raw2[(b << 9) | a] == 1 and raw2[(BOS << 9) | a] == 1
    assert c.n_tokens == 4  # BOS is given, not predicted
    # continuation counts of unigrams: distinct predecessors
    cont1 = dict(zip(c.cont[0][0].tolist(), c.cont[0][1].tolist()))
    assert cont1[a] == 2  # after BOS and after b
    assert cont1[b] == 1  # only after a


def test_transpose_tokens_matches_phrase_transpose():
    ph = Phrase.of([(60, 0, 0.5, 81), (125, 0.5, 0.5, 81), (2, 1, 1, 81)])
    for k in (-7, -1, 5, 11):
        assert transpose_tokens(np.array(encode(ph)), k).tolist() == encode(ph.transpose(k))


@pytest.mark.parametrize("order", [1, 2, 3, 5, 7])
def test_distribution_is_normalized_and_matches_scores(order):
    model = count_ngrams(pair_sequences(PAIRS), 7).model(order)
    ctx, tgt = pair_tokens(*PAIRS[1])
    nll = model.token_nll([ctx], [tgt])[0]
    seq = ctx + tgt
    kinds = token_kind(np.arange(VOCAB_SIZE))
    for i, tok in enumerate(tgt):
        d = model.distribution(seq[: len(ctx) + i])
        assert d.sum() == pytest.approx(1.0) and (d > 0).all()
        same_kind = d[kinds == kinds[tok]].sum()
        assert nll[i] == pytest.approx(-math.log(d[tok] / same_kind))


def test_higher_orders_fit_seen_answers_better():
    counts = count_ngrams(pair_sequences(PAIRS), 5)
    nlls = [per_note_nll(counts.model(k).score_many(PAIRS)) for k in (1, 3, 5)]
    assert nlls[0] > nlls[1] > nlls[2]
    seen = per_note_nll(counts.model(5).score_many(PAIRS[:4]))
    unseen = per_note_nll(counts.model(5).score_many([(CALLS[0], line([61, 66, 70, 75], start=4))]))
    assert seen < unseen


def test_score_counts_notes_and_leaves_out_eos():
    model = count_ngrams(pair_sequences(PAIRS), 4).model(4)
    total, n = model.score(CALLS[0], ANSWERS[0], CHART)
    assert n == 4
    with_eos, _ = model.score(CALLS[0], ANSWERS[0], CHART, include_eos=True)
    assert with_eos > total > 0
    ctx, tgt = pair_tokens(CALLS[0], ANSWERS[0])
    assert tgt[-1] == EOS and ctx[0] == BOS and ctx[-1] == SEP
    assert total == pytest.approx(float(model.token_nll([ctx], [tgt])[0][:-1].sum()))


def test_answer_is_seeded_and_inside_span_and_range():
    model = count_ngrams(pair_sequences(PAIRS), 5, tuple(range(-6, 6))).model(5)
    s = AnswerSettings(start=4.0, length=4.0, seed=3, low=60, high=72)
    a1 = model.answer(CALLS[0], CHART, s)
    a2 = model.answer(CALLS[0], CHART, s)
    assert a1 == a2 and len(a1) > 0
    assert a1.start == 4.0
    assert all(0 <= n.start < 4.0 and 60 <= n.pitch <= 72 and n.end <= 4.0 + 1e-9 for n in a1.notes)
    others = {model.answer(CALLS[0], CHART, AnswerSettings(4.0, 4.0, seed=k)).notes for k in range(8)}
    assert len(others) > 1
    # the start is off the beat: still inside the span
    off = model.answer(CALLS[1], CHART, AnswerSettings(start=5.5, length=2.0, seed=1))
    assert off.start == 5.5 and all(0 <= n.start < 2.0 for n in off.notes)


def test_save_load_round_trip(tmp_path):
    model = count_ngrams(pair_sequences(PAIRS), 4).model(4, {"data": "test"})
    path = model.save(tmp_path / "sub" / "ng.npz")
    back = NgramModel.load(path)
    assert back.order == 4 and back.meta["data"] == "test"
    for (nll_back, n_back), (nll, n) in zip(back.score_many(PAIRS[:4]), model.score_many(PAIRS[:4])):
        assert nll_back == pytest.approx(nll) and n_back == n
    with np.load(path, allow_pickle=False) as z:  # nothing pickled inside
        assert "header" in z.files


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ModelError, match="nope.npz"):
        NgramModel.load(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="bad.npz"):
        NgramModel.load(bad)


def test_train_baseline_picks_the_best_candidate():
    model, table = train_baseline(PAIRS, PAIRS[:4], orders=(1, 2, 4), meta={"data": "x"})
    assert len(table) == 6
    best = min(table, key=lambda r: r["valid_nll_per_note"])
    assert model.order == best["order"] and model.meta["augment"] == best["augment"]
    assert model.meta["data"] == "x" and model.meta["n_train_pairs"] == len(PAIRS)
    assert per_note_nll(model.score_many(PAIRS[:4])) == pytest.approx(best["valid_nll_per_note"])


def test_pitch_tokens_are_the_shared_vocabulary():
    assert encode(line([60]))[1] == PITCH0 + 60
