"""The tempo follower on synthetic playing (straight, swung, syncopated, speeding up, slowing
down, in two) and on real phrases of WJazzD solos played as recorded."""

import random
from pathlib import Path

import numpy as np
import pytest

from improv.core.listen.onset_template import NextOnset, NoteLength, OnsetTemplate, fit_band
from improv.core.listen.tempo import PADS_RECENT_S, BeatEstimate, TempoFollower, TempoSettings

# ../shared beside the repository (a worktree under wt/ finds it one level further up)
_HERE = Path(__file__).resolve()
REAL = next((p / "shared" / "data" / "wjazzd-solos.tar.gz" for p in (_HERE.parents[2], _HERE.parents[3])
             if (p / "shared" / "data" / "wjazzd-solos.tar.gz").exists()),
            _HERE.parents[2] / "shared" / "data" / "wjazzd-solos.tar.gz")


def swung(bpm, bars, ratio=0.62, t0=1.0, seed=0, jitter=0.008, skip=()):
    """Swung eighths (beat, then `ratio` of a beat later), bars of 4 beats; beats in `skip`
    (by index within the bar) are rests."""
    period, rnd, out = 60.0 / bpm, random.Random(seed), []
    for b in range(4 * bars):
        if b % 4 in skip:
            continue
        for off in (0.0, ratio):
            out.append(t0 + (b + off) * period + rnd.gauss(0, jitter))
    return out


def hear(onsets, settings=None):
    f = TempoFollower(settings)
    for t in onsets:
        f.add(t, 80)
    return f


def phase_error(est, t0, bpm):
    """Distance (beats) from the estimate's grid to the true beats at t0 + k * period."""
    period = 60.0 / bpm
    return abs(((est.beat_time_s - t0) / period + 0.5) % 1.0 - 0.5)


@pytest.mark.parametrize("bpm", [100, 160, 220, 280])
def test_swung_eighths_give_the_tempo_and_the_beat(bpm):
    f = hear(swung(bpm, 6))
    est = f.estimate()
    assert est.bpm == pytest.approx(bpm, rel=0.03)
    assert phase_error(est, 1.0, bpm) <= 0.1
    assert est.confidence > 0.3


def test_syncopation_and_rests_are_the_normal_case():
    # Beat 2 and 4 rested every bar, an anticipation of beat 1 held over, at 180 bpm.
    bpm, period, rnd = 180.0, 60.0 / 180.0, random.Random(3)
    onsets = []
    for bar in range(8):
        b = 4 * bar
        onsets += [1.0 + (b + x) * period + rnd.gauss(0, 0.008) for x in (0.0, 0.62, 2.0, 2.62, 3.62)]
    est = hear(onsets).estimate()
    assert est.bpm == pytest.approx(bpm, rel=0.03)
    assert phase_error(est, 1.0, bpm) <= 0.1


def test_a_straight_line_is_heard_at_its_tempo_or_in_double_time_on_its_beats():
    # Straight eighths with a long note on beat 1 of every bar: quarter notes at 120 are
    # also eighths at 240; either is right, with a beat on each of the player's.
    period, onsets = 0.5, []
    for bar in range(8):
        onsets += [1.0 + (4 * bar + x) * period for x in (0, 1, 1.5, 2, 2.5, 3, 3.5)]
    est = hear(onsets).estimate()
    ratio = est.bpm / 120.0
    assert min(abs(ratio - 1), abs(ratio - 2)) <= 0.03
    grid = est.period_s
    assert abs(((est.beat_time_s - 1.0) / grid + 0.5) % 1.0 - 0.5) <= 0.1


def test_feeling_a_fast_line_in_two_or_at_its_tempo():
    est = hear(swung(290, 8, ratio=0.55)).estimate()
    ratio = est.bpm / 290.0
    assert min(abs(ratio - 1), abs(ratio - 0.5)) <= 0.03


@pytest.mark.parametrize("factor", [1.08, 1 / 1.08])
def test_follows_an_accelerando_and_a_ritardando(factor):
    # 8 bars at 170 bpm, then the tempo moves smoothly by 8 % over 16 bars.
    onsets, t, bpm, rnd = [], 1.0, 170.0, random.Random(5)
    for beat in range(4 * 24):
        frac = min(1.0, max(0.0, (beat - 32) / 64))
        bpm_now = bpm * (1 + (factor - 1) * frac)
        period = 60.0 / bpm_now
        onsets += [t + rnd.gauss(0, 0.006), t + 0.62 * period + rnd.gauss(0, 0.006)]
        t += period
    est = hear(onsets).estimate()
    assert est.bpm == pytest.approx(bpm * factor, rel=0.03)
    steady = hear([x for x in onsets[:64]]).estimate()
    assert steady.bpm == pytest.approx(bpm, rel=0.03)


def test_a_first_guess_settles_an_ambiguous_call():
    # Four quarter notes: 90 bpm or 180? The first guess decides; with no guess, either octave.
    onsets = [1.0 + k * (60 / 90) for k in range(4)]
    assert hear(onsets, TempoSettings(first_guess=180)).estimate().bpm == pytest.approx(180, rel=0.03)
    assert hear(onsets, TempoSettings(first_guess=90)).estimate().bpm == pytest.approx(90, rel=0.03)
    # ...but a guess is not a constraint: a long clear line at another tempo wins.
    est = hear(swung(200, 8), TempoSettings(first_guess=130)).estimate()
    assert est.bpm == pytest.approx(200, rel=0.03)


def test_it_holds_its_estimate_through_silence_and_confidence_decays():
    f = hear(swung(150, 6))
    last = swung(150, 6)[-1]
    at_end = f.estimate(last)
    later = f.estimate(last + 30.0)
    assert later.bpm == at_end.bpm
    assert later.confidence < at_end.confidence
    # the beat it gives is the grid's last beat before now
    assert later.beat_time_s <= last + 30.0 < later.beat_time_s + later.period_s + 1e-9
    assert phase_error(later, 1.0, 150) <= 0.1


def test_confidence_grows_with_agreeing_onsets():
    onsets = swung(200, 8)
    few, many = hear(onsets[:4]).estimate(), hear(onsets).estimate()
    assert 0.0 <= few.confidence < many.confidence <= 1.0


def test_nothing_heard_gives_the_first_guess_with_no_confidence():
    assert TempoFollower(TempoSettings(first_guess=133)).estimate(5.0) == BeatEstimate(133, 5.0, 0.0)
    assert TempoFollower().estimate().confidence == 0.0


def test_chords_and_note_offs_are_one_event_and_bad_input_is_named():
    f = TempoFollower()
    for t, v in [(1.0, 80), (1.01, 70), (1.02, 90), (1.2, 0)]:
        f.add(t, v)
    assert f.onsets == 1
    f.add(0.5)  # out of order: counts with the last event
    assert f.onsets == 1
    with pytest.raises(ValueError, match="finite"):
        f.add(float("nan"))
    with pytest.raises(ValueError, match="outside"):
        TempoSettings(first_guess=500)


def test_reset_forgets():
    f = hear(swung(200, 4))
    f.reset()
    assert f.onsets == 0 and f.estimate().confidence == 0.0


def test_note_lengths_tell_the_beat_from_the_off_beat():
    # Straight eighths at 200 bpm: the onsets alone fit the beat and the off-beat equally;
    # the notes on the beat are held (0.8 beat), the off-beats clipped (0.25 beat).
    period = 0.3
    notes = [(1.0 + k * period / 2, 0.8 * period if k % 2 == 0 else 0.25 * period) for k in range(48)]
    with_lengths = TempoFollower()
    for t, d in notes:  # note-on, then note-off with the same onset and its length
        with_lengths.add(t, 80)
        with_lengths.add(t, 80, d)
    est = with_lengths.estimate()
    assert with_lengths.onsets == 48
    assert min(abs(est.bpm / 200 - 1), abs(est.bpm / 400 - 1)) <= 0.03
    # nearer the held notes than the clipped ones (the learned template puts the beat a little
    # before the onsets, and expects swung off-beats, so not exactly on them)
    assert abs(((est.beat_time_s - 1.0) / period + 0.5) % 1.0 - 0.5) < 0.25
    flipped = TempoFollower()  # the same onsets with the lengths the other way round: the other phase
    for k, (t, d) in enumerate(notes):
        flipped.add(t, 80, 0.25 * period if k % 2 == 0 else 0.8 * period)
    other = flipped.estimate()
    assert abs(((other.beat_time_s - 1.0 - period / 2) / period + 0.5) % 1.0 - 0.5) < 0.25


def test_a_release_counts_once_per_event():
    f = hear(swung(160, 2))
    before = f._post.copy()
    f.add(0.2, 80, 0.3)  # an onset long forgotten: nothing
    assert (f._post == before).all()
    last = swung(160, 2)[-1]
    f.add(last, 80, 0.2)
    once = f._post.copy()
    f.add(last + 0.01, 80, 0.5)  # another note of the same chord released: nothing more
    assert (f._post == once).all() and f.onsets == len(swung(160, 2))
    with pytest.raises(ValueError, match="finite"):
        f.add(last, 80, float("inf"))


def test_estimate_grid_round_trip():
    est = BeatEstimate(150.0, 2.0, 0.5)
    assert est.period_s == 0.4
    for t in (0.0, 2.0, 3.37):
        assert est.time_of(est.beats_since(t)) == pytest.approx(t)
    assert est.next_beat(2.1) == pytest.approx(2.4) and est.next_beat(2.4) == pytest.approx(2.4)


def test_template_shapes_and_fit():
    template = OnsetTemplate.load()
    bpm = np.array([80.0, 160.0, 300.0])
    dens = template.density(bpm, (np.arange(40) + 0.5) / 40)
    assert dens.shape == (3, 40) and (dens > 0).all()
    assert dens.mean(axis=1) == pytest.approx([1.0, 1.0, 1.0], rel=0.02)  # a density over the beat
    assert np.argmax(dens[1]) in range(0, 6)  # the beat (a little late) is the likeliest place
    again = OnsetTemplate.from_dict(template.to_dict())
    assert np.allclose(again.density(bpm, [0.1, 0.6]), template.density(bpm, [0.1, 0.6]), atol=1e-3)
    # EM finds a planted mixture: on-beat onsets 20 ms late, swung off-beats at 0.62.
    rnd = np.random.default_rng(0)
    period = np.full(3000, 0.3)
    x = np.concatenate([rnd.normal(0.02 / 0.3, 0.03, 1500), rnd.normal(0.62, 0.05, 1000), rnd.random(500)]) % 1.0
    fit = fit_band(x, period, 200.0)
    assert fit.lag == pytest.approx(0.067, abs=0.02) and fit.offbeat == pytest.approx(0.62, abs=0.02)
    assert fit.weights[0] > fit.weights[1] > fit.weights[2]
    phases = np.concatenate([np.zeros(500), np.full(500, 0.5)])
    held = NoteLength.fit(phases, np.concatenate([np.full(500, 0.8), np.full(500, 0.25)]))
    on, off = NoteLength.bin_of(np.array([0.8, 0.25]))
    assert held.ratio[0, on] > 1 > held.ratio[0, off] and held.ratio[10, off] > 1 > held.ratio[10, on]
    swing = NextOnset.fit(np.zeros(500), np.full(500, 0.62))
    assert swing.density[0, NextOnset.bin_of(np.array([0.62]))[0]] > swing.density[0, NextOnset.bin_of(np.array([1.0]))[0]]


@pytest.mark.skipif(not REAL.exists(), reason="the WJazzD tar.gz is not in ../shared/data")
def test_real_solos_played_as_recorded():
    from improv.bench.follow import play_solo, _calls
    from improv.bench.human import load_human

    # Every validation solo at 110-260 bpm (30 of them), its first 32 bars played as recorded,
    # no tempo given: after the first two calls, the tempo (or half or double it) is heard
    # within 3 % in 86 % of the calls (192 of 223); a slip below 80 % is a regression.
    # (Ballads, the follower's weak spot, are left out here; the bench reports them.)
    solos = [s for s in load_human(REAL, "valid") if 110 <= s.tempo <= 260]
    assert len(solos) >= 20, "the validation split changed: pick the solos again"
    rows = [r for s in solos for r in play_solo(s, _calls(s, 0, 32))[2:]]
    share = sum(r["tempo_ok"] for r in rows) / len(rows)
    assert share >= 0.8, f"tempo heard in {share:.0%} of later calls"


def _phrases_with_a_run(straight: bool) -> TempoFollower:
    """At 120 bpm, first guess 120: two bars of eighths, a bar of sixteenths, then two more
    phrases of eighths, each phrase followed by the two bars a partner answers in."""
    f, t, rnd = TempoFollower(TempoSettings(first_guess=120.0)), 1.0, random.Random(3)
    for step, bars in ((0.5, 2), (0.25, 1), (0.5, 2), (0.5, 2)):
        for k in range(int(4 * bars / step)):
            pos = k * step
            if step == 0.5 and not straight and pos % 1:
                pos += 0.12  # the swung off-beat
            on = t + pos * 0.5 + rnd.uniform(-0.01, 0.01)
            f.add(on, 80, 0.4 * step)
        t += (4 * bars + 9) * 0.5
    return f


def test_a_run_of_sixteenths_in_a_swung_line_is_not_a_tempo_change():
    assert _phrases_with_a_run(straight=False).estimate().bpm == pytest.approx(120.0, rel=0.03)


@pytest.mark.xfail(strict=True, reason=(
    "known gap: learned from swing soloists, the follower hears straight eighths at 120 as quarter notes at "
    "240 once a run of sixteenths tips it there (README 'In your time': --tempo 120 --no-follow for straight "
    "playing); strict, so a follower that comes back to 120 says so here"))
def test_a_run_of_sixteenths_in_a_straight_line_is_not_a_tempo_change():
    assert _phrases_with_a_run(straight=True).estimate().bpm == pytest.approx(120.0, rel=0.03)


def test_a_trill_is_an_ornament_not_a_tempo_change():
    """A one-second trill at 14 notes a second between phrases of swung eighths at 120 took
    the follower to 180 (1.5 times) for most of the line after it: its notes are now heard from
    the pitches (A B A B...) as one ornament; a note released is weighed as the live path
    gives it (its onset at the note-on, its length at the note-off)."""
    rnd = random.Random(2)

    def line(t0, beats):
        return [(t, 60 + i % 7) for i, t in enumerate(swung(120, beats // 4, t0=t0, seed=3, skip=(3,)))]

    before = line(0.5, 32)
    trill = [(before[-1][0] + 0.4 + k / 14 + rnd.gauss(0, 0.004), 72 + k % 2) for k in range(14)]
    after = line(trill[-1][0] + 0.2, 32)
    f, off = TempoFollower(), 0
    for part in (before, trill, after):
        for t, pitch in part:
            f.add(t, 80, pitch=pitch)
            f.add(t, 80, 0.03 if part is trill else 0.15)
            if part is after:
                off += abs(f.estimate(t).bpm / 120 - 1) > 0.03
    assert off <= 6 and f.estimate().bpm == pytest.approx(120, rel=0.03)  # (a bar to settle: 46 of 48 before)
    assert f.onsets == len(before) + 3 + len(after)  # the trill's first three notes only


def groove(bpm, bars, t0=1.0, seed=0, jitter=0.012, every=(0, 1, 2, 3)):
    """A drummer's hits on the beats `every` (by index within the bar), scattered by `jitter` s."""
    period, rnd = 60.0 / bpm, random.Random(seed)
    return [t0 + b * period + rnd.gauss(0, jitter) for b in range(4 * bars) if b % 4 in every]


def keys_beside_pads(keys, hits, length=None):
    """A follower that heard the notes at `keys` (held `length` s, or length unknown) and the
    pad hits at `hits`, in time order."""
    f = TempoFollower()
    for kind, t in sorted([("key", t) for t in keys] + [("pad", t) for t in hits], key=lambda e: e[1]):
        if kind == "pad":
            f.hit(t)
        elif length is None:
            f.add(t, 80)
        else:
            f.add(t, 80, length, 61)
    return f


def at_a_level_of(est, bpm):
    """The estimate's tempo is `bpm`, or half or double it, within 3 %."""
    return min(abs(est.bpm / (bpm * k) - 1) for k in (0.5, 1.0, 2.0)) <= 0.03


@pytest.mark.parametrize("bpm, every", [(72, (0, 1, 2, 3)), (132, (1, 3)), (240, (0, 1, 2, 3))])
def test_a_groove_on_the_drum_pads_gives_the_tempo_and_the_beat_itself(bpm, every):
    """A drummer's hits are on the beat, not behind it as a soloist's notes: heard as notes
    (`add`), a groove put the beat early by the soloists' lag (on the validation solos with
    a groove beside them, the groove alone put the beat right in 44.6 % of calls, 94.6 % heard as
    hits: figures/pads-follow.json)."""
    f = TempoFollower()
    for t in groove(bpm, 6, every=every):
        f.hit(t)
    est = f.estimate()
    assert at_a_level_of(est, bpm), est
    assert phase_error(est, 1.0, bpm) <= 0.05, phase_error(est, 1.0, bpm)
    assert f.pads_in_time > 0.9


def test_pads_struck_now_and_then_barely_move_the_beat_of_the_keys():
    """Stray hits (a crash, a sample) fit no beat: the follower soon takes the pads as struck
    anywhere and weighs them little; the keys' tempo and beat stand. Weighed as a groove's
    hits at full weight, strays moved the beat (a scratch run while choosing the settings)."""
    rnd = random.Random(3)
    keys = swung(168, 8)
    strays = sorted(rnd.uniform(1.0, keys[-1]) for _ in range(14))
    f = keys_beside_pads(keys, strays)
    est = f.estimate()
    assert est.bpm == pytest.approx(168, rel=0.03) and phase_error(est, 1.0, 168) <= 0.1
    assert f.pads_in_time < 0.2


@pytest.mark.parametrize("seed", range(4))
def test_beside_a_groove_on_the_pads_the_beat_is_the_pads_not_the_keys(seed):
    """A snare on 2 and 4 at 120 bpm and a swung line beside it that starts on the and of
    each beat: the keys alone would put the beat half a beat off. Notes count less as far as
    the pads are found to keep time (`_note_weight`), so the beat is the pads'. Every note
    counting in full, it was 0.40-0.44 beat off at each of these seeds."""
    bpm = 120
    keys = swung(bpm, 8, t0=1.0 + 0.5 * 60 / bpm, seed=seed)
    f = keys_beside_pads(keys, groove(bpm, 8, every=(1, 3), seed=10 + seed), length=0.3)
    est = f.estimate()
    assert at_a_level_of(est, bpm), est
    assert phase_error(est, 1.0, bpm) <= 0.1, phase_error(est, 1.0, bpm)
    assert f.pads_in_time > 0.8


def test_notes_count_in_full_once_the_pads_stop():
    """The notes' weight comes back once no pad was struck for `PADS_RECENT_S`: a player who
    drummed a groove and went on with the keys alone is heard by the keys."""
    f = TempoFollower()
    for t in groove(120, 4):
        f.hit(t)
    last = groove(120, 4)[-1]
    assert f._note_weight(last + 0.5) < 0.5
    assert f._note_weight(last + PADS_RECENT_S + 0.1) == 1.0
    assert TempoFollower()._note_weight(1.0) == 1.0  # (no pad yet)


def test_a_hit_is_one_event_with_a_note_struck_with_it_and_bad_input_is_named():
    f = TempoFollower()
    f.add(1.0, 80)
    f.hit(1.01)  # (a kick under the note: the same event)
    f.hit(1.5, velocity=0)
    assert f.onsets == 1
    with pytest.raises(ValueError, match="finite number of seconds"):
        f.hit(float("nan"))
