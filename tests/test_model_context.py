"""The phrase model reads the solo (or session) so far: history steps, training windows,
priming the history between calls, and the session's memory of its phrases."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from improv.commands.common import TRAIN_INSTALL

# Training-side tests: on a lean install (no torch) the whole module skips, saying how to add it.
torch = pytest.importorskip("torch", reason=f"needs torch (the train extra): {TRAIN_INSTALL}")

from improv.core.theory.chart import parse_chart
from improv.core.model.decoder import NumpyDecoder
from improv.train.model import collate
from improv.core.model.inputs import (
    ANSWER, CALL, CALL_NOTES, END, SEP, START, Controls, call_steps, context_steps, session_steps, window_steps,
)
from improv.core.model.responder import ModelResponder
from improv.train.scoring import score
from improv.core.theory.notes import Phrase
from improv.core.respond.base import AnswerSettings, SessionMemory
from improv.core.formats.wjazzd import call_answer_pairs, load_solos, phrase_runs
from tests.test_model import MINI, TINY, tiny_model

CHART = parse_chart("Dm7 G7 | Cmaj7 | %")
A = Phrase.of([(62, 0, 0.5), (65, 0.5, 0.5), (69, 1, 1)], start=0.5)
B = Phrase.of([(67, 0, 0.5), (65, 0.5, 0.5), (64, 1.5, 1)], start=5.0)
CALL_PHRASE = Phrase.of([(72, 0, 0.5), (71, 0.5, 0.5), (69, 1, 0.5), (67, 1.5, 1)], start=9.5)


def kinds(steps) -> list[int]:
    return [s[0] for s in steps]


def settings(**kw) -> AnswerSettings:
    return AnswerSettings(**{"start": 13.0, "length": 8.0, "seed": 5, **kw})


def test_history_reads_as_answers_after_the_first_phrase():
    steps = session_steps([A, B], CALL_PHRASE, CHART, 192)
    assert kinds(steps) == [START, CALL, CALL, CALL, SEP, ANSWER, ANSWER, ANSWER, SEP] + [ANSWER] * 4
    # onsets land where the notes are on the timeline: B's SEP on beat 5, its notes after it
    assert steps[4][5] == (5 * 12) % 48 and steps[5][1] == 0 and steps[6][1] == 6
    # no history: exactly the single-call steps the model always read
    assert session_steps([], CALL_PHRASE, CHART, 192) == call_steps(CALL_PHRASE, CHART, CALL_NOTES)
    assert context_steps([CALL_PHRASE], CHART, 64) == call_steps(CALL_PHRASE, CHART, 64)


def test_history_budget_does_not_depend_on_the_call():
    long_history = [Phrase.of([(60 + i % 5, j * 0.25, 0.25) for j in range(12)], start=i * 4.0) for i in range(30)]
    head = session_steps(long_history, Phrase(), CHART, 96)
    with_call = session_steps(long_history, CALL_PHRASE, CHART, 96)
    assert with_call[:len(head)] == head  # so the history can be read before the call comes
    notes = sum(1 for s in with_call if s[0] in (CALL, ANSWER))
    assert notes == 96 - CALL_NOTES + len(CALL_PHRASE)  # the most recent history notes fill its share
    big_call = Phrase.of([(60 + i % 7, i / 4, 0.25) for i in range(100)], start=130.0)
    assert sum(1 for s in session_steps([], big_call, CHART, 192) if s[0] == CALL) == CALL_NOTES


def test_window_notes_before_each_sep_predict_the_end_of_their_phrase():
    steps, complete = window_steps([A, B, CALL_PHRASE], CHART, [Controls()] * 3, 32)
    assert complete and kinds(steps).count(SEP) == 2
    ints, chords, prev, weight = collate([(steps, complete)], call_weight=0.5)[:4]
    targets = ints[0, 1:, 0].tolist()
    for t, nk in enumerate(targets):
        here = steps[t][0] if t < len(steps) else END
        if nk == SEP:  # a note before a SEP: END of its phrase, weighed as its phrase
            assert weight[0, t] == (0.5 if here == CALL else 1.0)
        elif nk == CALL:
            assert weight[0, t] == 0.5
        elif nk in (ANSWER, END):
            assert weight[0, t] == 1.0
    out = tiny_model()(ints, chords, prev, weight)
    assert torch.isfinite(out["loss"])
    # without a call, the window opens on an answer from the chords alone
    steps, _ = window_steps([A, B], CHART, [Controls()] * 2, 32, first_is_call=False)
    assert kinds(steps)[:2] == [START, SEP] and CALL not in kinds(steps)
    # a phrase longer than max_answer ends the window, with no END to predict
    steps, complete = window_steps([A, B, CALL_PHRASE], CHART, [Controls()] * 3, 2)
    assert not complete and kinds(steps).count(SEP) == 1


def test_pairs_carry_the_solo_so_far_and_windows_cover_every_answer():
    solos = load_solos(MINI)
    for solo in solos:
        runs = phrase_runs(solo)
        pairs = call_answer_pairs(solo)
        assert len(pairs) == sum(len(r) - 1 for r in runs)
        for p in pairs:
            run = next(r for r in runs if p.answer in r)
            i = run.index(p.answer)
            assert p.call is run[i - 1] and p.history == tuple(run[:i - 1])
    from improv.train.data import PairData
    from improv.train.trainer import TrainConfig

    data = PairData(MINI, log=lambda s: None)
    runs = data.train_runs + data.valid_runs
    tcfg = TrainConfig(window_notes=40, augment=False, call_dropout=0.0)
    seqs = data.windows(runs, TINY, tcfg, random.Random(0))
    answers = sum(kinds(s).count(SEP) for s, *_ in seqs)
    assert answers == sum(len(r) - 1 for r, *_ in runs)  # every phrase but a run's first is answered once
    assert max(sum(1 for k in kinds(s) if k in (CALL, ANSWER)) for s, *_ in seqs) <= 40 + 64


def test_written_key_keeps_windows_untransposed():
    from improv.train.data import PairData
    from improv.train.trainer import TrainConfig

    data = PairData(MINI, log=lambda s: None)
    runs = (data.train_runs + data.valid_runs) * 4

    def pitches(tcfg):
        seqs = data.windows(runs, TINY, tcfg, random.Random(0))
        return [[s[2] for s in steps if s[0] in (CALL, ANSWER)] for steps, *_ in seqs]

    written = pitches(TrainConfig(window_notes=40, augment=False, call_dropout=0.0))
    assert pitches(TrainConfig(window_notes=40, written_key=1.0, call_dropout=0.0)) == written
    moved = pitches(TrainConfig(window_notes=40, written_key=0.0, call_dropout=0.0))
    assert len(moved) == len(written) and moved != written  # windows go to other keys
    assert {len(a) for a in moved} == {len(a) for a in written}


def test_numpy_read_matches_step_by_step():
    m = tiny_model()
    dec = NumpyDecoder(m)
    steps = session_steps([A, B], CALL_PHRASE, CHART, 192)
    h0 = [np.zeros(TINY.d_model, np.float32)] * TINY.n_layers
    out, h = None, h0
    for s in steps:
        out, h = dec.step(s[:9], s[9], h)
    got, hg = dec.read(steps, h0)
    assert got.shape == (len(steps), TINY.d_model) and np.allclose(got[-1], out, atol=1e-5) and all(np.allclose(a, b, atol=1e-5) for a, b in zip(hg, h))


def test_history_changes_the_answer_and_priming_it_does_not():
    history = (A, B)
    cfg = replace(TINY, max_call=96)  # room for 32 notes of history besides the call
    fresh = ModelResponder(tiny_model(cfg=cfg))
    with_history = fresh.answer(CALL_PHRASE, CHART, settings(history=history))
    without = fresh.answer(CALL_PHRASE, CHART, settings())
    assert with_history != without  # the model hears what came before
    primed = ModelResponder(tiny_model(cfg=cfg))
    memory = SessionMemory()
    memory.add(A, B)
    memory.prime(primed, CHART)  # read the history while the player plays
    assert primed.answer(CALL_PHRASE, CHART, memory.with_history(settings())) == with_history
    s_fresh, n = score(fresh, CALL_PHRASE, B, CHART, history=(A,))
    assert n == len(B) and s_fresh != score(fresh, CALL_PHRASE, B, CHART)[0]
    small = ModelResponder(tiny_model())  # max_call 32: all of it for the call, none for history
    assert small.answer(CALL_PHRASE, CHART, settings(history=history)) == small.answer(CALL_PHRASE, CHART, settings())


def test_a_call_read_ahead_leaves_only_its_last_notes_and_a_wrong_one_the_call():
    cfg = replace(TINY, max_call=96)
    fresh = ModelResponder(tiny_model(cfg=cfg))
    want = fresh.answer(CALL_PHRASE, CHART, settings(history=(A, B)))
    r = ModelResponder(tiny_model(cfg=cfg))
    reads = []
    real_read = r.decoder.read
    r.decoder.read = lambda steps, h, *a: reads.append(len(steps)) or real_read(steps, h, *a)
    memory = SessionMemory()
    memory.add(A, B)
    memory.prime(r, CHART)  # after the last answer
    opening = Phrase(CALL_PHRASE.notes[:3], CALL_PHRASE.start, 1.5)
    memory.prime(r, CHART, opening)  # as the player plays: the call's first three notes
    reads.clear()
    assert r.answer(CALL_PHRASE, CHART, memory.with_history(settings())) == want
    assert reads == [1]  # only the call's last note was left to read
    memory.prime(r, CHART, Phrase.of([(40, 0, 1)], start=9.5))  # a call that then went otherwise
    reads.clear()
    assert r.answer(CALL_PHRASE, CHART, memory.with_history(settings())) == want
    assert reads == [1 + len(CALL_PHRASE)]  # its SEP and notes, after the history read between calls
    reads.clear()  # under another chord the session so far would be read again: a read-ahead skips it
    most = 1 + len(CALL_PHRASE)  # the call's SEP and notes
    assert not r.prime(CALL_PHRASE, parse_chart("C7"), memory.phrases, max_read=most) and reads == []
    assert r.prime(CALL_PHRASE, CHART, memory.phrases, max_read=most) and reads == [most]
    r.forget()
    reads.clear()
    assert r.answer(CALL_PHRASE, CHART, memory.with_history(settings())) == want and reads[0] > 10


def test_a_resumed_call_read_ahead_reads_the_history_its_answer_reads():
    """A call that resumes the phrase remembered last (the free jam's phrase played on before
    its answer began) holds it whole, and its answer's history leaves that phrase out
    (`with_history`); read ahead, it was read after that phrase all the same, and the answer,
    finding nothing read that it began with, read the whole session again at the call's end."""
    cfg = replace(TINY, max_call=96)
    want = ModelResponder(tiny_model(cfg=cfg)).answer(CALL_PHRASE, CHART, settings(history=(A, B)))
    r = ModelResponder(tiny_model(cfg=cfg))
    reads = []
    real_read = r.decoder.read
    r.decoder.read = lambda steps, h, *a: reads.append(len(steps)) or real_read(steps, h, *a)
    memory = SessionMemory()
    memory.add(A, B, Phrase(CALL_PHRASE.notes[:2], CALL_PHRASE.start, 1.0))  # the call's first breath
    memory.prime(r, CHART, Phrase(CALL_PHRASE.notes[:3], CALL_PHRASE.start, 1.5))  # played on: its first three notes
    reads.clear()
    assert r.answer(CALL_PHRASE, CHART, memory.with_history(settings(), CALL_PHRASE)) == want
    assert reads == [1]  # only the call's last note was left to read


def test_a_long_session_is_read_through_its_window_and_its_licks_remembered_whole():
    """The model reads the most recent notes of a long session (the same steps as reading it
    all), its session cache the rest too (`Before`): every pitch once, the pitch runs as if
    read in one go. The answer is the same read fresh, after an earlier answer in the
    session, and primed; and it hears the phrases before the window."""
    from improv.core.model.copying import CopyIndex
    from improv.core.model.responder import NOTHING_BEFORE

    cfg = replace(TINY, max_call=96)  # 32 notes of history in the window
    rng = random.Random(7)
    history = tuple(Phrase.of([(rng.choice([60, 62, 64, 65, 67, 69, 71, 72]), 0.5 * i, 0.5) for i in range(6)],
                              start=4.0 * k) for k in range(30))
    call = Phrase.of([(n.pitch, n.start, n.duration) for n in CALL_PHRASE.notes], start=122.0)
    r = ModelResponder(tiny_model(cfg=cfg))
    steps, before = r._session(call, CHART, history)
    assert steps == session_steps(history, call, CHART, cfg.max_call)  # (the whole history read as ever)
    runs, cut = before
    read = [s[2] for s in steps if s[0] in (CALL, ANSWER)]
    assert runs.n + len(cut) + len(read) == 6 * 30 + len(call.notes)
    whole = CopyIndex(0, 0, pitch_runs=r.cache_runs)
    whole.extend((n.pitch, 6) for p in (*history, call) for n in p.notes)
    index = r.new_index(before)
    index.read(steps)
    assert index.pitch_cache() == pytest.approx(whole.pitch_cache())

    want = [ModelResponder(tiny_model(cfg=cfg)).answer(call, CHART, settings(start=126.0, seed=s, history=history))
            for s in range(4)]
    grown = ModelResponder(tiny_model(cfg=cfg))
    grown.answer(call, CHART, settings(start=126.0, history=history[:20]))  # earlier in the session
    memory = SessionMemory(keep=64)
    memory.add(*history)
    memory.prime(grown, CHART)  # the session so far, between calls
    memory.prime(grown, CHART, Phrase(call.notes[:3], call.start, 1.5))  # the call, read ahead
    assert [grown.answer(call, CHART, memory.with_history(settings(start=126.0, seed=s))) for s in range(4)] == want
    window_only = ModelResponder(tiny_model(cfg=cfg))
    window_only.cache_whole = False  # (the cache of the notes the model reads alone)
    assert [window_only.answer(call, CHART, settings(start=126.0, seed=s, history=history)) for s in range(4)] != want
    short = ModelResponder(tiny_model(cfg=cfg))
    assert short._session(call, CHART, history[-3:])[1] == NOTHING_BEFORE  # (all of it in the window)


def test_the_cache_keeps_the_phrases_the_partners_memory_let_go():
    """The partner remembers its last phrases (`SESSION_PHRASES`); the cache's runs, grown as
    the session goes on, keep the ones it let go (not built again each answer once the
    memory is full), and are built afresh for another session."""
    cfg = replace(TINY, max_call=96)
    r = ModelResponder(tiny_model(cfg=cfg))
    memory = SessionMemory(keep=12)
    phrases = [Phrase.of([(60 + (k * 7 + i) % 12, 0.5 * i, 0.5) for i in range(8)], start=4.0 * k) for k in range(40)]
    runs = []
    for k, p in enumerate(phrases):
        memory.add(p)
        if k >= 8:
            memory.prime(r, CHART)
            runs.append(r._history_steps[6][0])
    last = runs[-1]
    assert last is not None and all(x is last for x in runs[1:])  # (grown, never built again)
    read = sum(1 for s in r._steps(Phrase(), CHART, memory.phrases) if s[0] in (CALL, ANSWER))
    assert last.n + len(r._history_steps[6][1]) + read == 8 * 40  # every note of the session, once
    n = last.n
    for back in (1, 3, 0):  # (a resumed call's answer reads all but the phrase it resumes; then all again)
        r.prime(Phrase(), CHART, memory.phrases[:len(memory.phrases) - back])
        assert r._history_steps[6][0] is last and last.n == n  # (the same runs: not built again, nor grown)
    memory.add(Phrase.of([(61 + i, 0.5 * i, 0.5) for i in range(8)], start=4.0 * 40))
    memory.prime(r, CHART)
    assert r._history_steps[6][0] is last and last.n > n  # (and grown again as the session goes on)
    other = tuple(Phrase.of([(n.pitch, n.start, n.duration) for n in p.notes], start=p.start) for p in phrases[8:20])
    r.prime(Phrase(), CHART, other)  # (the same notes in another session: other phrases)
    assert r._history_steps[6][0] is not last and r._history_steps[6][0].n < last.n


def test_the_partners_cache_hears_every_phrase_of_a_session_longer_than_its_memory():
    """Through the partner, as the jam asks: after more calls and answers than the partner
    keeps (`SESSION_PHRASES`), the model's cache still counts every note of the session once
    (the runs before the window, the start of the window's first phrase, the window)."""
    from improv.core.embrace.strategies import EmbraceSettings
    from improv.core.respond.base import SESSION_PHRASES
    from improv.partner.core import PartnerCore
    from improv.partner.protocol import Job

    r = ModelResponder(tiny_model(cfg=replace(TINY, max_call=96)))
    core = PartnerCore(r)
    played = 0
    for k in range(SESSION_PHRASES // 2 + 20):
        call = Phrase.of([(60 + (k * 5 + i) % 12, 0.5 * i, 0.5) for i in range(3 + k % 4)], start=16.0 * k)
        res = core.answer(Job(k + 1, call, CHART, AnswerSettings(start=16.0 * k + 8, length=4.0, seed=k),
                              EmbraceSettings(mode="off")))
        core.after(CHART)
        played += len(call.notes) + len(res.answer.notes)
    assert len(core.memory.phrases) == SESSION_PHRASES
    runs, cut = r._history_steps[6]
    read = sum(1 for s in r._steps(Phrase(), CHART, core.memory.phrases) if s[0] in (CALL, ANSWER))
    assert runs.n + len(cut) + read == played


def test_session_memory_keeps_the_last_phrases_with_notes():
    memory = SessionMemory(keep=3)
    memory.add(A, Phrase(), B)
    assert memory.phrases == (A, B)
    memory.add(CALL_PHRASE, A)
    assert memory.phrases == (B, CALL_PHRASE, A)
    assert memory.with_history(settings()).history == (B, CALL_PHRASE, A)
    memory.clear()
    assert memory.phrases == () and replace(settings(), history=()).history == ()


def test_attention_readout_numpy_matches_torch_and_the_model_decodes():
    cfg = replace(TINY, max_call=96, attention_heads=4)
    m = tiny_model(cfg=cfg)
    dec = NumpyDecoder(m)
    steps = session_steps([A, B], CALL_PHRASE, CHART, 96)
    ints = torch.tensor([[list(s[:9]) for s in steps]])
    chords = torch.tensor([[s[9] for s in steps]])
    with torch.inference_mode():
        o, _ = m.rnn(m.embed(ints, chords))
        want = m.attn(o)[0]
    h0 = [np.zeros(cfg.d_model, np.float32)] * cfg.n_layers
    cache = dec.new_cache(4)  # grows as needed
    xs, h = dec.read(steps[:-3], h0)
    got = dec.attend(xs, cache)
    assert np.allclose(got, want[len(steps) - 4].numpy(), atol=1e-4)
    for i, s in enumerate(steps[-3:]):  # then one step at a time, as decoding does
        x, h = dec.step(s[:9], s[9], h)
        got = dec.attend(x[None], cache)
        assert np.allclose(got, want[len(steps) - 3 + i].numpy(), atol=1e-4)
    r = ModelResponder(m)
    a = r.answer(CALL_PHRASE, CHART, settings(history=(A, B)))
    assert len(a) > 0 and a == r.answer(CALL_PHRASE, CHART, settings(history=(A, B)))
    r.prime(Phrase(), CHART, (A, B))
    assert r.answer(CALL_PHRASE, CHART, settings(history=(A, B))) == a
    ints_t, chords_t, prev, weight = collate([(steps, True)])[:4]
    assert torch.isfinite(m(ints_t, chords_t, prev, weight)["loss"])


def test_end_is_held_back_until_most_of_the_span(monkeypatch):
    import improv.core.model.next_note as nn

    m = tiny_model()
    with torch.no_grad():
        m.o_shift.out.bias[-1] += 4.0  # END: this model likes to stop early...
    r = ModelResponder(m)

    def ends(hold_nats: float) -> float:
        monkeypatch.setattr(nn, "END_HOLD_NATS", hold_nats)
        early = 0
        for seed in range(30):
            a = r.answer(CALL_PHRASE, CHART, settings(seed=seed, length=16.0))
            early += not a.notes or a.notes[-1].start < nn.END_HOLD * 16.0 - 2.0
        return early / 30

    free = ends(0.0)
    assert free > 0.2
    assert ends(6.0) < free / 2  # ...but an answer lasts most of the bars it was given


def test_the_model_reads_a_pianists_call_as_its_line():
    """The left hand's voicings under the line (and its chord struck after it) are not read as
    notes of the call or the history: the answer went on from the chord's top, in its register."""
    line = [(72, 0, .5), (74, .5, .5), (76, 1, .5), (79, 1.5, .5), (77, 2, .5), (72, 2.5, 1.0)]
    lh = [(p, 0, 1.9) for p in (50, 53, 57, 60)] + [(p, 4, 2.0) for p in (48, 52, 55, 59)]
    played, heard = Phrase.of(line + lh, start=4.0), Phrase.of(line, start=4.0)
    model = ModelResponder(tiny_model(cfg=replace(TINY, max_call=96)))
    assert model._steps(played, CHART, (A, played), tempo=120.0) == model._steps(heard, CHART, (A, heard), tempo=120.0)
    assert model.answer(played, CHART, settings(history=(A,))) == model.answer(heard, CHART, settings(history=(A,)))
