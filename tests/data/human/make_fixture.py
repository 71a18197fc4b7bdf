"""Write phrases.json: three consecutive phrases of one validation solo of the Weimar Jazz
Database at each of a slow, a medium and a fast tempo, as played (onsets and lengths in
seconds), with the solo's beat times over them: what tests/test_e2e_human.py plays into
`improv jam` over JACK. The solo and its first phrase are picked by seed, not by how the
follower does on them.

    python3 tests/data/human/make_fixture.py ../shared/data/wjazzd-solos.tar.gz

Data: Weimar Jazz Database (Jazzomat Research Project), Open Database License (ODbL) v1.0;
see models/README.md. These few phrases are a derived excerpt under the same licence.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from improv.bench.human import load_human

BANDS = {"slow": (60.0, 95.0), "medium": (140.0, 190.0), "fast": (220.0, 300.0)}
PHRASES = 3


def main(data: str) -> None:
    solos = load_human(data, "valid")
    out = {"source": "Weimar Jazz Database (Jazzomat Research Project), ODbL v1.0", "calls": {}}
    for name, (lo, hi) in BANDS.items():
        starts = [(s, i) for s in solos for i in range(len(s.phrases) - PHRASES + 1)
                  if all(lo <= p.tempo <= hi and len(p.notes) >= 6 for p in s.phrases[i:i + PHRASES])]
        solo, i = random.Random(0).choice(starts)
        phrases = solo.phrases[i:i + PHRASES]
        t0 = phrases[0].start
        end = phrases[-1].end
        beats = [t - t0 for t in solo.track.times if t0 - 2.0 <= t <= end + 4.0]
        out["calls"][name] = {
            "solo": solo.name, "first_phrase": i, "tempo": round(sum(p.tempo for p in phrases) / PHRASES, 2),
            "notes": [[round(n.onset - t0, 4), round(n.duration, 4), n.pitch, n.velocity]
                      for p in phrases for n in p.notes],
            "beats": [round(t, 4) for t in beats],
        }
        print(f"{name}: {solo.name} phrases {i}-{i + PHRASES - 1}, {out['calls'][name]['tempo']} bpm, "
              f"{len(out['calls'][name]['notes'])} notes")
    Path(__file__).with_name("phrases.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
