"""`improv bench` pieces that run in seconds (the full bench is run by hand; see README)."""

from __future__ import annotations

import json
import random
import subprocess

import pytest

from improv.cli import main
from improv.config import Config
from improv.bench.jack import flood_messages, pair_latency
from improv.bench.parts import fresh_run, random_call, spread_each, summary
from improv.bench.timing import bench_timing
from improv.bench.jackprobe import Arrival, sounding_notes


def test_summary_uses_nearest_rank_p99():
    s = summary([float(i) for i in range(1, 101)])
    assert (s["n"], s["median"], s["p99"], s["max"], s["min"]) == (100, 50.5, 99.0, 100.0, 1.0)
    assert summary([3.0])["p99"] == 3.0
    assert summary([]) == {"n": 0}


def test_pair_latency_matches_per_note_kind_and_velocity_in_order():
    early = [Arrival(0.000, (0x90, 60, 9)), Arrival(0.010, (0x80, 60, 0)), Arrival(0.020, (0x90, 60, 9)),
             Arrival(0.030, (0x90, 62, 9)), Arrival(0.040, (0x90, 64, 7)), Arrival(0.050, (0x90, 64, 8))]
    late = [Arrival(0.003, (0x90, 60, 9)), Arrival(0.014, (0x90, 60, 0)),  # on with velocity 0 = off
            Arrival(0.025, (0x90, 60, 9)), Arrival(0.040, (0x80, 99, 0)), Arrival(0.05, (0x90,)),
            Arrival(0.052, (0x90, 64, 8))]  # the velocity-7 one was lost: no shifted pairing
    assert pair_latency(early, late) == pytest.approx([3.0, 4.0, 5.0, 2.0])


def test_flood_groups_leave_no_note_sounding_and_have_ten_messages():
    msgs = [m for i in range(50) for m in flood_messages(i)]
    assert len(msgs) == 500
    assert not sounding_notes([Arrival(0.0, tuple(m)) for m in msgs])
    assert any(m[0] == 0xF0 and m[-1] == 0xF7 and len(m) == 256 for m in msgs)
    bad = [m for i in range(50) for m in flood_messages(i, malformed=True)]
    assert [0x90] in bad and [0xF0, 1, 2] in bad and not sounding_notes([Arrival(0.0, tuple(m)) for m in bad])


def test_random_calls_are_plausible_and_seeded():
    a, b = random_call(random.Random(1), bars=2), random_call(random.Random(1), bars=2)
    assert a == b and len(a.notes) >= 4 and a.length == 8.0
    assert all(48 <= n.pitch <= 84 and n.end <= 8.0 for n in a.notes)


def test_timing_section_in_process_measures_every_note():
    r = bench_timing(40, Config(), "markov", jack=False)
    assert r["scheduler_error_ms"]["n"] + r["dropped"] == 40
    assert r["sent"] + r["dropped"] == 40


def test_bench_command_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "--quick" in capsys.readouterr().out


@pytest.mark.parametrize("argv, said", [
    (["--period", "0"], "--period: expected a power of two from 16 to 4096 frames"),
    (["--period", "7"], "--period: expected a power of two"),
    (["--runs", "0"], "--runs only applies with --startup"),
    (["--venv", "x"], "--venv only applies with --startup"),
    (["--readme", "README.md"], "--readme only applies with --table"),
    (["--json", "{tmp}"], "that is a folder; give a file path"),
    (["--json", "{tmp}/no/such/x.json"], "--json"),
    (["--table", "{tmp}/missing.json"], "cannot read bench figures"),
    (["--table", "{tmp}/junk.json"], "is not bench figures (not JSON)"),
    (["--table", "{tmp}/run.json", "--readme", "{tmp}/missing.md"], "--readme"),
    (["--table", "{tmp}/run.json", "--json", "x.json"], "--json does not apply with --table"),
    # one run given three times made a table "median over 3 run(s)" of it, with no spread
    (["--table", "{tmp}/run.json", "{tmp}/run.json", "{tmp}/../{tmpname}/run.json"], "is given twice"),
])
def test_bench_refuses_what_cannot_work_before_running_in_one_line(argv, said, tmp_path, capsys):
    (tmp_path / "junk.json").write_text("not json")
    (tmp_path / "run.json").write_text('{"timing": {"scheduler_error_ms": {"n": 1, "median": 0.1, "p99": 0.2, '
                                       '"max": 0.2}, "dropped": 0}}')  # (a run: {} holds no figure)
    rc = main(["bench"] + [a.format(tmp=tmp_path, tmpname=tmp_path.name) for a in argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and said in err, err


def test_answer_section_goes_through_the_partner_and_its_process():
    from improv.bench.answer import bench_answer

    r = bench_answer("markov", 12, Config())
    kinds = r["in_process"]["by_kind_ms"]
    assert r["in_process"]["ready_ms"]["n"] == 12 and "trading" in kinds  # one call in three is a turn
    assert set(kinds) & {"reharmonised", "embraced"}  # the calls' mistakes are built on
    assert r["process"]["ready_ms"]["n"] == 12 and r["process"]["lost"] == 0  # through the worker process too
    assert set(r["process"]["by_kind_ms"]) == set(kinds)  # the same calls, the same plans
    # each ready time split into the worker's own compute and what the pipe added (figures/idle-ab.json)
    p = r["process"]
    assert p["worker_compute_ms"]["n"] == p["pipe_ms"]["n"] == 12 and p["worker_compute_ms"]["min"] > 0
    assert p["pipe_ms"]["min"] > 0 and p["worker_compute_ms"]["max"] < p["ready_ms"]["max"]


def test_restart_section_replaces_a_killed_worker():
    from improv.bench.restart import bench_restart

    r = bench_restart("markov", Config(), runs=1)
    assert "error" not in r, r
    assert r["restarts"] == 1 and r["answers_again_s"]["n"] == 1
    assert r["calls_of_the_killed_worker_answered_by_the_new_one"] == 1 and r["calls_failed"] == 0


def test_figures_table_takes_the_median_over_runs_with_the_spread(tmp_path):
    import json

    from improv.bench.table import BEGIN, END, load_runs, replace_block, table

    def run(ready_p99, timing_p99, dropped):
        return {"jack": {"period_ms": 1.33},
                "answer_model": {"process": {"ready_ms": {"n": 300, "median": 8.0, "p99": ready_p99, "max": 30.0}}},
                "timing": {"scheduler_error_ms": {"n": 2000, "median": 0.05, "p99": timing_p99, "max": 2.0},
                           "dropped": dropped}}

    paths = []
    for i, r in enumerate([run(18.0, 0.5, 0), run(25.0, 0.7, 0), run(19.0, 0.9, 1)]):
        paths.append(tmp_path / f"run{i}.json")
        paths[-1].write_text(json.dumps(r))
    text = table(*load_runs(paths))
    ready = next(line for line in text.splitlines() if line.startswith("| 4-bar answer ready, model"))
    assert "| 19.00 ms (18.00–25.00) |" in ready and ready.endswith(": met |")  # the median run, not the best
    timing = next(line for line in text.splitlines() if line.startswith("| partner timing"))
    assert timing.endswith("**missed** |")  # one run dropped a note late
    restart = next((line for line in text.splitlines() if line.startswith("| a killed partner")), None)
    assert "| not measured in these runs |" in restart  # no run measured it: said, not left out
    runs = load_runs(paths)[0]
    runs[0]["restart"] = {"answers_again_s": {"n": 3, "median": 0.3, "p99": 0.4, "max": 0.4}}
    restart = next(line for line in table(runs, ["a", "b", "c"]).splitlines() if line.startswith("| a killed"))
    assert "[1 of 3 runs]" in restart  # a row that not every run has says so
    doc = f"intro\n{BEGIN}\nold\n{END}\nrest"
    assert replace_block(doc, "new") == f"intro\n{BEGIN}\nnew\n{END}\nrest"
    assert "Measured on" not in text  # runs that do not say what they ran on: nothing guessed
    for r, stick in zip(runs, (41.0, 39.5, 80.2)):
        r["machine"] = {"cpu": "AMD EPYC", "cpus": 2, "yardstick_ms": stick}
    head = table(runs, ["a", "b", "c"]).splitlines()[0]
    assert head.endswith("Measured on AMD EPYC, 2 CPUs; yardstick (a fixed piece of work) 41.00 ms (39.50–80.20)."), head


def test_the_machine_is_named_and_timed_by_a_yardstick():
    from improv.bench.run import machine

    m = machine()
    assert m["cpus"] >= 1 and m["yardstick_ms"] > 0 and isinstance(m["cpu"], str)
    assert m["yardstick_samples_ms"] == [m["yardstick_ms"]]


def test_the_yardstick_is_the_median_of_samples_across_the_run(monkeypatch):
    """One yardstick at a run's start missed a spell of the machine 1.5 times faster than the
    batch before (bench-66..68: render 28.6 s against 47.4, yardstick 11.1 ms against 11.8):
    the run takes more samples as it goes, and a slow start no longer stands for the run."""
    import improv.bench.run as run

    results = {"machine": {"cpu": "AMD EPYC", "cpus": 2, "yardstick_ms": 12.6, "yardstick_samples_ms": [12.6]}}
    later = iter([7.1, 7.4])
    monkeypatch.setattr(run, "yardstick", lambda: next(later))
    run._yardstick_again(results)
    run._yardstick_again(results)
    assert results["machine"]["yardstick_samples_ms"] == [12.6, 7.1, 7.4]
    assert results["machine"]["yardstick_ms"] == 7.4


def test_json_that_is_not_bench_figures_never_empties_the_readme_table(tmp_path, capsys):
    """`--table figures/follow.json --readme R.md` (or a file holding {}) printed "rewrote the
    figures table", left it with no rows, and exited 0."""
    import json
    from pathlib import Path

    from improv.bench.table import BEGIN, END
    from improv.cli import main

    root = Path(__file__).resolve().parent.parent
    readme = tmp_path / "R.md"
    readme.write_text((root / "README.md").read_text())
    before = readme.read_text()
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({}))
    for other in (root / "figures" / "follow.json", empty):
        rc = main(["bench", "--table", str(other), "--readme", str(readme)])
        err = capsys.readouterr().err
        assert rc == 2 and "holds none of the table's figures" in err and len(err.strip().splitlines()) == 1, err
    assert readme.read_text() == before and BEGIN in before and END in before


def test_a_readme_without_the_markers_is_named_and_left_as_it_was(tmp_path, capsys):
    """`--readme NOTES.md` with no figures markers said only "no <!-- figures:begin -->
    ... block to fill in", not which file lacked them."""
    from pathlib import Path

    from improv.cli import main

    root = Path(__file__).resolve().parent.parent
    readme = tmp_path / "NOTES.md"
    readme.write_text("# notes\n")
    runs = [str(root / "figures" / f"bench-{n}.json") for n in (42, 43, 44)]
    assert main(["bench", "--table", *runs, "--readme", str(readme)]) == 2
    err = capsys.readouterr().err
    assert f"--readme {readme}: no <!-- figures:begin -->" in err and len(err.strip().splitlines()) == 1, err
    assert readme.read_text() == "# notes\n"


def test_readme_figures_are_the_table_of_the_committed_runs():
    """The README's figures block is exactly what `improv bench --table` makes of the JSON it
    names, so a published figure cannot drift from the run it came from."""
    import re
    from pathlib import Path

    from improv.bench.table import BEGIN, END, load_runs, table

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    block = readme[readme.index(BEGIN) + len(BEGIN):readme.index(END)].strip()
    names = re.findall(r"`(figures/bench-[^`]+\.json)`", block.splitlines()[0])
    assert len(names) >= 3, "the README's figures should come from three or more committed runs"
    runs, _ = load_runs([root / n for n in names])
    assert block == table(runs, names), "README figures are stale: rerun `improv bench --table ... --readme README.md`"


def test_readme_startup_figures_are_the_table_of_the_committed_run():
    import re
    from pathlib import Path

    from improv.bench.table import STARTUP_BEGIN, STARTUP_END, load_runs, startup_table

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    block = readme[readme.index(STARTUP_BEGIN) + len(STARTUP_BEGIN):readme.index(STARTUP_END)].strip()
    names = re.findall(r"`(figures/[^`]+\.json)`", block.splitlines()[0] if block else "")
    assert len(names) == 1, "the README's start-up block should name the one committed run it comes from"
    runs, _ = load_runs([root / names[0]])
    assert block == startup_table(runs[0], names[0])


def test_startup_table_says_what_was_not_measured_and_which_targets_are_missed():
    from improv.bench.table import startup_table

    run = {"load_average_1min_at_start": 0.1, "startup": {
        "runs": 7, "venv": {"size_mib": 200.0, "install_s": 20.0, "install_command": "pip install -e .",
                            "torch_installed": False},
        "help": {"wall_s": {"median": 0.1, "min": 0.09, "max": 0.2}},
        "respond": {"wall_s": {"median": 1.5, "min": 1.2, "max": 1.9}},
        "demo_first_note": {"skipped": "no sound"}}}
    text = startup_table(run, "figures/x.json")
    assert "| 210 MB | ≤ 150 MB: **missed** |" in text
    assert "| `improv --help` | 0.10 s (0.09–0.20) | ≤ 0.3 s: met |" in text
    assert "`improv respond` with the model | 1.50 s (1.20–1.90) | ≤ 1 s: **missed** |" in text
    assert "not measured: no sound" in text


def test_a_section_run_isolated_returns_its_figures_and_a_crash_is_reported_in_its_place():
    from improv.bench.isolate import isolated

    r = isolated("improv.bench.startup", "spread", {"values": [1.0, 2.0, 3.0]}, timeout=60, what="spread")
    assert r["median"] == 2.0 and r["n"] == 3
    crashed = isolated("os", "abort", {}, timeout=60, what="abort")  # dies of SIGABRT, as a segfault would
    assert crashed["skipped"].startswith("the abort section's measuring process died (exit -6)"), crashed
    assert crashed["crash"]["fault"] == "Aborted" and crashed["crash"]["where"].startswith("a Python thread"), crashed


CRASHING = """
import ctypes, threading, time

def in_c_thread():
    # a thread of C's own (as libjack's process thread is) that jumps to address 0
    libc = ctypes.CDLL(None)
    tid = ctypes.c_ulong()
    libc.pthread_create(ctypes.byref(tid), None, ctypes.c_void_p(0), None)
    time.sleep(10)

def in_a_python_thread():
    threading.Thread(target=ctypes.string_at, args=(0,), name="reader").start()
    time.sleep(10)
"""


def test_a_crash_says_whether_it_was_in_a_python_thread_or_a_c_librarys_own(tmp_path, monkeypatch):
    """The bench's measuring processes die in python-rtmidi now and then (exit -11); the report
    kept the last six lines of the dump, which named the main thread and not the one that died."""
    from improv.bench.isolate import isolated

    (tmp_path / "crashing.py").write_text(CRASHING)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    c = isolated("crashing", "in_c_thread", {}, timeout=60, what="c")
    assert c["skipped"].startswith("the c section's measuring process died (exit -11): Segmentation fault in a "
                                   "thread that runs no Python"), c
    assert c["crash"]["python_threads"] >= 1 and c["crash"]["dump"][0] == "Fatal Python error: Segmentation fault"
    p = isolated("crashing", "in_a_python_thread", {}, timeout=60, what="py")
    assert p["crash"]["fault"] == "Segmentation fault", p
    assert "a Python thread, at File" in p["crash"]["where"] and "string_at" in p["crash"]["where"], p
    assert p["crash"]["python_threads"] == 2, p


def test_render_memory_refuses_no_runs_and_an_unwritable_json_before_rendering(tmp_path, capsys):
    """`python -m improv.bench.render_memory --runs 0` rendered, then ended in a StatisticsError
    traceback; --json into a missing folder was written after every render (a traceback)."""
    from improv.bench.render_memory import main as render_memory

    for argv in (["--minutes", "0.05", "--runs", "0"],
                 ["--minutes", "0.05", "--runs", "1", "--json", str(tmp_path / "no-such-folder" / "r.json")]):
        with pytest.raises(SystemExit) as e:
            render_memory(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.strip().splitlines()[-1].split("error: ")[1].startswith(("--runs", "--json")), err


def test_quick_runs_never_make_the_readme_table(tmp_path, capsys):
    """`improv bench --quick --json` runs given to `--table ... --readme` were written into the
    README as the table, under rows that say "1-hour band session" and "3 runs of up to 150
    notes" (a quick run renders 10 minutes once and plays one run of 40 notes): refused now,
    and a printed table of them says what they are."""
    from pathlib import Path

    from improv.bench.table import BEGIN, END

    root = Path(__file__).resolve().parent.parent
    quick = json.loads((root / "figures" / "bench-51.json").read_text())
    quick["quick"] = True
    runs = []
    for i in range(3):
        (tmp_path / f"q{i}.json").write_text(json.dumps(quick))
        runs.append(str(tmp_path / f"q{i}.json"))
    readme = tmp_path / "R.md"
    readme.write_text(f"# r\n{BEGIN}\nold\n{END}\n")
    assert main(["bench", "--table", *runs, "--readme", str(readme)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--quick" in err and len(err.splitlines()) == 1, err
    assert "old" in readme.read_text()
    assert main(["bench", "--table", *runs]) == 0
    assert "3 of the runs are `--quick` ones" in capsys.readouterr().out


def test_a_bound_or_alive_after_missed_in_one_run_is_missed():
    """The flood's "alive, still answering" and the render's 200 MB were judged on the median
    over the runs: a jam that died in one flood of three, or one render over the bound, still
    read "met"."""
    from pathlib import Path

    from improv.bench.table import table

    root = Path(__file__).resolve().parent.parent
    runs = [json.loads((root / "figures" / f"bench-{n}.json").read_text()) for n in (51, 52, 53)]
    names = [f"r{n}.json" for n in range(3)]

    def verdict(text, row):
        return next(line for line in text.splitlines() if line.startswith(f"| {row}")).rsplit("|", 2)[-2].strip()

    flood, render = "flood of 2,000 messages", "render of a generated 1-hour"
    assert verdict(table(runs, names), flood).endswith(": met")
    assert verdict(table(runs, names), render).endswith(": met")
    runs[1]["flood"]["alive_after"] = False
    runs[2]["render_memory"]["peak_rss_mb"]["max"] = 250.0
    assert verdict(table(runs, names), flood).endswith("**missed**")
    assert verdict(table(runs, names), render).endswith("**missed**")


def test_a_row_no_run_measured_is_said_not_dropped():
    """Runs without JACK (or whose measuring process died in every run) made a table with no
    key-to-sound, passthrough or flood rows at all, and nothing said they were missing."""
    from pathlib import Path

    from improv.bench.table import table

    root = Path(__file__).resolve().parent.parent
    run = json.loads((root / "figures" / "bench-51.json").read_text())
    for key in ("key_to_sound", "passthrough", "flood"):
        run[key] = {"skipped": "no JACK server: start one | or install jackd"}
    text = table([run, run, run], ["a.json", "b.json", "c.json"])
    rows = [line for line in text.splitlines() if "not measured in these runs (no JACK server)" in line]
    assert len(rows) == 4 and any(r.startswith("| key to sound") for r in rows)
    assert all(r.count("|") == 5 for r in rows)  # the reason cannot break the table


def test_markov_runs_never_make_the_readme_table(tmp_path, capsys):
    """`improv bench --responder markov` runs went into the README's table under rows saying
    "the model partner answering non-stop" (timing, passthrough, flood): refused now, and a
    printed table of them says so."""
    from pathlib import Path

    from improv.bench.table import BEGIN, END

    root = Path(__file__).resolve().parent.parent
    run = json.loads((root / "figures" / "bench-51.json").read_text())
    run["responder"] = "markov"
    runs = []
    for i in range(3):
        (tmp_path / f"m{i}.json").write_text(json.dumps(run))
        runs.append(str(tmp_path / f"m{i}.json"))
    readme = tmp_path / "R.md"
    readme.write_text(f"# r\n{BEGIN}\nold\n{END}\n")
    assert main(["bench", "--table", *runs, "--readme", str(readme)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--responder markov" in err and len(err.splitlines()) == 1, err
    assert "old" in readme.read_text()
    assert main(["bench", "--table", *runs]) == 0
    assert "3 of the runs had the Markov partner" in capsys.readouterr().out


def test_bench_data_names_the_follower_data_and_refuses_a_missing_one(tmp_path, capsys, monkeypatch):
    """Run from a clone that is not beside ../shared (a snapshot in /tmp), `improv bench` skipped
    the tempo follower's rows with no way to point it at the data (bench-54 lost them): `--data`
    names the solos, a missing one is refused before any work, in one line naming the flag."""
    import improv.bench.follow as follow
    import improv.bench.human as human
    from improv.bench.run import _follow_section

    assert main(["bench", "--data", str(tmp_path / "nope.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and "nope.tar.gz" in err and len(err.strip().splitlines()) == 1, err
    assert main(["bench", "--table", "x.json", "--data", str(tmp_path)]) == 2
    assert "--data does not apply with --table" in capsys.readouterr().err

    seen = []
    monkeypatch.setattr(human, "load_human", lambda path, split: seen.append((path, split)) or [])
    monkeypatch.setattr(follow, "bench_follow", lambda solos, seeds, calls: {"skipped": "stub run"})
    monkeypatch.setattr(follow, "format_follow", lambda r: [])
    results: dict = {}
    _follow_section(results, True, lambda line: None, tmp_path)
    assert seen == [(tmp_path, "valid")]
    missing: dict = {}
    _follow_section(missing, True, lambda line: None, tmp_path / "gone")
    assert "gone" in missing["follow"]["skipped"]


def test_a_fresh_run_gives_its_last_lines_figures_and_runs_are_summed_up_figure_by_figure(tmp_path):
    """The measuring scripts (models/eval) each run in a fresh Python, with the arguments
    given, in the folder given; the figures are the JSON of the run's last line."""
    code = "import json, os, sys; print('warming up'); print(json.dumps({'n': int(sys.argv[1]), 'here': os.getcwd()}))"
    assert fresh_run(code, 7, cwd=tmp_path) == {"n": 7, "here": str(tmp_path)}
    with pytest.raises(subprocess.CalledProcessError):
        fresh_run("raise SystemExit(3)")
    runs = [{"a": 1.0, "b": 5.0}, {"a": 3.0, "b": 4.0}, {"a": 2.0, "b": 9.0}]
    assert spread_each(runs) == {"a": {"median": 2.0, "min": 1.0, "max": 3.0}, "b": {"median": 5.0, "min": 4.0, "max": 9.0}}
