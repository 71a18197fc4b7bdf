"""How much of the session the cache of pitch runs should read, and at what weight: on the
valid split, the model's NLL with the cache reading only the notes the model reads (its
window: the last `max_call`), and reading the whole solo before the answer (the phrases
before the window too, `ModelResponder._session`), at several weights, with the weight
chosen on one half of the solos and scored on the other. Run from the repository root
with the train extra installed:

    python3 models/eval/session_cache_valid.py DATA --models models/improv-phrase-v2.npz \
        --json models/eval/session-cache-whole-valid.json

(about 6 minutes on 2 cores: the valid pairs are scored three times). Only the valid split
is read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from improv.bench.parts import engine
from improv.core.model.copying import CACHE_WEIGHT
from improv.train.export import load_responder
from improv.train.scoring import score_parts

# the valid pairs and the 5-gram, as mix_sweep.py reads them (this folder)
from mix_sweep import arguments, valid_pairs

WEIGHTS = (0.0, 0.08, 0.10, 0.12, 0.15, 0.18, 0.22, 0.26, 0.30)


def parts(path: str, pairs: list, runs: int, whole: bool) -> np.ndarray:
    """(notes, 4) part NLLs of the pairs' answers; with `runs`, the pitch column is the
    cache's alone (weight 1): -log of its probability of the pitch played."""
    m = load_responder(path)
    m.cache_runs, m.cache_weight, m.cache_whole = runs, 1.0, whole
    return np.concatenate([score_parts(m, p.call, p.answer, p.harmony, p.history, p.tempo) for _, p in pairs])


def nll(net: np.ndarray, cache: np.ndarray, w: float, rows: np.ndarray | slice = slice(None)) -> float:
    pitch = -np.log((1 - w) * np.exp(-net[rows, 1]) + w * np.exp(-cache[rows]))
    return float((np.delete(net[rows], 1, axis=1).sum(axis=1) + pitch).mean())


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv)
    path = args.models[0]
    _, pairs, _, _, base, n_notes, halves = valid_pairs(Path(args.data))
    net = parts(path, pairs, 0, False)
    out = {"split": "valid", "pairs": len(pairs), "notes": int(n_notes), "five_gram_nll": base, "model": path,
           "weights_how": "chosen on the even-numbered valid solos and scored on the odd ones, and the other way round",
           "shipped_weight": CACHE_WEIGHT, "network_alone": nll(net, net[:, 1], 0.0), "reads": {}}
    for name, whole in (("the notes the model reads", False), ("the whole solo before the answer", True)):
        cache = parts(path, pairs, 4, whole)[:, 1]
        by_weight = {str(w): nll(net, cache, w) for w in WEIGHTS}
        chosen = [min(WEIGHTS, key=lambda w: nll(net, cache, w, fit)) for fit in halves]
        # each half scored at the weight the other chose, the notes of both averaged
        cross = sum(nll(net, cache, w, test) * test.sum() for w, test in zip(chosen, halves[::-1])) / len(net)
        out["reads"][name] = {"nll_by_weight": by_weight, "below_5gram_by_weight": {k: 1 - v / base for k, v in by_weight.items()},
                              "pitch_nll_by_weight": {str(w): float(-np.log((1 - w) * np.exp(-net[:, 1]) + w * np.exp(-cache)).mean())
                                                      for w in WEIGHTS},
                              "weights_by_half": chosen, "cross_fitted_nll": cross, "cross_fitted_below_5gram": 1 - cross / base}
        print(f"{name}: " + ", ".join(f"{w}: {v:.4f}" for w, v in by_weight.items()) + f"; by halves {chosen} -> {cross:.4f}",
              file=sys.stderr)
    out["engine"] = engine()
    text = json.dumps(out, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
