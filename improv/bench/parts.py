"""`improv bench`'s in-process sections: answer-ready time and partner note timing.

- answer: phrase end to answer ready for a 4-bar answer, responder only, in process
  (`learn` + `answer`, as the engine's worker does at a call's end); first note too when
  the responder streams.
- timing: the live `Scheduler` (RealClock, `MidiOutSink` on a JACK virtual port when JACK
  runs) sends notes while a responder computes answers non-stop on another thread (the
  worst case: in a jam it computes once per call). Figures: the scheduler's own recorded
  error (send time minus deadline) and, over JACK, arrival at a listener minus the deadline
  (which adds up to one period of JACK output quantisation).
- synth: `bench_synth()` from the built-in synth's module, when it offers one.
"""

from __future__ import annotations

import logging
import random
import statistics
import threading
import time
from typing import Any, Callable

from improv.config import Config, override
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Phrase
from improv.core.respond.base import AnswerSettings, Responder, SessionMemory
from improv.bench.jackprobe import Listener, Patchbay, sounding_notes, unique

CHART = "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7"  # a blues in F
TEMPO = 120.0


def summary(values: list[float]) -> dict[str, float]:
    """{"n", "median", "p99", "max", "min"} of a list (ms); p99 by nearest rank."""
    if not values:
        return {"n": 0}
    s = sorted(values)
    p99 = s[min(len(s) - 1, max(0, -(-99 * len(s) // 100) - 1))]
    return {"n": len(s), "median": statistics.median(s), "p99": p99, "max": s[-1], "min": s[0]}


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
    from improv.partner.build import make_responder as engine_make_responder

    return engine_make_responder(override(cfg, "responder", name=name).responder, seed)


def answer_settings(cfg: Config, call: Phrase, seed: int, bars: int = 4) -> AnswerSettings:
    start = float(int(call.end) + 1)
    return AnswerSettings(start=start, length=bars * cfg.timing.beats_per_bar, seed=seed,
                          temperature=cfg.responder.temperature, top_p=cfg.responder.top_p,
                          low=cfg.responder.low, high=cfg.responder.high,
                          beats_per_bar=cfg.timing.beats_per_bar)


# --- answer ready ----------------------------------------------------------------------------
def bench_answer(name: str, calls: int, cfg: Config) -> dict[str, Any]:
    """Phrase end -> 4-bar answer ready, in process, over `calls` calls (ms).

    As the jam does, a responder that can read ahead (the model) has read the session so
    far between calls and the call in the rest that ends it, untimed; `ready_ms` times what
    is left. `ready_call_at_end_ms` reads the call at its end (as when the
    end-of-call control cuts it with no rest, or the inferred chord changed), `ready_unprimed_ms` the
    session so far too."""
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
    ready, answer_only, first, notes, cold, at_end = [], [], [], [], [], []
    stream = getattr(responder, "stream", None)
    can_prime = callable(getattr(responder, "prime", None))
    memory = SessionMemory()  # the session so far, as the engine keeps it
    at = 0.0
    for i in range(calls):
        bars = rng.choice([1, 2, 4])
        call = random_call(rng, bars=bars, start=at)
        settings = memory.with_history(answer_settings(cfg, call, 100 + i))
        if can_prime:
            memory.prime(responder, chart, call)  # the call read in the rest that ends it: not timed
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
        if can_prime:
            memory.prime(responder, chart)  # back to the history alone (it is kept: nothing is read)
            t5 = time.perf_counter()
            responder.answer(call, chart, settings)
            at_end.append((time.perf_counter() - t5) * 1000.0)
        forget = getattr(responder, "forget", None)
        if forget is not None:  # the same answer without the history read ahead
            forget()
            t4 = time.perf_counter()
            responder.answer(call, chart, settings)
            cold.append((time.perf_counter() - t4) * 1000.0)
        memory.add(call, answer)
        memory.prime(responder, chart)  # between calls, as the engine does: not timed
        at = settings.start + settings.length + rng.choice([0.0, 4.0])
    out: dict[str, Any] = {"responder": name, "ready_ms": summary(ready), "answer_only_ms": summary(answer_only),
                           "notes_per_answer": statistics.mean(notes) if notes else 0,
                           "history_phrases": len(memory.phrases)}
    if first:
        out["first_note_ms"] = summary(first)
    if at_end:
        out["ready_call_at_end_ms"] = summary(at_end)
    if cold:
        out["ready_unprimed_ms"] = summary(cold)
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


# --- synth -------------------------------------------------------------------------------
def bench_synth_figures(quick: bool = False) -> dict[str, Any]:
    """The built-in synth's own figures (`bench_synth()`), when its module offers them."""
    import inspect

    for module in ("improv.bench.audio", "improv.live.audio"):
        try:
            mod = __import__(module, fromlist=["bench_synth"])
        except ImportError:
            continue
        fn = getattr(mod, "bench_synth", None)
        if fn is not None:
            kwargs = {"render_seconds": 30.0} if quick and "render_seconds" in inspect.signature(fn).parameters else {}
            return dict(fn(**kwargs))
    return {"skipped": "the built-in synth offers no bench_synth() yet"}
