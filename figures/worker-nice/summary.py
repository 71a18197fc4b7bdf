"""Medians and ranges of the worker's nice A/B (figures/worker-nice/run-*/nice{5,0}-*.json):
python3 figures/worker-nice/summary.py > figures/worker-nice/summary.json"""
import glob
import json
import re
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(path: str) -> dict:
    d = json.loads(Path(path).read_text())
    s = d["summary"][0]

    def g(p):
        m = re.search(p, s)
        return float(m.group(1)) if m else None

    return {"partner_turns_silent": len(d.get("partner_turns_silent") or []), "answers": d["answers_logged"],
            "late_answers": d["late_answers"], "ready_ms_median": d["ready_ms"]["median"],
            "ready_ms_p99": d["ready_ms"]["p99"], "partner_timing_p99_ms": g(r"p99 ([\d.]+) ms over"),
            "passthrough_p99_ms": g(r"passthrough p99 ([\d.]+)"), "notes_dropped_late": g(r"late (\d+)\)"),
            "exit": d["exit"], "left_sounding": d["left_sounding"]}


out = {}
for arm in ("nice5", "nice0"):
    files = sorted(glob.glob(str(HERE / "run-*" / f"{arm}-*.json")))
    if not files:
        continue
    rows = [run(f) for f in files]
    out[arm] = {"runs": [str(Path(f).relative_to(HERE)) for f in files], **{
        k: {"median": statistics.median(r[k] for r in rows), "min": min(r[k] for r in rows),
            "max": max(r[k] for r in rows)} for k in rows[0] if rows[0][k] is not None}}
print(json.dumps(out, indent=1))
