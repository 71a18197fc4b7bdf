import pytest

from improv.core.band.comping import CompSettings, comp, pattern_weights, plan_bar
from improv.core.theory.chart import parse_chart
from improv.core.theory.voicings import guide_intervals

BLUES = parse_chart("F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7")
II_V = parse_chart("Dm7 | G7 | Cmaj7 | A7")


def _onsets(phrase):
    return sorted({round(n.start + phrase.start, 6) for n in phrase.notes})


def test_busier_player_means_sparser_comping():
    counts = []
    for density in (0.0, 1.0, 2.0, 4.0):
        ph, _ = comp(BLUES, 0, 48 * 10, seed=3, density=density)
        counts.append(len(_onsets(ph)))
    assert counts == sorted(counts, reverse=True) and counts[0] > 2.5 * counts[-1], counts
    assert counts[0] / 120 > 1.0  # a quiet soloist gets more than a stab a bar on average


def test_pattern_weights_shift_towards_rest():
    quiet, busy = pattern_weights(0.0), pattern_weights(3.0)
    share = lambda w, k: w[k] / sum(w.values())  # noqa: E731
    assert share(busy, "rest") > 3 * share(quiet, "rest")
    assert share(busy, "charleston") < share(quiet, "charleston") / 3


def test_each_stab_voices_the_chord_sounding_or_the_next_one_when_anticipating():
    s = CompSettings(anticipation=1.0)
    antic = 0
    for bar in range(48):
        for hit in plan_bar(II_V, bar, seed=7, settings=s):
            frac = hit.start % 4
            sounding, coming = II_V.chord_at(hit.start), II_V.chord_at((hit.start // 4 + 1) * 4)
            if frac == 3.5:
                assert hit.chord == coming and hit.duration > 0.5  # tied over the barline
                antic += 1
            else:
                assert hit.chord == sounding
    assert antic == 48  # every bar changes chord, anticipation 1.0: each bar anticipates


def test_anticipated_downbeat_is_not_played_again():
    s = CompSettings(anticipation=1.0)
    for bar in range(1, 24):
        assert all(h.start % 4 >= 1.5 for h in plan_bar(II_V, bar, seed=2, settings=s))


def test_the_bar_before_as_played_decides_whether_the_downbeat_was_played_early():
    """The band knows what the bar before held over the bar line (it was comped over the
    chart as it stood then): told, the plan follows it rather than the chart."""
    s = CompSettings(anticipation=1.0)
    one_chord = parse_chart("Dm7 | % | % | %")
    for bar in range(1, 16):
        assert plan_bar(II_V, bar, 2, settings=s, prev_anticipated=True) == plan_bar(II_V, bar, 2, settings=s)
        assert plan_bar(one_chord, bar, 5, settings=s, prev_anticipated=False) == plan_bar(one_chord, bar, 5,
                                                                                            settings=s)
        told = {h.start for h in plan_bar(II_V, bar, 2, settings=s, prev_anticipated=False)}
        assert told >= {h.start for h in plan_bar(II_V, bar, 2, settings=s)}  # the pattern, its downbeat kept
    assert any(min(t) < 1.5 for t in ([h.start % 4 for h in plan_bar(II_V, b, 2, settings=s, prev_anticipated=False)]
                                      for b in range(1, 16)))


def test_no_anticipation_when_the_chord_does_not_change():
    one_chord = parse_chart("Dm7 | % | % | %")
    s = CompSettings(anticipation=1.0)
    for bar in range(16):
        assert all(h.start % 4 != 3.5 for h in plan_bar(one_chord, bar, seed=5, settings=s))


def test_voicings_hold_the_guide_tones_of_their_chord():
    ph, last = comp(BLUES, 0, 96, seed=11)
    assert ph.notes and last is not None
    by_onset: dict[float, set[int]] = {}
    for n in ph.absolute():
        by_onset.setdefault(n.start, set()).add(n.pitch % 12)
    for t, pcs in by_onset.items():
        chord = BLUES.chord_at(t + 0.5) if t % 1 == 0.5 else BLUES.chord_at(t)  # off-beats anticipate
        third, seventh = guide_intervals(chord)
        assert {(chord.root + third) % 12, (chord.root + seventh) % 12} <= pcs, (t, str(chord))


def test_span_in_pieces_equals_span_whole_and_is_deterministic():
    whole, last = comp(BLUES, 0, 96, seed=4, density=0.5)
    a, prev = comp(BLUES, 0, 48, seed=4, density=0.5)
    b, last2 = comp(BLUES, 48, 96, seed=4, density=0.5, prev=prev)
    assert whole.absolute() == a.absolute() + b.absolute() and last == last2
    assert comp(BLUES, 0, 96, seed=4, density=0.5)[0] == whole
    assert comp(BLUES, 0, 96, seed=5, density=0.5)[0] != whole


def test_notes_stay_inside_the_span_start_and_do_not_overlap_the_next_stab():
    ph, _ = comp(BLUES, 8, 40, seed=9)
    assert ph.start == 8 and ph.length == 32
    assert all(0 <= n.start < 32 for n in ph.notes)
    onsets = _onsets(ph)
    for n in ph.absolute():
        later = [o for o in onsets if o > n.start]
        if later:
            assert n.start + n.duration <= later[0] + 1e-9


def test_an_anticipation_is_not_struck_again_when_the_player_got_busier_in_between():
    """The live band comps bar by bar with the player's density of the moment: the bar after
    an anticipation must judge it by the density that bar was planned with (before: the
    downbeat chord sounded twice, the second note-on over the held first, 84 of 6,400 bars)."""
    s = CompSettings(anticipation=0.6)
    twice = 0
    for seed in range(40):
        for bar in range(11):
            for before, after in ((0.0, 3.0), (3.0, 0.0)):
                a = plan_bar(BLUES, bar, seed, before, s)
                b = plan_bar(BLUES, bar + 1, seed, after, s, prev_density=before)
                anticipated = any(abs(h.start - (4 * bar + 3.5)) < 1e-6 for h in a)
                twice += anticipated and any(abs(h.start - 4 * (bar + 1)) < 1e-6 for h in b)
    assert twice == 0
    # bar by bar through comp(), as the band renders: no pitch is struck while it still sounds
    prev, density, notes = None, 0.0, []
    for bar in range(24):
        d = 3.0 * (bar % 2)
        ph, prev = comp(BLUES, 4 * bar, 4 * bar + 4, 7, d, prev, s, prev_density=density)
        notes += [(ph.start + n.start, ph.start + n.end, n.pitch) for n in ph.notes]
        density = d
    for s0, e0, p in notes:
        assert not any(p == q and s0 < s1 < e0 - 1e-6 for s1, _, q in notes), (s0, p)


def test_a_waltz_is_comped_in_three_inside_its_bars():
    """In 3/4 the comp drew the 4/4 patterns cut to three beats: no bar was comped on 2 and
    3 (the waltz's "pah-pah" behind the bass's 1), and a held chord (3.5 beats), a stab on 3
    (1.5) or the reverse Charleston's last stab rang on over the bar line into the next bar.
    Now only an anticipation of the next bar's chord (on the "and" of 3) is tied over."""
    waltz = parse_chart("Cmaj7 | % | Dm7 | G7 | Em7 | A7 | Dm7 | G7", 3)
    two_three = downbeats = 0
    for seed in range(6):
        for bar in range(32):
            hits = plan_bar(waltz, bar, seed)
            starts = {round(h.start - 3 * bar, 6) for h in hits}
            two_three += {1.0, 2.0} <= starts
            downbeats += 0.0 in starts
            for h in hits:
                if h.start + h.duration > 3 * (bar + 1) + 1e-9:  # over the bar line: an anticipation only
                    assert h.start - 3 * bar == 2.5 and h.chord == waltz.chord_at(3 * (bar + 1)), (seed, bar, h)
    assert two_three >= 10 and downbeats >= 48, (two_three, downbeats)
    # through comp() bar by bar, as the band renders: still nothing over the bar line but an anticipation
    prev = None
    for bar in range(32):
        ph, prev = comp(waltz, 3 * bar, 3 * bar + 3, 4, 0.0, prev, CompSettings(anticipation=0.0))
        assert all(n.end <= 3 * bar + 3 + 1e-9 for n in ph.absolute()), bar


def test_a_bar_of_two_keeps_its_stabs_inside_it():
    """A 2/4 bar drew the 4/4 patterns as well: a held chord of 3.5 beats rang through the
    whole next bar."""
    two = parse_chart("C | % | F | G7", 2)
    for seed in range(6):
        for bar in range(24):
            for h in plan_bar(two, bar, seed, settings=CompSettings(anticipation=0.0)):
                assert h.start + h.duration <= 2 * (bar + 1) + 1e-9, (seed, bar, h)


@pytest.mark.parametrize("bpb, groups", [(5, (3, 2)), (6, (3, 3)), (7, (4, 3))])
def test_a_long_bar_is_comped_in_groups_of_beats(bpb, groups):
    """A 5/4 (or 6/4, 7/4) bar drew the 4/4 patterns cut to its first four beats: its fifth
    beat and on were never comped but by an anticipation (Take Five's vamp lost its second
    half). Now each group of beats (3 + 2 in 5/4) draws its own pattern: every group's first
    beats are comped in some bars, no stab rings into the next group's beats but by its
    pattern, and nothing over the bar line but an anticipation."""
    from improv.core.band.comping import beat_groups

    assert beat_groups(bpb) == groups and beat_groups(4) == (4,) and beat_groups(3) == (3,)
    chart = parse_chart(" | ".join(["Cm7", "F7", "Bbmaj7", "Ebmaj7"]), bpb)
    last_group = bpb - groups[-1]
    in_last = 0
    for seed in range(6):
        for bar in range(32):
            for h in plan_bar(chart, bar, seed, settings=CompSettings(anticipation=0.0)):
                rel = h.start - bar * bpb
                in_last += last_group - 1e-9 <= rel < bpb - 0.5
                assert h.start + h.duration <= bpb * (bar + 1) + 1e-9, (seed, bar, h)
    assert in_last >= 40, in_last
