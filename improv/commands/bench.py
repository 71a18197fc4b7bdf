"""`improv bench`: measure the live path (passthrough, partner timing, answer ready, flood), or
`--startup`: how fast the commands start and what a lean install weighs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="fewer samples and no 60 s flood (about a minute)")
    p.add_argument("--json", metavar="OUT", help="also write the figures to this JSON file")
    p.add_argument("--responder", choices=("markov", "model"), default="model",
                   help="the partner the jam uses and that answers during the timing run (default: model, "
                        "the one a user gets)")
    p.add_argument("--table", nargs="+", metavar="RUN.json",
                   help="print the README's figures table from these runs' JSON (median over runs, spread)")
    p.add_argument("--readme", metavar="README.md", help="with --table: rewrite the table in this file")
    p.add_argument("--data", metavar="PATH",
                   help="the wjazzd-solos.tar.gz for the tempo follower's section (default: ../shared/data "
                        "beside the repository; without it that section is skipped)")
    p.add_argument("--period", type=int, default=64, metavar="FRAMES",
                   help="period of the private JACK server started when none runs (default 64)")
    g = p.add_argument_group("start-up (--startup: this section alone)")
    g.add_argument("--startup", action="store_true",
                   help="time `improv --help`, `improv respond` with the model and the demo's first note instead")
    g.add_argument("--runs", type=int, metavar="N", help="timed runs of each command (default 7)")
    g.add_argument("--venv", metavar="PATH",
                   help="measure this venv's size and run its improv; a new path makes it with the runtime install")
    g.add_argument("--no-demo", action="store_true", help="skip the demo's first-note row")


def _check(args: argparse.Namespace) -> None:
    """Refuse flags that do not apply or cannot work before any work is done (one line each).

    Raises:
        ConfigError: naming the flag.
    """
    from improv.core.formats.paths import writable_output
    from improv.errors import ConfigError

    if args.readme and not args.table:
        raise ConfigError("--readme only applies with --table (it rewrites the table made from those runs)")
    if args.table:
        mine = [f for f, given in (("--json", args.json), ("--startup", args.startup), ("--quick", args.quick))
                if given]
        if mine:
            raise ConfigError(f"{mine[0]} does not apply with --table, which only prints (or rewrites) the table")
    if not args.startup:
        for flag, given in (("--runs", args.runs is not None), ("--venv", args.venv), ("--no-demo", args.no_demo)):
            if given:
                raise ConfigError(f"{flag} only applies with --startup")
    elif args.runs is not None and args.runs < 1:
        raise ConfigError(f"--runs must be at least 1, got {args.runs}")
    if not (16 <= args.period <= 4096 and args.period & (args.period - 1) == 0):
        raise ConfigError(f"--period: expected a power of two from 16 to 4096 frames (e.g. 64), got {args.period}")
    if args.data is not None:
        if args.table or args.startup:
            raise ConfigError(f"--data does not apply with {'--table' if args.table else '--startup'}")
        if not Path(args.data).exists():
            raise ConfigError(f"--data {args.data}: no such file; give the wjazzd-solos.tar.gz (or its unpacked "
                              "folder) for the tempo follower's section")
    if args.json:
        writable_output(args.json, "--json")
    if args.readme:
        writable_output(args.readme, "--readme")


def run(args: argparse.Namespace) -> int:
    from improv.errors import ConfigError

    _check(args)
    if args.table:
        from improv.bench.table import (STARTUP_BEGIN, STARTUP_END, load_runs, replace_block, startup_table,
                                        table)

        runs, names = load_runs(args.table)
        quick = [n for r, n in zip(runs, names) if r.get("quick")]
        if args.readme and quick:  # (its rows would read "1-hour render", "3 runs of up to 150 notes")
            raise ConfigError(f"{quick[0]} is an `improv bench --quick` run (fewer samples, a 10-minute render, one "
                              "key-to-sound run of 40 notes, no flood): the README's table is made from full runs")
        markov = [n for r, n in zip(runs, names) if r.get("responder", "model") != "model" and "startup" not in r]
        if args.readme and markov:  # (its timing, passthrough and flood rows say "the model partner")
            raise ConfigError(f"{markov[0]} is an `improv bench --responder markov` run: the README's table is of the "
                              "partner a user gets, the model (its rows say so)")
        blocks = []  # (block, markers)
        starts = [(r, n) for r, n in zip(runs, names) if "startup" in r]
        others = [(r, n) for r, n in zip(runs, names) if "startup" not in r]
        if others:
            blocks.append((table([r for r, _ in others], [n for _, n in others]), {}))
        for r, n in starts:
            blocks.append((startup_table(r, n), {"begin": STARTUP_BEGIN, "end": STARTUP_END}))
        if args.readme:
            path = Path(args.readme)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                why = "not a text file" if isinstance(e, UnicodeDecodeError) else e.strerror or str(e)
                raise ConfigError(f"--readme {path}: cannot read it ({why}); give the README.md whose table to "
                                  "rewrite") from None
            try:
                for block, markers in blocks:
                    text = replace_block(text, block, **markers)
            except ConfigError as e:  # (it named no file: which one lacks the markers?)
                raise ConfigError(f"--readme {path}: {e}; put the two marker lines where the table goes") from None
            path.write_text(text, encoding="utf-8")
            print(f"rewrote the figures table(s) in {path}")
        else:
            print("\n\n".join(block for block, _ in blocks))
        return 0
    from improv.bench.run import run_bench, run_startup

    if args.startup:
        results = run_startup(args.runs or 7, Path(args.venv) if args.venv else None, not args.no_demo,
                              out=lambda line: print(line, flush=True))
    else:
        results = run_bench(quick=args.quick, responder=args.responder, period=args.period,
                            out=lambda line: print(line, flush=True), json_path=Path(args.json) if args.json else None,
                            data=Path(args.data) if args.data else None)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nfigures written to {args.json}")
    return 0
