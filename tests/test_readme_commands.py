"""Every `improv ...` command the docs show a user parses as written: the README once told
users to run `improv respond call.mid --tune blues-f --explain`, which stopped at a missing
`-o`. A flag renamed, a positional made required or an option dropped fails here."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from improv.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "models/README.md", "figures/README.md")


def shown_commands(text: str) -> list[str]:
    """`improv` command lines in fenced blocks, and inline ones that give arguments (a bare
    `improv jam` in a sentence names the command, it is not a command line)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.strip().startswith("improv "):
            out.append(line.strip())
    out += [m.group(1) for m in re.finditer(r"`(improv [^\s`]+ [^`]+)`", text)]
    return out


def as_argv(shown: str) -> list[str]:
    """The argv a user types: comments cut, optional [parts] taken, the first of a|b."""
    line = re.split(r"\s+#\s", " ".join(shown.split()), maxsplit=1)[0]
    line = line.replace("[", "").replace("]", "")
    argv = shlex.split(line)[1:]
    return [a.split("|")[0] if re.fullmatch(r"[\w-]+(\|[\w-]+)+", a) else a for a in argv]


CASES = [(doc, shown) for doc in DOCS for shown in shown_commands((ROOT / doc).read_text(encoding="utf-8"))]


def test_the_docs_show_commands():
    assert len(CASES) >= 20 and any("--explain" in shown for _, shown in CASES)


@pytest.mark.parametrize("doc, shown", CASES)
def test_a_command_in_the_docs_parses(doc, shown, capsys):
    argv = as_argv(shown)
    if argv == ["--help"]:
        return
    try:
        build_parser(argv[0]).parse_args(argv)
    except SystemExit:
        pytest.fail(f"{doc}: `{shown}` does not parse: {capsys.readouterr().err.strip().splitlines()[-1]}")


def test_the_chart_notation_the_readme_shows_reads():
    from improv.core.theory.chart import parse_chart

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    para = text[text.index("**Charts.**"):].split("\n\n", 1)[0]
    shown = re.findall(r"`([^`]+)`", para)
    symbols = [s for s in shown if not s.startswith(("--", "|", "/", "%", "NC", "beats_per_bar", "improv/"))
               and " " not in s and not re.fullmatch(r"\d\.", s)]  # (not the endings' marks, 1. and 2.)
    assert len(symbols) >= 8, symbols
    for s in symbols:
        parse_chart(s)  # raises, naming the symbol, if the README shows one that does not read
    parse_chart(next(s for s in shown if "/" in s and " " in s and not s.startswith("--")))  # the beat slashes' example
