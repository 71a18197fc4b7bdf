"""The `improv` command: `main(argv) -> int`.

Each subcommand lives in `improv/commands/<name>.py` with `configure(parser)` and
`run(args) -> int`; modules are imported only when their command runs, so `improv ports`
never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from improv import __version__
from improv.errors import ImprovError

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "tunes": ("improv.commands.tunes", "list the shipped tune charts"),
    "learn": ("improv.commands.learn", "assign the next moved knob or pressed key to a live control"),
    "eval": ("improv.commands.eval", "evaluate the phrase model against an n-gram baseline and real answers"),
    "respond": ("improv.commands.respond", "answer a call from a MIDI file, written as player + partner tracks"),
    "jam": ("improv.commands.jam", "jam live: play a phrase on a MIDI keyboard, the partner answers"),
    "demo": ("improv.commands.demo", "hear the whole live path with no hardware: a scripted player jams"),
    "ports": ("improv.commands.ports", "list MIDI inputs and outputs and audio output devices"),
    "panic": ("improv.commands.panic", "all notes off on a MIDI output"),
    "bench": ("improv.commands.bench", "measure passthrough latency, partner timing, answer time, floods"),
    "recover": ("improv.commands.recover", "rebuild session MIDI files from journals left by a crash"),
    "render": ("improv.commands.render", "render a session MIDI file to WAV (built-in synth or a SoundFont)"),
    "plot": ("improv.commands.plot", "draw a session as a piano roll with chords and outside notes (PNG)"),
    "play": ("improv.commands.play", "play a session back through a MIDI port or the built-in synth"),
    "embrace-bench": ("improv.commands.embrace_bench", "benchmark building answers on the player's outside notes"),
    "train": ("improv.commands.train", "train the phrase model on the WJazzD solos"),
    "export": ("improv.commands.export", "write a training checkpoint as the weights file the partner loads"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="improv",
        description="A real-time jazz improvisation partner. Start with `improv demo`.",
    )
    parser.add_argument("--version", action="version", version=f"improv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 0
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except ImprovError as e:
        print(f"improv {args.command}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
