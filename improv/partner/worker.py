"""The partner's worker process: `python -m improv.partner.worker`, started by
`ProcessPartner`. It reads messages on stdin (a `Setup` first), writes a `Ready`, then a
`Result` for every `Job`, on its stdout (anything else printed goes to stderr).

Reads queued behind a newer read or a call are skipped (only the freshest matters), and the
session is read ahead after an answer only when nothing else is waiting. Python's collector
runs only while nothing waits (`improv.gctime.IdleCollector`), never inside an answer.
Ctrl-C belongs to the real-time process, which ends the worker by closing its stdin.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from dataclasses import replace
from typing import Any, BinaryIO


WORKER_NICE = 5  # a lower CPU priority than the real-time process (POSIX)


def main() -> int:
    """Serve one session (worker process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C and Ctrl-\ are the jam's: it closes us
    for name in ("SIGQUIT", "SIGBREAK"):  # (SIGBREAK: Windows' Ctrl-Break, which the console sends us too)
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    if hasattr(signal, "SIGTSTP"):
        signal.signal(signal.SIGTSTP, signal.SIG_IGN)  # Ctrl-Z: the jam plays on (it says so), and so do we
    if hasattr(os, "nice"):
        try:  # the real-time process comes first when the two cores are busy
            os.nice(WORKER_NICE)
        except OSError:
            pass
    out = Outbox(os.fdopen(os.dup(sys.stdout.fileno()), "wb"))
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the messages
    from improv.partner.protocol import Closing, Dropped, History, Job, Read, Ready, Setup, Silence

    inbox = _Inbox()
    setup = inbox.get()
    if not isinstance(setup, Setup):
        return 2
    try:
        core = _build(setup)
    except Exception as e:  # noqa: BLE001 - said to the session in one line, which refuses to start
        out.send(Ready("", False, os.getpid(), error=str(e) or type(e).__name__))
        return 1
    from improv import gctime

    gctime.settle()  # (the model read and warmed up: later collections walk only the session's own objects)
    collector = gctime.IdleCollector()  # (no collection inside an answer, nor in reading the call that asks it)
    closing = ended = False
    targets = setup.silence  # (what `silence` reaches should the jam die unclosed)
    try:
        out.send(Ready(core.name, core.reads_ahead, os.getpid(), drafts=core.drafts))
        pulse(out)
        while not ended:
            if inbox.ready():
                collector.busy()
            else:
                collector.idle()
            msgs = [inbox.get()]
            msgs += inbox.waiting()
            for i, m in enumerate(msgs):
                later = msgs[i + 1:]
                if m is None:
                    ended = True
                elif isinstance(m, Closing):
                    closing = True
                elif isinstance(m, Silence):
                    targets = m.targets
                elif isinstance(m, Read):
                    if not any(isinstance(x, (Read, Job)) for x in later):
                        core.read(m, inbox.newer_than)
                elif isinstance(m, Job):
                    t = time.perf_counter()
                    result = core.answer(m)
                    out.send(replace(result, compute_ms=(time.perf_counter() - t) * 1000.0))
                    if not later and not inbox.ready():
                        core.after(m.chart)
                elif isinstance(m, Dropped):
                    core.dropped(m.number)
                elif isinstance(m, History):
                    core.rehome(m.phrases)
    except OSError:  # (an answer written to a jam that has gone)
        pass
    if not closing:
        from improv.sentinel import silence

        silence(targets, "the jam")
    return 0


class Outbox:
    """The worker's stdout: each message written whole, from the main loop or the pulse."""

    def __init__(self, stream: BinaryIO) -> None:
        from improv.partner import wire

        self._wire, self._stream, self._lock = wire, stream, threading.Lock()

    def send(self, msg: Any) -> None:
        """Write `msg` (raises OSError once the real-time process has gone)."""
        with self._lock:
            self._wire.send(self._stream, msg)


def pulse(out: Outbox, every: float | None = None) -> threading.Thread:
    """Start the worker's pulse: an `Alive` with the CPU time used so far, every `PULSE_S`,
    on a daemon thread, until the real-time process has gone. It tells a worker that a busy
    machine makes slow from one that is stuck (blocked: its CPU time stands still) or caught
    in a loop (it spends a core on one call), which `ProcessPartner.check` replaces."""
    from improv.partner.protocol import PULSE_S, Alive

    def run() -> None:
        try:
            while True:
                out.send(Alive(time.process_time(), time.monotonic()))
                time.sleep(PULSE_S if every is None else every)
        except (OSError, ValueError):
            pass  # (the pipe closed: the session has ended)

    t = threading.Thread(target=run, name="improv-partner-pulse", daemon=True)
    t.start()
    return t


class _Inbox:
    """The messages on stdin (None once it closes). On POSIX they are read on this thread,
    with `select` telling whether more wait (one thread hand-off less per call); elsewhere a
    reader thread fills a queue."""

    def __init__(self) -> None:
        from improv.partner import wire
        from improv.partner.protocol import Silence

        self._wire, self._silence = wire, Silence
        self._raw = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)  # unbuffered: select sees it all
        self._queue: queue.Queue[Any] | None = None
        self._held: list[Any] = []  # read already (`newer_than`), not yet taken
        if os.name != "posix":
            self._queue = queue.Queue()
            threading.Thread(target=self._reader, name="improv-partner-in", daemon=True).start()

    def _reader(self) -> None:
        assert self._queue is not None
        while True:
            msg = self._recv()
            self._queue.put(msg)
            if msg is None:
                return

    def _recv(self) -> Any:
        try:
            return self._wire.recv(self._raw)
        except (EOFError, OSError):
            return None

    def get(self) -> Any:
        """The next message (blocks); None once the real-time process has gone."""
        if self._held:
            return self._held.pop(0)
        return self._queue.get() if self._queue is not None else self._recv()

    def ready(self) -> bool:
        """Whether a message is waiting."""
        return bool(self._held) or self._arrived()

    def _arrived(self) -> bool:
        if self._queue is not None:
            return not self._queue.empty()
        import select

        return bool(select.select([self._raw], [], [], 0)[0])

    def newer_than(self, draft: Any) -> bool:
        """Whether something other than the job `draft` (the answer being drafted) waits: a
        newer read, another call, a dropped answer, or the end (the messages are read and
        kept for `get`). The draft's own job lets it finish: it is answered with it, and so does
        a `Silence`."""
        while self._arrived():
            msg = self._queue.get() if self._queue is not None else self._recv()
            self._held.append(msg)
            if msg is None:
                break
        return any(m != draft and not isinstance(m, self._silence) for m in self._held)  # (no call's news)

    def waiting(self) -> list[Any]:
        """Every message waiting now, without blocking (a None ends the list)."""
        out: list[Any] = []
        while self.ready():
            msg = self.get()
            out.append(msg)
            if msg is None:
                break
        return out


def _build(setup: Any) -> Any:
    from improv.config import ResponderSettings
    from improv.partner.build import make_responder
    from improv.partner.core import PartnerCore

    settings = ResponderSettings(name=setup.responder, markov_order=setup.markov_order, seed=setup.seed,
                                 model=setup.model)
    core = PartnerCore(make_responder(settings, seed=setup.seed))
    core.setup(setup)
    return core


if __name__ == "__main__":
    sys.exit(main())
