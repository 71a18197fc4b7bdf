"""The embrace benchmark on hand-written calls and the tiny WJazzD fixture (seconds)."""

import json

import pytest
from pathlib import Path

from improv.cli import main
from improv.core.theory.chart import parse_chart
from improv.core.embrace.hearing import OUTSIDE, hear
from improv.core.respond.markov import MarkovResponder
from improv.core.theory.notes import Phrase
from improv.bench.embrace import (
    cases_from_pairs, first_bar_has, format_result, jaccard_distance, make_case, profile_distance, run_bench,
)

FIXTURE = Path(__file__).resolve().parent / "data" / "wjazzd-mini"
CHART = parse_chart("Cmaj7 | Dm7 Am7 | Em7 A7 | Dm7 G7")  # (bar 2, beat 3: a half step off E is outside Am7)


def test_make_case_moves_the_long_strong_beat_note_outside():
    call = Phrase.of([(60, 0, 0.5), (62, 0.5, 0.5), (64, 2, 1.5), (67, 3.5, 0.5)], start=4.0)  # E on beat 3 of bar 2
    case = make_case(call, CHART)
    assert case is not None and case.index == 2
    moved = case.call.notes[2]
    assert abs(moved.pitch - 64) == 1 and moved.pitch % 12 == case.pc
    assert hear(case.call, CHART)[2].kind == OUTSIDE
    assert [n for i, n in enumerate(case.call.notes) if i != 2] == [n for i, n in enumerate(call.notes) if i != 2]
    assert case.original == call
    assert case.answer_start == 8.0 and case.answer_length == 4.0


def test_calls_without_a_long_strong_beat_note_are_skipped():
    assert make_case(Phrase.of([(60, 0.5, 0.5), (62, 1, 0.5), (64, 1.5, 2)]), CHART) is None
    assert make_case(Phrase.of([(60, 0, 0.5), (62, 0.5, 0.5)]), CHART) is None
    # a call with a louder mistake of its own: the planted note would not stand out
    own = Phrase.of([(61, 0, 2, 120), (64, 2, 1, 60), (67, 3, 1, 60)])
    assert make_case(own, CHART) is None


def test_distances():
    a = Phrase.of([(60, 0, 1), (64, 1, 1)])
    b = Phrase.of([(60, 0, 1), (65, 1, 1)])
    assert jaccard_distance(a, a) == 0.0 and jaccard_distance(a, b) == 1 - 1 / 3
    assert jaccard_distance(Phrase.of([]), Phrase.of([])) == 0.0
    assert profile_distance(a, a) == 0.0 and profile_distance(a, b) == 0.5
    assert first_bar_has(b, 5, 4) and not first_bar_has(Phrase.of([(65, 4, 1)]), 5, 4)


def _cases():
    calls = [
        Phrase.of([(64, 0, 2), (62, 2, 0.5), (60, 2.5, 0.5), (59, 3, 1)]),
        Phrase.of([(65, 0, 0.5), (69, 0.5, 0.5), (72, 1, 0.5), (71, 1.5, 0.5), (67, 2, 2)], start=4.0),
        Phrase.of([(67, 0, 1.5), (64, 1.5, 0.5), (62, 2, 1), (60, 3, 1)], start=8.0),
        Phrase.of([(62, 0, 0.5), (65, 0.5, 0.5), (69, 1, 0.5), (72, 1.5, 0.5), (71, 2, 2)], start=12.0),
    ]
    return cases_from_pairs((c, CHART, "hand") for c in calls)


def test_run_bench_in_three_modes():
    cases = _cases()
    assert len(cases) == 4
    from improv.core.embrace.strategies import EmbraceSettings

    result = run_bench(cases, lambda: MarkovResponder(order=3, seed=0), EmbraceSettings(daring=1.0), seed=3)
    assert result == run_bench(cases, lambda: MarkovResponder(order=3, seed=0), EmbraceSettings(daring=1.0), seed=3)
    emb, gui, off = result["embrace"], result["guide"], result["off"]
    assert emb["answers"] == gui["answers"] == off["answers"] == 4
    assert emb["first_bar_hit"] == 1.0  # every strategy opens with the note in the first bar
    assert gui["first_bar_hit"] <= 0.25
    assert sum(emb["strategies"].values()) == 4 and set(gui["strategies"]) == {"avoid"}
    for r in (emb, gui, off):
        assert 0 <= r["in_harmony"] <= 1 and 0 <= r["distance_from_plain"] <= 1 and r["notes_per_answer"] > 0
    lines = format_result(result, "hand")
    assert lines[0] == "hand" and lines[2].startswith("embrace") and "targets:" in lines[5]


def test_command_on_the_fixture(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["embrace-bench", str(FIXTURE), "--split", "all", "--limit", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "embrace-bench:" in text and "targets:" in text
    result = json.loads(out.read_text())
    assert {"embrace", "guide", "off", "targets", "cases"} <= set(result) and result["cases"] >= 1
    assert len(result["engine"].get("commit", "0" * 40)) == 40  # which code measured (none outside a checkout)


def test_command_errors(tmp_path, capsys):
    assert main(["embrace-bench", str(tmp_path / "nope.tar.gz")]) == 2
    assert main(["embrace-bench", str(FIXTURE), "--daring", "3"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "--daring" in err
    # an output it could not write is refused before the run, not after it
    assert main(["embrace-bench", str(FIXTURE), "--split", "all", "--json", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "--json" in captured.err and "folder" in captured.err and "embrace-bench:" not in captured.out


def test_played_case_keeps_the_planted_note_with_the_soloists_timing():
    from improv.bench.embrace import played_case
    from improv.bench.human import BeatTrack, HumanPhrase, HumanSolo, PlayedNote

    call = Phrase.of([(60, 0, 0.5), (62, 0.5, 0.5), (64, 2, 1.5), (67, 3.5, 0.5)], start=4.0)
    case = make_case(call, CHART)
    # played at 120 bpm (0.5 s a beat, beat 0 at 0 s): the E 40 ms late, the rest a little off
    track = BeatTrack(range(0, 16), [0.5 * b for b in range(16)])
    late = {60: 0.01, 62: -0.02, 64: 0.04, 67: 0.0}
    notes = tuple(PlayedNote(0.5 * (4 + n.start) + late[n.pitch], 0.5 * n.duration * 0.9, n.pitch, n.velocity, 4 + n.start)
                  for n in call.notes)
    solo = HumanSolo("hand", 120.0, (HumanPhrase("hand", notes, track),), track)
    played = played_case(case, solo)
    moved = played.call.notes[played.index]
    assert moved.pitch % 12 == case.pc and played.call.start + moved.start == pytest.approx(6.08)
    assert played.tempo == pytest.approx(120.0)
    assert played.answer_start == 8.0 and played.answer_length == case.answer_length
    assert [n.pitch for n in played.original.notes] == [n.pitch for n in call.notes]
    heard = hear(played.call, CHART, tempo=played.tempo)[played.index]
    assert heard.kind == OUTSIDE and heard.onset == 6.0 and "beat 3" in heard.reasons


def test_command_played_on_the_fixture(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["embrace-bench", str(FIXTURE), "--split", "all", "--limit", "3", "--played", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "as the soloists played them" in text and "played timing:" in text
    result = json.loads(out.read_text())
    assert result["played"]["cases"] == result["cases"] >= 1
    assert set(result["played_vs_grid"]["targets"]) == {"played_hit", "gap", "guide_hit"}


def test_the_partner_hears_the_call_at_the_tempo_it_was_played_at():
    """As in a session, the partner learns the call at its tempo (the Markov partner reads a
    legato line's overlap as a share of a beat only at one): the bench gave it none."""
    from dataclasses import replace

    from improv.bench.embrace import answer_with
    from improv.core.embrace.plan import plan_answer
    from improv.core.embrace.strategies import EmbraceSettings

    case = replace(_cases()[0], tempo=180.0)
    heard = []

    class Spy(MarkovResponder):
        def learn(self, call, harmony=None, tempo=None):
            heard.append(tempo)
            super().learn(call, harmony, tempo=tempo)

    plan = plan_answer(case.call, case.harmony, case.answer_start, case.answer_length,
                       EmbraceSettings(mode="off"), 0, tempo=case.tempo)
    answer_with(Spy(order=3, seed=0), case.call, plan, case, 0)
    assert heard == [180.0]
