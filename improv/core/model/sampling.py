"""Drawing a note's tokens: nucleus sampling, and the biases (in nats) that decoding lays
on the heads' logits before it draws.

- `sample`: one index from logits with temperature and top-p, from a seeded generator.
- `density_bias`: the shift head pulled toward the gap between onsets a density asks for.
- `pitch_bias`: the register as a hard mask, plus the favoured notes and chord tones.
- `avoid_bias`: the avoided pitch classes, where they clash with the chord under the note.
- `changes_bias`: the chord tones of the chord under the note.

A note repeated, a trill or a cell looped is held back by `improv.core.theory.loops`.
Pure functions of their arguments (numpy only); `next_note.NoteDrawer` caches what repeats.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from improv.core.model.tokens import MAX_SHIFT_TICKS, N_SHIFT, TICKS_PER_BEAT

DENSITY_STRENGTH = 3.0  # nats per e-fold away from the wanted gap between onsets
BIAS_NATS = 4.0  # a favoured, chord or avoided note's bias at full strength


def sample(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """One index from logits (-inf = forbidden) with temperature and nucleus (top-p) sampling."""
    mx = logits.max()
    if not (temperature > 1e-6 and top_p > 0.0 and mx > -np.inf):
        return int(logits.argmax())  # greedy (also for nonsense settings)
    p = np.exp((logits - mx) * (1.0 / temperature))
    if top_p < 1.0:  # (ndarray methods, not np.* wrappers: this runs four times a note)
        order = (-p).argsort(kind="stable")
        c = p[order].cumsum()
        k = min(len(c), int(c.searchsorted(top_p * c[-1])) + 1)  # the smallest set holding top_p
        j = int(c.searchsorted(rng.random() * c[k - 1], side="right"))  # (a draw rounded up to c[k - 1]: the clamp)
        return int(order[min(j, k - 1)])
    c = p.cumsum()
    return int(min(len(c) - 1, c.searchsorted(rng.random() * c[-1], side="right")))


def density_bias(density: float | None) -> np.ndarray | None:
    """Shift-logit bias (nats) toward gaps of 1 / density beats, or None for no wish.

    The density control is also a model input, but a learned control alone is soft;
    this prior makes `density` audible (a musician asking for busier lines gets them).
    """
    if density is None or not density > 0 or not math.isfinite(density):
        return None
    ioi = min(float(MAX_SHIFT_TICKS), max(1.0, TICKS_PER_BEAT / density))
    bias = np.zeros(N_SHIFT + 1, dtype=np.float32)
    bias[:N_SHIFT] = -DENSITY_STRENGTH * np.abs(np.log((np.arange(N_SHIFT) + 1.0) / (ioi + 1.0)))
    return bias


def _strength(x: Any) -> float:
    return min(1.0, max(0.0, float(x)))


def changes_bias(chord: Any, strength: float) -> np.ndarray | float:
    """A bias (nats) toward the chord tones of `chord` (0 with no chord)."""
    if chord is None:
        return 0.0
    bias = np.zeros(128)
    bias[np.isin(np.arange(128) % 12, list(chord.chord_tones()))] = BIAS_NATS * _strength(strength)
    return bias


def pitch_bias(constraints: Any, low: int, high: int, favour: bool = True) -> np.ndarray:
    """Register mask plus the favour bias (if `favour`), nats per MIDI pitch (the avoid
    bias depends on the chord under the note: `avoid_bias`)."""
    bias = np.full(128, -np.inf)
    bias[low:high + 1] = 0.0
    c = constraints
    s = _strength(c.strength)
    pcs = np.arange(128) % 12
    if favour:  # the favoured notes and the chord tones beside them: each pc its larger weight
        lift = np.zeros(128)
        cs = _strength(c.chord_strength)
        if c.chord_pcs and cs > 0:
            lift[np.isin(pcs, list(c.chord_pcs))] = BIAS_NATS * cs
        if c.favour_pcs and s > 0:
            favoured = np.isin(pcs, list(c.favour_pcs))
            lift[favoured] = np.maximum(lift[favoured], BIAS_NATS * s)
        bias += lift
    return bias


def avoid_bias(constraints: Any, chord: Any, low: int, high: int) -> np.ndarray | float:
    """The avoid bias (nats) for a note over `chord`; without `avoid_everywhere`, an
    avoided pitch class is avoided where it clashes, not where it is in the chord's scale
    (guide steers a wrong A over Bb7 away, and still plays it as the third of F7)."""
    c = constraints
    s = _strength(c.strength)
    if not c.avoid_pcs or s <= 0:
        return 0.0
    pcs = set(c.avoid_pcs) - (chord.scale() if chord is not None and not c.avoid_everywhere else set())
    if not pcs:
        return 0.0
    bias = np.zeros(128)
    avoid = np.isin(np.arange(128) % 12, list(pcs))
    if s >= 1.0 and not np.all(avoid[low:high + 1]):
        bias[avoid] = -np.inf
    else:
        bias[avoid] -= BIAS_NATS * s
    return bias
