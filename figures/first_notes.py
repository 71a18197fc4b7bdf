"""Where WJazzD soloists come in against the form's bar 1: the count the README's "In your
time" paragraph quotes, written to figures/first-notes.json. Run from the repository root:

    python3 figures/first_notes.py [DATA] > figures/first-notes.json

For each solo of the training split (the validation and test splits are not read), its first
note's bar and place in the bar (WJazzD's bar numbers: chorus 1 begins at bar 1, a pickup is
in bar 0 or before). A count, not a measurement: one run gives it.
"""

import csv
import io
import json
import sys
import tarfile
from collections import Counter

from improv.bench.follow import DEFAULT_DATA
from improv.bench.human import solo_name
from improv.bench.parts import engine
from improv.core.formats.splits import split_of


def where(row):
    bar, beat = int(row["bar"]), int(row["beat"])
    place = beat - 1 + (int(row["tatum"]) - 1) / int(row["division"])
    if bar <= 0:
        return "before bar 1 (a pickup)"
    if bar == 1:
        return "on bar 1's downbeat (within 0.25 beat)" if place < 0.25 else "later in bar 1"
    return "bar 2 or later"


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT_DATA)
    counts, chorus_one = Counter(), Counter()
    with tarfile.open(data) as tar:
        for name in sorted(tar.getnames()):
            if "/melody/" not in name or not name.endswith(".csv"):
                continue
            if split_of(solo_name(name.rsplit("/", 1)[1][:-4])) != "train":
                continue
            rows = list(csv.DictReader(io.TextIOWrapper(tar.extractfile(name), "utf-8")))
            try:
                counts[where(rows[0])] += 1
            except (IndexError, KeyError, ValueError):
                counts["unreadable"] += 1
                continue
            first = next((r for r in rows if r.get("chorus_id") == "1"), None)
            chorus_one[f"bar {first['bar']}" if first else "none"] += 1
    json.dump({"engine": engine(), "split": "train", "solos": sum(counts.values()), "first_note": dict(counts),
               "chorus_1_begins_at": dict(chorus_one.most_common())}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
