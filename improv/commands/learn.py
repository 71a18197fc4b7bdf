"""`improv learn ACTION`: move a knob or press a key, and it controls ACTION from then on.

    improv learn comp --file my.toml       # the next moved control toggles the comping
    improv jam --config my.toml --trade-bars 4 --comp

Stopped by the user (Ctrl-C, Ctrl-\\, SIGTERM, SIGHUP) at any moment, it writes nothing and
exits 0, as the jam does (`EXIT_STATUS`): improv's own early handlers (`cli.SESSIONS`)
remember a signal while it starts and opens the input, and while it waits the signals
raise, which ends the wait at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable

from improv.live.controls import ACTIONS


# the jam's rule (`improv.commands.jam.EXIT_STATUS`) as it applies here; `improv learn --help` ends with it
EXIT_STATUS = ("Exit status: 0 when the binding is written, or when you stop it (Ctrl-C, Ctrl-\\, SIGTERM or SIGHUP, "
               "at any moment: nothing is written); 1: nothing to bind moved in --timeout seconds; 2: bad flags or "
               "file, or an input that cannot be opened.")


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EXIT_STATUS
    p.add_argument("action", choices=ACTIONS, help="what the control will do")
    p.add_argument("--file", default="improv-controls.toml", metavar="FILE",
                   help="the TOML settings file the binding is written to (default improv-controls.toml)")
    p.add_argument("--in", dest="input", default="", metavar="PORT", help="MIDI input (index or name substring)")
    p.add_argument("--midi-api", choices=("alsa", "jack", "coremidi", "winmm"), help="MIDI backend")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="how long to wait (default 30)")


TIMEOUT_S = (0.1, 3600.0)


def stopped(signum: int) -> int:
    """Said when the user stopped learn: nothing written, and 0, a session ended by the user."""
    import signal

    how = "interrupted" if signum == signal.SIGINT else f"stopped ({signal.Signals(signum).name})"
    print(f"improv learn: {how}; nothing written", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from improv.live.conductor import EarlyStop

    given = getattr(args, "_early", None)  # (improv's own, caught from its start: `cli.SESSIONS`)
    early = given if given is not None else EarlyStop()
    try:
        return _learn(args, early)
    finally:
        if given is None:
            early.restore()


def _learn(args: argparse.Namespace, early: Any) -> int:
    from pathlib import Path

    from improv.config import check_flag, load_config
    from improv.errors import ConfigError, ImprovError
    from improv.core.formats.paths import writable_output
    from improv.core.listen.controls import CONTINUOUS
    from improv.live.clock import RealClock
    from improv.live.controls import learn_next, write_binding
    from improv.live.ports import open_input
    from improv.live.inputqueue import InputQueue
    from improv.stops import Terminated, raise_terminated_on
    from improv.live.conductor import _stop_signals

    # everything that could refuse the binding is checked before the player moves a knob
    check_flag("--timeout", args.timeout, TIMEOUT_S, "seconds")
    target = writable_output(args.file, "--file")  # (a link: the file it points to)
    taken: dict[int, str] = {}  # controllers the file uses already, outside [controls]
    if Path(target).exists():
        cfg = load_config(target)  # a file that is not a valid settings file is named now, not after the knob
        if cfg.phrase.end_cc >= 0:  # (bound too, the file would be refused: one controller, two jobs)
            taken[cfg.phrase.end_cc] = f"which ends the call ([phrase] end_cc in {args.file})"
        if not os.access(target, os.W_OK) or not os.stat(target).st_mode & 0o222:
            raise ConfigError(f"--file {args.file} is read-only: make it writable (chmod u+w {args.file}) or give "
                              "another --file")
    if early.signum:  # (a signal while improv started: no input is opened)
        return stopped(early.signum)
    clock = RealClock()
    inq = InputQueue(clock)
    try:  # (a signal meanwhile is remembered: the client opens whole, and is closed)
        midi_in = open_input(inq, args.midi_api or "", port=args.input, default_virtual="improv in")
    except ImprovError:
        if early.signum:  # (the signal cut libjack's handshake short: the failure is the signal's)
            return stopped(early.signum)
        raise
    put_back: Callable[[], None] | None = None
    try:
        # (Ctrl-C, Ctrl-\, SIGTERM and SIGHUP raise where it waits, ending the wait at once)
        put_back = raise_terminated_on(_stop_signals())
        if early.signum:
            return stopped(early.signum)
        what = "move a knob or slider" if args.action in CONTINUOUS else "move a knob or press a key"
        print(f"{what} on {midi_in.name!r} for {args.action!r} (waiting {args.timeout:g} s)", file=sys.stderr)
        # (`since`: a controller already streaming as the player is asked is not what they moved)
        binding = learn_next(inq.queue, args.timeout, say=lambda line: print(line, file=sys.stderr),
                             action=args.action, taken=taken, since=clock.now())
    except Terminated as e:
        return stopped(e.signum)
    finally:
        if put_back is not None:
            put_back()
        midi_in.close()
    if binding is None:
        print(f"improv learn: no knob or key to bind moved in {args.timeout:g} s; nothing written", file=sys.stderr)
        return 1
    unbound = write_binding(target, args.action, binding)
    print(f"{args.action} = \"{binding}\" written to {args.file} (use it with --config {args.file})")
    for other in unbound:  # one control, one action
        print(f"{other} was bound to {binding} too: now unbound")
    return 0
