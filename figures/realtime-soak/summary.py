"""Medians and ranges of the real-time priority A/B (figures/realtime-soak/trade/*.json), as the
README quotes them:  python3 figures/realtime-soak/summary.py > figures/realtime-soak/summary.json"""
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
        return float(re.search(p, s).group(1))

    return {"partner_turns_silent": len(d.get("partner_turns_silent") or []), "answers": d["answers_logged"],
            "late_answers": d["late_answers"], "ready_ms_median": d["ready_ms"]["median"],
            "ready_ms_p99": d["ready_ms"]["p99"], "partner_timing_p99_ms": g(r"p99 ([\d.]+) ms over"),
            "passthrough_p99_ms": g(r"passthrough p99 ([\d.]+)"), "notes_dropped_late": g(r"late (\d+)\)"),
            "partner_notes_in_player_turns": d.get("partner_in_player_turns"), "exit": d["exit"],
            "left_sounding": d["left_sounding"]}


out = {}
for mode in ("trade", "free"):
    for arm in ("normal", "realtime"):
        files = sorted(glob.glob(str(HERE / mode / f"{arm}-*.json")))
        if not files:
            continue
        rows = [run(f) for f in files]
        out[f"{mode}/{arm}"] = {"runs": [Path(f).name for f in files], **{
            k: {"median": statistics.median(r[k] for r in rows), "min": min(r[k] for r in rows),
                "max": max(r[k] for r in rows)} for k in rows[0] if rows[0][k] is not None}}
print(json.dumps(out, indent=1))
