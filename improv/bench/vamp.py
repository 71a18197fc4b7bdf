"""How the segmenter hears a left hand's vamp under the validation solos' lines.

Every WJazzD validation solo's line (`--split train`: the training split's, to tune on; its
phrases as performed, in the soloist's beats, moved by octaves to a pianist's right hand:
median pitch in [68, 80)) is played over synthetic
left-hand comping of several styles (`STYLES`), voiced from the solo's chart (shell
voicings, tops at or under D4), its timing and key order humanised (seeded), and fed to a
fresh `Segmenter` (`vamp = "line"`, the default settings' gap of one beat) with a tick every
`TICK` beats. Against the line's own rests (a gap of the gap setting or more between a
release and the next onset, the solo's end included) it counts:

- **caught**: rests that end a call at the line's last release (within `TOL` beats),
  noticed within `LATE` beats of the gap being full; **late**: ended there but noticed
  later (at the next strike, say); **missed**: no call ended there.
- **wrong_cuts**: calls cut where the line did not rest (the line went on within the
  gap), and **notes_split**: the line's notes sounding across a cut.
- **line_as_acc** / **acc_as_line**: at each key's strike, `Segmenter.accompanies` said
  a line note was under the line (the partner would not yield to it) / a comping key was
  not (the partner would yield to the left hand); **dips_as_acc**: of the line notes at or
  under the comping's top, those read as under the line.

With no comping ("none") every solo must be cut exactly as with `vamp = "all"`
(`none_differs`: the solos that are not). `--cost` times the segmenter's key events over
3,000 events of line and comping (median and p99, ms).

    python -m improv.bench.vamp DATA [--seed 0] [--split valid] [--styles whole,charleston] [--json figures/vamp.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from improv.core.formats.wjazzd import Solo, load_solos
from improv.core.listen.segment import Segmenter, SegmentSettings
from improv.core.theory.voicings import next_voicing
from improv.errors import DataError

GAP = 1.0  # beats: the default settings' gap
TICK = 0.05  # beats between the segmenter's ticks (the conductor ticks every few ms)
TOL = 0.05  # beats: a cut this close to the line's last release is at the right place
LATE = 0.25  # beats: noticed this long after the gap was full is late
TOP = 62  # the comping's highest top (D4)
# style -> the strikes of one bar: (beat in the bar, length in beats); "ostinato" is a bass line
STYLES: dict[str, tuple[tuple[float, float], ...]] = {
    "none": (),
    "every_beat": tuple((float(b), 0.5) for b in range(4)),
    "on_2_and_4": ((1.0, 0.5), (3.0, 0.5)),
    "charleston": ((0.0, 1.4), (1.5, 0.4)),
    "whole": ((0.0, 3.9),),  # held whole notes, lifted just before the next bar's
    "half_legato": ((0.0, 2.08), (2.0, 2.08)),  # held half notes, the next struck before the last lifts
    "ostinato": tuple((float(b), 0.8) for b in range(4)),  # root and fifth, C2-B2, one note a beat
}


@dataclass(frozen=True)
class Key:
    """One key played: (onset, pitch, end) in beats, and which hand."""

    start: float
    pitch: int
    end: float
    line: bool


def the_line(solo: Solo) -> list[Key]:
    """The solo's line as performed, in its own beats, moved by octaves to a right hand."""
    notes = sorted((p.start + n.start, n.pitch, p.start + n.end) for p in solo.played for n in p.notes)
    pitches = sorted(n[1] for n in notes)
    med = pitches[len(pitches) // 2]
    shift = 12 * ((68 - med + 11) // 12) if med < 68 else -12 * ((med - 68) // 12)
    return [Key(s, p + shift, max(e, s + 0.02), True) for s, p, e in notes]


def comping(solo: Solo, style: str, first: float, last: float, rng: random.Random) -> list[Key]:
    """The left hand's `style` from the bar of `first` to two bars past `last` (beats)."""
    keys: list[Key] = []
    prev = None
    for bar in range(int(first // 4), int(last // 4) + 3):
        for at, length in STYLES[style]:
            beat = bar * 4 + at
            chord = solo.chart.chord_at(beat)
            if chord is None:
                continue
            if style == "ostinato":
                pitches: tuple[int, ...] = (36 + (chord.root + (7 if int(at) % 2 else 0)) % 12,)
            else:
                prev = next_voicing(chord, prev, "shell")
                while max(prev) > TOP:
                    prev = tuple(p - 12 for p in prev)
                pitches = prev
            on = beat + rng.gauss(0.0, 0.02)
            order = list(pitches)
            rng.shuffle(order)  # a chord's keys reach the port in any order, a few ms apart
            for k, p in enumerate(order):
                keys.append(Key(on + 0.004 * k, p, on + length * rng.uniform(0.97, 1.0), False))
    return keys


def one_key_each(keys: list[Key]) -> list[Key]:
    """A key cannot go down twice: each note ends before the next on its key, and a comping
    key on a line note's key (the right hand has it) is left out."""
    line_at: dict[int, list[Key]] = {}
    for k in keys:
        if k.line:
            line_at.setdefault(k.pitch, []).append(k)
    kept = [k for k in keys if k.line or not any(n.start < k.end and k.start < n.end for n in line_at.get(k.pitch, ()))]
    kept.sort(key=lambda k: (k.start, k.pitch))
    out: list[Key] = []
    nxt: dict[int, float] = {}
    for k in reversed(kept):
        end = min(k.end, nxt.get(k.pitch, k.end + 1) - 0.01)
        if end > k.start + 0.005:
            out.append(Key(k.start, k.pitch, end, k.line))
            nxt[k.pitch] = k.start
    return out[::-1]


def rests(line: list[Key], gap: float) -> list[tuple[float, float]]:
    """The line's rests of `gap` or more: (its last release, its next onset or inf)."""
    out, end = [], -1e9
    for a, b in zip(line, line[1:] + [None]):
        end = max(end, a.end)
        nxt = b.start if b is not None else float("inf")
        if nxt - end >= gap - 1e-9:
            out.append((end, nxt))
    return out


def play(keys: list[Key], settings: SegmentSettings, top: int = TOP) -> tuple[list, dict[str, int]]:
    """Feed the keys to a fresh segmenter; (the calls, the `accompanies` counts)."""
    seg = Segmenter(settings)
    events = [(k.start, 2, k) for k in keys] + [(k.end, 0, k) for k in keys]
    last = max((k.end for k in keys), default=0.0) + 3 * settings.gap_beats
    events += [(q * TICK, 1, None) for q in range(int(last / TICK) + 1)]
    events.sort(key=lambda e: (e[0], e[1]))
    calls, acc = [], {"line_as_acc": 0, "acc_as_line": 0, "dips": 0, "dips_as_acc": 0}
    for beat, kind, k in events:
        if k is None:
            c = seg.tick(beat)
        elif kind == 0:
            c = seg.note_off(k.pitch, beat)
        else:
            c = seg.note_on(k.pitch, beat, 80)
            under = seg.accompanies(k.pitch)
            if k.line:
                acc["line_as_acc"] += under
                if k.pitch <= top:
                    acc["dips"] += 1
                    acc["dips_as_acc"] += under
            else:
                acc["acc_as_line"] += not under
        if c is not None:
            calls.append(c)
    return calls, acc


def judge(line: list[Key], calls: list, gap: float) -> dict[str, int]:
    """The calls against the line's rests (see the module's docstring)."""
    out = {"rests": 0, "caught": 0, "late": 0, "missed": 0, "wrong_cuts": 0, "notes_split": 0, "max_cuts": 0}
    ends = [c.ended for c in calls]
    for e, _ in rests(line, gap):
        out["rests"] += 1
        near = [c for c in calls if abs(c.ended - e) <= TOL]
        if not near:
            out["missed"] += 1
        elif min(c.detected for c in near) <= e + gap + LATE:
            out["caught"] += 1
        else:
            out["late"] += 1
    for c in calls:
        out["max_cuts"] += c.reason == "max"
        if c.reason != "max" and any(c.ended - TOL < k.start < c.ended + gap - 1e-6 for k in line):
            out["wrong_cuts"] += 1
    out["notes_split"] = sum(1 for k in line for e in ends if k.start < e - 1e-6 and k.end > e + 1e-6)
    return out


def run(solos: list[Solo], styles: list[str], seed: int) -> dict:
    """The figures per style, summed over the solos."""
    res: dict = {}
    for style in styles:
        tot: dict[str, int] = {}
        differs = 0
        for i, solo in enumerate(solos):
            line = the_line(solo)
            if len(line) < 2:
                continue
            rng = random.Random(seed * 1000 + i)
            keys = one_key_each(line + comping(solo, style, line[0].start, line[-1].end, rng))
            calls, acc = play(keys, SegmentSettings(gap_beats=GAP))
            for d in (judge([k for k in keys if k.line], calls, GAP), acc):
                for k, v in d.items():
                    tot[k] = tot.get(k, 0) + v
            if style == "none":
                alone, _ = play(keys, SegmentSettings(gap_beats=GAP, vamp="all"))
                differs += [(c.reason, c.ended, c.detected, len(c.phrase)) for c in calls] \
                    != [(c.reason, c.ended, c.detected, len(c.phrase)) for c in alone]
        if style == "none":
            tot["none_differs"] = differs
        tot["caught_pct"] = round(100.0 * tot["caught"] / max(tot["rests"], 1), 1)
        res[style] = tot
    return res


def cost(events: int = 3000, seed: int = 0) -> dict[str, float]:
    """The segmenter's time per key event (ms): a line over every-beat comping, `events` of them."""
    rng = random.Random(seed)
    keys: list[Key] = []
    beat = 0.0
    while len(keys) * 2 < events:
        bar = int(beat // 4)
        keys += [Key(bar * 4 + b, p, bar * 4 + b + 0.5, False) for b in range(4) for p in (48, 53, 57, 60)]
        keys += [Key(bar * 4 + 0.5 * k, rng.choice((67, 69, 71, 72, 74, 76)), bar * 4 + 0.5 * k + 0.4, True)
                 for k in range(8) if bar % 2 == 0]
        beat += 4
    keys = one_key_each(keys)
    ev = sorted([(k.start, 1, k.pitch) for k in keys] + [(k.end, 0, k.pitch) for k in keys])[:events]
    seg = Segmenter(SegmentSettings(gap_beats=GAP))
    times = []
    for b, on, p in ev:
        t = time.perf_counter()
        if on:
            seg.note_on(p, b, 80)
            seg.accompanies(p)
        else:
            seg.note_off(p, b)
        times.append((time.perf_counter() - t) * 1e3)
        seg.tick(b)
    times.sort()
    return {"events": len(times), "median_ms": round(median(times), 4), "p99_ms": round(times[int(0.99 * (len(times) - 1))], 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m improv.bench.vamp", description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="wjazzd-solos.tar.gz or its unpacked folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="valid", choices=("train", "valid"),
                    help="the solos played (valid; train to tune on: the test split is never read)")
    ap.add_argument("--styles", default=",".join(STYLES), help=f"comma-separated, of {', '.join(STYLES)}")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--cost", action="store_true", help="time the key events too")
    a = ap.parse_args(argv)
    styles = [s for s in a.styles.split(",") if s]
    bad = [s for s in styles if s not in STYLES]
    if bad:
        print(f"unknown style {bad[0]!r}: give some of {', '.join(STYLES)}", file=sys.stderr)
        return 2
    try:
        solos = [s for s in load_solos(a.data) if s.split == a.split]
    except DataError as e:
        print(e, file=sys.stderr)
        return 2
    out = {"split": a.split, "solos": len(solos), "gap_beats": GAP, "seed": a.seed, "styles": run(solos, styles, a.seed)}
    if a.cost:
        out["cost"] = cost(seed=a.seed)
    text = json.dumps(out, indent=1)
    print(text)
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
