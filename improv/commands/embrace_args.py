"""The `--outside / --daring / --explain / --explain-json` flags that `improv respond`,
`improv jam` and `improv demo` share, jam's `--mode free|trade`, and turning them (over the
config's `[embrace]` section) into `EmbraceSettings`. Light at import time.

Each flag asks one question: `--outside embrace|guide|off` what the partner does with the
player's outside notes, `--mode free|trade` how the jam is played. `--mode` used to answer
both (`--mode trade --mode guide`); the old spellings still work for this release and say
on stderr what to write instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence, TextIO

from improv.config import Config, override
from improv.core.theory.chart import Chart
from improv.core.embrace.plan import AnswerPlan
from improv.core.embrace.strategies import MODES, EmbraceSettings
from improv.errors import ConfigError

PLAY_MODES = ("free", "trade")
OUTSIDE_HELP = ("what the partner does with your outside notes: embrace (build the answer on them), "
                "guide (steer back to chord tones), off (nothing special); default from the config: embrace")


def daring(text: str) -> float:
    """`--daring`: a number from 0 to 1 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, found {text!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, found {value}")
    return value


_daring = daring  # the name it had before


def deprecated(old: str, new: str, stream: TextIO | None = None) -> None:
    """One line on stderr: an old spelling still works this release, and what to write instead."""
    print(f"improv: {old} is deprecated and goes in the next release: use {new}", file=stream or sys.stderr)


class _ModeAction(argparse.Action):
    """`--mode`: jam's free|trade; the old outside-note values (embrace, guide, off) are
    still taken, as `--outside`, with a deprecation note. The last value of each kind wins."""

    def __init__(self, option_strings: Sequence[str], dest: str, play: bool = True, **kwargs: Any) -> None:
        self.play = play
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        value = str(values).strip().lower()
        if self.play and value in PLAY_MODES:
            setattr(namespace, self.dest, value)
        elif value in MODES:
            deprecated(f"--mode {value}", f"--outside {value}")
            namespace.outside_old = value
        else:
            want = "free or trade (--outside takes embrace, guide or off)" if self.play else \
                "--outside embrace, guide or off"
            raise argparse.ArgumentError(self, f"expected {want}, found {values!r}")


def _lower(text: str) -> str:
    return text.strip().lower()


def add_embrace_args(parser: argparse.ArgumentParser, trade: bool = False, explain: bool = True) -> None:
    """Add the outside-note flags (and, for the jam, `--mode free|trade`) to a parser.

    Args:
        parser: the subcommand's parser.
        trade: the command's `--mode` is the jam's free|trade (added with
            `add_mode_arg`); False: `--mode` is kept as the deprecated spelling of
            `--outside` (respond, the demo).
        explain: add `--explain` and `--explain-json` (offline commands).
    """
    g = parser.add_argument_group("outside notes (embrace the mistake)")
    g.add_argument("--outside", choices=MODES, type=_lower, help=OUTSIDE_HELP)  # (--outside Guide, as --mode takes it)
    g.add_argument("--daring", type=daring, metavar="X",
                   help="0..1: how readily outside notes are embraced and how far substitute chords reach (default 0.5)")
    if not trade:
        g.add_argument("--mode", action=_ModeAction, play=False, help=argparse.SUPPRESS)  # deprecated: --outside
    parser.set_defaults(outside_old=None)
    if explain:
        g.add_argument("--explain", action="store_true", help="print what was heard and what the answer does with it")
        g.add_argument("--explain-json", metavar="FILE",
                       help="write the explanation as JSON (one record per handled note; - for stdout)")


def add_mode_arg(group: Any) -> None:
    """Add the jam's `--mode free|trade` to a parser or argument group (it still takes the
    old `--mode embrace|guide|off`, as `--outside`, saying so)."""
    group.add_argument("--mode", action=_ModeAction, play=True, metavar="free|trade",
                       help="free: call and response (default); trade: trade bars along the tune's form "
                            "(4 unless --trade-bars)")


def outside_mode(args: argparse.Namespace) -> str | None:
    """`--outside`, else the deprecated `--mode embrace|guide|off`, else None (the config's).

    Raises:
        ConfigError: both given, asking for different modes.
    """
    outside, old = getattr(args, "outside", None), getattr(args, "outside_old", None)
    if outside and old and outside != old:
        raise ConfigError(f"--outside {outside} and --mode {old} ask for two outside-note modes: --mode {old} is the "
                          f"old spelling of --outside {old}; give --outside only")
    return outside or old


def embrace_settings_from_args(args: argparse.Namespace, cfg: Config) -> EmbraceSettings:
    """The config's `[embrace]` section with `--outside` / `--daring` laid over it."""
    cfg = override(cfg, "embrace", mode=outside_mode(args), daring=getattr(args, "daring", None))
    return cfg.embrace


def report_plans(args: argparse.Namespace, plans: list[AnswerPlan], chart: Chart, out: TextIO | None = None) -> None:
    """Print the explanation lines (`--explain`) and write the JSON (`--explain-json FILE`).

    Args:
        args: parsed flags from `add_embrace_args`.
        plans: the plans of the answers played, in order.
        chart: the written chart (the key note names are spelled in).
        out: where the lines go (default stdout).

    Raises:
        ConfigError: the JSON file cannot be written.
    """
    from improv.core.embrace.explain import explain, explain_json

    if getattr(args, "explain", False):
        stream = out or sys.stdout
        lines = [line for p in plans for line in explain(p, chart)]
        modes = ", ".join(sorted({p.mode for p in plans})) or "off"
        for line in lines or [f"no outside note handled (mode {modes})"]:
            print(line, file=stream)
    path = getattr(args, "explain_json", None)
    if path:
        records = [r for p in plans for r in explain_json(p, chart)]
        if path == "-":  # to stdout, as is usual for "-"
            print(json.dumps(records, indent=2))
            return
        from improv.core.formats.paths import whole_or_nothing

        try:  # (whole or not at all: a full disk left an empty file)
            with whole_or_nothing(path) as tmp:
                tmp.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot write --explain-json {path}: {e.strerror}; give a writable file path "
                              "(no part of it was left behind; an answer file written before it is kept)") from None
