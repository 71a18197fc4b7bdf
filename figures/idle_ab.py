"""Why an answer through the worker takes longer than the partner's compute alone: the rest
before it, not the pipe. Written as JSON; run from the repository root (no JACK needed):

    python3 figures/idle_ab.py > figures/idle-ab.json
    python3 figures/idle_ab.py --rest 0.25 --calls 150 --rounds 3 --no-worker > figures/idle-ab-250ms.json

The table's "compute alone" row answers its calls in the bench's own process, one straight
after the other (`improv.bench.answer._in_process`: the call's read, then its answer at
once). Through the worker (`_through_process`) the partner reads the call, then waits
20 ms (the rest in which the jam notices the call's end), then answers. Here the same
responder answers the same calls in this process three ways, the arms taken in turn within
each round so the machine's drift falls on all three alike:

- `back_to_back`: the call's read, then its answer at once (the table's "compute alone");
- `rest_sleep`: 20 ms asleep between the read and the answer, and after it (as the worker);
- `rest_spin`: the same 20 ms spent spinning on the clock instead of asleep (the core kept
  busy, touching none of the model's memory): what the rest costs by the core's going idle,
  apart from what it costs by the rest's length.

`--rest` sets the in-process arms' rest: a jam's is longer than the bench's 20 ms (from the
rest's read, a quarter beat into it, to the call's end at the gap: 0.25-0.5 s at 120 bpm).

And through the worker itself (`_through_process`, as the bench times it), per answer: ready
(submit -> the result back) against the worker's own compute time for it
(`worker_compute_ms`, from `Result.compute_ms`): what the pipe and pickling add (`pipe_ms`).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from statistics import median

REST_S = 0.02  # as `_through_process` sleeps before submitting, and after the result


def _summary(v: list[float]) -> dict[str, float]:
    from improv.bench.parts import summary

    got = summary(v)
    return {"median": round(got["median"], 3), "p99": round(got["p99"], 3), "n": len(v)}


def in_process(calls: int, arm: str, rest_s: float = REST_S) -> dict[str, float]:
    from improv.bench.answer import _jobs, calls_for
    from improv.bench.parts import CHART
    from improv.config import Config
    from improv.core.theory.chart import parse_chart
    from improv.partner.build import make_responder
    from improv.partner.core import PartnerCore
    from improv.partner.protocol import Read, Setup

    cfg, chart = Config(), parse_chart(CHART, 4)
    core = PartnerCore(make_responder(replace(cfg.responder, name="model"), seed=1))
    core.setup(Setup("model", cfg.responder.markov_order, 1, chart=chart))

    def rest() -> None:
        if arm == "rest_sleep":
            time.sleep(rest_s)
        elif arm == "rest_spin":
            end = time.perf_counter() + rest_s
            while time.perf_counter() < end:
                pass

    ready = []
    for job in _jobs(calls_for(calls, chart), chart, cfg):
        core.read(Read(job.call, chart))
        rest()
        t0 = time.perf_counter()
        core.answer(job)
        ready.append((time.perf_counter() - t0) * 1000.0)
        core.after(chart)
        rest()
    return _summary(ready)


def through_worker(calls: int) -> dict[str, dict[str, float]]:
    from improv.bench.answer import _through_process, calls_for
    from improv.bench.parts import CHART
    from improv.config import Config
    from improv.core.theory.chart import parse_chart

    chart = parse_chart(CHART, 4)
    got = _through_process("model", calls_for(calls, chart), chart, Config())
    return {k: {q: round(got[k][q], 3) for q in ("median", "p99", "n")}
            for k in ("ready_ms", "worker_compute_ms", "pipe_ms")}


def _child(what: str, calls: int, rest_s: float) -> dict:
    """One measure in a fresh process (each arm starts from the same cold state)."""
    out = subprocess.run([sys.executable, __file__, "--child", what, "--calls", str(calls), "--rest", str(rest_s)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rest", type=float, default=REST_S,
                    help=f"the in-process arms' rest, seconds (default {REST_S}: the bench's; the worker arm keeps it)")
    ap.add_argument("--no-worker", action="store_true", help="leave out the worker arm (it rests as the bench does)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        got = through_worker(args.calls) if args.child == "worker" else in_process(args.calls, args.child, args.rest)
        print(json.dumps(got))
        return
    arms = ["back_to_back", "rest_sleep", "rest_spin"] + ([] if args.no_worker else ["worker"])
    runs: dict[str, list] = {a: [] for a in arms}
    for r in range(args.rounds):
        for a in arms[r % len(arms):] + arms[:r % len(arms)]:  # (each round starts with another arm)
            runs[a].append(_child(a, args.calls, args.rest))
            print(f"round {r + 1} {a}: {json.dumps(runs[a][-1])}", file=sys.stderr)

    def spread(vals: list[float]) -> dict[str, float]:
        return {"median": round(median(vals), 2), "low": round(min(vals), 2), "high": round(max(vals), 2)}

    out: dict = {"command": " ".join(["python3 figures/idle_ab.py"] + sys.argv[1:]), "calls": args.calls,
                 "rounds": args.rounds, "rest_s": args.rest, "machine": platform.processor() or platform.machine(),
                 "date": time.strftime("%Y-%m-%d %H:%M"), "runs": runs, "medians_of_runs": {}}
    for a in arms[:3]:
        out["medians_of_runs"][a] = {q: spread([x[q] for x in runs[a]]) for q in ("median", "p99")}
    if runs.get("worker"):
        out["medians_of_runs"]["worker"] = {k: {q: spread([x[k][q] for x in runs["worker"]]) for q in ("median", "p99")}
                                            for k in ("ready_ms", "worker_compute_ms", "pipe_ms")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
