"""Which notes of a call are its line and which sound under it (a keyboardist's left hand,
a chord's lower notes): the outside-note hearing (`improv.core.embrace.hearing`) and the
Markov partner's learning (`improv.core.respond.markov_memory`) both read only the line.

Everything is in beats (a note's start and duration), the tempo in bpm when known.
"""

from __future__ import annotations

import math

from improv.core.theory.notes import Note

CHORD_SPREAD = 0.1  # beats: notes starting this close together are struck as one chord...
CHORD_SPREAD_S = 0.04  # ...and at most this many seconds, with the tempo known (a slow grace note is a line)
UNDER_HELD = 0.25  # beats: a higher note sounding this long past a note's onset has it under the line...
UNDER_HELD_S = 0.15  # ...and at least this many seconds, with the tempo known (a fast legato line's overlap is not)


def under_the_line(notes: tuple[Note, ...] | list[Note], tempo: float | None = None) -> list[bool]:
    """For each note, whether it sounds under the line: a higher note struck with it (within
    `CHORD_SPREAD`) or before it and still sounding `UNDER_HELD` past its onset (in beats;
    with the tempo known, at most `CHORD_SPREAD_S` and at least `UNDER_HELD_S`). A legato
    line's overlap, even at 300 bpm, leaves its notes on the line."""
    spread, held = CHORD_SPREAD, UNDER_HELD
    if tempo is not None and math.isfinite(tempo) and tempo > 0:
        spread = min(spread, CHORD_SPREAD_S * tempo / 60.0)
        held = max(held, UNDER_HELD_S * tempo / 60.0)
    order = sorted(range(len(notes)), key=lambda k: notes[k].start)
    out = [False] * len(notes)
    # the notes before n that still sound at it: a window over the onsets, kept by their ends
    # (linear in a call's length; a scan from the first note was quadratic: 512 notes, 40 ms)
    sounding: list[int] = []
    ahead = 0  # the first note (in onset order) not yet in `sounding`
    for i in order:
        n = notes[i]
        while ahead < len(order) and notes[order[ahead]].start <= n.start + spread:
            sounding.append(order[ahead])
            ahead += 1
        sounding = [j for j in sounding if notes[j].start >= n.start - spread
                    or notes[j].start + notes[j].duration >= n.start + held]
        out[i] = any(j != i and notes[j].pitch > n.pitch for j in sounding)
    return out
