"""The conductor loop every live session runs (the free jam, trading), and the signal
handlers that end it cleanly.

A session here is anything with `clock`, `inq` (an `InputQueue`), `start()`,
`_handle(t, data)`, `step()`, `stop(reason)`, `stop_reason` and `close()`.
"""

from __future__ import annotations

import queue
import signal
from typing import Any, Callable

TICK_S = 0.005  # the conductor lets time pass at least this often


def run_conductor(session: Any, duration: float | None = None, until: Callable[[], bool] | None = None) -> str:
    """The conductor loop of a live session (the free jam, trading), on the calling thread.

    Starts the session, then handles input as it arrives and lets time pass (`step()`)
    until `duration` seconds have passed, `until()` is true, `stop()` is called (a signal,
    a vanished port, a failed output) or an error occurs. Always ends in `close()`: every
    note gets its note-off and the recording is written. Returns why it stopped.
    """
    try:
        session.start()
        end = session.clock.now() + duration if duration is not None else None
        while not session.stop_reason:
            try:
                t, data = session.inq.get(timeout=TICK_S)
                session._handle(t, data)
                for _ in range(256):  # drain a burst, but keep time moving under a flood
                    t, data = session.inq.get_nowait()
                    session._handle(t, data)
            except queue.Empty:
                pass
            session.step()
            if end is not None and session.clock.now() >= end:
                session.stop("duration")
            elif until is not None and until():
                session.stop("done")
    except KeyboardInterrupt:
        session.stop("interrupted")
    except BaseException as e:
        session.stop(f"error: {e}")
        raise
    finally:
        session.close()
    return session.stop_reason


def install_signal_handlers(session: Any, say: Callable[[str], None] | None = None) -> Callable[[], None]:
    """Ctrl-C, SIGTERM and SIGHUP (the terminal closed; unless started under `nohup`) ask
    the session to stop; it then
    releases every note and writes the recording. A second Ctrl-C while it closes only
    says so (a recording is worth a moment); a third interrupts at once (the journal is
    kept for `improv recover`); once the session has closed, a press changes nothing (the
    report that the recording was written is about to follow). Main thread only. Returns a function that restores the
    previous handlers."""
    presses = 0
    say = say or (lambda text: None)

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal presses
        if getattr(session, "closed", False):
            return  # the notes released and the recording written: nothing left to abandon or stop
        if signum == signal.SIGINT:
            presses += 1
            # abandon at the third press, but not in the middle of releasing the notes (a fifth does)
            if presses >= 5 or presses >= 3 and getattr(session, "notes_released", True):
                raise KeyboardInterrupt
            if presses == 2 and session.stop_reason:
                say("closing: releasing notes and writing the recording (Ctrl-C once more to abandon it; "
                    "its journal is kept)")
                return
        names = {signal.SIGINT: "interrupted", signal.SIGTERM: "SIGTERM"}
        session.stop(names.get(signum, "SIGHUP"))

    wanted = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        wanted.append(signal.SIGHUP)  # (`nohup improv jam &` asked to play on when the terminal closes)
    previous = {s: signal.signal(s, on_signal) for s in wanted}

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore
