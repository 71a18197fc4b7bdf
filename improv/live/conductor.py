"""The conductor loop every live session runs (the free jam, trading), and the signal
handlers that end it cleanly.

A session here is anything with `clock`, `inq` (an `InputQueue`), `start()`,
`player.handle(t, data)`, `step()`, `stop(reason)`, `stop_reason` and `close()`.
"""

from __future__ import annotations

import queue
import signal
from typing import Any, Callable

from improv import realtime

TICK_S = 0.005  # the conductor lets time pass at least this often
CTRL_Z_HINT = ("Ctrl-Z does not pause improv (stopped, it would leave notes sounding and JACK would drop its "
               "ports): Ctrl-C ends the session")


def run_conductor(session: Any, duration: float | None = None, until: Callable[[], bool] | None = None) -> str:
    """The conductor loop of a live session (the free jam, trading), on the calling thread.

    Starts the session, then handles input as it arrives and lets time pass (`step()`)
    until `duration` seconds have passed, `until()` is true, `stop()` is called (a signal,
    a vanished port, a failed output) or an error occurs. Always ends in `close()`: every
    note gets its note-off and the recording is written. Returns why it stopped.
    """
    realtime.enter("conductor")  # (when the jam asked for it: improv/realtime.py)
    try:
        if not session.stop_reason:  # (a signal in the setup: `EarlyStop`)
            session.start()
        said = realtime.status()
        if said:
            session.say(said)
        end = session.clock.now() + duration if duration is not None else None
        while not session.stop_reason:
            try:
                t, data = session.inq.get(timeout=TICK_S)
                session.player.handle(t, data)
                for _ in range(256):  # drain a burst, but keep time moving under a flood
                    t, data = session.inq.get_nowait()
                    session.player.handle(t, data)
            except queue.Empty:
                pass
            session.step()
            if getattr(session, "ctrl_z", False):  # (said here, not in the handler: the display has a lock)
                session.ctrl_z = False
                session.say(CTRL_Z_HINT)
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
        try:
            session.close()  # (still at real-time priority: the note-offs and the recording go out on a busy machine too)
        finally:
            realtime.leave()
    return session.stop_reason


def _stop_signals() -> list[int]:
    wanted = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGQUIT"):
        wanted.append(signal.SIGQUIT)  # Ctrl-\ (beside Enter on many keyboards): it dumped core, a note hanging
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        wanted.append(signal.SIGHUP)  # (`nohup improv jam &` asked to play on when the terminal closes)
    if hasattr(signal, "SIGBREAK"):  # Windows' Ctrl-Break: by default it ends the process at once, notes
        wanted.append(signal.SIGBREAK)  # hanging on a MIDI synth, the recording left a journal to recover
    return wanted


def _stop_name(signum: int) -> str:
    """The session's stop reason for a stopping signal."""
    if signum == signal.SIGINT:
        return "interrupted"
    return next((name for name in ("SIGTERM", "SIGQUIT", "SIGBREAK") if getattr(signal, name, None) == signum),
                "SIGHUP")


class EarlyStop:
    """Ctrl-C, Ctrl-\\, SIGTERM and SIGHUP from a command's start until its session's own handlers
    take over (`install_signal_handlers(early=)`: ports opening, the synth, the session
    built): remembered, not raised, and the session then stops at once, closing what was
    opened. Before, Ctrl-C there raised wherever the setup was (in a live test it was lost
    and the jam played on to its end), and SIGTERM killed the jam with its JACK clients
    left in the server (the next jam took 5-15 s to open its port). Main thread only."""

    def __init__(self) -> None:
        from improv.live.jackwatch import give_up_waiting

        self._give_up = give_up_waiting  # (a wait for a JACK server that does not answer ends at the signal)
        give_up_waiting(False)
        self.reason = ""
        self.signum = 0  # the first signal caught (its exit status is 128 + it)
        self.previous = {s: signal.signal(s, self._on_signal) for s in _stop_signals()}
        if hasattr(signal, "SIGTSTP"):  # (Ctrl-Z: never a stopped jam; see `install_signal_handlers`)
            self.previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, signal.SIG_IGN)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if not self.reason:
            self.reason, self.signum = _stop_name(signum), int(signum)
        self._give_up(True)

    def restore(self) -> None:
        """Put back the handlers there were before (a setup that failed; idempotent)."""
        for s, h in self.previous.items():
            signal.signal(s, h)
        self._give_up(False)


def install_signal_handlers(session: Any, say: Callable[[str], None] | None = None,
                            early: EarlyStop | None = None) -> Callable[[], None]:
    """Ctrl-C, Ctrl-\\ (SIGQUIT), SIGTERM and SIGHUP (the terminal closed; unless started
    under `nohup`), and Windows' Ctrl-Break (SIGBREAK) ask the session to stop; Ctrl-Z
    (SIGTSTP) only says how to stop; it then releases every note and writes the recording.
    A second Ctrl-C while it closes only says so (a recording is worth a moment); a third interrupts at once (the journal is
    kept for `improv recover`); once the session has closed, a press changes nothing (the
    report that the recording was written is about to follow). `early`: the handlers the
    command set up with; a signal they caught stops the session now. Main thread only.
    Returns a function that restores the handlers there were before (`early`'s before it)."""
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
        session.stop(_stop_name(signum))

    def on_ctrl_z(_signum: int, _frame: Any) -> None:
        session.ctrl_z = True  # said by the conductor loop

    previous = {s: signal.signal(s, on_signal) for s in _stop_signals()}
    if hasattr(signal, "SIGTSTP"):  # Ctrl-Z: a stopped jam sends no note-off, and JACK drops a client that
        previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, on_ctrl_z)  # stops answering: it plays on
    if early is not None:
        previous = {s: early.previous.get(s, h) for s, h in previous.items()}
        if early.reason:
            session.stop(early.reason)

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore
