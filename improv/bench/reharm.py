"""What a re-harmonised answer costs against the other answers to the same calls.

`improv bench` times the calls the jam gets, and embrace re-harmonises few of them (7 of
its 300 a run): too few to tell whether a re-harmonised answer is ready as soon as the
others. Here every call carries a clear mistake (`answer._with_mistake`), and the same
calls go through the partner's worker process (as in the jam) twice, taken in turn run by
run, each arm first in every other round: with re-harmonising as embrace's only strategy, and with every strategy but it
(motif, resolve, echo). A call whose note has no substitute chord to make it belong, or is
not salient enough for the daring, is answered plainly in the first; each answer is
counted by what it became (`by_kind_ms`, with its notes per answer: an answer's cost
follows its notes):

    python -m improv.bench.reharm --runs 4 --calls 600 --json figures/reharm-cost.json

Each run's median and p99 per kind, and the median over runs with the spread (min-max).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from improv.bench.parts import engine, json_output_error, spread

ARMS = {"reharmonise only": ("reharmonise",), "the other strategies": ("motif", "resolve", "echo")}


def material(calls: int) -> tuple[list, Any]:
    """`calls` free-jam calls of `improv bench`'s, each with a clear mistake, and the chart."""
    from improv.bench.answer import _with_mistake, calls_for
    from improv.bench.parts import CHART
    from improv.core.theory.chart import parse_chart

    chart = parse_chart(CHART, 4)
    out = []
    for call, start, length, cut in calls_for(calls, chart):
        if cut is not None:  # (a trading turn in the bench: here a free call, answered after its last bar)
            start, length = float(int(call.end) + 1), 16.0
        out.append((_with_mistake(call, chart), start, length, None))
    return out, chart


def run_once(name: str, strategies: tuple[str, ...], calls: int) -> dict[str, Any]:
    """One arm's calls through the worker process: `_through_process`'s figures."""
    from improv.bench.answer import _through_process
    from improv.config import Config

    cfg = Config()
    cfg = replace(cfg, embrace=replace(cfg.embrace, mode="embrace", strategies=strategies))
    mat, chart = material(calls)
    return _through_process(name, mat, chart, cfg)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind of answer: answers a run (median), and the median over runs of each run's
    median and p99 ready time with their min-max, and of its notes per answer."""
    kinds = sorted({k for r in runs for k in r.get("by_kind_ms", {})})
    out: dict[str, Any] = {}
    for kind in kinds:
        got = [r["by_kind_ms"][kind] for r in runs if r.get("by_kind_ms", {}).get(kind, {}).get("n")]
        if not got:
            continue
        out[kind] = {"answers": statistics.median(g["n"] for g in got),
                     **{stat: spread([g[stat] for g in got]) for stat in ("median", "p99")},
                     "notes_per_answer": statistics.median(r["notes_per_answer_by_kind"][kind] for r in runs
                                                           if kind in r.get("notes_per_answer_by_kind", {}))}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--partner", default="model", help="the partner (default: model, the jam's default)")
    p.add_argument("--runs", type=int, default=4, help="runs of each arm, taken in turn (default 4)")
    p.add_argument("--calls", type=int, default=600, help="calls a run (default 600)")
    p.add_argument("--json", type=Path, help="write every run and the summary here")
    args = p.parse_args(argv)
    if args.runs < 1 or args.calls < 1:
        print("error: --runs and --calls must be at least 1", file=sys.stderr)
        return 2
    bad = json_output_error(args.json) if args.json is not None else None  # before the runs, not after them
    if bad:
        print(f"error: {bad}", file=sys.stderr)
        return 2
    from improv.bench.run import machine

    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for i in range(args.runs):
        for arm, strategies in (list(ARMS.items()) if i % 2 == 0 else list(ARMS.items())[::-1]):  # (first in turn)
            r = run_once(args.partner, strategies, args.calls)
            if "skipped" in r:
                print(f"error: {r['skipped']}", file=sys.stderr)
                return 2
            runs[arm].append(r)
            kinds = ", ".join(f"{k} {v['n']} (median {v['median']:.1f} ms, p99 {v['p99']:.1f})"
                              for k, v in r["by_kind_ms"].items() if v.get("n"))
            print(f"run {i + 1}, {arm}: {kinds}", flush=True)
    report = {"partner": args.partner, "calls": args.calls, "engine": engine(), "machine": machine(), "runs": runs,
              "summary": {arm: summarize(rs) for arm, rs in runs.items()}}
    for arm, s in report["summary"].items():
        for kind, v in s.items():
            print(f"{arm}, {kind}: {v['answers']:g} a run, {v['notes_per_answer']:.1f} notes; ready median "
                  f"{v['median']['median']:.1f} ms, p99 {v['p99']['median']:.1f} ms ({v['p99']['min']:.1f}-"
                  f"{v['p99']['max']:.1f})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
