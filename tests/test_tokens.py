"""Tokens: exact round trip on hand cases and on all the real solos; transposition."""

from __future__ import annotations

from pathlib import Path

import pytest

from improv.core.model import tokens as T
from improv.core.theory.chords import parse_chord
from improv.core.theory.notes import Phrase

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "wjazzd-solos.tar.gz"

CASES = [
    Phrase.of([]),
    Phrase.of([(60, 0, 1)]),
    # swing eighths (8 ticks), triplets (4), sixteenths (3), a chord (shift 0), a long note
    Phrase.of([(60, 0, 2 / 3, 56), (62, 2 / 3, 1 / 3, 94), (64, 1, 1 / 3), (65, 4 / 3, 1 / 3), (67, 5 / 3, 0.25)], start=3.5),
    Phrase.of([(48, 0, 8, 120), (52, 0, 1, 30), (55, 7.75, 0.25 + 1 / 12)], start=10 + 1 / 3),
    Phrase.of([(127, 0, 1 / 12, 30), (0, 8, 1 / 12, 30)], start=0.25),
]


@pytest.mark.parametrize("phrase", CASES)
def test_round_trip_hand_cases(phrase):
    phrase = Phrase.of([(n.pitch, n.start, n.duration, T.snap_velocity(n.velocity)) for n in phrase.notes],
                       start=phrase.start)
    assert T.on_grid(phrase)
    toks = T.encode(phrase)
    assert len(toks) == 4 * len(phrase)
    assert all(T.SHIFT0 <= t < T.VOCAB_SIZE for t in toks)
    assert T.decode(toks, phrase.start) == phrase
    assert T.tokens_to_phrase(T.phrase_to_tokens(phrase), phrase.start) == phrase


def test_event_fields():
    p = Phrase.of([(60, 0, 0.5, 81), (64, 2 / 3, 1 / 3, 120)], start=4.25)
    ev = T.phrase_to_tokens(p)
    assert ev == [T.NoteToken(3, 60, 6, 4), T.NoteToken(8, 64, 4, 7)]  # lead 3 ticks into beat 4
    assert [T.token_name(t) for t in T.encode(p)[:4]] == ["shift:3", "pitch:60", "dur:6", "vel:4"]


def test_off_grid_is_rounded_and_clipped():
    p = Phrase.of([(60, 0.01, 20.0, 77), (61, 30.0, 0.001, 100)])
    assert not T.on_grid(p)
    ev = T.phrase_to_tokens(p)
    assert ev[0].dur == T.MAX_DUR_TICKS and ev[1].shift == T.MAX_SHIFT_TICKS and ev[1].dur == 1
    q = T.decode(T.encode(p), 0.0)
    assert T.on_grid(q) and T.decode(T.encode(q), 0.0) == q


def test_decode_rejects_malformed():
    with pytest.raises(ValueError):
        T.decode([T.SHIFT0, T.PITCH0 + 60, T.DUR0])
    with pytest.raises(ValueError):
        T.decode([T.PITCH0, T.SHIFT0, T.DUR0, T.VEL0])


def test_pair_tokens_and_velocities():
    call = Phrase.of([(60, 0, 1)], start=0)
    ans = Phrase.of([(62, 0, 1), (64, 1, 1)], start=2)
    ctx, tgt = T.pair_tokens(call, ans)
    assert ctx[0] == T.BOS and ctx[-1] == T.SEP and tgt[-1] == T.EOS and len(tgt) == 9
    assert T.snap_velocity(1) == 30 and T.snap_velocity(127) == 120
    assert all(T.snap_velocity(v) == v for v in T.VELOCITIES)


def test_transposition_moves_pitches_and_chords_together():
    p = Phrase.of([(60, 0, 1, 81), (124, 1, 1, 81), (3, 2, 1, 81)])
    ev = T.phrase_to_tokens(p)
    up = T.transpose_events(ev, 5)
    assert [e.pitch for e in up] == [65, 117, 8]
    assert [(e.shift, e.dur, e.vel) for e in up] == [(e.shift, e.dur, e.vel) for e in ev]
    assert T.tokens_to_phrase(up) == p.transpose(5)
    c = parse_chord("Dm7")
    f, g = T.chord_features(c), T.chord_features(c.transpose(5))
    assert len(f) == T.N_CHORD_FEATURES
    for block in range(3):
        a = f[12 * block:12 * block + 12]
        b = g[12 * block:12 * block + 12]
        assert b == a[-5:] + a[:-5]
    assert T.chord_features(None)[-1] == 1.0 and sum(T.chord_features(None)) == 1.0


@pytest.mark.skipif(not REAL.exists(), reason="the WJazzD tar.gz is not in ../shared/data")
def test_round_trip_on_every_real_phrase():
    from improv.core.formats.wjazzd import load_solos

    n = 0
    for solo in load_solos(REAL):
        for p in solo.phrases:
            assert T.decode(T.encode(p), p.start) == p, (solo.name, p.start)
            n += 1
    assert n > 8000
