import csv

import pytest

from improv.core.band.bass import (
    APPROACH_ICS,
    HIGH,
    LOW,
    BassSettings,
    WalkStats,
    interval_class,
    load_walk_stats,
    walk,
)
from improv.core.band.bass_learn import count, evaluate, learn, read_solos
from improv.core.theory.chart import parse_chart
from improv.core.theory.chords import parse_chord

BLUES = parse_chart("F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7")
RHYTHM = parse_chart("Bb6 G7 | Cm7 F7 | Dm7 G7 | Cm7 F7 | Fm7 Bb7 | Eb6 Ebm6 | Dm7 G7 | Cm7 F7")
STATS = [WalkStats.defaults(), load_walk_stats()]


def _line(chart, choruses=4, seed=1, stats=None):
    ph, _ = walk(chart, 0, chart.length * choruses, seed, settings=BassSettings(stats=stats))
    return {round(n.start + ph.start): n for n in ph.notes}


@pytest.mark.parametrize("stats", STATS, ids=["defaults", "learned"])
@pytest.mark.parametrize("chart", [BLUES, RHYTHM], ids=["blues", "rhythm"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_note_a_beat_chord_tone_on_each_chord_onset(chart, seed, stats):
    line = _line(chart, seed=seed, stats=stats)
    assert sorted(line) == list(range(int(chart.length * 4)))
    roots = onsets = 0
    for b, n in line.items():
        span = chart.span_at(b)
        if b % chart.length == span.start or b % 4 == 0:
            assert n.pitch % 12 in span.chord.chord_tones(), (b, str(span.chord), n.pitch)
        if b % chart.length == span.start:
            onsets += 1
            roots += n.pitch % 12 == span.chord.root
    assert roots / onsets >= 0.5  # the root on most chord onsets


@pytest.mark.parametrize("stats", STATS, ids=["defaults", "learned"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_last_note_before_a_change_approaches_by_step_or_fifth(seed, stats):
    line = _line(RHYTHM, seed=seed, stats=stats)
    checked = 0
    for b, n in line.items():
        span = RHYTHM.span_at(b)
        chorus = (b // RHYTHM.length) * RHYTHM.length
        nxt = RHYTHM.chord_at(span.end + chorus)
        if span.end + chorus - b == 1 and span.duration >= 2 and nxt != span.chord:
            assert interval_class(nxt.root - n.pitch) in APPROACH_ICS, (b, n.pitch, str(nxt))
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize("stats", STATS, ids=["defaults", "learned"])
def test_register_and_smoothness(stats):
    line = _line(BLUES, choruses=8, seed=5, stats=stats)
    pitches = [line[b].pitch for b in sorted(line)]
    assert LOW <= min(pitches) and max(pitches) <= HIGH
    leaps = [abs(a - b) for a, b in zip(pitches, pitches[1:])]
    assert max(leaps) <= 9 and sum(leaps) / len(leaps) <= 4.0
    assert sum(a == b for a, b in zip(pitches, pitches[1:])) / len(leaps) < 0.1  # it walks


def test_deterministic_and_continues_across_pieces():
    whole, last = walk(BLUES, 0, 96, seed=9)
    a, prev = walk(BLUES, 0, 40, seed=9)
    b, last2 = walk(BLUES, 40, 96, seed=9, prev=prev)
    assert whole.absolute() == a.absolute() + b.absolute() and last == last2
    assert walk(BLUES, 0, 96, seed=9)[0] == whole and walk(BLUES, 0, 96, seed=10)[0] != whole


def test_slash_bass_and_no_chord():
    ch = parse_chart("Cmaj7/E | NC | G7")
    line = _line(ch, choruses=2)
    assert line[0].pitch % 12 == 4 and line[12].pitch % 12 == 4
    assert not any(b % 12 in (4, 5, 6, 7) for b in line)  # silent under NC
    assert line[8].pitch % 12 in parse_chord("G7").chord_tones()


def test_learned_stats_file_is_shipped_and_says_where_it_comes_from():
    st = load_walk_stats()
    assert "ODbL" in st.source and st.source != "defaults"
    assert abs(sum(st.step) - 1) < 1e-3 and max(st.onset_degree["dom"]) == st.onset_degree["dom"][0]


def _fake_wjazzd(tmp_path):
    (tmp_path / "beats").mkdir()
    with open(tmp_path / "solo_info.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["melid", "solo", "rhythmfeel", "signature"])
        w.writerow([1, "A_Tune", "SWING", "4/4"])
        w.writerow([2, "B_Latin", "LATIN", "4/4"])
    rows = [("D-7", 38), ("D-7", 41), ("D-7", 45), ("D-7", 44), ("G7", 43), ("G7", 47), ("G7", 45), ("G7", 44),
            ("Cj7", 36), ("Cj7", 40), ("Cj7", 43), ("Cj7", 39)] * 3
    with open(tmp_path / "beats" / "A_Tune_beattrack.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["onset", "bar", "beat", "chord", "bass"])
        for i, (c, b) in enumerate(rows):
            w.writerow([i * 0.5, i // 4, i % 4 + 1, c, b])
    return tmp_path


def test_learn_counts_degrees_steps_and_approaches(tmp_path):
    solos = list(read_solos(_fake_wjazzd(tmp_path)))
    assert [s for s, _ in solos] == ["A_Tune"]  # the latin solo is left out
    h = count(solos[0][1])
    assert h["onset_degree"]["min"][0] == 3 and h["onset_degree"]["dom"][0] == 3
    assert h["approach"][interval_class(43 - 44) + 6] == 5  # Ab -> G, Eb -> D: half step from above
    st = learn(solos)
    assert st.onset_degree["maj"][0] == max(st.onset_degree["maj"])
    assert set(evaluate(solos * 5, seeds=1)) == {"defaults", "learned"}


HELD = parse_chart("Cmaj7 | Cmaj7 | Cmaj7 | Cmaj7 | A7 | A7 | Dm7 | Dm7 | G7 | G7 | G7 | G7")


@pytest.mark.parametrize("stats", STATS, ids=["defaults", "learned"])
def test_every_downbeat_of_a_chord_held_for_bars_is_a_chord_tone(stats):
    """A chord held for several bars still gets a chord tone on each bar's beat 1: a
    passing note there sounds like a wrong note against the comp."""
    downbeats = range(0, int(HELD.length * 2), 4)
    assert sum(b % HELD.length != HELD.span_at(b).start for b in downbeats) == 16  # inside a held chord
    for seed in range(1, 9):
        line = _line(HELD, choruses=2, seed=seed, stats=stats)
        for b in downbeats:
            span = HELD.span_at(b)
            assert line[b].pitch % 12 in span.chord.chord_tones(), (seed, b, str(span.chord), line[b].pitch)


@pytest.mark.parametrize("stats", STATS, ids=["defaults", "learned"])
@pytest.mark.parametrize("chart", [BLUES, RHYTHM], ids=["blues", "rhythm"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_approach_lands_on_the_root_it_approaches(chart, seed, stats):
    """The note before a change leads to the new root by a half or whole step or a fourth
    or fifth, and the change's downbeat is that root, as a bassist resolves an approach: the
    line went on to another chord tone a leap away (Db2 into Eb7 then G2, F#2 into Gm7 then D2)."""
    line = _line(chart, seed=seed, stats=stats)
    checked = 0
    for b, n in line.items():
        span = chart.span_at(b)
        chorus = (b // chart.length) * chart.length
        nxt = chart.chord_at(span.end + chorus)
        if span.end + chorus - b == 1 and b % chart.beats_per_bar and span.start + chorus < b and nxt != span.chord:
            land = line.get(b + 1)
            if land is None:
                continue
            to = n.pitch + interval_class(nxt.root - n.pitch)
            assert land.pitch == to or (land.pitch % 12 == to % 12 and not LOW <= to <= HIGH), (
                b, n.pitch, str(nxt), land.pitch)
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("stats", STATS, ids=["defaults", "learned"])
@pytest.mark.parametrize("chart", [BLUES, parse_chart("Dm7 | % | G7 | % | Cmaj7 | % | Bm7b5 | E7")],
                         ids=["blues", "two-bar-chords"])
def test_a_chromatic_note_inside_a_chord_is_a_passing_or_neighbour_note(chart, stats):
    """Between a chord's chord tones the line may pass chromatically, but a note outside the
    chord's scale is reached by a half or whole step and left by one, where the next beat
    is not the approach into a change: the line leapt to them (G1 B1 Ab1 over Gm7, B1 F#2 B2
    over F6), wrong notes to a bassist's ear."""
    checked = 0
    for seed in range(1, 9):
        checked += _passing_checked(chart, seed, stats)
    assert checked >= 5


def _passing_checked(chart, seed, stats):
    line = _line(chart, seed=seed, stats=stats)
    checked = 0
    for b in sorted(line)[1:-1]:
        span = chart.span_at(b)
        chorus = (b // chart.length) * chart.length
        if span.start + chorus == b or b % chart.beats_per_bar == 0 or span.end + chorus - b == 1:
            continue  # (onsets and downbeats take chord tones; the approach leads to the next root)
        p = line[b].pitch
        if p % 12 in span.chord.scale():
            continue
        assert abs(p - line[b - 1].pitch) <= 2, (b, str(span.chord), line[b - 1].pitch, p)
        if span.end + chorus - b > 2:  # (the next beat is inside the chord too)
            assert abs(line[b + 1].pitch - p) <= 2, (b, str(span.chord), p, line[b + 1].pitch)
        checked += 1
    return checked


@pytest.mark.parametrize("stats", STATS, ids=["defaults", "learned"])
def test_the_line_starts_on_the_root(stats):
    """The first note of a line (bar 1 after the count-in, after a jump, the bass turned on)
    is the chord's root, or its slash bass: it was any chord tone the onset weights drew, a
    tune begun on its 5th, 3rd or 7th (two starts in five with the learned weights)."""
    for text in ("C7 | F7", "Am7 D7 | Gmaj7", "Bbmaj7 | Gm7", "Ebm7 Ab7 | Dbmaj7", "F#m7b5 | B7alt", "C/E | F"):
        chart = parse_chart(text)
        for seed in range(12):
            for start in (0, 4):
                ph, _ = walk(chart, start, start + 4, seed, settings=BassSettings(stats=stats))
                first = chart.chord_at(start)
                want = first.bass if first.bass is not None else first.root
                assert ph.notes[0].pitch % 12 == want, (text, seed, start, ph.notes[0].pitch)


def _mean_velocity_by_beat(chart, bars, seeds=range(4)):
    bpb = chart.beats_per_bar
    by = {k: [] for k in range(bpb)}
    for seed in seeds:
        ph, _ = walk(chart, 0.0, bars * bpb, seed)
        for n in ph.absolute():
            by[int(round(n.start)) % bpb].append(n.velocity)
    return [sum(v) / len(v) for _, v in sorted(by.items())]


def test_a_waltz_walk_leans_on_beat_one_and_its_beat_three_leads_on_lightly():
    """In 3/4 the walk accented beat 2 (4/4's 2-and-4 rule read as `beat % bpb in (1, 3)`):
    a waltz's bass leans on 1, and its 3 is the light beat into the next bar. 4/4 keeps its
    2 and 4; 5/4 (3 + 2, as the comping feels it) leans on 1 and 4, 7/4 (4 + 3) on 1 and 5."""
    from improv.core.band.bass import beat_accent

    waltz = _mean_velocity_by_beat(parse_chart("Cmaj7 | A7 | Dm7 | G7", 3), 32)
    assert waltz[0] > waltz[1] > waltz[2], waltz
    assert [beat_accent(b, 3) for b in range(6)] == [3, 0, -2, 3, 0, -2]
    four = _mean_velocity_by_beat(parse_chart("Cmaj7 | A7 | Dm7 | G7"), 32)
    assert min(four[1], four[3]) > max(four[0], four[2]), four
    assert [beat_accent(b, 4) for b in range(4)] == [0, 3, 0, 3]
    assert [beat_accent(b, 5) for b in range(5)] == [3, 0, -2, 3, 0]
    assert [beat_accent(b, 7) for b in range(7)] == [3, 0, 0, 0, 3, 0, -2]  # 4 + 3: no two accents in a row
