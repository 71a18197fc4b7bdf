"""Writes the tiny WJazzD-format fixture of tests/test_evaluate.py (run once; the CSVs are
committed). Eight solos over a ii-V-I-VI loop: eighth-note lines of chord tones and steps,
with phrases of 6-10 notes and rests between them, played a little behind the beat with
swung off-beats; names chosen so that two solos fall in the valid split and two in test."""

import csv
import random
from pathlib import Path

from improv.core.formats.splits import split_of

HERE = Path(__file__).resolve().parent
CHANGES = ["D-7", "G7", "Cj7", "A7"]  # one chord a bar, WJazzD spelling
TONES = {"D-7": [62, 65, 69, 72], "G7": [67, 71, 74, 77], "Cj7": [60, 64, 67, 71], "A7": [69, 73, 76, 79]}
MEL = ["onset", "duration", "period", "division", "bar", "beat", "tatum", "beat_duration", "signature", "pitch",
       "loud_max", "loud_median", "phrase_id", "phrase_begin", "chorus_id", "chord", "form", "idea"]
BEAT = ["onset", "duration", "period", "division", "bar", "beat", "signature", "chord", "form", "chorus_id", "bass"]


def names() -> list[str]:
    got: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for i in range(200):
        n = f"Fixture_Line{i}"
        got[split_of(n, "Fixture", n)].append(n)
    return got["train"][:4] + got["valid"][:2] + got["test"][:2]


def solo(name: str, rng: random.Random) -> None:
    bd = 0.5  # 120 bpm
    rows, beats = [], []
    bars = 24
    for bar in range(bars):
        ch = CHANGES[bar % 4]
        for b in range(4):
            beats.append([f"{(bar * 4 + b) * bd:.4f}", f"{bd:.4f}", 4, 1, bar, b + 1, "'4/4'", ch, "A1", bar // 4, 38])
    t = 0  # in eighths
    pid = 0
    while t < (bars - 2) * 8:
        pid += 1
        n = rng.randint(6, 10)
        pitch = rng.choice(TONES[CHANGES[(t // 8) % 4]])
        for k in range(n):
            bar, rest = divmod(t, 8)
            beat, half = divmod(rest, 2)
            ch = CHANGES[bar % 4]
            if k and rng.random() < 0.5:
                pitch = rng.choice(TONES[ch])
            elif k:
                pitch += rng.choice([-2, -1, 1, 2])
            dur = bd / 2 * (2 if k == n - 1 else 0.9)
            played = t * bd / 2 + bd * (0.03 + (0.1 if half else 0.0) + rng.gauss(0.0, 0.02))  # behind, swung
            rows.append([f"{played:.4f}", f"{dur:.4f}", 4, 2, bar, beat + 1, half + 1, f"{bd:.4f}", '"4/4"',
                         pitch, 0.3, 60 + rng.random() * 10, pid, int(k == 0), bar // 4, ch, "A1", "line"])
            t += 1
        t += rng.choice([2, 3, 4, 6])
    with open(HERE / "melody" / f"{name}_FINAL.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(MEL)
        w.writerows(rows)
    with open(HERE / "beats" / f"{name}_FINAL_beattrack.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(BEAT)
        w.writerows(beats)


def main() -> None:
    (HERE / "melody").mkdir(exist_ok=True)
    (HERE / "beats").mkdir(exist_ok=True)
    rng = random.Random(7)
    info = []
    for i, name in enumerate(names()):
        solo(name, rng)
        info.append([i + 1, f"{name}_FINAL", "Fixture", name, "ts", "BEBOP", "SWING", "MEDIUM", 120.0, "C-maj", "4/4",
                     "FUNCTIONAL", "", "(A1,4)", "A1: ||D-7 |G7 |Cj7 |A7 ||"])
    with open(HERE / "solo_info.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["melid", "solo", "performer", "title", "instrument", "style", "rhythmfeel", "tempoclass",
                    "avgtempo", "key", "signature", "tonality_type", "harmony_template", "form", "chord_changes"])
        w.writerows(info)


if __name__ == "__main__":
    main()
