"""Phrase model: a tiny seeded model trains, decodes deterministically, streams, obeys settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from improv.commands.common import TRAIN_INSTALL

# Training-side tests: on a lean install (no torch) the whole module skips, saying how to add it.
torch = pytest.importorskip("torch", reason=f"needs torch (the train extra): {TRAIN_INSTALL}")

from improv.core.theory.chart import parse_chart
from improv.core.theory.chords import parse_chord
from improv.core.model.decoder import NumpyDecoder
from improv.train.model import ModelConfig, PhraseModel, collate, load_checkpoint, save_checkpoint
from improv.core.model.inputs import Controls, answer_controls, pair_steps
from improv.core.model.responder import DEFAULT_CHECKPOINT, ModelResponder
from improv.train.scoring import score, score_parts, torch_model
from improv.train.export import load_responder
from improv.core.theory.notes import Note, Phrase
from improv.core.respond.base import fit_answer, AnswerSettings, Constraints, Responder
from improv.core.model.tokens import chord_features
from improv.core.formats.wjazzd import iter_pairs, load_solos
from improv.errors import ModelError

MINI = Path(__file__).parent / "data" / "wjazzd-mini"
TINY = ModelConfig(d_model=32, n_layers=2, head_hidden=24, dropout=0.0, max_call=32, max_answer=32)
CHART = parse_chart("Dm7 G7 | Cmaj7 | %")
CALL = Phrase.of([(62, 0, 0.5), (65, 0.5, 0.5), (69, 1, 0.5), (72, 1.5, 0.5), (71, 2, 1)])
LONG_CALL = Phrase.of([(60 + i % 7, i / 3, 1 / 3) for i in range(20)], start=1.5)  # read in one torch pass


def tiny_model(seed: int = 0, cfg: ModelConfig = TINY) -> PhraseModel:
    torch.manual_seed(seed)
    m = PhraseModel(cfg)
    with torch.no_grad():  # sharper random weights: decoding exercises more of the vocab
        for p in m.parameters():
            p.normal_(0, 0.3)
    return m.eval()


@pytest.fixture(scope="module")
def responder() -> ModelResponder:
    return ModelResponder(tiny_model())


def settings(**kw) -> AnswerSettings:
    base = dict(start=4.0, length=8.0, seed=3)
    base.update(kw)
    return AnswerSettings(**base)


def test_loss_falls_on_the_fixture():
    pairs = list(iter_pairs(load_solos(MINI)))
    seqs = [pair_steps(p.call, p.answer, p.harmony, answer_controls(p.answer), 32, 32) for p in pairs]
    torch.manual_seed(0)
    model = PhraseModel(TINY)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = collate(seqs)
    first = float(model(*batch)["loss"].detach())
    for _ in range(40):
        loss = model(*batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first


def test_weight_drop_masks_the_recurrence_in_training_only():
    from dataclasses import replace

    pairs = list(iter_pairs(load_solos(MINI)))[:4]
    batch = collate([pair_steps(p.call, p.answer, p.harmony, Controls(), 32, 32) for p in pairs])
    torch.manual_seed(0)
    m = PhraseModel(replace(TINY, weight_drop=0.5)).train()
    a, b = m(*batch)["loss"], m(*batch)["loss"]
    assert not torch.isclose(a, b)  # a new mask on the recurrent weights every pass
    a.backward()
    assert m.rnn.weight_hh_l0.grad.abs().sum() > 0 and m.rnn.weight_ih_l0.grad.abs().sum() > 0
    plain = PhraseModel(TINY).train()
    plain.load_state_dict(m.state_dict())
    assert torch.isclose(plain(*batch)["loss"], plain(*batch)["loss"])  # no dropout at all in TINY
    m.eval()
    plain.eval()
    assert torch.equal(m(*batch)["nll"], plain(*batch)["nll"])  # inference reads the whole weights


@pytest.mark.parametrize("degrees", [False, True])
def test_numpy_decoder_matches_torch(degrees):
    m = tiny_model(cfg=ModelConfig(**{**TINY.to_dict(), "chord_degrees": degrees}))
    dec = NumpyDecoder(m)
    f = chord_features(parse_chord("G7"))
    steps = [(0, 98, 128, 96, 8, 48, 8, 12, 8), (1, 3, 60, 5, 2, 3, 8, 12, 8), (2, 98, 128, 96, 8, 12, 3, 5, 2)]
    with torch.inference_mode():
        o, _ = m.rnn(m.embed(torch.tensor([steps]), torch.tensor([[f] * 3])))
        h = [np.zeros(TINY.d_model, np.float32)] * TINY.n_layers
        for s in steps:
            out, h = dec.step(s, f, h)
        assert np.allclose(out, o[0, -1].numpy(), atol=1e-5)
        g1t = m.g1(o[:, -1], torch.tensor([5]), torch.tensor([7]), torch.tensor([f]))
        g1 = dec.g1(out, 5, 7, f)
        for prev in (60, 128, 5):
            want = m.pitch_logits(g1t, torch.tensor([prev]), torch.tensor([f]))[0].numpy()
            assert np.allclose(dec.pitch_logits(g1, prev, f), want, atol=1e-4)
        assert np.allclose(dec.shift_logits(out), m.o_shift(o[:, -1])[0].numpy(), atol=1e-4)


def test_same_seed_same_answer_and_streaming_matches(responder):
    assert isinstance(responder, Responder) and responder.name == "model"
    a = responder.answer(CALL, CHART, settings())
    b = responder.answer(CALL, CHART, settings())
    assert a == b and len(a) > 0
    assert a.start == 4.0 and a.length == 8.0
    streamed = list(responder.stream(CALL, CHART, settings()))  # (answer = the stream fitted to span, range, pitches)
    assert fit_answer(streamed, settings()).notes == a.notes
    others = {responder.answer(CALL, CHART, settings(seed=s)).notes for s in range(5)}
    assert len(others) > 1


def test_prime_gives_the_same_answer_sooner():
    fresh = ModelResponder(tiny_model())
    want = [fresh.answer(c, CHART, settings()) for c in (CALL, LONG_CALL)]
    r = ModelResponder(tiny_model())
    for call, expected in ((CALL, want[0]), (LONG_CALL, want[1])):
        for k in range(1, len(call) + 1):  # the player plays note by note
            r.prime(Phrase(call.notes[:k], call.start, 0.0), CHART)
        assert r.answer(call, CHART, settings()) == expected
    r.prime(Phrase.of([(40, 0, 1)]), parse_chart("C7"))  # a different call: read afresh
    assert r.answer(CALL, CHART, settings()) == want[0]


def test_register_and_length_respected(responder):
    for seed in range(6):
        s = settings(seed=seed, low=60, high=67, length=6.0)
        notes = list(responder.stream(CALL, CHART, s))
        assert notes, "an answer has at least one note"
        assert all(60 <= n.pitch <= 67 for n in notes)
        assert all(0 <= n.start < 6.0 for n in notes)
        assert len(notes) <= TINY.max_answer


def test_density_setting_changes_the_number_of_notes(responder):
    def notes(d):
        return sum(len(responder.answer(CALL, CHART, settings(seed=s, length=16.0, density=d))) for s in range(8))
    assert notes(0.5) < notes(1.5) < notes(4.0)


def test_constraints(responder):
    opening = (Note(0.0, 61, 0.5, 94), Note(0.5, 63, 0.5, 81))
    s = settings(constraints=Constraints(opening=opening))
    notes = list(responder.stream(CALL, CHART, s))
    assert tuple(notes[:2]) == opening
    # the rest continues from the opening, not a fresh answer
    for seed in range(5):
        avoid = responder.answer(CALL, CHART, settings(seed=seed, constraints=Constraints(
            avoid_pcs=frozenset({0, 2, 4, 5, 7, 9, 11}), strength=1.0)))
        assert all(n.pitch % 12 in (1, 3, 6, 8, 10) for n in avoid.notes)
    fav = [n.pitch % 12 == 6 for seed in range(5) for n in responder.answer(
        CALL, CHART, settings(seed=seed, constraints=Constraints(favour_pcs=frozenset({6}), strength=1.0))).notes]
    base = [n.pitch % 12 == 6 for seed in range(5) for n in responder.answer(CALL, CHART, settings(seed=seed)).notes]
    assert sum(fav) / len(fav) > sum(base) / max(1, len(base))


def test_bad_inputs_never_raise(responder):
    nc = parse_chart("NC | NC")
    long_call = Phrase.of([(40 + i % 40, i * 0.25, 0.25) for i in range(300)])
    drums = Phrase.of([(36 + i % 3, i * 0.5, 0.1) for i in range(12)])
    for call, harmony in ((Phrase(), CHART), (Phrase.of([(60, 0, 1)]), CHART), (long_call, CHART),
                          (drums, CHART), (CALL, nc), (CALL, None)):
        ans = responder.answer(call, harmony, settings())
        assert 0 < len(ans) and all(48 <= n.pitch <= 84 for n in ans.notes)
    assert responder.answer(CALL, CHART, settings(length=0.0)).notes == ()
    assert len(responder.answer(CALL, CHART, settings(low=90, high=80))) > 0  # swapped range
    assert len(responder.answer(CALL, CHART, settings(temperature=0.0))) > 0  # greedy


def test_score_is_the_answer_nll(responder, monkeypatch):
    monkeypatch.setattr(responder, "cache_runs", 0)  # the network alone (the session cache: below)
    ans = Phrase.of([(64, 0, 0.5), (65, 0.5, 0.5)], start=8.0)
    total, n = score(responder, CALL, ans, CHART)
    assert n == 2 and total > 0
    longer = Phrase.of([(64, 0, 0.5), (65, 0.5, 0.5), (67, 1, 0.5)], start=8.0)
    assert score(responder, CALL, longer, CHART)[0] > total
    assert score(responder, CALL, Phrase(), CHART) == (0.0, 0)
    # scoring = teacher-forced decoding: the NLL of the first note equals -log p from the decoder
    m = torch_model(responder)
    steps, complete = pair_steps(CALL, ans, CHART, Controls(), 32, 32)
    with torch.no_grad():
        nll = m(*collate([(steps, complete)], call_weight=0.0))["nll"][0]
    assert abs(float(nll[len(steps) - 3:len(steps) - 1].sum()) - total) < 1e-4


def test_score_parts_split_each_note_into_its_four_parts(responder):
    ans = Phrase.of([(64, 0, 0.5), (65, 0.5, 0.5)], start=8.0)
    parts = score_parts(responder, CALL, ans, CHART)
    assert parts.shape == (2, 4) and (parts > 0).all()
    assert parts.sum() == pytest.approx(score(responder, CALL, ans, CHART)[0], abs=1e-4)
    assert score_parts(responder, CALL, Phrase(), CHART).shape == (0, 4)
    # the columns are shift, pitch, duration, velocity: another second pitch leaves the first
    # note and the second's onset gap as they were and changes its pitch's part
    other = score_parts(responder, CALL, Phrase.of([(64, 0, 0.5), (66, 0.5, 0.5)], start=8.0), CHART)
    assert np.allclose(other[0], parts[0], atol=1e-5) and other[1, 0] == pytest.approx(parts[1, 0], abs=1e-5)
    assert abs(other[1, 1] - parts[1, 1]) > 1e-3
    later = score_parts(responder, CALL, Phrase.of([(64, 0, 0.5), (65, 0.75, 0.25)], start=8.0), CHART)
    assert abs(later[1, 0] - parts[1, 0]) > 1e-3


def test_checkpoint_round_trip_and_errors(tmp_path):
    m = tiny_model(1)
    path = tmp_path / "m.pt"
    save_checkpoint(path, m, {"train_state": {"step": 3}})
    ck = torch.load(path, weights_only=True)
    assert ck["config"] == TINY.to_dict() and ck["train_state"]["step"] == 3
    loaded = load_responder(path)
    assert loaded.answer(CALL, CHART, settings()) == ModelResponder(m).answer(CALL, CHART, settings())
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(ModelError, match="bad.pt"):
        load_responder(bad)
    with pytest.raises(ModelError, match="nope.pt"):
        load_responder(tmp_path / "nope.pt")
    with pytest.raises(ModelError, match="improv export"):
        ModelResponder.load(path)  # the partner loads exported weights, not checkpoints
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="other.pt"):
        load_checkpoint(tmp_path / "other.pt")


SHIPPED_PT = DEFAULT_CHECKPOINT.with_suffix(".pt")
DEMO_CALLS = Path(__file__).resolve().parents[1] / "examples" / "demo_calls.mid"


def split_calls(notes: list[Note], gap: float = 1.0) -> list[Phrase]:
    """Notes in beats -> phrases, cut where a silence of `gap` beats begins."""
    calls: list[list[Note]] = []
    end = -1e9
    for n in notes:
        if not calls or n.start - end >= gap:
            calls.append([])
        calls[-1].append(n)
        end = max(end, n.end) if len(calls[-1]) > 1 else n.end
    out = []
    for c in calls:
        start = c[0].start
        out.append(Phrase(tuple(Note(n.start - start, n.pitch, n.duration, n.velocity) for n in c), start,
                          max(n.end for n in c) - start))
    return out


@pytest.mark.skipif(not SHIPPED_PT.exists(), reason="no training checkpoint beside the shipped weights")
def test_shipped_weights_answer_note_for_note_as_their_checkpoint():
    """The .npz the partner loads is the .pt it was exported from: same answers for fixed
    seeds, on the recorded demo calls, with and without the session so far."""
    from improv.core.formats.miditrack import read_midi_notes
    from improv.train.model import load_checkpoint

    ck = torch.load(SHIPPED_PT, weights_only=True)
    assert "optimizer" not in ck
    shipped, from_pt = ModelResponder.load(), load_responder(SHIPPED_PT)  # (the time feel travels in both)
    assert shipped.feel is not None and shipped.feel.to_dict() == from_pt.feel.to_dict()
    assert load_checkpoint(SHIPPED_PT)[0].cfg == shipped.cfg
    calls = split_calls(read_midi_notes(DEMO_CALLS))
    assert len(calls) >= 3
    history: tuple = ()
    for i, call in enumerate(calls):
        s = settings(start=call.start + call.length, length=8.0, seed=i, history=history)
        a = shipped.answer(call, CHART, s)
        assert a.notes and a == from_pt.answer(call, CHART, s)
        history = (*history, call, a)