"""`improv learn ACTION`: move a knob or press a key, and it controls ACTION from then on.

    improv learn comp --file my.toml       # the next moved control toggles the comping
    improv jam --config my.toml --trade-bars 4 --comp
"""

from __future__ import annotations

import argparse
import os
import sys

from improv.live.controls import ACTIONS


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=ACTIONS, help="what the control will do")
    p.add_argument("--file", default="improv-controls.toml", metavar="FILE",
                   help="the TOML settings file the binding is written to (default improv-controls.toml)")
    p.add_argument("--in", dest="input", default="", metavar="PORT", help="MIDI input (index or name substring)")
    p.add_argument("--midi-api", choices=("alsa", "jack", "coremidi", "winmm"), help="MIDI backend")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="how long to wait (default 30)")


TIMEOUT_S = (0.1, 3600.0)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from improv.config import check_flag, load_config
    from improv.errors import ConfigError
    from improv.core.formats.paths import writable_output
    from improv.core.listen.controls import CONTINUOUS
    from improv.live.clock import RealClock
    from improv.live.controls import learn_next, write_binding
    from improv.live.ports import open_input
    from improv.live.inputqueue import InputQueue

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
    clock = RealClock()
    inq = InputQueue(clock)
    midi_in = open_input(inq, args.midi_api or "", port=args.input, default_virtual="improv in")
    try:
        what = "move a knob or slider" if args.action in CONTINUOUS else "move a knob or press a key"
        print(f"{what} on {midi_in.name!r} for {args.action!r} (waiting {args.timeout:g} s)", file=sys.stderr)
        try:  # (`since`: a controller already streaming as the player is asked is not what they moved)
            binding = learn_next(inq.queue, args.timeout, say=lambda line: print(line, file=sys.stderr),
                                 action=args.action, taken=taken, since=clock.now())
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM/SIGHUP (improv.cli.Terminated: its status)
            signum = getattr(e, "signum", None)
            how = f"stopped ({e.name})" if signum else "interrupted"  # type: ignore[attr-defined]
            print(f"improv learn: {how}; nothing written", file=sys.stderr)
            return 128 + signum if signum else 130
    finally:
        midi_in.close()
    if binding is None:
        print(f"improv learn: no knob or key to bind moved in {args.timeout:g} s; nothing written", file=sys.stderr)
        return 1
    unbound = write_binding(target, args.action, binding)
    print(f"{args.action} = \"{binding}\" written to {args.file} (use it with --config {args.file})")
    for other in unbound:  # one control, one action
        print(f"{other} was bound to {binding} too: now unbound")
    return 0
