"""Tried and left out (figures/README.md, `tried-beat-refit.json`): after the follower's
estimate, refit its beat to the onsets that fall near its beats, as a listener who has
heard the call would place the grid on its on-beat notes. The follower's grid scatters
about +-0.13 beat around the band's beat (README, "The follower"); if that scatter were
the filter's own, not the notes', a refit on the notes would narrow it.

Each estimate taken by `improv.bench.follow`'s calls measure is refit on the onsets of the
last `WINDOW_BEATS` beats that lie within `NEAR` beat of a beat of its grid (less the onset
template's lag at that tempo; at least 3 such onsets, else left as it was):

- "shift": the grid moved by the median of those onsets' distances to their beats;
- "mean": moved by their mean;
- "fit": its beat and period fitted to them by least squares (kept if the period moves
  less than 3 %, else moved as "mean").

    python3 figures/tried_beat_refit.py [DATA] --split train --seeds 2 > figures/tried-beat-refit.json

Training split (where the follower is tuned); each arm over the same samplings."""

from __future__ import annotations

import argparse
import json
import math
import random
from statistics import median

import numpy as np

import improv.bench.follow as F
from improv.bench.human import load_human
from improv.bench.parts import engine
from improv.core.listen.onset_template import OnsetTemplate
from improv.core.listen.tempo import BeatEstimate

WINDOW_BEATS = 8.0
NEAR = 0.2
ARMS = ("as shipped", "shift", "mean", "fit")
TEMPLATE = OnsetTemplate.load()


def lag_s(bpm: float) -> float:
    """Where the template expects an on-beat onset, seconds after the beat, at `bpm`."""
    centres = np.log([b.bpm for b in TEMPLATE.bands])
    return float(np.interp(math.log(bpm), centres, [b.lag for b in TEMPLATE.bands])) * 60.0 / bpm


def refit(est: BeatEstimate, onsets: list[float], arm: str) -> BeatEstimate:
    if arm == "as shipped" or not onsets:
        return est
    p, lag = est.period_s, lag_s(est.bpm)
    near = [(round(est.beats_since(t - lag)), t - lag) for t in onsets if t >= onsets[-1] - WINDOW_BEATS * p]
    near = [(k, t) for k, t in near if abs(t - est.time_of(k)) < NEAR * p]
    if len(near) < 3:
        return est
    off = [t - est.time_of(k) for k, t in near]
    if arm == "shift":
        return BeatEstimate(est.bpm, est.beat_time_s + median(off), est.confidence)
    if arm == "fit" and len({k for k, _ in near}) >= 3:
        ks = np.array([k for k, _ in near], dtype=float)
        (a, b), *_ = np.linalg.lstsq(np.stack([np.ones_like(ks), ks], 1), np.array([t for _, t in near]), rcond=None)
        if abs(b / p - 1) < 0.03:
            return BeatEstimate(60.0 / b, float(a), est.confidence)
    return BeatEstimate(est.bpm, est.beat_time_s + float(np.mean(off)), est.confidence)


class Refit(F.TempoFollower):
    """The follower, its estimate refit by `arm` on the onsets it has heard."""

    def __init__(self, arm: str) -> None:
        super().__init__()
        self.arm, self.heard = arm, []

    def add(self, onset_s: float, velocity: int = 80, duration_s: float | None = None, pitch: int | None = None) -> None:
        if duration_s is None:
            self.heard.append(onset_s)
        super().add(onset_s, velocity, duration_s, pitch)

    def estimate(self, now_s: float | None = None) -> BeatEstimate:
        return refit(super().estimate(now_s), sorted(self.heard), self.arm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", default=str(F.DEFAULT_DATA))
    ap.add_argument("--split", choices=("train", "valid"), default="train")
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    solos = load_human(args.data, args.split)
    out: dict = {"split": args.split, "solos": len(solos), "window_beats": WINDOW_BEATS, "near_beat": NEAR, "arms": {}}
    for arm in ARMS:
        runs = []
        for seed in range(args.seeds):
            rng = random.Random(seed)  # the same starting phrases as `improv.bench.follow.run_calls`
            calls = []
            for solo in solos:
                first = rng.randrange(max(1, len(solo.phrases) // 2))
                calls += F.play_solo(solo, F._calls(solo, first, 48), follower=Refit(arm))
            for r in calls:
                r["ok"] = r["tempo_ok"] and r["beat_ok"]
            runs.append({"seed": seed, "calls": len(calls), "tempo_and_beat": F.share(calls, "ok"),
                         "tempo": F.share(calls, "tempo_ok"),
                         "beat_given_tempo": F.share(calls, "beat_ok", lambda r: r["tempo_ok"])})
        out["arms"][arm] = runs
    out["engine"] = engine()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
