"""A call (and answer) as the phrase model's input steps, one step per note.

A sequence is `START, call notes..., SEP, answer notes...`; with a history (the solo or
session so far) every phrase after the first is itself a `SEP, notes...` answer to those
before it. Every step carries its kind, the note (shift / pitch / dur / vel tokens,
`NONE_*` on START and SEP), where it falls in the bar (ticks 0..47), the chord sounding
at its onset (`chord_features`), and, on SEP only, the controls for the answer: note
density, register centre, length in bars (each may be unknown). Onsets are absolute:
call notes on the call's own timeline position, answer notes from the answer's origin
(the beat it starts in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

from improv.core.theory.chart import Chart
from improv.core.theory.notes import Phrase
from improv.core.model.tokens import (
    BAR_TICKS, N_CHORD_FEATURES, N_DUR, N_SHIFT, N_VEL, TICKS_PER_BEAT, NoteToken, chord_features,
    lead_ticks, phrase_to_tokens, to_ticks,
)

START, CALL, SEP, ANSWER, END, PADK = range(6)
N_KIND = 6
NONE_SHIFT, NONE_PITCH, NONE_DUR, NONE_VEL, NONE_POS = N_SHIFT + 1, 128, N_DUR, N_VEL, BAR_TICKS
END_SHIFT = N_SHIFT  # the shift head's class for "the answer ends here"

DENSITY_EDGES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)  # notes per beat -> 8 buckets
N_DENSITY = len(DENSITY_EDGES) + 1
CENTER_LOW, CENTER_STEP, N_CENTER = 42, 3, 12  # register centre (MIDI) -> 12 buckets of 3 semitones
MAX_BARS = 8
CALL_NOTES = 64  # the call's most recent notes the model reads (the history gets the rest of `max_call`)

_NO_CHORD = chord_features(None)


@dataclass(frozen=True)
class Controls:
    """What the answer should be like; None = let the model choose.

    Attributes:
        density: notes per beat.
        center: register centre, MIDI pitch ((lowest + highest) / 2).
        bars: length in bars (1..8).
    """

    density: float | None = None
    center: float | None = None
    bars: int | None = None


def density_bucket(density: float | None) -> int:
    if density is None or not math.isfinite(density):
        return N_DENSITY
    return sum(1 for e in DENSITY_EDGES if density >= e)


def center_bucket(center: float | None) -> int:
    if center is None or not math.isfinite(center):
        return N_CENTER
    return int(min(N_CENTER - 1, max(0, (center - CENTER_LOW) // CENTER_STEP)))


def bars_bucket(bars: int | None) -> int:
    return MAX_BARS if bars is None else int(min(MAX_BARS, max(1, bars))) - 1


def answer_controls(answer: Phrase, beats_per_bar: int = 4) -> Controls:
    """The controls a real answer would have been asked for."""
    if not answer.notes:
        return Controls()
    beats = max(1.0, math.ceil(answer.length - 1e-9))
    ps = answer.pitches()
    return Controls(len(answer) / beats, (min(ps) + max(ps)) / 2, math.ceil(beats / beats_per_bar))


# one step: (kind, shift, pitch, dur, vel, pos, density, center, bars, chord features)
Step = tuple


def bar_pos(abs_tick: int, harmony: Chart | None) -> int:
    """Where in its bar tick `abs_tick` falls, in ticks: the chart's bar (the model learned
    4/4: a bar of 3/4 is its first three beats, and a longer bar's fifth beat on is its
    last tick), 4/4 without a chart."""
    bpb = harmony.beats_per_bar if harmony is not None else 4
    return min((abs_tick % (bpb * TICKS_PER_BEAT)), BAR_TICKS - 1) if bpb != 4 else abs_tick % BAR_TICKS


def note_step(kind: int, e: NoteToken, abs_tick: int, harmony: Chart | None) -> Step:
    """A call or answer note at absolute timeline tick `abs_tick`."""
    return (kind, e.shift, e.pitch, e.dur - 1, e.vel, bar_pos(abs_tick, harmony), N_DENSITY, N_CENTER, MAX_BARS,
            chord_at(harmony, abs_tick))


def chord_at(harmony: Chart | None, abs_tick: int) -> tuple[float, ...]:
    if harmony is None:
        return _NO_CHORD
    return chord_features(harmony.chord_at(max(0, abs_tick) / TICKS_PER_BEAT))


def call_steps(call: Phrase, harmony: Chart | None, max_call: int) -> list[Step]:
    """START and the call's last `max_call` notes."""
    return context_steps([call], harmony, max_call)


def context_steps(phrases: Sequence[Phrase], harmony: Chart | None, max_notes: int) -> list[Step]:
    """START and the most recent `max_notes` notes of consecutive phrases (oldest first).

    The oldest phrase kept (possibly only its tail) is read as CALL steps; every later
    phrase as a SEP (controls unknown) and ANSWER steps, exactly as an answer is written,
    so a session's earlier phrases read like the solo so far did in training.
    """
    kept: list[Phrase] = []
    budget = max_notes
    for p in reversed(phrases):
        if budget <= 0:
            break
        if not p.notes:
            continue
        if len(p.notes) > budget:
            p = Phrase(tuple(p.notes[-budget:]), p.start, p.length)
        kept.append(p)
        budget -= len(p.notes)
    kept.reverse()
    steps: list[Step] = [(START, NONE_SHIFT, NONE_PITCH, NONE_DUR, NONE_VEL, NONE_POS, N_DENSITY, N_CENTER, MAX_BARS,
                          _NO_CHORD)]
    if not kept:
        return steps
    first = kept[0]
    notes = first.notes
    events = phrase_to_tokens(first, lead=lead_ticks(first.start + notes[0].start) - to_ticks(notes[0].start))
    t = to_ticks(first.start) + to_ticks(notes[0].start) - events[0].shift
    for e in events:
        t += e.shift
        steps.append(note_step(CALL, e, t, harmony))
    for p in kept[1:]:
        steps.extend(answer_steps(p, harmony, Controls(), len(p.notes))[0])
    return steps


def sep_step(origin_tick: int, harmony: Chart | None, controls: Controls) -> Step:
    """The step that starts the answer at absolute tick `origin_tick` (a beat), with its controls."""
    return (SEP, NONE_SHIFT, NONE_PITCH, NONE_DUR, NONE_VEL, bar_pos(origin_tick, harmony), density_bucket(controls.density),
            center_bucket(controls.center), bars_bucket(controls.bars), chord_at(harmony, origin_tick))


def answer_origin(answer_start: float) -> int:
    """The answer's origin: the start of the beat it begins in, in absolute ticks."""
    t = to_ticks(answer_start)
    return t - t % TICKS_PER_BEAT


def answer_steps(answer: Phrase, harmony: Chart | None, controls: Controls, max_answer: int
                 ) -> tuple[list[Step], bool]:
    """SEP (at the answer's origin, with `controls`) and the answer's first `max_answer`
    notes; the flag is False when notes were cut."""
    answer = rebased(answer)
    origin = answer_origin(answer.start)
    steps = [sep_step(origin, harmony, controls)]
    t = origin
    events = phrase_to_tokens(answer)
    for e in events[:max_answer]:
        t += e.shift
        steps.append(note_step(ANSWER, e, t, harmony))
    return steps, len(events) <= max_answer


def rebased(phrase: Phrase) -> Phrase:
    """The phrase starting at its first note (the same notes on the timeline)."""
    if not phrase.notes or phrase.notes[0].start == 0:
        return phrase
    first = phrase.notes[0].start
    return Phrase(tuple(replace(n, start=n.start - first) for n in phrase.notes), phrase.start + first,
                  max(0.0, phrase.length - first))


def history_steps(history: Sequence[Phrase], harmony: Chart | None, max_notes: int) -> list[Step]:
    """START and the history's share of `session_steps` (its most recent notes)."""
    return context_steps(history, harmony, max_notes - min(CALL_NOTES, max_notes))


def session_steps(history: Sequence[Phrase], call: Phrase, harmony: Chart | None, max_notes: int,
                  head: list[Step] | None = None) -> list[Step]:
    """START, the most recent notes of `history` (the session or solo before the call),
    then the call's last `CALL_NOTES` notes, within `max_notes` in all.

    The history's share (`max_notes - CALL_NOTES`) does not depend on the call, so the
    steps read for the history alone are a prefix of those read with any call after it:
    a responder can read the history while waiting for the call (`ModelResponder.prime`).
    `head`: `history_steps(history, harmony, max_notes)` when the caller already has it.
    """
    call_n = min(CALL_NOTES, max_notes)
    head = history_steps(history, harmony, max_notes) if head is None else head
    if len(head) == 1:  # no history: the call is the first phrase read
        return context_steps([call], harmony, call_n)
    if not call.notes:
        return head
    tail = rebased(Phrase(tuple(call.notes[-call_n:]), call.start, call.length))
    return head + answer_steps(tail, harmony, Controls(), call_n)[0]


def pair_steps(call: Phrase, answer: Phrase, harmony: Chart | None, controls: Controls,
               max_call: int, max_answer: int) -> tuple[list[Step], bool]:
    """The full teacher-forced sequence for a (call, answer) pair (the call's last
    `max_call` notes).

    Returns:
        (steps, complete): `complete` is False when the answer was cut at `max_answer`
        notes (then the sequence has no END to predict).
    """
    tail, complete = answer_steps(answer, harmony, controls, max_answer)
    return call_steps(call, harmony, max_call) + tail, complete


def window_steps(phrases: Sequence[Phrase], harmony: Chart | None, controls: Sequence[Controls],
                 max_answer: int, first_is_call: bool = True, max_call: int = 10**9) -> tuple[list[Step], bool]:
    """Consecutive phrases of a solo as one training sequence: START, the first phrase
    as the call (or, `first_is_call` False, as an answer from the chords alone), then each
    later phrase as an answer (SEP with its `controls`, its notes) to all before it.

    Every note before a SEP predicts END (the phrase is over). A phrase longer than
    `max_answer` notes is cut and ends the window (`complete` False: no END to predict).
    """
    steps: list[Step] = []
    rest = list(phrases)
    if first_is_call and rest:
        steps = context_steps(rest[:1], harmony, max_call)
        rest = rest[1:]
        controls = controls[1:]
    else:
        steps = context_steps([], harmony, 0)
    for p, c in zip(rest, controls):
        tail, complete = answer_steps(p, harmony, c, max_answer)
        steps.extend(tail)
        if not complete:
            return steps, False
    return steps, True


def steps_columns(steps: Sequence[Step]) -> tuple[list[list[int]], list[tuple[float, ...]]]:
    """Steps -> nine int columns and the chord-feature rows."""
    ints = [list(col) for col in zip(*(s[:9] for s in steps))]
    return ints, [s[9] for s in steps]


assert N_CHORD_FEATURES == len(_NO_CHORD)
