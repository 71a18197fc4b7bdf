"""Musical statistics of phrases over the chords they sound against.

Pure functions used by `improv eval` (real vs generated answers) and by the embrace
benchmark. Every function takes phrases placed on the session timeline (`Phrase.start`
in beats, beat 0 = beat 1 of bar 1) and a harmony: a `Chart` or any object with
`chord_at(beat) -> Chord | None`. Notes sounding over no chord (`NC`, None) are left out
of the harmonic statistics' denominators.

Shares that have nothing to count return `float("nan")`: an empty phrase neither fits
nor misses the changes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from improv.core.theory.chords import Chord
from improv.core.theory.notes import Note, Phrase

TICKS_PER_BEAT = 12  # the grid swing eighths and triplets share; "within a tick" of a beat
INTERVAL_BINS = 14  # |semitones| 0..12, then one bin for anything wider than an octave
INTERVAL_CELL = 3  # intervals in an interval cell (a 4-note melodic shape)
RHYTHM_CELL = 3  # inter-onset intervals in a rhythm cell (4 onsets)


class Harmony(Protocol):
    """Anything that says which chord sounds at a timeline beat (a `Chart` does)."""

    def chord_at(self, beat: float) -> Chord | None: ...


def _share(hits: int, total: int) -> float:
    return hits / total if total else float("nan")


def strong_beats(beats_per_bar: int = 4) -> tuple[int, ...]:
    """Beat indices (0-based within the bar) that count as strong: 1 and 3 in 4/4 (0, 2),
    the downbeat and the middle of any even metre, the downbeat alone otherwise."""
    if beats_per_bar % 2 == 0 and beats_per_bar >= 4:
        return (0, beats_per_bar // 2)
    return (0,)


def is_strong_onset(beat: float, beats_per_bar: int = 4, tol: float = 1.0 / TICKS_PER_BEAT) -> bool:
    """Whether a timeline onset (beats) lies within `tol` beats of a strong beat.

    A note a tick early (anticipating the barline) counts for the beat it anticipates.
    """
    pos = beat % beats_per_bar
    for s in strong_beats(beats_per_bar):
        d = abs(pos - s)
        d = min(d, beats_per_bar - d)  # wrap: 3.95 is near the next bar's beat 0
        if d <= tol + 1e-9:
            return True
    return False


def strong_beat_chord_tone_counts(
    phrase: Phrase, harmony: Harmony, beats_per_bar: int = 4, tol: float = 1.0 / TICKS_PER_BEAT
) -> tuple[int, int]:
    """(chord tones, notes) among the notes whose onsets are on a strong beat.

    The chord is the one sounding at the strong beat the onset belongs to (so an
    anticipation a tick before the barline is judged against the new bar's chord).
    Notes over no chord are not counted.
    """
    hits = total = 0
    for n in phrase.absolute():
        if not is_strong_onset(n.start, beats_per_bar, tol):
            continue
        chord = harmony.chord_at(max(0.0, round(n.start)))
        if chord is None:
            continue
        total += 1
        hits += (n.pitch % 12) in chord.chord_tones()
    return hits, total


def strong_beat_chord_tone_share(
    phrase: Phrase, harmony: Harmony, beats_per_bar: int = 4, tol: float = 1.0 / TICKS_PER_BEAT
) -> float:
    """Share (0..1) of strong-beat notes that are chord tones (`Chord.chord_tones()`)."""
    return _share(*strong_beat_chord_tone_counts(phrase, harmony, beats_per_bar, tol))


def in_harmony_counts(phrase: Phrase, harmony: Harmony) -> tuple[int, int]:
    """(notes in `Chord.scale()` of the chord at their onset, notes over a chord)."""
    hits = total = 0
    for n in phrase.absolute():
        chord = harmony.chord_at(max(0.0, n.start))
        if chord is None:
            continue
        total += 1
        hits += (n.pitch % 12) in chord.scale()
    return hits, total


def in_harmony_share(phrase: Phrase, harmony: Harmony) -> float:
    """Share (0..1) of notes that are chord tones or the chord's tensions (`Chord.scale()`)."""
    return _share(*in_harmony_counts(phrase, harmony))


def entropy_bits(counts: Iterable[float]) -> float:
    """Shannon entropy (bits) of a histogram of non-negative counts; 0.0 when empty."""
    values = [c for c in counts if c > 0]
    total = float(sum(values))
    if total <= 0:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in values)


def pitch_class_entropy(notes: Iterable[Note]) -> float:
    """Entropy (bits, 0..log2(12) = 3.585) of the notes' pitch-class distribution."""
    return entropy_bits(Counter(n.pitch % 12 for n in notes).values())


def chord_relative_pcs(phrase: Phrase, harmony: Harmony) -> list[int]:
    """Each note's pitch class above the root of the chord at its onset (0..11); notes over
    no chord are skipped. Pooled over many solos this is key-independent."""
    out = []
    for n in phrase.absolute():
        chord = harmony.chord_at(max(0.0, n.start))
        if chord is not None:
            out.append((n.pitch - chord.root) % 12)
    return out


def intervals(phrase: Phrase) -> list[int]:
    """Signed semitone steps between consecutive notes in onset order (then pitch)."""
    p = phrase.pitches()
    return [b - a for a, b in zip(p, p[1:])]


def interval_histogram(phrases: Iterable[Phrase]) -> list[int]:
    """Counts of |interval| sizes over all phrases: bins 0..12 semitones, bin 13 = wider."""
    hist = [0] * INTERVAL_BINS
    for ph in phrases:
        for iv in intervals(ph):
            hist[min(abs(iv), INTERVAL_BINS - 1)] += 1
    return hist


def normalize(hist: Sequence[float]) -> list[float]:
    """A histogram scaled to sum 1 (all zeros stays all zeros)."""
    total = float(sum(hist))
    return [h / total for h in hist] if total > 0 else [0.0] * len(hist)


def js_distance(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon divergence (base 2, so 0..1) between two histograms (counts or
    probabilities; each is normalized first). 0 = identical shapes, 1 = disjoint support.
    NaN if either histogram is empty."""
    if len(p) != len(q):
        raise ValueError(f"histograms differ in length: {len(p)} vs {len(q)}")
    if sum(p) <= 0 or sum(q) <= 0:
        return float("nan")
    pn, qn = normalize(p), normalize(q)
    m = [(a + b) / 2 for a, b in zip(pn, qn)]

    def kl(x: list[float]) -> float:
        return sum(a * math.log2(a / c) for a, c in zip(x, m) if a > 0)

    return max(0.0, 0.5 * kl(pn) + 0.5 * kl(qn))


def notes_per_beat(phrases: Iterable[Phrase]) -> float:
    """Total notes over total `Phrase.length` (beats): the density over the span each phrase
    was given (an answer that stops early is sparser). NaN when the spans sum to 0."""
    n = span = 0.0
    for ph in phrases:
        n += len(ph)
        span += ph.length
    return n / span if span > 0 else float("nan")


def interval_cells(phrase: Phrase, size: int = INTERVAL_CELL) -> set[tuple[int, ...]]:
    """The phrase's interval cells: every run of `size` consecutive signed intervals
    (so a cell is a (size+1)-note shape, the same at any transposition), except runs of
    repeated notes (all zeros), which say nothing about a melodic idea."""
    ivs = intervals(phrase)
    cells = {tuple(ivs[i:i + size]) for i in range(len(ivs) - size + 1)}
    return {c for c in cells if any(c)}


def rhythm_cells(phrase: Phrase, size: int = RHYTHM_CELL) -> set[tuple[int, ...]]:
    """The phrase's rhythm cells: every run of `size` consecutive inter-onset intervals in
    ticks (1/12 beat, rounded), except uniform runs (all IOIs equal, e.g. a stream of
    eighths), which nearly every jazz line contains. Simultaneous onsets count once."""
    onsets = sorted({round(n.start * TICKS_PER_BEAT) for n in phrase.notes})
    iois = [b - a for a, b in zip(onsets, onsets[1:])]
    cells = {tuple(iois[i:i + size]) for i in range(len(iois) - size + 1)}
    return {c for c in cells if len(set(c)) > 1}


@dataclass(frozen=True, slots=True)
class Relatedness:
    """How an answer relates to its call.

    Attributes:
        interval: the answer reuses an interval cell of the call (possibly transposed).
        rhythm: the answer reuses a rhythm cell of the call.
    """

    interval: bool
    rhythm: bool

    @property
    def either(self) -> bool:
        return self.interval or self.rhythm


def relatedness(call: Phrase, answer: Phrase) -> Relatedness:
    """Whether `answer` reuses a cell of `call`.

    Precisely: an interval cell is a run of INTERVAL_CELL (3) consecutive signed semitone
    intervals (a 4-note shape, transposition-invariant), not all zero; a rhythm cell is a
    run of RHYTHM_CELL (3) consecutive inter-onset intervals in 1/12-beat ticks, not all
    equal. The answer is interval-related if the two phrases share an interval cell,
    rhythm-related if they share a rhythm cell, and related if either holds.
    """
    return Relatedness(
        bool(interval_cells(call) & interval_cells(answer)),
        bool(rhythm_cells(call) & rhythm_cells(answer)),
    )


def _chance_relatedness(calls: Sequence[Phrase], answers: Sequence[Phrase]) -> tuple[int, int]:
    """(related, compared) with answer i set against call (i + k//2) mod k: half the list
    away, so in a corpus listed solo by solo it is usually another solo's phrase. Pairs
    where that call is the answer itself (consecutive phrases: the next pair's call is
    this pair's answer) are skipped."""
    k = len(answers)
    hits = n = 0
    for i, a in enumerate(answers):
        c = calls[(i + max(1, k // 2)) % k] if k > 1 else None
        if c is None or (c.start == a.start and c.notes == a.notes):
            continue
        n += 1
        hits += relatedness(c, a).either
    return hits, n


def summarize(
    answers: Sequence[Phrase],
    harmonies: Sequence[Harmony],
    calls: Sequence[Phrase] | None = None,
    beats_per_bar: int = 4,
) -> dict[str, float | int | list]:
    """All statistics of a set of answers (each over its own harmony), as a flat dict.

    Keys: n_phrases, n_notes, strong_beat_chord_tone_share, in_harmony_share (both pooled
    over notes), pc_entropy_bits (mean over non-empty phrases), chord_pc_entropy_bits
    (pooled pitch classes relative to the chord root), notes_per_beat, interval_hist
    (counts, bins 0..12 and >12 semitones) and, with `calls`: relatedness,
    interval_related, rhythm_related (shares of answers), and relatedness_shuffled (the
    chance level: the same share with each answer set against another pair's call, see
    `_chance_relatedness`).
    """
    if len(harmonies) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(harmonies)} harmonies")
    sb = [0, 0]
    ih = [0, 0]
    rel_pcs: Counter[int] = Counter()
    entropies = []
    for ph, h in zip(answers, harmonies):
        a, b = strong_beat_chord_tone_counts(ph, h, beats_per_bar)
        sb[0] += a
        sb[1] += b
        a, b = in_harmony_counts(ph, h)
        ih[0] += a
        ih[1] += b
        rel_pcs.update(chord_relative_pcs(ph, h))
        if len(ph):
            entropies.append(pitch_class_entropy(ph.notes))
    out: dict[str, float | int | list] = {
        "n_phrases": len(answers),
        "n_notes": sum(len(p) for p in answers),
        "strong_beat_chord_tone_share": _share(*sb),
        "in_harmony_share": _share(*ih),
        "pc_entropy_bits": sum(entropies) / len(entropies) if entropies else float("nan"),
        "chord_pc_entropy_bits": entropy_bits(rel_pcs.values()),
        "notes_per_beat": notes_per_beat(answers),
        "interval_hist": interval_histogram(answers),
    }
    if calls is not None:
        if len(calls) != len(answers):
            raise ValueError(f"{len(answers)} answers but {len(calls)} calls")
        rel = [relatedness(c, a) for c, a in zip(calls, answers)]
        k = len(rel)
        out["relatedness"] = _share(sum(r.either for r in rel), k)
        out["interval_related"] = _share(sum(r.interval for r in rel), k)
        out["rhythm_related"] = _share(sum(r.rhythm for r in rel), k)
        out["relatedness_shuffled"] = _share(*_chance_relatedness(calls, answers))
    return out
