"""What the soloist's notes alone can tell of the beat: the two measures behind the README's
follower paragraph ("Where the beat misses come from"), written to
figures/follow-ceiling.json. Run from the repository root with the train extra installed
(torch, for the small network):

    python3 figures/follow_ceiling.py [DATA] > figures/follow-ceiling.json

1. **The tempo given**: the follower as `improv.bench.follow` plays it (its 5 samplings,
   seeds 0-4, 48 bars a solo: the median of the runs with their min and max), but told each solo's tempo (its beat track's median) as a firm first guess
   (`guess_weight` 1, within 3 %): how often the beat is then right, by tempo band.
2. **On the beat or not, from the notes around it**: each onset of the solos (chords and
   grace notes merged within 30 ms) labelled on the beat when it lies within 0.12 beat of the
   beat track's beat, less the soloists' typical lag (0.05 beat); a logistic regression and a
   small network (2 x 32 tanh) fitted on the training solos from the rhythm and contour
   before the onset (the three gaps before it and their ratios, how legato the notes before
   it were, the rest before it, the intervals into it, its loudness against the notes just
   before, its place in the phrase), then also the next gap and its own length; the area under
   the ROC curve on the validation solos (0.5: says nothing; 1: always right).
"""

import json
import math
import random
import sys
from statistics import median

import numpy as np
import torch
import torch.nn as nn

from improv.bench import follow as F
from improv.bench.parts import engine
from improv.core.listen.tempo import TempoFollower, TempoSettings

DATA = sys.argv[1] if len(sys.argv) > 1 else str(F.DEFAULT_DATA)
MERGE, LAG, WITHIN = 0.03, 0.05, 0.12


def tempo_given_runs(solos, seeds=range(5)):
    """`tempo_given` over the bench's samplings (its seeds): per band and key the median, min and max."""
    runs = [tempo_given(solos, seed) for seed in seeds]
    return {band: {key: {"median": median(r[band][key] for r in runs), "min": min(r[band][key] for r in runs),
                         "max": max(r[band][key] for r in runs)} for key in runs[0][band]} for band in runs[0]}


def tempo_given(solos, seed=0):
    rng = random.Random(seed)
    rows = []
    for solo in solos:
        first = rng.randrange(max(1, len(solo.phrases) // 2))
        phrases = F._calls(solo, first, 48)
        if not phrases:
            continue
        bpm = min(319.0, max(46.0, 60.0 / median(np.diff(solo.track.times))))
        f = TempoFollower(TempoSettings(first_guess=bpm, guess_weight=1.0, guess_spread=0.03))
        rows += F.play_solo(solo, phrases, follower=f)
    out = {}
    for name, _, _ in F.TEMPO_BANDS:
        rs = [r for r in rows if F.band_of(r["bpm"]) == name]
        out[name] = {"calls": len(rs), "tempo": sum(r["tempo_ok"] for r in rs) / max(1, len(rs)),
                     "tempo_and_beat": sum(r["tempo_ok"] and r["beat_ok"] for r in rs) / max(1, len(rs))}
    out["all"] = {"calls": len(rows), "tempo": sum(r["tempo_ok"] for r in rows) / len(rows),
                  "tempo_and_beat": sum(r["tempo_ok"] and r["beat_ok"] for r in rows) / len(rows)}
    return out


def onsets_of(notes):
    out = []
    for n in sorted(notes, key=lambda n: n.onset):
        if not out or n.onset - out[-1].onset >= MERGE:
            out.append(n)
    return out


def features(ns, ahead):
    on = np.array([n.onset for n in ns]); du = np.array([n.duration for n in ns])
    pi = np.array([n.pitch for n in ns], float); ve = np.array([n.velocity for n in ns], float)
    gap = np.diff(on, prepend=on[0] - 4.0)
    nxt = np.append(np.diff(on), 4.0)
    rows, since = [], 0
    for i in range(len(ns)):
        g = [gap[i - k] if i - k >= 0 else 4.0 for k in range(8)]
        legato = [min(du[i - k - 1], g[k]) / g[k] if i - k - 1 >= 0 else 0.0 for k in range(2)]
        rest = g[0] - du[i - 1] if i else 4.0
        since = 0 if rest > 0.15 or g[0] > 1.5 else since + 1
        x = [np.clip(math.log2(g[0] / g[1]), -3, 3), np.clip(math.log2(g[1] / g[2]), -3, 3),
             np.clip(math.log2(g[2] / g[3]), -3, 3), legato[0], legato[1],
             np.clip(math.log2(max(rest, 0.01) / 0.1), -4, 5),
             np.clip((pi[i] - pi[i - 1]) / 12, -2, 2) if i else 0.0,
             np.clip((pi[i - 1] - pi[i - 2]) / 12, -2, 2) if i > 1 else 0.0,
             float(i > 1 and (pi[i] - pi[i - 1]) * (pi[i - 1] - pi[i - 2]) < 0),
             (ve[i] - ve[max(0, i - 4):i + 1].mean()) / 20, np.clip(math.log2(g[0] / 0.25), -4, 4),
             min(since, 8) / 8, float(since == 0), np.clip(math.log2(g[0] / median(g)), -3, 3)]
        if ahead:
            x += [np.clip(math.log2(nxt[i] / g[0]), -3, 3), min(du[i], nxt[i]) / nxt[i]]
        rows.append(x)
    return np.array(rows, np.float32)


def dataset(solos, ahead):
    xs, ys = [], []
    for s in solos:
        ns = onsets_of([n for p in s.phrases for n in p.notes])
        if len(ns) < 10:
            continue
        xs.append(features(ns, ahead))
        phase = np.array([s.track.beat_at(n.onset) % 1.0 for n in ns])
        ys.append((abs((phase - LAG + 0.5) % 1.0 - 0.5) <= WITHIN).astype(np.float32))
    return np.concatenate(xs), np.concatenate(ys)


def auc(p, y):
    order = np.argsort(p); rank = np.empty(len(p)); rank[order] = np.arange(len(p))
    n1 = y.sum(); n0 = len(y) - n1
    return float((rank[y == 1].sum() - n1 * (n1 - 1) / 2) / (n1 * n0))


def fit(x, y, hidden):
    torch.manual_seed(0)
    d = x.shape[1]
    net = nn.Linear(d, 1) if not hidden else nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                                                        nn.Tanh(), nn.Linear(hidden, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    X, Y = torch.tensor(x), torch.tensor(y)
    for _ in range(30):
        perm = torch.randperm(len(X))
        for k in range(0, len(X), 1024):
            idx = perm[k:k + 1024]
            loss = nn.functional.binary_cross_entropy_with_logits(net(X[idx])[:, 0], Y[idx])
            opt.zero_grad(); loss.backward(); opt.step()
    return net


if __name__ == "__main__":
    torch.set_num_threads(2)
    train, valid = F.solos_or_say("follow_ceiling", DATA, "train"), F.solos_or_say("follow_ceiling", DATA, "valid")
    result = {"tempo_given_valid": tempo_given_runs(valid), "onbeat": {}, "engine": engine()}
    for ahead in (False, True):
        xt, yt = dataset(train, ahead)
        xv, yv = dataset(valid, ahead)
        for hidden in (0, 32):
            net = fit(xt, yt, hidden)
            with torch.no_grad():
                pv = torch.sigmoid(net(torch.tensor(xv))[:, 0]).numpy()
            key = f"{'with the next note' if ahead else 'before the onset'}, {'network' if hidden else 'logistic'}"
            result["onbeat"][key] = {"auc_valid": auc(pv, yv), "onsets_train": len(yt), "onsets_valid": len(yv),
                                     "on_beat_share_valid": float(yv.mean())}
            print(key, result["onbeat"][key], file=sys.stderr, flush=True)
    print(json.dumps(result, indent=1))
