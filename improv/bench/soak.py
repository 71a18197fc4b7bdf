"""A long jam as a user gets it, played by validation solos as recorded: does it hold up?

`improv jam` with its defaults (the model partner, embrace, following the player's tempo)
runs for `--minutes` over JACK, played by phrases of WJazzD validation solos with their
onsets in seconds (3-6 phrases of one solo at a time, then a rest of 2-6 s in which the
partner answers). Every 30 s it samples the jam's memory and its partner's; at the end it
stops the jam (SIGTERM) and reports: notes left sounding, tracebacks, what the recording
warned of (a tempo it refused, a write that failed), the answer-ready
times the jam logged (median, p90, p99), each answer not drafted in a rest with the call it
answered (a call cut at its longest has no rest to draft in), answers that were ready after
they were due or sent late, the session summary line, and whether the recording reads back.

With `--trade` it trades instead (`--mode trade --comp --bass` over a tune, at `--tempo`),
and the player keeps improv's time as a soloist keeps a band's: each of the player's turns
plays the next bars of a validation solo, every note placed where the soloist placed it
among their own beats (the solo's beat track: ahead of and behind the beat, their swing),
at the jam's tempo, counted from the count-in's clicks. It then also counts the partner's
notes that fell in the player's turns and the partner's turns left silent.

    JACK_DEFAULT_SERVER=NAME python3 -m improv.bench.soak [DATA] [--minutes 25] [--json OUT]
    JACK_DEFAULT_SERVER=NAME python3 -m improv.bench.soak --trade [--tempo 160] [--tune blues-f]

(Not a section of `improv bench`: it takes as long as it is told to.)
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from improv.bench.follow import DEFAULT_DATA
from improv.bench.human import HumanSolo, PlayedNote, load_human
from improv.bench.parts import json_output_error
from improv.errors import DataError

SAMPLE_S = 30.0
PARTNER_CHANNEL, CLICK_CHANNEL = 2, 10  # the jam's defaults (1-16)
FEEL_S = 0.06  # how far ahead of its turn the model's time feel may place a partner note
TRADE_TEMPO_SPAN = 1.4  # solos within this factor of the trading tempo play its turns
# an answer ready after it was due (exchange.py), and a partner or band note the scheduler sent
# (or dropped) late (scheduler.py: at most two lines a second, each with the count so far)
LATE = re.compile(r"left out|after its first note was due|note [\d.]+ ms late")
# what the recording and its journal say went wrong (improv/live/recorder.py, journal.py): a tempo
# refused, a write that failed or was resumed, records not in the file
RECORDING = re.compile(r"is not recorded|recording (?:had trouble|resumed|lost)|could not be (?:written|read|completed)"
                       r"|journal .* deleted")


def _children_rss_kb(pid: int) -> int:
    """Resident memory (KiB) of the processes whose parent is `pid` (the partner's worker)."""
    total = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int((proc / "stat").read_text().split()[3]) != pid:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def _rank(s: list[float], q: int) -> float:
    """The q-th percentile of sorted `s` by nearest rank, as `parts.summary` takes the p99
    (an index of int(q n / 100) was a rank high where q n / 100 is whole: of 100 answers the
    p99 was the slowest one)."""
    return s[min(len(s) - 1, max(0, -(-q * len(s) // 100) - 1))]


def from_stderr(err: str) -> dict:
    """What the jam said: answer-ready times, answers that came late, the summary, and each
    answer not drafted in a rest with the call it answered (`undrafted`: is it a call cut at
    its longest, played on with no rest to draft in?)."""
    said = re.findall(r"ready in ([\d.]+) ms( \(drafted)?", err)
    ready = sorted(float(x) for x, _ in said)
    undrafted = sorted(float(x) for x, d in said if not d)
    n = len(ready)
    calls = dict(re.findall(r"heard call (\d+): ([^;\n]*)", err))
    which = [{"answer": int(k), "ready_ms": float(x), "call": calls.get(k, "")}
             for k, x in re.findall(r"answer (\d+): [^\n]*?ready in ([\d.]+) ms(?! \(drafted)", err)]
    return {"answers_logged": n, "drafted": sum(1 for _, d in said if d),
            "undrafted_ready_ms": {"median": median(undrafted), "p99": _rank(undrafted, 99),
                                   "max": undrafted[-1]} if undrafted else {},
            "undrafted": which, "undrafted_cut": sum(1 for u in which if "(cut: the longest call)" in u["call"]),
            "ready_ms": {"median": median(ready), "p90": _rank(ready, 90), "p99": _rank(ready, 99),
                         "max": ready[-1]} if n else {},
            "late_answers": len(LATE.findall(err)), "late_lines": [x for x in err.splitlines() if LATE.search(x)],
            "tracebacks": err.count("Traceback"),
            "recording_lines": [x for x in err.splitlines() if RECORDING.search(x)],
            "summary": [line for line in err.splitlines() if line.startswith("session ended")]}


def turn_notes(solo: HumanSolo, bar: int, tempo: float, turn_beats: float
               ) -> list[tuple[float, float, PlayedNote]]:
    """The solo's `turn_beats` beats from its bar `bar` (a beat number on the solo timeline) as
    a player plays them in their turn at `tempo`: (on, off) in beats from the turn's downbeat,
    and the note. Each note keeps its place among the soloist's own beats (the beat track:
    ahead of and behind the beat, the swing); onsets in the turn's last half beat are left
    out (the call ends as the partner's turn comes) and releases come by the turn's end."""
    tr = solo.track
    out = []
    for n in solo.notes_between(tr.time_of(bar - 0.5), tr.time_of(bar + turn_beats)):
        on = tr.beat_at(n.onset) - bar
        if -0.5 <= on < turn_beats - 0.5:
            out.append((on, min(tr.beat_at(n.end) - bar, turn_beats - 0.05), n))
    return out


def partner_turns(arrivals: list, beat0: float, spb: float, turn_beats: float, turns: int) -> dict:
    """The partner's note-ons that sounded in the player's turns (turns 0, 2, 4, ...; its feel
    may start a note `FEEL_S` ahead of its own turn), and which of its `turns` turns (1, 3,
    5, ...) had no note."""
    ahead = FEEL_S / spb
    wrong, heard = 0, set()
    for a in arrivals:
        if a.channel == PARTNER_CHANNEL and a.is_note_on:
            beat = (a.t - beat0) / spb
            turn = math.floor(beat / turn_beats)
            if turn % 2 == 0 and (turn + 1) * turn_beats - beat <= ahead:  # its feel, just ahead of its turn
                turn += 1
            if turn < 0 or turn % 2 == 0:
                wrong += 1
            else:
                heard.add(turn)
    return {"partner_in_player_turns": wrong,
            "partner_turns_silent": [k for k in range(1, 2 * turns, 2) if k not in heard]}


class _Sampler:
    """Memory every `SAMPLE_S` seconds while the player waits."""

    def __init__(self, jam) -> None:
        self.jam, self.start, self.next, self.samples = jam, time.perf_counter(), time.perf_counter(), []

    def wait_until(self, t: float) -> None:
        while (wait := t - time.perf_counter()) > 0:
            if time.perf_counter() >= self.next:
                self.samples.append({"t": round(time.perf_counter() - self.start), "rss_kb": self.jam.rss_kb(own=True),
                                     "partner_rss_kb": _children_rss_kb(self.jam.proc.pid)})
                self.next += SAMPLE_S
            time.sleep(min(wait, 0.05))


def _play(jam, sampler: _Sampler, events: list[tuple[float, int, int, int]]) -> int:
    """(time, on, pitch, velocity) at perf_counter times; the note-ons sent."""
    sent = 0
    for t, on, pitch, vel in sorted(events, key=lambda e: (e[0], e[1])):
        sampler.wait_until(t)
        jam.player.send([0x90, pitch, vel] if on else [0x80, pitch, 0])
        sent += on
    return sent


def _free(jam, sampler: _Sampler, solos: list[HumanSolo], end: float, rng: random.Random) -> dict:
    played = 0
    while time.perf_counter() < end:
        solo = rng.choice(solos)
        i = rng.randrange(max(1, len(solo.phrases) - 6))
        phrases = solo.phrases[i:i + rng.randint(3, 6)]
        t0, base = phrases[0].start, time.perf_counter()
        notes = [n for p in phrases for n in p.notes]
        played += _play(jam, sampler, [(base + n.onset - t0, 1, n.pitch, n.velocity) for n in notes]
                        + [(base + n.end - t0, 0, n.pitch, 0) for n in notes])
        sampler.wait_until(time.perf_counter() + rng.uniform(2.0, 6.0))  # a rest: the partner answers
    return {"played_notes": played}


def _trade(jam, sampler: _Sampler, solos: list[HumanSolo], end: float, rng: random.Random, tempo: float,
           turn_beats: float, count_in_beats: int) -> dict:
    spb = 60.0 / tempo
    if not jam.listener.wait(lambda a: any(x.channel == CLICK_CHANNEL and x.is_note_on for x in a), timeout=30):
        raise RuntimeError("no count-in click came from the trading jam in 30 s")
    click = next(x.t for x in jam.listener.arrivals if x.channel == CLICK_CHANNEL and x.is_note_on)
    beat0 = click + count_in_beats * spb
    near = [s for s in solos if 1 / TRADE_TEMPO_SPAN <= s.tempo / tempo <= TRADE_TEMPO_SPAN] or solos
    played, turns, laid_out = 0, 0, 0
    while (start := beat0 + 2 * turns * turn_beats * spb) < end:
        turns += 1
        if rng.random() < 0.1:  # the player lays out a turn
            laid_out += 1
            continue
        solo = rng.choice(near)
        bar = int(rng.choice(solo.phrases).notes[0].beat // 4 * 4)
        notes = turn_notes(solo, bar, tempo, turn_beats)
        played += _play(jam, sampler, [(start + on * spb, 1, n.pitch, n.velocity) for on, _, n in notes]
                        + [(start + off * spb, 0, n.pitch, 0) for _, off, n in notes])
    sampler.wait_until(beat0 + (2 * turns + 1) * turn_beats * spb)  # the partner's last turn
    return {"played_notes": played, "player_turns": turns, "laid_out": laid_out, "beat0": beat0, "spb": spb,
            "tempo": tempo, "turn_beats": turn_beats}


def soak(solos: list[HumanSolo], minutes: float, seed: int = 7, extra: tuple[str, ...] = (),
         trade: dict | None = None) -> dict:
    """Play for `minutes`; the figures (see the module doc). `trade`: {"tempo", "tune",
    "bars"} to trade instead of the free jam."""
    import mido

    from improv.bench.jackprobe import sounding_notes
    from improv.bench.jamprocess import JamProcess
    from improv.tunefiles import find_tune
    from improv.core.theory.chart import load_tune
    from improv.core.theory.form import count_in_bars

    rng = random.Random(seed)
    flags = list(extra)
    if trade is not None:
        flags += ["--mode", "trade", "--comp", "--bass", "--tune", trade["tune"], "--tempo", f"{trade['tempo']:g}",
                  "--trade-bars", str(trade["bars"])]
    with tempfile.TemporaryDirectory(prefix="improv-soak-") as tmp:
        with JamProcess(Path(tmp), duration=minutes * 60 + 60, record=True, extra=flags) as jam:
            sampler = _Sampler(jam)
            end = sampler.start + minutes * 60
            if trade is None:
                out = {"minutes": minutes, "mode": "free", **_free(jam, sampler, solos, end, rng)}
            else:
                bpb = load_tune(find_tune(trade["tune"])).beats_per_bar
                out = {"minutes": minutes, "mode": "trade", "tune": trade["tune"],
                       **_trade(jam, sampler, solos, end, rng, trade["tempo"], float(bpb * trade["bars"]),
                                bpb * count_in_bars(trade["tempo"]))}
            rc = jam.stop()
            jam.listener.wait_quiet(0.5, 5.0)
            arrivals = list(jam.listener.arrivals)
            out.update({"exit": rc, "left_sounding": len(sounding_notes(arrivals)), "samples": sampler.samples})
            if trade is not None:
                out.update(partner_turns(arrivals, out.pop("beat0"), out.pop("spb"), out["turn_beats"],
                                         out["player_turns"]))
            out.update(from_stderr(jam.stderr()))
            recordings = []
            for path in jam.recordings():
                try:
                    mid = mido.MidiFile(path)
                    recordings.append({"notes": sum(1 for tr in mid.tracks for m in tr
                                                    if m.type == "note_on" and m.velocity > 0),
                                       "seconds": round(mid.length)})
                except Exception as e:  # noqa: BLE001 - a file that does not read back is the finding
                    recordings.append({"error": repr(e)})
            out["recordings"] = recordings
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="a long default jam over JACK, played by validation solos as recorded")
    ap.add_argument("data", nargs="?", default=str(DEFAULT_DATA), help=f"wjazzd-solos.tar.gz (default {DEFAULT_DATA})")
    ap.add_argument("--minutes", type=float, default=25.0, help="how long to play (default 25)")
    ap.add_argument("--seed", type=int, default=7, help="which phrases, in which order (default 7)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    ap.add_argument("--trade", action="store_true", help="trade along a tune with comping and bass (see the doc)")
    ap.add_argument("--tempo", type=float, default=160.0, help="the trading tempo, bpm (default 160)")
    ap.add_argument("--tune", default="blues-f", help="the tune to trade over (default blues-f)")
    ap.add_argument("--trade-bars", type=int, default=4, help="bars per turn (default 4)")
    ap.add_argument("--config", metavar="FILE", help="a settings file the jam reads too (an A/B of one setting)")
    args = ap.parse_args(argv)
    problem = _problem(args)
    if problem:
        print(f"improv.bench.soak: {problem}", file=sys.stderr)
        return 2
    try:
        solos = load_human(args.data, "valid")
    except DataError as e:
        print(f"improv.bench.soak: {e}", file=sys.stderr)
        return 2
    trade = {"tempo": args.tempo, "tune": args.tune, "bars": args.trade_bars} if args.trade else None
    extra = ("--config", str(Path(args.config).resolve())) if args.config else ()
    result = soak(solos, args.minutes, args.seed, extra=extra, trade=trade)
    if args.config:
        result["config"] = Path(args.config).read_text()
    shown = {k: v for k, v in result.items() if k != "samples"}
    if result["samples"]:
        shown["memory_kb"] = {"first": result["samples"][0], "last": result["samples"][-1]}
    print(json.dumps(shown, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0 if (result["exit"] == 0 and not result["left_sounding"] and not result["tracebacks"]
                 and not result["recording_lines"]) else 1


def _problem(args: argparse.Namespace) -> str:
    """What is wrong with the arguments, in one line ("" when nothing is)."""
    from improv.tunefiles import find_tune
    from improv.core.theory.form import TRADE_BARS
    from improv.errors import ImprovError

    if not 0 < args.minutes <= 24 * 60:
        return f"--minutes must be 0-1440, got {args.minutes:g}"
    # (checked after the run, a path that could not be written lost the whole soak in a traceback)
    bad = json_output_error(args.json) if args.json else None
    if bad:
        return bad
    if args.trade:
        if not 40 <= args.tempo <= 320:
            return f"--tempo must be 40-320 bpm, got {args.tempo:g}"
        if args.trade_bars not in TRADE_BARS:
            return f"--trade-bars must be one of {', '.join(map(str, TRADE_BARS))}, got {args.trade_bars}"
        try:
            find_tune(args.tune)
        except ImprovError as e:
            return str(e)
    if args.config:
        from improv.config import load_config

        try:
            load_config(args.config)
        except ImprovError as e:
            return str(e)
    return ""


if __name__ == "__main__":
    sys.exit(main())
