"""Write examples/demo_calls.mid: the scripted player of `improv demo`.

Five short jazz calls over the blues in F (the demo's chart, 120 bpm), each followed by
room for the partner's answer: the call ends, a beat of silence tells the engine the call is
over, the answer takes as many bars as the call, and the next call begins when it ends.

The file's beat 0 is bar 1 of the chart, for `improv demo` and `improv respond` alike; the
first bar is empty (the count-in), so the first call starts in bar 2 and the last one, the
long E, lands in bar 15 on F7.
Run it again after changing the calls:  python3 examples/make_demo_calls.py
"""

from __future__ import annotations

import math
from pathlib import Path

import mido

TICKS = 480  # per beat
TEMPO = 120
GAP_BEATS = 1.0  # the engine's default: this much silence ends a call
COUNT_IN_BEATS = 4.0  # an empty first bar before the first call

# Each call: (pitch, start beat, duration beats[, velocity]), starts relative to the call.
CALLS = [
    # bars 2-3, Bb7 | F7: a blues lick down from C, the blue third bending into A
    [(72, 0.0, 0.5, 96), (69, 0.5, 0.5), (65, 1.0, 0.5), (68, 1.5, 0.25, 70), (69, 1.75, 0.75, 90),
     (72, 2.5, 0.5), (74, 3.0, 0.5), (72, 3.5, 0.5), (75, 4.0, 0.5, 100), (74, 4.5, 0.5), (72, 5.0, 0.5),
     (70, 5.5, 0.5), (69, 6.0, 1.0, 84)],
    # one bar: a bebop arpeggio, up F7 and down through the chromatic passing tone
    [(65, 0.0, 0.5, 90), (69, 0.5, 0.5), (72, 1.0, 0.5), (75, 1.5, 0.5), (74, 2.0, 0.5), (73, 2.5, 0.5),
     (72, 3.0, 0.75, 80)],
    # two bars: a ii-V shape, Gm7 to C7, landing on the third of F
    [(67, 0.0, 0.5, 92), (70, 0.5, 0.5), (74, 1.0, 0.5), (77, 1.5, 0.5), (76, 2.0, 0.5), (74, 2.5, 0.5),
     (72, 3.0, 0.5), (70, 3.5, 0.5), (69, 4.0, 0.5), (67, 4.5, 0.5), (64, 5.0, 0.5), (67, 5.5, 0.5),
     (69, 6.0, 1.25, 86)],
    # one bar: a short riff with a rest, to end on the root
    [(72, 0.0, 0.25, 100), (72, 0.5, 0.25, 90), (70, 1.0, 0.5), (68, 1.5, 0.5, 80), (65, 2.0, 1.5, 84)],
    # bar 15, over F7: a long, accented E natural on beat 1 (the major 7th over a dominant: a
    # "wrong" note), to show the partner embracing it instead of correcting it
    [(76, 0.0, 2.0, 118), (74, 2.0, 0.5, 80), (72, 2.5, 0.5), (69, 3.0, 0.75, 84)],
]


def place_calls(calls: list[list[tuple]], first: float = 0.0, lead: float = 0.12) -> list[float]:
    """Where each call starts (beats): after the previous answer (on the next beat after the
    call's end + gap + a little thinking time, as long as the call in whole bars) is over."""
    starts, at = [], first
    for call in calls:
        starts.append(at)
        end = at + max(n[1] + n[2] for n in call)
        answer_start = math.ceil(end + GAP_BEATS + lead)
        answer_bars = max(1, math.ceil((end - at) / 4 - 1e-6))
        at = float(answer_start + 4 * answer_bars)
    return starts


def build() -> mido.MidiFile:
    events = []
    for start, call in zip(place_calls(CALLS, first=COUNT_IN_BEATS), CALLS):
        for n in call:
            pitch, onset, dur, *vel = n
            t = start + onset
            events.append((t, 1, mido.Message("note_on", note=pitch, velocity=vel[0] if vel else 80)))
            events.append((t + dur, 0, mido.Message("note_off", note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="demo player", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(TEMPO), time=0))
    now = 0
    for t, _, msg in events:
        tick = int(round(t * TICKS))
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=TICKS))
    mid.tracks.append(track)
    return mid


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description="write examples/demo_calls.mid and improv/data/demo_calls.mid, the "
                            "scripted player of `improv demo`, from the calls in this file").parse_args()
    # examples/ for people reading the repo; improv/data/ so that an installed improv finds it
    here = Path(__file__).resolve().parent
    mid = build()
    for out in (here / "demo_calls.mid", here.parent / "improv" / "data" / "demo_calls.mid"):
        mid.save(out)
        print(f"wrote {out} ({sum(len(c) for c in CALLS)} notes in {len(CALLS)} calls)")
