"""The re-harmonised answers' cost probe: every call with a clear mistake, two arms in turn
(timings are the bench's job; this checks what it runs and how it sums up)."""

from __future__ import annotations

import json

from improv.bench.reharm import main, material, summarize


def test_every_call_carries_a_clear_mistake_and_is_a_free_call():
    calls, chart = material(9)
    assert len(calls) == 9 and all(cut is None and length == 16.0 for _, _, length, cut in calls)
    for call, start, _, _ in calls:
        assert start >= call.end  # (the answer after the call: a trading turn's made a free call's)
        planted = [n for n in call.notes if n.velocity == 120 and n.duration == 1.5]  # (long, accented)
        assert planted and all(n.pitch % 12 not in chart.chord_at(call.start + n.start).chord_tones() for n in planted)


def test_the_summary_is_per_kind_the_median_and_spread_of_the_runs():
    def run(m, p, n):
        return {"by_kind_ms": {"reharmonised": {"n": n, "median": m, "p99": p}, "plain": {"n": 0}},
                "notes_per_answer_by_kind": {"reharmonised": 14.0}}

    s = summarize([run(9, 18, 80), run(10, 25, 90), run(11, 19, 85)])
    assert list(s) == ["reharmonised"]  # (a kind no run answered is left out)
    assert s["reharmonised"]["p99"] == {"median": 19, "min": 18, "max": 25}
    assert s["reharmonised"]["answers"] == 85 and s["reharmonised"]["notes_per_answer"] == 14.0


def test_both_arms_run_in_turn_through_the_partners_process(tmp_path, capsys):
    out = tmp_path / "reharm.json"
    assert main(["--partner", "markov", "--runs", "1", "--calls", "12", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["runs"]) == {"reharmonise only", "the other strategies"}
    for arm, runs in report["runs"].items():
        assert len(runs) == 1 and runs[0]["lost"] == 0 and runs[0]["ready_ms"]["n"] == 12, arm
    assert "reharmonised" not in report["runs"]["the other strategies"][0]["by_kind_ms"]
    assert "machine" in report and "engine" in report
    assert "run 1, reharmonise only" in capsys.readouterr().out


def test_bad_arguments_are_refused_in_one_line(tmp_path, capsys):
    assert main(["--runs", "0"]) == 2
    assert main(["--json", str(tmp_path / "no-such-folder" / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "--runs and --calls must be at least 1" in err and "--json" in err
