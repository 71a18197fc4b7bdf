"""Recording on a DAW's time (`Recorder.follow`): where on the file's time each moment goes.

The file's beat is the DAW's song beat plus a shift of whole choruses, which grows only when
the DAW goes back over beats already recorded (a new take); the file's seconds come from its
own tempo map, which changes only at or after the furthest beat written, so that nothing
written ever moves; `transport`, `place` and `at` say where the DAW's Start, Stop and
Continue, each message and each marker go. The recorder holds its lock around every call.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable

import mido

from improv.core.listen.segment import ALL_OFF_CCS, pedal_up
from improv.live.journalread import BANK_SELECT_CCS
from improv.live.recovery import SOUNDING_PARTS

PICKUP_BEATS = 2.0  # played while the DAW stood stopped, this close before its Start/Continue: a pickup into it
# a Continue this close to the stop (beats) goes on from there: a DAW's Song Position counts
# sixteenths, and many send one rounded down at every Stop
SAME_PLACE_BEATS = 0.25 + 1e-6
IDLE_KEPT = 4096  # messages held while the DAW stands stopped, for a pickup (the oldest go first)
# the DAW's tempo measured from its first ticks after the first Start, with nothing written
# past them yet, is the tempo from beat 0 (a DAW that sends no clock while stopped: until
# its ticks came, the tempo was the config's, which the file had at bar 1 for a moment)
START_TEMPO_BEATS = 2 / 24


def is_release(msg: mido.Message) -> bool:
    """A note-off (or a note-on at velocity 0), the sustain pedal lifted, or all notes off."""
    if msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
        return True
    return msg.type == "control_change" and (pedal_up(msg.control, msg.value) or msg.control in ALL_OFF_CCS)


class SongTime:
    """Following a DAW (`Recorder.follow`): where on the file's time each moment goes.

    The file's beat = the DAW's song beat + `shift`, `shift` a whole number of choruses
    (`chorus` beats) that grows only when the DAW goes back over beats already recorded;
    the file's seconds come from its own tempo map (`anchors`), which changes only at or
    after the furthest beat written, so that what is written never moves. Not thread-safe:
    the recorder holds its lock around every call."""

    def __init__(self, song_beat: Callable[[float], float | None], chorus: float, bpb: int, tempo: float,
                 t0: float = 0.0) -> None:
        self.song_beat = song_beat
        self.t0 = t0  # the session clock's time of the journal's 0
        self.played = False  # a note of the player's or the partner's placed from the idle ones
        self.chorus = max(float(chorus), 1.0)
        self.bpb = bpb
        self.tempo = tempo  # the latest tempo given (bpm)
        self.origin = 0.0  # the journal's seconds of the file's beat 0 (the first Start)
        self.started = self.running = False
        self.takes = 1
        self.shift = 0.0
        self.anchors: list[tuple[float, float, float]] = [(0.0, 0.0, tempo)]  # (file beat, file seconds, bpm)
        self.count_in_tempo = tempo  # the seconds of the beats before beat 0 (fixed at the first Start)
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
        the tempo the Start placed beat 0 by, which the DAW's tempo measured later does not
        change: what is written never moves)."""
        for b, sec, bpm in reversed(self.anchors):
            if b <= fb:
                return sec + (fb - b) * 60.0 / bpm
        return fb * 60.0 / self.count_in_tempo

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
        if self.started and len(self.anchors) == 1 and max(fb, self.end) <= START_TEMPO_BEATS:
            self.anchors = [(0.0, 0.0, bpm)]  # (the journal's tempo at the origin, given again: the later counts)
            self.tempo_at = 0.0
            return 0.0
        fb = max(fb, self.end, self.anchors[-1][0])
        sec = self.seconds(fb)
        if self.anchors[-1][0] == fb:
            self.anchors.pop()
        self.anchors.append((fb, sec, bpm))
        # each tempo journalled after the last, if only by a hair: tempos given at one moment
        # are read back in order of value, not of arrival
        self.tempo_at = max(sec, self.tempo_at + 2e-6)
        return self.tempo_at

    def tempo_change(self, bpm: float, t: float) -> float:
        """The DAW's tempo `bpm` given at `t` seconds on the session clock: its journal seconds
        (before the first Start, where it was given; it becomes the tempo at the Start)."""
        if not self.started:
            self.tempo = bpm
            return t - self.t0
        return self.origin + self.set_tempo(bpm, self.file_beat(t) if self.running else self.stop_fb)

    def note(self, part: str, msg: mido.Message) -> None:
        """Keep count of the notes sounding in the file."""
        if msg.type == "note_on" and msg.velocity > 0:
            self.sounding.add((part, msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            self.sounding.discard((part, msg.channel, msg.note))

    def transport(self, kind: str, t: float, beat: float) -> list[list[Any]]:
        """The DAW's "start", "continue" (`beat`: the song beat it runs from) or "stop"
        (`beat`: where it stopped) at `t` seconds on the session clock (see
        `Recorder.follow`); returns the journal lines it writes (kind, journal seconds, ...)."""
        if kind not in ("start", "continue", "stop"):
            return []
        lines: list[list[Any]] = []
        if kind == "stop":
            if self.running:
                self.running = False
                self.stop_beat = float(beat)
                self.stop_fb = beat + self.shift
                self.end = max(self.end, self.stop_fb)
            return lines
        if self.running and kind == "continue":
            return lines  # (running already: nothing moved)
        if self.running:  # a Start while running (a DAW that rewinds so; the follower has moved to 0 already)
            self.stop_fb, self.stop_beat = self.end, None
            self.running = False
        if not self.started:
            self.started = True
            # beat 0 of the file is the chart's bar 1: after a count-in, when there is one
            self.origin = max(0.0, t - self.t0) + max(0.0, -beat) * 60.0 / self.tempo
            self.anchors = [(0.0, 0.0, self.tempo)]
            self.count_in_tempo = self.tempo
            lines += [["origin", self.origin], ["tempo", self.origin, self.tempo]]
            if beat >= self.bpb:
                lines.append(["marker", self.journal_t(beat), self._from_bar(beat), "text"])
        elif self.stop_beat is None or abs(beat - self.stop_beat) > SAME_PLACE_BEATS:  # the DAW jumped
            for part, ch, note in sorted(self.sounding):  # a key held over the jump ends at the stop, as a
                off = mido.Message("note_off", channel=ch, note=note)  # DAW ends it: not across the gap
                lines.append([part, self.journal_t(self.stop_fb), off.bytes()])
                self.dropped.add((part, ch, note))  # (its release, when it comes, is not written again)
            self.sounding.clear()
            if beat + self.shift < self.end - SAME_PLACE_BEATS:  # back over what is written: a new take after it
                self.shift += self.chorus * math.ceil((self.end - beat - self.shift) / self.chorus - 1e-9)
                self.takes += 1
                text = f"take {self.takes}: {self._from_bar(beat)}"
            else:
                text = self._from_bar(beat)
            lines.append(["marker", self.journal_t(beat + self.shift), text, "text"])
        fb0 = beat + self.shift
        self.running = True
        self.last = (t, fb0)
        lines += self._pickup(t, fb0)
        return lines

    def _pickup(self, t: float, fb0: float) -> list[list[Any]]:
        """What was played while the DAW stood stopped: the last `PICKUP_BEATS`
        before its Start/Continue at `t` (file beat `fb0`) lead into it; the rest is left out."""
        lines: list[list[Any]] = []
        since = t - PICKUP_BEATS * 60.0 / self.tempo
        sound: dict[tuple[str, int, int], mido.Message] = {}  # a sound chosen while stopped: the next take's
        for ti, part, msg in self.idle:
            key = (part, getattr(msg, "channel", 0), getattr(msg, "note", -1))
            if ti < since and (msg.type == "program_change" or
                               (msg.type == "control_change" and msg.control in BANK_SELECT_CCS)):
                sound[(part, msg.channel, -1 if msg.type == "program_change" else msg.control)] = msg
                continue
            if ti < since:
                if msg.type == "note_on" and msg.velocity > 0:
                    self.dropped.add(key)
                    self.left_out += 1
                elif msg.type in ("note_on", "note_off"):
                    self.dropped.discard(key)
                continue
            if msg.type in ("note_on", "note_off") and key in self.dropped:
                self.dropped.discard(key)
                if not (msg.type == "note_on" and msg.velocity > 0):
                    continue  # the release of a note left out
            self.note(part, msg)
            fb = fb0 - (t - ti) * self.tempo / 60.0  # (before beat 0: beside the file, as before a Start)
            lines.append([part, self.journal_t(fb), msg.bytes()])
            if part in SOUNDING_PARTS and msg.type == "note_on" and msg.velocity > 0:
                self.played = True
        self.idle.clear()
        at = self.journal_t(min(fb0, max(fb0 - PICKUP_BEATS, self.end)))  # (before the pickup, after what is written)
        return [[part, at, msg.bytes()] for (part, _, _), msg in sound.items()] + lines

    def _from_bar(self, beat: float) -> str:
        bar = math.floor(beat / self.bpb + 1e-9) + 1
        return f"from bar {bar}" if bar >= 1 else "from the count-in"

    def at(self, t: float) -> float:
        """Session seconds -> journal seconds: where a marker at `t` goes."""
        if not self.started:
            return t - self.t0
        if not self.running:
            return self.journal_t(self.stop_fb)
        fb = self.file_beat(t)
        self.end = max(self.end, fb)
        return self.journal_t(fb)

    def place(self, part: str, msg: mido.Message, t: float) -> float | None:
        """Where a message played at `t` goes: journal seconds, or None when it is held
        (played while the DAW stands stopped) or left out."""
        key = (part, msg.channel, getattr(msg, "note", -1))
        if not self.started or self.running:
            if msg.type in ("note_on", "note_off") and key in self.dropped:
                self.dropped.discard(key)
                if not (msg.type == "note_on" and msg.velocity > 0):
                    return None  # the release of a note left out (a note-on: played again, it counts)
            self.note(part, msg)
            return self.at(t)
        if is_release(msg) and (msg.type == "control_change" or key in self.sounding):
            self.note(part, msg)
            return self.journal_t(self.stop_fb)  # let go at the stop
        self.idle.append((t, part, msg))
        return None
