"""The `--mode / --daring / --explain / --explain-json` flags that `improv respond` and
`improv jam` share, and turning them (over the config's `[embrace]` section) into
`EmbraceSettings`. Light at import time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from improv.config import Config, override
from improv.core.theory.chart import Chart
from improv.core.embrace.strategies import MODES, AnswerPlan, EmbraceSettings
from improv.errors import ConfigError


def _daring(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, found {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, found {value}")
    return value


def add_embrace_args(parser: argparse.ArgumentParser, trade: bool = False, explain: bool = True) -> None:
    """Add the embrace-the-mistake flags to a subcommand's parser.

    Args:
        parser: the subcommand's parser.
        trade: `--mode` also takes `trade` (and `free`), and may be given twice, as in
            `improv jam --mode trade --mode guide`.
        explain: add `--explain` and `--explain-json` (offline commands).
    """
    g = parser.add_argument_group("outside notes (embrace the mistake)")
    help_text = ("embrace: build the answer on your outside notes; guide: steer back to chord tones; "
                 "off: no special handling (default from the config: embrace)")
    if trade:
        g.add_argument("--mode", choices=MODES + ("trade", "free"), action="append",
                       help=help_text + "; trade: trade bars along the tune's form (see --trade-bars); "
                                        "free: call and response (default). Give it twice to set both")
    else:
        g.add_argument("--mode", choices=MODES, help=help_text)
    g.add_argument("--daring", type=_daring, metavar="X",
                   help="0..1: how readily outside notes are embraced and how far substitute chords reach (default 0.5)")
    if explain:
        g.add_argument("--explain", action="store_true", help="print what was heard and what the answer does with it")
        g.add_argument("--explain-json", metavar="FILE",
                       help="write the explanation as JSON (one record per handled note)")


def embrace_settings_from_args(args: argparse.Namespace, cfg: Config) -> EmbraceSettings:
    """The config's `[embrace]` section with `--mode` / `--daring` laid over it."""
    mode = getattr(args, "mode", None)
    if isinstance(mode, list):  # `--mode trade --mode guide`: the last outside-note mode given
        mode = next((m for m in reversed(mode) if m in MODES), None)
    cfg = override(cfg, "embrace", mode=mode, daring=getattr(args, "daring", None))
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
        try:
            Path(path).write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot write --explain-json {path}: {e.strerror}; give a writable file path") from None
