"""`improv respond --follow` on the validation solos as recorded: the figures of the README's
Offline section, written to figures/respond-follow.json. Run from the repository root:

    python3 figures/respond_follow.py [DATA] > figures/respond-follow.json

Each call is written as a recorder with no click writes it: the notes where they were
played, 1.3 s into a file at 120 bpm. It is heard as `respond --follow` hears it
(`improv.commands.calltime.heard_time`), and judged as the follower bench judges a call
(`improv.bench.follow.judge`: the tempo, or half or double it, within 3 %, and the beat
within 0.1 beat of the soloist's beat track over the call's last beats).

1. **Single phrases**: up to 6 phrases a solo, 6 notes or more, heard alone.
2. **Takes**: from a phrase of the solo, the phrases that fit in 8 to 16 of its bars (two or
   more), heard together, judged over the last one.
3. **The line without --follow**: how often it says the call sounds played off the file's
   tempo, for the single phrases played with no click, and for the same phrases played to a
   click at their own tempo (each note at its beat of the beat track, the file at the
   phrase's tempo).

Three samplings (seeds 0-2): the median with the min and max. Seed 0's single phrases are
tests/test_respond_follow.py's.
"""

import json
import math
import random
import sys
from statistics import median

from improv.bench.follow import DEFAULT_DATA, judge
from improv.bench.human import load_human
from improv.bench.parts import engine
from improv.commands.callfile import CallFile
from improv.commands.calltime import HINT_CONFIDENCE, heard_time, on_the_files_grid
from improv.core.listen.tempo import BeatEstimate
from improv.core.theory.notes import Note

FILE_BPM, LEAD_S = 120.0, 1.3


def free_played(notes_played):
    """The notes of a call played with no click, as a file at 120 holds them: (call, its end,
    the file's start on the recording's clock)."""
    t0 = notes_played[0].onset - LEAD_S
    notes = [Note((n.onset - t0) * FILE_BPM / 60, n.pitch, n.duration * FILE_BPM / 60, n.velocity)
             for n in notes_played]
    end = max(n.end for n in notes)
    return CallFile(notes, [(0.0, FILE_BPM)], 4, 0, end=end), end, t0


def heard_right(notes_played, track, start, end):
    """(heard surely enough, right with --follow, right on the file's grid) for one call."""
    call, ended, t0 = free_played(notes_played)
    est = heard_time(call, [(0.0, FILE_BPM)], ended)
    file_grid = judge(BeatEstimate(FILE_BPM, t0, 1.0), track, start, end)
    if est is None:
        return False, False, file_grid["tempo_ok"] and file_grid["beat_ok"]
    r = judge(BeatEstimate(est.bpm, est.beat_time_s + t0, est.confidence), track, start, end)
    return True, r["tempo_ok"] and r["beat_ok"], file_grid["tempo_ok"] and file_grid["beat_ok"]


def hinted(call, tempo, ended):
    est = heard_time(call, [(0.0, tempo)], ended)
    return est is not None and est.confidence >= HINT_CONFIDENCE and not on_the_files_grid(est, tempo)


def run(solos, seed):
    rng = random.Random(seed)
    single = {"calls": 0, "heard": 0, "right": 0, "file_grid_right": 0, "hint_free": 0, "hint_click": 0}
    for solo in solos:
        for ph in rng.sample(solo.phrases, min(6, len(solo.phrases))):
            if len(ph.notes) < 6:
                continue
            single["calls"] += 1
            heard, right, file_right = heard_right(list(ph.notes), ph.track, ph.start, ph.end)
            single["heard"] += heard
            single["right"] += right
            single["file_grid_right"] += file_right
            call, ended, _ = free_played(list(ph.notes))
            single["hint_free"] += hinted(call, FILE_BPM, ended)
            b0, tempo = math.floor(ph.track.beat_at(ph.start)) - 2, float(round(ph.tempo))
            beats = [Note(ph.track.beat_at(n.onset) - b0, n.pitch, ph.track.beat_at(n.end) - ph.track.beat_at(n.onset),
                          n.velocity) for n in ph.notes]
            ended = max(n.end for n in beats)
            single["hint_click"] += hinted(CallFile(beats, [(0.0, tempo)], 4, 0, end=ended), tempo, ended)
    takes = {"calls": 0, "heard": 0, "right": 0, "file_grid_right": 0}
    for solo in solos:
        for _ in range(4):
            i, bars = rng.randrange(len(solo.phrases)), rng.randint(8, 16)
            b0 = solo.track.beat_at(solo.phrases[i].start)
            take = [p for p in solo.phrases[i:] if solo.track.beat_at(p.end) - b0 <= 4 * bars]
            if len(take) < 2:
                continue
            takes["calls"] += 1
            heard, right, file_right = heard_right([n for p in take for n in p.notes], solo.track, take[-1].start,
                                                   take[-1].end)
            takes["heard"] += heard
            takes["right"] += right
            takes["file_grid_right"] += file_right
    return {"single": single, "takes": takes}


def share(runs, part, key):
    values = [100.0 * r[part][key] / r[part]["calls"] for r in runs]
    return {"median": round(median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT_DATA)
    solos = load_human(data, "valid")
    runs = [run(solos, seed) for seed in range(3)]
    out = {
        "engine": engine(), "data": "validation solos (WJazzD, 4/4)", "file_bpm": FILE_BPM, "seeds": [0, 1, 2],
        "hint_confidence": HINT_CONFIDENCE, "runs": runs,
        "percent": {
            "single_right": share(runs, "single", "right"), "single_file_grid_right": share(runs, "single", "file_grid_right"),
            "single_heard": share(runs, "single", "heard"),
            "takes_right": share(runs, "takes", "right"), "takes_file_grid_right": share(runs, "takes", "file_grid_right"),
            "takes_heard": share(runs, "takes", "heard"),
            "hint_free_played": share(runs, "single", "hint_free"), "hint_click_played": share(runs, "single", "hint_click"),
        },
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
