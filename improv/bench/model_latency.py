"""Answer-ready latency of two phrase models, measured in the same run, turn about.

`improv bench`'s answer section (`improv.bench.answer.bench_answer`) times the model the
engine loads. To compare a new model with the shipped one on a machine that others
share, this runs that same section on each weights file in turn, A B A B ..., so both
see the same load, and reports each run and the median with the spread (min-max) of the
runs' medians and p99s:

    python -m improv.bench.model_latency models/old.npz models/new.npz --runs 3 --calls 300 --json out.json

A file named with `:nocache` after it is run with the session cache of pitch runs left out
(`ModelResponder.cache_runs = 0`): `models/improv-phrase-v2.npz:nocache models/improv-phrase-v2.npz`
measures what the cache costs; with `:window`, the cache reads only the notes the model reads,
not the session before them (`ModelResponder.cache_whole = False`). Each run is one session of
`--calls` calls and answers, so the partner remembers more and more of it.

Targets (issue 13): 4-bar answer ready p99 <= 20 ms, first note p99 <= 5 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from improv.bench.parts import json_output_error, spread

KEYS = ("ready_ms", "first_note_ms")


NO_CACHE, WINDOW = ":nocache", ":window"


def run_once(path: Path, calls: int, cache: bool = True, whole: bool = True) -> dict[str, Any]:
    """`improv bench`'s answer section (in process: the compute) on the model at `path`
    (`cache`: with the session cache of pitch runs; `whole`: reading the whole session)."""
    from improv.bench.answer import bench_answer
    from improv.config import Config
    from improv.core.model.responder import ModelResponder

    model = ModelResponder.load(path)
    if not cache:
        model.cache_runs = 0
    model.cache_whole = whole
    r = bench_answer("model", calls, Config(), responder=model)
    return {**r["in_process"], "path": str(path), "cache": cache, "cache_whole": cache and whole}


def _file(model: str) -> Path:
    return Path(model.removesuffix(NO_CACHE).removesuffix(WINDOW))


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure: the median over runs of each run's median and p99, and their min-max."""
    out: dict[str, Any] = {}
    for key in KEYS:
        got = [r[key] for r in runs if key in r]
        if not got:
            continue
        out[key] = {stat: spread([g[stat] for g in got]) for stat in ("median", "p99")}
    out["notes_per_answer"] = statistics.median(r.get("notes_per_answer", 0) for r in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs=2, metavar="NPZ", help="two weights files (e.g. shipped, then new); "
                   f"one ending in {NO_CACHE} runs without the session cache, in {WINDOW} with it over the model's window")
    p.add_argument("--runs", type=int, default=3, help="runs of each, taken in turn (default 3)")
    p.add_argument("--calls", type=int, default=300, help="calls a run (default 300, as improv bench)")
    p.add_argument("--json", type=Path, help="write every run and the summary here")
    args = p.parse_args(argv)
    bad = json_output_error(args.json) if args.json is not None else None  # before the runs, not after them
    if bad:
        print(f"error: {bad}", file=sys.stderr)
        return 2
    for m in args.models:
        if not _file(m).is_file():
            print(f"error: {_file(m)} not found: give two .npz weights files", file=sys.stderr)
            return 2
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in args.models}
    for i in range(args.runs):
        for m in args.models:
            r = run_once(_file(m), args.calls, cache=not m.endswith(NO_CACHE), whole=not m.endswith(WINDOW))
            if "skipped" in r:
                print(f"error: {r['skipped']}", file=sys.stderr)
                return 2
            runs[m].append(r)
            print(f"run {i + 1} {Path(m).name}: ready median {r['ready_ms']['median']:.1f} ms p99 {r['ready_ms']['p99']:.1f}"
                  f" ms; first note p99 {r.get('first_note_ms', {}).get('p99', float('nan')):.2f} ms; "
                  f"{r['notes_per_answer']:.1f} notes/answer", flush=True)
    report = {"runs": runs, "summary": {m: summarize_runs(rs) for m, rs in runs.items()}, "calls": args.calls}
    for m, s in report["summary"].items():
        rd, fn = s["ready_ms"], s.get("first_note_ms", {})
        print(f"{Path(m).name}: ready median {rd['median']['median']:.1f} ms, p99 {rd['p99']['median']:.1f} ms "
              f"({rd['p99']['min']:.1f}-{rd['p99']['max']:.1f}); first note p99 "
              f"{fn.get('p99', {}).get('median', float('nan')):.2f} ms")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
