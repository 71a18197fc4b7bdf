"""The time a call file was played in, heard in its notes: `improv respond --follow`.

A call played with no click (a keyboard recorded straight into a sequencer, a phrase
captured in free time) sits in a file whose tempo map says nothing of it: the recorder's
120 bpm, or a DAW's. Answered on that map, the answer came at 120 on a beat the player
never played. `--follow` hears the call as the free jam hears the player
(`TempoFollower`, improv/core/listen/tempo.py: each note at its onset in seconds, then with
its length; a drum pad's hit on the call's tracks as a hit), and writes the whole file on
the heard grid: one tempo, the heard one, and beat 0 on the heard beat nearest the call's
first note (bar 1, as the jam counts a chart from your first note; a bar earlier when the
first note comes before that beat). Every note keeps its time in seconds; only the grid
moves.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import replace
from typing import Callable

from improv.commands.callfile import CallFile
from improv.core.listen.tempo import BeatEstimate, TempoFollower, TempoSettings
from improv.core.theory.chart import Chart, ChordSpan
from improv.core.theory.notes import Note
from improv.live.follow import MIN_CONFIDENCE  # (as the jam's timeline: a weaker estimate is not followed)

LEVELS = (0.5, 2 / 3, 1.0, 1.5, 2.0)  # a heard tempo this many times the file's is the file's grid heard
# at another level: the call sits on the file's beats
WITHIN = 0.03  # ...within this much
WINDOW_S = 120.0  # the call's last two minutes are heard (8 bars at 45 bpm are 43 s)
HINT_CONFIDENCE = 0.6  # without --follow, a call heard this surely off the file's tempo is said to be: on single
# validation phrases played to a click at their tempo it was said of 2.9 %, of the same played with none 33 %
# (figures/respond-follow.json; at 0.2, on one sampling: 17.5 % and 61 %)


def beat_seconds(tempos: list[tuple[float, float]]) -> Callable[[float], float]:
    """Beats -> seconds under a tempo map [(beat, bpm)] sorted by beat, its first at beat 0."""
    beats, starts, bpms = [], [], []
    t = 0.0
    for i, (b, bpm) in enumerate(tempos):
        if i:
            t += (b - beats[-1]) * 60.0 / bpms[-1]
        beats.append(b)
        starts.append(t)
        bpms.append(bpm)

    def seconds(beat: float) -> float:
        i = max(0, bisect_right(beats, beat) - 1)
        return starts[i] + (beat - beats[i]) * 60.0 / bpms[i]

    return seconds


def heard_time(found: CallFile, tempos: list[tuple[float, float]], ended: float,
               guess: float | None = None, window_s: float = WINDOW_S) -> BeatEstimate | None:
    """The tempo and beat heard in the call's notes by the call's end (`ended`, beats of the
    file), as the jam's follower hears them played; None when it is not sure enough to follow.

    Args:
        found: the call.
        tempos: the file's tempo map [(beat, bpm)], its first at beat 0.
        ended: when the call stops sounding, in the file's beats.
        guess: a first guess (bpm), e.g. --tempo; None: none.
        window_s: only the notes sounding in this many seconds before the end are heard (a
            whole session's recording is answered from its last bars).
    """
    to_s = beat_seconds(tempos)
    follower = TempoFollower(TempoSettings(first_guess=guess))
    since = to_s(ended) - window_s
    events = []  # (seconds, 0 release / 1 onset / 2 drum hit, pitch, note): a release before an onset at one time
    for n in (n for n in found.notes if to_s(n.end) >= since):
        on, off = to_s(n.start), to_s(n.end)
        events += [(on, 1, n.pitch, n, on, off), (off, 0, n.pitch, n, on, off)]
    events += [(t, 2, 0, None, t, t) for t in map(to_s, found.hits) if t >= since]
    for _, kind, _, n, on, off in sorted(events, key=lambda e: e[:3]):
        if kind == 2:
            follower.hit(on)
        elif kind:
            follower.add(on, n.velocity, pitch=n.pitch)
        else:
            follower.add(on, n.velocity, max(off - on, 1e-3))
    est = follower.estimate(to_s(ended))
    return est if est.confidence >= MIN_CONFIDENCE else None


def on_the_files_grid(est: BeatEstimate, own: float) -> bool:
    """Whether the tempo heard is the file's own (`own`, bpm, at the call's end) or a level of
    it (half, double, 2/3, 3/2): the call was played to the file's click."""
    return any(abs(est.bpm / (own * level) - 1.0) <= WITHIN for level in LEVELS)


def on_heard_grid(found: CallFile, tempos: list[tuple[float, float]], est: BeatEstimate,
                  bpb: int) -> tuple[CallFile, int]:
    """The call moved onto the heard grid: every beat of the file (notes, pedal, chord
    symbols, keys, end) taken to seconds and back to beats at the heard tempo, beat 0 on the
    heard beat nearest the first note. A first note played ahead of that beat (an
    anticipation) would fall before the file's start: the grid then starts a bar earlier.
    Returns the moved call and the beats of that lead-in bar (0 or `bpb`): a chart's bar 1 is
    where the first note is (`lead_in_chart`)."""
    to_s = beat_seconds(tempos)
    first_s = to_s(min(n.start for n in found.notes))
    k = round(est.beats_since(first_s))
    lead = bpb if est.time_of(k) > first_s + 1e-9 else 0
    origin = est.time_of(k - lead)

    def moved(beat: float) -> float:
        return max(0.0, (to_s(beat) - origin) / est.period_s)

    notes = []
    for n in found.notes:
        start = moved(n.start)
        notes.append(Note(start, n.pitch, max(moved(n.end) - start, 1e-3), n.velocity))
    return CallFile(
        notes, [(0.0, est.bpm)], found.beats_per_bar, found.drums, tracks=found.tracks, channels=found.channels,
        metre=found.metre, pedal=tuple((moved(b), v) for b, v in found.pedal), end=moved(found.end),
        keys=tuple((moved(b), key) for b, key in found.keys), setup=found.setup,
        chords=tuple((moved(b), text) for b, text in found.chords), hits=tuple(moved(b) for b in found.hits),
    ), lead


def lead_in_chart(chart: Chart, lead: float) -> Chart:
    """`chart` starting `lead` beats later, what comes before bar 1 being the chart's end (it
    loops: the bar before bar 1 is its last, the turnaround)."""
    if lead <= 0:
        return chart
    length = chart.length
    spans = []
    for span in chart.spans:
        start = span.start + lead
        if start >= length - 1e-9:  # (the lead-in: the chart's end, before bar 1)
            start -= length
        spans.append(ChordSpan(start, span.duration, span.chord))
    out: list[ChordSpan] = []
    for span in sorted(spans, key=lambda s: s.start):  # a span across the chart's end is cut in two
        end = span.start + span.duration
        if end > length + 1e-9:
            out.append(ChordSpan(span.start, length - span.start, span.chord))
            out.append(ChordSpan(0.0, end - length, span.chord))
        else:
            out.append(span)
    bars = round(lead / chart.beats_per_bar)
    sections = sorted(((bar + bars) % chart.bars, name) for bar, name in chart.sections)
    if sections and sections[0][0] > 0:  # (the lead-in is in the form's last section)
        sections.insert(0, (0, chart.section_at(chart.length - 1e-6)))
    return replace(chart, spans=tuple(sorted(out, key=lambda s: s.start)), sections=tuple(sections), overlay=())


def said(est: BeatEstimate, own: float, lead: int) -> str:
    """The line that says what was heard, against the file's tempo (`own`, bpm), and where
    bar 1 is."""
    sure = f"{math.floor(est.confidence * 100):d}% sure"
    where = "on the beat after the call's first note (a pickup, in the bar before)" if lead else \
        "on the call's first note"
    return f"heard the call at {est.bpm:.1f} bpm ({sure}; the file says {round(own, 1):g}): answering on that tempo " \
        f"and beat, bar 1 {where}"
