"""`improv bench`: the live path's latency and robustness figures, measured, in one run.

The sections live in `bench_parts` (in process: answer-ready time, partner timing, synth),
`render_memory` (the peak memory of `improv render` on a long session) and `bench_jack` (over a real `improv jam` on JACK: passthrough latency, the flood); this
module runs them, prints each figure next to its target, and collects them for --json.
With no JACK server the sections that need one are skipped, saying why.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from improv.config import Config
from improv.bench import jackprobe
from improv.bench.isolate import isolated
from improv.bench.jack import bench_flood_isolated
from improv.bench.answer import bench_answer
from improv.bench.parts import bench_synth_figures, engine
from improv.bench.restart import bench_restart
from improv.bench.timing import bench_timing
from improv.bench.render_memory import TARGET_PEAK_MB as TARGET_RENDER_PEAK_MB
from improv.bench.render_memory import bench_render_memory

TARGET_THRU_BEYOND_PERIOD_MS = 0.5  # issue 11: p99 <= one JACK period + 0.5 ms beyond a direct connection
TARGET_TIMING_P99_MS = 1.0
TARGET_READY_P99_MS = 20.0
TARGET_FIRST_NOTE_MS = 5.0
TARGET_RESTART_S = 3.0


def yardstick() -> float:
    """The median time (ms) of 7 runs of a fixed piece of Python and numpy work: how fast
    the machine is now."""
    import statistics
    import time

    import numpy as np

    a = np.random.default_rng(0).standard_normal((192, 192)).astype(np.float32)
    times = []
    for _ in range(7):
        t = time.perf_counter()
        sum(i * i % 7 for i in range(100_000))
        for _ in range(20):
            a @ a
        times.append((time.perf_counter() - t) * 1000.0)
    return round(statistics.median(times), 2)


def machine() -> dict[str, Any]:
    """What the figures were measured on: the CPU's name and a yardstick (`yardstick`), so
    that runs on two machines can be told apart (a batch on a machine half as fast measures
    the machine, not the engine). The run adds a yardstick after its answer section and one
    at its end (`yardstick_samples_ms`), and `yardstick_ms` becomes their median: one taken
    at the start alone missed a spell 1.5 times faster (bench-66..68 against 63..65)."""
    import os

    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        import platform

        name = platform.processor()
    stick = yardstick()
    return {"cpu": name, "cpus": os.cpu_count(), "yardstick_ms": stick, "yardstick_samples_ms": [stick]}


def _yardstick_again(results: dict[str, Any]) -> None:
    """One more yardstick sample into the run's machine; `yardstick_ms` is their median."""
    import statistics

    m = results["machine"]
    m["yardstick_samples_ms"].append(yardstick())
    m["yardstick_ms"] = round(statistics.median(m["yardstick_samples_ms"]), 2)


def fmt(stats: dict[str, float], unit: str = "ms") -> str:
    if not stats.get("n"):
        return "no samples"
    return (f"median {stats['median']:6.2f} {unit}   p99 {stats['p99']:6.2f} {unit}   "
            f"max {stats['max']:6.2f} {unit}   (n={stats['n']})")


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# --- start-up (`improv bench --startup`: processes timed from outside, no JACK) --------------
def run_startup(runs: int = 7, venv: Path | None = None, demo: bool = True,
                out: Callable[[str], None] = print) -> dict[str, Any]:
    """The start-up section alone (see `improv.bench.startup`): print and return its figures."""
    import os

    from improv.bench.startup import bench_startup, report

    load = os.getloadavg()[0]
    results: dict[str, Any] = {"engine": engine(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                               "load_average_1min_at_start": load}
    out(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start (figures are only as quiet as the machine)")
    results["startup"] = bench_startup(runs, venv, demo, out)
    report(results["startup"], out)
    return results


def _follow_section(results: dict[str, Any], quick: bool, out: Callable[[str], None],
                    data: Path | None = None) -> None:
    """The tempo follower on validation solos as recorded (`improv.bench.follow`), when the
    data is there (`data`: the wjazzd-solos.tar.gz; None: the shared data beside the repository)."""
    from improv.bench.follow import DEFAULT_DATA, bench_follow, format_follow
    from improv.bench.human import load_human

    data = DEFAULT_DATA if data is None else data
    if not data.exists():
        results["follow"] = {"skipped": f"no WJazzD data at {data}"}
        out(f"\ntempo follower: skipped (no WJazzD data at {data}; give it with --data)")
        return
    r = results["follow"] = bench_follow(load_human(data, "valid"), range(2 if quick else 5), 24 if quick else 48)
    out("")
    for line in format_follow(r):
        if line:
            out(line)


# --- the whole run ---------------------------------------------------------------------------
def run_bench(quick: bool = False, responder: str = "model", period: int = 64,
              out: Callable[[str], None] = print, json_path: Path | None = None,
              data: Path | None = None) -> dict[str, Any]:
    """Run every section (fewer samples and no flood with `quick`); print and return figures.

    With `json_path`, the figures so far are rewritten there after every line printed, so
    that they survive a run cut short.

    Uses the running JACK server (printing its period); when none runs and jackd exists,
    starts a private dummy-driver server with `period` frames for the run. `data`: the
    WJazzD solos for the follower's section (None: the shared data beside the repository).
    """
    import os

    from improv.config import load_config

    cfg = load_config(None)
    if json_path is not None:
        import json

        printer = out

        def out(line: str) -> None:  # noqa: F811 - print, then save what we have
            printer(line)
            Path(json_path).write_text(json.dumps(results, indent=2, default=str) + "\n")
    results: dict[str, Any] = {"quick": quick, "responder": responder, "engine": engine(),
                               "python": sys.version.split()[0],
                               "cpus": os.cpu_count(), "load_average_1min_at_start": os.getloadavg()[0],
                               "machine": machine()}
    m = results["machine"]
    out(f"machine: {os.cpu_count()} CPUs ({m['cpu'] or 'CPU not named'}), load average {os.getloadavg()[0]:.2f} at "
        f"start (figures are only as quiet as the machine); yardstick {m['yardstick_ms']:.1f} ms (a fixed piece of "
        "work: a machine twice as slow takes twice as long)")
    private = None
    reason = jackprobe.jack_unavailable(out)
    if reason and "no JACK server" in reason:
        try:
            private = jackprobe.start_private_server(f"improv-bench-{os.getpid()}", period=period)
            reason = None
        except Exception as e:  # noqa: BLE001 - no jackd: in-process parts only
            reason = f"{reason}; and a private server could not start: {e}"
    try:
        if reason:
            results["jack"] = {"skipped": reason}
            out(f"JACK: none ({reason}) -> measuring the in-process parts only")
            period_ms = 0.0
        else:
            with jackprobe.Patchbay("improv-bench") as pb:
                frames, rate, realtime = pb.period, pb.rate, pb.realtime
            period_ms = 1000.0 * frames / rate
            results["jack"] = {"period_frames": frames, "rate": rate, "period_ms": period_ms,
                               "server": "private (started by the bench)" if private else "running",
                               "realtime": realtime}
            out(f"JACK: {results['jack']['server']} server, {'real-time' if realtime else 'NOT real-time'}, "
                f"{frames} frames @ {rate} Hz = {period_ms:.2f} ms period")
        _sections(results, quick, responder, cfg, period_ms, jack=not reason, out=out, data=data)
        _yardstick_again(results)
        m = results["machine"]
        out(f"\nyardstick over the run: {', '.join(f'{x:.1f}' for x in m['yardstick_samples_ms'])} ms (start, after "
            f"the answers, end): median {m['yardstick_ms']:.1f} ms")
    finally:
        if private is not None:
            jackprobe.stop_private_server(private)
            os.environ.pop("JACK_DEFAULT_SERVER", None)
    return results


def _sections(results: dict[str, Any], quick: bool, responder: str, cfg: Config, period_ms: float,
              jack: bool, out: Callable[[str], None], data: Path | None = None) -> None:
    calls = 100 if quick else 300
    out(f"\nanswer ready: call end -> 4-bar answer ready, through the call the jam makes (embrace mode "
        f"{cfg.embrace.mode!r}: some answers re-harmonised; one call in three a trading turn), {calls} calls; "
        f"the call read in the rest that ends it and the session so far between calls, as the jam does "
        f"(target p99 <= {TARGET_READY_P99_MS:g} ms, first note <= {TARGET_FIRST_NOTE_MS:g} ms)")
    for name in (responder, "markov" if responder != "markov" else "model"):
        r = results[f"answer_{name}"] = bench_answer(name, calls, cfg)
        if "skipped" in r:
            out(f"  {name:7s} skipped: {r['skipped']}")
            continue
        proc, inproc = r.get("process", {}), r["in_process"]
        if "ready_ms" in proc:
            ok = proc["ready_ms"].get("p99", 1e9) <= TARGET_READY_P99_MS
            out(f"  {name:7s} ready, worker process {fmt(proc['ready_ms'])}  {verdict(ok)}")
            for kind, st in proc["by_kind_ms"].items():
                out(f"  {name:7s}   {kind:12s}         {fmt(st)}")
            drafted = r.get("process_drafted", {})
            if "ready_ms" in drafted:
                out(f"  {name:7s} drafted in the rest   {fmt(drafted['ready_ms'])}  ({drafted['drafted']} of "
                    f"{drafted['ready_ms']['n']} answers drafted: the call ended where the player stopped)")
        else:
            out(f"  {name:7s} worker process: {proc.get('skipped', 'not measured')}")
        out(f"  {name:7s} compute only         {fmt(inproc['ready_ms'])}  ({inproc['notes_per_answer']:.1f} notes "
            f"per answer)")
        if "first_note_ms" in inproc:
            ok = inproc["first_note_ms"]["p99"] <= TARGET_FIRST_NOTE_MS
            out(f"  {name:7s} first note (streamed) {fmt(inproc['first_note_ms'])}  {verdict(ok)}")
    _yardstick_again(results)  # (the machine's speed as the answers were timed)

    notes = 500 if quick else 2000
    where = "over JACK" if jack else "in process, no JACK (the sink discards)"
    out(f"\npartner timing: {notes} notes {where}, while the {responder} partner answers non-stop in its "
        f"process (target p99 <= {TARGET_TIMING_P99_MS:g} ms, none dropped)")
    r = results["timing"] = _timing(notes, cfg, responder, jack, load=True)
    if "skipped" in r:
        out(f"  skipped: {r['skipped']}")
    else:
        out(f"  load: {r['load']} ({r['answers_computed']} answers during the run)")
        ok = r["scheduler_error_ms"].get("p99", 1e9) <= TARGET_TIMING_P99_MS and r["dropped"] == 0
        out(f"  scheduler send - deadline   {fmt(r['scheduler_error_ms'])}  {verdict(ok)}")
        if "arrival_error_ms" in r:
            out(f"  listener arrival - deadline {fmt(r['arrival_error_ms'])}  (includes JACK output quantisation, "
                f"<= one {period_ms:.2f} ms period)")
            out(f"  notes left sounding at the listener: {r['left_sounding']}")
        out(f"  late {r['late']}, dropped {r['dropped']}, sent {r['sent']} of {r['scheduled']}")
    r = results["timing_idle"] = _timing(notes // 4, cfg, responder, jack, load=False)
    out(f"  reference, {notes // 4} notes with no partner computing:")
    if "skipped" in r:
        out(f"  skipped: {r['skipped']}")
    else:
        out(f"  scheduler send - deadline   {fmt(r['scheduler_error_ms'])}")
        if "arrival_error_ms" in r:
            out(f"  listener arrival - deadline {fmt(r['arrival_error_ms'])}")
    _after_timing(results, quick, responder, cfg, period_ms, jack, out, data)


def _timing(notes: int, cfg: Config, responder: str, jack: bool, load: bool) -> dict[str, Any]:
    """The timing section; over JACK in a child process (its measuring clients may crash)."""
    if not jack:
        return bench_timing(notes, cfg, responder, jack, load=load)
    return isolated("improv.bench.timing", "bench_timing",
                    {"notes": notes, "partner": responder, "jack": True, "load": load},
                    timeout=120 + notes * 0.05, what="partner timing", cfg=True)


def _after_timing(results: dict[str, Any], quick: bool, responder: str, cfg: Config, period_ms: float,
                  jack: bool, out: Callable[[str], None], data: Path | None = None) -> None:
    out(f"\npartner restart: its worker killed (SIGKILL) 3 times; seconds to a new worker and to an answer "
        f"(target <= {TARGET_RESTART_S:g} s)")
    r = results["restart"] = bench_restart(responder, cfg)
    if "error" in r:
        out(f"  FAILED: {r['error']}")
    else:
        ok = r["answers_again_s"]["max"] <= TARGET_RESTART_S
        out(f"  replaced      {fmt(r['replaced_s'], 's')}")
        out(f"  answers again {fmt(r['answers_again_s'], 's')}  {verdict(ok)}  (+ up to {r['checked_every_s']:g} s "
            f"until the jam's health check looks)")
        if "calls_failed" in r:
            out(f"  calls the killed worker had: {r['calls_of_the_killed_worker_answered_by_the_new_one']} of {r['runs']} "
                f"answered by the new one, {r['calls_failed']} failed")

    r = results["synth"] = bench_synth_figures(quick)
    if "skipped" in r:
        out(f"\nsynth: skipped: {r['skipped']}")
    else:
        out("\nsynth (its own bench_synth(): callback time as a fraction of the block budget, target <= 0.25; "
            "render speed x real time)")
        for k, v in r.items():
            out(f"  {k}: {_plain(v)}")

    _follow_section(results, quick, out, data)
    minutes, runs = (10.0, 1) if quick else (60.0, 3)
    out(f"\nrender memory: `improv render` of a generated {minutes:g}-minute band session, {runs} run(s), peak RSS "
        f"(target <= {TARGET_RENDER_PEAK_MB:g} MB for an hour)")
    r = results["render_memory"] = bench_render_memory(minutes, runs)
    out(f"  peak RSS median {r['peak_rss_mb']['median']:.1f} MB (spread {r['peak_rss_mb']['min']:.1f}-"
        f"{r['peak_rss_mb']['max']:.1f})  {verdict(r['met'])}")
    out(f"  render time median {r['render_s']['median']:.1f} s (spread {r['render_s']['min']:.1f}-"
        f"{r['render_s']['max']:.1f}), {r['x_real_time_median']:.0f}x real time")

    if not jack:
        for name in ("passthrough", "flood"):
            results[name] = {"skipped": "no JACK server"}
        out("\npassthrough and flood: skipped (no JACK server)")
        return
    messages = 400 if quick else 2000
    out(f"\npassthrough: {messages} messages, player -> improv jam thru -> listener, minus the same "
        f"messages over a direct JACK connection (target p99 <= one period + {TARGET_THRU_BEYOND_PERIOD_MS:g} ms "
        f"= {period_ms + TARGET_THRU_BEYOND_PERIOD_MS:.2f} ms)")
    r = results["passthrough"] = isolated("improv.bench.jack", "bench_passthrough",
                                          {"messages": messages, "responder": responder, "period_ms": period_ms},
                                          timeout=300, what="passthrough")
    if "skipped" in r:
        out(f"  skipped: {r['skipped']}")
    else:
        ok = r["added_ms"].get("n") and r["beyond_period_p99_ms"] <= TARGET_THRU_BEYOND_PERIOD_MS
        out(f"  added by improv            {fmt(r['added_ms'])}  {verdict(bool(ok))}")
        if r["added_ms"].get("n"):
            out(f"  p99 beyond one period: {r['beyond_period_p99_ms']:.2f} ms")
        out(f"  send -> arrival via jam    {fmt(r['send_to_arrival_via_jam_ms'])}")
        out(f"  send -> arrival direct     {fmt(r['send_to_arrival_direct_ms'])}")
        if r["jam_thru_in_process_p99_ms"] is not None:
            out(f"  the jam's own figure, input callback -> thru sent: p99 {r['jam_thru_in_process_p99_ms']:.2f} ms")
        out(f"  the {r['partner']} partner answered {r['partner_answers']} call(s) meanwhile (reading each in its rests)")
        out(f"  {r['through']} of {r['sent']} came through; jam exit {r['jam_exit']}; "
            f"notes left sounding {r['left_sounding']}")

    _keysound(results, quick, out)

    if quick:
        results["flood"] = {"skipped": "--quick"}
        out("\nflood: skipped (--quick)")
        return
    out("\nflood: 2000 messages/s for 60 s into improv jam, then a call")
    r = results["flood"] = bench_flood_isolated(2000.0, 60.0, responder)
    if "skipped" in r:
        out(f"  skipped: {r['skipped']}")
    else:
        out(f"  sent {r['sent']} ({r['channel_messages_sent']} channel messages), {r['through_thru']} came back "
            f"through thru; the jam's own counts: {_plain(r['jam_counts'])}")
        out(f"  its backlog drained {r['backlog_drained_s']:.2f} s after the flood ended; notes sounding at the "
            f"listener after the flood (note-offs lost into, inside or out of the jam): {r['hanging_after_flood']}")
        out(f"  jam memory: {r['rss_kb_start'] / 1024:.1f} MiB at start, {r['rss_kb_max'] / 1024:.1f} MiB max, "
            f"{r['rss_kb_end'] / 1024:.1f} MiB at the end")
        if r.get("own_kb_max"):
            out(f"  ... of it the jam's own (without JACK's shared memory segment): {r['own_kb_start'] / 1024:.1f} "
                f"MiB at start, {r['own_kb_max'] / 1024:.1f} MiB max, {r['own_kb_end'] / 1024:.1f} MiB at the end")
        out(f"  alive after: {r['alive_after']}; answered a call after: {r['answered_after']}; "
            f"exit {r['jam_exit']}; notes left sounding {r['left_sounding']}")


def _keysound(results: dict[str, Any], quick: bool, out: Callable[[str], None]) -> None:
    """Key to sound over JACK (improv/bench/keysound.py): median and spread of each run's p50/p99."""
    notes, runs = (40, 1) if quick else (150, 3)
    out(f"\nkey to sound: note-on into improv jam -> first sound on its built-in synth's JACK output, "
        f"{runs} run(s) of {notes} notes (target p99 <= one period + one block + 1 ms)")
    r = results["key_to_sound"] = isolated("improv.bench.keysound", "bench_keysound", {"notes": notes, "runs": runs},
                                           timeout=120 + runs * 120, what="key to sound")
    if "skipped" in r:
        out(f"  skipped: {r['skipped']}")
        return
    out(f"  JACK period {r['period_ms']:.2f} ms, synth block {r['block_ms']:.2f} ms -> target p99 "
        f"<= {r['target_p99_ms']:.2f} ms; the synth's stream reports {r['runs'][0]['synth_output_latency_ms']} ms")
    for i, run in enumerate(r["runs"], 1):
        busy = (f"; a lost note-off held a voice {run['note_offs_resent']} time(s): keys lifted again"
                if run.get("note_offs_resent") else "") + (
            f"; the synth not silent before {run['not_silent_before']} note(s)" if run.get("not_silent_before")
            else "") + (f"; stopped after {run['stopped_early']} notes (time budget)"
                        if run.get("stopped_early") is not None else "")
        out(f"  run {i}: {fmt(run['key_to_sound_ms'])}  missed {run['missed']}, partner answers "
            f"{run['answers_during_run']}, jam thru p99 {run['jam_thru_in_process_p99_ms']} ms{busy}")
    if "p99_median_ms" in r:
        lo, hi = r["p99_spread_ms"]
        out(f"  p50 {r['p50_median_ms']:.2f} ms, p99 {r['p99_median_ms']:.2f} ms (median of runs; p99 "
            f"{lo:.2f}-{hi:.2f} ms)  {verdict(r['meets_target'])}")
