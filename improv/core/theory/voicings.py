"""Comping voicings: rootless A/B voicings, shells and guide tones, voice-led.

A voicing is a tuple of MIDI pitches, low to high. Every voicing holds the chord's
guide tones: its 3rd (or the 4th of a sus chord) and its 7th (or the 6th of a 6 chord).
`next_voicing` picks, among all candidates in a comfortable register, the one closest
to the previous voicing (small steps, common tones kept), the way a pianist connects
Dm7 (F A C E) -> G7 (F A B E) -> Cmaj7 (E G B D).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from improv.core.theory.chords import Chord

Voicing = tuple[int, ...]

STYLES = ("rootless", "shell", "guide")

# quality -> (3rd-like interval, 7th-like interval, 5th-like colour, 9th-like colour).
# Triads are played as their jazz equivalents (C -> C6/9, Cm -> Cm6/9, Csus4 -> C9sus4).
_SLOTS: dict[str, tuple[int, int, int, int]] = {
    "": (4, 9, 7, 2),
    "m": (3, 9, 7, 2),
    "7": (4, 10, 9, 2),  # dominant: 3-13-7-9 / 7-9-3-13
    "maj7": (4, 11, 7, 2),
    "m7": (3, 10, 7, 2),
    "m7b5": (3, 10, 6, 0),  # b3-b5-b7-R
    "dim": (3, 9, 6, 0),
    "dim7": (3, 9, 6, 0),
    "+": (4, 8, 0, 2),  # 3 and #5 are what makes it augmented
    "+7": (4, 10, 8, 2),
    "+maj7": (4, 11, 8, 2),
    "6": (4, 9, 7, 2),
    "m6": (3, 9, 7, 2),
    "mmaj7": (3, 11, 7, 2),
    "sus4": (5, 10, 7, 2),
    "7sus4": (5, 10, 7, 2),
    "7alt": (4, 10, 8, 3),  # 3-b13-b7-#9
    "7b5": (4, 10, 6, 2),  # 3-b5-b7-9
    "sus2": (2, 9, 7, 0),  # 2-5-6-R: open, no third
    "5": (0, 7, 2, 0),  # R-9-5-R: neither third nor seventh
}


@dataclass(frozen=True)
class Register:
    """Where voicings may sit (MIDI pitches).

    Attributes:
        bottom_low: the lowest allowed bottom note.
        top_low, top_high: the range of the top note.
        center: the mean pitch the voicings gravitate to.
    """

    bottom_low: int
    top_low: int
    top_high: int
    center: float


REGISTERS = {
    "rootless": Register(bottom_low=48, top_low=62, top_high=74, center=63.0),  # tops D4-D5
    "shell": Register(bottom_low=43, top_low=55, top_high=69, center=55.0),  # root G2-, tops G3-A4
    "guide": Register(bottom_low=50, top_low=58, top_high=72, center=62.0),
}


def guide_intervals(chord: Chord) -> tuple[int, int]:
    """(3rd-like, 7th-like) intervals above the root: the notes every voicing keeps."""
    third, seventh, _, _ = _SLOTS[chord.quality]
    return third, seventh


def colour_intervals(chord: Chord) -> tuple[int, int]:
    """(5th-like, 9th-like) intervals: the colour notes of a four-voice rootless voicing,
    following written tensions (b9/#9 for the 9th, b13/13/#11 for the 5th slot)."""
    _, _, fifth, ninth = _SLOTS[chord.quality]
    t = set(chord.tensions)
    if "b9" in t:
        ninth = 1
    elif "#9" in t:
        ninth = 3
    if "b13" in t:
        fifth = 8
    elif "#11" in t and chord.quality in ("7", "maj7", "6", ""):
        fifth = 6
    elif "13" in t and chord.quality in ("7", "m7"):  # (a 6 chord's and a triad's 7th slot holds it already)
        fifth = 9
    return fifth, ninth


def forms(chord: Chord, style: str = "rootless") -> list[tuple[int, ...]]:
    """The voicing shapes for a chord: intervals above the root, listed bottom-up.

    rootless: A (3-5-7-9) and B (7-9-3-5); shell: R-3-7 and R-7-3; guide: 3-7 and 7-3.
    """
    third, seventh = guide_intervals(chord)
    fifth, ninth = colour_intervals(chord)
    if style == "rootless":
        return [_close((third, fifth, seventh, ninth)), _close((seventh, ninth, third, fifth))]
    if style == "shell":
        return [(0, third, seventh), (0, seventh, third)]
    if style == "guide":
        return [(third, seventh), (seventh, third)]
    raise ValueError(f"voicing style must be one of {STYLES}, got {style!r}")


def _close(shape: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` in close position from its first voice: the others in the order they come
    above it within the octave. A/B's slot order is that for every chord but the augmented
    triad, whose 5th slot holds the root, above its #5: stacked in slot order, C+ was
    E3 C4 G#4 D5, spread over a tenth and a half. Shapes with a doubled pitch class (C5's
    R-9-5-R) keep their order (close, the doubled note would go up an octave)."""
    if len({iv % 12 for iv in shape}) < len(shape):
        return shape
    first = shape[0]
    return (first, *sorted(shape[1:], key=lambda iv: (iv - first) % 12))


def _stack(bottom: int, root: int, shape: Sequence[int]) -> Voicing:
    """Pitches for `shape` with the first voice at `bottom`, each next voice the nearest
    pitch above the previous one with the right pitch class."""
    out = [bottom]
    for iv in shape[1:]:
        pc = (root + iv) % 12
        p = out[-1] + 1
        while p % 12 != pc:
            p += 1
        out.append(p)
    return tuple(out)


def candidates(chord: Chord, style: str = "rootless", register: Register | None = None) -> list[Voicing]:
    """Every placement of the chord's shapes inside the register (low to high)."""
    reg = register or REGISTERS[style]
    out: list[Voicing] = []
    for shape in forms(chord, style):
        pc = (chord.root + shape[0]) % 12
        lo = reg.bottom_low + (pc - reg.bottom_low) % 12
        for bottom in range(lo, reg.top_high + 1, 12):
            v = _stack(bottom, chord.root, shape)
            if reg.top_low <= v[-1] <= reg.top_high:
                out.append(v)
    return sorted(set(out))


def movement(a: Sequence[int], b: Sequence[int]) -> int:
    """Total semitones the voices move from `a` to `b` (both low to high). Different
    sizes: each note of the larger voicing moves to its nearest note of the other."""
    if len(a) == len(b):
        return sum(abs(x - y) for x, y in zip(sorted(a), sorted(b)))
    big, small = (a, b) if len(a) > len(b) else (b, a)
    return sum(min(abs(x - y) for y in small) for x in big)


def max_step(a: Sequence[int], b: Sequence[int]) -> int:
    """The largest single-voice move (semitones) from `a` to `b` (same size)."""
    return max(abs(x - y) for x, y in zip(sorted(a), sorted(b)))


def next_voicing(chord: Chord, prev: Voicing | None = None, style: str = "rootless") -> Voicing:
    """The candidate closest to `prev` (or to the register's centre when there is none).

    Ties go to the voicing nearer the centre of the register, so the comping does not
    drift up or down over a long tune.
    """
    if style not in REGISTERS:
        raise ValueError(f"voicing style must be one of {STYLES}, got {style!r}")
    reg = REGISTERS[style]
    # (a shape wider than the register's tops allow, such as Eb5(b13)'s R-b13-5-R, goes an octave higher)
    cands = candidates(chord, style, reg) or candidates(chord, style, replace(reg, top_high=reg.top_high + 12))
    if not cands:  # cannot happen with the shipped registers; keep a musician safe anyway
        raise ValueError(f"no {style} voicing of {chord} fits the register")

    def cost(v: Voicing) -> tuple[float, float]:
        drift = abs(sum(v) / len(v) - reg.center)
        if prev is None:
            return (drift, 0.0)
        if style == "shell" and len(prev) == len(v):  # the root moves with the bass line
            return (movement(prev[1:], v[1:]) + 0.25 * abs(prev[0] - v[0]) + 0.25 * drift, drift)
        return (movement(prev, v) + 0.25 * drift, drift)

    return min(cands, key=cost)


def voice_lead(chords: Iterable[Chord], style: str = "rootless", prev: Voicing | None = None) -> list[Voicing]:
    """Voicings for a sequence of chords, each led smoothly from the one before."""
    out: list[Voicing] = []
    for ch in chords:
        prev = next_voicing(ch, prev, style)
        out.append(prev)
    return out
