"""`improv bench`: the live path's latency and robustness figures, measured, in one run.

Sections (each returns a plain dict, printed as it finishes and collected for --json):

- passthrough: a player client plays into `improv jam` (a subprocess) over JACK; the same
  port also feeds a "direct" listener. Added latency = arrival through the jam's thru minus
  arrival over the direct JACK connection, message by message; the target is <= 1 ms p99
  beyond one JACK period (the jam's output is written in the next process cycle).
- timing: the live `Scheduler` (RealClock, `MidiOutSink` on a JACK virtual port) sends
  2,000 partner notes while a responder computes answers non-stop on another thread (the
  worst case: in a jam it computes once per call). Figures: the scheduler's own recorded
  error (send time minus deadline) and, over JACK, the arrival at a listener minus the
  deadline (which adds up to one period of JACK output quantisation).
- answer: phrase end to answer ready for a 4-bar answer, responder only, in process
  (`learn` + `answer`, as the engine's worker does at a call's end); first note too when
  the responder streams.
- flood (full run only): 2,000 messages a second for 60 s into the jam; its memory, what
  came through, what it dropped, whether it still answers, whether any note hangs.
- synth: `bench_synth()` from the built-in synth's module, when it offers one.

With no JACK server the sections that need one are skipped, saying why.
"""

from __future__ import annotations

import logging
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Callable

from improv.config import Config, override
from improv.core.chart import Chart, parse_chart
from improv.core.notes import Phrase
from improv.core.responder import AnswerSettings, Responder
from improv.live import jackprobe
from improv.live.jackprobe import Arrival, JamProcess, Listener, Patchbay, sleep_until, sounding_notes, unique

CHART = "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7"  # a blues in F
TEMPO = 120.0
TARGET_THRU_BEYOND_PERIOD_MS = 1.0
TARGET_TIMING_P99_MS = 1.0
TARGET_READY_P99_MS = 20.0
TARGET_FIRST_NOTE_MS = 5.0


# --- figures -----------------------------------------------------------------------------
def summary(values: list[float]) -> dict[str, float]:
    """{"n", "median", "p99", "max", "min"} of a list (ms); p99 by nearest rank."""
    if not values:
        return {"n": 0}
    s = sorted(values)
    p99 = s[min(len(s) - 1, max(0, -(-99 * len(s) // 100) - 1))]
    return {"n": len(s), "median": statistics.median(s), "p99": p99, "max": s[-1], "min": s[0]}


def fmt(stats: dict[str, float], unit: str = "ms") -> str:
    if not stats.get("n"):
        return "no samples"
    return (f"median {stats['median']:6.2f} {unit}   p99 {stats['p99']:6.2f} {unit}   "
            f"max {stats['max']:6.2f} {unit}   (n={stats['n']})")


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


# --- material ------------------------------------------------------------------------------
def random_call(rng: random.Random, bars: int = 2, start: float = 0.0) -> Phrase:
    """A plausible jazz call: eighth-note-ish line around F, `bars` bars of 4/4 (beats)."""
    scale = [0, 2, 3, 4, 5, 7, 9, 10]
    notes, beat, step = [], 0.0, rng.randrange(len(scale))
    octave = 60
    while beat < bars * 4 - 0.5:
        dur = rng.choice([0.5, 0.5, 0.5, 1.0, 0.25, 1.5])
        if rng.random() < 0.12:
            beat += dur  # a rest
            continue
        step += rng.choice([-2, -1, -1, 1, 1, 2, 3])
        pitch = octave + 5 + 12 * (step // len(scale)) + scale[step % len(scale)]
        pitch = min(84, max(48, pitch))
        notes.append((pitch, beat, min(dur, bars * 4 - beat) * 0.9, rng.randint(60, 110)))
        beat += dur
    return Phrase.of(notes, start=start, length=bars * 4.0)


def make_responder(name: str, cfg: Config, seed: int = 1) -> Responder:
    """The responder the engine builds for `name` ("markov" or "model"), through the
    engine's own factory (which also sets torch's thread count for the model).

    Raises:
        ImprovError: a model that is missing or cannot load.
    """
    from improv.live.responders import make_responder as engine_make_responder

    return engine_make_responder(override(cfg, "responder", name=name).responder, seed)


def answer_settings(cfg: Config, call: Phrase, seed: int, bars: int = 4) -> AnswerSettings:
    start = float(int(call.end) + 1)
    return AnswerSettings(start=start, length=bars * cfg.timing.beats_per_bar, seed=seed,
                          temperature=cfg.responder.temperature, top_p=cfg.responder.top_p,
                          low=cfg.responder.low, high=cfg.responder.high,
                          beats_per_bar=cfg.timing.beats_per_bar)


# --- answer ready ----------------------------------------------------------------------------
def bench_answer(name: str, calls: int, cfg: Config) -> dict[str, Any]:
    """Phrase end -> 4-bar answer ready, in process, over `calls` calls (ms)."""
    try:
        responder = make_responder(name, cfg)
    except ImportError as e:
        return {"skipped": f"responder {name!r} is not available: {e}"}
    except Exception as e:  # noqa: BLE001 - e.g. ModelError: no checkpoint
        return {"skipped": f"responder {name!r} cannot load: {e}"}
    chart = parse_chart(CHART, cfg.timing.beats_per_bar)
    rng = random.Random(7)
    for i in range(5):  # warm-up, as the engine does before the first call
        call = random_call(rng)
        responder.learn(call, chart)
        responder.answer(call, chart, answer_settings(cfg, call, i))
    ready, answer_only, first, notes = [], [], [], []
    stream = getattr(responder, "stream", None)
    for i in range(calls):
        call = random_call(rng, bars=rng.choice([1, 2, 4]), start=float(rng.randrange(0, 48)))
        settings = answer_settings(cfg, call, 100 + i)
        t0 = time.perf_counter()
        responder.learn(call, chart)
        t1 = time.perf_counter()
        answer = responder.answer(call, chart, settings)
        t2 = time.perf_counter()
        ready.append((t2 - t0) * 1000.0)
        answer_only.append((t2 - t1) * 1000.0)
        notes.append(len(answer.notes))
        if stream is not None:
            t3 = time.perf_counter()
            it = iter(stream(call, chart, settings))
            next(it, None)
            first.append((time.perf_counter() - t3) * 1000.0)
            del it
    out: dict[str, Any] = {"responder": name, "ready_ms": summary(ready), "answer_only_ms": summary(answer_only),
                           "notes_per_answer": statistics.mean(notes) if notes else 0}
    if first:
        out["first_note_ms"] = summary(first)
    return out


# --- partner timing ----------------------------------------------------------------------------
class _Busy:
    """A responder computing answers non-stop on its own thread (the worst case load)."""

    def __init__(self, responder: Responder | None, cfg: Config) -> None:
        self.responder, self.cfg = responder, cfg
        self.answers = 0
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-responder", daemon=True)

    def _run(self) -> None:
        chart = parse_chart(CHART, self.cfg.timing.beats_per_bar)
        rng = random.Random(3)
        while not self._stop.is_set():
            call = random_call(rng)
            try:
                self.responder.learn(call, chart)
                self.responder.answer(call, chart, answer_settings(self.cfg, call, self.answers))
            except Exception as e:  # noqa: BLE001 - reported with the figures, not raised in a thread
                self.error = f"{type(e).__name__}: {e}"
                return
            self.answers += 1

    def __enter__(self) -> "_Busy":
        if self.responder is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)


def bench_timing(notes: int, cfg: Config, responder_name: str, jack: bool, load: bool = True) -> dict[str, Any]:
    """Partner note timing error over `notes` notes while a responder computes (ms);
    with `load` False, with nothing else running (the machine's own noise)."""
    from improv.live.clock import RealClock
    from improv.live.scheduler import Scheduler

    responder = None
    if not load:
        load_note = "no responder load (reference)"
    else:
        try:
            responder = make_responder(responder_name, cfg)
        except Exception as e:  # noqa: BLE001
            load_note = f"no responder load ({responder_name}: {e})"
        else:
            load_note = f"{responder_name} responder answering non-stop on another thread"
    clock = RealClock(cfg.timing.spin_ms)
    sink: Any = None
    listener: Listener | None = None
    if jack:
        from improv.live.ports import open_output

        name = unique("bench-partner")
        sink = open_output("jack", virtual=name)
        listener = Listener(unique("bench-timing"))
        with Patchbay(unique("bench-patch")) as pb:
            pb.connect(pb.wait_for(name, inputs=False, timeout=5),
                       f"{listener.client}:{listener.port_name}")
        send: Callable = sink.send
    else:
        send = lambda msg: None  # noqa: E731 - no JACK: the scheduler alone is measured
    sched = Scheduler(clock, send, late_threshold_ms=cfg.timing.late_threshold_ms,
                      late_policy=cfg.timing.late_policy)
    rng = random.Random(11)
    t = clock.now() + 0.3
    events, deadline_of = [], {}
    for i in range(notes):
        pitch, vel = 36 + i % 60, 1 + (i // 60) % 127
        t += 0.018 + rng.random() * 0.008  # ~45 notes/s, off the JACK cycle's phase
        events.append((t, t + 0.012, cfg.midi.partner_channel - 1, pitch, vel))
        deadline_of[(pitch, vel)] = t
    sched_log = logging.getLogger("improv.scheduler")
    level = sched_log.level
    sched_log.setLevel(logging.ERROR)  # late notes are counted below, not logged line by line
    try:
        with _Busy(responder, cfg) as busy:
            sched.start()
            sched.play(events)
            end = events[-1][1] + 0.3
            while clock.now() < end:
                time.sleep(0.05)
            answers = busy.answers
            if busy.error:
                load_note += f" (it failed: {busy.error})"
    finally:
        sched.close()
        sched_log.setLevel(level)
        if listener is not None:
            listener.wait_quiet(0.2, 2.0)
        if sink is not None:
            sink.close()
    med, p99, n = sched.timing_ms()
    out: dict[str, Any] = {
        "load": load_note, "answers_computed": answers,
        "scheduler_error_ms": summary(list(sched.errors_ms)),
        "late": sched.late, "dropped": sched.dropped, "sent": sched.sent_ons, "scheduled": notes,
    }
    if listener is not None:
        arrivals = [(a.t - deadline_of[(a.data[1], a.data[2])]) * 1000.0 for a in listener.arrivals
                    if a.is_note_on and (a.data[1], a.data[2]) in deadline_of]
        out["arrival_error_ms"] = summary(arrivals)
        out["left_sounding"] = len(sounding_notes(listener.arrivals))
        listener.close()
    return out


# --- passthrough over a real jam -----------------------------------------------------------
def bench_passthrough(messages: int, responder: str, period_ms: float) -> dict[str, Any]:
    """Player -> jam thru -> listener, minus player -> listener direct, per message (ms)."""
    with tempfile.TemporaryDirectory(prefix="improv-bench-") as tmp:
        seconds = messages * 0.03 + 10
        with JamProcess(Path(tmp), duration=seconds, record=False,
                        extra=["--tempo", f"{TEMPO:g}", "--responder", responder, "--seed", "1"]) as jam:
            direct = Listener(unique("bench-direct"))
            try:
                jam.patchbay.connect(f"{jam.player.client}:{jam.player.port_name}",
                                     f"{direct.client}:{direct.port_name}")
                time.sleep(0.5)
                rng = random.Random(5)
                sent = 0
                for i in range(messages // 2):
                    pitch, vel = 36 + i % 60, 1 + (i // 60) % 127  # unique for 7,620 notes
                    jam.player.send([0x90, pitch, vel])
                    time.sleep(0.008 + rng.random() * 0.01)
                    jam.player.send([0x80, pitch, vel])  # (release velocity: tells the offs apart)
                    time.sleep(0.008 + rng.random() * 0.01)
                    sent += 2
                jam.listener.wait(lambda a: sum(x.channel == 1 for x in a) >= sent, 3.0)
                direct.wait(lambda a: len(a) >= sent, 3.0)
                thru = [a for a in jam.arrivals(1) if a.kind in (0x80, 0x90)]
                sends = [Arrival(t, data) for t, data in jam.player.sent]
                added = pair_latency(direct.arrivals, thru)
                via_jam = pair_latency(sends, thru)
                via_direct = pair_latency(sends, direct.arrivals)
            finally:
                direct.close()
            rc = jam.stop()
            jam.listener.wait_quiet(0.3, 3.0)
            left = sounding_notes(jam.listener.arrivals)
            own = re.findall(r"thru in-process p99 ([\d.]+) ms", jam.stderr())
    stats = summary(added)
    return {"sent": sent, "through": len(thru), "added_ms": stats,
            "beyond_period_p99_ms": (stats["p99"] - period_ms) if stats.get("n") else None,
            "send_to_arrival_via_jam_ms": summary(via_jam), "send_to_arrival_direct_ms": summary(via_direct),
            "jam_thru_in_process_p99_ms": float(own[-1]) if own else None,
            "jam_exit": rc, "left_sounding": len(left)}


def pair_latency(earlier: list[Arrival], later: list[Arrival]) -> list[float]:
    """Match each note message of `later` to the same message in `earlier` (by kind, note
    and velocity, first come first served; a note-on with velocity 0 counts as a note-off);
    the differences in ms. The bench sends every (note, velocity) pair once, so a message
    lost on one path costs one sample, not a shifted pairing."""
    def key(a: Arrival) -> tuple[int, int, int]:
        return (0x90, a.data[1], a.data[2]) if a.is_note_on else (0x80, a.data[1], a.data[2])

    queues: dict[tuple[int, int, int], deque[float]] = defaultdict(deque)
    for a in earlier:
        if a.is_note_on or a.is_note_off:
            queues[key(a)].append(a.t)
    out = []
    for a in later:
        q = queues.get(key(a)) if (a.is_note_on or a.is_note_off) else None
        if q:
            out.append((a.t - q.popleft()) * 1000.0)
    return out


# --- flood -----------------------------------------------------------------------------------
def flood_messages(i: int, malformed: bool = False) -> list[list[int]]:
    """The i-th group of 10 flood messages: a note pair, controllers, bend, pressure, clock,
    active sensing, now and then a 256-byte sysex; with `malformed`, truncated and bad bytes."""
    pitch = 36 + i % 48
    group = [[0x90, pitch, 64], [0xB0, 1, i % 128], [0xE0, i % 128, 64], [0xD0, i % 128], [0xF8],
             [0x80, pitch, 0], [0xB0, 74, (i * 7) % 128], [0xA0, pitch, 30], [0xFE],
             [0xF0, 0x7D] + [i % 128] * 253 + [0xF7] if i % 10 == 0 else [0xB0, 11, 100]]
    if malformed:
        group[7] = [[0x90, pitch], [0x90], [60, 100], [0xF0, 1, 2], [0x90, 200, 255], [0xFF], [0xF7],
                    [0xC0], [0xB0, 64]][i % 9]
    return group


def flood(player: jackprobe.Player, rate: float, seconds: float, malformed: bool = False,
          on_second: Callable[[int], None] | None = None) -> int:
    """Send `rate` messages/s for `seconds` s, in groups of 10 on absolute deadlines; the count.

    The note-ons of the flood all get their note-offs; `on_second(k)` is called each second.
    """
    groups = int(rate * seconds / 10)
    start = time.perf_counter() + 0.01
    sent, next_second = 0, 1
    for i in range(groups):
        sleep_until(start + i * 10 / rate, spin_s=0.0)
        for msg in flood_messages(i, malformed):
            try:
                player.send(msg)
                sent += 1
            except (ValueError, OverflowError):
                pass
        if on_second and time.perf_counter() - start >= next_second:
            on_second(next_second)
            next_second += 1
    return sent


SUMMARY = re.compile(r"dropped (\d+) \(queue (\d+), unreadable (\d+), late (\d+)\)")


def dropped_from_log(text: str) -> dict[str, int] | str:
    """The jam's closing counts {"dropped", "queue", "unreadable", "late"}, or "not logged"."""
    found = SUMMARY.findall(text)
    if not found:
        return "not logged"
    return dict(zip(("dropped", "queue", "unreadable", "late"), (int(x) for x in found[-1])))


def channel_messages(group: list[list[int]]) -> int:
    return sum(1 for m in group if m and 0x80 <= m[0] < 0xF0)


def bench_flood(rate: float, seconds: float, responder: str) -> dict[str, Any]:
    """`rate` msg/s for `seconds` s into a jam; wait for its backlog to drain; every key
    lifted; then a call; then SIGTERM.

    Reports what came back through thru (channel messages only: thru drops the rest), how
    long the backlog took to drain, the thru notes left sounding by the flood (note-offs the
    jam dropped), the jam's memory and its own dropped counts, whether it answered a call
    afterwards, and any note left sounding once it exited.
    """
    with tempfile.TemporaryDirectory(prefix="improv-bench-") as tmp:
        with JamProcess(Path(tmp), duration=seconds + 60, record=False,
                        extra=["--tempo", f"{TEMPO:g}", "--responder", responder]) as jam:
            time.sleep(0.5)
            rss = [jam.rss_kb()]
            sent = flood(jam.player, rate, seconds, on_second=lambda k: rss.append(jam.rss_kb()))
            ended = time.perf_counter()
            expected = sum(channel_messages(flood_messages(i)) for i in range(int(rate * seconds / 10)))
            jam.listener.wait_quiet(0.5, 30.0)  # the jam works through its backlog
            quiet = [a.t for a in jam.arrivals(1)]
            drained = (quiet[-1] - ended) if quiet and quiet[-1] > ended else 0.0
            through = len(quiet)
            hanging = sounding_notes(jam.arrivals(1))
            for pitch in range(128):  # lift every key, so that the call below can end
                jam.player.send([0x80, pitch, 0])
            time.sleep(2.5)  # the flood's last call ends and its answer starts; the call below interrupts it
            mark = time.perf_counter()
            call = [(0.0, [0x90, 65, 90]), (0.45, [0x80, 65, 0]), (0.5, [0x90, 69, 90]), (0.95, [0x80, 69, 0]),
                    (1.0, [0x90, 72, 90]), (1.45, [0x80, 72, 0]), (1.5, [0x90, 75, 90]), (1.9, [0x80, 75, 0])]
            jam.player.play(call, start=mark)
            answered = jam.listener.wait(  # after the call's last release + the gap (0.5 s)
                lambda a: any(x.t > mark + 2.4 and x.channel == 2 and x.is_note_on for x in a), 8.0)
            alive = jam.proc.poll() is None
            rc = jam.stop()
            jam.listener.wait_quiet(0.3, 3.0)
            log = jam.stderr()
            left = sounding_notes(jam.listener.arrivals)
    summary_line = [line for line in log.splitlines() if line.startswith("session ended")]
    return {"rate": rate, "seconds": seconds, "sent": sent, "channel_messages_sent": expected,
            "through_thru": through, "backlog_drained_s": drained, "hanging_after_flood": len(hanging),
            "rss_kb_start": rss[0], "rss_kb_max": max(rss), "rss_kb_end": rss[-1],
            "alive_after": alive, "answered_after": answered, "jam_exit": rc,
            "jam_counts": dropped_from_log(log), "jam_summary": summary_line[-1] if summary_line else "",
            "left_sounding": len(left), "left_sounding_notes": sorted(left),
            "jam_log_tail": [line for line in log.splitlines() if not line.startswith(f"{TEMPO:g} bpm")][-12:]}


def bench_flood_isolated(rate: float, seconds: float, responder: str) -> dict[str, Any]:
    """`bench_flood` in a child process, so that a crash of the measuring clients (python-
    rtmidi's JACK threads under a flood) costs this section only and is reported."""
    import json
    import os
    import subprocess

    code = ("import json, sys; from improv.live.bench import bench_flood; "
            f"print('FLOOD ' + json.dumps(bench_flood({rate!r}, {seconds!r}, {responder!r})))")
    root = Path(__file__).resolve().parent.parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    try:
        proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True,
                              env=env, timeout=seconds + 180)
    except subprocess.TimeoutExpired:
        return {"skipped": f"the flood's measuring process did not finish within {seconds + 180:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("FLOOD "):
            return json.loads(line[6:])
    tail = [x for x in proc.stderr.splitlines() if x.strip() and not x.startswith(("Cannot", "jack server", "JackShm"))]
    return {"skipped": f"the flood's measuring process died (exit {proc.returncode}): {' | '.join(tail[-6:])}"}


# --- synth -------------------------------------------------------------------------------
def bench_synth_figures(quick: bool = False) -> dict[str, Any]:
    """The built-in synth's own figures (`bench_synth()`), when its module offers them."""
    import inspect

    for module in ("improv.live.audio_bench", "improv.live.audio"):
        try:
            mod = __import__(module, fromlist=["bench_synth"])
        except ImportError:
            continue
        fn = getattr(mod, "bench_synth", None)
        if fn is not None:
            kwargs = {"render_seconds": 30.0} if quick and "render_seconds" in inspect.signature(fn).parameters else {}
            return dict(fn(**kwargs))
    return {"skipped": "the built-in synth offers no bench_synth() yet"}


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# --- the whole run ---------------------------------------------------------------------------
def run_bench(quick: bool = False, responder: str = "markov", period: int = 64,
              out: Callable[[str], None] = print, json_path: Path | None = None) -> dict[str, Any]:
    """Run every section (fewer samples and no flood with `quick`); print and return figures.

    With `json_path`, the figures so far are rewritten there after every line printed, so
    that they survive a run cut short.

    Uses the running JACK server (printing its period); when none runs and jackd exists,
    starts a private dummy-driver server with `period` frames for the run.
    """
    import os

    from improv.config import load_config

    cfg = load_config(None)
    if json_path is not None:
        import json

        printer = out

        def out(line: str) -> None:  # noqa: F811 - print, then save what we have
            printer(line)
            Path(json_path).write_text(json.dumps(results, indent=2, default=str) + "\n")
    results: dict[str, Any] = {"quick": quick, "responder": responder, "python": sys.version.split()[0],
                               "cpus": os.cpu_count(), "load_average_1min_at_start": os.getloadavg()[0]}
    out(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start (figures are only as "
        f"quiet as the machine)")
    private = None
    reason = jackprobe.jack_unavailable()
    if reason and "no JACK server" in reason:
        try:
            private = jackprobe.start_private_server(f"improv-bench-{os.getpid()}", period=period)
            reason = None
        except Exception as e:  # noqa: BLE001 - no jackd: in-process parts only
            reason = f"{reason}; and a private server could not start: {e}"
    try:
        if reason:
            results["jack"] = {"skipped": reason}
            out(f"JACK: none ({reason}) -> measuring the in-process parts only")
            period_ms = 0.0
        else:
            frames, rate = jackprobe.jack_period()
            period_ms = 1000.0 * frames / rate
            results["jack"] = {"period_frames": frames, "rate": rate, "period_ms": period_ms,
                               "server": "private (started by the bench)" if private else "running"}
            out(f"JACK: {results['jack']['server']} server, {frames} frames @ {rate} Hz "
                f"= {period_ms:.2f} ms period")
        _sections(results, quick, responder, cfg, period_ms, jack=not reason, out=out)
    finally:
        if private is not None:
            jackprobe.stop_private_server(private)
            os.environ.pop("JACK_DEFAULT_SERVER", None)
    return results


def _sections(results: dict[str, Any], quick: bool, responder: str, cfg: Config, period_ms: float,
              jack: bool, out: Callable[[str], None]) -> None:
    calls = 100 if quick else 300
    out(f"\nanswer ready: phrase end -> 4-bar answer ready, responder only, in process, {calls} calls "
        f"(target p99 <= {TARGET_READY_P99_MS:g} ms)")
    for name in ("markov", "model"):
        r = results[f"answer_{name}"] = bench_answer(name, calls, cfg)
        if "skipped" in r:
            out(f"  {name:7s} skipped: {r['skipped']}")
            continue
        ok = r["ready_ms"]["p99"] <= TARGET_READY_P99_MS
        out(f"  {name:7s} ready       {fmt(r['ready_ms'])}  {verdict(ok)}")
        out(f"  {name:7s} answer only {fmt(r['answer_only_ms'])}  ({r['notes_per_answer']:.1f} notes per answer)")
        if "first_note_ms" in r:
            ok = r["first_note_ms"]["p99"] <= TARGET_FIRST_NOTE_MS
            out(f"  {name:7s} first note  {fmt(r['first_note_ms'])}  (target {TARGET_FIRST_NOTE_MS:g} ms) "
                f"{verdict(ok)}")

    notes = 500 if quick else 2000
    where = "over JACK" if jack else "in process, no JACK (the sink discards)"
    out(f"\npartner timing: {notes} notes {where}, while the responder computes "
        f"(target p99 <= {TARGET_TIMING_P99_MS:g} ms)")
    r = results["timing"] = bench_timing(notes, cfg, responder, jack)
    out(f"  load: {r['load']} ({r['answers_computed']} answers during the run)")
    ok = r["scheduler_error_ms"].get("p99", 1e9) <= TARGET_TIMING_P99_MS
    out(f"  scheduler send - deadline   {fmt(r['scheduler_error_ms'])}  {verdict(ok)}")
    if "arrival_error_ms" in r:
        out(f"  listener arrival - deadline {fmt(r['arrival_error_ms'])}  (includes JACK output quantisation, "
            f"<= one {period_ms:.2f} ms period)")
        out(f"  notes left sounding at the listener: {r['left_sounding']}")
    out(f"  late {r['late']}, dropped {r['dropped']}, sent {r['sent']} of {r['scheduled']}")
    r = results["timing_idle"] = bench_timing(notes // 4, cfg, responder, jack, load=False)
    out(f"  reference, {notes // 4} notes with no responder computing:")
    out(f"  scheduler send - deadline   {fmt(r['scheduler_error_ms'])}")
    if "arrival_error_ms" in r:
        out(f"  listener arrival - deadline {fmt(r['arrival_error_ms'])}")

    r = results["synth"] = bench_synth_figures(quick)
    if "skipped" in r:
        out(f"\nsynth: skipped: {r['skipped']}")
    else:
        out("\nsynth (its own bench_synth(): callback time as a fraction of the block budget, target <= 0.25; "
            "render speed x real time)")
        for k, v in r.items():
            out(f"  {k}: {_plain(v)}")

    if not jack:
        for name in ("passthrough", "flood"):
            results[name] = {"skipped": "no JACK server"}
        out("\npassthrough and flood: skipped (no JACK server)")
        return
    from improv.cli import COMMANDS

    if "jam" not in COMMANDS:
        results["passthrough"] = results["flood"] = {"skipped": "improv has no jam command"}
        out("\npassthrough and flood: skipped (improv has no jam command)")
        return
    messages = 400 if quick else 2000
    out(f"\npassthrough: {messages} messages, player -> improv jam thru -> listener, minus the same "
        f"messages over a direct JACK connection (target p99 <= one period + {TARGET_THRU_BEYOND_PERIOD_MS:g} ms "
        f"= {period_ms + TARGET_THRU_BEYOND_PERIOD_MS:.2f} ms)")
    try:
        r = results["passthrough"] = bench_passthrough(messages, responder, period_ms)
    except jackprobe.JamFailed as e:
        r = results["passthrough"] = {"skipped": f"the jam failed: {e}"}
        out(f"  skipped: {r['skipped']}")
    else:
        ok = r["added_ms"].get("n") and r["beyond_period_p99_ms"] <= TARGET_THRU_BEYOND_PERIOD_MS
        out(f"  added by improv            {fmt(r['added_ms'])}  {verdict(bool(ok))}")
        if r["added_ms"].get("n"):
            out(f"  p99 beyond one period: {r['beyond_period_p99_ms']:.2f} ms")
        out(f"  send -> arrival via jam    {fmt(r['send_to_arrival_via_jam_ms'])}")
        out(f"  send -> arrival direct     {fmt(r['send_to_arrival_direct_ms'])}")
        if r["jam_thru_in_process_p99_ms"] is not None:
            out(f"  the jam's own figure, input callback -> thru sent: p99 {r['jam_thru_in_process_p99_ms']:.2f} ms")
        out(f"  {r['through']} of {r['sent']} came through; jam exit {r['jam_exit']}; "
            f"notes left sounding {r['left_sounding']}")

    if quick:
        results["flood"] = {"skipped": "--quick"}
        out("\nflood: skipped (--quick)")
        return
    out("\nflood: 2000 messages/s for 60 s into improv jam, then a call")
    try:
        r = results["flood"] = bench_flood_isolated(2000.0, 60.0, responder)
    except jackprobe.JamFailed as e:
        r = results["flood"] = {"skipped": f"the jam failed: {e}"}
    if "skipped" in r:
        out(f"  skipped: {r['skipped']}")
    else:
        out(f"  sent {r['sent']} ({r['channel_messages_sent']} channel messages), {r['through_thru']} came back "
            f"through thru; the jam's own counts: {_plain(r['jam_counts'])}")
        out(f"  its backlog drained {r['backlog_drained_s']:.2f} s after the flood ended; notes sounding at the "
            f"listener after the flood (note-offs lost into, inside or out of the jam): {r['hanging_after_flood']}")
        out(f"  jam memory: {r['rss_kb_start'] / 1024:.1f} MiB at start, {r['rss_kb_max'] / 1024:.1f} MiB max, "
            f"{r['rss_kb_end'] / 1024:.1f} MiB at the end")
        out(f"  alive after: {r['alive_after']}; answered a call after: {r['answered_after']}; "
            f"exit {r['jam_exit']}; notes left sounding {r['left_sounding']}")
