"""The valid-split check behind the time feel's `next_mean` (models/README.md, "Time feel"):
two weights files (the feel before and after), each measured two ways, three seeds each:

- feel alone: the real answers' written notes played by the file's feel (as the partner
  plays its own), against the same answers as played; two-sample classifier on all
  features and on rhythm alone;
- the model: its answers generated as `improv eval` generates them (same seeds), against
  the real answers as played.

    python3 models/eval/feel_next_gap.py OLD.npz models/improv-phrase-v2.npz --json models/eval/v2-feel-next-gap.json

OLD.npz: e.g. `git show 9aacf31:models/improv-phrase-v2.npz > /tmp/old.npz`. Only the
valid split is read. About 15 minutes on 2 cores."""

import argparse
import json
import statistics

import numpy as np

from improv.core.formats.wjazzd import call_answer_pairs
from improv.core.model.feel import FOLLOW_PHRASES
from improv.core.respond.base import AnswerSettings
from improv.core.theory.features import NAMES, RHYTHM, feature_matrix
from improv.core.theory.notes import Phrase
from improv.train import evaluate as E
from improv.train.export import load_responder
from improv.train.twosample import two_sample_test

SEEDS = (0, 1000, 2000)
RHYTHM_COLS = [NAMES.index(n) for n in RHYTHM]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--data", default="../shared/data/wjazzd-solos.tar.gz")
    ap.add_argument("--json")
    args = ap.parse_args()
    corpus = E._load(E.Path(args.data))
    pairs = [p for s in corpus.solos if s.split == "valid" for p in call_answer_pairs(s)]
    spans = [E.answer_span(p.answer) for p in pairs]
    played = [E._played(p) for p in pairs]
    calls = [c for c, _, _ in played]
    harm = [p.harmony for p in pairs]
    real = [E.real_on_span(a, s, n) for (_, a, _), (s, n) in zip(played, spans)]
    real_feats = feature_matrix(real, harm, calls)

    def classify(answers: list[Phrase]) -> tuple[float, float]:
        f = feature_matrix(answers, harm, calls)
        return (two_sample_test(real_feats, f, NAMES).accuracy,
                two_sample_test(real_feats[:, RHYTHM_COLS], f[:, RHYTHM_COLS], RHYTHM).accuracy)

    def feel_alone(feel, seed: int) -> list[Phrase]:
        out = []
        for i, (p, (s, n), (pc, _, ph)) in enumerate(zip(pairs, spans, played)):
            rng = np.random.default_rng(seed + i)
            written = E.real_on_span(p.answer, s, n)
            measured = feel.measure([*ph[-(FOLLOW_PHRASES - 1):], pc], p.tempo)
            notes = feel.play(written.notes, s, n, p.tempo, feel.phrase_feel(p.tempo, measured, rng), rng)
            out.append(Phrase(tuple(notes), s, n))
        return out

    def generated(model, seed: int) -> list[Phrase]:
        out = []
        for i, (p, (s, n), (pc, _, ph)) in enumerate(zip(pairs, spans, played)):
            st = AnswerSettings(start=s, length=n, seed=seed + i, temperature=1.0, top_p=1.0, low=E.LOW,
                                high=E.HIGH, history=ph, tempo=p.tempo)
            out.append(model.answer(pc, p.harmony, st))
        return out

    report = {"split": "valid", "n_pairs": len(pairs), "seeds": list(SEEDS), "files": {}}
    for path in args.weights:
        model = load_responder(path)
        got = {}
        for what, make in (("feel_alone", lambda seed: feel_alone(model.feel, seed)),
                           ("model", lambda seed: generated(model, seed))):
            runs = [classify(make(seed)) for seed in SEEDS]
            got[what] = {"classifier_all": [a for a, _ in runs], "classifier_rhythm": [r for _, r in runs],
                         "median_all": statistics.median(a for a, _ in runs),
                         "median_rhythm": statistics.median(r for _, r in runs)}
            print(f"{path} {what}: all {got[what]['median_all']:.3f} ({' '.join('%.3f' % a for a, _ in runs)}) "
                  f"rhythm {got[what]['median_rhythm']:.3f} ({' '.join('%.3f' % r for _, r in runs)})", flush=True)
        got["next_mean"] = None if model.feel.next_mean is None else model.feel.next_mean.round(4).tolist()
        report["files"][path] = got
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
