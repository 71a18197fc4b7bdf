"""How much the model's NLL owes to what it reads before the answer (models/README.md,
"Training"): the valid pairs' real answers scored as `improv eval` scores them (the solo
before the call, the call, the chords, the tempo), then with less: no solo before the
call, no call either (the chords alone), no tempo. If the solo before the call bought
little, a model that used the session's motifs better would have room to gain there.
Run from the repository root with the train extra installed:

    python3 models/eval/context_gain.py [DATA] [--model M] --json models/eval/context-gain-valid.json

Only the valid split is read; about a minute a reading on 2 cores."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from improv.bench.parts import engine
from improv.core.formats.wjazzd import call_answer_pairs
from improv.core.theory.notes import Phrase
from improv.train.evaluate import DEFAULT_TRAIN_DATA, _load, _nll, load_or_train_baselines
from improv.train.export import load_responder
from improv.train.scoring import score_parts

PARTS = ("shift", "pitch", "duration", "velocity")
READINGS = {  # what the model is given: (the solo before the call, the call, the tempo)
    "as evaluated: the solo before, the call, the tempo": (True, True, True),
    "no solo before the call": (False, True, True),
    "no tempo": (True, True, False),
    "the chords alone (no call, no solo before it)": (False, False, True),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT_TRAIN_DATA)
    ap.add_argument("--model", default="models/improv-phrase-v2.npz")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    corpus = _load(args.data)
    pairs = [p for s in corpus.split("valid") for p in call_answer_pairs(s) if p.answer.notes]
    ngram, _ = load_or_train_baselines(args.data, log=lambda m: print(m, file=sys.stderr))
    base, n_notes = _nll(ngram.score_many([(p.call, p.answer) for p in pairs]))
    model = load_responder(args.model)
    model.cache_runs = 0  # the network alone, as measured before the session cache (cache_sweep.py)
    out = {"split": "valid", "pairs": len(pairs), "notes": n_notes, "model": args.model, "five_gram_nll": base,
           "history_notes_median": float(np.median([sum(len(h.notes) for h in p.history) for p in pairs])),
           "readings": {}, "engine": engine()}
    for name, (history, call, tempo) in READINGS.items():
        nll = np.concatenate([score_parts(model, p.call if call else Phrase((), p.call.start, 0.0), p.answer,
                                          p.harmony, p.history if history else (), p.tempo if tempo else None)
                              for p in pairs])
        total = float(nll.sum(1).mean())
        out["readings"][name] = {"nll": total, "below_5gram": 1.0 - total / base,
                                 "parts": dict(zip(PARTS, nll.mean(0).round(4).tolist()))}
        print(f"{name}: {total:.4f} ({100 * (1 - total / base):.1f} % below the 5-gram's {base:.4f})")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
