"""`improv embrace-bench` on the valid calls with the model partner, with the session cache of
pitch runs on or off (models/README.md, "The session's licks"). Run from the repository root:

    python3 models/eval/embrace_cache.py on|off SEED [JSON]

(`off`: `ModelResponder.cache_runs` 0, the model as it was before the cache; the bench
answers call i with seed SEED + i; JSON defaults to models/eval/v2-[no]cache-embrace-seedSEED.json)."""

import sys

import improv.core.model.responder as responder
from improv.cli import main

DATA = "../shared/data/wjazzd-solos.tar.gz"

if __name__ == "__main__":
    mode, seed = sys.argv[1], sys.argv[2]
    if mode not in ("on", "off"):
        sys.exit(f"error: say on or off, not {mode!r}")
    if mode == "off":
        responder.CACHE_RUNS = 0  # (read when the bench builds the responder)
    out = sys.argv[3] if len(sys.argv) > 3 else f"models/eval/v2-{'' if mode == 'on' else 'no'}cache-embrace-seed{seed}.json"
    sys.exit(main(["embrace-bench", DATA, "--responder", "model", "--seed", seed, "--json", out]))
