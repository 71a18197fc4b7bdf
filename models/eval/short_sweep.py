"""The valid-split sweep of the one-tick duration's penalty (`SHORT_DUR_NATS`) after the
span's end went to END (`END_PAST_SPAN`), which models/eval/v2-short-sweep.json records
(models/README.md, "Short notes after the span's end"). Run from the repository root with
the train extra installed:

    python3 models/eval/short_sweep.py [1.0,0.5,0.0 [0,1000]] > models/eval/v2-short-sweep.json

(the values of `SHORT_DUR_NATS` to decode with, the shipped one first, and the seeds; the
JSON holds three such runs, their rows together: 1.0,0.5,0.0 and 0.75,0.85 with seeds 0 and
1000, then 1.0,0.75 with seed 2000).
Each setting is decoded with seeds 0 and 1000 over the valid split's pairs, as
`decode_sweep.py` does (about 2 minutes a seed on 2 cores); only the valid split is read.
The notes shorter than 0.1 beat are given as the real answers' share over the same spans."""

import json
import sys

import improv.core.model.next_note as R
from improv.core.theory import development as dev
from improv.core.theory.features import NAMES, RHYTHM, feature_matrix
from improv.train.twosample import two_sample_test

# the valid pairs, their spans, the real answers and the model, read as decode_sweep.py reads them
from decode_sweep import calls, generate, harm, pairs, real, real_feats, rhythm, spans

SETTINGS = tuple(float(v) for v in sys.argv[1].split(",")) if len(sys.argv) > 1 else (1.0, 0.5, 0.0)  # SHORT_DUR_NATS
SEEDS = tuple(int(v) for v in sys.argv[2].split(",")) if len(sys.argv) > 2 else (0, 1000)

beats = sum(n for _, n in spans)
real_npb = sum(len(a.notes) for a in real) / beats
real_short = dev.time_spread(real)['short_share']
rows = []
for nats in SETTINGS:
    R.SHORT_DUR_NATS = nats
    for seed in SEEDS:
        out = generate(seed)
        f = feature_matrix(out, harm, calls)
        short = dev.time_spread(out)['short_share']
        row = {"short_dur_nats": nats, "seed": seed,
               "classifier_all": two_sample_test(real_feats, f, NAMES).accuracy,
               "classifier_rhythm": two_sample_test(real_feats[:, rhythm], f[:, rhythm], RHYTHM).accuracy,
               "notes_per_beat_vs_real": sum(len(a.notes) for a in out) / beats / real_npb,
               "short_share": short, "short_vs_real": short / real_short}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
print(json.dumps({"split": "valid", "pairs": len(pairs), "real_short_share": real_short, "rows": rows}, indent=1))
