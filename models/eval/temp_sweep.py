"""The valid-split sweep of the pitch and duration heads' temperatures (and the one-tick
duration's penalty beside the duration head's) that models/eval/tried-head-temps-valid.json
records (models/README.md, "Where the answers still differ"). Run from the repository root
with the train extra installed:

    python3 models/eval/temp_sweep.py '[{}, {"temp": {"dur": 0.8}}, {"temp": {"dur": 0.8}, "short": 0.4},
                                        {"temp": {"pitch": 1.0}}, {"temp": {"pitch": 0.8}}]'

Each setting (head temperatures replacing `HEAD_TEMPERATURE`'s, `SHORT_DUR_NATS`; {} = as
shipped) is decoded with seeds 0, 1000 and 2000 over the valid split's pairs, as
`decode_sweep.py` does (about 1.5 minutes a seed on 2 cores); one JSON line per setting:
the classifiers, the notes per beat and the notes under 0.1 beat against the real answers',
and the features that moved, each one's gap (`feature_gaps`: the generated mean minus the
real one, in pooled deviations) averaged over the seeds. Only the valid split is read."""

import json
import sys

import numpy as np

import improv.core.model.next_note as R
from improv.core.theory import development as dev
from improv.core.theory.features import NAMES, RHYTHM, feature_matrix
from improv.train.twosample import feature_gaps, two_sample_test

from decode_sweep import calls, generate, harm, real, real_feats, rhythm, spans

SETTINGS = json.loads(sys.argv[1]) if len(sys.argv) > 1 else [{}]
SEEDS = (0, 1000, 2000)
SHOWN = ("log_dur_sd", "pc_entropy", "staccato_share", "articulation", "abs_interval_mean", "step_share",
         "direction_change_share", "outside_share", "strong_beat_chord_tones")

beats = sum(n for _, n in spans)
real_npb = sum(len(a.notes) for a in real) / beats
real_short = dev.time_spread(real)["short_share"]
shipped, shipped_short = dict(R.HEAD_TEMPERATURE), R.SHORT_DUR_NATS
for setting in SETTINGS:
    R.HEAD_TEMPERATURE = dict(shipped, **setting.get("temp", {}))
    R.SHORT_DUR_NATS = setting.get("short", shipped_short)
    row = {"setting": setting, "classifier_all": [], "classifier_rhythm": [], "npb_vs_real": [], "short_vs_real": []}
    gaps = []
    for seed in SEEDS:
        out = generate(seed)
        f = feature_matrix(out, harm, calls)
        row["classifier_all"].append(two_sample_test(real_feats, f, NAMES).accuracy)
        row["classifier_rhythm"].append(two_sample_test(real_feats[:, rhythm], f[:, rhythm], RHYTHM).accuracy)
        row["npb_vs_real"].append(sum(len(a.notes) for a in out) / beats / real_npb)
        row["short_vs_real"].append(dev.time_spread(out)["short_share"] / real_short)
        gaps.append(dict(feature_gaps(real_feats, f, NAMES, top=len(NAMES))))
    row["gap_mean"] = {k: round(float(np.mean([g[k] for g in gaps])), 3) for k in SHOWN}
    print(json.dumps(row), flush=True)
