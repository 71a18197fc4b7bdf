"""The `improv` command: `main(argv) -> int`.

Each subcommand lives in `improv/commands/<name>.py` with `configure(parser)` and
`run(args) -> int`. Only the command being run is imported (its flags come from its own
`configure`); the others are a name and a help line. `improv --help` thus costs the
interpreter's start and argparse, nothing else (target 0.3 s; see `improv bench --startup`).
"""

from __future__ import annotations

import argparse
import difflib
import errno
import importlib
import os
import re
import signal
import sys
import typing
from typing import Any, Callable

from improv import __version__
from improv.errors import ImprovError
from improv.stops import Terminated, raise_terminated_on

# command -> (module, one-line help), in the order a newcomer meets them: hear it, play,
# work with files, measure, train
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("improv.commands.demo", "hear the whole live path with no hardware: a scripted player jams"),
    "jam": ("improv.commands.jam", "jam live: play a phrase on a MIDI keyboard, the partner answers"),
    "ports": ("improv.commands.ports", "list MIDI inputs and outputs and audio output devices"),
    "tunes": ("improv.commands.tunes", "list the shipped tune charts"),
    "learn": ("improv.commands.learn", "assign the next moved knob or pressed key to a live control"),
    "panic": ("improv.commands.panic", "all notes off on a MIDI output"),
    "respond": ("improv.commands.respond", "answer a call from a MIDI file, written as player + partner tracks"),
    "play": ("improv.commands.play", "play a session back through a MIDI port or the built-in synth"),
    "render": ("improv.commands.render", "render a session MIDI file to WAV (built-in synth or a SoundFont)"),
    "plot": ("improv.commands.plot", "draw a session as a piano roll with chords and outside notes (PNG)"),
    "recover": ("improv.commands.recover", "rebuild session MIDI files from journals left by a crash"),
    "bench": ("improv.commands.bench", "measure passthrough latency, partner timing, answer time, start-up"),
    "embrace-bench": ("improv.commands.embrace_bench", "benchmark building answers on the player's outside notes"),
    "train": ("improv.commands.train", "train the phrase model on the WJazzD solos (needs the train extra)"),
    "eval": ("improv.commands.eval", "evaluate the phrase model against an n-gram baseline and real answers"),
    "export": ("improv.commands.export", "write a training checkpoint as the weights file the partner loads"),
}

# live sessions, a playback, learning a knob: ended by the user at any moment, they exit 0 (jam.EXIT_STATUS)
SESSIONS = ("jam", "demo", "play", "learn")
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away


def command_in(argv: list[str]) -> str | None:
    """The subcommand named in `argv`, or None: the top level takes no option with a value,
    so the first word that is not an option is the command."""
    return next((a for a in argv if not a.startswith("-")), None)


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (what was wrong, and where the flags are
    listed) instead of the whole usage block above it."""

    def error(self, message: str) -> "typing.NoReturn":
        self.exit(2, f"{self.prog}: {_plain(message)} (see {self.prog} --help)\n")


_NOT_A_NUMBER = re.compile(r"argument (\S+): invalid (float|int) value: (.*)")


def _plain(message: str) -> str:
    """argparse's message in a musician's words where it speaks Python: "argument --tempo:
    invalid float value: 'fast'" says a type, not what to give."""
    m = _NOT_A_NUMBER.fullmatch(message)
    if m:
        flag, kind, value = m.groups()
        return f"{flag}: expected {'a number' if kind == 'float' else 'a whole number'}, found {value}"
    return message


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the flags of `command` only (its module is imported to configure them).

    Args:
        command: the subcommand about to be parsed; None configures none (enough for
            `improv --help`, which lists the commands by their help lines).
    """
    parser = Parser(
        prog="improv",
        description="A real-time jazz improvisation partner. Start with `improv demo`.",
        allow_abbrev=False,  # a prefix is never taken for another flag (--mode for --model)
    )
    parser.add_argument("--version", action="version", version=f"improv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        p.set_defaults(_module=module)
        if name == command:
            importlib.import_module(module).configure(p)
            parser.set_defaults(_parser=p)  # its errors name the command
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `improv ARGV`; returns the exit status.

    A reader that closes the pipe early (`improv tunes | head -3`) ends the command
    quietly with status 141, not a BrokenPipeError traceback; Ctrl-C at any point ends it
    with status 130 and one line, not a KeyboardInterrupt traceback. A live session (`jam`,
    `demo`) ended by the user, Ctrl-C, SIGTERM or SIGHUP, exits 0 at any moment from here on,
    start-up included (see `improv.commands.jam.EXIT_STATUS`).
    """
    if argv is None:  # (the console script, `python -m improv`: the process is the command's)
        from improv import stops

        stops.OWN_PROCESS = True
    argv = sys.argv[1:] if argv is None else list(argv)
    early = _catch_stops() if command_in(argv) in SESSIONS else None  # (first: the imports take half a second)
    try:
        _printable_names()
        return _main(argv, early)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # Ctrl-C before a command set up its own handling (e.g. while importing)
        print("improv: interrupted", file=sys.stderr)
        return 130
    finally:
        if early is not None:
            early.restore()


def _catch_stops() -> Any:
    """For a live session: the stop signals remembered from now on, not raised (nor, for
    SIGTERM, the process killed outright), so that the session's setup stops cleanly and its
    end is the same wherever the signal came (an `EarlyStop`; None off the main thread)."""
    from improv.live.conductor import EarlyStop

    try:
        return EarlyStop()
    except ValueError:  # (signal handlers are set on the main thread only)
        return None


def _printable_names() -> None:
    """A file name that is not valid UTF-8 (its bytes kept as surrogates by Python) is
    printed escaped, not a UnicodeEncodeError traceback after the work is done (a strict
    UTF-8 or ASCII terminal: `improv render "odd\xff.mid"` rendered, then crashed saying so)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # (a stream that cannot be reconfigured is left as it is)
                pass


def _main(argv: list[str], early: Any = None) -> int:
    parser = build_parser(command_in(argv))
    args, extra = parser.parse_known_args(argv)
    command_parser = getattr(args, "_parser", parser)
    if (empty := _empty_value(argv, command_parser)) is not None:
        command_parser.error(f"{empty} is empty (an unset shell variable?); give a value or leave it out")
    if extra:
        command_parser.error(f"unrecognized arguments: {' '.join(extra)}{_did_you_mean(extra, command_parser)}")
    if not getattr(args, "_module", None):
        parser.print_help()
        sys.stdout.flush()
        return 0
    if early is not None:  # (the session's own handling: it ends cleanly and says so)
        args._early = early
    restore = _stop_on_termination() if early is None else (lambda: None)
    try:
        code = int(importlib.import_module(args._module).run(args) or 0)
        if sys.stdout is not None:  # (None: started with stdout closed, `>&-`)
            sys.stdout.flush()  # here, so that a closed pipe is met inside main, not at exit
        return code
    except ImprovError as e:
        print(f"improv {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except Terminated as e:
        print(f"improv {args.command}: stopped ({e.name})", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:  # (a command that handles Ctrl-C itself says what it kept and returns 130)
        print(f"improv {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:  # (Path.exists() and is_dir() raise it, everywhere a path is looked at)
            name = os.fsdecode(e.filename) if e.filename is not None else "a path given"
            shown = name if len(name) <= 80 else name[:77] + "..."
            print(f"improv {args.command}: file name too long: {shown}; give a shorter name (a name in a folder is "
                  "at most 255 bytes)", file=sys.stderr)
            return 2
        if e.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            raise
        where = e.filename or "standard output"
        print(f"improv {args.command}: cannot write to {where} ({e.strerror}); free some space or write elsewhere",
              file=sys.stderr)
        _silence_stdout()
        return 1
    finally:
        restore()


def _stop_on_termination() -> Callable[[], None]:
    """Route SIGTERM, SIGHUP (unless ignored: `nohup`) and SIGBREAK to `Terminated` while a command
    runs; returns what puts the handlers back. Main thread only (elsewhere: nothing)."""
    return raise_terminated_on(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGBREAK")  # (SIGBREAK:
                               if hasattr(signal, name))  # Windows' Ctrl-Break)




def _empty_value(argv: list[str], parser: argparse.ArgumentParser) -> str | None:
    """What was given an empty value (`--soundfont ""`, `--out=`, an empty file name), or
    None. An empty value is never meant (each setting's empty default means "the built-in
    one"), so it was taken for the default, silently: `--soundfont "$SF"` with $SF unset
    played the built-in voices, `recover ""` looked in the sessions folder."""
    takes_value = {flag for action in parser._actions if action.nargs != 0  # noqa: SLF001
                   for flag in action.option_strings}
    for i, token in enumerate(argv):
        if token == "--":
            return None
        flag, eq, value = token.partition("=")
        if token.startswith("--") and eq and not value and flag in takes_value:
            return flag
        if token == "":
            before = argv[i - 1] if i else ""
            return before if before in takes_value else "an argument"
    return None


def _did_you_mean(extra: list[str], parser: argparse.ArgumentParser) -> str:
    """" (did you mean --trade-bars?)" for a flag that is not the command's but close to one
    of its listed flags (prefixes are not taken as flags: `allow_abbrev=False`), else ""; with
    several unknown flags, each hint names its flag."""
    flags = sorted({f for a in parser._actions if a.help != argparse.SUPPRESS  # noqa: SLF001 - (hidden: old spellings)
                    for f in a.option_strings if f.startswith("--")})
    given = [e.split("=", 1)[0] for e in extra if e.startswith("--") and len(e.split("=", 1)[0]) > 3]
    hints = []
    for flag in given:
        close = [f for f in flags if f.startswith(flag)] or difflib.get_close_matches(flag, flags, n=2, cutoff=0.75)
        if close:
            hints.append((flag, " or ".join(close[:2])))
    if not hints:
        return ""
    if len(given) == 1:
        return f" (did you mean {hints[0][1]}?)"
    return " (" + "; ".join(f"{flag}: did you mean {close}?" for flag, close in hints) + ")"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit meets no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (e.g. captured in tests)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
