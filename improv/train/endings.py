"""Learn how soloists end a phrase (`improv.core.model.endings`) from WJazzD solos (no torch).

Every phrase of the training split's solos, as written (ticks), at its solo's tempo: the
lengths of its inner notes and of its last note, per tempo band.

    python3 -m improv.train.endings ../shared/data/wjazzd-solos.tar.gz --out improv/data/phrase_endings.json

Only the training split is used (`improv.core.formats.wjazzd.split_of`): the valid split
judges the answers that use it, the test split is never read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from improv.core.formats.wjazzd import load_corpus
from improv.core.model.endings import ENDINGS_FILE, TICKS, PhraseEndings, fit
from improv.errors import ImprovError


def phrases(path: str | Path, split: str = "train") -> list[tuple[list[int], float | None]]:
    """(written lengths in ticks, tempo) of every phrase of the split's solos."""
    out = []
    for solo in load_corpus(path).solos:
        if solo.split != split:
            continue
        for p in solo.phrases:
            out.append(([max(1, round(n.duration * TICKS)) for n in p.notes], solo.tempo))
    return out


def learn(path: str | Path, split: str = "train") -> PhraseEndings:
    return fit(phrases(path, split))


def describe(e: PhraseEndings) -> list[str]:
    """Median lengths (beats) of inner and last notes per band, as lines."""
    names = [f"< {e.tempo_edges[0]:g}"] + [f"{a:g}-{b:g}" for a, b in zip(e.tempo_edges, e.tempo_edges[1:])] \
        + [f">= {e.tempo_edges[-1]:g}", "all"]
    out = []
    for name, inner, last, n in zip(names, e.inner_cdf, e.last_cdf, e.counts):
        med = lambda c: (int(np.searchsorted(c, 0.5)) + 1) / TICKS  # noqa: E731
        out.append(f"  {name:>9} bpm: {n:5d} phrases; median inner note {med(inner):.2f} beat, last note {med(last):.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m improv.train.endings", description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="the wjazzd-solos.tar.gz or its unpacked folder")
    ap.add_argument("--out", default=str(ENDINGS_FILE), help=f"where to write (default {ENDINGS_FILE})")
    args = ap.parse_args(argv)
    try:
        endings = learn(args.data)
    except ImprovError as e:
        print(f"improv.train.endings: {e}", file=sys.stderr)
        return 2
    endings.save(args.out)
    print("\n".join([f"wrote {args.out}", *describe(endings)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
