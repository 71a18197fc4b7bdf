"""Seconds <-> MIDI ticks under a tempo map ((seconds, bpm) pairs), as pure conversions:
what session files (`midifile`), the piano roll and the recorder's song time place their
events by.
"""

from __future__ import annotations

from bisect import bisect_right

from improv.core.formats.miditrack import PPQ


class TempoMap:
    """Seconds <-> MIDI ticks under a tempo map ((seconds, bpm) pairs), its segments worked
    out once: a long session's recording has thousands of events and, when improv follows
    the player, a tempo change every few beats, so each lookup is a bisection.

    Raises:
        ValueError: a tempo that is not > 0 bpm.
    """

    def __init__(self, tempos: tuple[tuple[float, float], ...] | list[tuple[float, float]], ppq: int = PPQ) -> None:
        tempos = tuple(sorted(tempos)) or ((0.0, 120.0),)
        if tempos[0][0] > 0.0:
            tempos = ((0.0, tempos[0][1]),) + tempos
        segs: list[tuple[float, float, float]] = []  # (start seconds, start ticks, ticks per second)
        for t, bpm in tempos:
            if bpm <= 0:
                raise ValueError(f"tempo must be > 0 bpm, got {bpm}")
            ticks = segs[-1][1] + (t - segs[-1][0]) * segs[-1][2] if segs else 0.0
            segs.append((t, ticks, bpm / 60.0 * ppq))
        self._segs = segs
        self._starts_s = [sg[0] for sg in segs]
        self._starts_ticks = [sg[1] for sg in segs]

    def ticks(self, t: float) -> int:
        """Seconds from the start -> MIDI ticks. Inverse: `seconds`."""
        start, ticks, rate = self._segs[max(0, bisect_right(self._starts_s, t) - 1)]
        return max(0, int(round(ticks + (t - start) * rate)))

    def seconds(self, ticks: float) -> float:
        """MIDI ticks -> seconds from the start. Inverse: `ticks`."""
        start, seg_ticks, rate = self._segs[max(0, bisect_right(self._starts_ticks, ticks) - 1)]
        return start + (ticks - seg_ticks) / rate


def seconds_to_ticks(t: float, tempos: tuple[tuple[float, float], ...], ppq: int = PPQ) -> int:
    """Seconds from the start -> MIDI ticks under a tempo map. Inverse: `ticks_to_seconds`.
    (For many lookups under one map, build a `TempoMap` once.)"""
    return TempoMap(tempos, ppq).ticks(t)


def ticks_to_seconds(ticks: float, tempos: tuple[tuple[float, float], ...], ppq: int = PPQ) -> float:
    """MIDI ticks -> seconds from the start under a tempo map. Inverse: `seconds_to_ticks`."""
    return TempoMap(tempos, ppq).seconds(ticks)
