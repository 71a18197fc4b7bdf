"""Time feel: where a soloist plays a note written on the grid, and back.

The phrase model writes notes on a 12-ticks-a-beat grid (the notation of the Weimar Jazz
Database). Soloists do not play on it: the off-beat eighth sounds later the more they
swing (more at medium tempos than at fast ones), notes sit behind the beat, and every
note strays a little. `FeelModel` holds what was learned from the data's onsets in
seconds against its beat tracks (`improv.train.feel.fit_feel`), per tempo band and per
place in the beat (the 12 ticks):

    played onset = grid onset + mean[band, tick] + lag + swing * [tick is the off-beat eighth]
                   + stray * scale[band, tick] + next_mean[written gap to the next note]

where a note's stray is a unit Laplace of its own plus one that the notes of its beat
share (`rho[0]` of the variance; from beat to beat that one carries over `rho[1]`): notes
in one beat lean the same way, so the gaps between them stray less than their onsets, as
in the data. `next_mean` is what the gap to the next note adds: a note before a fast run
is played early, one before a long note late, so fast notes sound less crowded and the
long gaps less long than written (as played; without it the played gaps strayed more than
the soloists'). A note written to reach the next one (within a tick) lasts a share of the
played gap drawn from the learned quantiles of that share (legato: about 0.9, a few
overlap); any other note written as d ticks lasts a duration drawn from the learned
quantiles of the played durations written so (up to a beat; longer ones stray by half a
tick), cut at the next onset.

`lag` and `swing` hold for a whole phrase: an answer takes them from the call's measured
feel (`follow`, learned from consecutive phrases of the solos) plus its own spread, so a
player who swings hard gets an answer that swings hard. `play` places an answer's notes
so (offsets in beats; order, span and legato kept); `to_grid` is its inverse for reading:
each played onset goes to the most likely grid place (prior x Laplace likelihood), so the
model reads a played call as it would read a transcribed one. All pure numpy; the
parameters travel in the weights file's header (`to_dict` / `from_dict`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from improv.core.theory.notes import Note, Phrase

TICKS = 12  # the grid: ticks a beat (as `improv.core.model.tokens.TICKS_PER_BEAT`)
OFFBEAT = 6  # the off-beat eighth's tick, the one swing moves
MAX_OFFSET = 0.4  # beats: no note moves farther than this from its grid place
MIN_DUR = 0.03  # beats: the shortest played note
MIN_GAP_SHARE = 0.5  # a played gap keeps at least this share of the written one (the data's 5th percentile)
MIN_CALL_NOTES = 3  # a call's lag is followed from this many notes; its swing from 2 off-beat eighths
FOLLOW_PHRASES = 8  # the call and the session's last phrases before it that `measure` pools
NEXT_GAPS = 14  # `next_mean` rows: the written gap to the next note in ticks, 13 = over a beat, 0 = none


def next_gap_class(gap_ticks: int | None) -> int:
    """The `next_mean` row of a note whose next note comes `gap_ticks` later (None: the last)."""
    return 0 if gap_ticks is None or gap_ticks <= 0 else min(int(gap_ticks), NEXT_GAPS - 1)


def _median(xs: np.ndarray) -> float:
    """np.median's value on a short array, without its ~50 us of array machinery per call."""
    return float(statistics.median(xs.tolist()))


@dataclass(frozen=True)
class Feel:
    """A phrase's measured feel (beats): how far behind the learned placement its notes sit
    (`lag`, from `n` notes) and how much later its off-beat eighths (`swing`, from `n_off`)."""

    lag: float = 0.0
    swing: float = 0.0
    n: int = 0
    n_off: int = 0


@dataclass(frozen=True)
class FeelModel:
    """Learned placement of grid notes (see the module docstring).

    Attributes:
        tempo_edges: bpm edges of the tempo bands (len(edges) + 1 bands); row -1 of every
            table pools all tempos (used when the tempo is unknown).
        mean: (bands + 1, 12) mean offset of a note at each tick of the beat, beats.
        scale: (bands + 1, 12) Laplace scale of a note's own stray, beats.
        prior: (bands + 1, 12) how often notes fall on each tick (for `to_grid`).
        lag_sd, swing_sd: (bands + 1,) spread of a phrase's lag and swing, beats.
        follow: (lag, swing) share of the call's measured lag and swing that the answer takes up.
        resid_sd: (lag, swing) spread left around what was taken from the call, beats.
        rho: (share of a stray's variance that the notes of a beat share, correlation of
            that shared part from one beat to the next).
        dur_q: (12, 11) quantiles 0, 0.1, .., 1 of played durations (beats) written as
            1..12 ticks.
        legato_q: (101,) percentiles of played duration / played gap of notes written to
            reach the next onset.
        next_mean: (14,) offset added by the written gap to the next note (`next_gap_class`), beats.
    """

    tempo_edges: tuple[float, ...]
    mean: np.ndarray
    scale: np.ndarray
    prior: np.ndarray
    lag_sd: np.ndarray
    swing_sd: np.ndarray
    follow: tuple[float, float] = (0.0, 0.0)
    resid_sd: tuple[float, float] = (0.0, 0.0)
    rho: tuple[float, float] = (0.0, 0.0)
    dur_q: np.ndarray | None = None
    legato_q: np.ndarray | None = None
    next_mean: np.ndarray | None = None

    # ------------------------------------------------------------ storage

    def to_dict(self) -> dict:
        """JSON-able parameters (the weights header's `feel`)."""
        return {"tempo_edges": list(self.tempo_edges), "mean": self.mean.round(5).tolist(),
                "scale": self.scale.round(5).tolist(), "prior": self.prior.round(6).tolist(),
                "lag_sd": self.lag_sd.round(5).tolist(), "swing_sd": self.swing_sd.round(5).tolist(),
                "follow": list(self.follow), "resid_sd": list(self.resid_sd), "rho": list(self.rho),
                "dur_q": None if self.dur_q is None else self.dur_q.round(4).tolist(),
                "legato_q": None if self.legato_q is None else self.legato_q.round(4).tolist(),
                "next_mean": None if self.next_mean is None else self.next_mean.round(5).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "FeelModel":
        """Inverse of `to_dict` (raises KeyError / ValueError on a malformed dict)."""
        edges = tuple(float(x) for x in d["tempo_edges"])
        rows = len(edges) + 2
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "prior", "lag_sd", "swing_sd")}
        for k in ("mean", "scale", "prior"):
            if arr[k].shape != (rows, TICKS):
                raise ValueError(f"feel {k} has shape {arr[k].shape}, expected {(rows, TICKS)}")
        for k in ("lag_sd", "swing_sd"):
            if arr[k].shape != (rows,):
                raise ValueError(f"feel {k} has shape {arr[k].shape}, expected {(rows,)}")
        if not np.all(arr["scale"] > 0):
            raise ValueError("feel scale must be > 0")
        follow, resid, rho = d.get("follow", (0.0, 0.0)), d.get("resid_sd", (0.0, 0.0)), d.get("rho", (0.0, 0.0))
        dur_q = None if d.get("dur_q") is None else np.asarray(d["dur_q"], dtype=np.float64)
        if dur_q is not None and (dur_q.shape != (TICKS, 11) or np.any(np.diff(dur_q, axis=1) < 0)):
            raise ValueError(f"feel dur_q must be ({TICKS}, 11) rising quantiles, got shape {dur_q.shape}")
        legato_q = None if d.get("legato_q") is None else np.asarray(d["legato_q"], dtype=np.float64)
        if legato_q is not None and (legato_q.shape != (101,) or np.any(np.diff(legato_q) < 0)):
            raise ValueError(f"feel legato_q must be 101 rising percentiles, got shape {legato_q.shape}")
        next_mean = None if d.get("next_mean") is None else np.asarray(d["next_mean"], dtype=np.float64)
        if next_mean is not None and next_mean.shape != (NEXT_GAPS,):
            raise ValueError(f"feel next_mean has shape {next_mean.shape}, expected {(NEXT_GAPS,)}")
        return cls(edges, arr["mean"], arr["scale"], arr["prior"], arr["lag_sd"], arr["swing_sd"],
                   (float(follow[0]), float(follow[1])), (float(resid[0]), float(resid[1])),
                   (float(rho[0]), float(rho[1])), dur_q, legato_q, next_mean)

    def next_offset(self, gap_ticks: int | None) -> float:
        """What a note's written gap to the next note adds to its offset, beats (0 without `next_mean`)."""
        return 0.0 if self.next_mean is None else float(self.next_mean[next_gap_class(gap_ticks)])

    def duration(self, ticks: int, u: float) -> float:
        """A duration written as `ticks` ticks as played (beats), for a uniform draw `u`."""
        if self.dur_q is not None and 1 <= ticks <= TICKS:
            return float(np.interp(u * 10.0, np.arange(11), self.dur_q[ticks - 1]))
        return (ticks + u - 0.5) / TICKS

    def band(self, tempo: float | None) -> int:
        """The table row for a tempo (bpm); None or nonsense -> the pooled row."""
        if tempo is None or not math.isfinite(tempo) or tempo <= 0:
            return len(self.tempo_edges) + 1
        return int(np.searchsorted(np.asarray(self.tempo_edges), tempo, side="right"))

    # ------------------------------------------------------------ reading a played phrase

    def _place(self, xs: np.ndarray, b: int, lag: float, swing: float, widen: float = 1.0) -> np.ndarray:
        """Most likely grid tick (absolute, ints) of each played onset `xs` (beats), the
        strays' scale times `widen`."""
        base = np.floor(xs)[:, None] + np.arange(-1, 2)[None, :]  # (n, 3) candidate beats
        expect = self.mean[b] + lag
        expect = expect + np.where(np.arange(TICKS) == OFFBEAT, swing, 0.0)
        pos = base[:, :, None] + (np.arange(TICKS) / TICKS + expect)[None, None, :]  # (n, 3, 12)
        scale = widen * self.scale[b][None, None, :]
        score = np.log(self.prior[b] + 1e-6)[None, None, :] - np.abs(xs[:, None, None] - pos) / scale - np.log(scale)
        best = score.reshape(len(xs), -1).argmax(1)
        beat, tick = np.divmod(best, TICKS)
        return (base[np.arange(len(xs)), beat] * TICKS).astype(np.int64) + tick

    def measure(self, phrases: Sequence[Phrase], tempo: float | None = None) -> Feel:
        """The feel of played phrases (e.g. a call and the session's last phrases, pooled)
        relative to what the model expects at this tempo: the median stray of the notes
        placed off the off-beat eighth (lag) and of those on it beyond that (swing). The
        notes are placed with twice the learned strays, so that one played far from the
        expected feel (or on the grid) is still placed by the prior."""
        xs = np.array([p.start + n.start for p in phrases for n in p.notes])
        if not len(xs):
            return Feel()
        b = self.band(tempo)
        ticks = self._place(xs, b, 0.0, 0.0, widen=2.0)
        cls = ticks % TICKS
        resid = xs - ticks / TICKS - self.mean[b, cls]
        if self.next_mean is not None:  # (a phrase ends where its notes do: the last of each has no next)
            ends = np.cumsum([len(p.notes) for p in phrases]) - 1
            gaps = np.append(np.diff(ticks), 0)
            gaps[ends] = 0
            resid = resid - self.next_mean[np.clip(gaps, 0, NEXT_GAPS - 1)]
        off = cls == OFFBEAT
        lag = _median(resid[~off]) if np.any(~off) else _median(resid)
        swing = _median(resid[off]) - lag if off.sum() >= 2 else 0.0
        return Feel(lag, swing, int((~off).sum()), int(off.sum()))

    def to_grid(self, phrase: Phrase, tempo: float | None = None, feel: Feel | None = None) -> Phrase:
        """The played phrase as written on the grid (onsets and durations in whole ticks):
        what the model reads. Each onset goes to its likeliest place given the learned
        placement and `feel` (the session's, measured before; None: measured on the
        phrase itself), so a note's place does not depend on the notes after it. Order is
        kept."""
        if not phrase.notes:
            return phrase
        b = self.band(tempo)
        feel = self.measure([phrase], tempo) if feel is None else feel
        xs = np.array([phrase.start + n.start for n in phrase.notes])
        ticks = self._place(xs, b, feel.lag, feel.swing)
        ticks = np.maximum.accumulate(ticks)
        start = ticks[0] / TICKS
        notes = tuple(Note(t / TICKS - start, n.pitch, max(1, round(n.duration * TICKS)) / TICKS, n.velocity)
                      for t, n in zip(ticks, phrase.notes))
        return Phrase(notes, start, max(n.end for n in notes))

    # ------------------------------------------------------------ playing a grid phrase

    def phrase_feel(self, tempo: float | None, call: Feel | None, rng: np.random.Generator) -> tuple[float, float]:
        """(lag, swing) of an answer, beats: what it takes up of the `call`'s measured feel
        (`measure` of the call and the session's last phrases), plus its own spread."""
        b = self.band(tempo)
        lag = swing = 0.0
        lag_sd, swing_sd = float(self.lag_sd[b]), float(self.swing_sd[b])
        if call is not None and call.n >= MIN_CALL_NOTES:
            lag, lag_sd = self.follow[0] * call.lag, self.resid_sd[0]
        if call is not None and call.n_off >= 2:
            swing, swing_sd = self.follow[1] * call.swing, self.resid_sd[1]
        return lag + lag_sd * float(rng.standard_normal()), swing + swing_sd * float(rng.standard_normal())

    def play(self, notes: Sequence[Note], origin: float, length: float, tempo: float | None,
             feel: tuple[float, float], rng: np.random.Generator, amount: float = 1.0) -> list[Note]:
        """Grid notes (starts relative to the answer, which begins at timeline beat
        `origin`) -> the same notes as played, inside [0, `length`) beats (`FeelPlayer`)."""
        player = FeelPlayer(self, origin, length, tempo, feel, rng, amount)
        out = [n for n in map(player.push, notes) if n is not None]
        return out + player.finish()


class FeelPlayer:
    """Plays grid notes one at a time, as they are decoded: `push` a grid note and get the
    one two before it as played (a note's onset depends on the written gap to the next
    note, its end on where that one sounds), `finish` for the last ones.

    Each onset moves by the learned mean of its tick, what its gap to the next note adds,
    the phrase's `feel` (lag, swing) and its own stray, all times `amount` (0 = the
    grid), by at most `MAX_OFFSET`, and stays at or after 0 and before `length`; onsets
    keep their order (a note comes at least `MIN_GAP_SHARE` of its grid gap after the one
    before); durations are drawn as played and end by the next onset.
    """

    def __init__(self, model: FeelModel, origin: float, length: float, tempo: float | None,
                 feel: tuple[float, float], rng: np.random.Generator, amount: float = 1.0) -> None:
        self.m, self.origin, self.length, self.amount = model, origin, length, amount
        self.b = model.band(tempo)
        self.lag, self.swing = feel
        self.rng = rng
        self._waiting: tuple[Note, bool] | None = None  # a grid note whose next one is not known yet
        self._pending: tuple[Note, float, float, float] | None = None  # grid note, played onset, duration, draw
        self._prev_grid = self._prev_played = -math.inf
        self._beat, self._shared = None, 0.0  # the beat of the last note and its shared stray (unit)

    def push(self, note: Note, forced: bool = False) -> Note | None:
        """A grid note (start relative to the answer) -> the one two before it as played, or None.
        A `forced` note (an opening the plan gave) is played as written: its time and length."""
        out = self._place(*self._waiting, note) if self._waiting is not None else None
        self._waiting = (note, forced)
        return out

    def finish(self) -> list[Note]:
        """The notes pushed and not yet given, as played (none if none is left)."""
        out = []
        if self._waiting is not None:
            placed = self._place(*self._waiting, None)
            self._waiting = None
            if placed is not None:
                out.append(placed)
        last = self._finish(None, None)
        self._pending = None
        return out + ([last] if last is not None else [])

    def _place(self, note: Note, forced: bool, nxt: Note | None) -> Note | None:
        """Place `note` (the next grid note after it is `nxt`, None if none): it becomes the
        pending one, and the one pending before it is returned as played."""
        if forced:
            s = max(note.start, self._prev_played + MIN_GAP_SHARE * (note.start - self._prev_grid)) \
                if self._pending is not None else note.start
            if s >= self.length - 1e-3:
                return None
            out = self._finish(note, s)
            self._pending = (note, s, note.duration, -1.0)  # (u < 0: as written, see _finish)
            self._prev_grid, self._prev_played = note.start, s
            return out
        m, b = self.m, self.b
        tick = int(round((self.origin + note.start) * TICKS)) % TICKS
        beat = (int(round((self.origin + note.start) * TICKS)) + 1) // TICKS  # a tick early: the next beat's
        share, carry = m.rho
        unit = 1.0 / math.sqrt(2.0)  # a Laplace of unit variance
        if beat != self._beat:
            keep = carry if self._beat is not None and beat == self._beat + 1 else 0.0
            self._shared = keep * self._shared + math.sqrt(1.0 - keep * keep) * float(self.rng.laplace(0.0, unit))
            self._beat = beat
        own = float(self.rng.laplace(0.0, unit))
        stray = math.sqrt(2.0) * m.scale[b, tick] * (math.sqrt(share) * self._shared + math.sqrt(1.0 - share) * own)
        u = float(self.rng.uniform())
        grid_ticks = max(1, int(round(note.duration * TICKS)))
        dur = note.duration + (m.duration(grid_ticks, u) - grid_ticks / TICKS) * self.amount
        gap = None if nxt is None else int(round((nxt.start - note.start) * TICKS))
        off = m.mean[b, tick] + m.next_offset(gap) + self.lag + (self.swing if tick == OFFBEAT else 0.0) + stray
        s = note.start + min(MAX_OFFSET, max(-MAX_OFFSET, off * self.amount))
        if self._pending is not None:
            s = max(s, self._prev_played + MIN_GAP_SHARE * (note.start - self._prev_grid))
        s = max(s, 0.0)
        if s >= self.length - 1e-3:  # played past the answer's end: the note is left out
            return None
        out = self._finish(note, s)
        self._pending = (note, s, dur, u)
        self._prev_grid, self._prev_played = note.start, s
        return out

    def _finish(self, nxt: Note | None, nxt_played: float | None) -> Note | None:
        if self._pending is None:
            return None
        note, s, dur, u = self._pending
        end = s + dur
        if u < 0:  # as written: only cut where the next note sounds (a line does not overlap itself)
            if nxt_played is not None and nxt_played > s:
                end = min(end, nxt_played)
        elif nxt is not None and nxt_played is not None and self.amount > 0 and nxt_played > s:
            legato = note.duration >= nxt.start - note.start - 1.0 / TICKS - 1e-9
            if legato and self.m.legato_q is not None:
                share = float(np.interp(u * 100.0, np.arange(101), self.m.legato_q))
                end = s + (1.0 + (share - 1.0) * self.amount) * (nxt_played - s)
            else:
                end = min(end, nxt_played)  # a line does not overlap itself
        end = min(end, self.length)
        return Note(float(s), note.pitch, float(max(MIN_DUR, end - s)), note.velocity)
