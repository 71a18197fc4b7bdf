"""`improv bench`'s answer section: call end -> answer ready, through the call the jam makes.

Each call goes through `PartnerCore.answer` (learn, the embrace plan in the configured mode,
the responder, the explanation), as in the partner's worker process: some calls carry a
clear outside note, so some answers are re-harmonised; every third call is a trading turn
(a 4-bar call, the answer cut to the partner's 4 bars). As the jam does, the call is read
ahead in the rest that ends it and the session so far after each answer, untimed.

Three measurements of the same calls:
- `process`: through a `ProcessPartner` (the worker process the jam uses): submit -> the
  `Result` back on the receiving thread: compute plus pipe and pickling. The headline: a
  call whose end the jam could not foresee (a note played just before the gap was full,
  the end-of-call control, the longest call) waits this long.
- `process_drafted`: the same, with the call's end foreseen: the read in the rest carries
  the job the call becomes (`Read.draft`), as the jam's does when the player stops, and the
  call is handed over when the jam would notice its end (`DRAFT_REST_S` later): what the
  player waits for when the rest did end the call.
- `in_process`: `PartnerCore.answer` alone (the compute), and the streamed first note
  (what a jam that sent notes as they are decoded would wait for).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import replace
from typing import Any

from improv.bench.parts import CHART, TEMPO, random_call, summary
from improv.config import Config
from improv.core.embrace.plan import plan_answer
from improv.core.theory.chart import Chart, parse_chart
from improv.core.theory.notes import Phrase
from improv.partner.protocol import Job, Read, Result, Setup, answer_settings

DRAFT_REST_S = 0.75 * 60.0 / TEMPO  # the jam reads a quarter beat into the rest; a 1-beat gap ends the call
OUTSIDE_EVERY = 3  # one call in three ends on a long, accented note a half step off the chord
TRADE_EVERY = 3  # one call in three (offset by one) is a trading turn


def calls_for(n: int, chart: Chart, seed: int = 7) -> list[tuple[Phrase, float, float, float | None]]:
    """`n` (call, answer start, answer length, cut) on one timeline, as a session plays them."""
    rng = random.Random(seed)
    out = []
    at = 0.0
    for i in range(n):
        trade = i % TRADE_EVERY == 1
        bars = 4 if trade else rng.choice([1, 2, 4])
        call = random_call(rng, bars=bars, start=at)
        if i % OUTSIDE_EVERY == 0:
            call = _with_mistake(call, chart)
        if trade:
            start, length, cut = at + bars * 4.0, 16.0, 16.0
        else:
            start, length, cut = float(int(call.end) + 1), 16.0, None
        out.append((call, start, length, cut))
        at = start + length + rng.choice([0.0, 4.0])
    return out


def _with_mistake(call: Phrase, chart: Chart) -> Phrase:
    """The call with its last bar opening on a long accented note a half step above a chord tone
    that is not in the chord (the clear mistake the embrace mode builds on)."""
    bar = max(0.0, (call.length // 4 - 1) * 4)
    chord = chart.chord_at(call.start + bar)
    tones = chord.chord_tones() if chord is not None else {0}
    pc = next(((t + 1) % 12 for t in sorted(tones) if (t + 1) % 12 not in tones), 1)
    pitch = 60 + pc
    kept = [n for n in call.notes if not (bar - 0.01 <= n.start < bar + 2.0)]
    return Phrase.of([(n.pitch, n.start, n.duration, n.velocity) for n in kept] + [(pitch, bar, 1.5, 120)],
                     start=call.start, length=call.length)


def _kind(res: Result, cut: float | None) -> str:
    if cut is not None:
        return "trading"
    if res.substitute is not None:
        return "reharmonised"
    return "embraced" if res.lines else "plain"


def bench_answer(name: str, calls: int, cfg: Config, process: bool = True, responder: Any = None) -> dict[str, Any]:
    """Answer-ready figures for partner `name` over `calls` calls (ms); see the module doc.
    `responder`: this one in process instead of the one the engine builds for `name` (no
    worker-process figures then: the worker builds its own)."""
    from improv.partner.build import make_responder
    from improv.partner.core import PartnerCore

    chart = parse_chart(CHART, cfg.timing.beats_per_bar)
    material = calls_for(calls, chart)
    process = process and responder is None
    try:
        core = PartnerCore(responder or make_responder(replace(cfg.responder, name=name), seed=1))
    except Exception as e:  # noqa: BLE001 - e.g. ModelError: no weights
        return {"skipped": f"partner {name!r} cannot load: {e}"}
    core.setup(Setup(name, cfg.responder.markov_order, 1, chart=chart))
    out: dict[str, Any] = {"partner": name, "mode": cfg.embrace.mode, "calls": calls,
                           "in_process": _in_process(core, material, chart, cfg)}
    if process:
        out["process"] = _through_process(name, material, chart, cfg)
        if core.drafts:
            out["process_drafted"] = _through_process(name, material, chart, cfg, draft=True)
    return out


def _jobs(material: list, chart: Chart, cfg: Config) -> list[Job]:
    return [Job(i + 1, call, chart, answer_settings(start, length, 100 + i, cfg.responder, 4, TEMPO, 1.0,
                                                    turn=cut is not None), cfg.embrace, cut)
            for i, (call, start, length, cut) in enumerate(material)]


def _in_process(core: Any, material: list, chart: Chart, cfg: Config) -> dict[str, Any]:
    by_kind: dict[str, list[float]] = {}
    ready, first, notes = [], [], []
    stream = getattr(core.responder, "stream", None)
    for job in _jobs(material, chart, cfg):
        core.read(Read(job.call, chart))  # in the rest that ends the call: untimed
        if stream is not None:
            t1 = time.perf_counter()  # a jam that streamed the answer: the plan, then the first decoded note
            s = core.memory.with_history(job.settings, job.call)
            plan = plan_answer(job.call, chart, s.start, s.length, job.embrace, s.seed, s.low, s.high, s.tempo)
            next(iter(stream(job.call, plan.chart, replace(s, constraints=plan.constraints))), None)
            first.append((time.perf_counter() - t1) * 1000.0)
        t0 = time.perf_counter()
        res = core.answer(job)
        ms = (time.perf_counter() - t0) * 1000.0
        ready.append(ms)
        by_kind.setdefault(_kind(res, job.cut), []).append(ms)
        notes.append(len(res.answer.notes) if res.answer is not None else 0)
        core.after(chart)  # the session so far, between calls: untimed
    out: dict[str, Any] = {"ready_ms": summary(ready), "notes_per_answer": statistics.mean(notes) if notes else 0,
                           "by_kind_ms": {k: summary(v) for k, v in sorted(by_kind.items())}}
    if first:
        out["first_note_ms"] = summary(first)
    return out


def _through_process(name: str, material: list, chart: Chart, cfg: Config, draft: bool = False) -> dict[str, Any]:
    """Submit -> result through the worker process; `draft`: the rest's read carries the job."""
    from improv.partner.process import ProcessPartner

    got: dict[int, tuple[float, Result]] = {}
    arrived = threading.Event()

    def on_result(res: Result) -> None:
        got[res.number] = (time.perf_counter(), res)
        arrived.set()

    partner = ProcessPartner(name, cfg.responder.markov_order)
    try:
        partner.start(lambda: Setup(name, cfg.responder.markov_order, 1, chart=chart), on_result)
    except Exception as e:  # noqa: BLE001
        return {"skipped": f"the partner's process did not start: {e}"}
    ready, by_kind, notes, lost, drafted = [], {}, {}, 0, 0
    compute, pipe = [], []  # the worker's own time for each, and what the pipe and pickling added
    try:
        for job in _jobs(material, chart, cfg):
            partner.read(Read(job.call, chart, job if draft else None))
            time.sleep(DRAFT_REST_S if draft else 0.02)  # the rest in which the jam notices the call's end
            arrived.clear()
            t0 = time.perf_counter()
            partner.submit(job, t0)
            if not arrived.wait(5.0) or job.number not in got:
                lost += 1
                continue
            t1, res = got.pop(job.number)
            drafted += res.drafted
            ms = (t1 - t0) * 1000.0
            ready.append(ms)
            compute.append(res.compute_ms)
            pipe.append(ms - res.compute_ms)
            kind = _kind(res, job.cut)
            by_kind.setdefault(kind, []).append(ms)
            notes.setdefault(kind, []).append(len(res.answer.notes) if res.answer is not None else 0)
            time.sleep(0.02)  # the session so far is read while the answer plays
    finally:
        partner.close()
    out = {"ready_ms": summary(ready), "by_kind_ms": {k: summary(v) for k, v in sorted(by_kind.items())},
           "worker_compute_ms": summary(compute), "pipe_ms": summary(pipe),
           "notes_per_answer_by_kind": {k: statistics.mean(v) for k, v in sorted(notes.items())}, "lost": lost}
    if draft:
        out["drafted"] = drafted  # of the answers timed: those the partner had ready from the rest
    return out

