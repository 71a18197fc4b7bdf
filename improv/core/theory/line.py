"""The player's line in what they play: which notes are a voicing's under it (a chord's
lower notes, a keyboardist's left hand) and which are the melody a partner answers.

Everything is in beats (a phrase's own, or the session timeline's); with the tempo known,
"struck together" and "sounding over" also count in seconds.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from improv.core.theory.notes import Note, Phrase

CHORD_SPREAD = 0.1  # beats: notes starting this close together are struck as one chord...
CHORD_SPREAD_S = 0.04  # ...and at most this many seconds, with the tempo known (a slow grace note is a line)
UNDER_HELD = 0.25  # beats: a higher note sounding this long past a note's onset has it under the line...
UNDER_HELD_S = 0.15  # ...and at least this many seconds, with the tempo known (a fast legato line's overlap is not)
ROLL_S = 0.08  # seconds: a note this soon after the one before, sounding with it, is struck with it (a roll)...
ROLL = 0.15  # ...or this many beats, with no tempo known
ACCOMPANIMENT_BELOW = 5  # semitones: a voicing whose top is this far under the line around it accompanies it
VOICING_STEP = 7  # semitones: a voicing's top is at most this far above its next voice (further: the other hand's)


def under_the_line(notes: tuple[Note, ...] | list[Note], tempo: float | None = None) -> list[bool]:
    """For each note, whether it sounds under the line: a higher note struck with it (within
    `CHORD_SPREAD`), before it and still sounding `UNDER_HELD` past its onset, or after it
    while it is held `UNDER_HELD` past that onset (a rolled chord's lower notes, a chord held
    under a line; in beats; with the tempo known, at most `CHORD_SPREAD_S` and at least
    `UNDER_HELD_S`). A legato line's overlap, even at 300 bpm, leaves its notes on the line."""
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
        out[i] = out[i] or any(j != i and notes[j].pitch > n.pitch for j in sounding)
        for j in sounding:  # struck before n and held under it (a roll slower than `spread`)
            if notes[j].start < n.start and notes[j].pitch < n.pitch and notes[j].end >= n.start + held:
                out[j] = True
    return out


def reach(tempo: float | None) -> tuple[float, float, float]:
    """(spread, held, roll) in beats at `tempo` (bpm; None: not known)."""
    if tempo is not None and math.isfinite(tempo) and tempo > 0:
        spread = min(CHORD_SPREAD, CHORD_SPREAD_S * tempo / 60.0)
        return spread, max(UNDER_HELD, UNDER_HELD_S * tempo / 60.0), max(spread, ROLL_S * tempo / 60.0)
    return CHORD_SPREAD, UNDER_HELD, ROLL


def strikes(notes: tuple[Note, ...] | list[Note], tempo: float | None = None) -> list[list[int]]:
    """The notes struck as one, in onset order (indices into `notes`): each note within
    `CHORD_SPREAD` of the one before, or within `ROLL_S` of it and sounding with it for
    `UNDER_HELD` (a rolled chord; a fast line's notes do not sound together)."""
    spread, held, roll = reach(tempo)
    order = sorted(range(len(notes)), key=lambda k: (notes[k].start, notes[k].pitch))
    out: list[list[int]] = []
    for i in order:
        if out:
            prev, n = notes[out[-1][-1]], notes[i]
            gap = n.start - prev.start
            if gap <= spread + 1e-9 or (gap <= roll + 1e-9 and min(prev.end, n.end) - n.start >= held - 1e-9):
                out[-1].append(i)
                continue
        out.append([i])
    return out


def on_the_line(notes: tuple[Note, ...] | list[Note], tempo: float | None = None) -> list[bool]:
    """For each note, whether it is the player's line (what a partner answers as melody): not
    a voicing's note under it (`under_the_line`, and sounding with the higher note: a grace
    note gone as its note sounds is the line's), and not the top of a voicing struck below
    the line (a left hand's chord while the right hand rests, or holds: its top
    `ACCOMPANIMENT_BELOW` semitones or more under the line's notes before and after it, and
    within `VOICING_STEP` of the voicing's next note: a note struck with the left hand but far
    above it is the right hand's). A call of chords alone is its chords' top notes; a single
    line is itself."""
    return _on_the_line(notes, under_the_line(notes, tempo), tempo)


def _on_the_line(notes: tuple[Note, ...] | list[Note], under: list[bool], tempo: float | None) -> list[bool]:
    held = reach(tempo)[1]

    def together(a: Note, b: Note) -> bool:
        return min(a.end, b.end) - max(a.start, b.start) >= held - 1e-9

    order = sorted(range(len(notes)), key=lambda k: (notes[k].start, notes[k].pitch))
    out = [True] * len(notes)
    # a note under the line sounding with a higher one for `held`: a voicing's (not a grace note)
    sounding: list[int] = []
    for i in order:
        n = notes[i]
        sounding = [j for j in sounding if notes[j].end >= n.start + held - 1e-9]
        for j in sounding:
            if together(n, notes[j]) and notes[j].pitch != n.pitch:
                low = i if n.pitch < notes[j].pitch else j
                out[low] = out[low] and not under[low]
        sounding.append(i)
    clusters = strikes(notes, tempo)  # notes struck together, a rolled chord's included
    tops = set()  # the tops of voicings one hand strikes: close above the next voice down, and sounding with it
    for c in clusters:
        by_pitch = sorted(c, key=lambda k: notes[k].pitch)
        if len(c) >= 2 and notes[by_pitch[-1]].pitch % 12 != notes[by_pitch[-2]].pitch % 12 \
                and notes[by_pitch[-1]].pitch - notes[by_pitch[-2]].pitch <= VOICING_STEP \
                and together(notes[by_pitch[-1]], notes[by_pitch[-2]]):
            tops.add(by_pitch[-1])
    line = [i for i in order if out[i] and i not in tops]  # the line's own notes, in time
    starts = [notes[i].start for i in line]
    for top in tops:
        if not out[top]:
            continue
        k = bisect_left(starts, notes[top].start)  # the line's notes before it: line[:k]
        j = bisect_right(starts, notes[top].start)  # after it: line[j:]
        around = [notes[line[i]].pitch for i in (k - 1, j) if 0 <= i < len(line)]
        if around and all(notes[top].pitch <= p - ACCOMPANIMENT_BELOW for p in around):
            out[top] = False
    return out


def off_the_line(notes: tuple[Note, ...] | list[Note], tempo: float | None = None) -> list[bool]:
    """For each note, whether it is harmony, not the line: under it (`under_the_line`), or
    the top of a voicing struck below it (`on_the_line`: a left hand's chord while the right
    hand rests). Only the line can be a mistake."""
    under = under_the_line(notes, tempo)
    return [u or not o for u, o in zip(under, _on_the_line(notes, under, tempo))]


def the_line(phrase: Phrase, tempo: float | None = None) -> Phrase:
    """The phrase's line (`on_the_line`): the same phrase without its voicings' notes
    under it. A partner that reads a pianist's call as melody reads this: with the left
    hand's chords in it, an answer went on from the left hand's register, and learned its
    leaps of an octave and more down to the chord and back as the player's intervals."""
    notes = phrase.notes
    if all(b.start - a.start > CHORD_SPREAD for a, b in zip(notes, notes[1:])):  # (in onset order)
        sounding = -math.inf  # the latest end so far
        for a, b in zip(notes, notes[1:]):
            sounding = max(sounding, a.end)
            if sounding >= b.start + UNDER_HELD:
                break
        else:
            return phrase  # a single line (nothing struck together, nothing sounding over a note): itself
    keep = on_the_line(notes, tempo)
    if all(keep):
        return phrase
    return Phrase(tuple(n for n, k in zip(phrase.notes, keep) if k), phrase.start, phrase.length)


def line_floor(phrase: Phrase, tempo: float | None = None) -> int:
    """The lowest note an answer to `phrase` keeps to: with harmony under its line (a left
    hand's voicings), the line's lowest note, so the answer stays out of the left hand's
    register (a call of chords alone: their lowest top); 0 for a single line."""
    off = off_the_line(phrase.notes, tempo)
    if not any(off) or all(off):
        return 0
    return min(n.pitch for n, o in zip(phrase.notes, off) if not o)
