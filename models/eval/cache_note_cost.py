"""What the session cache costs a decoded note: `CopyIndex.mix_pitch` (the cache's
distribution over the next pitch, mixed into the pitch head's) timed at every note the
model partner decodes, and each answer's whole time, in process, over the calls of
`improv bench`'s answer section (read, answer, then the read-ahead, as the worker does).
Run from the repository root:

    python3 models/eval/cache_note_cost.py --runs 3 --calls 300 --json models/eval/cache-note-cost.json

Each run is a fresh process; the figures are the median over the runs of each run's
median and p99 (microseconds a note, milliseconds an answer), with their spread. The first
quarter of each run's notes is left out of the figures a note (the session still short); the
mixture's time an answer (`mix_ms_per_answer`) counts every note.
"""

from __future__ import annotations

import argparse
import json
import sys

from improv.bench.parts import engine, fresh_run, spread_each

ONE_RUN = """
import json, statistics, sys, time
from dataclasses import replace
import improv.core.model.copying as copying
from improv.bench import answer as A
from improv.bench.parts import summary
from improv.config import Config
from improv.partner.build import make_responder
from improv.partner.core import PartnerCore
from improv.partner.protocol import Read, Setup

mix, answers, notes = [], [], []
plain = copying.CopyIndex.mix_pitch
def timed(self, logits):
    t = time.perf_counter()
    out = plain(self, logits)
    mix.append((time.perf_counter() - t) * 1e6)
    return out
copying.CopyIndex.mix_pitch = timed
cfg = Config()
chart = A.parse_chart(A.CHART, cfg.timing.beats_per_bar)
core = PartnerCore(make_responder(replace(cfg.responder, name="model"), seed=1))
core.setup(Setup("model", cfg.responder.markov_order, 1, chart=chart))
for job in A._jobs(A.calls_for(int(sys.argv[1]), chart), chart, cfg):
    core.read(Read(job.call, chart, None))
    t = time.perf_counter()
    res = core.answer(job)
    answers.append((time.perf_counter() - t) * 1e3)
    notes.append(len(res.answer.notes) if res.answer is not None else 0)
    core.after(chart)
m, a = summary(mix[len(mix) // 4:]), summary(answers)
print(json.dumps({"mix_us_median": m["median"], "mix_us_p99": m["p99"], "mix_ms_per_answer": sum(mix) / 1e3 / len(answers),
                  "answer_ms_median": a["median"], "answer_ms_p99": a["p99"],
                  "notes_per_answer": statistics.mean(notes), "notes_timed": m["n"]}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--json")
    args = p.parse_args(argv)
    runs = []
    for i in range(args.runs):
        runs.append(fresh_run(ONE_RUN, args.calls))
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in runs[-1].items()), flush=True)
    summary = spread_each(runs)
    for k, v in summary.items():
        print(f"{k}: {v}")
    if args.json:
        report = {"calls": args.calls, "runs": runs, "summary": summary, "engine": engine()}  # (before the file is opened:
        with open(args.json, "w") as f:  # emptying a committed JSON made the engine read dirty)
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
