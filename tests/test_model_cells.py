"""The phrase model's copy cells, tempo input and time feel: the index by hand, numpy
decoding against torch scoring note for note, training through them, and the responder
playing (and reading) with a feel."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from improv.commands.common import TRAIN_INSTALL

# on a lean install (no torch) the whole module skips, saying how to add it
torch = pytest.importorskip("torch", reason=f"needs torch (the train extra): {TRAIN_INSTALL}")

from improv.core.model.copying import CopyIndex
from improv.core.model.inputs import Controls, answer_steps
from improv.core.model.responder import ModelResponder
from improv.core.model.tokens import N_SHIFT
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Phrase
from improv.core.respond.base import AnswerSettings
from improv.train.model import PhraseModel, collate
from improv.train.scoring import score, score_parts
from tests.test_feel import toy
from tests.test_model import TINY, tiny_model

CELLS = replace(TINY, copy_pitch=3, copy_shift=2, tempo_edges=(100.0, 160.0, 220.0), attention_heads=2, max_call=96)
CHART = parse_chart("Dm7 G7 | Cmaj7 | %")
A = Phrase.of([(62, 0, 0.5), (65, 0.5, 0.5), (69, 1, 0.5), (67, 1.5, 1)], start=0.0)
CALL = Phrase.of([(74, 0, 0.5), (77, 0.5, 0.5), (81, 1, 0.5), (79, 1.5, 1)], start=4.0)
ANSWER_PHRASE = Phrase.of([(67, 0, 0.5), (70, 0.5, 0.5), (74, 1, 0.25), (72, 1.25, 0.75), (71, 2, 1)], start=8.0)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


def test_copy_index_by_hand():
    idx = CopyIndex(3, 2)
    for p, s in [(60, 0), (62, 6), (64, 6), (60, 12), (62, 6)]:  # +2 +2 -4 +2
        idx.push(p, s)
    f = idx.pitch_features()
    assert f.shape == (3, 49) and f.dtype == np.float32
    assert f[0, 24 + 2] == pytest.approx(np.log(2))  # after +2: +2 once, -4 once
    assert f[0, 24 - 4] == pytest.approx(np.log(2)) and f[0].sum() == pytest.approx(2 * np.log(2))
    assert f[1].sum() == 0  # (-4, +2) was never followed yet
    s = idx.shift_features()
    assert s.shape == (2, N_SHIFT) and s[0, 6] == pytest.approx(np.log(2)) and s[0, 12] == pytest.approx(np.log(2))
    assert s[1].sum() == 0  # (12, 6) was never followed yet
    c = idx.copy()
    c.push(64, 6)
    assert idx.pitch_features()[1].sum() == 0 and c.pitch_features()[0].sum() > 0


def numpy_nll(r: ModelResponder, call: Phrase, answer: Phrase, history: tuple, tempo: float | None) -> float:
    """The answer's NLL (nats) as the numpy decoder gives it, step by step as `stream` decodes."""
    dec, cfg = r.decoder, r.cfg
    band = cfg.tempo_band(tempo)
    steps = r._steps(call, CHART, history, to_grid=False)
    out, h, cache, index = r._context(steps, tempo=band)
    tail, _ = answer_steps(answer, CHART, Controls(), 64)
    x, h = dec.step(*(lambda s: (s[:9], s[9]))(tail[0]), h, band)
    out = dec.attend(x[None], cache)
    last = next(s[2] for s in reversed(steps) if s[2] < 128)
    total = 0.0
    for s in tail[1:]:
        shift, pitch, dur, vel, pos = s[1], s[2], s[3], s[4], s[5]
        total -= log_softmax(dec.shift_logits(out, index.shift_features()))[shift]
        g1 = dec.g1(out, shift, pos, s[9])
        total -= log_softmax(index.mix_pitch(dec.pitch_logits(g1, last, s[9], index.pitch_features())))[pitch]
        g2 = g1 + dec.t_pitch[pitch]
        total -= log_softmax(dec.dur_logits(g2))[dur]
        total -= log_softmax(dec.vel_logits(g2 + dec.t_dur[dur]))[vel]
        index.push(pitch, shift)
        last = pitch
        x, h = dec.step(s[:9], s[9], h, band)
        out = dec.attend(x[None], cache)
    return total


@pytest.mark.parametrize("tempo", [None, 120.0, 300.0])
def test_numpy_decoding_scores_as_torch(tempo):
    r = ModelResponder(tiny_model(cfg=CELLS))
    with torch.no_grad():  # gates that matter
        m = PhraseModel(CELLS)
    total, n = score(r, CALL, ANSWER_PHRASE, CHART, history=(A,), tempo=tempo)
    assert n == len(ANSWER_PHRASE)
    assert numpy_nll(r, CALL, ANSWER_PHRASE, (A,), tempo) == pytest.approx(total, rel=1e-4)
    assert m.n_params() > PhraseModel(TINY).n_params()


def test_the_session_cache_scores_a_lick_played_before_as_likelier(monkeypatch):
    """Scoring mixes the session cache into the pitch as decoding does (the parity test above
    checks them note for note): an answer that plays the history's lick again at its pitches
    is likelier with it, and only the pitch column moves."""
    r = ModelResponder(tiny_model(cfg=CELLS))
    again = Phrase.of([(n.pitch, n.start, n.duration) for n in A.notes], start=8.0)
    with_cache = score_parts(r, CALL, again, CHART, history=(A,))
    monkeypatch.setattr(r, "cache_runs", 0)
    alone = score_parts(r, CALL, again, CHART, history=(A,))
    assert with_cache[:, 1].sum() < alone[:, 1].sum() - 0.5
    assert np.allclose(np.delete(with_cache, 1, axis=1), np.delete(alone, 1, axis=1))


def test_the_session_cache_scores_a_lick_from_before_the_window_as_likelier(monkeypatch):
    """The lick played at the session's start, then more notes than the model reads: played
    again it scores likelier with the whole session in the cache than with the window's notes
    alone (decoding: `test_model_responder`); only the pitch column moves."""
    r = ModelResponder(tiny_model(cfg=CELLS))  # (32 notes of history in its window)
    later = tuple(Phrase.of([(60 + (i * 5 + k) % 12, 0.5 * i, 0.5) for i in range(8)], start=4.0 + 4.0 * k)
                  for k in range(10))
    history = (A, *later)
    call = Phrase.of([(n.pitch, n.start, n.duration) for n in CALL.notes], start=44.0)
    again = Phrase.of([(n.pitch, n.start, n.duration) for n in A.notes], start=48.0)
    assert r._session(call, CHART, history)[1][0].seen[[n.pitch for n in A.notes]].sum() >= len(A.notes)
    whole = score_parts(r, call, again, CHART, history=history)
    monkeypatch.setattr(r, "cache_whole", False)
    window = score_parts(r, call, again, CHART, history=history)
    assert whole[:, 1].sum() < window[:, 1].sum() - 0.5
    assert np.allclose(np.delete(whole, 1, axis=1), np.delete(window, 1, axis=1))


def test_cells_and_tempo_change_the_scores_and_train():
    r = ModelResponder(tiny_model(cfg=CELLS))
    slow = score(r, CALL, ANSWER_PHRASE, CHART, history=(A,), tempo=90.0)[0]
    fast = score(r, CALL, ANSWER_PHRASE, CHART, history=(A,), tempo=300.0)[0]
    assert slow != pytest.approx(fast)
    steps = r._steps(CALL, CHART, (A,), to_grid=False) + answer_steps(ANSWER_PHRASE, CHART, Controls(), 64)[0]
    batch = collate([(steps, True, 200.0), (steps, True, None)], cfg=CELLS)
    assert batch.tempo.tolist() == [2, 4] and batch.copy_pitch.shape[2:] == (3, 49)
    assert batch.copy_shift.shape[2:] == (2, N_SHIFT) and batch.copy_pitch.sum() > 0
    torch.manual_seed(0)
    model = PhraseModel(CELLS).train()
    loss = model(*batch)["loss"]
    loss.backward()
    for name in ("o_copy_pitch.weight", "o_copy_shift.bias", "e_tempo.weight"):
        assert dict(model.named_parameters())[name].grad.abs().sum() > 0, name


def test_answers_with_cells_and_tempo_decode_and_prime():
    r = ModelResponder(tiny_model(cfg=CELLS))
    s = AnswerSettings(start=12.0, length=8.0, seed=2, history=(A,), tempo=200.0)
    a = r.answer(CALL, CHART, s)
    assert len(a) > 0 and a == r.answer(CALL, CHART, s)
    starts = [n.start for n in a.notes]
    assert len(set(starts)) == len(starts)  # no two notes start together in a line
    r.prime(Phrase(), CHART, (A,), tempo=200.0)
    assert r.answer(CALL, CHART, s) == a
    assert r.answer(CALL, CHART, replace(s, tempo=90.0)) != a  # another tempo band, another answer


def test_the_feel_plays_the_grid_answer_and_reads_played_calls():
    m = tiny_model()
    plain = ModelResponder(m)
    felt = ModelResponder(m, feel=toy(swing=0.1, lag=0.03, scale=0.02))
    s = AnswerSettings(start=12.0, length=8.0, seed=4, history=(A,), tempo=200.0)
    grid = plain.answer(CALL, CHART, s)
    assert felt.answer(CALL, CHART, replace(s, feel=0.0)) == grid  # no feel: the grid answer, note for note
    played = felt.answer(CALL, CHART, s)
    assert played == felt.answer(CALL, CHART, s) and len(played) == len(grid)
    assert [n.pitch for n in played.notes] == [n.pitch for n in grid.notes]
    assert all(0 <= n.start < 8.0 for n in played.notes)
    prior = ModelResponder(m, feel=toy(swing=0.1, lag=0.03, scale=0.02, follow=0.0)).answer(CALL, CHART, s)
    offs = [p.start - g.start for p, g in zip(prior.notes, grid.notes)]  # (nothing taken up from the session)
    assert len(offs) == len(grid) and np.mean(offs) > 0.01  # behind the beat, the off-beats later still
    starts = [n.start for n in played.notes]
    assert starts == sorted(starts)
    # a session played with the feel (history and call) is read onto the grid: the same
    # notes as from the written session, though the answer takes up the played feel
    def swing(p: Phrase) -> Phrase:
        return Phrase.of([(n.pitch, n.start + (0.1 if round(n.start * 2) % 2 else 0.0) + 0.03, n.duration)
                          for n in p.notes], start=p.start)

    swung = replace(s, history=(swing(A),))
    assert felt.answer(swing(CALL), CHART, swung).notes[0] != played.notes[0]
    assert [n.pitch for n in felt.answer(swing(CALL), CHART, swung).notes] == [n.pitch for n in played.notes]
    assert plain.answer(swing(CALL), CHART, swung) != plain.answer(CALL, CHART, s)  # without a feel: read apart


def test_the_feel_travels_with_the_weights(tmp_path, capsys):
    from improv.cli import main
    from improv.core.model.weights import load_weights, save_weights
    from improv.errors import ModelError
    from improv.train.model import save_checkpoint

    ckpt = tmp_path / "run.pt"
    save_checkpoint(ckpt, tiny_model(cfg=CELLS), {"feel": toy().to_dict()})
    assert main(["export", str(ckpt), "-o", str(tmp_path / "w.npz")]) == 0
    r = ModelResponder.load(tmp_path / "w.npz")
    assert r.feel is not None and r.feel.to_dict() == toy().to_dict() and r.cfg.copy_pitch == 3
    from improv.train.export import load_responder

    assert load_responder(ckpt).feel.to_dict() == toy().to_dict()  # a checkpoint carries it too
    mini = __import__("tests.test_model", fromlist=["MINI"]).MINI
    assert main(["export", str(ckpt), "-o", str(tmp_path / "v.npz"), "--feel-data", str(mini)]) == 0
    assert ModelResponder.load(tmp_path / "v.npz").feel.to_dict() != toy().to_dict()  # learned from that archive
    weights, header = load_weights(tmp_path / "w.npz")
    bad = dict(header["meta"], feel={"mean": [[0.0]]})
    save_weights(tmp_path / "bad.npz", weights, bad)
    with pytest.raises(ModelError, match="bad.npz.*time feel.*re-export"):
        ModelResponder.load(tmp_path / "bad.npz")


def test_a_played_call_read_ahead_leaves_only_its_last_note():
    from improv.core.respond.base import SessionMemory

    def swing(p: Phrase) -> Phrase:
        return Phrase.of([(n.pitch, n.start + (0.1 if round(n.start * 2) % 2 else 0.0) + 0.03, n.duration)
                          for n in p.notes], start=p.start)

    r = ModelResponder(tiny_model(cfg=CELLS), feel=toy(swing=0.1, lag=0.03, scale=0.02))
    call = swing(CALL)
    s = AnswerSettings(start=12.0, length=8.0, seed=4, tempo=200.0)
    want = ModelResponder(tiny_model(cfg=CELLS), feel=toy(swing=0.1, lag=0.03, scale=0.02)).answer(
        call, CHART, replace(s, history=(swing(A),)))
    reads = []
    real_read = r.decoder.read
    r.decoder.read = lambda steps, h, *a: reads.append(len(steps)) or real_read(steps, h, *a)
    memory = SessionMemory()
    memory.add(swing(A))
    r.answer(call, CHART, memory.with_history(s))  # (sets the session's tempo for what is read ahead)
    memory.prime(r, CHART)
    memory.prime(r, CHART, Phrase(call.notes[:3], call.start, 1.5))  # the call's opening, as it is played
    reads.clear()
    assert r.answer(call, CHART, memory.with_history(s)) == want
    assert reads == [1]  # each note is placed from the session's feel, not from the notes after it
