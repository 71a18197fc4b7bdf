"""Tried and left out (figures/README.md, `tried-bar-one.json`): over a chart, find bar 1
from the player's first call when they come in on a pickup. Following over a chart counts
bar 1 from the first note's beat (README, "In your time"), but WJazzD soloists come in on
bar 1's downbeat in 26 of 329 training solos (`first-notes.json`). Could the call itself
say where bar 1 is: its notes against the chart's chords, its long notes on beats 1 and 3?

For each solo (4/4, chorus 1 of at least 8 beats), its first one or two phrases on the
annotated beat track (the soloist's own beats: the tempo follower's errors left out, so
this is the most any such realignment could give) are scored against the chart from bar 1
of chorus 1 (looping; a pickup over the form's last bar), with bar 1 put at the first
note's nearest beat plus d, d in -4..4 beats:

- "first note (as shipped)": d = 0;
- "chords": the sum over the notes of log P(pitch class from the root | chord kind, on or
  off the beat) / (1/12), the table counted on the training split's notes;
- "chords + prior": plus log P(d), counted on the training split's first notes;
- "chords + prior + accents": plus the held notes on the candidate bar's beats 1 and 3.

Judged by bar 1 found (mod the form's length), its place in the bar (mod 4), and the
share of the next 64 beats whose chord the placed chart gets right.

    python3 figures/tried_bar_one.py [DATA] > figures/tried-bar-one.json

Training and validation splits (the test split is not read).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import tarfile
from collections import Counter, defaultdict

from improv.bench.follow import DEFAULT_DATA
from improv.bench.parts import engine
from improv.core.formats.wjazzd import load_corpus, solo_name

KINDS = {"maj7": "maj", "6": "maj", "": "maj", "m7": "min", "m": "min", "m6": "min", "mmaj7": "min", "7": "dom",
         "7sus4": "dom", "sus4": "dom", "+7": "dom", "7alt": "dom", "+": "dom", "m7b5": "hdim", "dim7": "dim",
         "dim": "dim"}
SHIFTS = range(-4, 5)
AGREE_BEATS = 64


def chorus_one(data: str) -> dict[str, tuple[int, int]]:
    """solo -> (timeline beat of chorus 1's first beat, chorus 1's length in beats)."""
    out = {}
    with tarfile.open(data) as tar:
        for name in tar.getnames():
            if "/beats/" not in name or not name.endswith(".csv"):
                continue
            beats = list(csv.DictReader(io.TextIOWrapper(tar.extractfile(name), "utf-8")))
            melody = name.replace("/beats/", "/melody/").replace("_beattrack", "")
            notes = list(csv.DictReader(io.TextIOWrapper(tar.extractfile(melody), "utf-8")))
            bars = [int(r["bar"]) for r in beats + notes if r.get("bar", "").lstrip("-").isdigit()]
            first = [r for r in beats if r.get("chorus_id") == "1"]
            if bars and first:
                at = (int(first[0]["bar"]) - min(bars)) * 4 + int(first[0]["beat"]) - 1
                out[solo_name(name.rsplit("/", 1)[1][:-4])] = (at, len(first))
    return out


def main() -> None:
    data = sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT_DATA)
    corpus, c1 = load_corpus(data), chorus_one(data)
    counts: dict[tuple[str, bool], list[float]] = defaultdict(lambda: [1.0] * 12)
    for s in corpus.split("train"):
        for p in s.phrases:
            for n in p.absolute():
                ch = s.chart.chord_at(n.start)
                if ch is not None:
                    counts[(KINDS.get(ch.quality, "other"), n.start % 1 < 0.01)][(n.pitch - ch.root) % 12] += 1
    table = {k: [math.log(x / sum(v) * 12) for x in v] for k, v in counts.items()}

    def cases(split):
        for s in corpus.split(split):
            if s.name in c1 and s.played and c1[s.name][1] >= 8:
                yield s, *c1[s.name]

    prior = Counter(b1 - round(s.played[0].start) for s, b1, _ in cases("train"))

    def chord(s, b1, form, x):
        return s.chart.chord_at(b1 + x % form)

    def fit(notes, s, b1, form, origin):
        total = 0.0
        for beat, pitch, _ in notes:
            ch = chord(s, b1, form, beat - origin)
            if ch is not None:
                total += table[(KINDS.get(ch.quality, "other"), beat % 1 < 0.01)][(pitch - ch.root) % 12]
        return total

    def accents(notes, origin):
        total = 0.0
        for beat, _, dur in notes:
            x = beat - origin
            if abs(x - round(x)) < 0.15:
                total += min(2.0, dur) * {0: 1.0, 2: 0.5}.get(round(x) % 4, -0.3)
        return total

    arms = {"first note (as shipped)": lambda n, s, b1, form, f, d: -abs(d),
            "chords": lambda n, s, b1, form, f, d: fit(n, s, b1, form, f + d),
            "chords + prior": lambda n, s, b1, form, f, d: fit(n, s, b1, form, f + d) + math.log(prior[d] + 1),
            "chords + prior + accents": lambda n, s, b1, form, f, d: (fit(n, s, b1, form, f + d)
                                                                      + math.log(prior[d] + 1) + accents(n, f + d))}
    result = {"engine": engine(), "shifts": list(SHIFTS), "prior_train": dict(sorted(prior.items()))}
    for split in ("train", "valid"):
        for phrases in (1, 2):
            for arm, score in arms.items():
                hit = phase = 0
                agree = 0.0
                solos = list(cases(split))
                for s, b1, form in solos:
                    notes = [(n.start, n.pitch, n.duration) for p in s.played[:phrases] for n in p.absolute()]
                    f = round(s.played[0].start)
                    best = max(SHIFTS, key=lambda d: score(notes, s, b1, form, f, d))
                    true = b1 - f
                    hit += (best - true) % form == 0
                    phase += (best - true) % 4 == 0
                    agree += sum(chord(s, b1, form, k) == chord(s, b1, form, k + true - best)
                                 for k in range(AGREE_BEATS)) / AGREE_BEATS
                result[f"{split}, {phrases} phrase(s), {arm}"] = {
                    "solos": len(solos), "bar_one_found": round(hit / len(solos), 3),
                    "place_in_bar_found": round(phase / len(solos), 3),
                    "chords_right_next_64_beats": round(agree / len(solos), 3)}
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
