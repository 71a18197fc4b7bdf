"""The session-learning Markov responder: deterministic, in span and range, learns, fits."""

import pytest

from improv.core.theory.chart import parse_chart
from improv.core.respond.markov import MarkovResponder
from improv.core.respond.markov_memory import TICKS, melody, metric_class, symbols
from improv.core.theory.notes import Note, Phrase
from improv.core.respond.base import AnswerSettings, Constraints, Responder

CHART = parse_chart("Dm7 | G7 | Cmaj7 | % | Cm7 | F7 | Bbmaj7 | %")
CALL = Phrase.of([(62, 0, .5), (65, .5, .5), (69, 1, .5), (72, 1.5, .5), (71, 2, 1.5)], start=0.0, length=4.0)


def settings(**kw):
    base = dict(start=16.0, length=16.0, seed=1)
    base.update(kw)
    return AnswerSettings(**base)


def on_grid(x: float) -> bool:
    return abs(x * TICKS - round(x * TICKS)) < 1e-6


def test_is_a_responder_named_markov():
    r = MarkovResponder()
    assert isinstance(r, Responder) and r.name == "markov"


def test_same_seed_same_answer_other_seed_other_answer():
    r = MarkovResponder()
    a = r.answer(CALL, CHART, settings(seed=7))
    b = MarkovResponder().answer(CALL, CHART, settings(seed=7))
    c = r.answer(CALL, CHART, settings(seed=8))
    assert a == b
    assert a != c


@pytest.mark.parametrize("seed", range(8))
def test_answer_stays_in_span_range_and_grid(seed):
    s = settings(seed=seed, low=55, high=79)
    a = MarkovResponder().answer(CALL, CHART, s)
    assert a.start == s.start and a.length == s.length
    assert len(a) >= 4
    for n in a.notes:
        assert 0 <= n.start < s.length and n.end <= s.length + 1e-9
        assert s.low <= n.pitch <= s.high
        assert on_grid(n.start) and on_grid(n.duration)
    starts = [n.start for n in a.notes]
    assert len(set(starts)) == len(starts), "the line is monophonic"
    assert all(x.end <= y.start + 1e-9 for x, y in zip(a.notes, a.notes[1:])), "no overlaps"


def test_phrase_shape_starts_near_the_beat_and_ends_long():
    for seed in range(10):
        a = MarkovResponder().answer(CALL, CHART, settings(seed=seed))
        assert a.notes[0].start <= 1.0
        last = a.notes[-1]
        assert last.duration >= 1.0 - 1e-9
        assert last.duration >= max(n.duration for n in a.notes[:-1]) - 1e-9


def test_a_learned_lick_comes_back_transposed():
    # A distinctive lick over F7, all leaps: up a 6th, down a 4th, up a tritone, down a
    # minor 3rd, up a 5th (F D A Eb C G).
    lick = [(65, 0, .5), (74, .5, .5), (69, 1, .5), (75, 1.5, .5), (72, 2, .5), (79, 2.5, 1)]
    steps = [9, -5, 6, -3, 7]
    fchart, bb = parse_chart("F7"), parse_chart("Bb7")
    in_bb = Phrase.of([(p + 5, s, d) for p, s, d in lick], length=4.0)

    def recalls(r):
        found = 0
        for seed in range(20):
            p = r.answer(in_bb, bb, settings(seed=seed, length=8.0, start=0.0)).pitches()
            ivs = [y - x for x, y in zip(p, p[1:])]
            found += any(ivs[i:i + 3] == steps[j:j + 3] for i in range(len(ivs)) for j in range(len(steps) - 2))
        return found

    naive = recalls(MarkovResponder())
    r = MarkovResponder()
    for i in range(12):
        r.learn(Phrase.of(lick, start=4.0 * i, length=4.0), fchart)
    assert r.session_share() > 0.5
    learned = recalls(r)
    assert learned >= 5 and learned >= naive + 4, (naive, learned)


def test_before_learning_it_answers_from_the_vocabulary():
    r = MarkovResponder()
    assert r.session_notes == 0 and r.session_share() == 0.0
    a = r.answer(Phrase(), CHART, settings(start=0.0, length=8.0))
    assert len(a) >= 4


def test_opening_constraint_is_played_first_and_continued():
    opening = (Note(0.0, 66, 0.5), Note(0.5, 67, 0.5))
    r = MarkovResponder()
    for seed in range(6):
        a = r.answer(CALL, CHART, settings(seed=seed, constraints=Constraints(opening=opening)))
        assert [(n.start, n.pitch, n.velocity) for n in a.notes[:2]] == [(0.0, 66, 80), (0.5, 67, 80)]
        assert len(a) > 3 and all(n.start > 0.5 for n in a.notes[2:])


def test_avoid_with_full_strength_never_sounds_that_pitch_class():
    r = MarkovResponder()
    avoid = Constraints(avoid_pcs=frozenset({0, 5}), strength=1.0)  # C and F: common tones here
    for seed in range(10):
        a = r.answer(CALL, CHART, settings(seed=seed, constraints=avoid))
        assert a.notes and all(n.pitch % 12 not in (0, 5) for n in a.notes)


def test_favour_raises_the_share_of_a_pitch_class():
    r = MarkovResponder()

    def share(constraints):
        hits = total = 0
        for seed in range(12):
            a = r.answer(CALL, CHART, settings(seed=seed, constraints=constraints))
            hits += sum(n.pitch % 12 == 1 for n in a.notes)
            total += len(a)
        return hits / total

    plain = share(Constraints())
    favoured = share(Constraints(favour_pcs=frozenset({1}), strength=0.8))
    assert favoured > 2 * plain and favoured > plain + 0.05


def test_chord_tones_dominate_strong_beats():
    r = MarkovResponder()
    hits = total = 0
    for seed in range(20):
        s = settings(seed=seed, start=0.0, length=32.0)
        for n in r.answer(CALL, CHART, s).notes:
            if abs(n.start - round(n.start)) < 1e-9:
                total += 1
                hits += n.pitch % 12 in CHART.chord_at(s.start + n.start).chord_tones()
    assert total > 50
    assert hits / total > 0.6  # chance is about 4/12


def test_density_follows_the_call():
    quarters = Phrase.of([(60 + 2 * i, i, 1) for i in range(8)], length=8.0)
    sixteenths = Phrase.of([(60 + (i % 7), 0.25 * i, 0.25) for i in range(32)], length=8.0)
    r = MarkovResponder()

    def density(call):
        return sum(len(r.answer(call, CHART, settings(seed=s, length=8.0))) for s in range(8)) / (8 * 8.0)

    slow, fast = density(quarters), density(sixteenths)
    assert fast > 1.5 * slow
    explicit = sum(len(r.answer(quarters, CHART, settings(seed=s, length=8.0, density=3.0))) for s in range(8)) / 64
    assert explicit > 1.5 * slow


def test_register_follows_the_call():
    r = MarkovResponder()
    low_call = CALL.transpose(-19)
    high_call = CALL.transpose(12)

    def mean(call):
        ps = [p for s in range(6) for p in r.answer(call, CHART, settings(seed=s, low=36, high=96)).pitches()]
        return sum(ps) / len(ps)

    assert mean(high_call) > mean(low_call) + 12


def test_temperature_zero_is_deterministic_and_top_p_narrows():
    # Catches a temperature-0 choice that samples instead of taking the likeliest candidate,
    # and a top_p cut that keeps every candidate (the old checks held either way).
    def line(a):
        return [(n.pitch, n.start, n.duration) for n in a.notes]  # (velocities are jittered per seed)

    r = MarkovResponder()
    # With no call to echo, two seeds at temperature 0 play the same line note for note.
    a = r.answer(Phrase(), CHART, settings(seed=1, temperature=0.0))
    b = r.answer(Phrase(), CHART, settings(seed=2, temperature=0.0))
    assert len(a) >= 4 and line(a) == line(b)
    # With a call, the seed still decides whether to open by echoing one of its cells:
    # at most two lines however many seeds, where sampling plays a new one for each.
    greedy = {tuple(line(r.answer(CALL, CHART, settings(seed=s, temperature=0.0)))) for s in range(8)}
    sampled = {tuple(line(r.answer(CALL, CHART, settings(seed=s, temperature=1.5, top_p=1.0)))) for s in range(8)}
    assert len(greedy) <= 2 and len(sampled) > 2
    # A tiny top_p keeps only the likeliest candidate: one line for every seed without a
    # call (two at most with one), where the full nucleus gives each seed its own.
    narrow = {tuple(line(r.answer(Phrase(), CHART, settings(seed=s, top_p=0.01)))) for s in range(8)}
    wide = {tuple(line(r.answer(Phrase(), CHART, settings(seed=s, top_p=1.0)))) for s in range(8)}
    assert len(narrow) == 1 and len(wide) > 2
    narrow_call = {tuple(r.answer(CALL, CHART, settings(seed=s, top_p=0.01)).pitches()[1:4]) for s in range(8)}
    wide_call = {tuple(r.answer(CALL, CHART, settings(seed=s, top_p=1.0, temperature=1.5)).pitches()[1:4])
                 for s in range(8)}
    assert len(narrow_call) <= 2 < len(wide_call)


BAD_CALLS = {
    "empty": Phrase(),
    "one note": Phrase.of([(60, 0, 1)]),
    "300 notes": Phrase.of([(40 + (i * 7) % 50, 0.25 * i, 0.25) for i in range(300)]),
    "chords": Phrase.of([(p, t, 1) for t in range(4) for p in (60, 64, 67, 71)]),
    "midi edges": Phrase.of([(0, 0, .5), (127, .5, .5), (0, 1, .5), (127, 1.5, 2)]),
    "far off the grid": Phrase.of([(60, 0.013, 0.001), (62, 0.51, 7.9)], start=3.3),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_calls_never_raise(name):
    call = BAD_CALLS[name]
    r = MarkovResponder()
    r.learn(call, CHART)
    for s in (settings(), settings(length=0.0), settings(length=0.25), settings(length=1.0),
              settings(low=0, high=0), settings(low=127, high=127), settings(low=80, high=60),
              settings(density=50.0), settings(temperature=100.0, top_p=0.0)):
        a = r.answer(call, CHART, s)
        assert a.start == s.start
        assert all(0 <= n.start < max(s.length, 1e-9) for n in a.notes)
        assert all(min(s.low, s.high) <= n.pitch <= max(s.low, s.high) for n in a.notes)


def test_no_chart_and_no_chord_still_answer():
    r = MarkovResponder()
    assert len(r.answer(CALL, None, settings())) > 0
    assert len(r.answer(CALL, parse_chart("NC"), settings())) > 0


def test_symbols_are_intervals_and_grid_rhythm():
    call = Phrase.of([(60, 0, .5), (64, .5, .5), (62, 1, 1), (61, 5.5, .5)], start=1.0)
    ev = melody(call)
    assert [e[0] for e in ev] == [12, 18, 24, 78]
    syms = symbols(ev)
    assert syms[1] == (4, 6, 6, 1) and syms[2] == (-2, 6, 12, 0)
    assert syms[3][0] == 99  # a gap longer than 4 beats starts a new phrase
    assert [metric_class(t) for t in (0, 6, 4, 3, 5)] == [0, 1, 2, 3, 4]


def test_reset_forgets_the_session_only():
    r = MarkovResponder()
    r.learn(CALL, CHART)
    assert r.session_notes == 5
    r.reset()
    assert r.session_notes == 0
    assert len(r.answer(CALL, CHART, settings())) > 0


@pytest.mark.parametrize("order", [0, 1, 3])
def test_a_call_resumed_is_learned_once_as_the_whole_phrase(order):
    """The free jam's resumed phrase (`FreePolicy._resume`): call 1, then the player played on
    before its answer, and call 2 is call 1 with the notes played on. Call 1's steps were
    counted again with call 2's: the same as if the whole phrase was learned once now."""
    first = Phrase(CALL.notes[:3], 8.0, 2.0)
    resumed = Phrase(CALL.notes, 8.0, 4.0)
    r, once = MarkovResponder(order=order), MarkovResponder(order=order)
    r.learn(first, CHART, tempo=120.0)
    r.learn(resumed, CHART, tempo=120.0)
    once.learn(resumed, CHART, tempo=120.0)
    assert r.session_notes == once.session_notes == 5
    assert dict(r._session.counts) == dict(once._session.counts)


def test_a_lick_played_again_later_is_learned_again():
    """Only a call going on from the last one, at the same beats, is counted once: the same
    notes later (the player's favourite lick, two calls) count twice, and so do the notes of
    a call after another."""
    r = MarkovResponder(order=2)
    r.learn(Phrase(CALL.notes, 0.0, 4.0), CHART)
    r.learn(Phrase(CALL.notes, 8.0, 4.0), CHART)
    twice = MarkovResponder(order=2)
    twice._session.learn(symbols(melody(CALL)), weight=2.0)
    assert r.session_notes == 10 and dict(r._session.counts) == dict(twice._session.counts)
    r.learn(Phrase(CALL.notes[:3], 16.0, 2.0), CHART)
    r.learn(Phrase(CALL.notes[3:], 16.0, 4.0), CHART)  # (not the notes before: a call of its own)
    assert r.session_notes == 15


def test_a_whispered_call_gets_an_answer_you_can_hear():
    """A call at velocity 1 was answered at velocities 1-11 (inaudible on most synths); the
    answer follows a soft call softly, from a floor."""
    soft = Phrase.of([(p, s, d, 1) for p, s, d, _ in ((62, 0, .5, 0), (65, .5, .5, 0), (69, 1, .5, 0))],
                     start=0.0, length=4.0)
    for seed in range(5):
        a = MarkovResponder().answer(soft, CHART, settings(seed=seed))
        assert a.notes and all(n.velocity >= 20 for n in a.notes)
    loud = MarkovResponder().answer(CALL, CHART, settings(seed=0))
    assert max(n.velocity for n in loud.notes) > max(n.velocity for n in a.notes)


def test_a_left_hand_under_the_melody_is_not_learned_as_leaps():
    """A keyboardist's left-hand voicing struck a few milliseconds off the melody note (or
    under a held one) was taken into the line: learned as a leap down and back, so after a
    few such calls the answers leapt an octave or more between most notes. Only the line is
    learned (the same table as of the right hand alone) and answered, above the left hand."""
    cmaj = parse_chart("Cmaj7")
    line = [72, 74, 76, 79, 77, 76, 74, 72]

    def call(i, left_hand):
        notes = [(p, 0.5 * k, 0.5) for k, p in enumerate(line)]
        if left_hand:  # struck 30 ms after the beat at 120 bpm, and once while 79 is held
            notes += [(p, t, 0.9) for t in (0.06, 1.06, 2.06, 3.06, 1.7) for p in (48, 52, 55, 59)]
        return Phrase.of(notes, start=4.0 * i, length=4.0)

    assert melody(call(0, True)) == melody(call(0, False))
    plain, both = MarkovResponder(), MarkovResponder()
    for i in range(20):
        plain.learn(call(i, False), cmaj)
        both.learn(call(i, True), cmaj)
    leaps = 0
    for seed in range(6):
        s = settings(start=84.0, length=8.0, seed=seed, low=36, high=96)
        a = both.answer(call(20, True), cmaj, s)
        p = a.pitches()
        assert p and min(p) >= min(line)  # (and kept above the left hand: the line's register)
        leaps += sum(abs(y - x) >= 12 for x, y in zip(p, p[1:]))
    assert leaps <= 2


@pytest.mark.parametrize("name, offbeat, grid, and_", [
    ("swung eighths", ((0, 0.6), (2 / 3, 0.3)), (0, 4, 8), 8),
    ("triplets", ((0, 1 / 3), (1 / 3, 1 / 3), (2 / 3, 1 / 3)), (0, 4, 8), 8),
    ("sixteenths", ((0, .25), (.25, .25), (.5, .25), (.75, .25)), (0, 3, 6, 9), 6),
])
def test_an_answer_opening_off_the_beat_opens_on_the_calls_and(name, offbeat, grid, and_):
    """Swung eighths (or triplets) learned, an answer opening off the beat opened on the
    straight "and" (a third of them) and went on in the call's rhythm an eighth off it, every
    note between the player's: it opens where the call plays its "and" (a sixteenths'
    player's on the eighth, not the last sixteenth)."""
    def call(i):
        cells = [(b + o, d) for b in range(4) for o, d in offbeat]
        return Phrase.of([(62 + (2, 1, -3, -1)[k % 4] * (k % 3), t, d) for k, (t, d) in enumerate(cells)],
                         start=8.0 * i, length=4.0)

    r = MarkovResponder()
    for i in range(16):
        r.learn(call(i), CHART)
    firsts = on = total = 0
    for seed in range(20):
        a = r.answer(call(16), CHART, settings(start=132.0, length=4.0, seed=seed))
        ticks = [round(n.start * TICKS) % TICKS for n in a.notes]
        firsts += ticks[0] not in (0, and_)  # (or a beat late: 12)
        on += sum(t in grid for t in ticks)
        total += len(ticks)
    assert firsts == 0
    assert on / total >= 0.85, on / total


def test_a_long_session_keeps_the_partners_memory_bounded_and_it_still_learns():
    """Hours of playing: the session's table grew with every call (some 75,000 continuations,
    20 MB, after 1,500 varied calls, with no end) and the first answer after each call
    slowed with it. It keeps the contexts heard last, and still learns what is played now."""
    import random

    rnd = random.Random(3)
    r = MarkovResponder()
    for i in range(1500):
        notes, t, p = [], 0.0, rnd.randint(55, 80)
        while t < 8.0:
            d = rnd.choice([1 / 3, 0.5, 0.25, 0.75, 1.0, 0.37, 0.13]) + rnd.uniform(-0.04, 0.04)
            notes.append((p, t, 0.9 * d))
            t, p = t + d, max(30, min(100, p + rnd.randint(-9, 9)))
        r.learn(Phrase.of(notes, start=8.0 * i, length=8.0), CHART)
    rows = r._session.counts.values()
    assert sum(len(row) for row in rows) <= 40_000  # about 10 MB
    assert max(len(row) for row in rows) <= 128
    # what is played now is learned: a lick's steps, each context of it with its continuation
    lick = [(65, 0, .5), (74, .5, .5), (69, 1, .5), (75, 1.5, .5), (72, 2, .5), (79, 2.5, 1)]
    for i in range(3):
        r.learn(Phrase.of(lick, start=12000.0 + 4.0 * i, length=4.0), parse_chart("F7"))
    assert r._session.dist(((9, 6), (-5, 6), (6, 6)))[0][0][:2] == (-3, 6)
    assert r._session.dist(((-5, 6), (6, 6), (-3, 6)))[0][0][:2] == (7, 6)
    assert sum(len(row) for row in rows) <= 40_000


def test_a_line_in_the_players_triplets_stays_on_their_grid():
    """Triplets learned, a line slipped off the player's grid part-way and stayed off it, every
    later note between two of theirs (a fifth of the answers' notes): an answer opening a
    beat late was taken to lag, and halved the triplets to catch up; a rhythm of the
    vocabulary's, once, moved the rest of the line by a sixteenth."""
    def call(i):
        return Phrase.of([(62 + (2, 1, -3, -1)[k % 4] * (k % 3), k / 3, 1 / 3) for k in range(12)],
                         start=8.0 * i, length=4.0)

    r = MarkovResponder()
    for i in range(16):
        r.learn(call(i), CHART)
    off = total = late = 0
    for seed in range(60):
        ticks = [round(n.start * TICKS) for n in r.answer(call(16), CHART, settings(start=132.0, length=8.0,
                                                                                    seed=seed)).notes]
        late += ticks[0] == TICKS
        off += sum(t % 4 != 0 for t in ticks)
        total += len(ticks)
        if ticks[0] == TICKS:  # opening a beat late, it stays on the grid
            assert all(t % 4 == 0 for t in ticks), ticks
    assert late >= 3
    assert off / total <= 0.05, off / total


def test_a_left_hands_chord_after_the_line_is_not_learned_or_answered_from_as_melody():
    """A pianist's line, then the left hand's Cmaj7 shell while the right hand rests: the
    chord's top was the line's last note, an answer began from B3 in the left hand's register,
    and the leap of a ninth down to it was learned as the player's."""
    line = [(72, 0, .5), (74, .5, .5), (76, 1, .5), (79, 1.5, .5), (77, 2, .5), (72, 2.5, 1.0)]
    call = Phrase.of(line + [(p, 4, 2.0) for p in (48, 52, 55, 59)], start=4.0)
    assert [e[1] for e in melody(call)] == [72, 74, 76, 79, 77, 72]
    r = MarkovResponder()
    r.learn(call)
    learned = {sym[0] for row in r._session.counts.values() for sym in row}
    assert max(abs(iv) for iv in learned) <= 5


def test_an_answer_to_a_line_over_a_left_hand_keeps_out_of_the_left_hands_register():
    """A ii-V-I line (lowest note B3) over left-hand shells down to G2: the answers went down
    to C3-E3, into the left hand's voicings, in most seeds."""
    line = [(74, 0, .5), (72, .5, .5), (69, 1, .5), (65, 1.5, .5), (64, 2, .5), (65, 2.5, .5), (69, 3, .5),
            (72, 3.5, .5), (68, 4, 1.4), (67, 5.5, .5), (65, 6, .5), (62, 6.5, .5), (59, 7, .5), (62, 7.5, .5),
            (64, 8, 1.9)]
    shells = [(p, bar * 4 + beat, 1.8) for bar, v in enumerate([(50, 53, 57, 60), (43, 53, 59), (48, 52, 55, 59)])
              for beat in (0, 2) for p in v]
    call = Phrase.of(line + shells, start=0.0, length=12.0)
    chart = parse_chart("Dm7 | G7 | Cmaj7 | Cmaj7")
    lows = [min(MarkovResponder().answer(call, chart, settings(start=12.0, length=12.0, seed=seed)).pitches())
            for seed in range(8)]
    assert min(lows) >= 59, lows
    alone = Phrase.of(line, start=0.0, length=12.0)  # a single line's answer keeps the whole range
    assert min(min(MarkovResponder().answer(alone, chart, settings(start=12.0, length=12.0, seed=seed)).pitches())
               for seed in range(8)) < 59


def _longest_run(pitches: list[int], k: int) -> int:
    """The longest run of period k (each note the one k before it), counted with the k it repeats."""
    best = run = min(k, len(pitches))
    for i in range(k, len(pitches)):
        run = run + 1 if pitches[i] == pitches[i - k] else k
        best = max(best, run)
    return best


@pytest.mark.parametrize("cell, length", [((72,), 8.0), ((72,), 32.0), ((72, 74), 32.0), ((72, 76, 79, 76), 32.0)],
                         ids=["repeat-2-bars", "repeat-8-bars", "trill", "C-E-G-E"])
def test_a_call_that_hammers_a_key_or_loops_a_cell_does_not_run_the_whole_answer(cell, length):
    """Two bars of sixteenths on one key, learned from the call, were a context whose only
    continuation was itself: the answer hammered that key from first note to last (27-29
    notes of a 2-bar answer, up to 125 of an 8-bar one), and a trill ran 120 notes. The
    line takes the figure up and moves on, as the phrase model does (soloists' answers repeat
    a note 8 times running in 0.9 % of phrases, never more than 24)."""
    runs = []
    for seed in range(8):
        r = MarkovResponder(seed=1)
        call = Phrase.of([(cell[i % len(cell)], 0.25 * i, 0.25) for i in range(32)], start=0.0)
        r.learn(call, CHART)
        a = r.answer(call, CHART, settings(start=9.0, length=length, seed=seed, tempo=140.0))
        runs.append(_longest_run(a.pitches(), len(cell)))
    most, typical = (24, 16) if len(cell) <= 2 else (36, 24)  # (a cell of four: never past 36 in the soloists')
    assert max(runs) <= most and sorted(runs)[len(runs) // 2] <= typical, runs


def test_in_a_waltz_only_beat_one_is_strong_for_the_fit():
    """Every other beat of the bar was weighed as strong (chord tones, few tensions): in 3/4
    that made beat 3 a strong beat as if it were beat 3 of 4/4, and in 6/4 beats 3 and 5;
    a waltz's strong beat is 1, 6/4's are 1 and 4."""
    from improv.core.respond.markov_answer import Generator
    from improv.core.respond.markov_fit import _FIT_BEAT, _FIT_STRONG

    d = 2  # D, a tension over C
    for bpb, strong in ((3, {0}), (6, {0, 3}), (4, {0, 2})):
        chart = parse_chart(" | ".join(["C"] * 4), bpb)
        g = Generator(MarkovResponder(), CALL, chart, settings(start=0.0, length=4.0 * bpb, beats_per_bar=bpb))
        for beat in range(2 * bpb):
            want = _FIT_STRONG if beat % bpb in strong else _FIT_BEAT
            assert g.fit.at(beat * TICKS)[0][d] == want["tension"], (bpb, beat)


def test_a_fast_legato_line_is_read_whole_at_its_tempo():
    """`melody` read the call's line with no tempo: a legato overlap of a quarter beat was a
    voicing's note under the line, so at 250 bpm a descending line whose notes overlap by
    72 ms (0.3 beats; a pianist's legato, not a chord) lost every note after its first, in
    what the partner learned, what it answered from, and what a replacement learned again."""
    from improv.core.embrace.strategies import EmbraceSettings
    from improv.core.respond.markov_answer import Generator
    from improv.partner.core import PartnerCore
    from improv.partner.protocol import Job, Setup, packed

    line = Phrase.of([(79 - 2 * k, 0.5 * k, 0.8) for k in range(8)], start=0.0, length=4.0)
    assert [e[1] for e in melody(line, 250.0)] == [79 - 2 * k for k in range(8)]
    assert len(melody(line)) < 8  # (with no tempo, a quarter beat is the limit: as before)
    fast = settings(tempo=250.0)
    heard = Generator(MarkovResponder(), line, CHART, fast)
    assert [e[1] for e in heard.call_events] == [79 - 2 * k for k in range(8)]
    assert heard.low == fast.low  # (not a left hand under the line: the answer was kept above its first note, G5)
    core = PartnerCore(MarkovResponder(3, 0))
    core.answer(Job(1, line, CHART, fast, EmbraceSettings(mode="off")))
    assert core.responder.session_notes == 8
    replacement = PartnerCore(MarkovResponder(3, 0))
    replacement.setup(Setup("markov", calls=(packed(line, CHART, 250.0),)))
    assert replacement.responder.session_notes == 8
