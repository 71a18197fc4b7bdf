"""`improv tunes`: list the shipped tune charts."""

from __future__ import annotations

import argparse

from improv.tunefiles import TUNES_DIR, find_tune, shipped_tunes
from improv.core.theory.chart import load_tune


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="show one tune's chart")
    p.add_argument("--import-wjazzd", metavar="CSV", help="convert a WJazzD solo_info.csv (or the wjazzd-solos.tar.gz "
                   "holding it) into tune files (ODbL)")
    p.add_argument("--out", metavar="DIR", help="where --import-wjazzd writes the tune files")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "import_wjazzd", None):
        return _import_wjazzd(args)
    if getattr(args, "out", None):  # (it was ignored: the tune list printed as if asked for)
        from improv.errors import ConfigError

        raise ConfigError("--out is where --import-wjazzd CSV writes tune files: give --import-wjazzd too, or "
                          "leave --out out")
    names = [args.name] if args.name else shipped_tunes()
    if not names:
        print(f"no tunes in {TUNES_DIR}")
        return 0
    found = [(name, find_tune(name, "")) for name in names]  # ("Blues F" is blues-f: shown as it is called)
    charts = [(path.stem if path.parent == TUNES_DIR else name, load_tune(path)) for name, path in found]
    # (the metre shown: a waltz whose file lacks beats_per_bar = 3 is read in 4/4, its chart looking the same)
    rows = [(name, chart.title, f"{chart.bars}", f"{chart.beats_per_bar}/4", " ".join(s for _, s in chart.sections),
             f"{chart.tempo:g} bpm" if chart.tempo else "") for name, chart in charts]
    for line in table(("tune", "title", "bars", "time", "form", "tempo"), rows, right=(2, 3, 5)):
        print(line)
    if args.name:
        chart = charts[0][1]
        for first, sec in chart.sections:
            print(f"  [{sec}] bar {first + 1}")
        text = chart.to_text().split(" | ")
        width = max(len(c) for c in text)
        for i in range(0, len(text), 4):
            print("   | " + " | ".join(f"{c:<{width}}" for c in text[i:i + 4]) + " |")
    return 0


def table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    """Rows of text as aligned columns, two spaces apart, under a header; each column as
    wide as its longest cell (nothing is cut); columns in `right` are right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(f"{c:>{w}}" if i in right else f"{c:<{w}}"
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header)] + [line(r) for r in rows]


def _import_wjazzd(args: argparse.Namespace) -> int:
    from improv.core.formats.wjazzd_tunes import convert_csv
    from improv.errors import ConfigError, DataError

    if not args.out:
        raise ConfigError("--import-wjazzd needs --out DIR: the folder the tune files go to")
    if args.name:  # (it was dropped: the whole CSV converted as if no tune was named)
        raise ConfigError(f"--import-wjazzd converts every row of the CSV, not one tune: leave {args.name!r} out, "
                          f"or show it with `improv tunes {args.name}`")
    written, skipped = convert_csv(args.import_wjazzd, args.out)
    for line in skipped:
        print(f"skipped {line}")
    if not written:
        raise DataError(f"no tune file written: every row of {args.import_wjazzd} was skipped (said above)")
    print(f"wrote {len(written)} tune files to {args.out} (play one with --tune {args.out}/NAME.toml)")
    return 0
