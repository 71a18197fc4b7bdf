"""Which WJazzD solos train the model, which choose between models, which only test them.

Three splits, by recording and by tune: every solo of one group (one performer's solos
over one tune: the two solos of one recording such as `ChetBaker_ThereWillNeverBeAnotherYou-1`
/ `-2`, and a performer's alternate takes) is on the same side, so no split hears a
phrase it could have learned from a sibling take.

- `test`: what no choice of model, decoding or baseline looks at; `improv eval --split test`
  reports it. It is the groups all of whose solos the shipped v1 model held out (its
  md5 rule, `legacy_split`), so the v1 model can be measured on it too.
- `valid`: the choice split (checkpoints, decoding settings, baseline orders): the other
  groups whose group key hashes under `VALID_GROUP_PERCENT`.
- `train`: the rest.

The split of the 410 solos of `wjazzd-solos.tar.gz` is fixed in the committed
`improv/data/wjazzd_split.json` (made once by `make_split`; a test checks that the rule
still makes the same list). A solo the list does not name (another archive) is placed by
`rule_split`: its group key's md5 puts 10 % in test and 10 % in valid.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from improv.errors import DataError

SPLITS = ("train", "valid", "test")
VALID_PERCENT = 10  # a solo the list does not name: 10 % test, 10 % valid by its group's md5
VALID_GROUP_PERCENT = 14  # the archive's valid groups: 41 of 410 solos (10 % of the hash gave only 23)
LEGACY_VALID_PERCENT = 10  # the v1 model's held-out share (md5 of the solo name)
SPLIT_FILE = Path(__file__).resolve().parents[2] / "data" / "wjazzd_split.json"
_TAKE = re.compile(r"(-\d+|_alternatetake\d*|_alt\d*|_take\d*)$", re.IGNORECASE)


def solo_stem(name: str) -> str:
    """`"ArtPepper_Stardust-1_FINAL"` -> `"ArtPepper_Stardust-1"`."""
    for suffix in ("_FINAL_beattrack", "_FINAL"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def group_key(name: str, performer: str = "", title: str = "") -> str:
    """The recording/tune group of a solo: performer and title (from solo_info), else the
    solo name without its take suffix (`-1`, `_AlternateTake2`)."""
    if performer.strip() and title.strip():
        return f"{_norm(performer)}|{_norm(title)}"
    return _norm(_TAKE.sub("", solo_stem(name)))


def _pct(text: str) -> int:
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 100


def legacy_split(name: str) -> str:
    """The v1 model's split: md5 of the solo name, 10 % "valid" (before groups were kept together)."""
    return "valid" if _pct(solo_stem(name)) < LEGACY_VALID_PERCENT else "train"


def rule_split(name: str, performer: str = "", title: str = "") -> str:
    """The split of a solo the committed list does not name: by its group key's md5."""
    pct = _pct("group:" + group_key(name, performer, title))
    return "test" if pct < VALID_PERCENT else "valid" if pct < 2 * VALID_PERCENT else "train"


def make_split(solos: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """(name, performer, title) of every solo of an archive -> its split (the rule above).

    Test: the groups held out whole by the v1 model; valid: of the others, the groups
    whose key hashes under `VALID_GROUP_PERCENT`; train: the rest.
    """
    groups: dict[str, list[str]] = {}
    for name, performer, title in solos:
        groups.setdefault(group_key(name, performer, title), []).append(solo_stem(name))
    out = {}
    for key, names in groups.items():
        if all(legacy_split(n) == "valid" for n in names):
            which = "test"
        else:
            which = "valid" if _pct("group:" + key) < VALID_GROUP_PERCENT else "train"
        for n in names:
            out[n] = which
    return out


@lru_cache(maxsize=1)
def committed_split() -> dict[str, str]:
    """The committed split of the training archive: solo name -> split ({} if the file is missing).

    Raises:
        DataError: the file cannot be read, or names a solo in two splits (which would be
            trained on and tested on, or placed by the order of the lists).
    """
    if not SPLIT_FILE.is_file():
        return {}
    try:
        data = json.loads(SPLIT_FILE.read_text(encoding="utf-8"))
        lists = [(which, list(data.get(which, []))) for which in SPLITS]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as e:
        raise DataError(f"{SPLIT_FILE} cannot be read ({type(e).__name__}): restore it from the repository") from None
    out: dict[str, str] = {}
    for which, names in lists:
        for n in names:
            if out.setdefault(n, which) != which:
                raise DataError(f"{SPLIT_FILE} puts the solo {n!r} in two splits ({out[n]} and {which}): "
                                "a solo must be in one; restore the file from the repository")
    return out


def split_of(name: str, performer: str = "", title: str = "") -> str:
    """`"train"`, `"valid"` or `"test"`: the committed list's, else `rule_split`'s."""
    listed = committed_split().get(solo_stem(name))
    return listed if listed is not None else rule_split(name, performer, title)


def write_split(split: dict[str, str], path: Path = SPLIT_FILE) -> Path:
    """Write a split as the committed JSON (sorted names per split)."""
    data = {"rule": "improv.core.formats.splits.make_split over wjazzd-solos.tar.gz (see its docstring)"}
    data.update({which: sorted(n for n, s in split.items() if s == which) for which in SPLITS})
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path
