"""Does hearing the drum pads as the player's time help the follower, or hurt it?

The jam plays and records a keyboard's drum pads (channel 10) as drums, not in the call. A
player who keeps time on the pads wants them heard; a player who strikes a pad now and then,
off any beat, does not want them to move the beat. Both are measured here, on the validation
solos as recorded (the bench's follower measure, `improv.bench.follow`, seeds 0-4), with pads
made up beside the soloist's notes (the shared data has no drums), each hit heard as an onset
with no key and no length:

- `keys`: the keys alone, no pads;
- `now_and_then`: a pad every 1.3 s on average (uniform 0.6-2.0 s apart), anywhere: the
  e2e tests' "a kick and a snare struck now and then";
- `groove`: a kick or snare on each of the soloist's annotated beats, played with a 15 ms
  timing scatter, 30 % of beats left out;
- `backbeat`: a snare on beats 2 and 4 only (the same scatter);
- `rolls`: every 3-6 s a half-second roll at 12 hits a second, started anywhere (a fill
  or a pad's note repeat, on no beat of the soloist's);
- `groove_alone`: the groove with no keys heard (the calls are still the soloist's: where
  the estimate is judged).

Each arm is run with the hits heard as the jam hears them (`TempoFollower.hit`: where a
drummer's hits fall, weighed as much as the pads have kept time so far) and, for comparison,
as notes (`TempoFollower.add`: a soloist's template, behind the beat). `keys` is the bench's
follower figure (`improv.bench.follow`, the same seeds and calls).

    python3 figures/pads_follow.py > figures/pads-follow.json
    python3 figures/pads_follow.py --split train --seeds 2 --no-notes > figures/pads-follow-train.json
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from improv.bench.follow import _calls, play_solo  # noqa: E402
from improv.bench.human import load_human  # noqa: E402
from improv.core.listen.tempo import TempoFollower  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wjazzd-solos.tar.gz"
SEEDS = range(5)
SCATTER_S = 0.015


def pads(kind: str, solo, start: float, end: float, rng: random.Random) -> list[float]:
    """Pad hit times over [start, end] seconds."""
    if kind == "keys":
        return []
    if kind == "now_and_then":
        out, t = [], start + rng.uniform(0.0, 1.0)
        while t < end:
            out.append(t)
            t += rng.uniform(0.6, 2.0)
        return out
    if kind == "rolls":
        out, t = [], start + rng.uniform(0.0, 3.0)
        while t < end:
            out += [t + k / 12.0 for k in range(6)]
            t += rng.uniform(3.0, 6.0)
        return out
    beats = [b for b in solo.track.beats_between(start, end)]
    if kind == "backbeat":
        beats = [b for b in beats if round(solo.track.beat_at(b)) % 2 == 1]
    elif kind in ("groove", "groove_alone"):
        beats = [b for b in beats if rng.random() >= 0.3]
    return [b + rng.gauss(0.0, SCATTER_S) for b in beats]


class AsNotes(TempoFollower):
    """A follower that hears each pad hit as a note with no key (`add`: the soloists' template)."""

    def hit(self, onset_s: float, velocity: int = 100) -> None:
        self.add(onset_s, velocity)


def arm(solos, kind: str, as_hits: bool, seeds=SEEDS) -> dict:
    """One arm over the seeds: the share of calls right (tempo and beat, each alone), median and range."""
    runs = []
    for seed in seeds:
        rng, hits_rng = random.Random(seed), random.Random(1000 + seed)
        rows = []
        for solo in solos:
            first = rng.randrange(max(1, len(solo.phrases) // 2))
            phrases = _calls(solo, first, 48)
            if not phrases:
                continue
            hits = pads(kind, solo, phrases[0].start - 2.0, phrases[-1].end, hits_rng)
            rows += play_solo(solo, phrases, follower=None if as_hits else AsNotes(), hits=hits,
                              keys=kind != "groove_alone")
        runs.append({"both": sum(r["tempo_ok"] and r["beat_ok"] for r in rows) / len(rows),
                     "tempo": sum(r["tempo_ok"] for r in rows) / len(rows),
                     "beat": sum(r["beat_ok"] for r in rows) / len(rows), "calls": len(rows)})
    out: dict = {k: {"median": median(r[k] for r in runs), "min": min(r[k] for r in runs),
                     "max": max(r[k] for r in runs)} for k in ("both", "tempo", "beat")}
    out["runs"] = runs
    return out


def main(argv: list[str] | None = None) -> None:
    import argparse
    import subprocess

    ap = argparse.ArgumentParser(description="the follower with drum pads made up beside validation solos")
    ap.add_argument("--split", choices=("valid", "train"), default="valid",
                    help="train: where the follower's settings are chosen (valid: where they are reported)")
    ap.add_argument("--seeds", type=int, default=len(SEEDS), help="samplings (seeds 0..N-1)")
    ap.add_argument("--no-notes", action="store_true", help="leave out the arms heard as notes")
    args = ap.parse_args(argv)
    seeds = range(args.seeds)
    solos = load_human(DATA, split=args.split)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    result: dict = {"commit": commit, "split": args.split, "solos": len(solos), "seeds": list(seeds),
                    "scatter_s": SCATTER_S, "as_hits": {}, "as_notes": {}}
    for kind in ("keys", "now_and_then", "rolls", "groove", "backbeat", "groove_alone"):
        result["as_hits"][kind] = arm(solos, kind, True, seeds)
        if kind != "keys" and not args.no_notes:
            result["as_notes"][kind] = arm(solos, kind, False, seeds)
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
