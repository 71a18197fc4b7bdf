"""`improv bench`'s partner-restart section: a worker killed mid-session is replaced, and
the partner answers again, within how long.

A `ProcessPartner` with the given partner is started and warmed up; its worker is killed
(SIGKILL, as the out-of-memory killer would); the conductor's health check (`check`, every
`WATCH_EVERY_S` in the jam) notices and starts a new worker from the session so far; a call
submitted right after the kill (the lost worker's) is sent again to the new worker and
answered, and so is the next one. Times from the kill, in seconds, for each of `runs` kills.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from improv.bench.answer import calls_for
from improv.bench.parts import CHART, summary
from improv.config import Config
from improv.core.theory.chart import parse_chart
from improv.live.session import WATCH_EVERY_S
from improv.partner.protocol import Job, Result, Setup, answer_settings


def bench_restart(partner: str, cfg: Config, runs: int = 3, timeout_s: float = 20.0) -> dict[str, Any]:
    """Kill the worker `runs` times; seconds from each kill to a new worker ready, and to an answer."""
    from improv.partner.process import ProcessPartner

    chart = parse_chart(CHART, cfg.timing.beats_per_bar)
    material = calls_for(2 * runs + 2, chart, seed=5)
    results: list[Result] = []
    got = threading.Event()

    def on_result(res: Result) -> None:
        results.append(res)
        got.set()

    p = ProcessPartner(partner, cfg.responder.markov_order)
    p.start(lambda: Setup(partner, chart=chart), on_result)
    ready_s, answered_s, recovered, failed = [], [], 0, 0
    n = 0

    def job() -> Job:
        nonlocal n
        call, start, length, cut = material[n % len(material)]
        n += 1
        return Job(n, call, chart, answer_settings(start, length, n, cfg.responder, 4,
                                                    turn=cut is not None), cfg.embrace, cut)

    try:
        for _ in range(runs):
            pid = p.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            t_kill = time.perf_counter()
            got.clear()
            lost = job()
            p.submit(lost, t_kill)  # the lost worker's call: sent again to the new one
            while p.state != "ready" or p.pid == pid:
                if time.perf_counter() - t_kill > timeout_s or p.state == "down":
                    return {"partner": partner, "error": f"no new worker after {timeout_s:g} s (state {p.state})"}
                time.sleep(WATCH_EVERY_S / 10)
                p.check(time.perf_counter())
            ready_s.append(time.perf_counter() - t_kill)
            end = time.perf_counter() + timeout_s
            while not any(r.number == lost.number for r in results) and time.perf_counter() < end:
                time.sleep(0.01)
            recovered += sum(1 for r in results if r.number == lost.number and r.answer is not None)
            failed += sum(1 for r in results if r.answer is None)
            results.clear()
            got.clear()
            p.submit(job(), time.perf_counter())
            if not got.wait(timeout_s) or not results or results[-1].answer is None:
                return {"partner": partner, "error": "the new worker did not answer"}
            answered_s.append(time.perf_counter() - t_kill)
            results.clear()
            time.sleep(0.2)
    finally:
        p.close()
    return {"partner": partner, "runs": runs, "replaced_s": summary(ready_s), "answers_again_s": summary(answered_s),
            "calls_of_the_killed_worker_answered_by_the_new_one": recovered, "calls_failed": failed,
            "restarts": p.restarts,
            "checked_every_s": WATCH_EVERY_S}
