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
from typing import Callable

import mido

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


class PlayerHearing:
    """The player's notes, as the following timeline hears them (conductor).

    Args:
        timeline: the session's following timeline.
        bar_one: the first note heard sets bar 1 (beat 0) of the chart.
        on_bar_one: called with the first note's time when it set bar 1.
        on_tempo: called with (bpm, time) when the tempo heard moves by more than 1 %.
    """

    def __init__(self, timeline: FollowingTimeline, bar_one: bool, on_bar_one: Callable[[float], None],
                 on_tempo: Callable[[float, float], None]) -> None:
        self.timeline, self.bar_one = timeline, bar_one
        self._on_bar_one, self._on_tempo = on_bar_one, on_tempo
        self._held: dict[int, tuple[float, int]] = {}  # pitch -> (onset seconds, velocity)

    def hear(self, msg: mido.Message, t: float) -> None:
        """A player's message that arrived at `t` seconds."""
        tl = self.timeline
        if msg.type == "note_on" and msg.velocity > 0:
            self._held[msg.note] = (t, msg.velocity)
            if self.bar_one:  # the first note of the jam is bar 1 of the chart
                self.bar_one = False
                tl.t0 = t
                tl.heard(t, msg.velocity)
                self._on_bar_one(t)
                return
            before = tl.tempo
            tl.heard(t, msg.velocity)
            if abs(tl.tempo / before - 1.0) > 0.01:
                self._on_tempo(tl.tempo, t)
        elif msg.type in ("note_on", "note_off") and msg.note in self._held:
            onset, vel = self._held.pop(msg.note)
            tl.released(onset, vel, t - onset)
