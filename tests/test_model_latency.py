"""The two-model latency probe: turn-about runs and their summary (timings are the bench's
job; this checks the probe runs and sums up what it measured)."""

from __future__ import annotations

import json

import pytest

from improv.bench.model_latency import main, summarize_runs
from improv.core.model.responder import DEFAULT_CHECKPOINT


def test_summary_is_the_median_and_spread_of_the_runs():
    runs = [{"ready_ms": {"median": m, "p99": p}, "notes_per_answer": 20} for m, p in ((9, 18), (10, 25), (11, 19))]
    s = summarize_runs(runs)
    assert s["ready_ms"]["p99"] == {"median": 19, "min": 18, "max": 25}
    assert s["ready_ms"]["median"]["median"] == 10 and "first_note_ms" not in s


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason="no shipped weights")
def test_two_models_in_turn(tmp_path, capsys):
    out = tmp_path / "lat.json"
    model = str(DEFAULT_CHECKPOINT)
    assert main([model, model, "--runs", "1", "--calls", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["runs"][str(DEFAULT_CHECKPOINT)]) == 2  # the same file twice: both runs under one key
    assert "ready_ms" in report["summary"][str(DEFAULT_CHECKPOINT)]
    assert main([str(tmp_path / "none.npz"), str(DEFAULT_CHECKPOINT)]) == 2
    assert "not found" in capsys.readouterr().err
    # the same model with the session cache left out, in turn with it
    assert main([model + ":nocache", model, "--runs", "1", "--calls", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["cache"] for r in report["runs"][model + ":nocache"]] == [False]
    assert [r["cache"] for r in report["runs"][model]] == [True]
    # and with it over the model's window only (as it read before it read the whole session)
    assert main([model + ":window", model, "--runs", "1", "--calls", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [(r["cache"], r["cache_whole"]) for r in report["runs"][model + ":window"]] == [(True, False)]
    assert [r["cache_whole"] for r in report["runs"][model]] == [True]


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.exists(), reason="no shipped weights")
def test_a_json_path_that_cannot_be_written_is_refused_before_the_runs(tmp_path, capsys):
    """--json into a missing folder was written after every run: a traceback and nothing kept."""
    model = str(DEFAULT_CHECKPOINT)
    bad = tmp_path / "no-such-folder" / "lat.json"
    assert main([model, model, "--runs", "1", "--calls", "2", "--json", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert "--json" in err and "does not exist" in err and "run 1" not in out
