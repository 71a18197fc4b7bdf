"""`improv tunes`: list the shipped tune charts."""

from __future__ import annotations

import argparse

from improv.commands.common import TUNES_DIR, shipped_tunes
from improv.core.theory.chart import load_tune


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="show one tune's chart")
    p.add_argument("--import-wjazzd", metavar="CSV", help="convert a WJazzD solo_info.csv into tune files (ODbL)")
    p.add_argument("--out", metavar="DIR", help="where --import-wjazzd writes the tune files")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "import_wjazzd", None):
        return _import_wjazzd(args)
    names = [args.name] if args.name else shipped_tunes()
    for name in names:
        from improv.commands.common import find_tune

        chart = load_tune(find_tune(name))
        form = " ".join(s for _, s in chart.sections)
        tempo = f"{chart.tempo:g} bpm" if chart.tempo else ""
        print(f"{name:<16} {chart.title:<28} {chart.bars:>3} bars  {form:<10} {tempo}")
        if args.name:
            for first, sec in chart.sections:
                print(f"  [{sec}] bar {first + 1}")
            text = chart.to_text().split(" | ")
            for i in range(0, len(text), 4):
                print("   | " + " | ".join(f"{c:<12}" for c in text[i:i + 4]) + " |")
    if not names:
        print(f"no tunes in {TUNES_DIR}")
    return 0


def _import_wjazzd(args: argparse.Namespace) -> int:
    from improv.core.formats.wjazzd_tunes import convert_csv
    from improv.errors import ConfigError

    if not args.out:
        raise ConfigError("--import-wjazzd needs --out DIR: the folder the tune files go to")
    written, skipped = convert_csv(args.import_wjazzd, args.out)
    for line in skipped:
        print(f"skipped {line}")
    print(f"wrote {len(written)} tune files to {args.out} (play one with --tune {args.out}/NAME.toml)")
    return 0
