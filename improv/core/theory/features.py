"""Features of an answer phrase for telling real answers from generated ones.

`answer_features(answer, harmony, call)` gives 44 numbers in five groups (beats, shares
0..1, semitones); `RHYTHM` names the 25 that look only at time (onset gaps, placement in
the beat, durations, density). A feature that has nothing to measure (no strong-beat
note, one note, no off-beat eighth) is NaN; the classifier fills it with the training
mean. The list is the model card's; changing it changes every published accuracy.

- pitch against the chord (7): chord tones, tensions, outside notes, strong-beat chord
  tones, roots, chord-relative pitch-class entropy, pitch-class entropy;
- intervals (12): mean and sd of |interval|, mean signed interval, shares of repeats,
  steps, thirds, fourths-fifths, wider leaps, direction changes, pitch range and sd,
  mean pitch against the call's;
- onset gaps and placement (10): mean and sd of log2 gap, shares of gaps < 0.2, 0.2-0.4,
  0.4-0.6, 0.6-1.1, > 1.1 beat, where the off-beat eighths sound (median place in the
  beat of onsets in 0.35-0.85), how far behind the beat the on-beat notes sound (median)
  and how tightly (mean absolute deviation);
- durations (7): mean and sd of log2 duration, share under 0.1 beat, mean
  duration / gap to the next onset, shares under half the gap and past it, log2 of the
  last note's duration;
- density (8): notes per beat over the span, log2 notes, log2 of the answer's density
  over the call's, first onset, share of the span between first and last onset, share
  of onsets that sound with another (chords in a line), most notes in one beat,
  notes per beat of the densest half of the span.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from improv.core.theory.metrics import Harmony, entropy_bits, is_strong_onset
from improv.core.theory.notes import Phrase

PITCH = ("chord_tone_share", "tension_share", "outside_share", "strong_beat_chord_tones", "root_share",
         "chord_pc_entropy", "pc_entropy")
INTERVALS = ("abs_interval_mean", "abs_interval_sd", "interval_mean", "repeat_share", "step_share", "third_share",
             "fourth_fifth_share", "leap_share", "direction_change_share", "pitch_range", "pitch_sd",
             "pitch_vs_call")
GAPS = ("log_gap_mean", "log_gap_sd", "gap_lt_0.2", "gap_0.2_0.4", "gap_0.4_0.6", "gap_0.6_1.1", "gap_gt_1.1",
        "offbeat_place", "onbeat_lag", "onbeat_spread")
DURATIONS = ("log_dur_mean", "log_dur_sd", "dur_lt_0.1", "articulation", "staccato_share", "overlap_share",
             "log_last_dur")
DENSITY = ("notes_per_beat", "log_notes", "log_density_vs_call", "first_onset", "span_used", "together_share",
           "max_per_beat", "dense_half_per_beat")
NAMES: tuple[str, ...] = PITCH + INTERVALS + GAPS + DURATIONS + DENSITY
RHYTHM: tuple[str, ...] = GAPS + DURATIONS + DENSITY
TOGETHER = 0.02  # beats: onsets closer than this sound together
NAN = float("nan")


def _mean(xs: list[float] | np.ndarray) -> float:
    return float(np.mean(xs)) if len(xs) else NAN


def _share(mask: list[bool] | np.ndarray) -> float:
    return float(np.mean(mask)) if len(mask) else NAN


def _pitch(answer: Phrase, harmony: Harmony) -> list[float]:
    tones = tens = out = roots = sb_hit = sb_n = 0
    rel: Counter[int] = Counter()
    for n in answer.absolute():
        chord = harmony.chord_at(max(0.0, round(n.start * 12) / 12))
        if chord is None:
            continue
        pc = n.pitch % 12
        if pc in chord.chord_tones():
            tones += 1
        elif pc in chord.scale():
            tens += 1
        else:
            out += 1
        roots += pc == chord.root
        rel[(n.pitch - chord.root) % 12] += 1
        if is_strong_onset(n.start):
            sb_n += 1
            sb_hit += pc in chord.chord_tones()
    total = tones + tens + out
    f = [tones / total, tens / total, out / total] if total else [NAN] * 3
    f += [sb_hit / sb_n if sb_n else NAN, roots / total if total else NAN, entropy_bits(rel.values()) if total else NAN,
          entropy_bits(Counter(p % 12 for p in answer.pitches()).values()) if len(answer) else NAN]
    return f


def _intervals(answer: Phrase, call: Phrase | None) -> list[float]:
    p = np.array(answer.pitches(), dtype=float)
    iv = np.diff(p)
    a = np.abs(iv)
    sign = np.sign(iv[iv != 0])
    f = [_mean(a), float(a.std()) if len(a) > 1 else NAN, _mean(iv), _share(a == 0), _share((a >= 1) & (a <= 2)),
         _share((a >= 3) & (a <= 4)), _share((a >= 5) & (a <= 7)), _share(a > 7),
         _share(sign[1:] != sign[:-1]) if len(sign) > 1 else NAN,
         float(p.max() - p.min()) if len(p) else NAN, float(p.std()) if len(p) > 1 else NAN]
    f.append(float(p.mean() - np.mean(call.pitches())) if len(p) and call is not None and len(call) else NAN)
    return f


def _onsets(answer: Phrase) -> np.ndarray:
    return np.array([answer.start + n.start for n in answer.notes])


def _gaps(answer: Phrase) -> list[float]:
    xs = _onsets(answer)
    g = np.diff(xs)
    g = g[g >= TOGETHER]
    lg = np.log2(g) if len(g) else g
    frac = xs - np.floor(xs)
    off = frac[(frac >= 0.35) & (frac <= 0.85)]
    near = np.where(frac > 0.5, frac - 1.0, frac)
    near = near[np.abs(near) <= 0.2]
    f = [_mean(lg), float(lg.std()) if len(lg) > 1 else NAN, _share(g < 0.2), _share((g >= 0.2) & (g < 0.4)),
         _share((g >= 0.4) & (g < 0.6)), _share((g >= 0.6) & (g < 1.1)), _share(g >= 1.1),
         float(np.median(off)) if len(off) else NAN, float(np.median(near)) if len(near) else NAN,
         float(np.mean(np.abs(near - np.median(near)))) if len(near) > 1 else NAN]
    return f


def _durations(answer: Phrase) -> list[float]:
    if not answer.notes:
        return [NAN] * len(DURATIONS)
    d = np.array([n.duration for n in answer.notes])
    ld = np.log2(np.maximum(d, 1e-3))
    xs = _onsets(answer)
    nxt = []
    for i in range(len(xs) - 1):  # the gap to the next onset that does not sound together
        later = xs[i + 1:][xs[i + 1:] - xs[i] >= TOGETHER]
        if len(later):
            nxt.append((d[i], later[0] - xs[i]))
    ratio = np.array([min(2.0, a / b) for a, b in nxt])
    return [_mean(ld), float(ld.std()) if len(ld) > 1 else NAN, _share(d < 0.1), _mean(ratio),
            _share(ratio < 0.5), _share(ratio > 1.02), float(ld[-1])]


def _density(answer: Phrase, call: Phrase | None) -> list[float]:
    span = max(answer.length, 1e-9)
    n = len(answer)
    xs = _onsets(answer) - answer.start
    call_d = len(call) / max(1.0, call.length) if call is not None and len(call) else NAN
    dens = n / span
    together = np.zeros(n, dtype=bool)
    if n > 1:
        close = np.diff(xs) < TOGETHER
        together[1:] |= close
        together[:-1] |= close
    per_beat = Counter(int(math.floor(x + 1e-9)) for x in xs)
    half = max(1, int(math.ceil(span / 2)))
    beats = sorted(per_beat.values(), reverse=True)
    return [dens, math.log2(n) if n else NAN,
            math.log2(dens / call_d) if n and call_d == call_d and call_d > 0 else NAN,
            float(xs[0]) if n else NAN, float((xs[-1] - xs[0]) / span) if n else NAN, _share(together),
            float(max(per_beat.values())) if n else NAN, sum(beats[:half]) / half if n else NAN]


def answer_features(answer: Phrase, harmony: Harmony, call: Phrase | None = None) -> list[float]:
    """The answer's 44 features (`NAMES`, in order) over its span (`answer.length` beats)."""
    return (_pitch(answer, harmony) + _intervals(answer, call) + _gaps(answer) + _durations(answer)
            + _density(answer, call))


def feature_matrix(answers: list[Phrase], harmonies: list[Harmony], calls: list[Phrase] | None = None) -> np.ndarray:
    """(len(answers), len(NAMES)) features; NaN where a feature has nothing to measure."""
    calls = calls if calls is not None else [None] * len(answers)  # type: ignore[list-item]
    return np.array([answer_features(a, h, c) for a, h, c in zip(answers, harmonies, calls)], dtype=float
                    ).reshape(len(answers), len(NAMES))
