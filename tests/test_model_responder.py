"""The model partner as a user's lean install runs it: the shipped .npz weights, numpy only.

(The tests that build tiny models, train, or compare against the torch model are in
test_model.py and skip where torch is absent; these run everywhere.)
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pytest

from improv.core.model.copying import CACHE_WEIGHT
from improv.core.model.responder import DEFAULT_CHECKPOINT, ModelResponder
from improv.core.model.sampling import sample
from improv.core.model.weights import load_weights
from improv.core.respond.base import AnswerSettings, Constraints, Responder
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Note, Phrase
from improv.errors import ModelError

CHART = parse_chart("Dm7 G7 | Cmaj7 | %")
CALL = Phrase.of([(62, 0, 0.5), (65, 0.5, 0.5), (69, 1, 0.5), (72, 1.5, 0.5), (71, 2, 1)])
SHIPPED_PT = DEFAULT_CHECKPOINT.with_suffix(".pt")

shipped_only = pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason=f"no shipped weights at {DEFAULT_CHECKPOINT}")


def settings(**kw) -> AnswerSettings:
    return AnswerSettings(**{"start": 4.0, "length": 8.0, "seed": 3, **kw})


@pytest.fixture(scope="module")
def shipped() -> ModelResponder:
    if not DEFAULT_CHECKPOINT.exists():
        pytest.skip(f"no shipped weights at {DEFAULT_CHECKPOINT}")
    return ModelResponder.load()


def test_sample_respects_masks_and_top_p():
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 5.0, -np.inf, 4.9])
    got = {sample(logits, 1.0, 1.0, rng) for _ in range(200)}
    assert got <= {0, 1, 3} and 2 not in got
    assert {sample(logits, 1.0, 0.3, rng) for _ in range(50)} == {1}
    assert sample(logits, 0.0, 0.9, rng) == 1


@shipped_only
def test_shipped_weights_load_without_pickle_and_answer(shipped):
    w, header = load_weights(DEFAULT_CHECKPOINT)  # (np.load with allow_pickle=False)
    assert DEFAULT_CHECKPOINT.suffix == ".npz" and DEFAULT_CHECKPOINT.stat().st_size <= 20 * 2**20
    assert header["meta"]["exported_from"] == SHIPPED_PT.name and not any("optimizer" in k for k in w.arrays)
    ans = shipped.answer(CALL, CHART, settings(length=16.0))
    assert len(ans) > 0 and all(48 <= n.pitch <= 84 for n in ans.notes)


def test_the_partner_loads_without_torch(shipped):
    """Loading and answering never reaches for torch (the architecture test checks the imports;
    this checks the calls): with torch made unimportable, a fresh load still answers."""
    saved = sys.modules.get("torch", ...)
    sys.modules["torch"] = None  # type: ignore[assignment] - `import torch` now raises ImportError
    try:
        r = ModelResponder.load()
        assert r.answer(CALL, CHART, settings()) == shipped.answer(CALL, CHART, settings())
    finally:
        if saved is ...:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved


def test_same_seed_same_answer_and_streaming_matches(shipped):
    assert isinstance(shipped, Responder) and shipped.name == "model"
    a, b = shipped.answer(CALL, CHART, settings()), shipped.answer(CALL, CHART, settings())
    assert a == b and len(a) > 0 and (a.start, a.length) == (4.0, 8.0)
    streamed = list(shipped.stream(CALL, CHART, settings()))
    assert Phrase.of(streamed, start=4.0, length=8.0).notes == a.notes
    assert len({shipped.answer(CALL, CHART, settings(seed=s)).notes for s in range(4)}) > 1


def test_register_and_span_respected(shipped, monkeypatch):
    """Every pitch is drawn inside the register (the mask), not only folded into it after."""
    import improv.core.model.next_note as nn

    drawn = []

    def spy(logits, *a):
        i = sample(logits, *a)
        if len(logits) == 128:  # the pitch head (shift 98, duration 96, velocity 8 values)
            drawn.append(i)
        return i

    monkeypatch.setattr(nn, "sample", spy)
    for seed in range(4):
        notes = list(shipped.stream(CALL, CHART, settings(seed=seed, low=60, high=67, length=6.0)))
        assert notes and all(60 <= n.pitch <= 67 and 0 <= n.start < 6.0 for n in notes)
    assert drawn and all(60 <= p <= 67 for p in drawn), drawn


def test_the_register_mask_is_exactly_low_to_high():
    from improv.core.model.sampling import pitch_bias
    from improv.core.respond.base import Constraints

    for favour in (True, False):
        bias = pitch_bias(Constraints(favour_pcs=frozenset({0}), chord_pcs=frozenset({4}), chord_strength=1.0),
                          60, 67, favour)
        assert np.isfinite(bias[60:68]).all() and np.isneginf(np.delete(bias, range(60, 68))).all()
        assert bool(bias[60] > bias[61]) is favour and bool(bias[64] > bias[61]) is favour


def test_a_training_checkpoint_is_refused_with_the_export_command(tmp_path):
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"\x80\x02 not read")
    with pytest.raises(ModelError, match=r"improv export .*best\.pt"):
        ModelResponder.load(ckpt)


def test_a_busy_long_answer_fills_its_span(shipped):
    """An 8-bar answer asked for four notes a beat stopped at the training window's 64th
    note, about halfway, and was silent after. (A phrase may still end a bar or two early,
    as a soloist's does: one seed of twelve ends 5.6 beats before the span's end.)"""
    call = Phrase.of([(60 + (k * 5) % 17, 0.25 * k, 0.25) for k in range(64)])
    chart = parse_chart("Dm7 | G7 | Cmaj7 | A7")
    ends = [max(n.end for n in shipped.answer(call, chart, settings(start=16.0, length=32.0, seed=seed, density=4.0,
                                                                      tempo=160.0)).notes) for seed in range(5)]
    assert min(ends) > 24.0 and sorted(ends)[2] > 31.0, ends


def test_damaged_weights_are_one_line_naming_the_file_and_the_array(shipped, tmp_path):
    """One NaN loaded fine and played a stream of the lowest note; a pitch head one row
    short ended `respond` in a numpy traceback."""
    from improv.core.model.weights import ModelWeights, save_weights

    w, header = load_weights(DEFAULT_CHECKPOINT)
    nan = dict(w.arrays)
    nan["o_shift.out.bias"] = nan["o_shift.out.bias"].copy()
    nan["o_shift.out.bias"][5] = np.nan
    short = dict(w.arrays)
    short["o_pitch.out.weight"] = short["o_pitch.out.weight"][:-1]
    for name, arrays, said in (("nan", nan, "'o_shift.out.bias' holds NaN"), ("short", short, "do not fit")):
        path = save_weights(tmp_path / f"{name}.npz", ModelWeights(w.cfg, arrays), header.get("meta", {}))
        with pytest.raises(ModelError, match=said) as e:
            ModelResponder.load(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_bass_riff_in_the_bottom_octave_is_answered_as_a_call(shipped):
    """Every call below E2 was taken for drums: the answer was note for note the answer to
    silence."""
    riff = Phrase.of([(p, 0.5 * k, 0.5) for k, p in enumerate((28, 31, 33, 34, 35, 38, 36, 33))])
    silence = Phrase((), 0.0, 4.0)
    def pitches(call, seed):
        return [n.pitch for n in shipped.answer(call, CHART, settings(seed=seed, feel=0.0)).notes]

    assert sum(pitches(riff, seed) == pitches(silence, seed) for seed in range(4)) < 4


def test_the_model_hears_the_charts_bars_in_3_4():
    """Every bar was fed to the model as four beats: in 3/4 the downbeat of bar 2 read as
    beat 4 of a phantom 4/4 bar."""
    from improv.core.model.inputs import bar_pos
    from improv.core.model.tokens import TICKS_PER_BEAT

    waltz, five = parse_chart("C | F | G7 | C", 3), parse_chart("C | F", 5)
    assert [bar_pos(b * TICKS_PER_BEAT, waltz) for b in range(7)] == [0, 12, 24, 0, 12, 24, 0]
    assert [bar_pos(b * TICKS_PER_BEAT, None) for b in (0, 3, 4, 5)] == [0, 36, 0, 12]
    assert bar_pos(4 * TICKS_PER_BEAT, five) == 47 and bar_pos(5 * TICKS_PER_BEAT, five) == 0


def _longest_trill(pitches: list[int]) -> int:
    best = run = min(2, len(pitches))
    for k in range(2, len(pitches)):
        run = run + 1 if pitches[k] == pitches[k - 2] and pitches[k] != pitches[k - 1] else 2
        best = max(best, run)
    return best


def test_a_trilled_call_is_taken_up_but_the_trill_does_not_run_the_whole_answer(shipped):
    """Two bars of a Bb-C trill as the call and in the session: the model trilled 21-56 notes
    of every 4-bar answer (three answers running in a jam, over calls that no longer
    trilled). Soloists' answers have alternations of 12 notes or more in 0.4 % of phrases."""
    blues = parse_chart("F7 | Bb7 | F7 | F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7")
    trill = Phrase.of([(70 if k % 2 == 0 else 72, 0.25 * k, 0.25) for k in range(32)], start=4.0)
    runs = []
    for seed in range(8):
        s = AnswerSettings(start=12.0, length=16.0, seed=seed, tempo=140.0, history=(trill,))
        runs.append(_longest_trill([n.pitch for n in shipped.answer(trill, blues, s).notes]))
    assert max(runs) <= 20 and sorted(runs)[len(runs) // 2] <= 16, runs


def test_a_trading_answer_goes_on_into_the_last_bar_of_its_turn(shipped, monkeypatch):
    """`fill` (trading's `TURN_FILL`): the model does not end the answer while its notes start
    before the last quarter of the span (a 4-bar turn's fourth bar). In a live trading test at
    220 bpm the model ended after the 3-note motif the embrace plan opened with, and 3.5 bars
    of a 4-bar turn were silent; at 80-100 bpm it stopped a median 3.7 beats early.
    Here the model is made to want to stop after every note."""
    from improv.core.model.inputs import END_SHIFT
    from improv.partner.protocol import TURN_FILL

    shift_logits = shipped.decoder.shift_logits

    def eager_to_end(out, cells=None):
        logits = shift_logits(out, cells)
        logits[END_SHIFT] = logits.max() + 20.0
        return logits

    monkeypatch.setattr(shipped.decoder, "shift_logits", eager_to_end)
    for seed in range(3):
        free = shipped.answer(CALL, CHART, settings(length=16.0, seed=seed))
        turn = shipped.answer(CALL, CHART, settings(length=16.0, seed=seed, fill=TURN_FILL))
        assert len(free.notes) == 1  # (what the model wants here: one note and done)
        # bar 4 of the turn (the feel may play its first note there a little ahead of the beat, as a soloist would)
        assert turn.notes[-1].start >= 12.0 - 0.1, [n.start for n in turn.notes]


def test_the_answer_takes_the_time_feel_of_the_players_line_not_of_the_left_hand(shipped):
    """Left-hand shells played 30 ms behind a right-hand line on the grid: measured note by
    note, the chords' seven notes outweighed the line's six, and the answer was played about
    40 ms later than to the line alone."""
    from improv.core.theory.chart import parse_chart

    line = [(72, 0, .5), (74, .5, .5), (76, 1, .5), (79, 1.5, .5), (77, 2, .5), (72, 2.5, 1.0)]
    lh = [(p, 0.06, 1.9) for p in (50, 53, 57, 60)] + [(p, 2.06, 1.9) for p in (43, 53, 59)]
    played, heard = Phrase.of(line + lh, start=4.0), Phrase.of(line, start=4.0)
    chart = parse_chart("Dm7 | G7")
    for seed in range(3):
        s = AnswerSettings(start=8.0, length=4.0, seed=seed, tempo=120.0)
        assert shipped.answer(played, chart, s) == shipped.answer(heard, chart, s)


def test_missing_shipped_weights_say_to_reinstall_not_to_export(tmp_path):
    """An install that lost its shipped weights was told to `improv export CHECKPOINT.pt`,
    which a newcomer has no checkpoint for."""
    from improv.core.model.weights import SHIPPED_NAME, load_weights
    from improv.errors import ModelError

    with pytest.raises(ModelError, match="reinstall improv"):
        load_weights(tmp_path / SHIPPED_NAME)
    with pytest.raises(ModelError, match="export them"):
        load_weights(tmp_path / "mine.npz")


def test_a_register_given_high_to_low_or_past_the_keyboard_is_kept_to(shipped):
    """The responder read low 84, high 48 as the range 48-84, and then fitted its answer to
    the settings as given: every note was pushed to 84, one key hammered for the whole answer.
    A range reaching past 0-127 ended in a ValueError (a pitch of 139), or, wholly below 0,
    in a register mask of no note at all."""
    for seed in range(3):
        swapped = shipped.answer(CALL, CHART, settings(seed=seed, low=84, high=48))
        assert swapped == shipped.answer(CALL, CHART, settings(seed=seed, low=48, high=84))
        assert len({n.pitch for n in swapped.notes}) > 3
        for low, high, lo, hi in ((120, 140, 120, 127), (130, 140, 127, 127), (-10, -5, 0, 0), (-5, 10, 0, 10)):
            ans = shipped.answer(CALL, CHART, settings(seed=seed, low=low, high=high))
            assert ans.notes and all(lo <= n.pitch <= hi for n in ans.notes), (low, high, ans.pitches())


def _longest_repeat(pitches: list[int]) -> int:
    best = run = min(1, len(pitches))
    for a, b in zip(pitches, pitches[1:]):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


def test_a_call_of_one_repeated_note_is_taken_up_but_does_not_run_the_whole_answer(shipped):
    """Two bars of sixteenths on one key as the call: the model hammered that key 80-128
    times running, the whole 8-bar answer one note in most answers. Soloists' answers repeat
    a note 8 times running in 0.9 % of phrases, 12 times in 0.2 %, never more than 24."""
    call = Phrase.of([(60, 0.25 * k, 0.25) for k in range(32)], start=4.0)
    runs = []
    for seed in range(8):
        s = AnswerSettings(start=13.0, length=32.0, seed=seed, tempo=160.0, history=(call,))
        runs.append(_longest_repeat(shipped.answer(call, CHART, s).pitches()))
    assert max(runs) <= 24 and sorted(runs)[len(runs) // 2] <= 16, runs


def _longest_cell(pitches: list[int], k: int) -> int:
    best = run = min(k, len(pitches))
    for i in range(k, len(pitches)):
        run = run + 1 if pitches[i] == pitches[i - k] else k
        best = max(best, run)
    return best


@pytest.mark.parametrize("cell", [(60, 64, 67, 64), (60, 62, 64)], ids=["C-E-G-E", "C-D-E"])
def test_a_call_that_loops_a_cell_is_taken_up_but_the_loop_does_not_run_the_whole_answer(shipped, cell):
    """Two bars of sixteenths looping C-E-G-E (or C-D-E) as the call: the model looped the
    cell through the whole 8-bar answer, 80-128 notes of it, in most answers. In the
    soloists' answers a cell of four notes loops for 16 notes or more in 0.5 % of phrases,
    never past 36; one of three for 12 or more in 0.6 %, never past 47."""
    call = Phrase.of([(cell[k % len(cell)], 0.25 * k, 0.25) for k in range(32)], start=4.0)
    runs = []
    for seed in range(8):
        s = AnswerSettings(start=13.0, length=32.0, seed=seed, tempo=160.0)
        runs.append(_longest_cell(shipped.answer(call, CHART, s).pitches(), len(cell)))
    assert max(runs) <= 36 and sorted(runs)[len(runs) // 2] <= 24, runs


@pytest.mark.parametrize("lo, hi", [(35, 50), (100, 120)])
def test_a_soft_call_is_answered_softly_and_a_loud_one_loudly(shipped, lo, hi):
    """The model learned velocities on each solo's own scale (its loudness spread over 30-120),
    so it answered every touch alike: a call at 35-50 got a median of 62 and a tenth of its
    notes at 107, one at 100-120 a median of 94 with notes at 56. The answer is played in the
    call's dynamics, its own accents kept."""
    call = Phrase.of([(n.pitch, n.start, n.duration, (lo, hi, (lo + hi) // 2)[k % 3]) for k, n in enumerate(CALL.notes)])
    vels = sorted(n.velocity for s in range(8) for n in shipped.answer(call, CHART, settings(seed=s, tempo=120.0)).notes)
    centre = (lo + hi) / 2
    assert abs(vels[len(vels) // 2] - centre) <= 12, vels
    assert centre - 25 <= vels[len(vels) // 10] and vels[9 * len(vels) // 10] <= centre + 25, vels
    assert len(set(vels)) >= 4, vels  # (accents: not one velocity throughout)


@pytest.mark.parametrize("opening", [(), (Note(0.5, 72, 2.0, 90),)], ids=["decoded", "held-opening"])
def test_an_answer_played_as_written_is_one_line_no_note_sounding_under_the_next(shipped, opening):
    """With the timeline swung (`[timing] swing` other than 1: the ballad and uptempo presets)
    the answer is played as written (feel 0), and its notes kept their decoded lengths: a note
    written longer than the gap to the next one, or the held note an embraced opening gives,
    sounded on under the notes after it (41 % of such answers over the shipped tunes; a 72 held
    3.75 beats under the 70 two beats later). The time feel ends each note by the next one."""
    constraints = Constraints(opening=opening)
    for seed in range(8):
        ans = shipped.answer(CALL, CHART, settings(seed=seed, length=16.0, tempo=140.0, feel=0.0,
                                                   constraints=constraints))
        assert len(ans) > 2
        assert all(a.end <= b.start + 1e-9 for a, b in zip(ans.notes, ans.notes[1:])), (seed, ans.notes)
        if opening:
            first = ans.notes[0]  # (the opening as given, held up to the next note)
            assert (first.start, first.pitch, first.velocity) == (0.5, 72, 90)
            assert first.duration == pytest.approx(min(2.0, ans.notes[1].start - 0.5))


def test_a_next_note_wanted_past_the_span_ends_the_answer_not_crammed_into_its_last_beat(shipped, monkeypatch):
    """The shift head's share for onsets past the answer's span is the phrase ending there
    (END), not spread over the short gaps that still fit: the model ran into the span's end,
    a note was crammed into its last ticks and rang on to it (valid split, seed 0: 58 % of
    the answers held their last note to the span's end, the soloists' 13 %). Here the model
    wants its next note a beat after each one: the answer is quarters and ends on beat 7."""
    from improv.core.model.tokens import TICKS_PER_BEAT

    shift_logits = shipped.decoder.shift_logits

    def a_beat_later(out, cells=None):
        logits = shift_logits(out, cells)
        logits[TICKS_PER_BEAT] = logits[:-1].max() + 8.0
        return logits

    monkeypatch.setattr(shipped.decoder, "shift_logits", a_beat_later)
    for seed in range(6):
        a = shipped.answer(CALL, CHART, settings(length=8.0, seed=seed, feel=0.0))
        starts = [n.start for n in a.notes]
        assert all(abs(s - round(s)) < 1e-9 for s in starts), starts  # every note on a beat, none crammed in
        assert starts[-1] == 7.0 and a.notes[-1].end <= 8.0 + 1e-9


def test_the_session_cache_by_hand():
    """The pitch runs of the notes so far, blended from the shortest run up (PPM)."""
    from improv.core.model.copying import RUNS_BETA, CopyIndex

    idx = CopyIndex(0, 0, pitch_runs=2, cache_weight=0.25)
    assert idx.pitch_cache() is None  # no note yet
    for p in (60, 62, 64, 60, 62):
        idx.push(p, 6)
    seen = np.zeros(128)
    seen[[60, 62, 64]] = 2, 2, 1
    after = np.zeros(128)
    after[64] = 1  # (62) and (60, 62) were each followed by 64 once
    p0 = (seen + 1 / 128) / 6
    p1 = (after + RUNS_BETA * p0) / (1 + RUNS_BETA)
    p2 = (after + RUNS_BETA * p1) / (1 + RUNS_BETA)
    cache = idx.pitch_cache()
    assert cache == pytest.approx(p2) and cache.sum() == pytest.approx(1.0) and cache.argmax() == 64
    assert (cache > 0).all()  # nothing impossible
    logits = np.linspace(-3.0, 3.0, 128)
    mixed = np.exp(idx.mix_pitch(logits))
    net = np.exp(logits - logits.max())
    assert mixed == pytest.approx(0.75 * net / net.sum() + 0.25 * cache)
    assert idx.mixed_prob(float(net[64] / net.sum()), 64) == pytest.approx(mixed[64])  # (scoring's one pitch)
    c = idx.copy()
    c.push(64, 6)
    assert idx.pitch_cache() == pytest.approx(p2) and c.pitch_cache().argmax() != 64  # (64 is followed by 60)
    assert CopyIndex(3, 2).pitch_cache() is None  # no cache asked for


def test_the_session_before_the_window_counts_as_if_read_with_it():
    """An index that reads the session's earlier pitches as `before` (`PitchRuns`) gives the
    cache an index reading them all would, runs across the seam included; its cells (the
    model's features) read only its own notes; and `before` never changes under it."""
    from improv.core.model.copying import CopyIndex, PitchRuns

    rng = np.random.default_rng(3)
    earlier = [int(p) for p in rng.choice([60, 62, 63, 65, 67], size=40)]
    later = [(int(p), 6) for p in rng.choice([60, 62, 65, 67, 70], size=25)]
    whole = CopyIndex(3, 2, pitch_runs=4)
    whole.extend([(p, 6) for p in earlier] + later)
    for cut in (1, 3, 4, 17, 40):  # (fewer pitches before than the longest run, too)
        runs = PitchRuns(4)
        runs.extend(earlier[:cut // 2])
        runs.extend(earlier[cut // 2:cut])  # (grown in two goes, as the window moves on)
        idx = CopyIndex(3, 2, pitch_runs=4, before=runs)
        idx.remember(earlier[cut:])  # (a phrase's start the window cut off)
        own = CopyIndex(3, 2)
        for i, (p, s) in enumerate(later):
            idx.push(p, s)
            own.push(p, s)
            if i in (0, 1, 2, 10):
                c = idx.copy()  # (an answer's copy: pushing on it leaves the index as it was)
                c.push(61, 6)
        assert idx.pitch_cache() == pytest.approx(whole.pitch_cache()), cut
        assert (idx.pitch_features() == own.pitch_features()).all()
        assert (idx.shift_features() == own.shift_features()).all()
    assert CopyIndex(0, 0, pitch_runs=4, before=PitchRuns(4)).pitch_cache() is None  # (nothing played yet)


@shipped_only
def test_the_answer_takes_up_a_lick_from_the_session(shipped, monkeypatch):
    """A lick the player kept coming back to, at its pitches, comes back in the answers (the
    session cache, as the Continuator learns a player's licks): more often than from the
    network alone, which copies intervals, not pitches."""
    lick = (61, 66, 70, 73)  # (an odd one over these changes: the network alone seldom plays it)
    history = tuple(Phrase.of([(p, 0.5 * i, 0.5) for i, p in enumerate(lick)] + [(68, 2.0, 1.0)], start=-16.0 + 4 * k)
                    for k in range(3))

    def steps_of_the_lick(weight: float) -> int:
        monkeypatch.setattr(shipped, "cache_weight", weight)
        monkeypatch.setattr(shipped, "_primed", None)
        found = 0
        for seed in range(48):
            pitches = [n.pitch for n in shipped.answer(CALL, CHART, settings(seed=seed, history=history)).notes]
            found += sum(pair in set(zip(lick, lick[1:])) for pair in zip(pitches, pitches[1:]))
        return found

    alone, cached = steps_of_the_lick(0.0), steps_of_the_lick(CACHE_WEIGHT)
    assert cached >= alone + 5, (alone, cached)  # (0-2 steps of it alone, 7-14 with the cache, by the seeds)


@shipped_only
def test_a_lick_from_long_before_comes_back_too(shipped, monkeypatch):
    """The session cache remembers the whole session, not only the notes the model reads: a
    lick played three times at the start, then 40 bars of other lines (more notes than the
    model reads). An answer that comes to the lick's first note goes on with it, more often
    than with only what the model reads (scoring: `test_model_cells`)."""
    lick = (61, 66, 70, 73)
    early = tuple(Phrase.of([(p, 0.5 * i, 0.5) for i, p in enumerate(lick)] + [(68, 2.0, 1.0)], start=4.0 * k)
                  for k in range(3))
    rng = np.random.default_rng(0)  # then 40 bars of eighths up and down the C major scale
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]
    later = tuple(Phrase.of([(scale[j], 0.5 * i, 0.5) for i, j in enumerate(
        np.clip(np.cumsum(rng.choice([-1, 1], size=8)) + 5, 0, len(scale) - 1))], start=12.0 + 4.0 * k)
                  for k in range(40))
    history = early + later
    call = Phrase.of([(n.pitch, n.start, n.duration) for n in CALL.notes], start=172.0)
    assert not {n.pitch for h in later for n in h.notes} & set(lick)
    steps, (runs, cut) = shipped._session(call, CHART, history)
    assert not {s[2] for s in steps} & set(lick) and runs.seen[list(lick)].sum() == 12  # (before the window)

    def steps_of_the_lick(window_only: bool) -> int:
        monkeypatch.setattr(shipped, "cache_whole", not window_only)
        found = 0
        for seed in range(48):  # (an answer the plan opens on the lick's first note, as embrace does)
            s = settings(start=176.0, seed=seed, history=history)
            s = replace(s, constraints=replace(s.constraints, opening=(Note(0.0, lick[0], 0.5, 90),)))
            pitches = [n.pitch for n in shipped.answer(call, CHART, s).notes]
            found += sum(pair in set(zip(lick, lick[1:])) for pair in zip(pitches, pitches[1:]))
        return found

    whole, window = steps_of_the_lick(False), steps_of_the_lick(True)  # (switched on the same responder)
    assert whole >= window + 8, (window, whole)  # (3 steps of it with the window alone, 19 with the whole session)
