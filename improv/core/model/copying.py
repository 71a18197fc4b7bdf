"""What the notes so far say the next one could copy: the model's cell-copy features.

Soloists answer themselves with cells of what came before: an interval shape stated,
then varied or sequenced; a rhythm taken up. `CopyIndex` reads the notes of a sequence
(the session so far, the call, the answer so far) one at a time and keeps, for every run
of the last k intervals (k = 1..`pitch_orders`), which interval followed it each time it
occurred, and for every run of the last k onset gaps (k = 1..`shift_orders`) which gap
followed. `features()` gives, for the next note, log(1 + count) per candidate interval
(-24..+24 semitones from the last pitch) and per candidate gap (0..96 ticks): a cell of
the context that the next note would continue. The phrase model weighs them with gates
read from its state (`PhraseModel.pitch_logits` / `shift_logits`), so it learns when to
copy; training and the numpy decoder build them with this one class.

With `pitch_runs`, the index is also the session's own memory of its licks, at their
pitches (the Continuator's idea): `pitch_cache()` is a distribution over the next pitch from
what followed the same run of the last 1..k pitches earlier on, blended from the shortest run
up by PPM's rule (`RUNS_BETA`). Decoding mixes it into the pitch head's distribution
(`CACHE_WEIGHT`), and `improv eval` scores that mixture (models/README.md, "The session's
licks"). The session is longer than the model's window: `PitchRuns` holds the runs of the
pitches played before it (an index reads them as its `before`), so a lick from ten minutes
ago is remembered as well as one from the last phrase.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

from improv.core.model.config import MAX_INTERVAL
from improv.core.model.inputs import ANSWER, CALL
from improv.core.model.tokens import N_SHIFT

N_INTERVALS = 2 * MAX_INTERVAL + 1  # -24..+24
# The session cache of pitch runs: the longest run matched, PPM's weight on the shorter runs'
# estimate, and its share of the next pitch's distribution beside the pitch head's. Chosen
# on the valid split for v2 (models/eval/cache_sweep.py, models/eval/tried-session-cache-valid.json:
# mixed in with weight 0.14-0.16 by half of the solos, it takes 0.029 nat off the pitch's NLL).
CACHE_RUNS, RUNS_BETA, CACHE_WEIGHT = 4, 2.0, 0.15


class PitchRuns:
    """The pitch runs of the session before the model's window, for `CopyIndex(before=...)`:
    how often each pitch was played, and which pitches followed each run of 1..`k` pitches.

    It only grows (`extend`, as the window moves on); an index that reads it must be made
    again after it grew (`ModelResponder` drops what it primed).
    """

    def __init__(self, k: int) -> None:
        self.k, self.n = k, 0
        self.tail: tuple[int, ...] = ()  # the last k pitches
        self.seen = np.zeros(128)
        # run -> {pitch: times after it}, and the run's times (dicts of ints only: the garbage
        # collector does not walk them, as it would tuples holding a dict, one per run)
        self.after: dict[tuple[int, ...], dict[int, int]] = {}
        self.times: dict[tuple[int, ...], int] = {}

    def extend(self, pitches: Iterable[int]) -> None:
        """The next pitches played, in order."""
        last = list(self.tail)
        for p in pitches:
            for k in range(1, min(self.k, len(last)) + 1):
                run = tuple(last[-k:])
                counts = self.after.setdefault(run, {})
                counts[p] = counts.get(p, 0) + 1
                self.times[run] = self.times.get(run, 0) + 1
            last.append(p)
            del last[:-self.k]
            self.seen[p] += 1
            self.n += 1
        self.tail = tuple(last)


# The most notes of the session `SessionRuns` keeps (hours of playing); past it they are
# built again from the phrases the partner still remembers.
SESSION_NOTES = 1 << 16


class SessionRuns:
    """The `PitchRuns` of a session's phrases before the model's window, kept as the window
    moves on (`ModelResponder` asks at each read of the session).

    They grow from the last ones when the session only went on, the phrases compared by
    identity (the first may have left the partner's memory since: the runs keep them, up
    to `SESSION_NOTES`). When the window reaches back a phrase or two further than last
    time (a resumed call's answer leaves out the phrase it resumes, an answer never played
    is forgotten), they stay as they are: those phrases count twice, rather than the
    session's runs be lost. Built afresh otherwise (bars counted again, another session).
    """

    def __init__(self) -> None:
        self._phrases: tuple = ()  # the phrases read into `_runs`, in order
        self._runs: PitchRuns | None = None

    def before(self, earlier: tuple, k: int, pitches: Callable[[object], Iterable[int]]
               ) -> tuple[PitchRuns | None, bool]:
        """(the runs of the phrases `earlier`, whether they grew): runs of up to `k`
        pitches; `pitches(phrase)`, the pitches a phrase adds, in order."""
        if not earlier:
            return None, False
        last, runs = self._phrases, self._runs
        # where the last phrases go on in these (the memory drops the oldest)
        gone = next((i for i, h in enumerate(last) if h is earlier[0]), None)
        if runs is not None and gone is not None and runs.k == k and runs.n < SESSION_NOTES \
                and all(a is b for a, b in zip(last[gone:], earlier)):
            if len(last) - gone > len(earlier):  # (the window reaches back further: see above)
                return runs, False
            new = earlier[len(last) - gone:]
        else:
            runs, new = PitchRuns(k), earlier
        for h in new:
            runs.extend(pitches(h))
        self._phrases, self._runs = tuple(earlier), runs
        return runs, bool(new)


class CopyIndex:
    """The cells of the notes pushed so far (see the module docstring).

    Args:
        pitch_orders: longest interval run to match (0 = none).
        shift_orders: longest onset-gap run to match (0 = none).
        pitch_runs: longest run of pitches the session cache matches (0 = no cache).
        cache_weight: the cache's share of the next pitch's distribution (`mix_pitch`).
        before: the session's pitch runs before the notes this index reads (the cache only:
            the cells are the model's features, over the notes it reads). Read, never changed.
    """

    def __init__(self, pitch_orders: int, shift_orders: int, pitch_runs: int = 0,
                 cache_weight: float = CACHE_WEIGHT, before: PitchRuns | None = None) -> None:
        self.pk, self.sk, self.rk, self.cache_weight = pitch_orders, shift_orders, pitch_runs, cache_weight
        self.before = before if pitch_runs and before is not None and before.n else None
        self._ivs: list[int] = []
        self._shifts: list[int] = []
        self._last: int | None = None
        self._next_iv: dict[tuple[int, ...], dict[int, int]] = {}
        self._next_shift: dict[tuple[int, ...], dict[int, int]] = {}
        # (with pitch_runs) the pitches pushed, after the last of `before`'s (the runs go on across)
        self._pitches: list[int] = list(self.before.tail[-pitch_runs:]) if self.before is not None else []
        self._n0 = len(self._pitches)
        self._seen = np.zeros(128)
        self._next_pitch: dict[tuple[int, ...], tuple[int, ...]] = {}  # (immutable: a copy shares them)

    def copy(self) -> "CopyIndex":
        """An independent copy (a primed context is shared, answers extend their own)."""
        c = CopyIndex(self.pk, self.sk, self.rk, self.cache_weight, self.before)
        c._ivs, c._shifts, c._last = list(self._ivs), list(self._shifts), self._last
        c._next_iv = {k: dict(v) for k, v in self._next_iv.items()}
        c._next_shift = {k: dict(v) for k, v in self._next_shift.items()}
        if self.rk:
            c._pitches, c._seen = list(self._pitches), self._seen.copy()
            c._next_pitch = dict(self._next_pitch)
        return c

    def push(self, pitch: int, shift: int) -> None:
        """One more note: its MIDI pitch and its shift token (ticks since the previous onset)."""
        if self._last is not None:
            iv = pitch - self._last
            for k in range(1, min(self.pk, len(self._ivs)) + 1):
                counts = self._next_iv.setdefault(tuple(self._ivs[-k:]), {})
                counts[iv] = counts.get(iv, 0) + 1
            self._ivs.append(iv)
        for k in range(1, min(self.sk, len(self._shifts)) + 1):
            counts = self._next_shift.setdefault(tuple(self._shifts[-k:]), {})
            counts[shift] = counts.get(shift, 0) + 1
        self._shifts.append(shift)
        self._last = pitch
        if self.rk:
            self._push_run(pitch)

    def _push_run(self, pitch: int) -> None:
        for k in range(1, min(self.rk, len(self._pitches)) + 1):
            run = tuple(self._pitches[-k:])
            self._next_pitch[run] = self._next_pitch.get(run, ()) + (pitch,)
        self._pitches.append(pitch)
        self._seen[pitch] += 1

    def remember(self, pitches: Iterable[int]) -> None:
        """Pitches played before the notes this index reads (the session cache only): the
        start of a phrase whose end the model's window reads."""
        if self.rk:
            for p in pitches:
                self._push_run(p)

    def extend(self, notes: Iterable[tuple[int, int]]) -> None:
        """Push (pitch, shift) pairs in order."""
        for p, s in notes:
            self.push(p, s)

    def read(self, steps: Iterable) -> None:
        """Push the notes among the model's steps (`improv.core.model.inputs`), in order: the
        call's and the answers' (the history's phrases are read as calls and answers too)."""
        self.extend((s[2], s[1]) for s in steps if s[0] in (CALL, ANSWER))

    def pitch_features(self, out: np.ndarray | None = None) -> np.ndarray:
        """(pitch_orders, 49) log(1 + times each interval -24..+24 followed the last k intervals)."""
        f = np.zeros((self.pk, N_INTERVALS), dtype=np.float32) if out is None else out
        # (math.log1p: numpy's call on one Python int costs a microsecond, every note decoded)
        for k in range(1, min(self.pk, len(self._ivs)) + 1):
            for iv, n in self._next_iv.get(tuple(self._ivs[-k:]), {}).items():
                if -MAX_INTERVAL <= iv <= MAX_INTERVAL:
                    f[k - 1, iv + MAX_INTERVAL] = math.log1p(n)
        return f

    def shift_features(self, out: np.ndarray | None = None) -> np.ndarray:
        """(shift_orders, 97) log(1 + times each onset gap 0..96 ticks followed the last k gaps)."""
        f = np.zeros((self.sk, N_SHIFT), dtype=np.float32) if out is None else out
        for k in range(1, min(self.sk, len(self._shifts)) + 1):
            for s, n in self._next_shift.get(tuple(self._shifts[-k:]), {}).items():
                if 0 <= s < N_SHIFT:
                    f[k - 1, s] = math.log1p(n)
        return f

    def pitch_cache(self) -> np.ndarray | None:
        """(128,) the session cache's distribution over the next MIDI pitch (see the module
        docstring), or None with no cache or no note yet: the pitches seen (each with a
        128th of a count more, so none is impossible), then for k = 1.. while the last k
        pitches ran so before, p = (what followed them + RUNS_BETA p) / (their times + RUNS_BETA)."""
        before = self.before
        n = len(self._pitches) - self._n0 + (before.n if before is not None else 0)
        if not self.rk or not n:
            return None
        if before is None:
            p = (self._seen + 1.0 / 128) / (n + 1.0)
        else:
            p = (self._seen + before.seen + 1.0 / 128) / (n + 1.0)
        for k in range(1, min(self.rk, n) + 1):
            run = tuple(self._pitches[-k:])  # (`before`'s last pitches begin the list)
            after = self._next_pitch.get(run, ())
            earlier = before.after.get(run) if before is not None else None
            times = len(after) + (before.times[run] if earlier is not None else 0)  # type: ignore[union-attr]
            if not times:
                break
            share = 1.0 / (times + RUNS_BETA)
            p *= RUNS_BETA * share
            if earlier is not None:
                for q, c in earlier.items():
                    p[q] += c * share
            for q in after:
                p[q] += share
        return p

    def mix_pitch(self, logits: np.ndarray) -> np.ndarray:
        """The pitch head's logits (128,) as the log of its distribution mixed with the
        session cache's: log((1 - cache_weight) softmax(logits) + cache_weight pitch_cache());
        the logits as they are with no cache (or no note yet)."""
        cache = self.pitch_cache()
        if cache is None or self.cache_weight <= 0:
            return logits
        p = np.exp(logits - logits.max())
        p *= (1.0 - self.cache_weight) / p.sum()
        return np.log(p + self.cache_weight * cache)

    def mixed_prob(self, p_head: float, pitch: int) -> float:
        """`pitch`'s probability under `mix_pitch`'s mixture, from the pitch head's `p_head`
        (scoring reads one pitch a note: `improv.train.scoring.score_parts`)."""
        cache = self.pitch_cache()
        if cache is None or self.cache_weight <= 0:
            return p_head
        return (1.0 - self.cache_weight) * p_head + self.cache_weight * float(cache[pitch])
