"""The player's side of a live session: each message from the input queue read, checked
for improv's own output coming back, taken as a control or as music, passed through,
recorded and heard (the follower, then the policy); and what the follower's hearing of the
player's time changes in the session (bar 1, a recount, the tempos written to the file).

Threads: `handle`, `hear` and the follower's callbacks on the conductor; `fast_thru` on the
port callback's thread (`InputQueue.thru`), where it only sends and measures.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import mido

from improv.core.formats.midifile import GM_DRUM_CHANNEL, LAYERED_S
from improv.core.formats.tempofit import TempoFit, tempo_at
from improv.core.theory.line import CHORD_SPREAD
from improv.live.controls import CONTINUOUS, ControlEvent, apply_control
from improv.live.loopguard import LOOP_GONE, LOOP_WARNING, LoopGuard, is_note

TEMPOS_KEPT = 1 << 16  # times of the tempos written to the file, remembered for a recount to write over (a
# stretch of the fitted map every few seconds to minutes: a night's worth)
FILE_TEMPO_SETTLE_S = 0.1  # a stretch of the followed timeline this old is fitted into the file's tempo map
# (a note heard late, stamped before it, could still re-anchor one that had only begun). The map's
# tempo for the stretch still open is written at once and again whenever it no longer fits
# (`TempoFit`): the journal's map is within `EPS_BEATS` of the session's beat up to this far back,
# and a crash's file too
KNOB_SETTLE_S = 0.3  # a knob not moved for this long has settled: its value is said once
DENSITY_BEATS = 4.0  # the player's notes per beat, for the band, over this many beats
PADS_SAID = ("notes on channel 10 are your drum pads: they play and are recorded as drums, not heard in your "
             "call (--no-drum-pads, [midi] drum_pads = false, hears them as notes)")
PADS_FOLLOWED = "; the time you keep on them is followed"  # (where improv follows the player's time)


def is_pad(data: list[int]) -> bool:
    """A note on, note off or key pressure on General MIDI's drum channel (10): a keyboard's
    drum pads, as every reader of a MIDI file in improv takes channel 10 (a call file's drums
    are skipped, `improv play` keeps them on their channel, the renderer plays them on a kit)."""
    return len(data) == 3 and data[0] & 0x0F == GM_DRUM_CHANNEL and 0x80 <= data[0] < 0xB0


class Player:
    """The player's input (see the module doc).

    Args:
        s: the session core (improv/live/session.py): its config, clock, input queue,
            controls, policy, exchange, recorder, timeline, hearing and display.
    """

    def __init__(self, s: Any) -> None:
        self.s = s
        self.malformed = 0  # unreadable messages: truncated, bad status, data bytes out of range
        self.loop = LoopGuard()  # improv's own output coming back into its input
        self.thru_ms: deque[float] = deque(maxlen=100_000)  # message arrival -> sent on
        self.sounding: set[tuple[int, int]] = set()  # (channel, note) passed through and still down
        self._onsets: deque[float] = deque(maxlen=64)  # onsets (beats), for the band's density
        self._tempos_written: list[float] = []  # when tempos were written to the recording
        self._fit: TempoFit | None = None  # the file's tempo map, fitted to the followed timeline...
        self._file_tempo_to = -float("inf")  # ...up to here
        self._knobs: dict[str, tuple[str, float]] = {}  # a knob's line, said when it settles (`_control`)
        self._struck: dict[int, float] = {}  # keys down on the player's channel: when each was struck
        self.pads = s.cfg.midi.drum_pads  # channel 10's notes are drums (`is_pad`)
        self.pad_hits = 0  # drum pads struck

    # --- each message (conductor) -------------------------------------------------------
    def handle(self, t: float, data: list[int], closing: bool = False) -> None:
        """One raw message from the input queue, stamped `t` on arrival. `closing`: the
        session is ending: recorded (and a key kept for its release), not heard nor sent."""
        s = self.s
        try:
            msg = mido.Message.from_bytes(data)
        except (ValueError, TypeError, IndexError):
            self.malformed += 1
            return
        if not hasattr(msg, "channel"):
            return  # clock, start/stop, song position: not the player's music
        # our own output, back (improv/live/loopguard.py): judged on the port's thread before
        # its passthrough sent it, where there is one (after, it would match itself)
        if self.loop.gone(t):
            s.say(f"{s.bar_beat(t)}  {LOOP_GONE}")
        echo = self.loop.was_echo(data, t) if s.inq.thru is not None else self.loop.take_echo(data, t)
        if echo:
            if self.loop.echo_heard(data, t) and not closing:  # what the loop doubled may hang on a
                s.problem(f"{s.bar_beat(t)}  {LOOP_WARNING}")  # synth that stacks voices
                s.panic(stand_down=False)  # (the call being played is the player's: it goes on)
            if self.loop.looping:
                self.loop.dropped += 1
                return
        if s.controls.bound(data):  # a knob or pad bound in [controls]: not music
            ev = s.controls.event(data, t) if not closing else None
            if ev is not None:
                self._control(ev, t)
            return
        pad = self.pads and is_pad(data)  # a drum pad stays on its channel, and is not heard (`_pad`)
        if not pad:
            msg = msg.copy(channel=s.player_ch)
        if s.cfg.midi.thru:
            # (sent already on the port's thread once that began, with what waited: fast_thru)
            self._thru(msg, t, send=s.inq.thru is None and not closing)
        if s.recorder is not None:
            s.recorder.event("player", msg, t)
        if closing:
            return
        if pad:
            self._pad(msg, t)
            return
        if echo and is_note(data):  # a note's echo, before a loop is sure: passed through and recorded
            return  # as ever (the file takes a key struck twice within 20 ms as one note), but heard, it
            # re-struck the call's note as a 2 ms one
        if self._layered(msg, t):  # a key struck again at once while down: passed through and recorded
            return  # as ever, but heard once, as the file writes it (heard twice, each note of a layered
            # keyboard's two channels was two in the call, one of them a thousandth of a beat long)
        if not s.in_time:  # before the DAW's Start: thru and the recording only; the last
            if s.daw is not None:  # moments' are heard if it starts now
                s.daw.held(msg, t)
            return
        self.hear(msg, t)

    def _pad(self, msg: mido.Message, t: float) -> None:
        """A drum pad (`is_pad`), passed through and recorded on its own channel, where a
        synth plays it on its drum kit: not in the call, but said at the first. Moved to the
        player's channel and heard, a pad's kick drum (note 36) was a low piano note in the
        call, which the partner answered (and its embrace built on as an outside note).
        Where improv follows the player's time, its hits are heard as time: a groove kept
        on the pads is followed, a pad struck now and then barely moves the beat
        (`TempoFollower.hit`)."""
        if msg.type == "note_on" and msg.velocity > 0:
            self.pad_hits += 1
            if self.pad_hits == 1:
                self.s.say(f"{self.s.bar_beat(t)}  {PADS_SAID}{PADS_FOLLOWED if self.s.hearing is not None else ''}")
            if self.s.hearing is not None and self.s.in_time:
                self.s.hearing.hear(msg, t, drum=True)

    def _layered(self, msg: mido.Message, t: float) -> bool:
        """True for a key struck again within `LAYERED_S` of its strike, not let go in between
        (a layered keyboard's two channels, or a merge, onto the player's): the same note."""
        if msg.type == "note_on" and msg.velocity > 0:
            if t - self._struck.get(msg.note, float("-inf")) < LAYERED_S:
                return True
            self._struck[msg.note] = t
        elif msg.type in ("note_on", "note_off"):
            self._struck.pop(msg.note, None)
        return False

    def hear(self, msg: mido.Message, t: float) -> None:
        """A note or control in time: the follower, then the policy."""
        s = self.s
        if s.hearing is not None:
            s.hearing.hear(msg, t)
        beat = s.beat_at(t)
        if msg.type == "note_on" and msg.velocity > 0 and not (self._onsets and beat - self._onsets[-1] < CHORD_SPREAD):
            self._onsets.append(beat)  # (a chord's keys struck together are one strike)
        s.policy.on_message(msg, beat, t)

    def density(self, beat: float) -> float:
        """Strikes per beat over the last `DENSITY_BEATS` up to `beat` (the band plays sparser
        under a busy player): a chord's keys struck together count once, or a pianist's
        chord on every beat read as four notes a beat and the comping all but dropped out."""
        while self._onsets and self._onsets[0] < beat - DENSITY_BEATS:
            self._onsets.popleft()
        return len(self._onsets) / DENSITY_BEATS

    def record_waiting(self) -> None:
        """What still waits in the input queue at close (a stop that came while the partner
        warmed up, or in the last moment): recorded, and its keys released at close, but not
        heard as a call."""
        self.s.inq.drain(lambda t, data: self.handle(t, data, closing=True))

    # --- the passthrough -----------------------------------------------------------------
    def _thru(self, msg: mido.Message, t: float, send: bool = True) -> None:
        """A message passed through (conductor): what sounds is kept, for the note-offs of
        panic and close; `send`: send it too (tests, no fast path)."""
        if msg.type == "note_on" and msg.velocity > 0:
            self.sounding.add((msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            self.sounding.discard((msg.channel, msg.note))
        if send:
            self.s.send_all(msg, at=t)
            self._took(t)

    def fast_thru(self, data: list[int], t: float) -> None:
        """Passthrough on the port callback's thread (`InputQueue.thru`): the player's own
        notes go straight out, never waiting for the conductor to wake; the conductor keeps
        the books (`_thru`). A bound control, a malformed or non-channel message is not sent."""
        s = self.s
        try:
            if s.closing or not data or not 0x80 <= data[0] < 0xF0 or s.controls.bound(data):
                return
            if self.loop.check_before_thru(data, t) and self.loop.looping:
                return  # our own output, back: not sent round again
            msg = mido.Message.from_bytes(data)
            if not (self.pads and is_pad(data)):  # (a drum pad stays on its channel: `_pad`)
                msg = msg.copy(channel=s.player_ch)
        except (ValueError, TypeError, IndexError):
            return  # (the conductor counts it as unreadable)
        s.send_all(msg, at=t)
        self._took(t)

    def _took(self, t: float) -> None:
        """The passthrough's time for a message that arrived at `t` (what came before the
        start waited for it: not the passthrough's time)."""
        if t >= self.s.started_at:
            self.thru_ms.append((self.s.clock.now() - t) * 1000.0)

    def release(self, record: bool = True) -> None:
        """Note-offs for the keys passed through and still down: sent, and recorded with
        `record` (close; a panic's are not: the keys' own releases come later)."""
        s = self.s
        now = s.clock.now()
        for ch, pitch in sorted(self.sounding):
            msg = mido.Message("note_off", channel=ch, note=pitch, velocity=0)
            s.send_all(msg)
            if record and s.recorder is not None:
                s.recorder.event("player", msg, now)
        self.sounding.clear()

    # --- controls --------------------------------------------------------------------------
    def _control(self, ev: ControlEvent, t: float) -> None:
        """A knob, pedal or pad bound in [controls] moved: improv/live/controls.py. A knob's
        line is said once it settles (`KNOB_SETTLE_S` without moving), not at each of its
        values: a turn is one gesture, and its 100 lines would push out the partner's."""
        s = self.s
        text = apply_control(s, ev, t)
        if not text:
            return
        if ev.from_cc and (ev.action in CONTINUOUS or ev.action == "mode"):
            self._knobs[ev.action] = (f"{s.bar_beat(t)}  {text}", t)
        else:
            s.say(f"{s.bar_beat(t)}  {text}")

    def settle_knobs(self, now: float) -> None:
        """Say what each knob that stopped moving set."""
        for action, (line, t) in list(self._knobs.items()):
            if now - t >= KNOB_SETTLE_S:
                del self._knobs[action]
                self.s.say(line)

    # --- the player's time, as the follower hears it (improv/live/follow.py) ------------------
    def bar_one_heard(self, t: float) -> None:
        """The first note set bar 1 of the chart: the timeline's beat 0, and the file's."""
        s = self.s
        if s.recorder is not None and hasattr(s.recorder, "set_origin"):
            s.recorder.tempo(s.tempo, t)  # the tempo the bars are counted at from bar 1
            s.recorder.set_origin(t)  # the file's bar 1 is the chart's
        self._fit, self._file_tempo_to = TempoFit(t), t  # (the file's tempo map fitted from there)
        s.say(f"1:1  bar 1 of {s.chart.title or 'the chart'} starts on your first note")

    def may_recount(self) -> bool:
        """The bars may be counted again: at the first note of a call, with nothing of the
        partner's to come, or all of it about to stop for this note (it yields)."""
        s = self.s
        if s.policy.in_call:
            return False
        return not s.partner_busy() or s.cfg.phrase.on_interrupt == "yield"

    def recounted(self, beat_of: Any, t: float) -> None:
        """The bars were counted again from bar 1 on the tempo heard: what is kept in beats
        moves with them."""
        s = self.s
        s.exchange.remap(beat_of)
        s.policy.remap(beat_of)
        origin = s.hearing.origin if s.hearing is not None else None
        if s.recorder is not None and origin is not None:
            self._refit(origin)
        s.say(f"{s.bar_beat(t)}  your tempo is {s.tempo:.0f} bpm: bars counted again from your first "
              "note, so the chart's bars are yours")

    def _refit(self, origin: float) -> None:
        """The file counts its bars from bar 1 (`origin`, its beat 0) as the session now does:
        its tempo map from there is fitted again to the timeline counted again, up to where it
        was written, and every tempo written since bar 1 is written over (the last given at a
        time counts) with the new map's tempo there, so none stretches the recount; all of
        them, those an earlier recount wrote over too (kept: a second recount left the first
        one's tempo from the times heard before it, and the file's bars 31 beats off)."""
        s = self.s
        until = max(origin, self._file_tempo_to)
        self._fit = TempoFit(origin)  # (the first note is the file's beat 0; the count may differ by a
        records = []  # fraction of a beat there, which the first stretch makes up)
        for at, beat in s.timeline.points_between(origin, until):
            records += self._fit.add(at, beat)
        self._file_tempo_to = until
        for w in [w for w in self._tempos_written if w > origin]:
            bpm = tempo_at(records, w)
            if bpm is not None:
                s.recorder.tempo(bpm, w)
        self._write_tempos(records or [(origin, s.tempo)])

    def write_file_tempo(self, now: float, settle: float = FILE_TEMPO_SETTLE_S) -> None:
        """Following the player: the file's tempo map fitted to the timeline up to `settle`
        before `now` (conductor; `settle` 0: the session's end, the open stretch as it ends),
        so that the file counts the beats the session counted, each within `EPS_BEATS`, in as
        few and as steady tempo changes as that allows (improv/core/formats/tempofit.py). The
        tempos heard alone left the phase made up at each re-anchoring out, and the file's
        bars drifted off the ones played, a beat every minute and a half; every change of the
        timeline copied (the phase made up over two beats as a tempo) made two minutes of a
        steady 111 bpm a sawtooth of 130 tempo changes, 105.8-118.9 bpm (fitted: 9, 109-114)."""
        s = self.s
        if s.recorder is None or not s.following:
            return
        if self._fit is None:  # (the file's beat 0 is the timeline's; its first tempo is fitted from there)
            self._fit, self._file_tempo_to = TempoFit(s.t0), s.t0
        until = now - settle
        if until > self._file_tempo_to:
            for at, beat in s.timeline.points_between(self._file_tempo_to, until):
                self._write_tempos(self._fit.add(at, beat))
            self._file_tempo_to = until
        if settle <= 0:
            self._write_tempos(self._fit.flush())

    def _write_tempos(self, records: list[tuple[float, float]]) -> None:
        """(seconds, bpm) records of the fitted map into the recording, each time kept (a
        recount writes over them)."""
        for at, bpm in records:
            self.s.recorder.tempo(bpm, at)
            if not self._tempos_written or self._tempos_written[-1] != at:
                self._tempos_written.append(at)
        del self._tempos_written[:-TEMPOS_KEPT]
