"""How much a session cache adds to the model's NLL, on the valid split only
(models/README.md, "Training"): does the session hold what the model misses? The
Continuator's idea (the licks the soloist played earlier come back, at the same pitches) as
a distribution mixed into the model's, part by part. Run from the repository root with the
train extra installed:

    python3 models/eval/cache_sweep.py ../shared/data/wjazzd-solos.tar.gz \\
        --models models/improv-phrase-v2.npz --models models/improv-phrase-v2.npz,runs/seed1/best.pt ... --json OUT

(each `--models` one ensemble, as in `mix_sweep.py`.)

The cache reads the notes before each of the answer's notes (the session's, the call's, the
answer's so far), in one of two windows: the notes the model itself reads (its last
`max_call`, 192 for v2) or the whole solo before the call. For each part of the next note it
predicts what followed the same run of the last k pitches earlier on (k = 1..ORDER; for the
duration and the velocity, k = 0..ORDER and the note's own pitch, and for the velocity its
duration, in the run), blended from the shortest run up by PPM's rule: p_k = (c_k(y) + BETA
p_{k-1}(y)) / (n_k + BETA), from the session's own counts (p_0 with the 1/size of a
uniform added, so that no value is impossible), stopping at the first run never seen. It is
a proper distribution over each part's values.

A mixture is scored per part: p = (1 - a - b) (the models' mean) + a (chord n-gram) + b
(cache), `a` and `b` chosen on one half of the valid solos and scored on the other, both
ways round (as in `mix_sweep.py`). ORDER and BETA were picked on valid among 3, 4, 6 and 1,
2, 4 (the NLL of v2 plus the cache moved by less than 0.004 nat between them). About
three minutes on 2 cores, and 20 s a model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from improv.bench.parts import engine
from improv.core.model.inputs import ANSWER, CALL, NONE_PITCH, Controls, answer_steps, context_steps
from improv.core.model.tokens import N_DUR, N_SHIFT, N_VEL
from improv.train.export import load_responder

# the valid pairs, the baselines and the network's scores, as mix_sweep.py reads them (this folder)
from mix_sweep import PARTS, arguments, network_nll, valid_pairs

SIZES = (N_SHIFT + 1, 128, N_DUR, N_VEL)
ORDER, BETA = 4, 2.0
A_GRID = np.round(np.arange(0.0, 0.31, 0.02), 2)  # the chord n-gram's weight
B_GRID = np.round(np.arange(0.0, 0.41, 0.02), 2)  # the cache's


def run_key(notes: list[tuple[int, int, int, int]], i: int, k: int, part: int) -> tuple | None:
    """The run that conditions note i's `part`: the pitches of the k notes before it, then
    (duration, velocity) its own pitch, (velocity) its own duration; None before the start."""
    if i < k:
        return None
    key = tuple(n[1] for n in notes[i - k:i])
    if part >= 2:
        key += (notes[i][1],)
    if part == 3:
        key += (notes[i][2],)
    return key


def cache_prob(notes: list[tuple[int, int, int, int]], i: int, part: int) -> float:
    """The cache's probability of note i's `part` (tokens: shift, pitch, duration, velocity)
    given the notes before it (module docstring)."""
    y = notes[i][part]
    seen = [n[part] for n in notes[:i]]
    p = (seen.count(y) + 1.0 / SIZES[part]) / (len(seen) + 1.0)
    for k in range(0 if part >= 2 else 1, ORDER + 1):
        key = run_key(notes, i, k, part)
        if key is None:
            break
        after = [notes[j][part] for j in range(k, i) if run_key(notes, j, k, part) == key]
        if not after:
            break
        p = (after.count(y) + BETA * p) / (len(after) + BETA)
    return p


def session_notes(steps: list) -> list[tuple[int, int, int, int]]:
    """(shift, pitch, duration, velocity) tokens of the steps that are notes."""
    return [(s[1], s[2], s[3], s[4]) for s in steps if s[2] < NONE_PITCH]


def cache_probs(before: list, answer: list) -> np.ndarray:
    """(answer notes, 4): the cache's probability of each answer note's parts."""
    notes = before + answer
    return np.array([[cache_prob(notes, i, part) for part in range(4)]
                     for i in range(len(before), len(notes))]).reshape(-1, 4)


def mixed(model: np.ndarray, chord: np.ndarray, cache: np.ndarray, a, b) -> np.ndarray:
    """NLL (notes, 4) of the mixture (module docstring); `a`, `b` scalars or per part."""
    return -np.log((1 - a - b) * model + a * chord + b * cache)


def cross_fit(model: np.ndarray, chord: np.ndarray, cache: np.ndarray, halves: list[np.ndarray],
              use_chord: bool) -> tuple[np.ndarray, list]:
    """The mixture's NLL (notes, 4), each half scored with the weights chosen on the other."""
    out, weights = np.zeros_like(model), []
    grid = [(a, b) for a in (A_GRID if use_chord else (0.0,)) for b in B_GRID]
    for pick, judge in (halves, halves[::-1]):
        nll = np.array([mixed(model[pick], chord[pick], cache[pick], a, b).mean(0) for a, b in grid])
        best = [grid[j] for j in nll.argmin(0)]
        a, b = (np.array(x) for x in zip(*best))
        weights.append({p: {"chordgram": float(x), "cache": float(y)} for p, x, y in zip(PARTS, a, b)})
        out[judge] = mixed(model[judge], chord[judge], cache[judge], a, b)
    return out, weights


def figures(nll: np.ndarray, base: float) -> dict:
    total = float(nll.sum(1).mean())
    return {"nll": total, "below_5gram": 1.0 - total / base, "parts": dict(zip(PARTS, nll.mean(0).round(4).tolist()))}


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv)
    groups = [g.split(",") for g in args.models]
    solos, pairs, _, chordgram, base, n_notes, halves = valid_pairs(Path(args.data))
    chord = np.exp(-np.concatenate([chordgram.score_parts(p.call, p.answer, p.harmony) for _, p in pairs]))
    probs = {}
    for path in dict.fromkeys(x for g in groups for x in g):  # (the network alone: the cache is mixed in here)
        probs[path] = np.exp(-network_nll(path, pairs))
        print(f"{path}: {-np.log(probs[path]).sum(1).mean():.4f}", file=sys.stderr)
    reader = load_responder(groups[0][0])  # (whose window: every model here reads the same `max_call`)
    windows = {
        "the notes the model reads": lambda p: [s for s in reader._steps(p.call, p.harmony, p.history, to_grid=False)
                                                if s[0] in (CALL, ANSWER)],
        "the whole solo before the answer": lambda p: context_steps(list(p.history) + [p.call], p.harmony, 10**9),
    }
    out = {"split": "valid", "pairs": len(pairs), "notes": int(n_notes), "solos": len(solos), "five_gram_nll": base,
           "order": ORDER, "beta": BETA, "max_call": reader.cfg.max_call,
           "weights_how": "per part, chosen on the even-numbered valid solos and scored on the odd ones, "
                          "and the other way round", "windows": {}, "engine": engine()}
    for name, window in windows.items():
        cache = np.concatenate([cache_probs(session_notes(window(p)),
                                            session_notes(answer_steps(p.answer, p.harmony, Controls(), 10**9)[0]))
                                for _, p in pairs])
        entry = {"cache_alone": figures(-np.log(cache), base), "ensembles": []}
        for g in groups:
            model = np.mean([probs[x] for x in g], axis=0)
            row = {"models": g, "alone": figures(-np.log(model), base)}
            for label, use_chord in (("with_cache", False), ("with_chordgram_and_cache", True)):
                nll, weights = cross_fit(model, chord, cache, halves, use_chord)
                row[label] = dict(figures(nll, base), weights_by_half=weights)
            entry["ensembles"].append(row)
            print(f"{name}, {len(g)} model(s): {row['alone']['nll']:.4f} -> with the cache "
                  f"{row['with_cache']['nll']:.4f} ({100 * row['with_cache']['below_5gram']:.1f} % below the "
                  f"5-gram's {base:.4f}); and the chord n-gram {row['with_chordgram_and_cache']['nll']:.4f} "
                  f"({100 * row['with_chordgram_and_cache']['below_5gram']:.1f} %)")
        out["windows"][name] = entry
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
