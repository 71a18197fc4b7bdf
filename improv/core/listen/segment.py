"""Phrase segmentation: the player's stream of notes -> calls, each with where its answer goes.

Pure: fed timestamped events in beats (timeline beats, beat 0 = bar 1 beat 1) and told
when time passes with `tick(now)`. A call ends when no key is held (a held sustain pedal
counts as held) for `gap_beats`, on the end-of-call controller, or when it reaches
`max_call_bars`. Every feeding method returns the call it completed, or None.

A call with a line over voicings (a pianist's right hand over the left hand's chords or a
low ostinato: `improv.core.theory.line`) also ends when its line alone rests for the gap,
the accompaniment going on (`vamp = "line"`): it is cut at the line's last release, and the
accompaniment struck after that begins the next call, which is a call only once a line
note comes (`accompanies`: what is played under the answer, which does not interrupt it).

The beats are the session timeline's. On a timeline that follows the player
(`improv.core.listen.timeline.PlayerTimeline`) the gap, the call's length and the answer's
place are in the player's beats as they went by, and the beats kept here across a
re-anchoring (a call's start, the start of a silence) stay right: re-anchoring never moves
the past. `lead_beats` is a time to think, in beats: at another tempo than the one it was
worked out for it is another time in seconds (the session sets it from seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from improv.core.listen.vamp import LineTracker
from improv.core.theory.notes import Meter, Note, Phrase

PEDAL_CC = 64
ALL_SOUND_OFF_CC, RESET_CC, ALL_NOTES_OFF_CC = 120, 121, 123
# MIDI's channel mode messages: omni off/on and mono/poly (124-127) let every key go as all
# notes off does (a pedal still holds them), all sound off (120) silences; reset all
# controllers (121) lifts the sustain pedal. Keyboards send them from panic and reset buttons.
KEYS_OFF_CCS = (ALL_NOTES_OFF_CC, 124, 125, 126, 127)
ALL_OFF_CCS = (ALL_SOUND_OFF_CC, *KEYS_OFF_CCS)


def pedal_up(cc: int, value: int) -> bool:
    """True for a controller that lifts the sustain pedal: 64 below half, or a reset."""
    return (cc == PEDAL_CC and value < 64) or cc == RESET_CC


@dataclass(frozen=True)
class SegmentSettings:
    """How calls are cut and answered (see configs/default.toml [phrase]).

    Attributes:
        gap_beats: silence (no key, no pedal) that ends a call, in beats.
        end_cc: a controller that ends the call at once when pressed (value >= 64); -1 = none.
        max_call_bars: a call reaching this length is cut and answered.
        answer_on: the answer starts on the next "beat" or the next "bar".
        answer_bars: answer length in bars; 0 = as many bars as the call.
        max_answer_bars: the longest answer, in bars.
        beats_per_bar: metre.
        lead_beats: the least time between noticing a call's end and its answer's first
            beat (the responder's time to think), in beats.
        max_call_notes: notes kept per call; more (a flood) are counted in `dropped`.
        vamp: "line": a call with a line over voicings also ends when the line rests for the
            gap, the accompaniment going on; "all": only when every key rests.
    """

    gap_beats: float = 1.0
    end_cc: int = -1
    max_call_bars: int = 8
    answer_on: str = "beat"
    answer_bars: int = 0
    max_answer_bars: int = 8
    beats_per_bar: int = 4
    lead_beats: float = 0.1
    max_call_notes: int = 512
    vamp: str = "line"

    def __post_init__(self) -> None:
        if self.vamp not in ("line", "all"):
            raise ValueError(f"vamp must be 'line' or 'all', got {self.vamp!r}")
        if self.answer_on not in ("beat", "bar"):
            raise ValueError(f"answer_on must be 'beat' or 'bar', got {self.answer_on!r}")
        if self.gap_beats <= 0 or self.max_call_bars < 1 or self.max_answer_bars < 1:
            raise ValueError("gap_beats must be > 0, max_call_bars and max_answer_bars >= 1")


@dataclass(frozen=True)
class Call:
    """A finished call and its answer's place.

    Attributes:
        phrase: the call; `phrase.start` is its first onset on the timeline (beats).
        ended: the beat the call ended (last release, or the cut).
        detected: the beat the end was noticed (ended + gap for a gap; = ended for a cut).
        answer_start: where the answer begins on the timeline (beats).
        answer_length: the answer's length in beats (whole bars).
        reason: "gap", "line" (the line rested, the accompaniment went on), "cc", "control" or "max".
        bars: the call's length in whole bars (rounded up, at least 1).
    """

    phrase: Phrase
    ended: float
    detected: float
    answer_start: float
    answer_length: float
    reason: str
    bars: int


def whole_bars(length: float, beats_per_bar: int) -> int:
    """A length in beats -> whole bars, rounded up, at least 1."""
    return max(1, math.ceil(length / beats_per_bar - 1e-6))


def played_bars(call: Phrase, beats_per_bar: int) -> int:
    """The bars the player played in `call`: to its last key's release (a sustain pedal
    held after the phrase keeps the call open, but is not more bars of it)."""
    played = max((n.end for n in call.notes), default=call.length)
    return whole_bars(min(call.length, played), beats_per_bar)


class Segmenter:
    """Cuts the player's notes into calls. Not thread-safe: feed it from one thread.

    Args:
        settings: the cutting rules.
    """

    def __init__(self, settings: SegmentSettings) -> None:
        self.s = settings
        self.meter = Meter(settings.beats_per_bar)
        self.held: dict[int, tuple[float, int]] = {}  # pitch -> (onset beat, velocity), physical keys
        self.pedal = False
        self.silence_since: float | None = None  # beat when keys and pedal were last all up
        self._keys_up: float | None = None  # beat when the call's keys were last all up (the pedal aside)
        self._pedal_kept = False  # a rest of the gap with no key down went by in this call: the pedal held it
        self.cut_by_pedal = False  # the last call cut at its longest was held open by the pedal, not played on
        self.dropped = 0
        self._notes: list[Note] = []  # finished notes of the current call, absolute starts
        self._open: dict[int, tuple[float, int]] = {}  # held notes that belong to the current call
        self._start: float | None = None  # first onset of the current call
        self._last_onset = -math.inf  # the latest key down in the call
        # the line over the accompaniment (vamp = "line"), read on key events, not on ticks
        self.line = LineTracker(settings.vamp == "line")

    @property
    def in_call(self) -> bool:
        """True while a call is being played (it has begun and not yet ended)."""
        return self._start is not None

    def _is_held(self) -> bool:
        return bool(self.held) or self.pedal

    def note_on(self, pitch: int, beat: float, velocity: int = 80) -> Call | None:
        """A key went down at `beat` (velocity 0 is a release)."""
        if velocity <= 0:
            return self.note_off(pitch, beat)
        done = self.tick(beat)
        if pitch in self._open:  # re-struck without a release: end the old note here
            self._close(pitch, beat)
        if self._start is not None and self._rested_under_pedal(beat):
            self._pedal_kept = True
        self._keys_up = None
        self.held[pitch] = (beat, velocity)
        self.silence_since = None
        if self._start is None:
            self._start = beat
        if len(self._notes) + len(self._open) < self.s.max_call_notes:
            self._open[pitch] = (beat, velocity)
        else:
            self.dropped += 1
        self._last_onset = beat
        self._read_line(beat)
        return done

    def note_off(self, pitch: int, beat: float) -> Call | None:
        """A key came up at `beat`."""
        done = self.tick(beat)
        self.held.pop(pitch, None)
        if pitch in self._open:
            self._close(pitch, beat)
            self._read_line(beat)
        self._keys_went_up(beat)
        if not self._is_held():
            self.silence_since = beat
        return done

    def _keys_went_up(self, beat: float) -> None:
        if not self.held and self._keys_up is None:
            self._keys_up = beat

    def _rested_under_pedal(self, beat: float) -> bool:
        """Whether the keys have been up for the gap by `beat` within a call still going:
        only the pedal holds a call open through such a rest."""
        return self._keys_up is not None and beat - self._keys_up >= self.s.gap_beats - 1e-9

    def control(self, cc: int, value: int, beat: float) -> Call | None:
        """A controller moved at `beat`: the pedal (64) or the end-of-call CC."""
        done = self.tick(beat)
        if cc == PEDAL_CC or cc == RESET_CC:
            down = not pedal_up(cc, value)
            if down != self.pedal:
                self.pedal = down
                self.line.pedal(down, beat)
                if down:
                    self.silence_since = None
                elif not self.held:
                    self.silence_since = beat
        if cc in ALL_OFF_CCS:  # the player's panic: every key counts as up
            for pitch in list(self.held):
                self.held.pop(pitch)
                if pitch in self._open:
                    self._close(pitch, beat)
            self._read_line(beat)
            self._keys_went_up(beat)
            if not self._is_held():
                self.silence_since = beat
        if cc == self.s.end_cc and value >= 64 and self._start is not None:
            return self._cut(beat, beat, "cc") or done
        return done

    def call_so_far(self) -> Phrase | None:
        """The opening of the call under way as it will be cut: its finished notes that
        began before every held one (those keep their place in the call), or None.

        A responder can read it while the player goes on (`ModelResponder.prime`)."""
        if self._start is None or not self._notes:
            return None
        first_held = min((onset for onset, _ in self._open.values()), default=math.inf) - self._start
        notes = [n for n in self._notes if n.start < first_held]
        if not notes:
            return None
        return Phrase.of(notes, start=self._start, length=max(n.end for n in notes))

    def call_if_silent(self) -> Call | None:
        """The call the gap will cut if the silence under way lasts (every key and the pedal
        up), as `tick` will return it then, noticed the moment the gap is full; None when
        there is no such silence, or the call's longest length comes first. Changes nothing:
        the partner drafts its answer to it in the rest (`Read.draft`)."""
        if self._start is None or self.silence_since is None or self._is_held() or self._open or not self._notes:
            return None
        ended = self.silence_since
        detected = ended + self.s.gap_beats
        if detected > self._start + self.s.max_call_bars * self.s.beats_per_bar - 1e-9:
            return None
        phrase = Phrase.of(list(self._notes), start=self._start, length=max(ended - self._start, 0.0))
        return Call(phrase, ended, detected, *self.answer_place(phrase, detected), "gap",
                    played_bars(phrase, self.s.beats_per_bar))

    def end_call(self, beat: float) -> Call | None:
        """End the call now (a live end-of-call control); None if no call is under way."""
        if self._start is None:
            return None
        return self._cut(beat, beat, "control")

    def tick(self, now: float) -> Call | None:
        """Time passed to `now` (beats): returns the call that ended by now, if any."""
        silent = self.silence_since is not None and not self._is_held()
        if self._start is None:
            if silent and self.silence_since + self.s.gap_beats <= now + 1e-9:
                self.line.vamp_over(now)  # every key rested the gap (and the left hand's pace)
            return None
        cap = self._start + self.s.max_call_bars * self.s.beats_per_bar
        if silent and self.silence_since + self.s.gap_beats <= min(now, cap) + 1e-9:
            return self._cut(self.silence_since, max(now, self.silence_since + self.s.gap_beats), "gap")
        # the line rested the gap with the accompaniment going on (`LineTracker.rested`)
        rest = self.line.rested(min(now, cap), self.s.gap_beats, self._last_onset, self.held)
        if rest is not None:
            return self._cut_line(rest, max(now, rest + self.s.gap_beats))
        if now >= cap - 1e-9:
            # A key down since the call began is taken as released: its note-off was lost (a
            # keyboard unplugged mid-note), and it would hold every later call open to the cap.
            for pitch in [p for p, (onset, _) in self.held.items() if onset <= self._start + 1e-9]:
                del self.held[pitch]
            silent = self.silence_since is not None and not self._is_held()
            return self._cut(self.silence_since if silent else cap, max(now, cap), "max")
        return None

    def accompanies(self, pitch: int) -> bool:
        """Whether a key at `pitch`, struck just now, is under the line heard
        (`LineTracker.accompanies`): what is played under the answer, which does not
        interrupt it."""
        return self.line.accompanies(pitch, self.held)

    def _read_line(self, beat: float) -> None:
        """Read the call's notes so far for its line (on key events, not on ticks)."""
        if self._start is not None:
            self.line.read(self._start, self._notes, self._open, beat)

    def _cut_line(self, ended: float, detected: float) -> Call | None:
        """Cut the call at the line's rest (`ended`); what was struck after it (the
        accompaniment going on) begins the next call."""
        start = self._start if self._start is not None else ended
        rel, first_line = ended - start, self.line.first
        later = [n for n in self._notes if n.start > rel + 1e-9]
        later_open = {p: v for p, v in self._open.items() if v[0] > ended + 1e-9}
        self._notes = [n for n in self._notes if n.start <= rel + 1e-9]
        self._open = {p: v for p, v in self._open.items() if p not in later_open}
        call = self._cut(ended, detected, "line", first_line)
        onsets = [start + n.start for n in later] + [on for on, _ in later_open.values()]
        if onsets:
            self._start = new = min(onsets)
            self._notes = [Note(start + n.start - new, n.pitch, n.duration, n.velocity) for n in later]
            self._open = later_open
            self._read_line(detected)
        return call

    def _close(self, pitch: int, end: float) -> None:
        onset, vel = self._open.pop(pitch)
        start = self._start if self._start is not None else onset
        self._notes.append(Note(onset - start, pitch, max(end - onset, 1e-3), vel))

    def _cut(self, ended: float, detected: float, reason: str, first_line: float | None = None) -> Call | None:
        """Cut the call at `ended`. `first_line`: its line's first onset, where the bars
        answered are counted from (the accompaniment before it was played under the last
        answer)."""
        for pitch in list(self._open):
            self._close(pitch, ended)
        self.cut_by_pedal = reason == "max" and (self._pedal_kept or self._rested_under_pedal(detected))
        self._pedal_kept = False
        start = self._start if self._start is not None else ended
        notes, self._notes, self._start = self._notes, [], None
        if first_line is None and self.line.carried:
            first_line = self.line.first  # (the comping before the line was under the last answer)
        carried, heard = self.line.end_call(reason, detected)
        if not notes or (carried and not heard and reason in ("gap", "max")):
            return None  # (the accompaniment alone, under the last call's answer: not a call)
        phrase = Phrase.of(notes, start=start, length=max(ended - start, 0.0))
        if first_line is not None and start < first_line < ended:
            bars = whole_bars(ended - first_line, self.s.beats_per_bar)
        else:
            bars = played_bars(phrase, self.s.beats_per_bar)
        return Call(phrase, ended, detected, *self.answer_place(phrase, detected, bars), reason, bars)

    def answer_place(self, call: Phrase, detected: float, bars: int | None = None) -> tuple[float, float]:
        """(answer start, answer length) in beats for a call noticed at beat `detected` (of
        `bars` bars played: by default, to its last release)."""
        start = self.meter.next_boundary(detected + self.s.lead_beats, self.s.answer_on)
        bars = self.s.answer_bars or bars or played_bars(call, self.s.beats_per_bar)
        bars = min(bars, self.s.max_answer_bars)
        return start, float(bars * self.s.beats_per_bar)
