"""Learn walking-bass weights from the Weimar Jazz Database beat tables, and check them.

The beat tables (`beats/<solo>_beattrack.csv`) give, for every beat of 400+ solos, the
chord symbol and the bass pitch sounding. The bass pitches are estimates that are often
folded into one octave (most lie in C2-B2), so everything here is counted in pitch
classes and interval classes, not in exact leaps:

- the degree of the bass above the chord root on a chord's first beat, per quality class;
- the degree on the other beats;
- the interval class from one beat to the next;
- on the last beat before a chord change, the interval class from the bass note to the
  next chord's root (half step, whole step, fifth...).

Only 4/4 solos with a swing feel are used (walking lines, not two-beat or latin).

    python3 -m improv.core.band.bass_learn /path/to/wjazzd-solos --out improv/data/bass_walk.json
    python3 -m improv.core.band.bass_learn /path/to/wjazzd-solos --evaluate

`--evaluate` learns on 4/5 of the solos and compares, on the held-out fifth, the lines the
walker plays over the real chord sequences (with the hand-set and with the learned
weights) to the real bass lines: total-variation distance between the histograms above
(0 = the same distribution, 1 = disjoint). Lower is closer to how bassists walk.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path
from typing import Iterator

from improv.core.tables import write_table
from improv.core.band.bass import QUALITY_CLASS, BassSettings, WalkStats, interval_class, walk
from improv.core.theory.chart import Chart, ChordSpan
from improv.core.theory.chords import Chord, parse_chord
from improv.errors import ChordError, DataError

Beat = tuple[Chord | None, int | None]  # (chord sounding, bass pitch or None)


def read_solos(root: str | Path) -> Iterator[tuple[str, list[Beat]]]:
    """(solo name, beats) for each 4/4 swing solo whose beat table has a bass column."""
    root = Path(root)
    info = root / "solo_info.csv"
    if not info.exists():
        raise DataError(f"{info} not found: give the unpacked wjazzd-solos folder (with solo_info.csv and beats/)")
    with info.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row.get("rhythmfeel") != "SWING" or row.get("signature") != "4/4":
            continue
        path = root / "beats" / f"{row['solo']}_beattrack.csv"
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as f:
            table = list(csv.DictReader(f))
        if not table or "bass" not in table[0]:
            continue
        beats: list[Beat] = []
        for r in table:
            try:
                chord = parse_chord(r["chord"], dialect="wjazzd")
            except ChordError:
                chord = None
            try:
                bass = int(round(float(r["bass"])))
            except (TypeError, ValueError):
                bass = None
            beats.append((chord, bass))
        yield row["solo"], beats


def _qc(chord: Chord) -> str:
    return QUALITY_CLASS.get(chord.quality, "dom")


def count(beats: list[Beat]) -> dict:
    """Histograms (counts) of one or more lines, see the module docstring."""
    h: dict = {
        "onset_degree": defaultdict(lambda: [0.0] * 12),
        "interior_degree": defaultdict(lambda: [0.0] * 12),
        "step": [0.0] * 12,
        "approach": [0.0] * 12,
    }
    for i, (chord, bass) in enumerate(beats):
        if chord is None or bass is None:
            continue
        prev_chord = beats[i - 1][0] if i else None
        deg = (bass - chord.root) % 12
        key = "onset_degree" if prev_chord != chord else "interior_degree"
        h[key][_qc(chord)][deg] += 1
        if i + 1 < len(beats):
            nxt_chord, nxt_bass = beats[i + 1]
            if nxt_bass is not None and nxt_bass != bass:
                h["step"][interval_class(nxt_bass - bass) + 6] += 1
            if nxt_chord is not None and nxt_chord != chord:
                h["approach"][interval_class(nxt_chord.root - bass) + 6] += 1
    return h


def _merge(a: dict, b: dict) -> dict:
    for key in ("onset_degree", "interior_degree"):
        for q, v in b[key].items():
            a[key][q] = [x + y for x, y in zip(a[key][q], v)]
    for key in ("step", "approach"):
        a[key] = [x + y for x, y in zip(a[key], b[key])]
    return a


def _norm(v: list[float], smooth: float = 0.5) -> tuple[float, ...]:
    total = sum(v) + smooth * len(v)
    return tuple(round((x + smooth) / total, 5) for x in v)


def learn(solos: list[tuple[str, list[Beat]]]) -> WalkStats:
    """Weights (probabilities) from the real lines of `solos`."""
    h = count([])
    for _, beats in solos:
        h = _merge(h, count(beats))
    qs = sorted(set(QUALITY_CLASS.values()))
    return WalkStats(
        {q: _norm(h["onset_degree"][q]) for q in qs},
        {q: _norm(h["interior_degree"][q]) for q in qs},
        _norm(h["step"]),
        _norm(h["approach"]),
        f"Weimar Jazz Database beat tables (ODbL), {len(solos)} swing solos, {sum(len(b) for _, b in solos)} beats",
    )


def chart_of(beats: list[Beat]) -> Chart:
    """The real chord sequence of a solo as a chart, one span per run of equal chords."""
    spans: list[ChordSpan] = []
    for i, (chord, _) in enumerate(beats):
        if spans and spans[-1].chord == chord:
            last = spans.pop()
            spans.append(ChordSpan(last.start, last.duration + 1.0, chord))
        else:
            spans.append(ChordSpan(float(i), 1.0, chord))
    return Chart(tuple(spans))


def _tv(p: list[float], q: list[float]) -> float:
    sp, sq = sum(p) or 1.0, sum(q) or 1.0
    return 0.5 * sum(abs(x / sp - y / sq) for x, y in zip(p, q))


def distances(real: dict, generated: dict) -> dict[str, float]:
    """Total-variation distance per histogram (degree ones pooled over quality classes)."""
    out = {}
    for key in ("onset_degree", "interior_degree"):
        qs = sorted(set(real[key]) | set(generated[key]))
        out[key] = _tv(sum((real[key][q] for q in qs), []), sum((generated[key][q] for q in qs), []))
    for key in ("step", "approach"):
        out[key] = _tv(real[key], generated[key])
    return out


def evaluate(solos: list[tuple[str, list[Beat]]], seeds: int = 2) -> dict[str, dict[str, float]]:
    """Learn on 4/5 of the solos; distances to the held-out fifth for both weight sets."""
    train = [s for i, s in enumerate(solos) if i % 5]
    test = [s for i, s in enumerate(solos) if not i % 5]
    learned = learn(train)
    real = count([])
    for _, beats in test:
        real = _merge(real, count(beats))
    out = {}
    for name, stats in (("defaults", WalkStats.defaults()), ("learned", learned)):
        gen = count([])
        for _, beats in test:
            chart = chart_of(beats)
            for seed in range(seeds):
                line, _ = walk(chart, 0, len(beats), seed, settings=BassSettings(stats=stats))
                pitches: dict[int, int] = {int(n.start): n.pitch for n in line.notes}
                gen = _merge(gen, count([(c, pitches.get(i)) for i, (c, _) in enumerate(beats)]))
        out[name] = distances(real, gen)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m improv.core.band.bass_learn", description=__doc__.split("\n")[0])
    ap.add_argument("wjazzd", help="the unpacked wjazzd-solos folder")
    ap.add_argument("--out", help="write the learned weights here (JSON)")
    ap.add_argument("--evaluate", action="store_true", help="held-out comparison of default vs learned weights")
    args = ap.parse_args(argv)
    solos = list(read_solos(args.wjazzd))
    if args.out:
        stats = learn(solos)
        write_table(args.out, stats.to_dict())
        print(f"wrote {args.out}: {stats.source}")
    if args.evaluate:
        for name, d in evaluate(solos).items():
            print(f"{name:<9} " + "  ".join(f"{k}={v:.3f}" for k, v in d.items()) + f"  mean={sum(d.values()) / len(d):.3f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
