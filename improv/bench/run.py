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
from improv.bench.jack import bench_flood_isolated, bench_passthrough
from improv.bench.parts import bench_answer, bench_synth_figures, bench_timing
from improv.bench.jamprocess import JamFailed
from improv.bench.render_memory import TARGET_PEAK_MB as TARGET_RENDER_PEAK_MB
from improv.bench.render_memory import bench_render_memory

TARGET_THRU_BEYOND_PERIOD_MS = 1.0
TARGET_TIMING_P99_MS = 1.0
TARGET_READY_P99_MS = 20.0
TARGET_FIRST_NOTE_MS = 5.0


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


# --- the whole run ---------------------------------------------------------------------------
def run_bench(quick: bool = False, responder: str = "markov", period: int = 64,
              out: Callable[[str], None] = print, json_path: Path | None = None) -> dict[str, Any]:
    """Run every section (fewer samples and no flood with `quick`); print and return figures.

    With `json_path`, the figures so far are rewritten there after every line printed, so
    that they survive a run cut short.

    Uses the running JACK server (printing its period); when none runs and jackd exists,
    starts a private dummy-driver server with `period` frames for the run.
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
    results: dict[str, Any] = {"quick": quick, "responder": responder, "python": sys.version.split()[0],
                               "cpus": os.cpu_count(), "load_average_1min_at_start": os.getloadavg()[0]}
    out(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start (figures are only as "
        f"quiet as the machine)")
    private = None
    reason = jackprobe.jack_unavailable()
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
            frames, rate = jackprobe.jack_period()
            period_ms = 1000.0 * frames / rate
            results["jack"] = {"period_frames": frames, "rate": rate, "period_ms": period_ms,
                               "server": "private (started by the bench)" if private else "running"}
            out(f"JACK: {results['jack']['server']} server, {frames} frames @ {rate} Hz "
                f"= {period_ms:.2f} ms period")
        _sections(results, quick, responder, cfg, period_ms, jack=not reason, out=out)
    finally:
        if private is not None:
            jackprobe.stop_private_server(private)
            os.environ.pop("JACK_DEFAULT_SERVER", None)
    return results


def _sections(results: dict[str, Any], quick: bool, responder: str, cfg: Config, period_ms: float,
              jack: bool, out: Callable[[str], None]) -> None:
    calls = 100 if quick else 300
    out(f"\nanswer ready: phrase end -> 4-bar answer ready, responder only, in process, {calls} calls; the "
        f"session so far read between calls and the call in the rest that ends it, as the jam does "
        f"(target p99 <= {TARGET_READY_P99_MS:g} ms)")
    for name in ("markov", "model"):
        r = results[f"answer_{name}"] = bench_answer(name, calls, cfg)
        if "skipped" in r:
            out(f"  {name:7s} skipped: {r['skipped']}")
            continue
        ok = r["ready_ms"]["p99"] <= TARGET_READY_P99_MS
        out(f"  {name:7s} ready       {fmt(r['ready_ms'])}  {verdict(ok)}")
        out(f"  {name:7s} answer only {fmt(r['answer_only_ms'])}  ({r['notes_per_answer']:.1f} notes per answer)")
        if "first_note_ms" in r:
            ok = r["first_note_ms"]["p99"] <= TARGET_FIRST_NOTE_MS
            out(f"  {name:7s} first note  {fmt(r['first_note_ms'])}  (target {TARGET_FIRST_NOTE_MS:g} ms) "
                f"{verdict(ok)}")
        if "ready_call_at_end_ms" in r:
            out(f"  {name:7s} call at end {fmt(r['ready_call_at_end_ms'])}  (the call read at its end)")
        if "ready_unprimed_ms" in r:
            out(f"  {name:7s} unprimed    {fmt(r['ready_unprimed_ms'])}  (the history read at the call's end too)")

    notes = 500 if quick else 2000
    where = "over JACK" if jack else "in process, no JACK (the sink discards)"
    out(f"\npartner timing: {notes} notes {where}, while the responder computes "
        f"(target p99 <= {TARGET_TIMING_P99_MS:g} ms)")
    r = results["timing"] = bench_timing(notes, cfg, responder, jack)
    out(f"  load: {r['load']} ({r['answers_computed']} answers during the run)")
    ok = r["scheduler_error_ms"].get("p99", 1e9) <= TARGET_TIMING_P99_MS
    out(f"  scheduler send - deadline   {fmt(r['scheduler_error_ms'])}  {verdict(ok)}")
    if "arrival_error_ms" in r:
        out(f"  listener arrival - deadline {fmt(r['arrival_error_ms'])}  (includes JACK output quantisation, "
            f"<= one {period_ms:.2f} ms period)")
        out(f"  notes left sounding at the listener: {r['left_sounding']}")
    out(f"  late {r['late']}, dropped {r['dropped']}, sent {r['sent']} of {r['scheduled']}")
    r = results["timing_idle"] = bench_timing(notes // 4, cfg, responder, jack, load=False)
    out(f"  reference, {notes // 4} notes with no responder computing:")
    out(f"  scheduler send - deadline   {fmt(r['scheduler_error_ms'])}")
    if "arrival_error_ms" in r:
        out(f"  listener arrival - deadline {fmt(r['arrival_error_ms'])}")

    r = results["synth"] = bench_synth_figures(quick)
    if "skipped" in r:
        out(f"\nsynth: skipped: {r['skipped']}")
    else:
        out("\nsynth (its own bench_synth(): callback time as a fraction of the block budget, target <= 0.25; "
            "render speed x real time)")
        for k, v in r.items():
            out(f"  {k}: {_plain(v)}")

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
    from improv.cli import COMMANDS

    if "jam" not in COMMANDS:
        results["passthrough"] = results["flood"] = {"skipped": "improv has no jam command"}
        out("\npassthrough and flood: skipped (improv has no jam command)")
        return
    messages = 400 if quick else 2000
    out(f"\npassthrough: {messages} messages, player -> improv jam thru -> listener, minus the same "
        f"messages over a direct JACK connection (target p99 <= one period + {TARGET_THRU_BEYOND_PERIOD_MS:g} ms "
        f"= {period_ms + TARGET_THRU_BEYOND_PERIOD_MS:.2f} ms)")
    try:
        r = results["passthrough"] = bench_passthrough(messages, responder, period_ms)
    except JamFailed as e:
        r = results["passthrough"] = {"skipped": f"the jam failed: {e}"}
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
        out(f"  {r['through']} of {r['sent']} came through; jam exit {r['jam_exit']}; "
            f"notes left sounding {r['left_sounding']}")

    if quick:
        results["flood"] = {"skipped": "--quick"}
        out("\nflood: skipped (--quick)")
        return
    out("\nflood: 2000 messages/s for 60 s into improv jam, then a call")
    try:
        r = results["flood"] = bench_flood_isolated(2000.0, 60.0, responder)
    except JamFailed as e:
        r = results["flood"] = {"skipped": f"the jam failed: {e}"}
    if "skipped" in r:
        out(f"  skipped: {r['skipped']}")
    else:
        out(f"  sent {r['sent']} ({r['channel_messages_sent']} channel messages), {r['through_thru']} came back "
            f"through thru; the jam's own counts: {_plain(r['jam_counts'])}")
        out(f"  its backlog drained {r['backlog_drained_s']:.2f} s after the flood ended; notes sounding at the "
            f"listener after the flood (note-offs lost into, inside or out of the jam): {r['hanging_after_flood']}")
        out(f"  jam memory: {r['rss_kb_start'] / 1024:.1f} MiB at start, {r['rss_kb_max'] / 1024:.1f} MiB max, "
            f"{r['rss_kb_end'] / 1024:.1f} MiB at the end")
        out(f"  alive after: {r['alive_after']}; answered a call after: {r['answered_after']}; "
            f"exit {r['jam_exit']}; notes left sounding {r['left_sounding']}")
