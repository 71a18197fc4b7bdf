"""What the partner's memory of the session costs the garbage collector: after a session of
`--calls` calls and answers with the model partner in process (`improv bench`'s answer
section), the objects the collector tracks and the time of one full collection, with the
partner keeping 16, 160 (`SESSION_PHRASES`) or 600 phrases. Run from the repository root:

    python3 models/eval/gc_session.py --runs 3 --calls 300 --json models/eval/gc-session.json

Each setting runs in a fresh process (its set-up frozen first, as the worker does:
`improv.gctime.settle`); the figures are the median of the runs and their spread.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from improv.bench.parts import engine, fresh_run, spread_each

ONE_RUN = """
import gc, json, sys, time
import improv.partner.core as core
from improv import gctime
from improv.bench.answer import bench_answer
from improv.config import Config
from improv.core.model.responder import ModelResponder
core.SESSION_PHRASES = int(sys.argv[2])
model = ModelResponder.load()
gctime.settle()
bench_answer("model", int(sys.argv[1]), Config(), responder=model)
gc.collect()
tracked = len(gc.get_objects())
t = time.perf_counter()
gc.collect()
print(json.dumps({"tracked": tracked, "full_collection_ms": (time.perf_counter() - t) * 1000.0}))
"""
KEEPS = (16, 160, 600)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    runs: dict[str, list[dict]] = {str(k): [] for k in KEEPS}
    for i in range(args.runs):
        for k in KEEPS:
            runs[str(k)].append(fresh_run(ONE_RUN, args.calls, k))
            print(f"run {i + 1}, {k} phrases kept: {runs[str(k)][-1]}", flush=True)
    summary = {k: spread_each(rs) for k, rs in runs.items()}
    for k, s in summary.items():
        print(f"{k} phrases kept: {s['tracked']['median']:.0f} objects tracked, a full collection "
              f"{s['full_collection_ms']['median']:.2f} ms ({s['full_collection_ms']['min']:.2f}-"
              f"{s['full_collection_ms']['max']:.2f})")
    if args.json:
        report = {"calls": args.calls, "runs": runs, "summary": summary, "engine": engine()}
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
