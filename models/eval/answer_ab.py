"""Answer-ready latency of the model partner in two checkouts of improv, measured turn
about on one machine: `improv bench`'s answer section (`bench_answer`: 4-bar answers in
the worker process, and the compute alone in process) run by each checkout's own code,
A B A B ..., so that both see the same load. For a change to the partner's code, not to
its weights (`improv.bench.model_latency` compares weights). Run from the repository root:

    git worktree add /tmp/before COMMIT
    python3 models/eval/answer_ab.py /tmp/before . --runs 3 --calls 300 --json models/eval/answer-ab.json

Each run is a session of `--calls` calls and answers; the figures are each run's median and
p99 (ms), and their median and spread over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from improv.bench.parts import fresh_run, spread_each

ONE_RUN = """
import json, sys
from improv.bench.answer import bench_answer
from improv.config import Config
r = bench_answer("model", int(sys.argv[1]), Config())
ip, pr = r["in_process"], r["process"]
print(json.dumps({"worker_median": pr["ready_ms"]["median"], "worker_p99": pr["ready_ms"]["p99"],
                  "compute_median": ip["ready_ms"]["median"], "compute_p99": ip["ready_ms"]["p99"],
                  "first_note_p99": ip["first_note_ms"]["p99"]}))
"""


def run_once(checkout: Path, calls: int) -> dict:
    return fresh_run(ONE_RUN, calls, cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout.resolve())})


def commit_of(checkout: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkouts", nargs=2, type=Path, help="two checkouts of improv (e.g. before, then now)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    runs: dict[str, list[dict]] = {str(c): [] for c in args.checkouts}
    for i in range(args.runs):
        for c in args.checkouts:
            r = run_once(c, args.calls)
            runs[str(c)].append(r)
            print(f"run {i + 1} {c}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()), flush=True)
    summary = {c: spread_each(rs) for c, rs in runs.items()}
    report = {"calls": args.calls, "commits": {str(c): commit_of(c) for c in args.checkouts},
              "runs": runs, "summary": summary, "load_average": os.getloadavg()}
    for c, s in summary.items():
        print(f"{c}: " + ", ".join(f"{k} {v['median']:.2f} ({v['min']:.2f}-{v['max']:.2f})" for k, v in s.items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
