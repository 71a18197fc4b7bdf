"""`improv bench --startup`: the figures' arithmetic, the demo's first-note line, a real quick run.

(No timing is asserted: the figures are the bench's to report, not a unit test's to judge.)
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from improv.bench.startup import bench_startup, demo_first_note, du_mib, spread, time_command
from improv.cli import main

ENV = {"PATH": "/usr/bin:/bin"}


def test_spread_is_median_and_range():
    s = spread([0.3, 0.1, 0.2, 0.9])
    assert (s["n"], s["median"], s["min"], s["max"]) == (4, 0.25, 0.1, 0.9)
    assert spread([]) == {"n": 0}


def test_du_counts_the_tree_once(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 300_000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 200_000)
    (tmp_path / "hard").hardlink_to(tmp_path / "a")  # counted once, as du does
    assert 0.45 <= du_mib(tmp_path) <= 0.6


def test_time_command_times_each_run_and_reports_a_failure(tmp_path):
    ok = time_command([sys.executable, "-c", "pass"], 2, tmp_path, ENV)
    assert ok["wall_s"]["n"] == 2 and ok["first_s"] > 0 and len(ok["wall_s"]["samples"]) == 2
    bad = time_command([sys.executable, "-c", "import sys; sys.exit('no such call file')"], 2, tmp_path, ENV)
    assert bad == {"failed": "exit 1: no such call file"}


def fake_improv(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "fake_improv.py"
    script.write_text(textwrap.dedent(body))
    return [sys.executable, str(script)]


def test_demo_first_note_reads_the_demos_line_and_interrupts_it(tmp_path):
    improv = fake_improv(tmp_path, """
        import sys, time
        assert sys.argv[1] == "demo"
        print("demo: a scripted player plays 5 calls", flush=True)
        print("first note at 1.25 s", flush=True)
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            sys.exit(130)
    """)
    r = demo_first_note(improv, 2, ENV)
    assert r["demo_reports_s"]["median"] == 1.25 and r["spawn_to_line_s"]["n"] == 2


def test_demo_without_the_line_skips_the_row(tmp_path):
    improv = fake_improv(tmp_path, 'print("jamming at 120 bpm")\n')
    r = demo_first_note(improv, 3, ENV)
    assert "skipped" in r and "jamming at 120 bpm" in r["skipped"]


def test_a_real_run_of_every_row_but_the_demo():
    r = bench_startup(runs=1, demo=False, out=lambda _line: None)
    for row in ("python_start", "import_responder", "help", "respond"):
        assert "failed" not in r[row], r[row]
        assert r[row]["wall_s"]["n"] == 1
    assert r["demo_first_note"] == {"skipped": "--no-demo"}


@pytest.mark.parametrize("argv, match", [
    (["bench", "--startup", "--runs", "0"], "--runs"),
    (["bench", "--startup", "--venv", __file__], "not a virtual environment"),
])
def test_bad_startup_flags_are_one_line(argv, match, capsys):
    rc = main(argv + ["--no-demo"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and match in err and len(err.splitlines()) == 1
