"""Stop signals raised where a command is: `Terminated` (SIGTERM, SIGHUP... as Ctrl-C raises
KeyboardInterrupt) and `raise_terminated_on`, which routes signals to it. Used by the CLI for
every command that does not handle these signals itself, and by `improv learn` while it waits
(a module of its own so that a command can use it without importing the CLI)."""

from __future__ import annotations

import signal
from typing import Any, Callable, Iterable


OWN_PROCESS = False  # the command owns its process (`improv.cli.main()` given no argv: the console script,
# `python -m improv`): a live command may then end the process at a deadline (`improv.live.ownprocess.let_go`)
# and raise its threads' priority (`improv.live.ownprocess.ask_realtime`). A command called in another
# program's process (a test's `main([...])`) does neither: a deadline there ended the test run, status 0


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP in a command that does not handle them itself, raised where the
    command was, as Ctrl-C is: every `with` and `finally` on the way out runs, so a file
    half-written (`whole_or_nothing`'s part file, 3.7 GB of a render stopped by `timeout`)
    is removed. The live commands and training handle these signals themselves."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def raise_terminated_on(signals: Iterable[int]) -> Callable[[], None]:
    """Raise `Terminated` where the main thread is at each of `signals` (but one ignored:
    `nohup`'s SIGHUP); returns what puts the handlers back. Main thread only (elsewhere:
    nothing). `improv learn` waiting for a knob routes Ctrl-C and Ctrl-\\ here too."""
    def raise_terminated(signum: int, _frame: Any) -> None:
        raise Terminated(signum)

    previous = {}
    for sig in signals:
        try:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                previous[sig] = signal.signal(sig, raise_terminated)
        except ValueError:  # (not the main thread)
            break

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
