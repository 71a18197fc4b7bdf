"""Phrase <-> tokens: the representation the phrase model and the n-gram baseline share.

Time is on a grid of `TICKS_PER_BEAT` = 12 ticks a beat (swing eighths are 8 ticks
apart, triplets 4, sixteenths 3). A note is one compound event, four sub-tokens:

    shift  ticks from the previous onset (the first note: from the start of the beat
           that holds the phrase's first onset, its "lead"), 0..MAX_SHIFT_TICKS
    pitch  MIDI 0..127
    dur    ticks, 1..MAX_DUR_TICKS
    vel    one of len(VELOCITIES) velocity levels

The model decodes one event per sequential step (four small heads), so a 30-note
answer is 30 steps. The flat vocabulary (`encode` / `decode`, one int per sub-token,
plus BOS / SEP / EOS) is the same information for sequence models such as the n-gram:
a note's probability is the product of its four sub-tokens'. Round trip:
`decode(encode(p), p.start) == p` for every on-grid phrase (`on_grid`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from improv.core.theory.chords import Chord
from improv.core.theory.notes import Note, Phrase

TICKS_PER_BEAT = 12
MAX_SHIFT_TICKS = 8 * TICKS_PER_BEAT  # a gap of 8 beats inside a phrase at most
MAX_DUR_TICKS = 8 * TICKS_PER_BEAT
VELOCITIES: tuple[int, ...] = (30, 43, 56, 69, 81, 94, 107, 120)
BAR_TICKS = 4 * TICKS_PER_BEAT

N_SHIFT = MAX_SHIFT_TICKS + 1
N_PITCH = 128
N_DUR = MAX_DUR_TICKS  # class d-1 is d ticks
N_VEL = len(VELOCITIES)

# the flat vocabulary
PAD, BOS, SEP, EOS = 0, 1, 2, 3
SHIFT0 = 4
PITCH0 = SHIFT0 + N_SHIFT
DUR0 = PITCH0 + N_PITCH
VEL0 = DUR0 + N_DUR
VOCAB_SIZE = VEL0 + N_VEL
TOKENS_PER_NOTE = 4


@dataclass(frozen=True, slots=True)
class NoteToken:
    """One note as the model sees it (all ints).

    Attributes:
        shift: ticks since the previous onset (first note: since its beat's start).
        pitch: MIDI note number.
        dur: duration in ticks, >= 1.
        vel: velocity level, an index into `VELOCITIES`.
    """

    shift: int
    pitch: int
    dur: int
    vel: int


def to_ticks(beats: float) -> int:
    """Beats -> the nearest tick."""
    return int(round(beats * TICKS_PER_BEAT))


def _nearest_level(velocity: float) -> int:
    return min(range(N_VEL), key=lambda i: (abs(VELOCITIES[i] - velocity), i))


_LEVELS = tuple(_nearest_level(v) for v in range(128))  # (every note read or written asks)


def velocity_level(velocity: int) -> int:
    """MIDI velocity -> the index of the nearest level in `VELOCITIES`."""
    return _LEVELS[velocity] if type(velocity) is int and 0 <= velocity < 128 else _nearest_level(velocity)


def snap_velocity(velocity: int) -> int:
    """MIDI velocity -> the nearest of `VELOCITIES`."""
    return VELOCITIES[velocity_level(velocity)]


def lead_ticks(start: float) -> int:
    """Where in its beat a phrase starting at timeline `start` (beats) begins, in ticks 0..11."""
    return to_ticks(start) % TICKS_PER_BEAT


def on_grid(phrase: Phrase) -> bool:
    """True when the phrase round-trips exactly: onsets and durations on the tick grid,
    velocities on the levels, gaps and durations within the token ranges."""
    eps = 1e-9
    if abs(phrase.start * TICKS_PER_BEAT - to_ticks(phrase.start)) > eps:
        return False
    prev = None
    for n in phrase.notes:
        if abs(n.start * TICKS_PER_BEAT - to_ticks(n.start)) > eps:
            return False
        if abs(n.duration * TICKS_PER_BEAT - to_ticks(n.duration)) > eps:
            return False
        if not 1 <= to_ticks(n.duration) <= MAX_DUR_TICKS or n.velocity not in VELOCITIES:
            return False
        t = to_ticks(n.start)
        if prev is not None and t - prev > MAX_SHIFT_TICKS:
            return False
        prev = t
    if phrase.notes and to_ticks(phrase.notes[0].start) + lead_ticks(phrase.start) > MAX_SHIFT_TICKS:
        return False
    end = max((n.end for n in phrase.notes), default=0.0)
    return abs(phrase.length - end) < eps


def phrase_to_tokens(phrase: Phrase, lead: int | None = None) -> list[NoteToken]:
    """A phrase's notes as the model's note tokens. Off-grid values are rounded to the grid; gaps and
    durations beyond the ranges are clipped (so any phrase encodes, on-grid ones exactly).

    Args:
        phrase: the phrase; its notes' starts are relative to `phrase.start`.
        lead: ticks from the frame's origin to `phrase.start`; default
            `lead_ticks(phrase.start)` (the origin is the start of the phrase's beat).
    """
    lead = lead_ticks(phrase.start) if lead is None else lead
    out = []
    prev = -lead
    for n in phrase.notes:
        t = to_ticks(n.start)
        shift = min(MAX_SHIFT_TICKS, max(0, t - prev))
        out.append(NoteToken(shift, n.pitch, min(MAX_DUR_TICKS, max(1, to_ticks(n.duration))), velocity_level(n.velocity)))
        prev = t
    return out


def event_onsets(events: Sequence[NoteToken], lead: int = 0) -> list[int]:
    """Onsets in ticks relative to the phrase start (the first onset is at `shift - lead`)."""
    out, t = [], -lead
    for e in events:
        t += e.shift
        out.append(t)
    return out


def tokens_to_notes(events: Sequence[NoteToken], lead: int = 0) -> list[Note]:
    """Events -> notes with starts in beats relative to the phrase start."""
    return [
        Note(t / TICKS_PER_BEAT, e.pitch, e.dur / TICKS_PER_BEAT, VELOCITIES[e.vel])
        for t, e in zip(event_onsets(events, lead), events)
    ]


def tokens_to_phrase(events: Sequence[NoteToken], start: float = 0.0, lead: int | None = None) -> Phrase:
    """Events -> a phrase at timeline `start` (beats). Inverse of `phrase_to_tokens`.

    The first note lands at `shift - lead` ticks after `start` (0 for a phrase that
    starts on its first note, as data phrases do).
    """
    lead = lead_ticks(start) if lead is None else lead
    return Phrase.of(tokens_to_notes(events, lead), start=start)


def event_tokens(e: NoteToken) -> list[int]:
    """One event -> its four flat tokens."""
    return [SHIFT0 + e.shift, PITCH0 + e.pitch, DUR0 + e.dur - 1, VEL0 + e.vel]


def tokens_event(toks: Sequence[int]) -> NoteToken:
    """Four flat tokens -> one event (raises ValueError on a malformed group)."""
    s, p, d, v = toks
    if not (SHIFT0 <= s < PITCH0 and PITCH0 <= p < DUR0 and DUR0 <= d < VEL0 and VEL0 <= v < VOCAB_SIZE):
        raise ValueError(f"not a shift/pitch/dur/vel token group: {list(toks)}")
    return NoteToken(s - SHIFT0, p - PITCH0, d - DUR0 + 1, v - VEL0)


def encode(phrase: Phrase, lead: int | None = None) -> list[int]:
    """A phrase -> flat tokens, four per note (no BOS/EOS)."""
    return [t for e in phrase_to_tokens(phrase, lead) for t in event_tokens(e)]


def decode(tokens: Sequence[int], start: float = 0.0, lead: int | None = None) -> Phrase:
    """Flat tokens (BOS/SEP/EOS/PAD ignored) -> a phrase at timeline `start`. Inverse of `encode`."""
    body = [t for t in tokens if t >= SHIFT0]
    if len(body) % TOKENS_PER_NOTE:
        raise ValueError(f"{len(body)} note tokens is not a multiple of {TOKENS_PER_NOTE}")
    events = [tokens_event(body[i:i + TOKENS_PER_NOTE]) for i in range(0, len(body), TOKENS_PER_NOTE)]
    return tokens_to_phrase(events, start, lead)


def pair_tokens(call: Phrase, answer: Phrase) -> tuple[list[int], list[int]]:
    """A call/answer pair as flat tokens: (`[BOS] call [SEP]`, `answer [EOS]`).

    The n-gram baseline conditions on the first list and scores the second; its NLL per
    note sums the four tokens of each answer note (EOS is not a note).
    """
    return [BOS] + encode(call) + [SEP], encode(answer) + [EOS]


def token_name(tok: int) -> str:
    """A readable name: `"shift:8"`, `"pitch:60"`, `"dur:4"`, `"vel:3"`, `"BOS"`..."""
    if tok < SHIFT0:
        return ("PAD", "BOS", "SEP", "EOS")[tok]
    if tok < PITCH0:
        return f"shift:{tok - SHIFT0}"
    if tok < DUR0:
        return f"pitch:{tok - PITCH0}"
    if tok < VEL0:
        return f"dur:{tok - DUR0 + 1}"
    return f"vel:{tok - VEL0}"


def fold_pitch(pitch: int, low: int = 0, high: int = 127) -> int:
    """Move a pitch by octaves into [low, high] (clamped if the range is under an octave)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return max(low, min(high, pitch))


def transpose_events(events: Iterable[NoteToken], semitones: int) -> list[NoteToken]:
    """Events moved by `semitones`; pitches that would leave 0-127 move by octaves."""
    return [NoteToken(e.shift, fold_pitch(e.pitch + semitones), e.dur, e.vel) for e in events]


# ---------------------------------------------------------------- chords as model input

N_CHORD_FEATURES = 37


@lru_cache(maxsize=8192)
def chord_features(chord: Chord | None) -> tuple[float, ...]:
    """A chord as 37 numbers: root one-hot (12), chord tones (12), tensions (12), no-chord flag.

    Transposing the chord rotates the three 12-blocks, so augmentation by transposition
    moves pitches and chords together.
    """
    if chord is None:
        return (0.0,) * 36 + (1.0,)
    root = [0.0] * 12
    root[chord.root] = 1.0
    tones = [1.0 if pc in chord.chord_tones() else 0.0 for pc in range(12)]
    tens = [1.0 if pc in chord.tension_tones() else 0.0 for pc in range(12)]
    return tuple(root + tones + tens + [0.0])


def density_of(phrase: Phrase, length: float | None = None) -> float:
    """Notes per beat over `length` beats (default the phrase's length, at least one beat)."""
    span = max(1.0, phrase.length if length is None else length)
    return len(phrase) / span if math.isfinite(span) else 0.0
