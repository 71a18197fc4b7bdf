"""Real-time priority for the jam's timing threads (Linux), so that a busy machine does not
make the partner late or the passthrough lag.

A note's send time, the passthrough and the player's input are handled by a few threads of
the real-time process: the conductor (the calling thread of `run_conductor`), the scheduler,
the MIDI input readers, the MIDI clock sender, the partner's receiver, and the built-in
synth's audio callback (PortAudio runs it on a thread of normal priority under ALSA; a
thread already real-time, JACK's, is left as it is). At normal priority
they share the cores with everything else: with two other processes spinning on a 2-core
machine the passthrough's p99 reached 72 ms and the scheduler dropped notes as late.
`enter()` puts the calling thread under `SCHED_FIFO` at `PRIORITY`: above every normal
process, below JACK's own real-time threads (JACK's default is 10 and up, PipeWire's 20 and
up), as audio programs do. `SCHED_RESET_ON_FORK` keeps it to that thread: the partner's
worker process, the stage view and any thread it starts run at normal priority (the model
computes at a lower one still, `improv/partner/worker.py`).

The system decides: root, or a user allowed real-time priority (`ulimit -r` above 0: on
Debian and Ubuntu, membership of the `audio` group that the jackd2 package sets up), gets
it; anyone else is told once why not and how to allow it, and the jam runs as before.
Elsewhere (macOS, Windows) there is no such call and nothing is said. `[timing] realtime
= false` keeps every thread at normal priority.

Not above a JACK server that is not real-time itself (`jackd --no-realtime`): our threads
would then delay the server's cycle, which carries the passthrough and the partner's notes
(on a quiet 2-core machine with a 64-frame server, the passthrough's p99 went from 1.5 to
2.7 ms, medians of 3 runs). The jam asks JACK first (improv/live/ownprocess.py, `ask_realtime`).

The setting is the process's (`want`), read by each timing thread as it starts (`enter`),
so that threads started later (a port reopened, the partner's receiver after a restart)
get it too.
"""

from __future__ import annotations

import os
import threading

PRIORITY = 1  # the lowest real-time priority: above all normal processes, under JACK's and PipeWire's

_lock = threading.Lock()
_wanted = False
_granted: set[str] = set()  # names of the threads that got it
_refused: str = ""  # why not, once refused
_held: str = ""  # why not asked (`want(False, why)`), said at the start


def want(on: bool, why: str = "") -> None:
    """Whether the timing threads started from now on (and `enter`'s callers) ask for
    real-time priority (the jam sets it from `[timing] realtime`; off by default, so that
    tests and tools that build sessions run as before). `why`: with `on` false, the line
    the start says (e.g. the JACK server is not real-time)."""
    global _wanted, _refused, _held
    with _lock:
        if on and not _wanted:
            _refused = ""
            _granted.clear()
        _wanted = bool(on)
        _held = "" if on else why


def enter(name: str | None = None) -> bool:
    """Put the calling thread under real-time scheduling if the process wants it and the
    system allows; returns whether it runs so now. Never raises."""
    global _refused
    if not _wanted or not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_FIFO"):
        return False
    policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
    try:
        now = os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
        if now in (os.SCHED_FIFO, getattr(os, "SCHED_RR", os.SCHED_FIFO)):
            with _lock:  # (a thread of JACK's, the synth's callback there: already above us, left as it is)
                _granted.add(name or threading.current_thread().name)
            return True
        os.sched_setscheduler(0, policy, os.sched_param(PRIORITY))
    except OSError as e:
        with _lock:
            if not _refused:
                _refused = refusal(e)
        return False
    with _lock:
        _granted.add(name or threading.current_thread().name)
    return True


def promote(thread: threading.Thread) -> bool:
    """Real-time priority for another thread of this process (a measuring listener's reader in
    `improv bench`: a synth reads its MIDI in JACK's real-time cycle, and a reader at normal
    priority added its own delays to what it measured), whatever `want` says; returns whether
    it got it. Linux; never raises."""
    tid = getattr(thread, "native_id", None)
    if tid is None or not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_FIFO"):
        return False
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0), os.sched_param(PRIORITY))
    except OSError:
        return False
    return True


def leave() -> None:
    """Back to normal priority for the calling thread (before the close's slow work)."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_OTHER"):
        try:
            if os.sched_getscheduler(0) != os.SCHED_OTHER:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            pass


def refusal(e: OSError) -> str:
    """Why real-time priority was refused, and how to allow it, in one line."""
    limit = None
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    except (ImportError, AttributeError, OSError, ValueError):
        pass
    why = f"your real-time priority limit is {limit}" if limit is not None else str(e.strerror or e)
    return (f"improv's timing threads run at normal priority ({why}): a busy machine can make the partner "
            "late; allow real-time priority (Debian/Ubuntu: add yourself to the audio group, "
            "`sudo usermod -aG audio $USER`, and log in again) or set [timing] realtime = false to stop this line")


def status() -> str:
    """One line for the start (after the conductor's `enter`): that the timing threads run at
    real-time priority, or why they don't (empty when not asked for or not available here)."""
    with _lock:
        if not _wanted:
            return _held
        if _granted:
            return f"improv's timing threads run at real-time priority (SCHED_FIFO {PRIORITY}, under JACK's)"
        return _refused


def granted() -> list[str]:
    """The names of the threads that got real-time priority so far."""
    with _lock:
        return sorted(_granted)
