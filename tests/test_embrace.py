"""Each strategy on a small fixed case; modes, daring and determinism; the explanation."""

import json

import pytest

from improv.core.theory.chart import parse_chart
from improv.core.theory.chords import parse_chord
from improv.core.embrace.plan import embrace_threshold, explain, explain_json, plan_answer
from improv.core.embrace.strategies import EmbraceSettings, STRATEGIES
from improv.core.theory.notes import Phrase
from improv.core.respond.base import Constraints
from improv.errors import ConfigError

CHART = parse_chart("Cmaj7 | Dm7 | G7 | Cmaj7")
# C# on beat 1 over Cmaj7, held a beat (outside, salient), then E D ... G.
CALL = Phrase.of([(61, 0, 1), (64, 1, 0.5), (62, 1.5, 0.5), (67, 3, 1)])
START, LENGTH = 4.0, 8.0  # the answer: bars 2-3 (Dm7, G7)


def plan(strategy=None, seed=0, **kw):
    settings = EmbraceSettings(strategies=(strategy,) if strategy else STRATEGIES, **kw)
    return plan_answer(CALL, CHART, START, LENGTH, settings, seed)


def test_motif_opening_carries_the_pitch_class_and_the_cell():
    for seed in range(6):
        p = plan("motif", seed)
        (h,) = p.handled
        assert h.strategy == "motif" and h.heard.pitch == 61
        op = p.constraints.opening
        assert op == h.opening and len(op) == 6  # stated, then repeated or sequenced
        cell = [(n.start, n.pitch, n.duration) for n in CALL.notes[:3]]
        stated = [(n.start, n.pitch, n.duration) for n in op[:3]]
        assert stated == cell  # same intervals, same rhythm, at the answer's start
        again = op[3:]
        move = again[0].pitch - op[0].pitch
        assert move in (0, 2, -2, -1, 1, 3, -3, 5, -5, 4, -4)
        assert [(n.start - 2.0, n.pitch - move, n.duration) for n in again] == stated
        assert 1 in p.constraints.favour_pcs and not p.constraints.avoid_pcs
        assert p.chart is CHART


def test_motif_with_a_long_cell_is_stated_once():
    call = Phrase.of([(61, 0, 2), (62, 2, 0.5), (64, 2.5, 0.5), (67, 3, 1)])
    p = plan_answer(call, CHART, START, LENGTH, EmbraceSettings(strategies=("motif",)), 3)
    op = p.constraints.opening
    assert [n.pitch for n in op] == [61, 62, 64]
    assert [n.start for n in op] == [0.0, 2.0, 2.5]


def test_reharmonise_puts_the_note_in_the_chord_and_returns_to_the_changes():
    for seed in range(8):
        for daring in (0.3, 0.6, 1.0):
            p = plan("reharmonise", seed, daring=daring)
            (h,) = p.handled
            sub = p.chart.chord_at(START)
            assert sub == h.substitute and sub != CHART.chord_at(START)
            assert 1 in sub.scale()
            a, b = h.substitute_span
            assert a == START and START < b <= START + 4
            t = b
            while t < START + 16:  # every later beat is the written chart again
                assert p.chart.chord_at(t) == CHART.chord_at(t)
                t += 0.5
            assert p.chart.chord_at(0.0) == CHART.chord_at(0.0)
            assert p.constraints.opening[0].pitch % 12 == 1 and p.constraints.opening[0].start == 0


def test_reharmonise_reach_grows_with_daring():
    call = Phrase.of([(61, 0, 2, 110), (64, 2, 0.5), (62, 2.5, 0.5), (67, 3, 1)])  # accented
    settings = lambda d: EmbraceSettings(strategies=("reharmonise",), daring=d)  # noqa: E731
    # the answer over Cmaj7, where C# is outside (over G7 it is a #11 already: nothing to re-harmonise)
    kinds = {d: {plan_answer(call, CHART, 12.0, 8.0, settings(d), s).handled[0].substitute_kind.split(" ")[0]
                 for s in range(30)} for d in (0.2, 1.0)}
    assert kinds[0.2] == {"dominant"}  # the nearest: G7(#11), the dominant of Cmaj7
    assert len(kinds[1.0]) > len(kinds[0.2])


def test_resolve_opens_on_the_note_and_steps_a_half_step_to_a_chord_tone():
    for seed in range(8):
        p = plan("resolve", seed)
        first, second = p.constraints.opening[:2]
        assert first.pitch % 12 == 1 and first.start <= 0.5
        assert abs(second.pitch - first.pitch) == 1 and second.start == first.end
        assert second.pitch % 12 in CHART.chord_at(START + second.start).chord_tones()


def test_resolve_is_not_offered_without_a_half_step_chord_tone():
    chart = parse_chart("Cmaj7 | Fmaj7")
    call = Phrase.of([(61, 0, 2), (67, 2, 1)])  # C# over Cmaj7; the answer over Fmaj7 (F A C E)
    p = plan_answer(call, chart, 4.0, 4.0, EmbraceSettings(strategies=("resolve",)), 0)
    first, second = p.constraints.opening
    assert second.pitch == 60  # C# resolves down to C, the 5th of Fmaj7
    chart = parse_chart("Cmaj7 | F#7")  # C# is F#7's 5th: no chord tone a half step away
    p = plan_answer(call, chart, 4.0, 4.0, EmbraceSettings(strategies=("resolve",)), 0)
    assert p.handled == () and p.constraints == Constraints()


def test_echo_starts_on_the_same_note_displaced():
    seen = set()
    for seed in range(10):
        p = plan("echo", seed)
        (n,) = p.constraints.opening
        assert n.pitch == 61 and n.start in (0.5, 1.0, 1.5)
        assert (START + n.start) % 4 != 0.0  # C# was on beat 1: the echo is not
        seen.add(n.start)
    assert len(seen) > 1


def test_guide_avoids_the_outside_note():
    p = plan(mode="guide")
    assert p.chart is CHART and p.constraints.opening == ()
    assert p.constraints.avoid_pcs == {1}
    assert 1 not in p.constraints.favour_pcs and {2, 5, 9, 0} <= p.constraints.favour_pcs  # Dm7
    assert p.constraints.strength >= 0.9
    assert [h.strategy for h in p.handled] == ["avoid"]


def test_guide_with_two_chords_in_the_first_bar_favours_no_note_that_clashes_with_either():
    """Guide favours the first bar's chord tones over the whole bar: over rhythm changes'
    "Bb6 G7" it favoured the B of G7 over the Bb6 too (its b9), over "Dm7 G7" the C of Dm7
    over G7 (its natural 11): 6.2 % of the first bar's notes were outside the chord under
    them (1.3 % now; the model alone, mode off, 13 %). A note played over a chord it is
    inside of is still favoured (the Bb of Bb6 is G7's #9)."""
    from improv.core.embrace.hearing import OUTSIDE, classify_pitch
    from improv.core.model.responder import ModelResponder
    from improv.core.embrace.plan import embraced_answer
    from improv.core.respond.base import AnswerSettings

    call = Phrase.of([(63, 0, 0.5), (67, 0.5, 0.5), (64, 1, 1.5), (63, 2.5, 0.5), (60, 3, 1)], start=4.0)  # E over Cm7
    for text, clash, kept in (("Bb6 G7 | Cm7 F7 | Bb6 G7 | Cm7 F7", 11, {10, 2, 5, 7}),
                              ("Dm7 G7 | Cm7 F7 | Dm7 G7 | Cm7 F7", 0, {2, 5, 7, 11, 9})):
        favour = plan_answer(call, parse_chart(text), 8.0, 8.0, EmbraceSettings(mode="guide"), 0).constraints.favour_pcs
        assert clash not in favour and kept <= favour, (text, sorted(favour))
    chart = parse_chart("Bb6 G7 | Cm7 F7 | Bb6 G7 | Cm7 F7")
    model = ModelResponder.load(None)
    outside = notes = 0
    for seed in range(24):
        s = AnswerSettings(start=8.0, length=8.0, seed=seed, tempo=200.0)
        answer, p = embraced_answer(model, call, chart, s, EmbraceSettings(mode="guide"))
        assert [h.strategy for h in p.handled] == ["avoid"]
        for n in answer.absolute():
            if n.start < 12.0:
                notes += 1
                outside += classify_pitch(n.pitch, chart.chord_at(n.start)) == OUTSIDE
    assert outside <= 0.03 * notes, (outside, notes)


def test_embrace_leads_back_to_the_changes_after_the_first_bar():
    timid, bold = plan(daring=0.3), plan(daring=1.0)
    for p in (timid, bold):
        assert p.constraints.favour_until == 4.0 and p.handled
    assert timid.constraints.changes > bold.constraints.changes > 0  # the more daring, the longer it stays out
    guide = plan(mode="guide").constraints  # guide: the first bar's chord tones, then each chord's
    assert guide.favour_until == 4.0 and guide.changes == plan(daring=0.5).constraints.changes


def test_off_changes_nothing():
    p = plan(mode="off")
    assert p.chart is CHART and p.constraints == Constraints() and p.handled == ()


def test_deterministic_per_seed_and_varied_across_seeds():
    assert plan(seed=5) == plan(seed=5)
    assert len({plan(seed=s).handled[0].strategy for s in range(20)}) >= 3


def test_daring_zero_embraces_nothing_and_one_embraces_the_salient_note():
    p = plan(daring=0.0)
    assert p.handled == () and p.constraints == Constraints() and p.chart is CHART
    assert plan(daring=1.0).handled[0].heard.pitch == 61
    # a short off-beat-ish clash: let pass at 0.5, embraced at 1.0
    call = Phrase.of([(60, 0, 1), (61, 1, 0.5), (67, 1.5, 1)])
    mid = plan_answer(call, CHART, START, LENGTH, EmbraceSettings(daring=0.5), 0)
    bold = plan_answer(call, CHART, START, LENGTH, EmbraceSettings(daring=1.0), 0)
    assert mid.handled == () and bold.handled[0].heard.pitch == 61
    assert embrace_threshold(0.0) > 1 > embrace_threshold(0.5) > embrace_threshold(1.0)


def test_inside_call_is_left_alone():
    call = Phrase.of([(60, 0, 1), (64, 1, 1), (62, 2, 0.25), (63, 2.25, 0.25), (64, 2.5, 1)])
    for mode in ("embrace", "guide"):
        p = plan_answer(call, CHART, START, LENGTH, EmbraceSettings(mode=mode), 0)
        assert p.handled == () and p.constraints == Constraints() and p.chart is CHART


def test_explain_lines_and_json():
    p = plan("reharmonise", 0)
    (line,) = explain(p, CHART)
    assert line.startswith("bar 1: heard C# over Cmaj7 (outside, long, beat 1) -> reharmonise as ")
    # the answer (bars 2-3) is re-harmonised in bar 2, over Dm7: said, or the substitute reads as one
    # for bar 1's Cmaj7 ("bar 10: heard E over F7 -> reharmonise as Em7 (side-slip below Fm7)")
    assert f"reharmonise as {p.handled[0].substitute} in bar 2 (" in line, line
    assert str(p.handled[0].substitute) == "Ebm7" and line.endswith("-> answer opens on Db")  # (its b7)
    same_bar = plan_answer(CALL, CHART, 1.0, 3.0, EmbraceSettings(strategies=("reharmonise",)), 0)
    assert same_bar.handled[0].strategy == "reharmonise"  # an answer within the bar heard: no bar said
    assert " in bar " not in explain(same_bar, CHART)[0]
    (rec,) = explain_json(p)
    assert {"bar", "beat", "pitch", "class", "salience", "strategy", "substitute"} <= set(rec)
    assert (rec["bar"], rec["beat"], rec["pitch"], rec["class"], rec["strategy"]) == (1, 1.0, 61, "outside", "reharmonise")
    assert rec["substitute"] == str(p.handled[0].substitute)
    json.dumps(rec)
    for s in ("motif", "resolve", "echo"):
        (line,) = explain(plan(s, 1), CHART)
        assert f"-> {s}: answer" in line
    assert "-> guide: avoid C#" in explain(plan(mode="guide"), CHART)[0]
    assert "let it pass" in explain(plan(daring=0.1), CHART)[0]
    assert explain(plan(mode="off"), CHART) == []


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="mode"):
        EmbraceSettings(mode="fix")
    with pytest.raises(ConfigError, match="daring"):
        EmbraceSettings(daring=1.5)
    with pytest.raises(ConfigError, match="strategies"):
        EmbraceSettings(strategies=("motif", "quote"))


def test_mode_helpers_for_live_controls():
    from improv.core.embrace.strategies import mode_from_cc, next_mode

    assert [next_mode(m) for m in ("embrace", "guide", "off")] == ["guide", "off", "embrace"]
    assert mode_from_cc(42) == "off" and mode_from_cc(43) == "guide" and mode_from_cc(86) == "embrace"


def test_config_section(tmp_path):
    from improv.config import Config, load_config

    assert Config().embrace == EmbraceSettings()
    p = tmp_path / "c.toml"
    p.write_text('[embrace]\nmode = "guide"\ndaring = 1\nstrategies = ["echo"]\n')
    cfg = load_config(p)
    assert cfg.embrace.mode == "guide" and cfg.embrace.daring == 1.0 and cfg.embrace.strategies == ("echo",)
    p.write_text('[embrace]\nmode = "correct"\n')
    with pytest.raises(ConfigError, match="embrace.mode"):
        load_config(p)


def _note_share_in_first_bar(responder, strength, seeds=40):
    """The share of the answer's freely chosen notes in its first bar (after the forced
    opening) that are the embraced note's pitch class (C#, 1)."""
    from improv.core.embrace.plan import embraced_answer
    from improv.core.respond.base import AnswerSettings

    hit = total = 0
    for seed in range(seeds):
        emb = EmbraceSettings(strength=strength, strategies=("motif", "resolve", "echo"))
        answer, p = embraced_answer(responder, CALL, CHART, AnswerSettings(start=START, length=LENGTH, seed=seed), emb)
        free = [n for n in answer.notes[len(p.constraints.opening):] if n.start < CHART.beats_per_bar]
        hit += sum(n.pitch % 12 == 1 for n in free)
        total += len(free)
    assert total > 50
    return hit / total


def test_strength_says_how_much_the_embraced_note_comes_back():
    """`[embrace] strength` favours the note among the first bar's chord tones, which are
    favoured beside it at a steady weight (it had no effect while both shared one weight:
    with the bar's chord tones the favoured set covered most of the twelve pitch classes)."""
    from improv.core.respond.markov import MarkovResponder
    from improv.core.model.responder import ModelResponder  # (numpy alone: runs on the lean install)

    p = plan("motif", 0, strength=0.8)
    assert p.constraints.favour_pcs == {n.pitch % 12 for n in p.constraints.opening} and p.constraints.strength == 0.8
    assert {2, 5, 9, 0} <= p.constraints.chord_pcs and 0 < p.constraints.chord_strength < 0.8
    model = ModelResponder.load()
    none, some, strong = (_note_share_in_first_bar(model, s) for s in (0.0, 0.3, 1.0))
    # unfavoured, the note comes back only as the model takes up the call's pitches by itself
    # (its session cache: 5 % here; none without it)
    assert none <= 0.08 and some > none and strong >= 0.12 and strong > 2 * some
    markov = MarkovResponder(order=3, seed=1)
    assert _note_share_in_first_bar(markov, 1.0) > _note_share_in_first_bar(markov, 0.0)


def test_a_motifs_cell_is_one_gesture_and_keeps_its_pitch_classes():
    """E G, a rest of two beats, then the embraced C#: the cell was E-G-C# with the C#
    3.5 beats in (the gap to the note itself was never checked); and a cell near MIDI's
    edge was clamped (pitch 1 down to 0: "G-C-F#" said and played for G-C#-F#)."""
    call = Phrase.of([(64, 0.5, 0.5), (67, 1.0, 0.5), (73, 3.5, 2.0, 110)])
    for seed in range(12):
        p = plan_answer(call, parse_chart("Dm7 G7 | Cmaj7 | %"), 8.0, 8.0, EmbraceSettings(strategies=("motif",)), seed)
        if p.handled:
            op = p.constraints.opening
            assert op[0].pitch % 12 == 1 and all(n.start >= 1.9 for n in op[1:])  # the C# alone, then again
    from improv.core.embrace.strategies import _octave_into_range

    assert [_octave_into_range(p) for p in (-11, 0, 127, 131)] == [1, 0, 127, 119]


def test_a_motif_from_a_chordal_call_takes_its_cell_from_the_line():
    """Block chords (spread 15 ms): the cell took a chord's lower notes as neighbours of
    the top note embraced, and the answer opened on a clipped cluster it called a line."""
    from improv.core.theory.notes import Note

    chords = [(0.0, (53, 57, 60)), (1.0, (55, 58, 63)), (2.0, (53, 57, 61)), (3.0, (53, 57, 60))]
    notes = [Note(t + 0.03 * k, p, 0.9 - 0.03 * k, 100 if p == 61 else 80)
             for t, voicing in chords for k, p in enumerate(voicing)]
    call = Phrase.of(sorted(notes, key=lambda n: (n.start, n.pitch)), start=0.0, length=4.0)
    handled = 0
    for seed in range(12):
        p = plan_answer(call, parse_chart("Cmaj7 | Dm7 | G7 | Cmaj7"), 4.0, 8.0,
                        EmbraceSettings(strategies=("motif",), daring=1.0), seed)
        for h in p.handled:
            handled += 1
            op = p.constraints.opening
            starts = [n.start for n in op]
            assert len(set(starts)) == len(starts), op  # a line: one note at a time
            assert {n.pitch % 12 for n in op[:3]} <= {0, 3, 1}  # the tops: C, Eb, C#
    assert handled


@pytest.mark.parametrize("pitch, chart", [(48, "G7"), (84, "Dmaj7")])
def test_a_resolution_at_the_edge_of_the_range_moves_with_its_note(pitch, chart):
    """C3 over G7 with the range 48-84: the plan said 'resolves down a half step to B' and
    the B (47) was folded up alone, a leap of a major seventh."""
    call = Phrase.of([(pitch, 0, 2.0, 120)])
    handled = 0
    for seed in range(6):
        p = plan_answer(call, parse_chart(chart), 4.0, 4.0, EmbraceSettings(strategies=("resolve",), daring=1.0),
                        seed, low=48, high=84)
        for h in p.handled:
            handled += 1
            a, b = h.opening
            assert 48 <= a.pitch <= 84 and 48 <= b.pitch <= 84 and abs(a.pitch - b.pitch) == 1, h.opening
    assert handled


def test_a_motif_states_only_what_its_answer_can_play_and_keeps_the_players_contour():
    """Whole notes A-Bb-C (four beats apart) were one 'cell' that a one-bar answer could not
    state: 'answer opens with A-Bb-C', and only the A sounded. And D6-B5-C6 with the range
    topping at C6 was folded note by note into D5-B5-C6: a sixth up where the player stepped
    down a third."""
    whole = Phrase.of([(69, 0, 4.0, 80), (70, 4, 4.0, 120), (72, 8, 4.0, 80)])
    for seed in range(6):
        p = plan_answer(whole, parse_chart("Fmaj7"), 12.0, 4.0, EmbraceSettings(strategies=("motif",), daring=1.0),
                        seed)
        for h in p.handled:
            assert all(n.start < 4.0 for n in h.opening), h.opening
    high = Phrase.of([(86, 0, 0.5, 120), (83, 0.5, 1.5, 120), (84, 2.0, 0.5, 120)])
    handled = 0
    for seed in range(6):
        p = plan_answer(high, parse_chart("Cm7"), 4.0, 8.0, EmbraceSettings(strategies=("motif",), daring=1.0),
                        seed, low=48, high=84)
        for h in p.handled:
            handled += 1
            op = [n.pitch for n in h.opening[:3]]
            assert [b - a for a, b in zip(op, op[1:])] == [-3, 1] and all(48 <= q <= 84 for q in op), op
    assert handled


def test_guide_leaves_a_voicing_under_the_line_alone():
    """A left-hand voicing's notes under the line are harmony, never a mistake: embrace
    passed over them, but guide told the player to avoid them (C# and Ab over Cmaj7)."""
    from improv.core.theory.notes import Note

    line = [Note(0.0, 76, 1.0, 90), Note(1.0, 79, 1.0, 90), Note(2.0, 81, 1.0, 90), Note(3.0, 79, 1.0, 90)]
    voicing = [Note(0.0, p, 4.0, 70) for p in (49, 56, 59)]  # C# Ab B, held under the line
    call = Phrase.of(sorted(line + voicing, key=lambda n: (n.start, n.pitch)), start=0.0, length=4.0)
    p = plan_answer(call, parse_chart("Cmaj7"), 4.0, 4.0, EmbraceSettings(mode="guide"), 0)
    assert p.constraints == Constraints() and p.handled == ()


@pytest.mark.parametrize("name", ["model", "markov"])
def test_guide_avoids_the_wrong_note_only_where_it_clashes(name):
    """A wrong A over Bb7 in an F blues: guide avoided A for the whole answer, so the
    answer never played the third of F7 or the fifth of D7 (0 of 12 answers with the
    model; 10 of 12 with guide off). It steers the A away where it clashes only."""
    from improv.core.embrace.plan import embraced_answer
    from improv.core.respond.base import AnswerSettings
    from improv.core.respond.markov import MarkovResponder
    from improv.core.model.responder import ModelResponder  # (numpy alone: runs on the lean install)

    chart = parse_chart("F7 | Bb7 | F7 | F7 | Bb7 | Bb7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7")
    call = Phrase.of([(65, 0, 1), (69, 4.0, 2.0, 110), (70, 6, 1), (65, 7, 1)])  # A held over Bb7, bar 2
    responder = ModelResponder.load() if name == "model" else MarkovResponder(order=3, seed=1)
    over_f7 = over_bb7 = 0
    for seed in range(12):
        answer, plan = embraced_answer(responder, call, chart, AnswerSettings(start=8.0, length=16.0, seed=seed),
                                       EmbraceSettings(mode="guide"))
        assert plan.constraints.avoid_pcs == {9}
        for n in answer.notes:
            chord = str(chart.chord_at(answer.start + n.start))
            if n.pitch % 12 == 9:
                over_f7 += chord in ("F7", "D7")
                over_bb7 += chord == "Bb7"
    assert over_f7 >= 3 and over_bb7 <= 1


def test_the_models_feel_keeps_a_forced_openings_rhythm():
    """The motif's eighths at 0, 0.5 and 1.0 were played at 0, 0.26 and 0.82: the feel moved
    each note of the opening the plan forced, and the first cannot start before the answer.
    The opening is played as written; the notes after it get the feel."""
    from improv.core.embrace.plan import embraced_answer
    from improv.core.respond.base import AnswerSettings
    from improv.core.model.responder import ModelResponder  # (numpy alone: runs on the lean install)

    model = ModelResponder.load()
    call = CALL  # C# on beat 1, held a beat, then E D: the cell C#-E-D (1, 0.5 and 0.5 beats)
    felt = 0
    for seed in range(12):
        answer, p = embraced_answer(model, call, CHART, AnswerSettings(start=START, length=LENGTH, seed=seed,
                                                                       tempo=160.0), EmbraceSettings(strategies=("motif",)))
        op = p.constraints.opening
        assert op and [(n.start, n.pitch) for n in answer.notes[:len(op)]] == [(n.start, n.pitch) for n in op]
        rest = answer.notes[len(op):]
        felt += any(abs(n.start * 12 - round(n.start * 12)) > 1e-6 for n in rest)  # the rest is off the grid
    assert felt >= 6


def test_a_note_held_into_its_own_next_onset_ends_there_and_a_pickup_is_not_bar_0():
    from improv.core.embrace.explain import _heard_text
    from improv.core.embrace.hearing import hear
    from improv.core.respond.base import AnswerSettings, fit_answer
    from improv.core.theory.notes import Note

    fitted = fit_answer([Note(0.0, 60, 1.0, 80), Note(0.5, 60, 1.0, 80), Note(0.5, 64, 1.0, 80)],
                        AnswerSettings(start=0.0, length=4.0))
    assert [(n.start, n.pitch, n.duration) for n in fitted.notes] == [(0.0, 60, 0.5), (0.5, 60, 1.0), (0.5, 64, 1.0)]
    chart = parse_chart("F7")
    (h,) = hear(Phrase.of([(64, 0.0, 2.0, 120)], start=-2.0), chart)
    assert _heard_text(h, (5, False), chart).startswith("pickup (before bar 1): heard E over F7")


def test_the_band_gets_the_substitute_for_its_chords_span_not_the_whole_answer():
    """A re-harmonised answer of two bars: the partner's line goes back to the tune after the
    substitute's bar, so the band must too (it played the substitute for the whole answer)."""
    from improv.config import Config
    from improv.core.respond.markov import MarkovResponder
    from improv.partner.core import PartnerCore
    from improv.partner.protocol import Job, answer_settings

    core = PartnerCore(MarkovResponder(3, 0))
    embrace = EmbraceSettings(mode="embrace", strategies=("reharmonise",), daring=1.0)
    for seed in range(6):
        job = Job(seed + 1, CALL, CHART, answer_settings(START, LENGTH, seed, Config().responder, 4, 120.0), embrace)
        res = core.answer(job)
        assert res.error == "" and res.substitute is not None
        a, b, chart = res.substitute
        assert (a, b) == (START, START + 4)  # the Dm7 bar it stands in for, not bars 2-3
        assert chart.chord_at(START) != CHART.chord_at(START)
        assert chart.chord_at(START + 4) == CHART.chord_at(START + 4)  # G7 again, as the partner plays


def test_no_reharmonisation_where_the_note_fits_the_answers_written_chord_already():
    """A call over Cmaj7 ends on a held, accented C#, and the answer starts over A7, whose
    third C# is: 27 of 60 seeds re-harmonised it anyway, 18 of them to a chord that made the
    third a tension (E7, Em7, Bb7(#9)), the band changing chord for nothing."""
    chart = parse_chart("Cmaj7 | A7 | Dm7 | G7")
    call = Phrase.of([(64, 0, 1), (62, 1, 1), (61, 2, 2, 120)])  # E, D, then C# held and accented
    for seed in range(30):
        p = plan_answer(call, chart, 4.0, 4.0, EmbraceSettings(strategies=("reharmonise",)), seed)
        assert not p.handled, p.handled  # the one strategy allowed has nothing to do
        mixed = plan_answer(call, chart, 4.0, 4.0, EmbraceSettings(), seed)
        assert all(h.strategy != "reharmonise" for h in mixed.handled)
    over_dm7 = plan_answer(call, parse_chart("Cmaj7 | Dm7"), 4.0, 4.0, EmbraceSettings(strategies=("reharmonise",)), 1)
    assert [h.strategy for h in over_dm7.handled] == ["reharmonise"]  # outside Dm7: re-harmonised as ever


def test_a_substitute_ends_at_the_bar_line_not_on_a_weak_beat_of_the_next_bar():
    """On a modal vamp an answer that began on beat 2 had its substitute for a whole bar, to
    beat 2 of the next: the band changed harmony on beat 2 and again mid-bar."""
    vamp = parse_chart("Dm7 | Dm7 | Dm7 | Dm7")
    call = Phrase.of([(66, 0, 2, 120), (65, 2, 1)])  # F# (outside Dm7) on beat 1, held two beats, accented
    for start in (5.0, 6.0, 7.0):  # the answer begins on beat 2, 3 or 4 of bar 2
        for seed in range(6):
            p = plan_answer(call, vamp, start, 8.0, EmbraceSettings(strategies=("reharmonise",), daring=1.0), seed)
            (h,) = p.handled
            assert h.substitute_span == (start, 8.0), (start, seed, h.substitute_span)
            assert p.chart.chord_at(8.0) == vamp.chord_at(8.0)  # the vamp again from the bar line


def test_a_note_let_pass_is_explained_by_what_let_it_pass():
    """At daring 0 the explanation said "salience 0.85 is under the daring threshold", as if a
    louder note would have been embraced: at daring 0 none is."""
    settings = lambda d: EmbraceSettings(daring=d)  # noqa: E731
    (line,) = explain(plan_answer(CALL, CHART, START, LENGTH, settings(0.0), 0), CHART)
    assert line.endswith("-> let it pass (daring 0: nothing is embraced)"), line
    quiet = Phrase.of([(61, 0.5, 0.25, 60), (67, 1, 0.5), (64, 2, 1)])  # a short, soft off-beat C#
    (line,) = explain(plan_answer(quiet, CHART, START, LENGTH, settings(0.5), 0), CHART)
    assert "is under the daring threshold 0.65)" in line, line


def test_notes_are_named_in_the_key_the_chart_writes_the_chord_in():
    """The ii-V-I drill's "Abm7 | Db7 | Gbmaj7" was explained in G# minor and F# ("heard G
    over Abm7 -> motif: answer opens with G-D#", "over Gbmaj7 ... G-A#-C#")."""
    from improv.core.embrace.explain import key_of, spell

    names = lambda chord, pcs: [spell(pc, key_of(parse_chord(chord))) for pc in pcs]  # noqa: E731
    assert names("Abm7", (8, 11, 3, 7)) == ["Ab", "B", "Eb", "G"]
    assert names("Gbmaj7", (6, 10, 1, 5, 7)) == ["Gb", "Bb", "Db", "F", "G"]
    assert names("G#m7", (8, 3)) == ["G#", "D#"] and names("F#maj7", (10, 1)) == ["A#", "C#"]
    chart = parse_chart("Gbmaj7 | % | Bmaj7 | %")
    call = Phrase.of([(67, 0, 1), (70, 1, 0.5), (73, 1.5, 0.5)])
    p = plan_answer(call, chart, 4.0, 8.0, EmbraceSettings(strategies=("motif",)), 0)
    assert "answer opens with G-Bb-Db" in explain(p, chart)[0]


def test_a_motif_too_long_for_its_answer_still_states_the_note():
    """Half notes E-G-F, the F embraced, answered in one bar: the cell E-G-F was cut to what
    the bar holds, and the answer 'opens with E-G', never playing the F it was built on."""
    call = Phrase.of([(64, 0, 2.0, 80), (67, 2, 2.0, 80), (65, 4, 2.0, 120)])
    handled = 0
    for length in (2.0, 4.0):
        for seed in range(6):
            p = plan_answer(call, parse_chart("Cmaj7"), 8.0, length, EmbraceSettings(strategies=("motif",)), seed)
            for h in p.handled:
                handled += 1
                stated = [n.pitch for n in h.opening if n.start < length]
                assert 65 in stated and stated[-1] == 65, h.opening  # the cell up to the F, as far back as fits
                said = explain(p, parse_chart("Cmaj7"))[0].split("opens with ")[1]
                assert "F" in said.split(" and ")[0].split("-"), said
    assert handled


def test_a_motif_near_the_top_of_the_range_is_sequenced_within_it():
    """A held B5 over Dm7b5, answered on beat 3, the partner's range topping at C6: 'answer opens with B and
    sequences it up a minor third' forced a D6 the partner folds to D5, a sixth down."""
    call = Phrase.of([(83, 0, 1.5, 100)])
    chart = parse_chart("Dm7b5 | G7alt | Cm6 | %")
    moved = 0
    for seed in range(40):
        p = plan_answer(call, chart, 2.0, 16.0, EmbraceSettings(strategies=("motif",), daring=0.3), seed,
                        low=48, high=84)
        for h in p.handled:
            assert all(48 <= n.pitch <= 84 for n in h.opening), (h.opening, explain(p, chart))
            moved += h.detail.startswith("sequences")
    assert moved  # (a sequence still, where one fits below the top)


def test_a_reharmonised_answer_names_its_note_in_the_substitute():
    """"heard Ab over Cmaj7 -> reharmonise as Emaj7 -> answer opens on Ab": the note the answer
    opens on is the third of Emaj7, G#; over Dbmaj7 the C# heard is its root, Db."""
    chart = parse_chart("Cmaj7 | Cmaj7")
    seen = {}
    for pitch in (68, 61):
        call = Phrase.of([(pitch, 0, 2.0, 110), (67, 2, 1)])
        for seed in range(60):
            p = plan_answer(call, chart, 2.0, 8.0, EmbraceSettings(strategies=("reharmonise",), daring=1.0), seed)
            (line,) = explain(p, chart)
            seen[(pitch, str(p.handled[0].substitute))] = line
    assert seen[(68, "Emaj7")].startswith("bar 1: heard Ab over Cmaj7")
    assert seen[(68, "Emaj7")].endswith("-> answer opens on G#")
    assert seen[(68, "Abmaj7")].endswith("-> answer opens on Ab")
    assert seen[(61, "Dbmaj7")].startswith("bar 1: heard C# over Cmaj7")
    assert seen[(61, "Dbmaj7")].endswith("-> answer opens on Db")
    assert seen[(61, "Amaj7")].endswith("-> answer opens on C#")
