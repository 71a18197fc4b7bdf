"""A timeline that follows the player: timeline beats <-> seconds, re-anchored on each new
estimate of their beat, never jumping.

The session keeps everything musical in timeline beats (calls, answers, the chart) and
plays it in seconds. With a fixed tempo the map is a line; following the player it is a
chain of lines (`Segment`s), one per re-anchoring. `follow(estimate, now)` keeps the beat
at `now` where it is (nothing already heard or played moves), then bends the rate so that
`horizon` of the player's beats later the timeline's whole beats fall on the player's
beats, and goes on at their tempo. The map stays continuous and increasing, so
`beat_at` and `time_of` stay inverses and a note placed in beats keeps its order.

Pure and not thread-safe: the live engine holds a lock around it, as around its fixed
timeline.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from improv.core.listen.tempo import BeatEstimate

MAX_SEGMENTS = 256  # re-anchorings kept; beats before the oldest are read on its line
SETTLED_BEATS = 0.005  # a phase difference under this, at a tempo within SETTLED_RATE, changes nothing
SETTLED_RATE = 0.001


@dataclass(frozen=True, slots=True)
class Segment:
    """From `time` (seconds) on, the timeline is at `beat` and moves `rate` beats a second."""

    time: float
    beat: float
    rate: float


class PlayerTimeline:
    """Timeline beats on the player's beat.

    Args:
        t0: the time of timeline beat 0, seconds.
        tempo: the tempo until the first `follow`, bpm.
        horizon: beats over which a phase correction is spread (>= 1; 2 bends the rate by
            at most 25 %, for a correction of half a beat).
    """

    def __init__(self, t0: float, tempo: float, horizon: float = 2.0) -> None:
        if not tempo > 0 or horizon < 1.0:
            raise ValueError(f"tempo must be > 0 and horizon >= 1 beat, got {tempo:g} bpm and {horizon:g}")
        self.horizon = horizon
        self._segs: list[Segment] = []
        self._times: list[float] = []
        self._beats: list[float] = []
        self._push(Segment(float(t0), 0.0, tempo / 60.0))

    @property
    def tempo(self) -> float:
        """The tempo the timeline is heading for (the last segment's), bpm."""
        return self._segs[-1].rate * 60.0

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(self._segs)

    def beat_at(self, t: float) -> float:
        """Timeline beat at `t` seconds. Inverse: `time_of`."""
        i = max(0, bisect_right(self._times, t) - 1)
        s = self._segs[i]
        return s.beat + (t - s.time) * s.rate

    def time_of(self, beat: float) -> float:
        """Seconds of timeline `beat`. Inverse: `beat_at`."""
        i = max(0, bisect_right(self._beats, beat) - 1)
        s = self._segs[i]
        return s.time + (beat - s.beat) / s.rate

    def set_tempo(self, tempo: float, now: float) -> None:
        """Go on at `tempo` bpm from `now`, the beat at `now` kept (a tapped tempo)."""
        if not tempo > 0:
            raise ValueError(f"tempo must be > 0, got {tempo:g}")
        b_now = self.beat_at(now)
        self._cut(now)
        self._push(Segment(now, b_now, tempo / 60.0))

    def follow(self, estimate: BeatEstimate, now: float) -> float:
        """Re-anchor on the player's beat from `now` on.

        The timeline's beat at `now` stays; its nearest whole-beat grid is matched to the
        estimate's grid and the phase difference is made up over `horizon` beats.

        Args:
            estimate: the follower's tempo and beat (`TempoFollower.estimate(now)`).
            now: the current time, seconds.

        Returns:
            The phase correction in beats (positive: the timeline was ahead and slows).
            An estimate that agrees with the timeline (within `SETTLED_BEATS` and
            `SETTLED_RATE`) adds nothing.
        """
        b_now = self.beat_at(now)
        period = estimate.period_s
        ahead = (b_now - estimate.beats_since(now) + 0.5) % 1.0 - 0.5  # the timeline's lead, beats
        rate = 1.0 / period
        last = self._segs[-1]
        if last.time <= now and abs(ahead) < SETTLED_BEATS and abs(last.rate * period - 1.0) < SETTLED_RATE:
            return ahead
        self._cut(now)
        h = self.horizon
        if abs(ahead) < SETTLED_BEATS:
            self._push(Segment(now, b_now, rate))
        else:
            # over h of the player's beats the timeline covers h - ahead beats, then goes on at their rate
            self._push(Segment(now, b_now, (h - ahead) / (h * period)))
            self._push(Segment(now + h * period, b_now + h - ahead, rate))
        return ahead

    def _cut(self, now: float) -> None:
        """Drop the segments that start after `now` (a re-anchoring replaces the future)."""
        while len(self._segs) > 1 and self._segs[-1].time > now:
            self._segs.pop()
            self._times.pop()
            self._beats.pop()

    def _push(self, seg: Segment) -> None:
        if self._segs and seg.time <= self._segs[-1].time:  # same instant: the new one replaces it
            self._segs.pop()
            self._times.pop()
            self._beats.pop()
        self._segs.append(seg)
        self._times.append(seg.time)
        self._beats.append(seg.beat)
        if len(self._segs) > MAX_SEGMENTS:
            del self._segs[0], self._times[0], self._beats[0]
