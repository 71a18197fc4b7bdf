"""`python -m improv.bench.soak`: what it reads from the jam's log, and its bad input (the
long jam itself needs JACK and minutes: it is run by hand, figures/soak-*.json)."""

from improv.bench.soak import from_stderr, main

LOG = """4:2  answer 1: 17 notes (C6 Bb5 ...), ready in 24.1 ms
9:1  answer 2: 30 notes (C4 ...), ready in 120.5 ms, at 200.0 bpm (heard)
answer 2 was ready 40 ms after it began: its first 2 notes left out
12:3  answer 3: 9 notes (D4 ...), ready in 30.0 ms
answer 3 was ready 3 ms after its first note was due
session ended (SIGTERM): 3 calls, 3 answers, 0 yields; answer ready p99 120.5 ms
"""


def test_the_log_gives_the_ready_times_the_late_answers_and_the_summary():
    got = from_stderr(LOG)
    assert got["answers_logged"] == 3 and got["ready_ms"]["median"] == 30.0 and got["ready_ms"]["max"] == 120.5
    assert got["late_answers"] == 2 and got["tracebacks"] == 0
    assert got["summary"] == ["session ended (SIGTERM): 3 calls, 3 answers, 0 yields; answer ready p99 120.5 ms"]
    assert from_stderr("Traceback (most recent call last):\n")["tracebacks"] == 1
    assert from_stderr("")["ready_ms"] == {}


def test_bad_minutes_and_missing_data_are_one_line(tmp_path, capsys):
    assert main(["--minutes", "0"]) == 2
    assert "--minutes must be 0-1440" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.tar.gz"), "--minutes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("improv.bench.soak: ") and len(err.splitlines()) == 1
