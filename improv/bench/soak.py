"""A long jam as a user gets it, played by validation solos as recorded: does it hold up?

`improv jam` with its defaults (the model partner, embrace, following the player's tempo)
runs for `--minutes` over JACK, played by phrases of WJazzD validation solos with their
onsets in seconds (3-6 phrases of one solo at a time, then a rest of 2-6 s in which the
partner answers). Every 30 s it samples the jam's memory and its partner's; at the end it
stops the jam (SIGTERM) and reports: notes left sounding, tracebacks, the answer-ready
times the jam logged (median, p90, p99), answers that were ready after they were due, the
session summary line, and whether the recording reads back.

    JACK_DEFAULT_SERVER=NAME python3 -m improv.bench.soak [DATA] [--minutes 25] [--json OUT]

(Not a section of `improv bench`: it takes as long as it is told to.)
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from improv.bench.follow import DEFAULT_DATA
from improv.bench.human import HumanSolo, load_human
from improv.errors import DataError

SAMPLE_S = 30.0
LATE = re.compile(r"left out|after its first note was due")


def _children_rss_kb(pid: int) -> int:
    """Resident memory (KiB) of the processes whose parent is `pid` (the partner's worker)."""
    total = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int((proc / "stat").read_text().split()[3]) != pid:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def from_stderr(err: str) -> dict:
    """What the jam said: answer-ready times, answers that came late, the summary."""
    ready = sorted(float(x) for x in re.findall(r"ready in ([\d.]+) ms", err))
    n = len(ready)
    return {"answers_logged": n,
            "ready_ms": {"median": median(ready), "p90": ready[int(0.9 * n)], "p99": ready[min(n - 1, int(0.99 * n))],
                         "max": ready[-1]} if n else {},
            "late_answers": len(LATE.findall(err)), "tracebacks": err.count("Traceback"),
            "summary": [line for line in err.splitlines() if line.startswith("session ended")]}


def soak(solos: list[HumanSolo], minutes: float, seed: int = 7, extra: tuple[str, ...] = ()) -> dict:
    """Play for `minutes`; the figures (see the module doc)."""
    import mido

    from improv.bench.jackprobe import sounding_notes
    from improv.bench.jamprocess import JamProcess

    rng = random.Random(seed)
    samples, played = [], 0
    with tempfile.TemporaryDirectory(prefix="improv-soak-") as tmp:
        with JamProcess(Path(tmp), duration=minutes * 60 + 30, record=True, extra=list(extra)) as jam:
            start = time.perf_counter()
            end, next_sample = start + minutes * 60, start
            while time.perf_counter() < end:
                solo = rng.choice(solos)
                i = rng.randrange(max(1, len(solo.phrases) - 6))
                phrases = solo.phrases[i:i + rng.randint(3, 6)]
                t0, base = phrases[0].start, time.perf_counter()
                notes = [n for p in phrases for n in p.notes]
                events = sorted([(n.onset - t0, 1, n) for n in notes] + [(n.end - t0, 0, n) for n in notes],
                                key=lambda e: (e[0], e[1]))
                for t, on, n in events:
                    while (wait := base + t - time.perf_counter()) > 0:
                        if time.perf_counter() >= next_sample:
                            samples.append({"t": round(time.perf_counter() - start), "rss_kb": jam.rss_kb(own=True),
                                            "partner_rss_kb": _children_rss_kb(jam.proc.pid)})
                            next_sample += SAMPLE_S
                        time.sleep(min(wait, 0.05))
                    jam.player.send([0x90, n.pitch, n.velocity] if on else [0x80, n.pitch, 0])
                    played += on
                time.sleep(rng.uniform(2.0, 6.0))  # a rest: the partner answers
            rc = jam.stop()
            jam.listener.wait_quiet(0.5, 5.0)
            out = {"minutes": minutes, "played_notes": played, "exit": rc,
                   "left_sounding": len(sounding_notes(jam.listener.arrivals)), "samples": samples}
            out.update(from_stderr(jam.stderr()))
            recordings = []
            for path in jam.recordings():
                try:
                    mid = mido.MidiFile(path)
                    recordings.append({"notes": sum(1 for tr in mid.tracks for m in tr
                                                    if m.type == "note_on" and m.velocity > 0),
                                       "seconds": round(mid.length)})
                except Exception as e:  # noqa: BLE001 - a file that does not read back is the finding
                    recordings.append({"error": repr(e)})
            out["recordings"] = recordings
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="a long default jam over JACK, played by validation solos as recorded")
    ap.add_argument("data", nargs="?", default=str(DEFAULT_DATA), help=f"wjazzd-solos.tar.gz (default {DEFAULT_DATA})")
    ap.add_argument("--minutes", type=float, default=25.0, help="how long to play (default 25)")
    ap.add_argument("--seed", type=int, default=7, help="which phrases, in which order (default 7)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    if not 0 < args.minutes <= 24 * 60:
        print(f"improv.bench.soak: --minutes must be 0-1440, got {args.minutes:g}", file=sys.stderr)
        return 2
    try:
        solos = load_human(args.data, "valid")
    except DataError as e:
        print(f"improv.bench.soak: {e}", file=sys.stderr)
        return 2
    result = soak(solos, args.minutes, args.seed)
    shown = {k: v for k, v in result.items() if k != "samples"}
    if result["samples"]:
        shown["memory_kb"] = {"first": result["samples"][0], "last": result["samples"][-1]}
    print(json.dumps(shown, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0 if result["exit"] == 0 and not result["left_sounding"] and not result["tracebacks"] else 1


if __name__ == "__main__":
    sys.exit(main())
