"""The shipped tune charts (`improv/data/tunes/*.toml`) and finding a tune by its name or path
(`--tune`, `[harmony] tune`, `improv tunes NAME`). Reading a chart from its file is
`improv.core.theory.chart.load_tune`'s.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from improv.errors import ConfigError

TUNES_DIR = Path(__file__).resolve().parent / "data" / "tunes"
TUNE_SOURCE = "--tune, or [harmony] tune in a --config file"


def find_tune(name: str, source: str = TUNE_SOURCE) -> Path:
    """A tune name (`blues-f`; `Blues F` and `blues_f` too) or a path to a .toml file -> the file.
    `source`: where the name came from, for the error ("" for none).

    Raises:
        ConfigError: naming the tune and listing the shipped ones.
    """
    said = f" ({source})" if source else ""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            if path.stem in shipped_tunes() and path.parent == Path("."):  # (the shipped file's name: blues-f.toml)
                raise ConfigError(f"tune file {path} not found{said}: {path.stem} is a shipped tune; name it without "
                                  f".toml: {path.stem}")
            raise ConfigError(f"tune file {path} not found{said}: give the path of a tune .toml, or a shipped tune's "
                              f"name ({', '.join(shipped_tunes()[:3])}, ...: `improv tunes` lists them)")
        return path
    plain = "-".join(name.strip().lower().replace("_", " ").replace("-", " ").split())  # (shipped names are lower-case)
    for stem in dict.fromkeys((name, plain)):
        candidate = TUNES_DIR / f"{stem}.toml"
        if stem and "/" not in stem and candidate.exists():
            return candidate
    if _is_chart(name):  # (chords given where a tune is named: --tune "Dm7 G7 | Cmaj7")
        raise ConfigError(f"{name!r}{said} is a chord chart, not a tune: give chords with --chords (or [harmony] "
                          f"chords), e.g. --chords \"{name.strip()}\"; a tune is a shipped name or a .toml file")
    known = shipped_tunes()
    close = difflib.get_close_matches(plain, known, n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    raise ConfigError(f"no tune named {name!r}{said}: {guess}shipped tunes are {', '.join(known)} (or give a .toml path)")


def shipped_tunes() -> list[str]:
    """The shipped tunes' names, sorted."""
    return sorted(p.stem for p in TUNES_DIR.glob("*.toml"))


def _is_chart(text: str) -> bool:
    """Whether `text` reads as a chord chart ("Dm7 G7 | Cmaj7", "Cmaj7")."""
    from improv.core.theory.chart import parse_chart
    from improv.errors import ChordError

    try:
        parse_chart(text)
    except ChordError:
        return False
    return True


def names_a_tune(text: str) -> str | None:
    """The tune `text` names, as --tune takes it (`blues-f`, or a .toml file's path), if it
    names one: a tune given where chords go (--chords blues-f); else None."""
    try:
        path = find_tune(text.strip(), "")
    except ConfigError:
        return None
    if not path.is_file():
        return None
    return path.stem if path.parent == TUNES_DIR else str(path)
