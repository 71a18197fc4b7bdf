"""Train / valid / test splits by recording and tune, and the committed list."""

from __future__ import annotations

import csv
import io
import os
import re
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from improv.core.formats import splits as S

REAL = Path(os.environ.get("IMPROV_WJAZZD") or Path(__file__).resolve().parents[2] / "shared" / "data"
            / "wjazzd-solos.tar.gz")


@pytest.mark.parametrize("name, performer, title, key", [
    ("ChetBaker_ThereWillNeverBeAnotherYou-1", "Chet Baker", "There Will Never Be Another You",
     "chetbaker|therewillneverbeanotheryou"),
    ("ChetBaker_ThereWillNeverBeAnotherYou-2_FINAL", "", "", "chetbakertherewillneverbeanotheryou"),
    ("ChetBaker_ThereWillNeverBeAnotherYou", "", "", "chetbakertherewillneverbeanotheryou"),
    ("FatsNavarro_GoodBait_AlternateTake", "", "", "fatsnavarrogoodbait"),
    ("Someone_Basalt", "", "", "someonebasalt"),  # "alt" inside a word is not a take suffix
])
def test_group_key(name, performer, title, key):
    assert S.group_key(name, performer, title) == key


def test_make_split_keeps_groups_together_and_tests_only_what_v1_held_out():
    names = [f"Player{i}_Tune{i // 2}-{i % 2 + 1}" for i in range(600)]  # 300 recordings of two solos
    split = S.make_split((n, "", "") for n in names)
    by_group: dict[str, set[str]] = {}
    for n in names:
        by_group.setdefault(S.group_key(n), set()).add(split[n])
    assert all(len(v) == 1 for v in by_group.values())
    for n in names:
        if split[n] == "test":  # every solo of a test group was held out by the v1 model
            assert S.legacy_split(n) == "valid"
    counts = Counter(split.values())
    assert counts["test"] > 0 and 0.05 < counts["valid"] / len(names) < 0.25 and counts["train"] > 400


def test_unlisted_solos_follow_the_group_rule():
    names = [f"Nobody{i}_Tune{i}" for i in range(2000)]
    got = Counter(S.split_of(n) for n in names)
    assert set(got) == {"train", "valid", "test"}
    assert 0.06 < got["test"] / 2000 < 0.14 and 0.06 < got["valid"] / 2000 < 0.14
    assert S.split_of("Nobody1_Tune1-1") == S.split_of("Nobody1_Tune1-2")  # takes stay together


def test_committed_list_has_each_group_on_one_side():
    listed = S.committed_split()
    assert len(listed) == 410
    assert Counter(listed.values()) == {"train": 329, "valid": 41, "test": 40}
    sides: dict[str, set[str]] = {}
    for n, which in listed.items():
        sides.setdefault(S.group_key(n), set()).add(which)
    assert all(len(v) == 1 for v in sides.values())
    # the two solos of one recording that the v1 split put on both sides are now together
    assert S.split_of("ChetBaker_ThereWillNeverBeAnotherYou-1") == S.split_of("ChetBaker_ThereWillNeverBeAnotherYou-2")
    assert S.legacy_split("ChetBaker_ThereWillNeverBeAnotherYou-1") != S.legacy_split(
        "ChetBaker_ThereWillNeverBeAnotherYou-2")


@pytest.mark.skipif(not REAL.exists(), reason="the WJazzD tar.gz is not in ../shared/data")
def test_the_rule_still_makes_the_committed_list():
    with tarfile.open(REAL) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("solo_info.csv"))
        rows = list(csv.DictReader(io.TextIOWrapper(tar.extractfile(member), encoding="utf-8")))
    made = S.make_split((r["solo"], r["performer"], r["title"]) for r in rows)
    assert made == S.committed_split()


@pytest.mark.parametrize("text, says", [
    ('{"train": ["A_Tune", "B_Tune"], "test": ["B_Tune"]}', "puts the solo 'B_Tune' in two splits (train and test)"),
    ('{"train": [', "cannot be read (JSONDecodeError)"),
])
def test_a_split_file_with_a_solo_in_two_splits_or_damaged_is_refused(text, says, tmp_path, monkeypatch):
    """A solo listed in train and test was silently put in test (the last list won); a damaged
    file was a JSON traceback from every command that reads the data."""
    from improv.errors import DataError

    path = tmp_path / "split.json"
    path.write_text(text)
    monkeypatch.setattr(S, "SPLIT_FILE", path)
    S.committed_split.cache_clear()
    try:
        with pytest.raises(DataError, match=re.escape(says)):
            S.split_of("B_Tune")
    finally:
        S.committed_split.cache_clear()
