"""Over a chart, does improv's count of bars stay on the player's? WJazzD solos played as
recorded into the following timeline, with the tempo said.

A free jam over a chart (`--chords`, `--tune`) follows the player, and their first note is
bar 1: the chart's bars are only the player's if the count stays on their bars. For each
solo, up to `PER_SOLO` stretches of `BARS` bars starting on a bar line the soloist plays a
note on (within 0.15 beat) are played, note by note as recorded, into a `FollowingTimeline`
and a `PlayerHearing` exactly as the session drives them (bar 1 on the first note, the bars
counted again when the session may), with `--tempo` the soloist's local tempo times
`said` (1: said right; 0.95 and 1.05: said 5 % off; 0.8: a quarter off). At every bar line
of the soloist's beat track the count is read: the timeline's beat there less the beats
the soloist has played since bar 1. A stretch is **off** when the count is half a beat or
more off at its last bar line, or a beat or more off anywhere in its second half.

Each case is run twice: with the level kept (`keep_level`, the engine's behaviour over a
chart) and without (the follower's level followed as heard, octaves too: the engine before it).

    python3 -m improv.bench.chartcount [DATA] [--split valid] [--json OUT]
"""

from __future__ import annotations

import argparse
import random
import sys
from statistics import median

import mido

from improv.bench.follow import DEFAULT_DATA, SPLIT_NAMES, json_writable_or_say, solos_or_say, write_json
from improv.bench.human import HumanPhrase, HumanSolo
from improv.bench.parts import engine
from improv.live.follow import FOLLOW_BPM, FollowingTimeline, PlayerHearing

BARS = 16
PER_SOLO = 2
SAID = (1.0, 0.95, 1.05, 0.8)
BANDS = {"slow": (0.0, 120.0), "medium": (120.0, 200.0), "fast": (200.0, 1000.0)}


def stretches(solos: list[HumanSolo], seed: int = 3, bars: int = BARS) -> list[tuple[HumanSolo, int]]:
    """(solo, the beat of a bar line it starts on): up to `PER_SOLO` a solo, seeded."""
    rng = random.Random(seed)
    out = []
    for solo in solos:
        tr = solo.track
        onsets = sorted(n.onset for p in solo.phrases for n in p.notes)
        first = int(tr.beats[0]) - int(tr.beats[0]) % 4 + 4
        starts = [b for b in range(first, int(tr.beats[-1]) - 4 * (bars + 1), 4)
                  if any(abs(o - tr.time_of(b)) < 0.15 * tr.period_at(tr.time_of(b)) for o in onsets)]
        out += [(solo, b) for b in rng.sample(starts, min(PER_SOLO, len(starts)))]
    return out


def _events(solo: HumanSolo, bar: int, bars: int) -> list[tuple[float, list[int]]]:
    """The stretch's note-ons and note-offs (seconds, bytes), as `HumanPhrase.events` plays them."""
    tr = solo.track
    per = tr.period_at(tr.time_of(bar))
    lo, hi = tr.time_of(bar) - 0.2 * per, tr.time_of(bar + 4 * bars) - 0.2 * per
    notes = tuple(sorted(solo.notes_between(lo, hi), key=lambda n: (n.onset, n.pitch)))
    if not notes:
        return []
    return [(e.time, [0x90, e.pitch, max(1, min(127, e.velocity))] if e.kind == "on" else [0x80, e.pitch, 0])
            for e in HumanPhrase(solo.name, notes, tr).events()]


def count_errors(solo: HumanSolo, bar: int, said: float, keep: bool, bars: int = BARS) -> tuple[float, list[float]]:
    """(the soloist's tempo there, the count's error at each bar line after bar 1, in beats)."""
    tr = solo.track
    tempo = 60.0 / tr.period_at(tr.time_of(bar), span=2 * bars)
    guess = min(FOLLOW_BPM[1], max(FOLLOW_BPM[0], tempo * said))
    tl = FollowingTimeline(0.0, guess, 1.0, guess, keep_level=keep, keep_octaves=keep)
    hearing = PlayerHearing(tl, True, lambda t: None, lambda bpm, t: None, lambda: True, lambda moved, t: None)
    ev = _events(solo, bar, bars)
    if len(ev) < 16:
        return tempo, []
    origin = tr.beat_at(ev[0][0])
    errors, nxt = [], 1
    for t, data in ev:
        while nxt <= bars and tr.time_of(bar + 4 * nxt) <= t:
            line = tr.time_of(bar + 4 * nxt)
            errors.append(tl.beat_at(line) - (bar + 4 * nxt - origin))
            nxt += 1
        hearing.hear(mido.Message.from_bytes(data), t)
    return tempo, errors


def is_off(errors: list[float]) -> bool:
    return abs(errors[-1]) >= 0.5 or max(abs(e) for e in errors[len(errors) // 2:]) >= 1.0


def bench_chart_count(solos: list[HumanSolo], split: str = "valid", said: tuple[float, ...] = SAID) -> dict:
    """Per tempo said (a factor of the soloist's) and per engine (level kept or not): the
    share of stretches off, by tempo band, and the median count error at the last bar line."""
    cases = stretches(solos)
    out: dict = {"split": split, "bars": BARS, "stretches": 0, "results": []}
    for factor in said:
        for keep in (True, False):
            off = {k: [0, 0] for k in BANDS}
            last = []
            for solo, bar in cases:
                tempo, errors = count_errors(solo, bar, factor, keep)
                if len(errors) < 4 or not FOLLOW_BPM[0] <= tempo <= FOLLOW_BPM[1]:
                    continue
                band = next(k for k, (lo, hi) in BANDS.items() if lo <= tempo < hi)
                off[band][0] += 1
                off[band][1] += is_off(errors)
                last.append(abs(errors[-1]))
            n = sum(v[0] for v in off.values())
            out["stretches"] = n
            out["results"].append({"said": factor, "level_kept": keep, "stretches": n,
                                   "off": sum(v[1] for v in off.values()) / max(1, n),
                                   "off_by_band": {k: {"stretches": v[0], "off": v[1]} for k, v in off.items()},
                                   "last_error_median_beats": median(last) if last else None})
    return out


def format_chart_count(result: dict) -> list[str]:
    lines = [f"over a chart, the tempo said: {result['stretches']} stretches of {result['bars']} bars of "
             f"{SPLIT_NAMES[result['split']]} solos as recorded; count off (half a beat at the end, or a beat "
             "in the second half)"]
    by = {(r["said"], r["level_kept"]): r for r in result["results"]}
    for factor in sorted({r["said"] for r in result["results"]}, key=lambda f: abs(f - 1.0)):
        kept, heard = by[(factor, True)], by[(factor, False)]
        lines.append(f"  said x{factor:g}: {100 * kept['off']:.1f} % with the level kept "
                     f"({100 * heard['off']:.1f} % followed as heard); median count error at the end "
                     f"{kept['last_error_median_beats']:.2f} beat ({heard['last_error_median_beats']:.2f})")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="over a chart, the count of bars against WJazzD solos as recorded")
    ap.add_argument("data", nargs="?", default=str(DEFAULT_DATA), help=f"wjazzd-solos.tar.gz (default {DEFAULT_DATA})")
    ap.add_argument("--split", choices=("valid", "train"), default="valid",
                    help="the solos to play (default valid; tune on train)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    if not json_writable_or_say("improv.bench.chartcount", args.json):
        return 2
    solos = solos_or_say("improv.bench.chartcount", args.data, args.split)
    if solos is None:
        return 2
    result = bench_chart_count(solos, args.split)
    if not result["stretches"]:  # (every figure would be 0.0 % of nothing; the median error None: a traceback)
        print(f"improv.bench.chartcount: {args.data} has no stretch of {BARS} bars at {FOLLOW_BPM[0]:g}-"
              f"{FOLLOW_BPM[1]:g} bpm in its {SPLIT_NAMES[args.split]} solos to count: give the full "
              "wjazzd-solos.tar.gz", file=sys.stderr)
        return 2
    result["engine"] = engine()
    print("\n".join(format_chart_count(result)))
    return 0 if write_json(args.json, result, "improv.bench.chartcount") else 2


if __name__ == "__main__":
    sys.exit(main())
