"""Recording on a DAW's time (`Recorder.follow`): where on the file's time each moment goes.

The file's beat is the DAW's song beat plus a shift of whole choruses, which grows only when
the DAW goes back over beats already recorded (a new take); the file's seconds come from its
own tempo map, which changes only at or after the furthest beat written, so that nothing
written ever moves. The recorder holds its lock around every call.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import mido

PICKUP_BEATS = 2.0  # played while the DAW stood stopped, this close before its Start/Continue: a pickup into it
# a Continue this close to the stop (beats) goes on from there: a DAW's Song Position counts
# sixteenths, and many send one rounded down at every Stop
SAME_PLACE_BEATS = 0.25 + 1e-6
IDLE_KEPT = 4096  # messages held while the DAW stands stopped, for a pickup (the oldest go first)


def is_release(msg: mido.Message) -> bool:
    """A note-off (or a note-on at velocity 0), the sustain pedal lifted, or all notes off."""
    if msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
        return True
    return msg.type == "control_change" and ((msg.control == 64 and msg.value < 64) or msg.control in (120, 123))


class SongTime:
    """Following a DAW (`Recorder.follow`): where on the file's time each moment goes.

    The file's beat = the DAW's song beat + `shift`, `shift` a whole number of choruses
    (`chorus` beats) that grows only when the DAW goes back over beats already recorded;
    the file's seconds come from its own tempo map (`anchors`), which changes only at or
    after the furthest beat written, so that what is written never moves. Not thread-safe:
    the recorder holds its lock around every call."""

    def __init__(self, song_beat: Callable[[float], float | None], chorus: float, bpb: int, tempo: float) -> None:
        self.song_beat = song_beat
        self.chorus = max(float(chorus), 1.0)
        self.bpb = bpb
        self.tempo = tempo  # the latest tempo given (bpm)
        self.origin = 0.0  # the journal's seconds of the file's beat 0 (the first Start)
        self.started = self.running = False
        self.takes = 1
        self.shift = 0.0
        self.anchors: list[tuple[float, float, float]] = [(0.0, 0.0, tempo)]  # (file beat, file seconds, bpm)
        self.tempo_at = 0.0  # the file's seconds of the last tempo journalled
        self.end = 0.0  # the furthest file beat written
        self.stop_beat: float | None = None  # the DAW's song beat where it stopped
        self.stop_fb = 0.0  # ... and its file beat
        self.last: tuple[float, float] | None = None  # (session seconds, file beat) of the last placement
        self.idle: deque[tuple[float, str, mido.Message]] = deque(maxlen=IDLE_KEPT)  # played while stopped
        self.sounding: set[tuple[str, int, int]] = set()  # (part, channel, note) on in the file
        self.dropped: set[tuple[str, int, int]] = set()  # notes left out (played while stopped), until released
        self.left_out = 0  # notes played while the DAW stood stopped and left out of the file

    def seconds(self, fb: float) -> float:
        """File beat -> the file's seconds, on its tempo map (before beat 0, a count-in: at
        its first tempo)."""
        for b, sec, bpm in reversed(self.anchors):
            if b <= fb:
                return sec + (fb - b) * 60.0 / bpm
        return fb * 60.0 / self.anchors[0][2]

    def journal_t(self, fb: float) -> float:
        return self.origin + self.seconds(fb)

    def file_beat(self, t: float) -> float:
        """The file beat of session time `t` while the DAW runs."""
        b = None
        try:
            b = self.song_beat(t)
        except Exception:  # noqa: BLE001 - a clock that cannot say: go on from the last placement
            b = None
        if b is None or not math.isfinite(b):
            if self.last is None:
                return self.end
            lt, lfb = self.last
            return lfb + (t - lt) * self.tempo / 60.0
        fb = b + self.shift
        self.last = (t, fb)
        return fb

    def set_tempo(self, bpm: float, fb: float) -> float:
        """A tempo change at file beat `fb` (moved on to the furthest beat written); its file seconds."""
        self.tempo = bpm
        fb = max(fb, self.end, self.anchors[-1][0])
        sec = self.seconds(fb)
        if self.anchors[-1][0] == fb:
            self.anchors.pop()
        self.anchors.append((fb, sec, bpm))
        # each tempo journalled after the last, if only by a hair: tempos given at one moment
        # are read back in order of value, not of arrival
        self.tempo_at = max(sec, self.tempo_at + 2e-6)
        return self.tempo_at

    def note(self, part: str, msg: mido.Message) -> None:
        """Keep count of the notes sounding in the file."""
        if msg.type == "note_on" and msg.velocity > 0:
            self.sounding.add((part, msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            self.sounding.discard((part, msg.channel, msg.note))
