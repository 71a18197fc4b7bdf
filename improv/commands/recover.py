"""`improv recover [DIR|FILE]`: rebuild MIDI files from journals left behind by a crash (or
by a session whose file could not be written). Damaged records are skipped and counted."""

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
    from improv.live.recovery import recover

    cfg = settings_from_args(args)  # a --config given is checked even when DIR is given
    target = Path(args.path) if args.path else Path(cfg.record.folder)
    if not target.exists():
        from improv.live.recovery import rescued_elsewhere

        # (a record folder that went away, an unplugged stick, with the session completed in the
        # temporary or home folder: "not found" left it there, where the README says recover looks)
        if args.path or not rescued_elsewhere(target):
            raise ConfigError(f"{target} not found: give the folder your sessions are recorded to (record.folder)")
        try:
            target.mkdir(parents=True)
        except OSError as e:
            raise ConfigError(f"{target} (record.folder) is gone and cannot be made again ({e.strerror or e}); "
                              "make it, or set record.folder to a folder that is there, and recover again") from None
    from improv.live.journalread import JOURNAL_SUFFIX

    if target.is_file() and not target.name.endswith(JOURNAL_SUFFIX):
        raise ConfigError(f"{target} is not a session journal (*{JOURNAL_SUFFIX}): give the sessions folder or one "
                          f"{JOURNAL_SUFFIX} file")
    warnings: list[str] = []
    notes: list[str] = []

    # each line as it happens: a recovery stopped by Ctrl-C has said what it recovered (and
    # which journals are gone) before "interrupted"
    def note(text: str) -> None:
        notes.append(text)
        print(f"improv recover: {text}", flush=True)

    def warning(text: str) -> None:
        warnings.append(text)
        print(f"improv recover: {text}", flush=True)

    def done(path: Path) -> None:
        print(f"recovered {path}", flush=True)

    written = recover(target, warn=warning, say=note, done=done)
    if not args.path:  # a session whose folder filled up completed its journal elsewhere: into the folder now
        from improv.live.recovery import rescued_elsewhere

        elsewhere = rescued_elsewhere(target)
        if elsewhere and target.is_dir():
            written += recover(elsewhere, warn=warning, say=note, into=target, done=done)
    if not written and not warnings and not notes:
        print(f"nothing to recover in {target}")
    return 1 if warnings else 0
