"""How well the tempo follower hears WJazzD validation solos played as recorded (no tempo given).

Three measures, each over several runs (seeds) reported as the median and the spread:

- **calls**: every validation solo is played from a seeded starting phrase for up to
  `bars` bars, phrase after phrase with its rests as recorded, into a fresh follower. At
  every call (a phrase of `MIN_NOTES` notes or more) the estimate taken when the call would
  be noticed (its last release plus one of the soloist's beats, or the next onset if that
  is sooner) is judged against the solo's beat track:
  tempo: within 3 % of the soloist's local tempo (the median beat period over the call and
  four beats either side) or of exactly half or double it;
  beat: the distance between the follower's grid and the annotated beats of the call's
  last bar, in the soloist's beats, measured on the coarser of the two grids (a grid in two
  must land on the soloist's beats; a double-time grid must have a beat on each of theirs);
  the median over that bar's beats must be within 0.1 beat (the largest is reported too).
  The first call of every solo (a fresh follower) is counted apart.
- **drift**: a solo played steadily for 8 bars, then bent smoothly by +5 % or -5 % over 16
  bars (`improv.bench.human.drifted`); the estimate after the 16 bars must be within 3 % of
  the bent local tempo (or half or double it).
- **cost**: the follower's time per onset and per estimate (in process).

Oracle figures give the ceiling the beat track allows: the soloist's own on-beat notes (as
transcribed) with the true tempo do no better than `oracle_beat` against the same track.

    python3 -m improv.bench.follow [DATA] [--seeds 5] [--json OUT]

(`improv bench` runs it as one of its sections when the data is there.)
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from statistics import median
from typing import Callable, Iterable

from improv.bench.human import BeatTrack, HumanSolo, drifted, load_human
from improv.bench.parts import engine
from improv.core.listen.tempo import BeatEstimate, TempoFollower, TempoSettings
from improv.errors import DataError

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wjazzd-solos.tar.gz"
MIN_NOTES = 6
TEMPO_TOL = 0.03
BEAT_TOL = 0.1
TARGET_SHARE = 0.90
SPLIT_NAMES = {"valid": "validation", "train": "training"}
LEVELS = (0.25, 1 / 3, 0.5, 2 / 3, 1.0, 1.5, 2.0, 3.0, 4.0)
# the soloist's tempo bands each figure is also given for (bpm, from..below): where the misses lie
TEMPO_BANDS = (("under 90", 0.0, 90.0), ("90-150", 90.0, 150.0), ("150-220", 150.0, 220.0), ("220 and over", 220.0, math.inf))


def band_of(bpm: float) -> str:
    """The name of the `TEMPO_BANDS` band a tempo (bpm) lies in."""
    return next(name for name, lo, hi in TEMPO_BANDS if lo <= bpm < hi)


def reference_period(track: BeatTrack, start: float, end: float) -> float:
    """The soloist's local beat period (seconds): the median over [start, end] and four beats either side."""
    p0 = track.period_at(end, 2)
    t = track.times
    ibis = [(t[i + 1] - t[i]) / (track.beats[i + 1] - track.beats[i]) for i in range(len(t) - 1)
            if start - 4 * p0 <= t[i] and t[i + 1] <= end + 4 * p0]
    return median(ibis) if len(ibis) >= 2 else p0


def tempo_ratio_ok(ratio: float) -> bool:
    """Within `TEMPO_TOL` of the soloist's tempo, or of exactly half or double it."""
    return min(abs(ratio - 1), abs(ratio / 2 - 1), abs(ratio * 2 - 1)) <= TEMPO_TOL


def level(ratio: float) -> float:
    """The metrical level a tempo ratio is nearest to (1 = the soloist's, 2 = double time...)."""
    return min(LEVELS, key=lambda x: abs(ratio / x - 1))


def beat_errors(est: BeatEstimate, track: BeatTrack, start: float, end: float, period: float) -> list[float]:
    """Distances (in the soloist's beats) between the estimate's grid and the beat track over
    [start, end], each beat of the coarser grid to the nearest beat of the finer one."""
    coarser_is_follower = est.period_s > 1.4 * period
    if coarser_is_follower:
        k0 = math.floor(est.beats_since(start - 0.25 * period))
        k1 = math.ceil(est.beats_since(end + 0.25 * period))
        lo, hi = start - 0.25 * period, end + 0.25 * period
        points = [est.time_of(k) for k in range(k0, k1 + 1) if lo <= est.time_of(k) <= hi]
        return [min(abs(p - b) for b in track.times) / period for p in points]
    out = []
    for b in track.beats_between(start, end):
        k = round(est.beats_since(b))
        out.append(abs(est.time_of(k) - b) / period)
    return out


def judge(est: BeatEstimate, track: BeatTrack, start: float, end: float) -> dict:
    """The tempo ratio, level and beat errors of one estimate for a call played [start, end]."""
    period = reference_period(track, start, end)
    ratio = est.bpm * period / 60.0
    errs = beat_errors(est, track, max(start, end - 4 * period), end, period)
    med = median(errs) if errs else math.inf
    return {"bpm": 60.0 / period, "ratio": ratio, "level": level(ratio), "tempo_ok": tempo_ratio_ok(ratio),
            "beat_median": med, "beat_max": max(errs) if errs else math.inf,
            "beat_ok": med <= BEAT_TOL, "confidence": est.confidence}


def _calls(solo: HumanSolo, first: int, bars: int) -> list:
    """The phrases to play: from phrase `first` for `bars` bars of the solo's beats."""
    phrases = list(solo.phrases[first:])
    if not phrases:
        return []
    b0 = solo.track.beat_at(phrases[0].start)
    return [p for p in phrases if solo.track.beat_at(p.end) - b0 <= 4 * bars]


class _Player:
    """Plays notes into a follower as the session would: each onset at its note-on, its
    length at its note-off (`TempoFollower.add` twice), and drum pads' `hits` (seconds,
    `TempoFollower.hit`), in time order."""

    def __init__(self, follower: TempoFollower, notes: Iterable, hits: Iterable[float] = ()) -> None:
        self.f = follower
        events = [(n.onset, 1, n) for n in notes] + [(n.end, 0, n) for n in notes] + [(t, 2, t) for t in hits]
        self.events = sorted(events, key=lambda e: (e[0], e[1]))
        self.i = 0

    def until(self, t: float) -> None:
        while self.i < len(self.events) and self.events[self.i][0] <= t:
            _, kind, n = self.events[self.i]
            if kind == 2:
                self.f.hit(n)
            else:
                self.f.add(n.onset, n.velocity, None if kind else n.duration, n.pitch)
            self.i += 1


def play_solo(solo: HumanSolo, phrases: list, settings: TempoSettings | None = None,
              follower: TempoFollower | None = None, hits: Iterable[float] = (), keys: bool = True) -> list[dict]:
    """Play the phrases' notes in time order (`keys`: False plays none, the calls still
    judged where they were) with drum pads' `hits` (seconds) beside them; judge the
    estimate at every call."""
    f = follower or TempoFollower(settings)
    player = _Player(f, [n for p in phrases for n in p.notes] if keys else [], hits)
    out = []
    for j, p in enumerate(phrases):
        nxt = phrases[j + 1].start if j + 1 < len(phrases) else math.inf
        noticed = min(p.end + solo.track.period_at(p.end, 2), nxt - 1e-6)
        player.until(noticed)
        if len(p.notes) < MIN_NOTES:
            continue
        r = judge(f.estimate(noticed), solo.track, p.start, p.end)
        r.update(solo=solo.name, first=not out)
        out.append(r)
    return out


def run_calls(solos: list[HumanSolo], seed: int, bars: int = 48, settings: TempoSettings | None = None) -> list[dict]:
    """Every solo from a seeded starting phrase (in its first half), `bars` bars each."""
    rng = random.Random(seed)
    out = []
    for solo in solos:
        first = rng.randrange(max(1, len(solo.phrases) // 2))
        out += play_solo(solo, _calls(solo, first, bars), settings)
    return out


def run_drift(solos: list[HumanSolo], seed: int, factor: float, steady_bars: int = 8, drift_bars: int = 16,
              settings: TempoSettings | None = None) -> list[dict]:
    """For each solo long enough: `steady_bars` as played, then a bend to `factor` over
    `drift_bars` (factor 1: the control, as played). Judged when the last call that ends
    within the stretch is noticed (its release plus a beat), against the median beat
    period of the bent track over the two bars before."""
    rng = random.Random(seed)
    out = []
    for solo in solos:
        last_beat = solo.track.beats[-1]
        starts = [i for i, p in enumerate(solo.phrases)
                  if solo.track.beat_at(p.start) + 4 * (steady_bars + drift_bars) <= last_beat]
        if not starts:
            continue
        first = solo.phrases[rng.choice(starts[: max(1, len(starts) // 2)])]
        b0 = solo.track.beat_at(first.start)
        bent = drifted(solo, solo.track.time_of(b0 + 4 * steady_bars), 4.0 * drift_bars, factor)
        t0, end = bent.track.time_of(b0), bent.track.time_of(b0 + 4 * (steady_bars + drift_bars))
        calls = [p for p in bent.phrases if p.start >= t0 and p.end <= end]
        if not calls:
            continue
        noticed = calls[-1].end + bent.track.period_at(calls[-1].end, 2)
        f = TempoFollower(settings)
        _Player(f, [n for p in bent.phrases for n in p.notes if n.onset >= t0]).until(noticed)
        est = f.estimate(noticed)
        period = reference_period(bent.track, calls[-1].end - 4 * bent.track.period_at(calls[-1].end, 2), calls[-1].end)
        ratio = est.bpm * period / 60.0
        out.append({"solo": solo.name, "ratio": ratio, "tempo_ok": tempo_ratio_ok(ratio), "level": level(ratio)})
    return out


def oracle_rows(solos: list[HumanSolo], seed: int, bars: int = 48) -> list[tuple[float, bool]]:
    """The ceiling the beat track allows, per call: (the soloist's tempo, whether its last bar
    is placed within `BEAT_TOL` (median over the bar, as `judge` does) by a grid that knows the
    soloist's tempo and which of their notes are on the beat (as transcribed), fitted to those
    notes' onsets, with their median lag behind the track removed)."""
    rng = random.Random(seed)
    rows: list[tuple[float, list[float]]] = []
    for solo in solos:
        first = rng.randrange(max(1, len(solo.phrases) // 2))
        for p in _calls(solo, first, bars):
            on = [n for n in p.notes if abs(n.beat - round(n.beat)) < 1e-6]
            if len(p.notes) < MIN_NOTES or not on:
                continue
            period = reference_period(solo.track, p.start, p.end)
            anchor = median(n.onset - n.beat * period for n in on)
            beats = solo.track.beats_between(max(p.start, p.end - 4 * period), p.end)
            if beats:
                rows.append((60.0 / period, [((b - anchor) / period + 0.5) % 1.0 - 0.5 for b in beats]))
    if not rows:
        return []
    lag = median(e for _, r in rows for e in r)
    return [(bpm, median(abs(((e - lag) + 0.5) % 1.0 - 0.5) for e in r) <= BEAT_TOL) for bpm, r in rows]


def oracle_beat(solos: list[HumanSolo], seed: int, bars: int = 48) -> float:
    """The share of calls `oracle_rows` places within `BEAT_TOL`: the ceiling the beat track allows."""
    rows = oracle_rows(solos, seed, bars)
    return sum(ok for _, ok in rows) / len(rows) if rows else 0.0


def by_tempo(calls: list[dict], oracle: list[tuple[float, bool]]) -> dict:
    """Per `TEMPO_BANDS` band: its calls, the share right (tempo and beat), tempo alone, and the
    oracle's share of the band (see `oracle_rows`)."""
    out = {}
    for name, _, _ in TEMPO_BANDS:
        mine = [r for r in calls if band_of(r["bpm"]) == name]
        theirs = [ok for bpm, ok in oracle if band_of(bpm) == name]
        out[name] = {"calls": len(mine), "tempo_and_beat": share(mine, "ok"), "tempo": share(mine, "tempo_ok"),
                     "oracle_beat": sum(theirs) / len(theirs) if theirs else 0.0}
    return out


def time_follower(notes: Iterable[tuple], clock: Callable[[], float] = time.perf_counter,
                  settings: TempoSettings | None = None) -> dict:
    """Seconds per `add` and per `estimate` over a stream of (onset_s, velocity), and per
    release where a note is (onset_s, velocity, duration_s, pitch): the live path hears every
    note twice, at its note-on (`add` then `estimate`) and at its note-off (`add` with its
    length), and the note-off's weighing costs about half what the onset's does.

    Returns:
        `add_ms`, `estimate_ms` and `release_ms` (n = 0 when no note has a length), each the
        bench's summary in ms."""
    f = TempoFollower(settings)
    adds, ests, rels = [], [], []
    for note in notes:
        t, v = note[0], note[1]
        pitch = note[3] if len(note) > 3 else None
        a = clock()
        f.add(t, v, pitch=pitch)
        b = clock()
        f.estimate(t)
        c = clock()
        adds.append(b - a)
        ests.append(c - b)
        if len(note) > 2:
            d = clock()
            f.add(t, v, note[2])
            rels.append(clock() - d)
    return {"add_ms": _stats(adds), "estimate_ms": _stats(ests), "release_ms": _stats(rels)}


def _stats(xs: list[float]) -> dict:
    """The bench's summary of some durations (seconds) in ms: the median (of an even count, the
    mean of the two middle ones), the p99 by nearest rank, the max (`improv.bench.parts.summary`)."""
    from improv.bench.parts import summary

    return summary([1000.0 * x for x in xs])


def share(rows: list[dict], key: str, where: Callable[[dict], bool] = lambda r: True) -> float:
    sel = [r for r in rows if where(r)]
    return sum(bool(r[key]) for r in sel) / len(sel) if sel else 0.0


def bench_follow(solos: list[HumanSolo], seeds: Iterable[int] = range(5), bars: int = 48,
                 settings: TempoSettings | None = None, split: str = "valid") -> dict:
    """Every measure over `seeds`; per measure the per-seed figures, their median and spread
    (`settings`: the follower's, default its own; `split`: the solos' split, as reported)."""
    runs = []
    for seed in seeds:
        calls = run_calls(solos, seed, bars, settings)
        for r in calls:
            r["ok"] = r["tempo_ok"] and r["beat_ok"]
        up = run_drift(solos, seed, 1.05, settings=settings)
        down = run_drift(solos, seed, 1 / 1.05, settings=settings)
        steady = run_drift(solos, seed, 1.0, settings=settings)
        levels: dict[str, int] = {}
        for r in calls:
            levels[f"{r['level']:.2g}"] = levels.get(f"{r['level']:.2g}", 0) + 1
        # the level heard changing from one call to the next within a solo (1 -> 2 -> 1: the answers
        # jump between the player's time and double time, which the tempo share counts as right)
        pairs = [(a, b) for a, b in zip(calls, calls[1:]) if not b["first"]]
        oracle = oracle_rows(solos, seed, bars)
        runs.append({
            "seed": seed, "calls": len(calls),
            "tempo_and_beat": share(calls, "ok"), "tempo": share(calls, "tempo_ok"), "beat": share(calls, "beat_ok"),
            "beat_max_within": sum(r["beat_max"] <= BEAT_TOL for r in calls) / max(1, len(calls)),
            "first_call": share(calls, "ok", lambda r: r["first"]),
            "later_calls": share(calls, "ok", lambda r: not r["first"]),
            "confident_share": share(calls, "ok", lambda r: r["confidence"] >= 0.5),
            "confident_calls": sum(r["confidence"] >= 0.5 for r in calls),
            "levels": dict(sorted(levels.items(), key=lambda kv: float(kv[0]))),
            "level_changes": sum(a["level"] != b["level"] for a, b in pairs) / max(1, len(pairs)),
            "drift_up": share(up, "tempo_ok"), "drift_down": share(down, "tempo_ok"), "drift_cases": len(up),
            "drift_control": share(steady, "tempo_ok"),
            "oracle_beat": sum(ok for _, ok in oracle) / len(oracle) if oracle else 0.0,
            "by_tempo": by_tempo(calls, oracle),
        })
    out: dict = {"runs": runs, "solos": len(solos), "bars": bars, "split": split}
    for key in ("tempo_and_beat", "tempo", "beat", "beat_max_within", "first_call", "later_calls",
                "confident_share", "level_changes", "drift_up", "drift_down", "drift_control", "oracle_beat"):
        vals = [r[key] for r in runs]
        out[key] = {"median": median(vals), "min": min(vals), "max": max(vals)}
    out["by_tempo"] = {name: {key: median(r["by_tempo"][name][key] for r in runs)
                              for key in ("calls", "tempo_and_beat", "tempo", "oracle_beat")}
                       for name, _, _ in TEMPO_BANDS} if runs else {}
    out["targets"] = {"tempo_and_beat": out["tempo_and_beat"]["median"] >= TARGET_SHARE,
                      "drift": min(out["drift_up"]["median"], out["drift_down"]["median"]) >= TARGET_SHARE}
    notes = [(n.onset, n.velocity, n.duration, n.pitch) for s in solos[:4] for p in s.phrases for n in p.notes][:3000]
    notes.sort()
    out["cost"] = time_follower(notes, settings=settings)
    return out


def format_follow(result: dict) -> list[str]:
    """The figures as lines, each with its target."""
    def f(key: str) -> str:
        r = result[key]
        return f"{100 * r['median']:.1f} % (runs {100 * r['min']:.1f}-{100 * r['max']:.1f})"

    ok = lambda b: "meets target" if b else "MISSES target"  # noqa: E731
    n = result["runs"][0]["calls"] if result["runs"] else 0
    c = result["cost"]
    r = c.get("release_ms", {"n": 0})
    rel = f"; per release (its length weighed): median {r['median']:.3f} ms, p99 {r['p99']:.3f} ms" if r["n"] else ""
    return [
        f"tempo follower: {result['solos']} {SPLIT_NAMES[result.get('split', 'valid')]} solos as recorded, no tempo "
        f"given, {len(result['runs'])} runs "
        f"(~{n} calls each)",
        f"  tempo within 3 % (or half/double) and beat within 0.1 beat: {f('tempo_and_beat')}  "
        f"(target >= 90 %) {ok(result['targets']['tempo_and_beat'])}",
        f"  tempo alone {f('tempo')}; beat alone {f('beat')} "
        f"(largest error of the bar within 0.1: {f('beat_max_within')}; "
        f"the soloists' own on-beat notes reach {f('oracle_beat')})",
        f"  first call {f('first_call')}; later calls {f('later_calls')}; calls heard with confidence >= 0.5: "
        f"{f('confident_share')}",
        f"  after a 5 % drift over 16 bars: faster {f('drift_up')}, slower {f('drift_down')} within 3 % "
        f"(target >= 90 %) {ok(result['targets']['drift'])}; the same stretches as played: {f('drift_control')}",
        f"  levels heard (1 = the soloist's tempo, 2 = double, 0.5 = in two), first run: {result['runs'][0]['levels']}"
        if result["runs"] else "",
        f"  the level changing from one call to the next: {f('level_changes')} of later calls"
        if "level_changes" in result else "",
        "  by the soloist's tempo (bpm; medians of the runs): " + "; ".join(
            f"{name}: {100 * b['tempo_and_beat']:.1f} % of {b['calls']:g} calls (tempo {100 * b['tempo']:.1f} %, "
            f"on-beat notes {100 * b['oracle_beat']:.1f} %)" for name, b in result["by_tempo"].items())
        if result.get("by_tempo") else "",
        f"  cost per onset: median {c['add_ms']['median']:.3f} ms, p99 {c['add_ms']['p99']:.3f} ms; per estimate: "
        f"median {c['estimate_ms']['median']:.3f} ms{rel} (n={c['add_ms']['n']})" if c["add_ms"]["n"] else "",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="the tempo follower on WJazzD solos played as recorded")
    ap.add_argument("data", nargs="?", default=str(DEFAULT_DATA), help=f"wjazzd-solos.tar.gz (default {DEFAULT_DATA})")
    ap.add_argument("--seeds", type=int, default=5, help="runs, each with its own starting phrases (default 5)")
    ap.add_argument("--bars", type=int, default=48, help="bars played per solo and run (default 48)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    ap.add_argument("--split", choices=("valid", "train"), default="valid",
                    help="the solos to play (default valid; tune the follower on train)")
    args = ap.parse_args(argv)
    for flag, value in (("--seeds", args.seeds), ("--bars", args.bars)):
        if value < 1:  # (--seeds 0 ended in a traceback; --bars 0 played no call and said 0.0 % for every figure)
            print(f"improv.bench.follow: {flag} must be at least 1, got {value}", file=sys.stderr)
            return 2
    if not json_writable_or_say("improv.bench.follow", args.json):
        return 2
    solos = solos_or_say("improv.bench.follow", args.data, args.split)
    if solos is None:
        return 2
    result = bench_follow(solos, range(args.seeds), args.bars, split=args.split)
    result["engine"] = engine()
    print("\n".join(line for line in format_follow(result) if line))
    return 0 if write_json(args.json, result, "improv.bench.follow") else 2


def solos_or_say(prog: str, data: str, split: str) -> list[HumanSolo] | None:
    """The split's solos as recorded, or None after one line on stderr saying what is wrong
    with `data` (a benchmark command's start)."""
    try:
        solos = load_human(data, split)
    except DataError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return None
    if not solos:
        print(f"{prog}: {data} has no {SPLIT_NAMES[split]} solo in 4/4 with a beat track: give the full "
              "wjazzd-solos.tar.gz", file=sys.stderr)
        return None
    return solos


def json_writable_or_say(prog: str, path: str | None) -> bool:
    """Whether `--json path` can be written (None: not asked for), else False after one line
    on stderr: checked before the run, so that minutes of figures are not lost at its end."""
    from improv.core.formats.paths import writable_output
    from improv.errors import ConfigError

    if path:
        try:
            writable_output(path, "--json")
        except ConfigError as e:
            print(f"{prog}: {e}", file=sys.stderr)
            return False
    return True


def write_json(path: str | None, result: dict, prog: str = "improv.bench") -> bool:
    """A benchmark's figures as JSON at `path` (None: not asked for); False after one line on
    stderr when it cannot be written (the figures were printed)."""
    if path:
        try:
            Path(path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            print(f"{prog}: cannot write --json {path}: {e.strerror or e}", file=sys.stderr)
            return False
        print(f"wrote {path}", file=sys.stderr)
    return True


if __name__ == "__main__":
    sys.exit(main())
