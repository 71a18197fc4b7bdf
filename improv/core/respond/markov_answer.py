"""One answer of the Markov partner (see `improv.core.respond.markov`): the sampling loop.

From the end of the call (or an echo of one of its cells) it keeps choosing a next symbol
that followed the same context in the session's and the vocabulary's tables (mixed by the
session's share), prefers the longest matching context and backs off to shorter ones, and
weighs every candidate by harmonic fit at its onset (chord tones on strong beats, tensions
between them, outside notes only as approaches that resolve by a step: `markov_fit`, with the
`Constraints`' wishes), metric consistency, the wanted density and register, and holds back a
note repeated, a trill or a cell looped past its length, as the phrase model holds it back
(`improv.core.theory.loops`); then samples with temperature and top-p from a generator
seeded from `AnswerSettings.seed`. Pure and deterministic per seed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from improv.core.respond.base import AnswerSettings, fit_answer
from improv.core.respond.markov_fit import PitchFit
from improv.core.respond.markov_memory import (
    FIRST, MAX_DUR, MAX_IOI, START, TICKS, Item, Symbol, melody, metric_class, reduce, symbols,
)
from improv.core.theory.chart import Chart
from improv.core.theory.line import line_floor
from improv.core.theory.loops import held_back, loops_after, loops_of
from improv.core.theory.notes import Note, Phrase

if TYPE_CHECKING:
    from improv.core.respond.markov import MarkovResponder

MIN_VELOCITY = 36  # the softest an answer is shaped around (its notes stray +-10 from it)
_RESOLVE = 4.0  # after an outside note, a step to an inside note
_UNRESOLVED = 0.1  # after an outside note, anything else
_METRIC_MISMATCH = 0.25
_GOOD_FIT = 0.15  # mean weight (fit x rhythm) at which a context's continuations are good enough
_BACKOFF = 0.35  # weight of each shorter context mixed in when they are not
_STRETCH = 0.6  # weight of a learned rhythm played twice or half as fast
_REALIGN = 0.8  # weight of a learned note moved by a tick or two back to its place in the beat
_FALLBACK_STEPS = (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)
KEEP_ROOM = 14  # semitones: an answer kept above a left hand keeps at least this much of its range


class Generator:
    """One answer: the state of the sampling loop (pure; deterministic per seed)."""

    def __init__(self, owner: MarkovResponder, call: Phrase, harmony: Chart | None, s: AnswerSettings) -> None:
        self.owner = owner
        self.settings = s
        self.start = float(s.start) if math.isfinite(s.start) else 0.0
        length = float(s.length) if math.isfinite(s.length) else 0.0
        self.length_ticks = max(0, int(math.floor(length * TICKS + 1e-6)))
        lo, hi = int(max(0, min(127, s.low))), int(max(0, min(127, s.high)))
        self.low, self.high = min(lo, hi), max(lo, hi)
        if call is not None and call.notes:  # over a left hand: not down into it
            self.low = max(self.low, min(line_floor(call, s.tempo), self.high - KEEP_ROOM))
        self.bpb = max(1, int(s.beats_per_bar or 4))
        self.rng = np.random.default_rng([abs(int(s.seed)), abs(owner.seed)])
        self.temperature = float(s.temperature) if math.isfinite(s.temperature) else 1.0
        self.top_p = min(1.0, max(0.0, float(s.top_p))) if math.isfinite(s.top_p) else 1.0
        self.fit = PitchFit(harmony, self.start, self.length_ticks, self.bpb, s.constraints)
        self.opening = sorted(s.constraints.opening, key=lambda n: (n.start, -n.pitch))
        self.call_events = melody(call, s.tempo) if call is not None else []
        self.call_syms = symbols(self.call_events)
        pitches = [e[1] for e in self.call_events]
        mid = (self.low + self.high) / 2.0
        centre = sum(pitches) / len(pitches) if pitches else mid
        margin = min(5.0, (self.high - self.low) / 2.0)
        self.centre = min(self.high - margin, max(self.low + margin, centre))
        self.spread = max(4.0, min(9.0, (self.high - self.low) / 3.0))
        # Register pull: a pitch's weight falls off with its distance from the centre.
        self.register = [math.exp(-0.5 * ((p - self.centre) / self.spread) ** 2) for p in range(128)]
        vels = [e[3] for e in self.call_events]
        # the call's loudness, played back within what a synth sounds (a call at velocity 1
        # got answers at 1-11: inaudible on most)
        self.velocity = max(MIN_VELOCITY, int(round(sum(vels) / len(vels)))) if vels else 88
        if s.density is not None and math.isfinite(s.density) and s.density > 0:
            density = float(s.density)
        elif len(self.call_events) >= 2:
            span_ticks = max(self.call_events[-1][0] - self.call_events[0][0] + self.call_events[-1][2], 1)
            call_len = max(call.length * TICKS, span_ticks)
            density = len(self.call_events) * TICKS / call_len
        else:
            density = 2.0  # eighth notes with a few rests: the idiom's default
        self.density = min(8.0, max(0.25, density))
        self.share = owner.session_share()
        self._given_velocity: dict[int, int] = {}  # onset tick -> velocity of an opening note
        self._first = 0  # the answer's first onset (ticks), where its pace counts from
        self._held: dict[int, float] = {}  # pitch -> weight of going on with a run past its length

    # -- weights -------------------------------------------------------------------

    def _inside(self, pitch: int, tick: int) -> bool:
        return self.fit.at(tick)[1][pitch % 12] > 0.0

    def _pitch_weight(self, pitch: int, tick: int, prev: int | None, prev_inside: bool) -> float:
        fits, inside = self.fit.at(tick)
        w = fits[pitch % 12] * self.register[pitch] * self._held.get(pitch, 1.0)
        if w > 0.0 and prev is not None and not prev_inside:
            step = abs(pitch - prev)
            w *= _RESOLVE if 0 < step <= 2 and inside[pitch % 12] else _UNRESOLVED
        return w

    def _target_ioi(self, tick: int, produced: int) -> float:
        """The wanted inter-onset interval (ticks) here: the density's, stretched when the
        answer so far runs ahead of it and shrunk when it lags. The pace counts from the
        answer's first note, that note included: an answer opening a beat late was taken to
        lag (it halved the player's triplets to catch up, and went on a sixteenth-triplet off
        their grid), and every answer's first note to run ahead (its second note came late)."""
        expected = 1.0 + self.density * max(0, tick - self._first) / TICKS  # (the first note counted)
        ratio = min(2.0, max(0.5, (produced + 1.0) / (expected + 1.0)))
        return ratio * TICKS / self.density

    @staticmethod
    def _rhythm_weight(ioi: int, met: int, onset: int, target: float) -> float:
        w = 1.0 if metric_class(onset) == met else _METRIC_MISMATCH
        a = float(ioi)
        return w * (min(a, target) / max(a, target)) ** 1.5

    def _fold(self, pitch: int) -> tuple[int, float]:
        """A pitch moved into range by octaves, with a penalty for having to."""
        if self.low <= pitch <= self.high:
            return pitch, 1.0
        while pitch > self.high:
            pitch -= 12
        while pitch < self.low:
            pitch += 12
        if pitch > self.high:
            return -1, 0.0
        return pitch, 0.3

    # -- sampling ------------------------------------------------------------------

    def _choose(self, cands: list[tuple[float, object]]) -> object | None:
        cands = [c for c in cands if c[0] > 0.0 and math.isfinite(c[0])]
        if not cands:
            return None
        if self.temperature <= 1e-3:
            return max(cands, key=lambda c: c[0])[1]
        if self.temperature != 1.0:
            top = max(c[0] for c in cands)
            cands = [((w / top) ** (1.0 / self.temperature), x) for w, x in cands]
            cands = [c for c in cands if c[0] > 0.0]
        cands.sort(key=lambda c: -c[0])
        total = sum(c[0] for c in cands)
        if self.top_p < 1.0:
            keep, acc = [], 0.0
            for c in cands:
                keep.append(c)
                acc += c[0]
                if acc >= self.top_p * total:
                    break
            cands, total = keep, acc
        r = float(self.rng.random()) * total
        for w, x in cands:
            r -= w
            if r <= 0.0:
                return x
        return cands[-1][1]

    def _dists(self, hist: list[Item], max_k: int) -> tuple[int, dict[Symbol, float]]:
        """Mixed continuation probabilities of the longest contexts up to `max_k` items."""
        k_s, d_s = self.owner._session.longest(hist, max_k)
        k_v, d_v = self.owner._vocab.longest(hist, max_k)
        # Each table weighs by the session share and by how long a context it matched:
        # a longer memory is more specific, so it speaks louder (as in a prefix tree).
        ws = self.share * (1 + k_s) ** 2 if d_s else 0.0
        wv = (1.0 - self.share) * (1 + k_v) ** 2 if d_v else 0.0
        share = ws / (ws + wv) if ws + wv > 0 else 0.0
        mixed: dict[Symbol, float] = {}
        for sym, p in d_s:
            if sym[0] != FIRST:
                mixed[sym] = mixed.get(sym, 0.0) + share * p
        for sym, p in d_v:
            if sym[0] != FIRST:
                mixed[sym] = mixed.get(sym, 0.0) + (1.0 - share) * p
        return max(k_s, k_v), mixed

    def _next(
        self, hist: list[Item], tick: int | None, prev: int, prev_inside: bool, produced: int, end: int
    ) -> tuple[Symbol, int, int] | None:
        """Sample the next note: (symbol, onset tick, pitch). `tick` is the previous onset,
        or None for the first note (its onset is then `end`, forced)."""
        # Back off from the longest context while its continuations fit poorly (off the
        # chord, out of range, past the end), mixing each shorter context in at a lower
        # weight: the Continuator's harmonic fit, as weights rather than a filter.
        max_k, level_w = len(hist), 1.0
        cands: list[tuple[float, object]] = []
        mass = fit = 0.0
        seen: set[Symbol] = set()
        target = self._target_ioi(tick or 0, produced)
        while max_k >= 0:
            k, dist = self._dists(hist, max_k)
            for sym, p in dist.items():
                if sym in seen:
                    continue
                seen.add(sym)
                iv, ioi, dur, met = sym
                pitch, fold_w = self._fold(prev + iv)
                if pitch < 0:
                    continue
                if tick is None:
                    variants = [(sym, end, 1.0)]
                else:
                    variants = [(sym, tick + ioi, 1.0)]
                    # Augment or diminish a rhythm that is far from the wanted density,
                    # as a player would: same steps, twice or half as fast.
                    if ioi * 1.5 < target and ioi * 2 <= MAX_IOI:
                        alt = ioi * 2
                        variants.append(((iv, alt, min(MAX_DUR, dur * 2), metric_class(tick + alt)), tick + alt, _STRETCH))
                    elif ioi > 1.5 * target and ioi % 2 == 0:
                        alt = ioi // 2
                        variants.append(((iv, alt, max(1, dur // 2), metric_class(tick + alt)), tick + alt, _STRETCH))
                    if met < 4 and metric_class(tick + ioi) != met:
                        # Back to where in the beat the note was learned: a line put off the
                        # player's grid once (a vocabulary rhythm, a halved one) stayed off it.
                        for shift in (-1, 1, -2, 2):
                            alt = ioi + shift
                            if 0 < alt <= MAX_IOI and metric_class(tick + alt) == met:
                                variants.append(((iv, alt, max(1, dur + shift), met), tick + alt, _REALIGN))
                                break
                for v_sym, onset, v_w in variants:
                    if onset > end:
                        continue
                    rw = v_w if tick is None else v_w * self._rhythm_weight(v_sym[1], sym[3] if v_w == 1.0 else v_sym[3], onset, target)
                    mass += level_w * p * v_w
                    w = level_w * p * rw * fold_w * self._pitch_weight(pitch, onset, prev, prev_inside)
                    if w > 0.0:
                        fit += w
                        cands.append((w, (v_sym, onset, pitch)))
            if k <= 0 or (mass > 0.0 and fit / mass >= _GOOD_FIT):
                break
            max_k, level_w = k - 1, level_w * _BACKOFF
        if fit > 1e-12:
            return self._choose(cands)  # type: ignore[return-value]
        # Last resort: plain steps in the wanted rhythm.
        step = max(1, int(round(TICKS / self.density)))
        onset = end if tick is None else tick + step
        if onset > end:
            return None
        cands = []
        for iv in _FALLBACK_STEPS:
            pitch, fold_w = self._fold(prev + iv)
            if pitch >= 0:
                w = fold_w * self._pitch_weight(pitch, onset, prev, prev_inside)
                cands.append((w, ((iv, onset - (tick or 0), step, metric_class(onset)), onset, pitch)))
        return self._choose(cands)  # type: ignore[return-value]

    def _first_pitch(self, tick: int, near: float) -> int | None:
        """A starting pitch near `near` that fits the chord at `tick`."""
        cands: list[tuple[float, object]] = []
        base = int(round(near))
        for pitch in range(base - 7, base + 8):
            if self.low <= pitch <= self.high:
                closeness = math.exp(-abs(pitch - near) / 4.0)
                cands.append((closeness * self._pitch_weight(pitch, tick, None, True), pitch))
        got = self._choose(cands)
        if got is None:  # everything near is ruled out: look across the whole range
            cands = [(self._pitch_weight(p, tick, None, True), p) for p in range(self.low, self.high + 1)]
            got = self._choose(cands)
        return got  # type: ignore[return-value]

    def _echo_cell(self, first_tick: int) -> list[tuple[int, int, int]] | None:
        """The call's opening cell (up to 3 notes: its steps and rhythm), moved to the pitch
        that fits the harmony here best: [(onset tick, pitch, duration ticks)]."""
        ev = self.call_events
        if len(ev) < 3:
            return None
        cell = ev[:3]
        if cell[-1][0] - cell[0][0] > 2 * TICKS:
            return None
        shape = [(e[0] - cell[0][0], e[1] - cell[0][1], e[2]) for e in cell]
        if first_tick + shape[-1][0] >= self.length_ticks - TICKS:
            return None
        anchor = ev[-1][1]
        cands: list[tuple[float, object]] = []
        for root in range(int(anchor) - 6, int(anchor) + 7):
            notes = [(first_tick + dt, root + dp, d) for dt, dp, d in shape]
            if any(not self.low <= p <= self.high for _, p, _ in notes):
                continue
            w = 1.0
            for t, p, _ in notes:
                w *= self._pitch_weight(p, t, None, True) ** (1.0 if t % TICKS == 0 else 0.5)
            cands.append((w, notes))
        got = self._choose(cands)
        return got  # type: ignore[return-value]

    def _and(self) -> int:
        """Where the call plays a beat's "and" (ticks into the beat): the median of its
        onsets from the straight eighth to the triplet's third, 6 when straight (sixteenths
        too) or with none there, 8 when swung hard or in triplets. An answer opening on the
        straight "and" of a swung or triplet call went on in the call's rhythm an eighth off
        it, every note between the player's."""
        ands = sorted(e[0] % TICKS for e in self.call_events if 6 <= e[0] % TICKS <= 8)
        return ands[len(ands) // 2] if ands else 6

    def run(self) -> Phrase:
        s = self.settings
        if self.length_ticks <= 0:
            return Phrase((), self.start, max(0.0, float(s.length)) if math.isfinite(s.length) else 0.0)
        out: list[tuple[int, int, int]] = []  # (onset tick, pitch, duration ticks)
        # The last onset: on an eighth, at least a beat before the end (room for a long
        # last note); in a very short answer, the first half.
        if self.length_ticks >= 2 * TICKS:
            end = ((self.length_ticks - TICKS) // 6) * 6
        else:
            end = (self.length_ticks - 1) // 2
        hist: list[Item] = []
        prev: int | None = None
        tick: int | None = None

        if self.opening:
            # The embrace/guide modes' notes come first; generation continues from them.
            ops = [n for n in self.opening if 0 <= n.start < self.length_ticks / TICKS]
            op_phrase = Phrase.of(ops)
            for ev, sym in zip(melody(op_phrase), symbols(melody(op_phrase))):
                out.append((ev[0], ev[1], ev[2]))
                self._given_velocity[ev[0]] = ev[3]
                hist.append(reduce(sym))
            extra = [n for n in ops if (int(round(n.start * TICKS)), n.pitch) not in {(o[0], o[1]) for o in out}]
            if out:
                prev, tick = out[-1][1], out[-1][0]
        elif self.call_events:
            hist = [reduce(x) for x in self.call_syms]
        else:
            hist = [START]
        if not self.opening:
            extra = []
        hist = hist[-self.owner.order:] if self.owner.order else []

        if tick is None:
            # on the beat, on its "and" as the call plays it (swung, a triplet's third), or a beat late
            first_tick = int(self._choose([(0.55, 0), (0.35, self._and()), (0.10, 12)]) or 0)  # type: ignore[arg-type]
            first_tick = min(first_tick, end)
            cell = None
            if self.call_events and float(self.rng.random()) < 0.35:
                cell = self._echo_cell(first_tick)
            if cell:
                out.extend(cell)
                hist = (hist + [(cell[i][1] - cell[i - 1][1], cell[i][0] - cell[i - 1][0]) for i in (1, 2)])
                hist = hist[-self.owner.order:] if self.owner.order else []
                prev, tick = cell[-1][1], cell[-1][0]
            elif self.call_events:
                anchor, _ = self._fold(self.call_events[-1][1])
                if anchor < 0:
                    anchor = int(self.centre)
                got = self._next(hist, None, anchor, True, 0, first_tick)
                if got is not None:
                    sym, onset, pitch = got
                    out.append((onset, pitch, sym[2]))
                    hist = (hist + [reduce(sym)])[-self.owner.order:] if self.owner.order else []
                    prev, tick = pitch, onset
            if tick is None:
                pitch = self._first_pitch(first_tick, self.centre)
                if pitch is None:
                    return fit_answer([], s)
                dur = 6
                out.append((first_tick, pitch, dur))
                hist = (([START] if not hist else hist) + [START])[-self.owner.order:] if self.owner.order else []
                prev, tick = pitch, first_tick

        assert prev is not None and tick is not None
        self._first = min(o[0] for o in out) if out else tick
        prev_inside = self._inside(prev, tick)
        loops = loops_of(o[1] for o in sorted(out))  # (each note after these starts after them: in order)
        for _ in range(self.length_ticks):
            if tick >= end:
                break
            self._held = {p: math.exp(-nats) for p, nats in held_back(loops).items()}
            got = self._next(hist, tick, prev, prev_inside, len(out), end)
            if got is None:
                break
            sym, onset, pitch = got
            out.append((onset, pitch, sym[2]))
            loops = loops_after(loops, pitch)
            if self.owner.order:
                hist.append(reduce(sym))
                if len(hist) > self.owner.order:
                    del hist[0]
            prev, tick = pitch, onset
            prev_inside = self._inside(pitch, onset)
        return self._render(out, extra)

    def _render(self, out: list[tuple[int, int, int]], extra: list[Note]) -> Phrase:
        """Ticks -> notes: no overlaps in the line, a longer last note, shaped velocities."""
        notes: list[Note] = list(extra)
        out.sort()
        for i, (tick, pitch, dur) in enumerate(out):
            room = self.length_ticks - tick
            if room <= 0:
                continue
            if i + 1 < len(out):
                dur = min(dur, max(1, out[i + 1][0] - tick))
            else:
                dur = min(room, max(dur, TICKS, min(2 * TICKS, room)))  # end on a longer note
            dur = max(1, min(dur, room))
            if tick % TICKS == 0:
                vel = self.velocity + 6
            elif tick % TICKS == 6:
                vel = self.velocity - 2
            else:
                vel = self.velocity - 6
            vel += int(self.rng.integers(-4, 5))
            vel = self._given_velocity.get(tick, vel)
            notes.append(Note(tick / TICKS, int(pitch), dur / TICKS, max(1, min(127, vel))))
        return fit_answer(notes, self.settings)

