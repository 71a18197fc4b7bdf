"""A recording's tempo map fitted to the session's beats: as few, as steady tempo changes as
keep the file's beat within `EPS_BEATS` of the session's.

Following the player, the session's beat is a chain of lines (improv/core/listen/timeline.py):
the tempo heard, and at every re-anchoring the phase made up over two beats. Copied change
for change into the file, two minutes of a player holding a steady 111 bpm gave a tempo
track of 130 changes swinging 105.8-118.9 bpm, a sawtooth in a DAW (fitted: 9, 109-114). `TempoFit` is the swing door (shrinking cone)
approximation, streaming: from an anchor (time, beat) it keeps the range of tempi whose
line passes within `eps` beats of every point of the session's timeline given since; when
the range empties, the stretch ends at the last point it held for (on its line, so the map
stays continuous: the file's beat is the integral of its tempo) and the next one starts
there. The timeline is linear between its breakpoints, so those (and its current end) are
the only points to check: the line's error is linear in between.

Every record `add` returns is `(seconds, bpm)`, a tempo from that time on; a later record
at the same time replaces an earlier one (as the recorder's journal reads them). The open
stretch's tempo is given at its start as soon as it has one and given again only when it no
longer fits, so the records given so far always make a map within `eps` of every point
given (the recording's crash journal yields a usable file at any moment); `flush` gives the
open stretch the tempo that ends it nearest the session's beat (the session's end).

The jam hands the fit a point every conductor round, milliseconds apart, so a stretch just
begun has a point a few milliseconds from its start, and the line through it may have any
tempo (0.06 beat over 5 ms is 720 bpm): given that line from the start, a session following a
player at 160 bpm wrote tempos of 1 to 542 bpm into the recording's journal
(tests/test_follow_session.py), each written over within a beat or so, a crash's file in
between counted its last notes at them, and one at the file's bound (1000 / 60 * 60 is
1000.0000000000001) was refused by the recorder with a warning on the terminal. For
`YOUNG_S` a stretch takes the line that meets the session's own, as it runs now, `YOUNG_S`
after the stretch's start: it keeps within `eps` of the session's beat up to there while the
session goes on straight (the session's beat is off the line by at most what it was at the
stretch's start, shrinking to nothing), and it changes only where the session's line bends.

Pure: times in seconds, beats in the session's (straight) beats.
"""

from __future__ import annotations

from improv.core import limits

EPS_BEATS = 0.06  # the file's beat is kept this close to the session's: under the follower's own beat
# scatter (about +-0.13 beat) and a quarter of a DAW's 1/16-note grid (0.25 beat): 32 ms at 111 bpm.
# Looser merges more of the phase made up at each re-anchoring into one tempo (a steady 111 bpm
# followed for 3 minutes: 14 changes at 0.04, 11 at 0.06, 6 at 0.08); tighter gives back the sawtooth
YOUNG_S = 0.5  # a stretch this young aims at the session's line this far on (see the module doc)


class TempoFit:
    """Streaming piecewise-linear fit of beat(t) within `eps` beats (see the module doc).

    Args:
        t0: the time the map starts, seconds (the file's beat 0, or where it is fitted from).
        beat0: the file's beat at `t0` (a map starts on the file's own count; the session's
            beat may differ there, after bars counted again: the first stretch makes it up).
        eps: the largest distance, in beats, between the map's beat and a point given.
        bpm_range: the tempi a file may hold (`limits.FILE_TEMPO_BPM`).
    """

    def __init__(self, t0: float, beat0: float = 0.0, eps: float = EPS_BEATS,
                 bpm_range: tuple[float, float] = limits.FILE_TEMPO_BPM) -> None:
        if not eps > 0:
            raise ValueError(f"eps must be > 0 beats, got {eps!r}")
        self.eps = eps
        self._bpm_range = (float(bpm_range[0]), float(bpm_range[1]))
        self._min_rate, self._max_rate = bpm_range[0] / 60.0, bpm_range[1] / 60.0
        self._t0, self._b0 = float(t0), float(beat0)  # the open stretch's anchor
        self._lo, self._hi = self._min_rate, self._max_rate  # rates (beats a second) that fit it so far
        self._last: tuple[float, float] | None = None  # its latest point, (seconds, beats)
        self._given: float | None = None  # the rate given for it (records), or None yet
        self._seen: tuple[float, float] | None = None  # the latest point given, whichever stretch it ended in
        self._slope = 0.0  # the session's rate there (beats a second): points given in turn lie on one of its lines

    def add(self, t: float, beat: float) -> list[tuple[float, float]]:
        """The session's beat at `t` seconds (a breakpoint of its timeline, or its current end;
        in time order: a point no later than the last is left out). Returns the records to
        write, (seconds, bpm), in order."""
        last_t = self._last[0] if self._last is not None else self._t0
        if t <= last_t:
            return []
        seen = self._seen if self._seen is not None else (self._t0, self._b0)
        slope = (beat - seen[1]) / (t - seen[0])
        out: list[tuple[float, float]] = []
        lo, hi = self._bounds(t, beat)
        if lo > hi and self._last is not None:  # no one line fits: the stretch ends at its last point
            out += self._close()
            lo, hi = self._bounds(t, beat)
        self._seen, self._slope = (t, beat), slope  # (after any close: it ends on the slope at its last point)
        if lo > hi:  # (from a fresh anchor only a tempo out of the file's range fails: the nearest is kept)
            rate = min(max((beat - self._b0) / (t - self._t0), self._min_rate), self._max_rate)
            lo = hi = rate
        self._lo, self._hi, self._last = lo, hi, (t, beat)
        if self._given is None or not lo <= self._given <= hi:
            self._given = self._rate()
            out.append((self._t0, self._bpm(self._given)))
        return out

    def flush(self) -> list[tuple[float, float]]:
        """The open stretch's tempo as it ends now (the session's end): the one of those that fit
        it whose line ends nearest the last point (`_rate`: a stretch still young keeps the line
        it aims at). Returns the record to write, if it changed."""
        if self._last is None:
            return []
        rate = self._rate()
        if rate == self._given:
            return []
        self._given = rate
        return [(self._t0, self._bpm(rate))]

    def _bounds(self, t: float, beat: float) -> tuple[float, float]:
        """The open stretch's rates that also pass within `eps` of (t, beat)."""
        dt = t - self._t0
        return (max(self._lo, (beat - self.eps - self._b0) / dt),
                min(self._hi, (beat + self.eps - self._b0) / dt))

    def _rate(self) -> float:
        """The open stretch's tempo (beats a second), of those that fit it: the line through its
        latest point (it moves least), or while the stretch is young, the line that meets the
        session's `YOUNG_S` after its start (see the module doc)."""
        t, beat = self._last  # type: ignore[misc]
        if t - self._t0 < YOUNG_S:
            t, beat = self._t0 + YOUNG_S, beat + self._slope * (self._t0 + YOUNG_S - t)
        return min(max((beat - self._b0) / (t - self._t0), self._lo), self._hi)

    def _bpm(self, rate: float) -> float:
        """`rate` (beats a second) in bpm, inside the file's range (1000 / 60 * 60 is a hair over 1000)."""
        return min(max(rate * 60.0, self._bpm_range[0]), self._bpm_range[1])

    def _close(self) -> list[tuple[float, float]]:
        """End the open stretch at its last point, on its tempo (`_rate`: once it is not young,
        the one that ends it nearest that point); the next starts there, on its line."""
        rate = self._rate()
        out = [] if rate == self._given else [(self._t0, self._bpm(rate))]
        t, _ = self._last  # type: ignore[misc]
        self._b0 += (t - self._t0) * rate
        self._t0 = t
        self._lo, self._hi, self._last, self._given = self._min_rate, self._max_rate, None, None
        return out


def tempo_at(records: list[tuple[float, float]], t: float) -> float | None:
    """The tempo (bpm) at `t` seconds of the map `records` make, (seconds, bpm) each, in the
    order given (a later one at the same time replaces the earlier), or None before the first."""
    best, best_t = None, -float("inf")
    for when, bpm in records:
        if best_t <= when <= t:
            best, best_t = bpm, when
    return best
