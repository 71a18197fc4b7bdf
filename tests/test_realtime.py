"""Real-time priority for the jam's timing threads (improv/realtime.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from improv import realtime

LINUX_RT = hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_FIFO")


@pytest.fixture(autouse=True)
def _not_wanted_after():
    yield
    realtime.want(False)


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        finally:
            realtime.leave()

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    return out.get("value")


def test_not_wanted_changes_nothing(monkeypatch):
    """Off (the default, and `[timing] realtime = false`): no thread asks, nothing is said."""
    asked = []
    monkeypatch.setattr(os, "sched_setscheduler", lambda *a: asked.append(a), raising=False)
    realtime.want(False)
    assert realtime.enter("scheduler") is False and asked == [] and realtime.status() == ""


def test_a_refusal_is_said_once_with_how_to_allow_it(monkeypatch):
    """A user not allowed real-time priority runs as before and is told why and what to do."""
    def refuse(*a):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse, raising=False)
    monkeypatch.setattr(os, "SCHED_FIFO", 1, raising=False)
    realtime.want(True)
    assert realtime.enter("conductor") is False and realtime.enter("scheduler") is False
    line = realtime.status()
    assert line.startswith("improv's timing threads run at normal priority") and "audio group" in line
    assert "realtime = false" in line and "\n" not in line


@pytest.mark.skipif(not LINUX_RT, reason="real-time scheduling is a Linux call here")
def test_a_timing_thread_gets_it_and_what_it_starts_does_not():
    """Granted, the thread runs under SCHED_FIFO; a thread it starts, and a process it
    spawns (the partner's worker after a restart), run at normal priority."""
    realtime.want(True)

    def body():
        if not realtime.enter("scheduler"):
            return None
        mine = os.sched_getscheduler(0)
        inner = {}
        t = threading.Thread(target=lambda: inner.setdefault("policy", os.sched_getscheduler(0)))
        t.start()
        t.join(10)
        child = subprocess.run([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
                               capture_output=True, text=True, timeout=60)
        return mine, inner.get("policy"), int(child.stdout.strip())

    got = _in_thread(body)
    if got is None:
        pytest.skip(f"this system refuses real-time priority: {realtime.status()}")
    mine, thread_policy, child_policy = got
    assert mine & ~getattr(os, "SCHED_RESET_ON_FORK", 0) == os.SCHED_FIFO
    assert thread_policy == os.SCHED_OTHER and child_policy == os.SCHED_OTHER
    assert realtime.granted() == ["scheduler"] and "real-time priority (SCHED_FIFO 1" in realtime.status()
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # (the test's own thread never asked)


@pytest.mark.skipif(not LINUX_RT, reason="real-time scheduling is a Linux call here")
def test_the_scheduler_thread_asks_as_it_starts():
    """The scheduler's thread (the partner's notes on time) enters real-time priority itself,
    so a scheduler started after a restart gets it too."""
    from improv.live.clock import RealClock
    from improv.live.scheduler import Scheduler

    realtime.want(True)
    sched = Scheduler(RealClock(), [])
    sched.start()
    try:
        tid = sched._thread.native_id
        for _ in range(200):
            if realtime.granted() or realtime.status():
                break
            threading.Event().wait(0.01)
        if not realtime.granted():
            pytest.skip(f"this system refuses real-time priority: {realtime.status()}")
        assert realtime.granted() == ["scheduler"]
        assert os.sched_getscheduler(tid) & ~getattr(os, "SCHED_RESET_ON_FORK", 0) == os.SCHED_FIFO
    finally:
        sched.stop()


@pytest.mark.skipif(not LINUX_RT, reason="real-time scheduling is a Linux call here")
def test_a_thread_already_real_time_is_left_as_it_is(monkeypatch):
    """The synth's callback on JACK runs on JACK's own real-time thread: asking must not lower
    it to our priority."""
    realtime.want(True)
    calls = []
    monkeypatch.setattr(os, "sched_getscheduler", lambda pid: os.SCHED_RR)
    monkeypatch.setattr(os, "sched_setscheduler", lambda *a: calls.append(a))
    assert realtime.enter("synth") is True and calls == [] and realtime.granted() == ["synth"]


@pytest.mark.skipif(not LINUX_RT, reason="real-time scheduling is a Linux call here")
def test_promote_gives_another_thread_real_time_priority_whatever_the_jam_wants():
    """`improv bench`'s measuring listeners read at real-time priority (a synth reads its MIDI
    in JACK's real-time cycle) even where the jam's own threads do not."""
    realtime.want(False)
    ready, done = threading.Event(), threading.Event()
    seen = {}

    def body():
        ready.set()
        done.wait(10)
        seen["policy"] = os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)

    t = threading.Thread(target=body)
    t.start()
    ready.wait(10)
    got = realtime.promote(t)
    done.set()
    t.join(10)
    if not got:
        pytest.skip("this system refuses real-time priority")
    assert seen["policy"] == os.SCHED_FIFO


def test_the_jam_stays_under_a_jack_server_that_is_not_real_time(monkeypatch):
    """Above a JACK server started with --no-realtime our threads delayed its cycle (the
    passthrough's p99 1.5 -> 2.7 ms on a quiet machine, medians of 3 runs): the jam does not ask then, and says why."""
    import improv.live.jackwatch as jackwatch
    from improv.live.ownprocess import ask_realtime
    from improv.config import Config, override

    class Watch:
        def __init__(self, rt):
            self.realtime = rt

    from improv import stops

    monkeypatch.setattr(stops, "OWN_PROCESS", True)  # (the jam's own process: a test's keeps its priorities)
    monkeypatch.setenv("IMPROV_MIDI_API", "jack")  # (or no ALSA sequencer, as on the CI machines)
    monkeypatch.setattr(sys, "platform", "linux")
    for server_rt, wanted in ((False, False), (True, True)):
        monkeypatch.setattr(jackwatch, "shared_watch", lambda say=None, rt=server_rt: Watch(rt))
        ask_realtime(Config())
        assert realtime._wanted is wanted
    monkeypatch.setattr(jackwatch, "shared_watch", lambda say=None: Watch(False))
    ask_realtime(Config())
    assert "JACK server, which is not real-time" in realtime.status()
    asked = []
    monkeypatch.setattr(jackwatch, "shared_watch", lambda say=None: asked.append(1))
    ask_realtime(override(Config(), "midi", api="alsa"))  # (ALSA: no JACK server asked about)
    assert realtime._wanted and asked == []
    monkeypatch.delenv("IMPROV_MIDI_API")
    monkeypatch.setattr(os, "access", lambda path, mode: True)  # (an ALSA sequencer to use: ALSA comes first)
    ask_realtime(Config())
    assert realtime._wanted and asked == []
    ask_realtime(override(Config(), "timing", realtime=False))
    assert not realtime._wanted and realtime.status() == ""


def test_a_command_run_in_a_tests_process_changes_no_priority_and_arms_no_deadline(monkeypatch):
    """`main([...])` in another program's process (a test) neither raises its threads' priority
    nor arms the exit deadline: armed in CI's pytest, a demo's port close past 2 s ended the whole
    test run with status 0, its later tests never run."""
    import improv.live.exitdeadline as exitdeadline
    from improv import stops
    from improv.live.ownprocess import ask_realtime, let_go
    from improv.config import Config

    assert stops.OWN_PROCESS is False  # (pytest calls main with argv)
    armed = []
    monkeypatch.setattr(exitdeadline, "exit_after", lambda s, status: armed.append(status) or (lambda: None))
    let_go([], 0)
    ask_realtime(Config())
    assert armed == [] and realtime._wanted is False
    monkeypatch.setattr(stops, "OWN_PROCESS", True)
    let_go([], 0)
    assert armed == [0]
