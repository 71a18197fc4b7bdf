"""How far averaging models (and the chord n-gram beside them) takes the NLL, on the valid
split only (models/README.md, "Training"): is the NLL target a matter of more runs, or of
more than this data and model family give? Run from the repository root with the train
extra installed:

    python3 models/eval/mix_sweep.py ../shared/data/wjazzd-solos.tar.gz \\
        --models models/improv-phrase-v2.npz --models models/improv-phrase-v2.npz,runs/seed1/best.pt ... --json OUT

(each `--models` one ensemble: its models' paths, comma-separated; each model is scored once)

Every valid pair's real answer is scored note by note and part by part (shift, pitch,
duration, velocity: `score_parts`) by each model, by the chord n-gram and by the 5-gram
(its four tokens a note). A mixture is scored part by part too: p(part) = (1 - w) * (the
models' mean probability) + w * (a baseline's), a proper distribution since all of them
factorise a note the same way.
The four weights `w` are chosen on one half of the valid solos and scored on the other,
both ways round (so no figure is scored on the pairs that chose its weights). Reported
beside the 5-gram on the same pairs, as `improv eval` reports the model. About 20 s a
model on 2 cores."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from improv.bench.parts import engine
from improv.core.formats.wjazzd import call_answer_pairs
from improv.core.model.ngram import pair_tokens
from improv.train.evaluate import _load, _nll, load_or_train_baselines
from improv.train.export import load_responder
from improv.train.scoring import score_parts

PARTS = ("shift", "pitch", "duration", "velocity")
WEIGHTS = np.round(np.arange(0.0, 0.51, 0.02), 2)


def mixed(probs: list[np.ndarray], chord: np.ndarray, w: np.ndarray) -> np.ndarray:
    """NLL (notes, 4) of the models' mean probability mixed with the chord n-gram's, `w` per part."""
    return -np.log((1 - w) * np.mean(probs, axis=0) + w * chord)


def choose(probs: list[np.ndarray], chord: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per part, the baseline's weight (of `WEIGHTS`) with the lowest NLL over `rows`."""
    nll = np.array([mixed([p[rows] for p in probs], chord[rows], np.full(len(PARTS), w)).mean(0) for w in WEIGHTS])
    return WEIGHTS[nll.argmin(0)]


def ensemble(probs: list[np.ndarray], others: dict[str, np.ndarray], halves: list[np.ndarray], base: float) -> dict:
    """The models' mean alone, and mixed with each of `others` (the baselines' part
    probabilities; weights cross-fitted by half)."""
    ens = mixed(probs, next(iter(others.values())), np.zeros(len(PARTS)))
    out = {"nll": float(ens.sum(1).mean()), "below_5gram": 1.0 - float(ens.sum(1).mean()) / base,
           "parts": dict(zip(PARTS, ens.mean(0).round(4).tolist()))}
    for name, other in others.items():
        cross = np.zeros_like(ens)
        weights = []
        for pick, judge in (halves, halves[::-1]):
            w = choose(probs, other, pick)
            weights.append(dict(zip(PARTS, w.tolist())))
            cross[judge] = mixed([p[judge] for p in probs], other[judge], w)
        out[f"with_{name}"] = {"nll": float(cross.sum(1).mean()), "below_5gram": 1.0 - float(cross.sum(1).mean()) / base,
                               "parts": dict(zip(PARTS, cross.mean(0).round(4).tolist())), "weights_by_half": weights}
    return out


def arguments(doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The data, the ensembles (`--models`, each one comma-separated) and `--json`."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--models", action="append", required=True,
                    help="one ensemble: exported .npz or training checkpoints (.pt), comma-separated")
    ap.add_argument("--json", help="write the figures here")
    return ap.parse_args(argv)


def valid_pairs(data: Path) -> tuple:
    """(the valid solos, their pairs with an answer as (solo index, pair), the 5-gram, the
    chord n-gram, the 5-gram's NLL per note on those answers and their notes, the two halves
    of the solos as masks over the notes)."""
    solos = _load(data).split("valid")
    pairs = [(k, p) for k, s in enumerate(solos) for p in call_answer_pairs(s) if p.answer.notes]
    ngram, chordgram = load_or_train_baselines(data, log=lambda m: print(m, file=sys.stderr))
    base, n_notes = _nll(ngram.score_many([(p.call, p.answer) for _, p in pairs]))
    solo_of = np.concatenate([[k] * len(p.answer.notes) for k, p in pairs])
    return solos, pairs, ngram, chordgram, base, n_notes, [solo_of % 2 == 0, solo_of % 2 == 1]


def network_nll(path: str, pairs: list) -> np.ndarray:
    """(notes, 4) the model's part NLLs of the pairs' answers: the network alone, as measured
    before the session cache (`cache_sweep.py` mixes that in)."""
    m = load_responder(path)
    m.cache_runs = 0
    return np.concatenate([score_parts(m, p.call, p.answer, p.harmony, p.history, p.tempo) for _, p in pairs])


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv)
    groups = [g.split(",") for g in args.models]
    solos, pairs, ngram, chordgram, base, n_notes, halves = valid_pairs(Path(args.data))
    chord_nll = np.concatenate([chordgram.score_parts(p.call, p.answer, p.harmony) for _, p in pairs])
    chord = np.exp(-chord_nll)
    contexts, targets = zip(*(pair_tokens(p.call, p.answer) for _, p in pairs))  # a note's four tokens, then EOS
    five_nll = np.concatenate([t[:-1].reshape(-1, len(PARTS)) for t in ngram.token_nll(contexts, targets)])
    others = {"chordgram": chord, "5gram": np.exp(-five_nll)}
    probs, alone = {}, {}
    for path in dict.fromkeys(x for g in groups for x in g):
        nll = network_nll(path, pairs)
        probs[path] = np.exp(-nll)
        alone[path] = {"nll": float(nll.sum(1).mean()), "below_5gram": 1.0 - float(nll.sum(1).mean()) / base,
                       "parts": dict(zip(PARTS, nll.mean(0).round(4).tolist()))}
        print(f"{path}: {alone[path]['nll']:.4f}", file=sys.stderr)
    out = {"split": "valid", "pairs": len(pairs), "notes": int(n_notes), "solos": len(solos),
           "five_gram_nll": base, "chordgram_nll": float(chord_nll.sum(1).mean()),
           "chordgram_parts": dict(zip(PARTS, chord_nll.mean(0).round(4).tolist())),
           "weights_how": "per part, chosen on the even-numbered valid solos and scored on the odd ones, "
                          "and the other way round",
           "models": alone,
           "five_gram_parts": dict(zip(PARTS, five_nll.mean(0).round(4).tolist())),
           "ensembles": [dict(models=g, **ensemble([probs[x] for x in g], others, halves, base)) for g in groups],
           "engine": engine()}
    for e in out["ensembles"]:
        c, f = e["with_chordgram"], e["with_5gram"]
        print(f"{len(e['models'])} model(s): {e['nll']:.4f} ({100 * e['below_5gram']:.1f} % below the 5-gram's "
              f"{base:.4f}); with the chord n-gram {c['nll']:.4f} ({100 * c['below_5gram']:.1f} %); with the 5-gram "
              f"{f['nll']:.4f} ({100 * f['below_5gram']:.1f} %)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
