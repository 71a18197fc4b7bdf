"""What each pitch class weighs at an onset of a Markov answer (see `markov_answer`).

Its role in the chord sounding there (chord tone, tension, an outside note, an outside note a
half step from the next beat's chord tone: an approach), by where the onset falls (beats 1 and
3, beats 2 and 4, between the beats; a waltz's 1 alone is strong), landing on a chord tone in the
answer's last two beats; then the `Constraints`' wishes: favour and the chord tones beside it
before `favour_until`, the changes' chord tones after it, and the avoided pitch classes where
they clash. Pure; cached per onset.
"""

from __future__ import annotations

import math

from improv.core.respond.base import Constraints
from improv.core.respond.markov_memory import TICKS
from improv.core.theory.chart import Chart
from improv.core.theory.chords import Chord
from improv.core.theory.metrics import strong_beats

# Harmonic fit: weight of a pitch by its role in the chord sounding at its onset.
_FIT_STRONG = {"chord": 1.0, "tension": 0.3, "outside": 0.03}  # beats 1 and 3 (a waltz's 1 alone: `strong_beats`)
_FIT_BEAT = {"chord": 1.0, "tension": 0.5, "outside": 0.05}  # beats 2 and 4 (a waltz's 2 and 3)
_FIT_WEAK = {"chord": 1.0, "tension": 0.85, "outside": 0.12}  # between the beats
_APPROACH = 2.5  # an outside note a half step from the next chord's tone is an approach


class PitchFit:
    """The weight of each pitch class at each onset (ticks into the answer) of one answer."""

    def __init__(self, harmony: Chart | None, start: float, length_ticks: int, bpb: int, c: Constraints) -> None:
        self.harmony = harmony
        self.start = start  # the answer's start on the timeline (beats)
        self.length_ticks = length_ticks
        self.bpb = bpb
        self.strong = strong_beats(bpb)  # (every other beat was strong: a waltz's 3 as its 1)
        strength = min(1.0, max(0.0, float(c.strength)))
        self.avoid = frozenset(int(pc) % 12 for pc in c.avoid_pcs)
        self.avoid_weight = 1.0 - strength
        self.avoid_everywhere = bool(c.avoid_everywhere)
        # favour, and the chord tones beside it: before favour_until only, each pc its larger weight
        lift = [1.0] * 12
        chord_strength = min(1.0, max(0.0, float(c.chord_strength))) if math.isfinite(c.chord_strength) else 0.0
        for pc in c.chord_pcs:
            lift[int(pc) % 12] = 1.0 + 19.0 * chord_strength
        for pc in c.favour_pcs:
            lift[int(pc) % 12] = max(lift[int(pc) % 12], 1.0 + 19.0 * strength)
        self.pc_weight_favour = lift  # (avoid is applied per chord, in `at`)
        self.changes = min(1.0, max(0.0, float(c.changes))) if math.isfinite(c.changes) else 0.0
        until = float(c.favour_until)
        self.favour_until_ticks = math.inf if not math.isfinite(until) else until * TICKS
        self._cache: dict[int, tuple[list[float], list[float]]] = {}

    def chord(self, tick: int) -> Chord | None:
        if self.harmony is None:
            return None
        return self.harmony.chord_at(self.start + tick / TICKS)

    def at(self, tick: int) -> tuple[list[float], list[float]]:
        """(weight per pitch class at this onset, 1.0/0.0 'inside' flags)."""
        got = self._cache.get(tick)
        if got is not None:
            return got
        chord = self.chord(tick)
        if chord is None:
            got = ([1.0] * 12, [1.0] * 12)
        else:
            if tick % TICKS:
                table = _FIT_WEAK
            else:
                beat = int(round(self.start + tick / TICKS)) % self.bpb
                table = _FIT_STRONG if beat in self.strong else _FIT_BEAT
            tones, scale = chord.chord_tones(), chord.scale()
            # The next beat's chord decides what an outside note may lead to.
            nxt = self.chord((tick // TICKS + 1) * TICKS) or chord
            targets = nxt.chord_tones()
            w, inside = [], []
            for pc in range(12):
                if pc in tones:
                    w.append(table["chord"])
                elif pc in scale:
                    w.append(table["tension"])
                elif (pc + 1) % 12 in targets or (pc - 1) % 12 in targets:
                    w.append(table["outside"] * _APPROACH)
                else:
                    w.append(table["outside"])
                inside.append(1.0 if pc in scale else 0.0)
            if tick >= self.length_ticks - 2 * TICKS - 1:  # the phrase lands: on a chord tone
                w = [x * (3.0 if pc in tones else 0.3) for pc, x in enumerate(w)]
            got = (w, inside)
        weights = self.pc_weight_favour if tick < self.favour_until_ticks else [1.0] * 12
        if tick >= self.favour_until_ticks and self.changes > 0 and chord is not None:  # lead back to the changes
            tones = chord.chord_tones()
            weights = [w * (1.0 + 19.0 * self.changes if pc in tones else 1.0) for pc, w in enumerate(weights)]
        if self.avoid:  # (guide: avoided where it clashes, not where it is in the chord's scale)
            scale = chord.scale() if chord is not None and not self.avoid_everywhere else frozenset()
            weights = [w * (self.avoid_weight if pc in self.avoid and pc not in scale else 1.0)
                       for pc, w in enumerate(weights)]
        got = ([x * c for x, c in zip(got[0], weights)], got[1])
        self._cache[tick] = got
        return got
