"""The partner's worker process: `python -m improv.partner.worker`, started by
`ProcessPartner`. It reads messages on stdin (a `Setup` first), writes a `Ready`, then a
`Result` for every `Job`, on its stdout (anything else printed goes to stderr).

Reads queued behind a newer read or a call are skipped (only the freshest matters), and the
session is read ahead after an answer only when nothing else is waiting. Ctrl-C belongs to
the real-time process, which ends the worker by closing its stdin.
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


def main() -> int:
    """Serve one session (worker process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out: BinaryIO = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the messages
    from improv.partner import wire
    from improv.partner.protocol import Dropped, Job, Read, Ready, Setup

    inbox: queue.Queue[Any] = queue.Queue()
    stdin = sys.stdin.buffer

    def reader() -> None:
        try:
            while True:
                inbox.put(wire.recv(stdin))
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=reader, name="improv-partner-in", daemon=True).start()
    setup = inbox.get()
    if not isinstance(setup, Setup):
        return 2
    try:
        core = _build(setup)
    except Exception as e:  # noqa: BLE001 - said to the session in one line, which refuses to start
        wire.send(out, Ready("", False, os.getpid(), error=str(e) or type(e).__name__))
        return 1
    wire.send(out, Ready(core.name, core.reads_ahead, os.getpid()))
    while True:
        msgs = [inbox.get()]
        while True:
            try:
                msgs.append(inbox.get_nowait())
            except queue.Empty:
                break
        for i, m in enumerate(msgs):
            later = msgs[i + 1:]
            if m is None:
                return 0
            if isinstance(m, Read):
                if not any(isinstance(x, (Read, Job)) for x in later):
                    core.read(m)
            elif isinstance(m, Job):
                t = time.perf_counter()
                result = core.answer(m)
                wire.send(out, replace(result, compute_ms=(time.perf_counter() - t) * 1000.0))
                if not later and inbox.empty():
                    core.after(m.chart)
            elif isinstance(m, Dropped):
                core.dropped(m.number)


def _build(setup: Any) -> Any:
    from improv.config import ResponderSettings
    from improv.partner.build import make_responder
    from improv.partner.core import PartnerCore

    settings = ResponderSettings(name=setup.responder, markov_order=setup.markov_order, seed=setup.seed)
    core = PartnerCore(make_responder(settings, seed=setup.seed))
    core.setup(setup)
    return core


if __name__ == "__main__":
    sys.exit(main())
