"""The partner-timing section of `improv bench` alone, run again and again: how often a note
is dropped late (sent more than the scheduler's limit after its deadline) on this machine,
and on which engine. Run from the repository root (or with PYTHONPATH naming the tree to
measure, turn about with another checkout):

    python3 figures/timing_reps.py REPS OUT.json [KEY]

Each rep starts nothing else: a private JACK dummy-driver server at 64 frames is started
for the reps (as `improv bench` does when none runs) and `improv.bench.run._timing` runs
2,000 notes with the model partner answering non-stop in its worker process. The rows
(the engine's commit, dropped, late, the scheduler error's p99 and max in ms, the load
average after) are added to OUT.json's list under KEY ("runs" by default), so that
turn-about runs of two trees gather in one file. `figures/timing-drops.json`:

    python3 figures/timing_reps.py 8 figures/timing-drops.json eight_in_a_row
    for i in 1 2 3 4 5 6; do for tree in /tmp/ab-old .; do
        PYTHONPATH=$tree python3 figures/timing_reps.py 1 figures/timing-drops.json turn_about; done; done
"""

import json
import os
import sys
import time
from pathlib import Path

from improv.bench import jackprobe
from improv.bench.parts import engine
from improv.bench.run import _timing
from improv.config import load_config


def main() -> None:
    reps, out = int(sys.argv[1]), Path(sys.argv[2])
    key = sys.argv[3] if len(sys.argv) > 3 else "runs"
    cfg = load_config(None)
    data = json.loads(out.read_text()) if out.exists() else {}
    rows = data.setdefault(key, [])
    private = jackprobe.start_private_server(f"improv-bench-{os.getpid()}", period=64)
    try:
        for _ in range(reps):
            t = time.time()
            r = _timing(2000, cfg, "model", True, True)
            s = r["scheduler_error_ms"]
            rows.append({"engine": engine()["commit"][:7], "dropped": r.get("dropped"), "late": r.get("late"),
                         "p99_ms": round(s["p99"], 3), "max_ms": round(s["max"], 3),
                         "seconds": round(time.time() - t, 1), "load_average_after": round(os.getloadavg()[0], 2)})
            print(rows[-1], flush=True)
            out.write_text(json.dumps(data, indent=1) + "\n")
    finally:
        jackprobe.stop_private_server(private)


if __name__ == "__main__":
    main()
