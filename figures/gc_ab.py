"""Python's collector off the timed paths (improv/gctime.py), against the engine before it:
two measures, alternating the two source trees, written as JSON. Run from the repository
root, with a JACK server running (the demo plays over it) and an unpacked tree of the
commit before (`git worktree add /tmp/gc-old 9f3d82f`):

    python3 figures/gc_ab.py /tmp/gc-old . > figures/gc-ab.json

1. **Answer ready through the worker process**: `improv.bench.answer`'s `process` measure
   (submit -> the result back, calls the jam could not foresee), 300 calls a run, each tree
   in its own process (`PYTHONPATH=TREE`), `--rounds` rounds, half of them old tree first.
2. **A full collection in the jam's process mid-session**: `improv demo --no-view`, with a
   probe thread that runs `gc.collect()` five times 8 s in (the demo is playing then): how
   long the collector holds the GIL when a full collection falls (the timing threads wait).
"""

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ANSWERS = """
import json
from improv.bench.answer import _through_process, calls_for
from improv.bench.parts import CHART
from improv.config import Config
from improv.core.theory.chart import parse_chart
chart = parse_chart(CHART, 4)
print("RESULT " + json.dumps(_through_process("model", calls_for({calls}, chart), chart, Config())["ready_ms"]))
"""

PROBE = """
import atexit, gc, os, sys, threading, time
if sys.argv[1:2] == ["demo"]:
    _r = []
    def _probe():
        time.sleep(8.0)
        for _ in range(5):
            t = time.perf_counter(); gc.collect(); _r.append((time.perf_counter() - t) * 1e3)
            time.sleep(0.2)
    threading.Thread(target=_probe, daemon=True).start()
    atexit.register(lambda: open(os.environ["GC_PROBE_OUT"], "w").write(repr(_r)))  # (a list of floats)
"""


def _commit(tree: str) -> str:
    try:
        return subprocess.run(["git", "-C", tree, "describe", "--always", "--dirty"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def answers(tree: str, calls: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
    out = subprocess.run([sys.executable, "-c", ANSWERS.format(calls=calls)], cwd=tree, env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(next(x[7:] for x in out.splitlines() if x.startswith("RESULT ")))


def full_collections(tree: str) -> list[float]:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "sitecustomize.py").write_text(PROBE)
        out = Path(d, "probe.txt")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([d, str(Path(tree).resolve())]), GC_PROBE_OUT=str(out))
        subprocess.run([sys.executable, "-m", "improv", "demo", "--no-view"], cwd=tree, env=env,
                       capture_output=True, timeout=180)
        return ast.literal_eval(out.read_text()) if out.exists() else []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--demos", type=int, default=2)
    a = ap.parse_args()
    trees = {"old": a.old, "new": a.new}
    runs = []
    for r in range(a.rounds):
        for which in (("old", "new") if r % 2 == 0 else ("new", "old")):
            ready = answers(trees[which], a.calls)
            runs.append({"tree": which, "round": r, "ready_ms": ready, "load_average_1min": os.getloadavg()[0]})
            print(f"round {r} {which}: median {ready['median']:.2f} p99 {ready['p99']:.2f} ms", file=sys.stderr)
    demos = []
    for i in range(a.demos):
        for which in ("old", "new"):
            demos.append({"tree": which, "full_collection_ms": full_collections(trees[which])})
            print(f"demo {i} {which}: {demos[-1]['full_collection_ms']}", file=sys.stderr)

    def med(which: str, key: str) -> float:
        return median(x["ready_ms"][key] for x in runs if x["tree"] == which)

    out = {
        "what": "answer ready through the worker process (improv.bench.answer's `process`), and a full collection "
                "mid-session in the demo's process, with the collector kept off the timed paths (new) and "
                "without (old); figures/gc_ab.py",
        "trees": {k: _commit(v) for k, v in trees.items()},
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "summary": {w: {"ready_median_of_medians_ms": med(w, "median"), "ready_median_of_p99s_ms": med(w, "p99"),
                        "ready_p99_range_ms": [min(x["ready_ms"]["p99"] for x in runs if x["tree"] == w),
                                               max(x["ready_ms"]["p99"] for x in runs if x["tree"] == w)],
                        "full_collection_median_ms": median([v for d in demos if d["tree"] == w
                                                             for v in d["full_collection_ms"]] or [float("nan")])}
                    for w in ("old", "new")},
        "runs": runs,
        "demos": demos,
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
