"""Following the player's tempo and beat from their note onsets. Pure: fed onsets in
seconds, no clock, no threads.

`TempoFollower` is a discrete Bayesian filter over (tempo, beat phase): a grid of tempi
from `min_bpm` to `max_bpm` in 1.5 % steps, each with `PHASE_BINS` places within the
beat. At every onset the belief moves on by the time passed (each tempo advances its
phase by its own number of beats), spreads a little (the player's tempo wanders, their
beat drifts) and is weighed by how likely an onset is at each phase for that tempo: the
learned `OnsetTemplate` (on the beat, on the swung off-beat, on sixteenths or triplets, or
anywhere, with a timing scatter in milliseconds), by the rhythm from the last onset (the
gap in beats, given where that one fell) and, once a note is released, by its length
(notes on the beat are held longer). A drum pad's hit (`hit`) is weighed by where a
drummer's hits fall, as much as the player's pads have kept time so far. Swing eighths,
syncopation and rests are the normal case: a rest just carries the phase on, a syncopated
note is one the template expects off the beat. When the evidence is weak the belief stays where it was (nothing
moves it but onsets); a first guess (`--tempo`) is a prior, not a constraint.

Octaves: a line heard at 140 or 280 bpm, or in two, fits both tempi; the template (swung
eighths split the beat unevenly, so the double tempo puts every other note off its grid)
and a broad prior over tempi (centred at 150 bpm) choose. Feeling a 280 bpm line in two is
right; playing at double the player's tempo would be wrong more often, and is rarer.

Cost: a few vectorised operations on a 131 x 40 grid per onset (`improv bench` times it).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from improv.core.listen.onset_template import NextOnset, NoteLength, OnsetTemplate

MERGE_S = 0.03  # onsets closer than this are one event (a chord, a grace note), seconds
TRILL_S = 0.09  # a note that goes back to the key before the last, the fourth of A B A B within two of
# these (11 notes a second or more), goes on a trill: an ornament, not the beat's evidence
PHASE_BINS = 40
TEMPO_STEP = 0.015  # log-tempo between grid rows (1.5 %)
GENERIC_BPM, GENERIC_SPREAD = 150.0, 0.5  # the prior over tempi with no first guess (log-normal)
TEMPO_WINDOW = 0.03  # the estimate is the belief within +-3 % of the likeliest tempo
NEXT_GAP_S = 2.0  # onsets further apart say nothing about the rhythm from one to the next
NEXT_WEIGHT = 0.3  # how much the next-onset rhythm counts beside the onset's own place (tuned on the training split)
EVENTS_KEPT = 32  # onsets remembered for their note-offs (a note held longer than 32 onsets is not weighed)
MAX_GAP_S = 4.0  # a longer rest spreads the belief no further
HIT_PRIOR = 0.5  # before any drum hit: the pads keep time, or are struck anywhere, as likely (`hit`)
HIT_FORGET = 0.1  # at each hit this share of that belief goes back to the prior: a player who struck
# pads now and then and starts a groove is followed within a few hits
PADS_RECENT_S = 4.0  # a note within this long of a pad hit counts less as the pads keep time (`_note_weight`)
STALE_BEATS = 32.0  # confidence halves every this many beats without an onset


@dataclass(frozen=True)
class TempoSettings:
    """How the follower listens.

    Attributes:
        min_bpm, max_bpm: the tempi it considers.
        first_guess: a tempo to expect (bpm), e.g. `--tempo`; None: no guess.
        guess_weight: the share of the prior on the first guess (the rest is broad).
        guess_spread: how far off the guess may be, in log tempo (0.04 = about 4 %).
        drift: how fast the tempo may wander, in log tempo per square root of a second.
        phase_drift: how far the beat may drift, in beats per square root of a second.
        forget: the share of the prior mixed back at every onset, so that a wrong lock is
            let go when the player's notes stop fitting it.
    """

    min_bpm: float = 45.0
    max_bpm: float = 320.0
    first_guess: float | None = None
    guess_weight: float = 0.7
    guess_spread: float = 0.04
    drift: float = 0.008
    phase_drift: float = 0.03
    forget: float = 1e-3

    def __post_init__(self) -> None:
        if not 0 < self.min_bpm < self.max_bpm:
            raise ValueError(f"tempo range must be 0 < min_bpm < max_bpm, got {self.min_bpm:g}..{self.max_bpm:g}")
        if self.first_guess is not None and not self.min_bpm <= self.first_guess <= self.max_bpm:
            raise ValueError(f"first guess {self.first_guess:g} bpm is outside {self.min_bpm:g}..{self.max_bpm:g} "
                             "bpm: give a tempo in that range")
        if not 0.0 <= self.guess_weight <= 1.0 or self.guess_spread <= 0:
            raise ValueError("guess_weight must be 0..1 and guess_spread > 0")
        if self.drift < 0 or self.phase_drift < 0 or not 0.0 <= self.forget < 1.0:
            raise ValueError("drift and phase_drift must be >= 0, forget 0..1")


@dataclass(frozen=True)
class BeatEstimate:
    """What the follower hears: a tempo, where a beat falls, how sure it is.

    Attributes:
        bpm: beats per minute.
        beat_time_s: the time of a beat (seconds, the onsets' clock): the phase.
        confidence: 0 (nothing heard) .. 1 (every onset agrees).
    """

    bpm: float
    beat_time_s: float
    confidence: float

    @property
    def period_s(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.bpm

    def beats_since(self, t_s: float) -> float:
        """Beats from `beat_time_s` to `t_s` on this estimate's grid (whole at every beat).
        Inverse: `time_of`."""
        return (t_s - self.beat_time_s) / self.period_s

    def time_of(self, beats: float) -> float:
        """Seconds of the grid position `beats` after `beat_time_s`. Inverse: `beats_since`."""
        return self.beat_time_s + beats * self.period_s

    def next_beat(self, t_s: float) -> float:
        """The first beat of the grid at or after `t_s`, seconds."""
        return self.time_of(math.ceil(self.beats_since(t_s) - 1e-9))


class TempoFollower:
    """Tempo and beat phase from the player's onsets (see the module docstring).

    Not thread-safe: feed it from one thread.

    Args:
        settings: range, first guess, how freely it follows.
        template: where onsets fall within a beat (default: the learned one shipped in
            improv/data).
    """

    def __init__(self, settings: TempoSettings | None = None, template: OnsetTemplate | None = None) -> None:
        self.settings = s = settings or TempoSettings()
        self.bpm = np.exp(np.arange(math.log(s.min_bpm), math.log(s.max_bpm) + 1e-9, TEMPO_STEP))
        self.period = 60.0 / self.bpm
        self._rows = len(self.bpm)
        centres = (np.arange(PHASE_BINS) + 0.5) / PHASE_BINS
        template = template or OnsetTemplate.load()
        self._like = template.density(self.bpm, centres)
        self._like_step = np.roll(self._like, -1, axis=1) - self._like  # to read it between bin centres
        self._hit = template.hit_density(self.bpm, centres)  # a drum pad's hit (`hit`)
        self._hit_step = np.roll(self._hit, -1, axis=1) - self._hit
        self._next = template.next_onset.density ** NEXT_WEIGHT
        self._next_row = (np.arange(PHASE_BINS) * template.next_onset.density.shape[0]) // PHASE_BINS
        self._length = template.note_length.ratio
        log_bpm = np.log(self.bpm)
        prior = np.exp(-0.5 * ((log_bpm - math.log(GENERIC_BPM)) / GENERIC_SPREAD) ** 2)
        prior /= prior.sum()
        if s.first_guess is not None:
            guess = np.exp(-0.5 * ((log_bpm - math.log(s.first_guess)) / s.guess_spread) ** 2)
            prior = (1 - s.guess_weight) * prior + s.guess_weight * guess / guess.sum()
        self._prior = np.repeat(prior[:, None] / PHASE_BINS, PHASE_BINS, axis=1)
        self._bins = np.arange(PHASE_BINS)
        self.reset()

    def reset(self) -> None:
        """Forget every onset heard (back to the prior)."""
        self._post = self._prior.copy()
        self._offset = np.zeros(self._rows)  # row k's bin j is at phase (j + 0.5 + offset[k]) / PHASE_BINS
        self._last: float | None = None
        self._events: deque[float] = deque(maxlen=EVENTS_KEPT)  # recent onsets, for their note-offs
        self._released_events: deque[float] = deque(maxlen=EVENTS_KEPT)
        self._pitches: deque[tuple[float, int]] = deque(maxlen=3)  # the last three onsets' (time, key)
        self._trilled: deque[float] = deque(maxlen=EVENTS_KEPT)  # onsets not heard: a trill's
        self._after_hit = False  # the last onset heard was a drum hit: no note's rhythm from it
        self._last_hit: float | None = None  # when the last drum hit was heard
        self.pads_in_time = HIT_PRIOR  # how likely it is that the player's pads keep time (`hit`)
        self.onsets = 0  # onsets heard (after merging)

    # -- hearing -------------------------------------------------------------------------

    def add(self, onset_s: float, velocity: int = 80, duration_s: float | None = None,
            pitch: int | None = None) -> None:
        """Hear one note: its onset, and its length once known.

        Call it at note-on with no duration, and again at note-off with the same `onset_s`
        and the note's duration: the length then weighs where the onset was (notes on the
        beat are held longer). Given both at once (offline), both count at once.

        Args:
            onset_s: when it began, seconds (the caller's monotonic clock).
            velocity: MIDI velocity; 0 is a note-off and is ignored.
            duration_s: how long it sounded, seconds, or None (not known yet).
            pitch: its MIDI key, or None: a trill's notes after its first two are not heard
                as onsets (a 2 s trill at 14 notes a second moved a line at 100 bpm to
                200, one at 140 to 210, for tens of beats after it).

        Raises:
            ValueError: `onset_s` or `duration_s` is not a finite number.
        """
        if not math.isfinite(onset_s) or (duration_s is not None and not math.isfinite(duration_s)):
            raise ValueError(f"onset and duration must be finite times in seconds, got {onset_s!r}, {duration_s!r}")
        if velocity <= 0:
            return
        if pitch is not None and duration_s is None:
            recent = self._pitches
            trill = len(recent) == 3 and onset_s - recent[0][0] < 3 * TRILL_S \
                and recent[0][1] == recent[2][1] != pitch == recent[1][1]
            recent.append((onset_s, pitch))
            if trill:
                self._trilled.append(onset_s)
                return
        elif duration_s is not None and onset_s in self._trilled:
            return  # (its length says nothing either; heard now, it would be an onset at its release)
        if self._last is not None and onset_s - self._last < MERGE_S:
            # part of an event already heard (a chord, or its note-off): only its length is news
            if duration_s is not None:
                self._released(onset_s, duration_s)
            return
        like = None
        if self._last is not None:
            dt = onset_s - self._last
            before = self._advance(dt)
            if dt <= NEXT_GAP_S and not self._after_hit:  # the rhythm from the last onset: its phase
                like = self._next[self._next_row[before], NextOnset.bin_of(dt / self.period)[:, None]]  # and the gap
        here = self._like + self._offset[:, None] * self._like_step  # at each row's true phases
        self._weigh(here if like is None else here * like, self._note_weight(onset_s))
        self._last, self._after_hit = onset_s, False
        self._events.append(onset_s)
        self.onsets += 1
        if duration_s is not None:
            self._released(onset_s, duration_s)

    def hit(self, onset_s: float, velocity: int = 100) -> None:
        """Hear a drum hit (a pad struck beside the keys): an onset weighed by where a
        drummer's hits fall (`OnsetTemplate.hit_density`: on the beat itself, not behind it
        as a soloist's notes), with no length and no note's rhythm to or from it.

        A player may keep time on the pads, or strike one now and then anywhere (a crash, a
        sample). Both are kept in mind (`pads_in_time`, updated by how well each hit fits
        the beat heard so far): each hit weighs the beat as much as the pads have kept time,
        so a groove is followed closely and stray hits barely move it (validation solos with
        pads made up beside them: `figures/pads_follow.py`).

        Raises:
            ValueError: `onset_s` is not a finite number.
        """
        if not math.isfinite(onset_s):
            raise ValueError(f"a hit's time must be a finite number of seconds, got {onset_s!r}")
        if velocity <= 0 or (self._last is not None and onset_s - self._last < MERGE_S):
            return  # (struck with a note, or a flam: one event)
        if self._last is not None:
            self._advance(onset_s - self._last)
        like = self._hit + self._offset[:, None] * self._hit_step
        p = self.pads_in_time
        fits = float((self._post * like).sum())  # how likely this hit was, were the pads in time (1: anywhere)
        self._weigh(p * like + (1.0 - p))
        p = p * fits / (p * fits + 1.0 - p)
        self.pads_in_time = (1.0 - HIT_FORGET) * p + HIT_FORGET * HIT_PRIOR
        self._last, self._after_hit, self._last_hit = onset_s, True, onset_s
        self.onsets += 1

    def _released(self, onset_s: float, duration_s: float) -> None:
        """Weigh the length of a note whose onset was heard (once per event: a chord's first
        release counts, the others add nothing)."""
        event = next((t for t in reversed(self._events) if abs(t - onset_s) < MERGE_S), None)
        if event is None or event in self._released_events or self._last is None:
            return  # too old to place, or already weighed
        self._released_events.append(event)
        # each state's phase at that onset: its phase now, less the beats since
        now = (self._bins[None, :] + 0.5 + self._offset[:, None]) / PHASE_BINS
        phase = now - (self._last - event) / self.period[:, None]
        rows = (np.floor(phase * self._length.shape[0]).astype(np.int64)) % self._length.shape[0]
        self._weigh(self._length[rows, NoteLength.bin_of(duration_s / self.period)[:, None]], self._note_weight(event))

    def _note_weight(self, onset_s: float) -> float:
        """How much a note heard at `onset_s` counts (the power its likelihood is raised to):
        1, but beside a groove on the pads (a hit within `PADS_RECENT_S`) less, as far as the
        pads have been found to keep time beyond the prior (`pads_in_time`): a drummer's hits
        mark the beat itself, the soloists' notes, whose template the keys are heard by, lag
        behind it and scatter. With keys beside a made-up groove on the training solos, 77.5 %
        of calls were heard right with every note counting, 86.7 % so, against 94.3 % for the
        groove alone; stray hits 39.3 -> 39.0 % (`figures/pads-follow-train*.json`; on the
        validation solos 86.1 -> 91.4 %, `figures/pads-follow.json`)."""
        if self._last_hit is None or onset_s - self._last_hit > PADS_RECENT_S:
            return 1.0
        return 1.0 - min(1.0, max(0.0, (self.pads_in_time - HIT_PRIOR) / (1.0 - HIT_PRIOR)))

    def _weigh(self, like: np.ndarray, weight: float = 1.0) -> None:
        """Multiply the belief by a likelihood (raised to `weight`), normalise, mix a little
        prior back in."""
        post = self._post * (like if weight >= 1.0 else like ** weight)
        total = post.sum()
        if not total > 0 or not math.isfinite(total):  # cannot happen with positive tables; be safe live
            post, total = self._prior.copy(), 1.0
        s = self.settings
        self._post = (1.0 - s.forget) * post / total + s.forget * self._prior

    def _advance(self, dt: float) -> np.ndarray:
        """Carry the belief `dt` seconds on: phases advance, tempo and phase spread.

        Returns:
            For every state, the phase bin it came from (the last onset's phase there).
        """
        s = self.settings
        shift = dt / self.period * PHASE_BINS + self._offset
        whole = np.floor(shift).astype(np.int64)
        self._offset = shift - whole
        index = (self._bins[None, :] - whole[:, None]) % PHASE_BINS
        post = np.take_along_axis(self._post, index, axis=1)
        gap = min(dt, MAX_GAP_S)
        _spread(post, (s.drift / TEMPO_STEP) ** 2 * gap, axis=0)
        _spread(post, (s.phase_drift * PHASE_BINS) ** 2 * gap, axis=1)
        self._post = post
        return index

    # -- reading -------------------------------------------------------------------------

    def estimate(self, now_s: float | None = None) -> BeatEstimate:
        """The tempo and beat heard so far.

        Args:
            now_s: the time to give the beat near (its last beat at or before `now_s`),
                and to judge how stale the estimate is; None: at the last onset.

        Returns:
            With no onset heard: the first guess (or the prior's centre), confidence 0.
        """
        if self._last is None:
            bpm = self.settings.first_guess or GENERIC_BPM
            return BeatEstimate(bpm, now_s if now_s is not None else 0.0, 0.0)
        mass = self._post.sum(axis=1)
        half = max(1, round(TEMPO_WINDOW / TEMPO_STEP))
        windowed = np.convolve(mass, np.ones(2 * half + 1), mode="same")
        k = int(np.argmax(windowed))
        lo, hi = max(0, k - half), min(self._rows, k + half + 1)
        m = mass[lo:hi]
        bpm = float(math.exp((np.log(self.bpm[lo:hi]) * m).sum() / m.sum()))
        # The phase: the peak of the phase belief of those tempi, refined by a circular mean
        # around it (a mean over the whole circle would sit between beat and off-beat).
        rows = self._post[lo:hi]
        peak = int(np.argmax(rows.sum(axis=0)))
        near = (np.arange(peak - PHASE_BINS // 6, peak + PHASE_BINS // 6 + 1)) % PHASE_BINS
        angle = 2 * np.pi * (near[None, :] + 0.5 + self._offset[lo:hi, None]) / PHASE_BINS
        z = (rows[:, near] * np.exp(1j * angle)).sum()
        phase = (float(np.angle(z)) / (2 * np.pi)) % 1.0
        period = 60.0 / bpm
        beat_time = self._last - phase * period
        concentration = float(abs((rows * np.exp(2j * np.pi * (self._bins[None, :] + 0.5 + self._offset[lo:hi, None])
                                                  / PHASE_BINS)).sum()) / m.sum())
        confidence = float(m.sum()) * concentration
        if now_s is not None:
            beat_time += math.floor((now_s - beat_time) / period) * period
            silent = max(0.0, now_s - self._last) / period
            confidence *= 0.5 ** (silent / STALE_BEATS)
        return BeatEstimate(bpm, beat_time, min(1.0, max(0.0, confidence)))


def _spread(a: np.ndarray, variance: float, axis: int) -> None:
    """Blur `a` in place along `axis` by a kernel of `variance` (bins squared), as passes of
    [v/2, 1 - v, v/2] (v <= 0.5); the phase axis wraps around, the tempo axis does not."""
    if variance <= 1e-6:
        return
    passes = min(8, math.ceil(variance / 0.5))
    v = variance / passes
    wrap = axis == 1
    for _ in range(passes):
        if wrap:
            a[:] = (1 - v) * a + 0.5 * v * (np.roll(a, 1, axis=1) + np.roll(a, -1, axis=1))
        else:
            inner = (1 - v) * a[1:-1] + 0.5 * v * (a[:-2] + a[2:])
            first = (1 - 0.5 * v) * a[0] + 0.5 * v * a[1]
            last = (1 - 0.5 * v) * a[-1] + 0.5 * v * a[-2]
            a[1:-1], a[0], a[-1] = inner, first, last
