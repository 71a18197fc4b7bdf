"""Tune files from the Weimar Jazz Database's `solo_info.csv` (chord_changes, form columns).

A row's chord_changes read like

    A1: ||Bb6 G7 |C-7 F7 |Bb G-7 |C-7 F7 ||
    A2: ||Bb6 G7 |C-7 F7 |...||

one line per section of the form as performed, in order, WJazzD chord spelling
(`C-7`, `Fj7`, `D79b`; sometimes two chords run together, `C-7F7`). Each becomes a
tune file that `improv.core.theory.chart.load_tune` reads: title, tempo, key, form and
[sections]; a section that repeats an earlier one note for note reuses its name.
Every written file credits the database and its licence (ODbL) in a comment.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from improv.core.formats.paths import whole_or_nothing
from improv.core.theory.chart import tune_from_dict
from improv.core.theory.chords import parse_chord
from improv.errors import ChordError, ConfigError, DataError

CREDIT = (
    "# Converted by improv from the Weimar Jazz Database (Jazzomat Research Project),\n"
    "# solo_info.csv, made available under the Open Database License (ODbL) v1.0:\n"
    "# https://opendatacommons.org/licenses/odbl/1-0/ . Chords as performed in {solo}.\n"
)
# Split run-together chords before a root (not after a slash, not inside "NC").
_SPLIT_CHORDS = re.compile(r"(?<=.)(?<![/N])(?=[A-G])|(?<=.)(?=NC)")


@dataclass(frozen=True)
class Section:
    """A section as performed: its name and its bars (each a tuple of canonical symbols)."""

    name: str
    bars: tuple[tuple[str, ...], ...]


def parse_changes(text: str) -> list[Section]:
    """Read a chord_changes cell into sections, chords spelled canonically (`NC` kept).

    Raises:
        ChordError: a chord cannot be read (names the section and the bar).
    """
    sections = []
    for line in text.strip().splitlines():
        if ":" not in line:
            continue
        name, _, body = line.partition(":")
        name = name.strip()
        bars = []
        for cell in body.split("|"):
            cell = cell.strip()
            if not cell:
                continue
            chords = []
            for token in cell.split():
                for sym in _SPLIT_CHORDS.split(token):
                    try:
                        ch = parse_chord(sym, dialect="wjazzd")
                    except ChordError as e:
                        raise ChordError(f"section {name} bar {len(bars) + 1}: {e}") from None
                    chords.append("NC" if ch is None else str(ch))
            bars.append(tuple(chords))
        if bars:
            sections.append(Section(name, tuple(bars)))
    played = [sec for sec in sections if not sec.name.startswith("I")]  # drop intros
    return played or sections


def _key_name(key: str) -> str | None:
    """`Bb-maj` -> `Bb`, `C-min` -> `Cm`, `Ab` -> `Ab`; a mode a tune file's key cannot say
    (`D-dor`, `C-chrom`, `Bb-blues`) or no key -> None (the tune is written without one)."""
    root, _, mode = key.strip().partition("-")
    if not re.fullmatch(r"[A-G][#b]?", root) or mode not in ("", "maj", "min"):
        return None
    return root + ("m" if mode == "min" else "")


def row_to_tune(row: dict[str, str]) -> dict:
    """One solo_info row -> a tune dict (`tune_from_dict` shape).

    Raises:
        DataError: the row has no chord changes or an unusable metre.
        ChordError: a chord cannot be read.
    """
    sections = parse_changes(row.get("chord_changes", ""))
    if not sections:
        raise DataError(f"{row.get('solo', '?')}: no chord changes")
    sig = row.get("signature", "") or "4/4"
    try:
        bpb = int(sig.split("/")[0])
    except ValueError:
        raise DataError(f"{row.get('solo', '?')}: cannot read the metre {sig!r}") from None
    names: dict[str, str] = {}  # section name -> the first name with the same bars
    table: dict[str, str] = {}
    form = []
    for sec in sections:
        same = next((n for n, bars in table.items() if bars == _bars_text(sec.bars)), None)
        name = same or sec.name
        if not same:
            if name in table:  # a repeated label with different bars
                name = f"{name}'"
            table[name] = _bars_text(sec.bars)
        names[sec.name] = name
        form.append(name)
    tune: dict = {"title": row.get("title", "") or row.get("solo", "untitled")}
    try:
        tune["tempo"] = round(float(row.get("avgtempo", "")))
    except (ValueError, OverflowError):  # missing, or not a finite number: no tempo
        pass
    key = _key_name(row.get("key") or "")
    if key:
        tune["key"] = key
    if row.get("rhythmfeel"):
        tune["style"] = row["rhythmfeel"].lower()
    tune["source"] = f"WJazzD: {row.get('performer', '?')}, {tune['title']} ({row.get('solo', '?')})"
    if bpb != 4:
        tune["beats_per_bar"] = bpb
    tune["form"] = form
    tune["sections"] = table
    try:  # what is written must load: the tune files' own checks (tempo, metre, key...)
        tune_from_dict(tune, str(row.get("solo", "?")))
    except ConfigError as e:
        raise DataError(str(e)) from None
    return tune


def _bars_text(bars: tuple[tuple[str, ...], ...]) -> str:
    return " | ".join(" ".join(b) for b in bars)


def tune_to_toml(tune: dict, solo: str = "the database") -> str:
    """A tune dict as a tune file (TOML) with the ODbL credit; `tomllib` reads it back equal.
    Written with tomlkit, so that any title or solo name is quoted and escaped correctly."""
    import tomlkit

    doc = tomlkit.document()
    for line in CREDIT.format(solo=" ".join(solo.split())).splitlines():  # a name with a newline stays one comment
        doc.add(tomlkit.comment(line.removeprefix("# ")))
    for key in ("title", "tempo", "key", "style", "source", "beats_per_bar"):
        if key in tune:
            doc[key] = tune[key]
    doc["form"] = list(tune["form"])
    doc.add(tomlkit.nl())
    sections = tomlkit.table()
    for name, bars in tune["sections"].items():
        sections[name] = bars
    doc["sections"] = sections
    return tomlkit.dumps(doc)


def slug(title: str) -> str:
    """`'Body and Soul'` -> `body-and-soul`."""
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return s or "untitled"


def _rows(lines) -> list[dict[str, str]]:  # noqa: ANN001 - an open text file or a list of lines
    return [{k: v or "" for k, v in row.items() if k is not None}  # (a short row's missing cells: None)
            for row in csv.DictReader(lines)]


def _archive_rows(path: Path) -> list[dict[str, str]]:
    """The solo_info.csv rows of a WJazzD archive or its unpacked folder."""
    from improv.core.formats.wjazzd_files import DataSource

    source = DataSource(path)
    try:
        text = source.read("solo_info.csv")
    finally:
        source.close()
    if text is None:
        raise DataError(f"{path} holds no solo_info.csv: give the WJazzD solo_info.csv, or the wjazzd-solos.tar.gz")
    return _rows(io.StringIO(text.lstrip("\ufeff"), newline=""))


def convert_csv(csv_path: str | Path, out_dir: str | Path) -> tuple[list[Path], list[str]]:
    """Write one tune file per distinct title of a solo_info.csv (or of the wjazzd-solos.tar.gz,
    or its unpacked folder, that holds it).

    Returns:
        (files written, one line per row skipped and why).

    Raises:
        DataError: the CSV is missing, unreadable or lacks the chord_changes column.
        ConfigError: the output folder cannot be made or written.
    """
    csv_path, out_dir = Path(csv_path), Path(out_dir)
    try:
        if csv_path.is_dir() or (csv_path.is_file() and tarfile.is_tarfile(csv_path)):
            rows = _archive_rows(csv_path)  # the wjazzd-solos.tar.gz every other command takes, or its folder
        else:
            with csv_path.open(newline="", encoding="utf-8-sig") as f:  # (-sig: a spreadsheet's "CSV UTF-8" has a BOM)
                rows = _rows(f)
    except FileNotFoundError:
        raise DataError(f"{csv_path} not found: give the WJazzD solo_info.csv") from None
    except UnicodeDecodeError:
        raise DataError(f"{csv_path} is not a UTF-8 text file: give the WJazzD solo_info.csv") from None
    except OSError as e:
        raise DataError(f"cannot read {csv_path} ({e.strerror or e}): give the WJazzD solo_info.csv") from None
    except csv.Error as e:  # (a cell past the csv module's limit, a stray NUL)
        raise DataError(f"{csv_path} is not a readable CSV ({e}): give the WJazzD solo_info.csv") from None
    if not rows:
        raise DataError(f"{csv_path} has no rows under a header (it is empty, or a header alone); is this the "
                        "WJazzD solo_info.csv?")
    if "chord_changes" not in rows[0]:
        raise DataError(f"{csv_path}: no chord_changes column; is this the WJazzD solo_info.csv?")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: that is a file; give a folder path")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out_dir}: cannot make that folder ({e.strerror or e}); give a folder path") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out_dir}: the folder is not writable; write elsewhere")
    skipped: list[str] = []
    best: dict[str, tuple[int, str, dict]] = {}  # slug -> (bars, solo, tune): the fullest form wins
    for row in rows:
        solo = row.get("solo", "?")
        try:
            tune = row_to_tune(row)
        except (ChordError, DataError) as e:
            why = str(e)
            skipped.append(why if why.startswith(f"{solo}:") else f"{solo}: {why}")
            continue
        name = slug(tune["title"])
        bars = sum(tune["sections"][n].count("|") + 1 for n in tune["form"])
        if name in best and best[name][0] >= bars:
            skipped.append(f"{solo}: {tune['title']!r} is written from {best[name][1]}")
            continue
        if name in best:
            skipped.append(f"{best[name][1]}: {tune['title']!r} is written from {solo}")
        best[name] = (bars, solo, tune)
    written: list[Path] = []
    for name, (_, solo, tune) in sorted(best.items()):
        path = out_dir / f"{name}.toml"
        if path.exists() or path.is_symlink():  # (a tune there may be the user's, edited: never written over)
            skipped.append(f"{solo}: {path} is there already, kept (remove it to write it again)")
            continue
        try:
            with whole_or_nothing(path) as tmp:  # (a full disk left a 0-byte tune file that said nothing)
                tmp.write_text(tune_to_toml(tune, solo), encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot write {path} ({e.strerror or e}); {len(written)} tune files written before "
                              "it: free some space or give --out another folder") from None
        written.append(path)
    return written, skipped
