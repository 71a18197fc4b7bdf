"""The valid-split sweep of two decoding settings (END hold, duration-head temperature)
that models/eval/v2-decode-sweep.json records (models/README.md, "Decoding choices after
the phrase endings"). Run from the repository root with the train extra installed:

    python3 models/eval/decode_sweep.py

It prints one line per setting (about 2 minutes each on 2 cores); the JSON was gathered
from those lines. Only the valid split is read."""

import numpy as np
from improv.train import evaluate as E
from improv.train.export import load_responder
from improv.core.formats.wjazzd import call_answer_pairs
from improv.core.respond.base import AnswerSettings
from improv.core.theory.features import NAMES, RHYTHM, feature_matrix
from improv.train.twosample import two_sample_test
from improv.core.theory import development as dev
import improv.core.model.next_note as R

corpus = E._load(E.Path('../shared/data/wjazzd-solos.tar.gz'))
pairs = [p for s in corpus.solos if s.split == 'valid' for p in call_answer_pairs(s)]
spans = [E.answer_span(p.answer) for p in pairs]
played = [E._played(p) for p in pairs]
calls = [c for c, _, _ in played]
real = [E.real_on_span(a, s, n) for (_, a, _), (s, n) in zip(played, spans)]
harm = [p.harmony for p in pairs]
real_feats = feature_matrix(real, harm, calls)
model = load_responder(None)
rhythm = [NAMES.index(n) for n in RHYTHM]
def stats(ans):
    nb = sum(len(a.notes) for a in ans) / sum(n for _, n in spans)
    last = np.median([a.notes[-1].duration for a in ans if a.notes])
    dur = np.median([n.duration for a in ans for n in a.notes])
    return nb, last, dur
rb = stats(real)
print('real npb %.3f last %.3f dur %.3f' % rb, 'short', dev.time_spread(real)['short_share'])
def generate(seed):
    """The model's answers to the valid pairs, each over its real answer's span (seed + pair index)."""
    out = []
    for i, (p, (s, n), (pc, _, ph)) in enumerate(zip(pairs, spans, played)):
        st = AnswerSettings(start=s, length=n, seed=seed + i, temperature=1.0, top_p=1.0, low=E.LOW, high=E.HIGH, history=ph, tempo=p.tempo)
        out.append(model.answer(pc, p.harmony, st))
    return out
def run(label, seeds=(0, 1000)):
    accs, accr, nbs, lasts, shorts = [], [], [], [], []
    for seed in seeds:
        out = generate(seed)
        f = feature_matrix(out, harm, calls)
        accs.append(two_sample_test(real_feats, f, NAMES).accuracy)
        accr.append(two_sample_test(real_feats[:, rhythm], f[:, rhythm], RHYTHM).accuracy)
        nb, last, dur = stats(out); nbs.append(nb / rb[0]); lasts.append(last / rb[1])
        shorts.append(dev.time_spread(out)['short_share'])
    print(f"{label}: all {np.mean(accs):.3f} ({' '.join('%.3f'%a for a in accs)}) rhythm {np.mean(accr):.3f} npb x{np.mean(nbs):.3f} last x{np.mean(lasts):.2f} short {np.mean(shorts):.4f}", flush=True)

SETTINGS = [(0.75, 3.0, 1.0), (0.6, 3.0, 0.9), (0.65, 3.0, 0.9), (0.55, 3.0, 0.9), (0.6, 3.0, 0.85),
            (0.65, 3.0, 0.85), (0.7, 3.0, 0.9), (0.65, 4.0, 0.9)]  # (END hold, its nats, duration head)

if __name__ == '__main__':
    for hold, nats, dur in SETTINGS:
        R.END_HOLD, R.END_HOLD_NATS, R.HEAD_TEMPERATURE['dur'] = hold, nats, dur
        run(f'hold {hold}:{nats} dur {dur}', (0, 1000, 2000))
