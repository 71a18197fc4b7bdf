"""The session's timeline when it follows the player: improv finds the tempo and the beat in
what they play and puts its answers on their beat, at their tempo.

Only in the free jam, and only when nothing else leads (no external clock, no click, comping
or bass, no MIDI clock sent out): then the player is the band. `[timing] follow = false` (or
`--no-follow`) keeps improv's own tempo. `--tempo` (or a tune's tempo) is the follower's
first guess, not a constraint.

Each note the player plays is heard by the `TempoFollower` (improv/core/listen/tempo.py) at
its arrival time and, when released, with its length; after each onset the timeline is
re-anchored on the follower's estimate at that instant (`PlayerTimeline.follow`: the beat
at now never moves, so nothing heard or scheduled jumps; the phase is made up over two of
the player's beats). Answers stay in beats until half a beat before they sound, so they
land on the beat the follower hears then. With a chart, the player's first note can set
bar 1 (`[timing] bar_one = "first_note"`).

Threads: `heard`, `released` and `follow` on the conductor; `beat_at`/`time_of` on any
(the partner's receiving thread, the schedulers' feeders) under a lock.
"""

from __future__ import annotations

import threading

from improv.core.listen.tempo import BeatEstimate, TempoFollower, TempoSettings
from improv.core.listen.timeline import PlayerTimeline
from improv.core.theory.notes import swing_beats, unswing_beats

MIN_CONFIDENCE = 0.2  # an estimate less sure than this leaves the timeline as it is
HORIZON_BEATS = 2.0  # a phase correction is spread over this many of the player's beats


class FollowingTimeline:
    """Timeline beats on the player's beat (thread-safe reads), swing applied within each
    beat as on improv's own `FixedTimeline`.

    Args:
        t0: the time of beat 0 until the player is heard, seconds.
        tempo: the tempo until then, bpm.
        swing: long:short ratio of eighth pairs.
        guess: the follower's first guess (bpm), or None for none.
    """

    def __init__(self, t0: float, tempo: float, swing: float = 1.0, guess: float | None = None) -> None:
        self.swing = swing
        self.follower = TempoFollower(TempoSettings(first_guess=guess))
        self.estimate: BeatEstimate | None = None  # the last one followed
        self._start_tempo = tempo
        self._tl = PlayerTimeline(t0, tempo, HORIZON_BEATS)
        self._lock = threading.Lock()

    @property
    def t0(self) -> float:
        with self._lock:
            return self._tl.time_of(0.0)

    @t0.setter
    def t0(self, t: float) -> None:
        """Start over: beat 0 at `t` seconds, at the current tempo (the session's start, bar 1
        on the player's first note)."""
        with self._lock:
            self._tl = PlayerTimeline(t, self._tl.tempo, HORIZON_BEATS)

    @property
    def tempo(self) -> float:
        with self._lock:
            return self._tl.tempo

    def time_of(self, beat: float) -> float:
        with self._lock:
            return self._tl.time_of(swing_beats(beat, self.swing))

    def beat_at(self, t: float) -> float:
        with self._lock:
            return unswing_beats(self._tl.beat_at(t), self.swing)

    def set_tempo(self, tempo: float, now: float) -> None:
        """A tapped tempo: from `now` on (the follower is told too, as its new guess)."""
        with self._lock:
            self._tl.set_tempo(tempo, now)
        self.follower = TempoFollower(TempoSettings(first_guess=tempo))

    # --- hearing the player (conductor) --------------------------------------------------
    def heard(self, onset: float, velocity: int) -> bool:
        """A note began at `onset` seconds: hear it, and re-anchor on what is heard now.
        Returns whether the timeline moved."""
        self.follower.add(onset, velocity)
        return self.follow(onset)

    def released(self, onset: float, velocity: int, duration: float) -> None:
        """The note that began at `onset` lasted `duration` seconds (notes on the beat last)."""
        self.follower.add(onset, velocity, duration)

    def follow(self, now: float) -> bool:
        est = self.follower.estimate(now)
        if est.confidence < MIN_CONFIDENCE:
            return False
        self.estimate = est
        with self._lock:
            before = self._tl.tempo
            ahead = self._tl.follow(est, now)
            return ahead != 0.0 or self._tl.tempo != before
