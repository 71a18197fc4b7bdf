"""`improv recover [DIR]`: rebuild MIDI files from journals left behind by a crash."""

from __future__ import annotations

import argparse
from pathlib import Path

from improv.commands.common import add_config_args
from improv.errors import ConfigError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", metavar="DIR|FILE",
                   help="a sessions folder or one .journal file (default: the config's record.folder)")
    add_config_args(p)


def run(args: argparse.Namespace) -> int:
    from improv.commands.common import settings_from_args
    from improv.live.recorder import recover

    target = Path(args.path) if args.path else Path(settings_from_args(args).record.folder)
    if not target.exists():
        raise ConfigError(f"{target} not found: give the folder your sessions are recorded to (record.folder)")
    warnings: list[str] = []
    written = recover(target, warn=warnings.append)
    for path in written:
        print(f"recovered {path}")
    for w in warnings:
        print(f"improv recover: {w}")
    if not written and not warnings:
        print(f"nothing to recover in {target}")
    return 1 if warnings and not written else 0
