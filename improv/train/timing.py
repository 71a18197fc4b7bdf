"""Learn the tempo follower's onset template from WJazzD solos as played (no torch).

Every onset of the training split's solos (chords and grace notes within 30 ms merged, as
the follower does) is placed against the solo's annotated beat track: its phase within
the beat and the local beat period. Onsets are pooled by tempo band and each band's
mixture is fitted (`improv.core.listen.onset_template.fit_band`); consecutive onsets less
than `NEXT_GAP_S` apart give the next-onset table (`NextOnset.fit`), and every note's
phase and length in beats the note-length table (`NoteLength.fit`), over all tempi.

    python3 -m improv.train.timing ../shared/data/wjazzd-solos.tar.gz --out improv/data/onset_timing.json

Only the training split is used (`improv.core.formats.wjazzd.split_of`), so the
follower's benchmark on the validation solos is on solos it has not seen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from improv.bench.human import load_human
from improv.core.listen.onset_template import TEMPLATE_FILE, NextOnset, NoteLength, OnsetTemplate, fit_band
from improv.core.listen.tempo import MERGE_S, NEXT_GAP_S

BAND_BPM = (60.0, 85.0, 110.0, 140.0, 175.0, 215.0, 260.0, 310.0)


def samples(path: str | Path, split: str = "train") -> tuple[dict[float, tuple[np.ndarray, np.ndarray]],
                                                               np.ndarray, np.ndarray]:
    """(phases, periods) of every merged onset per tempo band centre, the (phase, beats to
    the next onset) pairs of onsets less than `NEXT_GAP_S` apart, and (phase, length in
    beats) of every merged onset's note."""
    out: dict[float, tuple[list[float], list[float]]] = {b: ([], []) for b in BAND_BPM}
    pairs: list[tuple[float, float]] = []
    lengths: list[tuple[float, float]] = []
    logs = np.log(BAND_BPM)
    for solo in load_human(path, split):
        last, last_beat = -1e9, 0.0
        for note in sorted((n for p in solo.phrases for n in p.notes), key=lambda n: n.onset):
            if note.onset - last < MERGE_S:
                continue
            beat = solo.track.beat_at(note.onset)
            if note.onset - last <= NEXT_GAP_S and beat > last_beat:
                pairs.append((last_beat % 1.0, beat - last_beat))
            last, last_beat = note.onset, beat
            period = solo.track.period_at(note.onset, 2)
            lengths.append((beat % 1.0, note.duration / period))
            band = BAND_BPM[int(np.argmin(abs(logs - np.log(60.0 / period))))]
            out[band][0].append(beat % 1.0)
            out[band][1].append(period)
    return {b: (np.array(x), np.array(p)) for b, (x, p) in out.items()}, np.array(pairs), np.array(lengths)


def learn(path: str | Path, split: str = "train") -> OnsetTemplate:
    """Fit every band with enough onsets (100 or more) and the next-onset table."""
    per_band, pairs, lengths = samples(path, split)
    bands = [fit_band(x, p, bpm) for bpm, (x, p) in per_band.items() if len(x) >= 100]
    total = sum(b.onsets for b in bands)
    return OnsetTemplate(bands, NextOnset.fit(pairs[:, 0], pairs[:, 1]), NoteLength.fit(lengths[:, 0], lengths[:, 1]),
                         f"Weimar Jazz Database (ODbL), {split} split, {total} onsets against the beat tracks")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="wjazzd-solos.tar.gz or its unpacked folder")
    ap.add_argument("--out", default=str(TEMPLATE_FILE), help=f"where to write it (default {TEMPLATE_FILE})")
    args = ap.parse_args(argv)
    template = learn(args.data)
    template.save(args.out)
    for b in template.bands:
        names = " ".join(f"{n} {w:.2f}" for n, w in zip(("beat", "off", "1/4", "3/4", "1/3", "2/3", "any"), b.weights))
        print(f"{b.bpm:5.0f} bpm  {b.onsets:6d} onsets  {names}  lag {b.lag:+.3f} beat  off-beat {b.offbeat:.3f}  "
              f"scatter {1000 * b.sigma_s:.0f} ms")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
