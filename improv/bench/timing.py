"""`improv bench`'s partner-timing section: how close to their deadlines the partner's
notes go out while the partner thinks.

The live `Scheduler` (RealClock; a `MidiOutSink` on a JACK virtual port when JACK runs)
sends notes while the partner answers calls non-stop in its worker process, as the jam's
`ProcessPartner` does (the worst case: in a jam it answers once per call), its results
arriving on the receiving thread of this process. Figures: the scheduler's own recorded
error (send time minus deadline) and, over JACK, arrival at a listener minus the deadline
(which adds up to one period of JACK output quantisation).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable

from improv import gctime
from improv.bench.answer import calls_for
from improv.bench.jackprobe import Listener, Patchbay, sounding_notes, unique
from improv.bench.parts import CHART, summary
from improv.config import Config
from improv.core.theory.chart import parse_chart
from improv.partner.protocol import Job, Read, Result, Setup, answer_settings


class _Busy:
    """A partner process answering calls back to back (each result sends the next call)."""

    def __init__(self, name: str | None, cfg: Config) -> None:
        self.name, self.cfg = name, cfg
        self.answers = 0
        self.error = ""
        self._stop = threading.Event()
        self._partner: Any = None
        self._chart = parse_chart(CHART, cfg.timing.beats_per_bar)
        self._material = calls_for(64, self._chart, seed=3)

    def _next(self) -> None:
        if self._stop.is_set():
            return
        call, start, length, cut = self._material[self.answers % len(self._material)]
        n = self.answers + 1
        self._partner.read(Read(call, self._chart))
        self._partner.submit(Job(n, call, self._chart, answer_settings(start, length, n, self.cfg.responder, 4,
                                                                 turn=cut is not None),
                                 self.cfg.embrace, cut), time.perf_counter())

    def _on_result(self, res: Result) -> None:
        if res.error and not self.error:
            self.error = res.error
        self.answers += 1
        self._next()

    def __enter__(self) -> "_Busy":
        if self.name is not None:
            from improv.partner.process import ProcessPartner

            self._partner = ProcessPartner(self.name, self.cfg.responder.markov_order)
            self._partner.start(lambda: Setup(self.name or "", chart=self._chart), self._on_result)
            self._next()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._partner is not None:
            self._partner.close()


def bench_timing(notes: int, cfg: Config, partner: str, jack: bool, load: bool = True) -> dict[str, Any]:
    """Partner note timing error over `notes` notes while the partner answers non-stop in
    its process (ms); with `load` False, with nothing else running (the machine's own noise)."""
    from improv.live.clock import RealClock
    from improv.live.scheduler import Scheduler

    load_note = f"{partner} partner answering non-stop in its worker process" if load else \
        "no partner load (reference)"
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
    sched_log = logging.getLogger("improv.scheduler")
    level = sched_log.level
    sched_log.setLevel(logging.ERROR)  # late notes are counted below, not logged line by line
    answers = 0
    deadline_of: dict[tuple[int, int], float] = {}
    try:
        with _Busy(partner if load else None, cfg) as busy:
            t = clock.now() + 0.3
            events = []
            for i in range(notes):
                pitch, vel = 36 + i % 60, 1 + (i // 60) % 127
                t += 0.018 + rng.random() * 0.008  # ~45 notes/s, off the JACK cycle's phase
                events.append((t, t + 0.012, cfg.midi.partner_channel - 1, pitch, vel))
                deadline_of[(pitch, vel)] = t
            gctime.settle()  # (as the jam's session does when it starts: improv/gctime.py)
            sched.start()
            sched.play(events)
            end = events[-1][1] + 0.3
            while clock.now() < end:
                time.sleep(0.05)
            answers = busy.answers
            if busy.error:
                load_note += f" (it failed: {busy.error})"
    except Exception as e:  # noqa: BLE001 - e.g. the model cannot load: say so with the figures
        load_note += f" (could not run: {e})"
    finally:
        gctime.release()
        sched.close()
        sched_log.setLevel(level)
        if listener is not None:
            listener.wait_quiet(0.2, 2.0)
        if sink is not None:
            sink.close()
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
