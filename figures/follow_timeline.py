"""What the answers are timed by: the jam's following timeline (not the raw follower that
`improv.bench.follow` judges), fed the validation solos as recorded, judged at each call.

The bench's follower measure judges `TempoFollower.estimate` itself. The jam answers on a
`FollowingTimeline`, which follows only estimates sure enough (`MIN_CONFIDENCE`), makes up
the phase over two beats, and keeps the level a tempo said (or, with none said, the octave
it follows: `_octave_kept`). Here each solo is played into one from the bench's seeded first
phrase, 48 bars, with no tempo said (120 until the player is heard), and at each call (when
the bench judges it: its release plus a beat, or the next onset) the timeline's tempo and
its whole beat there are judged as the bench judges an estimate (`improv.bench.follow.play_solo`).
Reported per sampling and as the median and range:

- `right`: tempo (or half or double) within 3 % and the beat within 0.1 beat;
- `tempo`: the tempo alone;
- `level_changes`: calls whose metrical level (`improv.bench.follow.level`) differs from the
  call before's, of the later calls: the answers jumping between the player's time and
  double time (or 1.5 times it) from one call to the next;
- `at_1_5`: calls heard at 1.5 times the soloist's tempo.

    python3 figures/follow_timeline.py [--split valid|train] [--seeds 5] > figures/follow-timeline.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from improv.bench.follow import _calls, play_solo  # noqa: E402
from improv.bench.human import load_human  # noqa: E402
from improv.core.listen.tempo import BeatEstimate  # noqa: E402
from improv.live.follow import FollowingTimeline  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wjazzd-solos.tar.gz"


class Timed:
    """The jam's following timeline where `play_solo` expects a follower: it hears each note
    (`add`: at its note-on, then its length at its note-off) and gives, as its `estimate`, the
    timeline's tempo and its whole beat then (what an answer starting there is timed by)."""

    def __init__(self) -> None:
        self.tl = FollowingTimeline(t0=0.0, tempo=120.0)  # (no tempo said: 120 until the player is heard)
        self.started = False

    def add(self, onset: float, velocity: int, duration: float | None, pitch: int) -> None:
        if not self.started:  # beat 0 on the first note, as the session's timeline starts
            self.tl.t0, self.started = onset, True
        if duration is None:
            self.tl.heard(onset, velocity, pitch)
        else:
            self.tl.released(onset, velocity, duration)

    def estimate(self, now: float) -> BeatEstimate:
        return BeatEstimate(self.tl.tempo, self.tl.time_of(math.floor(self.tl.beat_at(now))), 1.0)


def sampling(solos, seed: int) -> dict:
    rng = random.Random(seed)
    right = tempo = at_1_5 = calls = changes = later = 0
    for solo in solos:
        phrases = _calls(solo, rng.randrange(max(1, len(solo.phrases) // 2)), 48)
        if not phrases:
            continue
        rows = play_solo(solo, phrases, follower=Timed())
        for k, r in enumerate(rows):
            calls += 1
            right += r["tempo_ok"] and r["beat_ok"]
            tempo += r["tempo_ok"]
            at_1_5 += r["level"] == 1.5
            if k:
                later += 1
                changes += r["level"] != rows[k - 1]["level"]
    return {"seed": seed, "calls": calls, "right": right / calls, "tempo": tempo / calls,
            "level_changes": changes / later, "at_1_5": at_1_5 / calls}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("valid", "train"), default="valid")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    solos = load_human(DATA, split=args.split)
    runs = [sampling(solos, seed) for seed in range(args.seeds)]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    out: dict = {"commit": commit, "split": args.split, "solos": len(solos), "seeds": args.seeds}
    for key in ("right", "tempo", "level_changes", "at_1_5"):
        values = [r[key] for r in runs]
        out[key] = {"median": median(values), "min": min(values), "max": max(values)}
    out["runs"] = runs
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
