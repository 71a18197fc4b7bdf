"""The session's timeline when it follows the player: improv finds the tempo and the beat in
what they play and puts its answers on their beat, at their tempo.

Only in the free jam, and only when nothing else leads (no external clock, no click, comping
or bass, no MIDI clock sent out): then the player is the band. `[timing] follow = false` (or
`--no-follow`) keeps improv's own tempo. `--tempo` (or a tune's tempo) is the follower's
first guess, not a constraint.

Each note the player plays is heard by the `TempoFollower` (improv/core/listen/tempo.py) at
its arrival time and, when released, with its length (a drum pad's hit as a hit, with none);
after each onset the timeline is re-anchored on the follower's estimate at that instant
(`PlayerTimeline.follow`: the beat at now never moves, so nothing heard or scheduled jumps;
the phase is made up over two of the player's beats). Answers stay in beats until half a
beat before they sound, so they land on the beat the follower hears then. With a chart, the
player's first note can set bar 1 (`[timing] bar_one = "first_note"`), and the tempo said
keeps the level the chart's bars are counted at (`FollowingTimeline._level_kept`); with none
said, a tempo heard at double or half the one followed is taken back to it (`_octave_kept`).

Threads: `heard`, `released` and `follow` on the conductor; `beat_at`/`time_of` on any
(the partner's receiving thread, the schedulers' feeders) under a lock.
"""

from __future__ import annotations

import math
import threading
from typing import Callable

import mido

from improv.core.listen.tempo import STALE_BEATS, BeatEstimate, TempoFollower, TempoSettings
from improv.core.listen.timeline import PlayerTimeline
from improv.core.theory.notes import swing_beats, unswing_beats

MIN_CONFIDENCE = 0.2  # an estimate less sure than this leaves the timeline as it is
TEMPO_SAID = 0.005  # the tempo heard is given on (`PlayerHearing.on_tempo`) when it has moved this much
HORIZON_BEATS = 2.0  # a phase correction is spread over this many of the player's beats
FOLLOW_BPM = (TempoSettings.min_bpm, TempoSettings.max_bpm)  # the tempi the follower hears (a first guess too)
RECOUNT_BEATS = 0.5  # bars are counted again from bar 1 when the count is off by this much
RECOUNT_JUMP = 0.25  # a tempo heard this much faster or slower at once (a half or double time
# flip) may have put the count off again
RECOUNT_WITHIN_BARS = 16  # ...in the bars just after bar 1 (of the chart's metre: 48 beats of 3/4): later, a tempo
# that jumps is the player's own change, and the count goes on from the bar it is in
LEVELS = (1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0, 4.0)  # metrical levels a tempo may be heard at
OCTAVES = (1 / 2, 1.0, 2.0)  # with no tempo said, a tempo heard at an octave of the timeline's is taken back to it
KEEP_WITHIN = 0.1  # over a chart, a tempo heard at the timeline's level is followed within this much of it,
LEVEL_EXACT = 0.05  # and one heard at another level taken back to it within this much (a clean multiple)
STRAYS = 32  # estimates in a row neither: the player is elsewhere (said 120, plays 150): followed as heard
BREAK_S = 60.0  # a silence this long (longer than any answer: 8 bars at 45 bpm take 43 s) is a break: the
# next note is heard afresh, from the tempo said (another tune, likely at another tempo)


class FollowingTimeline:
    """Timeline beats on the player's beat (thread-safe reads), swing applied within each
    beat as on improv's own `FixedTimeline`.

    Args:
        t0: the time of beat 0 until the player is heard, seconds.
        tempo: the tempo until then, bpm.
        swing: long:short ratio of eighth pairs.
        guess: the follower's first guess (bpm), or None for none.
        keep_level: the tempo said (`guess`) sets the level the beats (over a chart, its
            bars) are counted at: a tempo heard in double or half time, or 1.5 times off, is
            taken back to the level nearest the tempo the timeline is at (`_level_kept`); a
            tempo tapped counts as said.
        over_chart: the beats count a chart's bars (the start line says how to keep them at
            the player's tempo when none was said); default: `keep_level`.
        keep_octaves: where no level is kept, a tempo heard at double or half the one
            followed is taken back to it (`_octave_kept`); False: followed as heard (the
            benches' engine before it).
    """

    def __init__(self, t0: float, tempo: float, swing: float = 1.0, guess: float | None = None,
                 keep_level: bool = False, over_chart: bool | None = None, keep_octaves: bool = True) -> None:
        self.swing = swing
        self._guess = guess  # the follower's first guess: the tempo said, or tapped
        self._last_heard: float | None = None  # the player's latest onset, seconds
        self.follower = TempoFollower(TempoSettings(first_guess=guess))
        self.estimate: BeatEstimate | None = None  # the last one followed
        self._estimated_at = 0.0  # when it was followed, seconds
        self._over_chart = keep_level if over_chart is None else over_chart
        self._keeps_said = keep_level  # a tempo said, or tapped, sets the level
        self.keep_level = keep_level and guess is not None
        self._strays = 0  # estimates in a row `_level_kept` left out
        self.keep_octaves = keep_octaves
        self._heard_since_break = False  # a tempo was followed since the start (or a break): its octaves are kept
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
        """A tapped tempo: from `now` on (the follower is told too, as its new guess: a tap
        slower or faster than it hears, down to tap tempo's 30 bpm, by the octave it hears it
        in; a 40 bpm tap was refused as a guess, a traceback from the conductor). What was
        heard before it is forgotten: a recount on it put the timeline back at the tempo the
        player had tapped away from (90 tapped to 140: bars counted again at 90, then the
        140 played taken back to 93, its 2/3 level, for the rest of the jam)."""
        with self._lock:
            self._tl.set_tempo(tempo, now)
            self.estimate = None
        guess = tempo
        while guess < FOLLOW_BPM[0]:
            guess *= 2.0
        while guess > FOLLOW_BPM[1]:
            guess /= 2.0
        self._guess = guess
        self.follower = TempoFollower(TempoSettings(first_guess=guess))
        self.keep_level = self._keeps_said

    def points_between(self, after: float, until: float) -> list[tuple[float, float]]:
        """(seconds, beat) of each point where the timeline's beat turns (a tempo heard, or a
        phase made up over `HORIZON_BEATS`) after `after` and by `until` seconds, then its beat
        at `until`, in order: its beat is a line between them. For the recording's tempo map
        (improv/core/formats/tempofit.py), so that the file counts the beats the session
        counts; straight beats (swing moves the eighths within a beat, not the count)."""
        out = []
        with self._lock:
            for seg in reversed(self._tl.segments):
                if seg.time <= after:
                    break
                if seg.time <= until:
                    out.append((seg.time, seg.beat))
            out.reverse()
            out.append((until, self._tl.beat_at(until)))
        return out

    def sure_at(self, now: float) -> float:
        """How sure the tempo followed is at `now` seconds, 0..1 (-1: none followed yet): the
        estimate's confidence, halved every `STALE_BEATS` of its beats since the note it was
        followed at, as the follower's own estimate fades in a silence, and nothing after a
        break: `BREAK_S` forgets it (the next note is heard afresh; the notes after a break
        renew it only once they are followed). The status line said "82% sure" through any
        silence: the confidence at the last note, however old."""
        est, last = self.estimate, self._estimated_at
        if est is None:
            return -1.0
        silent_s = max(0.0, now - last)
        if silent_s >= BREAK_S:
            return 0.0
        return est.confidence * 0.5 ** (silent_s * est.bpm / 60.0 / STALE_BEATS)

    @property
    def level_hint(self) -> str:
        """For the start line: over a chart with no tempo said, how to keep the chart's bars
        at the player's tempo (else "")."""
        return "; say yours with --tempo to keep the chart's bars at it" if self._over_chart and not self.keep_level \
            else ""

    # --- hearing the player (conductor) --------------------------------------------------
    def heard(self, onset: float, velocity: int, pitch: int | None = None, drum: bool = False) -> bool:
        """A note (key `pitch`; `drum`: a drum pad's hit) began at `onset` seconds: hear it,
        and re-anchor on what is heard now. Returns whether the timeline moved.

        After a break (`BREAK_S` without a note) it is heard afresh: the belief in the tempo
        before it was held through the break as firmly as a tempo said, and a new tune at 100
        bpm after one at 150 was heard at 150 (its 2/3 level) call after call. The timeline
        goes on at its tempo until the new one is heard."""
        if self._last_heard is not None and onset - self._last_heard >= BREAK_S:
            self.follower = TempoFollower(TempoSettings(first_guess=self._guess))
            self._heard_since_break = False
        self._last_heard = onset if self._last_heard is None else max(self._last_heard, onset)
        if drum:
            self.follower.hit(onset, velocity)
        else:
            self.follower.add(onset, velocity, pitch=pitch)
        return self.follow(onset)

    def released(self, onset: float, velocity: int, duration: float) -> None:
        """The note that began at `onset` lasted `duration` seconds (notes on the beat last)."""
        self.follower.add(onset, velocity, duration)

    def follow(self, now: float) -> bool:
        est = self.follower.estimate(now)
        if est.confidence < MIN_CONFIDENCE:
            return False
        with self._lock:
            if self.keep_level:
                kept = self._level_kept(est, now)
                if kept is None:
                    return False
                est = kept
            elif self.keep_octaves and self._heard_since_break:
                est = self._octave_kept(est, now)
            self.estimate, self._estimated_at = est, now
            self._heard_since_break = True
            before = self._tl.tempo
            ahead = self._tl.follow(est, now)
            return ahead != 0.0 or self._tl.tempo != before

    def _level_kept(self, est: BeatEstimate, now: float) -> BeatEstimate | None:
        """`est` at the timeline's metrical level, or None to leave the timeline as it is
        (under the lock).

        Over a chart the chart's bars are the player's: a soloist heard in double time (a
        114 bpm blues heard at 224) had the chart's changes go by twice as fast as they
        played them, although they had said 114. An estimate near the timeline's tempo (the
        tempo said, then the tempo followed since: within `KEEP_WITHIN`) is followed; one a
        clean multiple of it (`LEVELS`, within `LEVEL_EXACT`) is taken back to it, its grid
        keeping the heard beat nearest the timeline's own whole beat, so the count goes on;
        any other is left out (a 100 bpm line heard at 138, 1.38 times: scaled by 2/3 it
        dragged the timeline to 92, and a double-time reading at 203 then no longer looked
        like one). `STRAYS` left out in a row: the player plays elsewhere than said, and is
        followed as heard."""
        ref = self._tl.tempo
        level = min(LEVELS, key=lambda x: abs(math.log(est.bpm * x / ref)))
        if abs(est.bpm * level / ref - 1.0) > (KEEP_WITHIN if level == 1.0 else LEVEL_EXACT):
            self._strays += 1
            if self._strays < STRAYS:
                return None
            level = 1.0
        self._strays = 0
        return est if level == 1.0 else self._at_level(est, level, now)

    def _octave_kept(self, est: BeatEstimate, now: float) -> BeatEstimate:
        """With no tempo said, once the player's tempo is followed: `est` taken back to the
        timeline's level when it is a clean octave of it (double or half, within
        `LEVEL_EXACT`), else as heard (under the lock).

        Both octaves put the answer on the player's beats, but the answers jumped between
        the player's time and double time from one call to the next. Other levels (1.5
        times the tempo heard) are followed: one may be the timeline's own wrong reading
        corrected (keeping every level, as `_level_kept` does for a tempo said, halved the
        changes on the training solos but kept wrong first readings: 1-3 points fewer calls
        right). The timeline judged at each call (`figures/follow_timeline.py`), training
        solos, where this was chosen: right 40.1 -> 40.0 %, the level changing between calls
        13.3 -> 11.1 %; validation solos: 53.8 -> 54.0 %, 11.3 -> 10.5 %."""
        ref = self._tl.tempo
        level = min(OCTAVES, key=lambda x: abs(math.log(est.bpm * x / ref)))
        if level == 1.0 or abs(est.bpm * level / ref - 1.0) > LEVEL_EXACT:
            return est
        return self._at_level(est, level, now)

    def _at_level(self, est: BeatEstimate, level: float, now: float) -> BeatEstimate:
        """`est` at `level` times its tempo, its grid keeping the heard beat nearest the
        timeline's own whole beat, so the count goes on (under the lock)."""
        mine = self._tl.time_of(round(self._tl.beat_at(now)))  # the timeline's whole beat nearest now
        anchor = est.time_of(round(est.beats_since(mine)))  # the heard beat nearest it
        return BeatEstimate(est.bpm * level, anchor, est.confidence)

    def recount(self, origin: float, now: float) -> Callable[[float], float] | None:
        """Count the beats again from `origin` (seconds: the player's bar 1, beat 0) on the
        beat the follower hears now, when the running count has come off it (the first
        calls heard at the first guess's tempo, or a tempo flip). The timeline is rebuilt:
        beat 0 on the heard beat nearest `origin`, at the heard tempo. Returns the map from
        the old beats to the new ones (to move what is kept in beats), or None when the
        count is right (or nothing is heard yet).

        Only safe where nothing is kept in beats ahead of `now`: the session calls it at the
        first note of a call, with the partner silent."""
        est = self.estimate
        if est is None:
            return None
        k = round(est.beats_since(origin))
        with self._lock:
            old = self._tl
            count_now = est.beats_since(now) - k
            if abs(count_now - old.beat_at(now)) < RECOUNT_BEATS:
                return None
            new = self._tl = PlayerTimeline(est.time_of(k), est.bpm, HORIZON_BEATS)
        swing = self.swing
        return lambda beat: unswing_beats(new.beat_at(old.time_of(swing_beats(beat, swing))), swing)


class PlayerHearing:
    """The player's notes, as the following timeline hears them (conductor).

    Args:
        timeline: the session's following timeline.
        bar_one: the first note heard sets bar 1 (beat 0) of the chart.
        on_bar_one: called with the first note's time when it set bar 1.
        on_tempo: called with (bpm, time) when the tempo heard has moved by more than
            `TEMPO_SAID` since it was last called (a slow drift too, not only a jump); None:
            nobody asks (the session: the recording's tempo map is fitted to the timeline).
        may_recount: whether the bars may be counted again now (the session: between calls,
            the partner silent); None: never.
        on_recount: called with (map from old beats to new, time) when they were.
        beats_per_bar: the chart's bar, in beats (`RECOUNT_WITHIN_BARS` counts these bars).
    """

    def __init__(self, timeline: FollowingTimeline, bar_one: bool, on_bar_one: Callable[[float], None],
                 on_tempo: Callable[[float, float], None] | None, may_recount: Callable[[], bool] | None = None,
                 on_recount: Callable[[Callable[[float], float], float], None] | None = None,
                 beats_per_bar: int = 4) -> None:
        self.timeline, self.bar_one = timeline, bar_one
        self.beats_per_bar = beats_per_bar
        self._on_bar_one, self._on_tempo = on_bar_one, on_tempo
        self._may_recount, self._on_recount = may_recount, on_recount
        self.origin: float | None = None  # when bar 1 began (the first note), once heard
        self._counting = False  # the count from bar 1 is not yet confirmed on a heard tempo
        self._held: dict[int, tuple[float, int]] = {}  # pitch -> (onset seconds, velocity)
        self._said: float | None = timeline.tempo  # the tempo last given to on_tempo (the first guess)
        self._last_on: float | None = None  # the player's latest note-on, seconds
        self._after_break = False  # a break came since bar 1: its bars are not counted again from there

    def hear(self, msg: mido.Message, t: float, drum: bool = False) -> None:
        """A player's message that arrived at `t` seconds (`drum`: from a drum pad, heard as
        a hit in time, with no key held: `TempoFollower.hit`)."""
        tl = self.timeline
        if msg.type == "note_on" and msg.velocity > 0:
            pitch = None if drum else msg.note
            if not drum:
                self._held[msg.note] = (t, msg.velocity)
            if self.bar_one:  # the first note of the jam is bar 1 of the chart
                self.bar_one = False
                self.origin, self._counting, self._last_on = t, True, t
                tl.t0 = t
                tl.heard(t, msg.velocity, pitch, drum)
                self._on_bar_one(t)
                return
            if self._last_on is not None and t - self._last_on >= BREAK_S:
                # A break: the bars go on from the one they are in. Counted again from bar 1, on the
                # tempo heard after it, they reached back across the silence, where nothing was
                # played to count by: the bars jumped under the player a beat or more, at random.
                self._after_break, self._counting = True, False
            self._last_on = t if self._last_on is None else max(self._last_on, t)
            before = tl.tempo
            tl.heard(t, msg.velocity, pitch, drum)
            if self._said is None or abs(tl.tempo / self._said - 1.0) > TEMPO_SAID:
                self._said = tl.tempo
                if self._on_tempo is not None:
                    self._on_tempo(tl.tempo, t)
            if self.origin is not None and not self._after_break and abs(tl.tempo / before - 1.0) > RECOUNT_JUMP \
                    and tl.beat_at(t) < RECOUNT_WITHIN_BARS * self.beats_per_bar:
                self._counting = True
            self._check_count(t)
        elif msg.type in ("note_on", "note_off") and not drum and msg.note in self._held:
            onset, vel = self._held.pop(msg.note)
            tl.released(onset, vel, t - onset)

    def tapped(self, bpm: float) -> None:
        """The player tapped `bpm`: the bars counted so far stand (the status line has shown
        them), and are counted on at the tapped tempo; a count from bar 1 still to come would
        have counted the bars played before the tap at it too."""
        self._counting = False
        self._said = bpm

    def _check_count(self, t: float) -> None:
        """Bar 1 was the first note, but the bars were counted at a tempo not yet heard (the
        first guess): once the player's tempo is heard, at the first note of a call with the
        partner silent, count them again from bar 1, so that the chart's bars are the player's.
        Once the count holds on a heard tempo, following keeps it (a later recount from so far
        back would add up the player's drift)."""
        if not self._counting or self.timeline.estimate is None or self._may_recount is None \
                or not self._may_recount():
            return
        self._counting = False
        moved = self.timeline.recount(self.origin, t)  # type: ignore[arg-type]
        if moved is not None and self._on_recount is not None:
            self._on_recount(moved, t)
