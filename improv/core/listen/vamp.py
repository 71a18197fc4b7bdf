"""The line over a left hand's vamp, read as a call is played (`[phrase] vamp = "line"`).

A pianist comps with the left hand under right-hand phrases: `LineTracker` keeps, for the
call under way, where the line is over its accompaniment (the split between their
registers), the line's first onset and last release, the line's notes run on down into the
accompaniment's register, and the sustain pedal's spans that may hold the line on. The
`Segmenter` feeds it the call's notes on each key event and asks it whether the line has
rested (`rest`) and whether a key is under the line (`accompanies`); it keeps the call logic.

Pure and in beats (the session timeline's), like the segmenter: no clocks, no threads.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

from improv.core.theory.line import ACCOMPANIMENT_BELOW, CHORD_SPREAD, ROLL, VOICING_STEP, on_the_line, strikes
from improv.core.theory.notes import Note

LINE_WINDOW = 32  # the call's latest notes read for its line and accompaniment, on each key event
RUN_BEATS = 1.0  # a line's note this soon after its last one may run on into the accompaniment's register
ACCOMPANIMENT_REACH = 12  # semitones: a note further under the line's note struck with it accompanies it
DUE = 0.75  # of the left hand's time from voicing to voicing: a lone key struck later may begin its next one
OVERDUE = 1.5  # of its longest recent time from voicing to voicing: no voicing by then, the left hand stopped comping


def _runs_on(window: list[Note], ons: list[bool], reg: list[bool], clusters: list[list[int]],
             known: set[int]) -> set[int]:
    """The notes in the accompaniment's register (`reg`) that are the line running on down
    into it (a pianist's right hand under the left hand's top note, which may still sound
    over it): struck alone, each within `RUN_BEATS` and `ACCOMPANIMENT_BELOW` semitones of
    the line's note before it (a note over the register read as the line, `ons`, or one
    run on); `known`: those found so in an earlier read (the line's notes
    before them may have left the window). A voicing struck in the line's rest is struck
    with others, and a low ostinato or bass note leaps from the line: they stay the
    accompaniment's."""
    alone = {c[0] for c in clusters if len(c) == 1}
    out: set[int] = set()
    last: Note | None = None  # the line's latest note
    for i in sorted(range(len(window)), key=lambda k: (window[k].start, window[k].pitch)):
        n = window[i]
        if i in known:
            out.add(i)
        elif not reg[i]:
            if not ons[i]:
                continue
        elif i in alone and last is not None and n.start - last.start <= RUN_BEATS + 1e-9 \
                and abs(n.pitch - last.pitch) <= ACCOMPANIMENT_BELOW:
            out.add(i)
        else:
            continue
        last = n
    return out


def _bass_notes(window: list[Note], line: list[bool], clusters: list[list[int]], bass: int) -> set[int]:
    """The notes read as the line (`line`) that are the left hand's bass line: struck alone,
    at most `VOICING_STEP` over the highest bass note heard struck with the line's (`bass`),
    and `ACCOMPANIMENT_REACH` or more under the line's latest note (or before any). A bass
    note in the line's rest has nothing sounding over it, so it reads as a line of its own;
    taken as the line's, it ends the line's rest and becomes the line's lowest note, which
    puts the next bass notes over the accompaniment's register."""
    alone = {c[0] for c in clusters if len(c) == 1}
    out: set[int] = set()
    last: Note | None = None  # the line's latest note
    for i in sorted(range(len(window)), key=lambda k: (window[k].start, window[k].pitch)):
        n = window[i]
        if not line[i]:
            continue
        if i in alone and n.pitch <= bass + VOICING_STEP and (last is None or last.pitch - n.pitch >= ACCOMPANIMENT_REACH):
            out.add(i)
            continue
        last = n
    return out


def _over_block(on: float, pitch: int, chord: list[tuple[float, int]]) -> bool:
    """Whether a key at `pitch` struck at `on` just after the keys of `chord` ((onset,
    pitch), struck within `ROLL` before it) is over them and not their roll: they were
    struck as one block (within `CHORD_SPREAD`, two keys at least) and it comes later than
    that and higher. A rolled chord's keys come one after another; a block and a key over it
    a moment later are two hands (the line's note just after the left hand's chord)."""
    if len(chord) < 2:
        return False
    first, last = min(o for o, _ in chord), max(o for o, _ in chord)
    return last - first <= CHORD_SPREAD + 1e-9 and on - last > CHORD_SPREAD + 1e-9 and pitch > max(p for _, p in chord)


class LineTracker:
    """The line and its accompaniment in the call under way (and, while the accompaniment
    goes on, across calls). Not thread-safe: the segmenter's thread feeds it.

    Args:
        on: False (`vamp = "all"`): no line is read, `rest` is always None and nothing
            accompanies.

    Attributes:
        split: (the accompaniment's top, the line's lowest) heard, or None: no line over voicings.
        carried: the call began under the last call's vamp: accompaniment alone is no call.
        heard: a line note over the accompaniment was heard in this call.
        end: the line's last release (None: a line key is down, or no line), beats.
        first: the line's first onset in the call, beats (inf: none yet).
    """

    def __init__(self, on: bool) -> None:
        self.on = on
        self.split: tuple[int, int] | None = None
        self.carried = False
        self.heard = False
        self.end: float | None = None
        self.first = math.inf
        self._run_on: set[tuple[float, int]] = set()  # (onset, pitch): the line's notes run on under the comping's top
        self._pedal_since: float | None = None  # the pedal went down here (None: up)
        self._pedal_spans: list[tuple[float, float]] = []  # the pedal's down-up spans in the call
        self._comped: list[float] = []  # the onsets of the accompaniment's latest voicings (three at most)
        self._over_gap = False  # the split was carried across a gap (both hands rested it between two voicings)
        self._acc_end = -math.inf  # the latest release of a key under the line in the call
        self._bass: int | None = None  # the highest single bass note heard struck with the line's (an ostinato)

    def pedal(self, down: bool, beat: float) -> None:
        """The sustain pedal went down (or up) at `beat`."""
        if down:
            self._pedal_since = beat
        elif self._pedal_since is not None:
            self._pedal_spans = [*self._pedal_spans[-7:], (self._pedal_since, beat)]
            self._pedal_since = None

    def comping(self, pitch: int) -> bool:
        """Whether a key at `pitch` is in the accompaniment's register: at or under its top."""
        return self.on and self.split is not None and pitch <= self.split[0]

    def accompanies(self, pitch: int, held: Mapping[int, tuple[float, int]] | None = None) -> bool:
        """Whether a key at `pitch` is under the line heard (this call's, or the last one's
        while its accompaniment goes on): in the accompaniment's register (`comping`), or
        `ACCOMPANIMENT_BELOW` under the line's lowest note (a voicing moving up). False with
        no line over voicings, or `vamp = "all"`.

        Asked at the key's strike with the keys down (`held`, pitch -> (onset, velocity),
        the key among them), a key under the line by its pitch is still the line's when it
        was read as the line running on into that register (`read`: struck alone, close
        after the line's last note and within `ACCOMPANIMENT_BELOW` of it), or when it was
        struck alone over the top of a voicing held down under it: the left hand holds that
        chord (its thumb on the top), so the key is the right hand's. A key struck with
        others (within `ROLL` of one: a rolled chord too) is a voicing's, and so is one
        struck when the left hand's next voicing is due (`_due`: its first key reaches us
        alone, perhaps a step from the line's last note or over the chord it lets go)."""
        if not self._under(pitch):
            return False
        if held is None or pitch not in held:
            return True
        on = held[pitch][0]
        near = [(o, p) for p, (o, _) in held.items() if p != pitch and abs(o - on) <= ROLL + 1e-9]
        if near and not _over_block(on, pitch, near):
            return True  # struck with it, or rolled into it: a voicing
        chord = [p for p in held if p != pitch and self._under(p)]  # the keys held down under the line, struck before it
        if self._due(on):
            return True  # the left hand's next voicing is due: a lone key may be its first
        if (on, pitch) in self._run_on:
            return False
        return not (len(chord) >= 2 and pitch > max(chord))

    def _bass_line(self) -> bool:
        """Whether the left hand plays a bass line (an ostinato, a walking bass) under the line:
        a single bass note heard struck with the line's, and no voicings' pace (two at least)."""
        return self._bass is not None and len(self._comped) < 2

    def _due(self, beat: float) -> bool:
        """Whether the left hand's next voicing is due at `beat`: `DUE` of its shortest
        recent time from strike to strike has gone by since its last (or its pace is not
        known yet)."""
        c = self._comped
        if len(c) < 2:
            return True
        return beat - c[-1] >= DUE * min(b - a for a, b in zip(c, c[1:]))

    def _under(self, pitch: int) -> bool:
        """`accompanies` by pitch alone: at or under the accompaniment's top, or
        `ACCOMPANIMENT_BELOW` under the line's lowest note."""
        if self._bass_line() and self.split is not None:  # (not the line's lowest less a step: its notes leap)
            return pitch <= max(self.split[0], self._bass + VOICING_STEP)
        return self.comping(pitch) or (self.split is not None and pitch <= self.split[1] - ACCOMPANIMENT_BELOW)

    def read(self, start: float, done: list[Note], held: dict[int, tuple[float, int]], beat: float) -> None:
        """Read the call's latest notes (`LINE_WINDOW` of its finished ones, `done`, with
        starts from `start`; and its `held` keys, pitch -> (onset, velocity), as long as
        they have sounded by `beat`) as a line and its accompaniment (`on_the_line`, which
        leaves a grace note on the line; the accompaniment's register: `comping`): where
        the line is, and its last release."""
        if not self.on:
            return
        done = done[-LINE_WINDOW:]
        keys = sorted(held.items(), key=lambda kv: kv[1][0])[-LINE_WINDOW:]
        window = done + [Note(on - start, p, max(beat - on, 1e-3), v) for p, (on, v) in keys]  # (held so far)
        # under the line, or in the accompaniment's register heard so far (a voicing read as
        # the line's where no line note is near it: the comping in the line's rest)
        ons = on_the_line(window)
        clusters = []
        for c in strikes(window):  # a block chord is not rolled: a key over it a moment later is the other hand's
            last = c[-1]  # (in onset order)
            if len(c) >= 3 and window[last].start - window[c[-2]].start > CHORD_SPREAD \
                    and _over_block(window[last].start, window[last].pitch, [(window[i].start, window[i].pitch) for i in c[:-1]]):
                clusters += [c[:-1], [last]]
                ons[last] = True
            else:
                clusters.append(c)
        if self._bass_line():  # an ostinato's notes struck alone are not the line's
            line = [o and not self.comping(n.pitch) for o, n in zip(ons, window)]
            for i in _bass_notes(window, line, clusters, self._bass):
                ons[i] = False
        known = {i for i, n in enumerate(window) if (start + n.start, n.pitch) in self._run_on}
        run_on = _runs_on(window, ons, [self.comping(n.pitch) for n in window], clusters, known)
        self._run_on |= {(start + window[i].start, window[i].pitch) for i in run_on}
        reg = [self.comping(n.pitch) and i not in run_on for i, n in enumerate(window)]
        if self._over_gap and not self.heard and self._plays_under(window, clusters, start, beat):
            self._forget()  # not the left hand's comping after the gap: a line down in its register
            return
        acc = [(not o and i not in run_on) or r for i, (o, r) in enumerate(zip(ons, reg))]
        for c in clusters:  # and a voicing's top over a voice in that register, well under the line (a chord moving up)
            by = sorted(c, key=lambda i: window[i].pitch)
            if len(by) >= 2 and reg[by[-2]] and window[by[-1]].pitch - window[by[-2]].pitch <= VOICING_STEP \
                    and window[by[-1]].pitch <= self.split[1] - ACCOMPANIMENT_BELOW:  # (reg: a split is known)
                acc[by[-1]] = True
        # the accompaniment's register: a voicing struck wholly under the line (a left hand's
        # chord), or a note more than an octave under the line's note struck with it (a bass
        # note on the line's beat); not a chord with the line's note on top (the right hand's),
        # nor a single note under the line (a soloist's line overlapping itself)
        under, bass = [], []
        for c in clusters:
            top = max(window[i].pitch for i in c)
            full = len(c) >= 2 and all(acc[i] for i in c)
            low = [window[i].pitch for i in c if acc[i] and (full or window[i].pitch < top - ACCOMPANIMENT_REACH)]
            under += low
            if not full and len(low) == 1 and sum(acc[i] for i in c) == 1:
                bass += low  # a single bass note struck with the line's
            voiced = full or (len(c) > 2 and sum(acc[i] for i in c) >= 2)  # (the line's note may be struck with it)
            if voiced and start + window[c[0]].start > (self._comped or [-math.inf])[-1] + ROLL:
                self._comped = [*self._comped[-2:], start + window[c[0]].start]  # the left hand's voicings
        if bass:
            self._bass = max(bass)
        if under:
            top = max(under)
            above = [n.pitch for n, a in zip(window, acc) if not a and n.pitch > top]
            if above:
                self.split = (top, min(above))
        if self.split is None:
            return
        line = [not a and (i in run_on or not self.comping(n.pitch)) for i, (n, a) in enumerate(zip(window, acc))]
        under_ends = [n.end for n, k in zip(done, line) if not k]
        if under_ends:
            self._acc_end = max(self._acc_end, start + max(under_ends))
        onsets = [start + n.start for n, k in zip(window, line) if k]
        if onsets:
            self.heard, self.first = True, min(self.first, *onsets)
        if any(line[len(done):]):
            self.end = None
            return
        ends = [n.end for n, k in zip(done, line) if k]
        if ends:
            self.end = start + max(ends)

    def _plays_under(self, window: list[Note], clusters: list[list[int]], start: float, beat: float) -> bool:
        """Whether the call, begun after a gap the split was carried across, has no voicing
        but two keys or more struck alone under the line (and too long ago to be a chord's
        first keys): a line played down in the left hand's register, not its comping."""
        if any(len(c) >= 2 for c in clusters):
            return False
        return sum(self._under(window[c[0]].pitch) and start + window[c[0]].start < beat - ROLL
                   for c in clusters) >= 2

    def rest(self) -> float | None:
        """The beat the line has rested since (its last release, or the pedal's lift that
        ended it), or None: no line over an accompaniment, a line key down or the pedal
        holding it, or `vamp = "all"`."""
        e = self.end
        if not self.on or self.split is None or e is None or not self.heard:
            return None
        if self._pedal_since is not None and self._pedal_since <= e + 1e-9:
            return None
        for down, up in self._pedal_spans:
            if down <= e + 1e-9 and e < up:
                e = up
        return e

    def rested(self, by: float, gap: float, last_onset: float, held: Iterable[int]) -> float | None:
        """The beat the line's rest began, if it has rested `gap` beats by `by` with the
        accompaniment going on: struck since the line's end (its last key's release: a
        chord struck on the pedal change that ended it counts; `last_onset`: the call's
        latest key down), sounding on past it (a chord on 4 lifted in the line's rest), or
        held through the rest (a key under the line among the `held`
        ones: a chord held under the phrase's end, as a pianist's left hand holds a whole
        note). With nothing struck or held (every key up: the gap cuts the call), None."""
        rest = self.rest()
        if rest is None or rest + gap > by + 1e-9:
            return None
        if max(last_onset, self._acc_end) > (rest if self.end is None else self.end) + 1e-9:
            return rest
        return rest if any(self._under(p) for p in held) else None

    def comps(self, beat: float) -> bool:
        """Whether the left hand is comping at `beat`: a line over its voicings heard, their
        pace known (two at least) and its next one not overdue (`OVERDUE` of its longest
        recent time from strike to strike since its last)."""
        c = self._comped
        if self.split is None or len(c) < 2:
            return False
        return beat - c[-1] <= OVERDUE * max(b - a for a, b in zip(c, c[1:])) + 1e-9

    def end_call(self, reason: str, beat: float) -> tuple[bool, bool]:
        """The call was cut (`reason`, as `Call.reason`) and noticed at `beat`: start reading
        the next one. It keeps this one's line and accompaniment while the accompaniment
        goes on: past a line's rest, or past a gap of both hands while the left hand keeps its
        pace (`comps`: comping on 2 and 4 rests both hands for the gap between its chords).
        Returns (the call was carried, a line was heard in it)."""
        was = self.carried, self.heard
        self.carried = self.split is not None and (reason != "gap" or self.comps(beat))
        self._over_gap = self.carried and reason == "gap"
        if not self.carried:
            self._forget()
        self.heard, self.end, self.first, self._pedal_spans = False, None, math.inf, []
        self._run_on, self._acc_end = set(), -math.inf
        return was

    def vamp_over(self, beat: float) -> None:
        """Every key has rested the gap between calls, by `beat`: the vamp is over, its line
        forgotten, unless the left hand's next voicing may still come (`comps`)."""
        if not self.comps(beat):
            self._forget()

    def _forget(self) -> None:
        self.split, self.carried, self._comped, self._over_gap, self._bass = None, False, [], False, None
