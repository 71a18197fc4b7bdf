"""The partner in its own process, seen from the real-time process.

`ProcessPartner` starts `python -m improv.partner.worker` (improv/partner/worker.py), sends
it the session so far, and waits for its warm-up; then calls and reads go down its stdin
and answers come back on its stdout, read by a thread of their own ("improv-partner-rx")
that hands each `Result` to the session. The real-time process never imports the model
and never waits behind it: Python's GIL is not shared with the partner.

If the worker dies or stalls (a call unanswered for `stall_s`), it is killed and a new one
starts from the session so far, on a thread of its own, while the jam goes on. A worker only
slow because the machine is busy is let finish, for up to `slow_s` (`improv.partner.health`).
The calls a dead worker had not answered go to the new one (once: a call that two workers
died on, or that a stalled one sat on, gets a `Result` with an error). A worker that keeps
failing is given up for `RESTART_WINDOW_S`; then one more start is tried. While it is down, a
call gets its error `Result` at once.

Threads: `start`, `submit`, `read`, `rehome`, `check`, `close` on the conductor; `dropped` on any.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from typing import Any, BinaryIO, Callable

from improv.core.theory.notes import Phrase
from improv.errors import ModelError
from improv import realtime
from improv.partner import wire
from improv.partner.health import Vitals
from improv.partner.protocol import Alive, Closing, Dropped, History, Job, Read, Ready, Result, Setup, Silence

log = logging.getLogger("improv.partner")

STALL_S = 2.0  # a call unanswered this long means a stuck worker (unless it is only slow: see SLOW_S)
SLOW_S = 15.0  # how long a worker late but working (pulsing, its CPU time moving) is let finish
READY_TIMEOUT_S = 30.0  # the first start may read the weights from a cold disk
START_POLL_S = 0.05  # how often the first start looks whether the session was asked to stop (Ctrl-C)
CLOSE_WAIT_S = 0.5  # how long closing lets the worker (or a replacement starting) end by itself: then killed
REAP_S = 1.0  # how long a killed worker is waited for (a process stuck in the kernel is left behind)
RESTARTS, RESTART_WINDOW_S = 3, 60.0  # more restarts than this within the window: give up


class _Worker:
    """One worker process and the thread reading its answers."""

    def __init__(self, python: str, on_message: Callable[["_Worker", Any], None]) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([python, "-m", "improv.partner.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, bufsize=0,
                                     start_new_session=os.name == "posix")  # the terminal's Ctrl-C is ours
        self.stdin: BinaryIO = self.proc.stdin  # type: ignore[assignment]
        self.ready = threading.Event()
        self.hello: Ready | None = None
        self.gone = False
        self.vitals = Vitals(self.proc.pid)  # slow or stuck, when late (`ProcessPartner.check`)
        self._on_message = on_message
        # What goes to it waits in an outbox that a thread of its own writes out: a worker that
        # stops reading (stuck) fills the pipe, and the conductor must never block on it.
        self._outbox: deque[tuple[float, Any]] = deque()  # (queued at, monotonic; message)
        self._writing_since: float | None = None
        self._closing = False
        self._out = threading.Condition()
        self._rx = threading.Thread(target=self._read, name="improv-partner-rx", daemon=True)
        self._rx.start()
        self._tx = threading.Thread(target=self._write, name="improv-partner-tx", daemon=True)
        self._tx.start()

    def _read(self) -> None:
        realtime.enter("partner's answers")  # (an answer waiting here on a busy machine is an answer late)
        out = self.proc.stdout
        try:
            while True:
                msg = wire.recv(out)  # type: ignore[arg-type]
                if isinstance(msg, Ready):
                    self.hello = msg
                    self.ready.set()
                    continue
                if isinstance(msg, Alive):
                    self.vitals.pulse(msg)
                    continue
                try:
                    self._on_message(self, msg)
                except Exception:  # noqa: BLE001 - the session's fault, not the worker's: say so, read on
                    log.exception("handling the partner's %s failed", type(msg).__name__)
        except (EOFError, OSError, ValueError):  # the pipe closed, or what came through it is not the wire's
            pass
        finally:
            self.gone = True
            self.ready.set()

    def send(self, msg: Any) -> bool:
        """Queue `msg` for the worker (never blocks). A `Read` replaces one not written yet
        (each holds the whole call so far). False once the worker is gone."""
        if self.gone:
            return False
        with self._out:
            if isinstance(msg, Read) and any(isinstance(m, Read) for _, m in self._outbox):
                self._outbox = deque((t, m) for t, m in self._outbox if not isinstance(m, Read))
            self._outbox.append((time.monotonic(), msg))
            self._out.notify()
        return True

    def _write(self) -> None:
        """The writing thread: the outbox to the worker's stdin, in order; at `stop`, what is
        left, then EOF."""
        try:
            while True:
                with self._out:
                    while not self._outbox and not self._closing:
                        self._out.wait()
                    if not self._outbox:
                        break
                    since, msg = self._outbox.popleft()
                    self._writing_since = since
                wire.send(self.stdin, msg)
                with self._out:
                    self._writing_since = None
        except (OSError, ValueError):
            self.gone = True
        finally:
            try:
                self.stdin.close()  # EOF: the worker ends by itself
            except OSError:
                pass

    def waiting_s(self) -> float:
        """How long the oldest message not yet taken by the worker has waited (0: none): a
        worker that stops reading its stdin is stuck even with no call outstanding."""
        with self._out:
            oldest = self._writing_since if self._writing_since is not None else \
                (self._outbox[0][0] if self._outbox else None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def alive(self) -> bool:
        return not self.gone and self.proc.poll() is None

    def stop(self, kill: bool = False, wait_s: float = 2.0) -> None:
        """End the worker: what waits for it is written, then a `Closing` and EOF, and it ends
        by itself (killed at once when `kill`, else when it has not ended within `wait_s`). Never raises,
        and takes about `wait_s` + `REAP_S` at most, whatever the worker does: each wait below
        is bounded by one deadline (a worker stopped or mid-answer at close used to cost a wait
        for the writer, one for the exit, one after the kill and one for the reader, 2 s each).
        A worker that will not even die (stuck in the kernel) is left behind."""
        with self._out:
            self._closing = True
            if kill:
                self._outbox.clear()
            else:  # (its EOF is then the session's end: not the jam's death, which `Setup.silence` is for)
                self._outbox.append((time.monotonic(), Closing()))
            self._out.notify()
        if kill:
            self.proc.kill()  # (a write blocked on its full pipe fails, and the writer ends)
        try:  # (no join of the writer first: blocked on a full pipe, it ends only with the worker)
            self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.proc.wait(timeout=REAP_S)
            except subprocess.TimeoutExpired:
                self.gone = True
                return
        for t in (self._tx, self._rx):  # (the pipes are closed now: both end at once)
            t.join(timeout=REAP_S / 2)


class ProcessPartner:
    """The partner in a worker process (see the module doc).

    Args:
        responder: "model" or "markov".
        markov_order: the Markov responder's longest context.
        stall_s: seconds a call may go unanswered before the worker counts as stuck.
        slow_s: seconds a call may go unanswered by a worker that is working on it (slow: a
            busy machine) before it counts as stuck all the same.
        python: the interpreter to run the worker with (default: this one).
    """

    def __init__(self, responder: str, markov_order: int = 3, *, stall_s: float = STALL_S,
                 slow_s: float = SLOW_S, python: str | None = None) -> None:
        self.responder, self.markov_order, self.stall_s, self.slow_s = responder, markov_order, stall_s, slow_s
        self.slow = False  # the worker is late with a call but working on it
        self._slow_said: float | None = None  # when that was last said (once a minute at most: `RESTART_WINDOW_S`)
        self.python = python or sys.executable
        self.name = responder
        self.reads_ahead = False
        self.drafts = False  # it answers a call's draft in the rest (`Read.draft`)
        self.state = "starting"  # -> ready; restarting; down
        self.restarts = 0
        self._w: _Worker | None = None
        self._lock = threading.Lock()
        self._outstanding: dict[int, tuple[float, Job]] = {}  # job number -> (sent at, job)
        self._backlog: list[Any] = []  # sent while a new worker starts
        self._restarted_at: deque[float] = deque()
        self._retried: set[int] = set()  # job numbers already sent again after a worker died
        self._down_since: float | None = None
        self._make_setup: Callable[[], Setup] = Setup
        self._on_result: Callable[[Result], None] = lambda r: None
        self._say: Callable[[str], None] = lambda s: None
        self._starter: threading.Thread | None = None
        self._closed = False
        self._closing = threading.Event()  # set by `close`: a replacement starting gives up
        self._fresh = False
        # Read while the first start waits for the warm-up (conductor): true gives the start up at once,
        # the worker killed (the session's `stop_reason`, set by Ctrl-C: the model can take seconds to load).
        self.stop_asked: Callable[[], bool] = lambda: False

    @property
    def pid(self) -> int | None:
        return self._w.proc.pid if self._w is not None else None

    # --- life cycle (conductor) ---------------------------------------------------------
    def start(self, make_setup: Callable[[], Setup], on_result: Callable[[Result], None],
              say: Callable[[str], None] = lambda s: None) -> None:
        """Start the worker and wait for its warm-up. Once `stop_asked()` is true the start is
        given up at once, the worker killed, and the partner is closed (it answers nothing).

        Raises:
            ModelError: the worker could not build its partner (the model is missing, say),
                or did not get ready in time.
        """
        self._make_setup, self._on_result, self._say = make_setup, on_result, say
        w = self._launch(make_setup())
        deadline = time.monotonic() + READY_TIMEOUT_S
        try:
            while not w.ready.wait(START_POLL_S) and time.monotonic() < deadline:
                if self.stop_asked():
                    w.stop(kill=True, wait_s=1.0)
                    self._closed = True
                    self._closing.set()
                    self.state = "down"  # (a call gets its error at once; `check` tries no other start)
                    return
        except BaseException:  # (a third Ctrl-C raises here: the worker is not the partner's yet, so not closed)
            w.stop(kill=True, wait_s=1.0)
            raise
        if not w.ready.is_set() or w.hello is None:
            ended = w.gone  # (its pipe closed: it ended before it was ready, at once or later)
            w.stop(kill=not ended)
            other = "" if self.responder == "markov" else "; try --responder markov"
            if ended:
                raise ModelError(f"the partner's process ended as it started (exit code {w.proc.returncode}; "
                                 f"what it printed is above){other}")
            raise ModelError(f"the partner's process was not ready within {READY_TIMEOUT_S:g} s{other}")
        if w.hello.error:
            w.stop()
            raise ModelError(w.hello.error)
        self._took(w)

    def _launch(self, setup: Setup) -> _Worker:
        w = _Worker(self.python, self._message)
        w.send(setup)
        return w

    def _took(self, w: _Worker) -> None:
        assert w.hello is not None
        with self._lock:
            self._w = w
            self.name, self.reads_ahead, self.state = w.hello.name, w.hello.reads_ahead, "ready"
            self.drafts = w.hello.drafts
            backlog, self._backlog = self._backlog, []
            self._fresh = True  # calls waiting for it are timed from the next check
            for msg in backlog:  # (under the lock, never blocking: nothing sent from now on overtakes them)
                w.send(msg)

    def close(self) -> None:
        """End the worker: it is given `CLOSE_WAIT_S` to end by itself, then killed (an
        answer it is still working on will not be played: the session is over). A replacement
        still starting is given up (killed) within the same wait: closing never waits for a
        warm-up, nor for a worker that is stopped or slow on a busy machine (the player is
        waiting for "session ended")."""
        deadline = time.monotonic() + CLOSE_WAIT_S
        self._closed = True
        self._closing.set()
        if self._starter is not None:
            self._starter.join(timeout=CLOSE_WAIT_S + REAP_S)  # (it kills its worker within `REAP_S`)
        with self._lock:
            w = self._w
        if w is not None:
            w.stop(wait_s=max(0.0, deadline - time.monotonic()))

    # --- talking to it ------------------------------------------------------------------
    def submit(self, job: Job, now: float) -> None:
        """Send a call to answer (conductor); its `Result` arrives on the receiving thread
        (or at once, with an error, while the partner is down)."""
        if self.state == "down":
            self._on_result(Result(job.number, None, error="the partner is down"))
            return
        with self._lock:
            self._outstanding[job.number] = (now, job)
        self._send(job)

    def read(self, r: Read) -> None:
        """Send the call so far to read in a rest (while a new worker starts, the latest is
        kept for it: a rest that began in the restart is still drafted)."""
        if self.state in ("ready", "restarting"):
            self._send(r)

    def dropped(self, number: int) -> None:
        """The answer to call `number` was not played (any thread)."""
        self._send(Dropped(number))

    def rehome(self, phrases: tuple[Phrase, ...]) -> None:
        """The session so far on bars counted again (conductor; while a new worker starts,
        kept for it: its `Setup` was made on the old bars)."""
        self._send(History(tuple(phrases)))

    def silence(self, targets: tuple[tuple[str, str], ...]) -> None:
        """The ports the worker silences should the jam die unclosed, anew (`Setup.silence`;
        conductor)."""
        self._send(Silence(tuple(targets)))

    def _send(self, msg: Any) -> None:
        with self._lock:
            w = self._w if self.state == "ready" else None
            if w is None:
                if self.state == "restarting":  # (of the reads only the latest: the rest so far)
                    self._backlog = [m for m in self._backlog if not isinstance(msg, Read) or not isinstance(m, Read)]
                    self._backlog.append(msg)
                return
            w.send(msg)  # (a dead worker is noticed by `check`)

    def _message(self, w: _Worker, msg: Any) -> None:
        """A message from worker `w` (its receiving thread)."""
        if not isinstance(msg, Result):
            return
        with self._lock:
            if w is not self._w or self._outstanding.pop(msg.number, None) is None:
                return  # from a worker given up on, or for a call already failed
        self._on_result(msg)

    # --- health (conductor) -------------------------------------------------------------
    def check(self, now: float) -> None:
        """Replace a dead or stuck worker (the new one starts on a thread of its own); try
        once more a partner given up on `RESTART_WINDOW_S` ago."""
        if self._closed:
            return
        if self.state == "down":
            if self._down_since is None:
                self._down_since = now
            elif now - self._down_since >= RESTART_WINDOW_S:
                self._down_since = None
                self._restarted_at.clear()
                self._start_new("was down for a while: trying it again")
            return
        if self.state != "ready":
            return
        w = self._w
        assert w is not None
        with self._lock:
            if self._fresh:
                self._outstanding = {n: (now, job) for n, (_, job) in self._outstanding.items()}
                self._fresh = False
            oldest = min((t for t, _ in self._outstanding.values()), default=None)
        died = not w.alive()
        unread = w.waiting_s()
        late = max(now - oldest if oldest is not None else 0.0, unread)
        # (every look: the share of a core needs one from before; the threads from half the
        # wait on, so that the first look that judges has a look before it that saw them)
        w.vitals.sample(threads=late >= 0.5 * self.stall_s)
        if not died and late < self.stall_s:
            self.slow = False
            return
        if not died and late < self.slow_s and w.vitals.working(self.stall_s):
            if not self.slow and (self._slow_said is None or now - self._slow_said >= RESTART_WINDOW_S):
                self._slow_said = now
                self._say(f"the partner is slow, the machine is busy: {late:.1f} s late and still working, so it "
                          f"is let finish")
            self.slow = True
            return
        self.slow = False
        why = (f"stopped (exit code {w.proc.poll()})" if died
               else f"did not answer for {now - oldest:.1f} s" if oldest is not None and now - oldest >= self.stall_s
               else f"took nothing it was sent for {unread:.1f} s")
        share = None if died else w.vitals.cpu_share(self.stall_s)
        if share is not None:  # (what told it from a slow one: blocked, a loop, or too late even so)
            why += f", using {100 * share:.0f} % of a core"
        elif not died and w.vitals.pulses:
            why += f", its pulse gone for {time.monotonic() - w.vitals.pulses[-1][0]:.1f} s"
        w.stop(kill=True, wait_s=1.0)
        while self._restarted_at and now - self._restarted_at[0] > RESTART_WINDOW_S:
            self._restarted_at.popleft()
        if len(self._restarted_at) >= RESTARTS:
            self._fail_outstanding("the partner's process was given up on")
            self.state, self._down_since = "down", now
            self._say(f"the partner {why} again: the jam goes on without answers (trying it again in "
                      f"{RESTART_WINDOW_S:g} s)")
            return
        self._say(f"the partner {why}: starting a new one")  # (before what it costs: the calls it had)
        self._fail_outstanding("the partner's process was restarted", retry=died)
        self._restarted_at.append(now)
        self._start_new()

    def _start_new(self, why: str | None = None) -> None:
        self.restarts += 1
        self.state = "restarting"
        if why is not None:
            self._say(f"the partner {why}")
        with self._lock:  # (the session said again on new bars, for one that failed to start: in the Setup now)
            self._backlog = [m for m in self._backlog if not isinstance(m, History)]
        setup = self._make_setup()
        self._starter = threading.Thread(target=self._restart, args=(setup,), name="improv-partner-start",
                                         daemon=True)
        self._starter.start()

    def _restart(self, setup: Setup) -> None:
        """Start a replacement worker (its own thread). Whatever goes wrong (the process
        cannot even be made: out of memory, the interpreter gone) leaves the partner down,
        to be tried again, never "restarting" for good; closing the partner gives it up."""
        w = None
        why = "the partner's process could not start again"
        try:
            w = self._launch(setup)
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not w.ready.wait(0.05) and not self._closing.is_set() and time.monotonic() < deadline:
                pass
            if w.ready.is_set() and w.hello is not None and not w.hello.error and not self._closing.is_set():
                self._took(w)
                self._say(f"the partner is back (process {w.proc.pid})")
                return
            if w.hello is not None and w.hello.error:  # (it started, and could not build its partner)
                why = f"{why} ({w.hello.error})"
        except Exception as e:  # noqa: BLE001 - on this thread nothing else would catch it
            why = f"{why} ({e})"
        if w is not None:
            w.stop(kill=True, wait_s=1.0)
        if self._closing.is_set():
            return  # (the session is ending: nothing more to say or to answer)
        self._fail_outstanding(why)
        self.state, self._down_since = "down", None  # (`check` starts the wait on the session's clock)
        self._say(f"{why}: the jam goes on without answers (trying it again in {RESTART_WINDOW_S:g} s)")

    def _fail_outstanding(self, why: str, retry: bool = False) -> None:
        """The calls a failed worker had not answered: sent to the next one (`retry`, each
        call once), else answered with the error `why`."""
        with self._lock:
            again = sorted(n for n in self._outstanding if retry and n not in self._retried)
            self._retried.update(again)
            lost = sorted(n for n in self._outstanding if n not in again)
            for n in lost:
                del self._outstanding[n]
            # (a read waiting for a worker that could not start is of a rest long past by the next)
            self._backlog = [m for m in self._backlog if not isinstance(m, (Job, Read))] + \
                [self._outstanding[n][1] for n in again]
        for number in lost:
            self._on_result(Result(number, None, error=why))

    @property
    def busy(self) -> bool:
        """Calls sent and not answered yet."""
        with self._lock:
            return bool(self._outstanding)
