"""The valid-split check of how the model's answers end and articulate (models/README.md,
"The span's end"): the classifier (as `improv eval` samples) and the articulation figures,
for the decoding as shipped and the variants tried. Run from the repository root with the
train extra installed:

    python3 models/eval/articulation.py before now as-decoded wall-as-decoded [--data PATH]

One block per variant and seed (about 4 minutes each on 2 cores). Only the valid split is
generated; `real train` reads the training split's real answers (no model)."""

import sys

import numpy as np

import improv.core.model.responder as R
from improv.core.formats.wjazzd import call_answer_pairs
from improv.core.respond.base import AnswerSettings
from improv.core.theory.features import NAMES, RHYTHM, _durations, feature_matrix
from improv.train import evaluate as E
from improv.train.export import load_responder
from improv.train.twosample import two_sample_test

DATA = E.Path('../shared/data/wjazzd-solos.tar.gz')


def articulation(phrase):
    return _durations(phrase)[3]  # mean duration / gap to the next onset (each at most 2)


def measure(label, calls, answers):
    """Held to the span's end, the last note, short notes and articulation against the call's."""
    held = [abs(a.notes[-1].end - a.length) < 1e-3 for a in answers if a.notes]
    near = [a.length - a.notes[-1].end < 0.1 for a in answers if a.notes]
    last = [a.notes[-1].duration for a in answers if a.notes]
    gap = [a.length - a.notes[-1].start for a in answers if a.notes]
    d = np.array([n.duration for a in answers for n in a.notes])
    ca, aa = np.array([articulation(c) for c in calls]), np.array([articulation(a) for a in answers])
    ok = np.isfinite(ca) & np.isfinite(aa)
    stacc = ok & (ca < 0.6)
    print(f"{label}: held to the span's end {np.mean(held):.3f} (within 0.1 beat {np.mean(near):.3f}); last note "
          f"median {np.median(last):.3f} beat, last onset {np.median(gap):.2f} beat before the end; notes < 0.1 beat "
          f"{np.mean(d < 0.1):.4f}; articulation {np.mean(aa[ok]):.3f}, r with the call's {np.corrcoef(ca[ok], aa[ok])[0, 1]:.3f}, "
          f"after staccato calls (< 0.6, {stacc.sum()}) {aa[stacc].mean():.3f}", flush=True)


def data(split):
    corpus = E._load(DATA)
    pairs = [p for s in corpus.solos if s.split == split for p in call_answer_pairs(s)]
    spans = [E.answer_span(p.answer) for p in pairs]
    played = [E._played(p) for p in pairs]
    real = [E.real_on_span(a, s, n) for (_, a, _), (s, n) in zip(played, spans)]
    return pairs, spans, played, [c for c, _, _ in played], real


def run(label, model, pairs, spans, played, calls, real, seeds=(0, 1000)):
    harm = [p.harmony for p in pairs]
    real_feats = feature_matrix(real, harm, calls)
    rhythm = [NAMES.index(n) for n in RHYTHM]
    for seed in seeds:
        out = [model.answer(pc, p.harmony, AnswerSettings(start=s, length=n, seed=seed + i, temperature=1.0, top_p=1.0,
                                                          low=E.LOW, high=E.HIGH, history=ph, tempo=p.tempo))
               for i, (p, (s, n), (pc, _, ph)) in enumerate(zip(pairs, spans, played))]
        f = feature_matrix(out, harm, calls)
        npb = sum(len(a.notes) for a in out) / sum(len(a.notes) for a in real)
        print(f"{label} seed {seed}: classifier all {two_sample_test(real_feats, f, NAMES).accuracy:.3f} rhythm "
              f"{two_sample_test(real_feats[:, rhythm], f[:, rhythm], RHYTHM).accuracy:.3f}; notes x{npb:.3f} the real",
              flush=True)
        measure(f"{label} seed {seed}", calls, out)


VARIANTS = {  # (the share past the span to END, the last note mapped by the phrase endings)
    "before": (False, True), "now": (True, True), "as-decoded": (False, False), "wall-as-decoded": (True, False)}

if __name__ == '__main__':
    args = sys.argv[1:]
    if "--data" in args:
        at = args.index("--data")
        DATA = E.Path(args[at + 1])
        del args[at:at + 2]
    measure("real train", *data("train")[3:])
    valid = data("valid")
    measure("real valid", *valid[3:])
    for name in args:
        wall, mapped = VARIANTS[name]
        model = load_responder(None)
        R.END_PAST_SPAN = wall
        if not mapped:
            model.endings = None
        run(name, model, *valid)
