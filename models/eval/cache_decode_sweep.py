"""The valid-split check of the session cache's weight in decoding (`CACHE_WEIGHT`,
models/README.md, "The session's licks"): the answers decoded with the cache and without,
against the real answers. Run from the repository root with the train extra installed:

    python3 models/eval/cache_decode_sweep.py [0.0,0.15 [0,1000,2000]] > models/eval/v2-cache-decode-valid.json

(the weights to decode with and the seeds; about 2 minutes a seed and weight on 2 cores).
Each is decoded over the valid split's pairs as `decode_sweep.py` does; only the valid split
is read. The figures are those of `improv eval`'s table: the classifiers, the call cells
reused, the chord tones on strong beats, the notes per beat and those under 0.1 beat (the
last three as the real answers' share over the same spans)."""

import contextlib
import json
import sys

from improv.bench.parts import engine
from improv.core.theory import development as dev
from improv.core.theory.features import NAMES, RHYTHM, feature_matrix
from improv.core.theory.metrics import summarize
from improv.train.twosample import two_sample_test

# the valid pairs, their spans, the real answers and the model, read as decode_sweep.py reads them
# (which prints a line of the real answers' figures: to stderr, the JSON is stdout's)
with contextlib.redirect_stdout(sys.stderr):
    from decode_sweep import calls, generate, harm, model, pairs, real, real_feats, rhythm, spans

WEIGHTS = tuple(float(v) for v in sys.argv[1].split(",")) if len(sys.argv) > 1 else (0.0, 0.15)
SEEDS = tuple(int(v) for v in sys.argv[2].split(",")) if len(sys.argv) > 2 else (0, 1000, 2000)


def figures(answers: list) -> dict:
    s = summarize(answers, harm, calls)
    return {"notes_per_beat": sum(len(a.notes) for a in answers) / sum(n for _, n in spans),
            "strong_chord_tones": s["strong_beat_chord_tone_share"], "short_share": dev.time_spread(answers)["short_share"],
            "cell_reuse_4": dev.cell_reuse(calls, answers, 3), "cell_reuse_3": dev.cell_reuse(calls, answers, 2)}


ref = figures(real)
rows = []
for weight in WEIGHTS:
    model.cache_weight = weight
    model._primed = None
    for seed in SEEDS:
        out = generate(seed)
        f = feature_matrix(out, harm, calls)
        got = figures(out)
        row = {"cache_weight": weight, "seed": seed,
               "classifier_all": two_sample_test(real_feats, f, NAMES).accuracy,
               "classifier_rhythm": two_sample_test(real_feats[:, rhythm], f[:, rhythm], RHYTHM).accuracy,
               **got, **{k + "_vs_real": got[k] / ref[k] for k in ("notes_per_beat", "strong_chord_tones", "short_share")}}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
print(json.dumps({"split": "valid", "pairs": len(pairs), "real": ref, "rows": rows, "engine": engine()}, indent=1))
