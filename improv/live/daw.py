"""Following a DAW's MIDI clock (`--clock external`): the session's side of its transport.

The clock's reader and follower (improv/live/midisync.py, improv/core/listen/midiclock.py)
turn ticks into a timeline; this module acts on its Start, Stop and Continue: the partner
and the band fall silent at a Stop and pick up at the song position on Start or Continue;
a note played with the Start (up to `WITH_START_S` ahead of it) is the call's first note;
the recording follows the DAW's song position (`Recorder.follow`, `Recorder.transport`),
its beat 0 at the Start and its tempo the DAW's; and a clock heard before any Start says to
press Play. Everything here runs on the conductor thread but `song_beat` (any thread).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import mido

from improv.core.listen.midiclock import RESUME_S

WITH_START_S = 0.05  # a note played this close before a DAW's Start or Continue is played with it
TEMPO_WRITTEN = 0.005  # the DAW's tempo is written to the recording when it moves this much


class DawFollowing:
    """The session `s` (improv/live/session.py) on the external clock `external`."""

    def __init__(self, s: Any, external: Any) -> None:
        self.s, self.external = s, external
        self._before_run: deque[tuple[float, mido.Message]] = deque(maxlen=64)  # played while it stood stopped
        self._origin_pending = False  # a Start: its beat 0 is the recording's
        self._seen = False  # its clock or a Start heard (before a Start: said once)
        self._heard_at: float | None = None  # when its ticks were first heard, with no Start
        self._ran_at: float | None = None  # its first Start or Continue, while no tick has come
        self._unclocked = False  # its Play with no clock said
        self._recorded_tempo = s.cfg.timing.tempo

    def song_beat(self, t: float) -> float | None:
        """The timeline's straight beat at `t` on the DAW's clock (its song position plus the
        count-in's offset; no swing), for the recorder (any thread)."""
        tl = self.s.timeline
        with tl.lock:
            b = tl.follower.beat_at(t)
        return None if b is None else b + tl.offset

    def step(self, now: float) -> None:
        """Take the clock's Start, Stop and Continue, keep the recording on its time."""
        s = self.s
        events = self.external.poll()
        jumping = False
        for i, ev in enumerate(events):
            after = events[i + 1] if i + 1 < len(events) else None
            # a stop and a continue or start at one moment: a jump while running (a Song Position or
            # a Start in play)
            leaves = (ev.kind == "stop" and after is not None and after.kind in ("continue", "start")
                      and after.time == ev.time)
            self.on_clock(ev.kind, ev.beat, ev.time, jump=leaves or jumping)
            jumping = leaves
        self._record_time(now)
        if s.running and not self.external.follower.ticked and self._ran_at is not None and \
                now - self._ran_at >= 60.0 / s.tempo:
            self._ran_at, self._unclocked = None, True  # a beat from its Play, no tick: on at the guess, said once
            doing = f"playing at {s.tempo:g} bpm, not following its tempo" if s.in_time else "waiting for it"
            s.say(f"the DAW's Play came with no MIDI clock: {doing}; set it to send its clock (sync), not only Start "
                  f"and Stop, to {self.external.name or 'improv clock'!r}")
        if self._seen or s.running or s.timeline.tempo is None:
            return
        # ticks with no Start yet: stopped, or playing since before we listened; said after a beat
        # of them (the tempo of the first two, a millisecond off each, was said as 109 for 100)
        if self._heard_at is None:
            self._heard_at = now
        elif now - self._heard_at >= 60.0 / s.timeline.tempo:
            self._seen = True
            s.say(f"MIDI clock heard ({s.timeline.tempo:.0f} bpm): waiting for the DAW's Play; if it is "
                  "playing already, stop it and press Play again")

    def held(self, msg: mido.Message, t: float) -> None:
        """A player's message while the DAW stands stopped: heard if it starts now."""
        self._before_run.append((t, msg))

    def on_clock(self, kind: str, beat: float, t: float | None = None, jump: bool = False) -> None:
        """The clock's Start, Stop or Continue at song beat `beat`, `t` seconds (`jump`: the
        stop and the continue or start of a Song Position or a Start while running, said
        once, by the continue or start)."""
        s = self.s
        if s.recorder is not None and hasattr(s.recorder, "transport"):
            # first: the note-offs of the silence below go at the stop
            s.recorder.transport(kind, s.clock.now() if t is None else t, beat + s.timeline.offset)
        if kind == "stop":
            s.running = False
            s.exchange.silence()
            if s.band is not None:
                s.band.stop()
            s.policy.on_clock(kind, beat)
            if jump:
                pass
            elif self.external.follower.ticks_stopped:  # (no tick for a beat, and no Stop)
                s.say(f"MIDI clock lost with no Stop (the DAW quit or hung? its cable out?): silence; ticks back "
                      f"within {RESUME_S:g} s go on from there, later ones wait for its Play")
            else:
                s.say("clock stopped: silence")
        elif kind in ("start", "continue"):
            s.running = self._seen = True
            if self._ran_at is None and not self._unclocked and not self.external.follower.ticked:
                self._ran_at = s.clock.now() if t is None else t
            self._origin_pending = self._origin_pending or kind == "start"
            if s.band is not None and not jump:  # its sounds, before its notes, as a DAW chases its tracks' programs
                s.band.send_programs()  # at Play (one that quit and came back opened its instruments afresh)
            s.policy.on_clock(kind, beat)
            form_beat = beat + s.timeline.offset  # (the bars the status line counts: the form's, after any count-in)
            jumped = jump and kind == "continue"
            s.say(f"clock {'jumped' if jumped else kind}: " + (f"to bar {int(form_beat // s.bpb) + 1}" if jumped else
                  f"from bar {int(form_beat // s.bpb) + 1}" if form_beat >= 0 else "in the count-in"))
            at = s.clock.now() if t is None else t
            if s.in_time:  # a downbeat played with the Start (or just ahead of it) is the call's first note
                for played, msg in self._before_run:
                    if played >= at - WITH_START_S:
                        s.player.hear(msg, max(played, at))
            self._before_run.clear()

    def _record_time(self, now: float) -> None:
        """The recording's beat 0 is the form's bar 1 on the DAW's clock, and its tempo is
        the DAW's, changes included."""
        s = self.s
        if s.recorder is None or not s.in_time:
            return
        tempo = s.timeline.tempo
        if self._origin_pending:
            self._origin_pending = False
            if hasattr(s.recorder, "set_origin"):
                s.recorder.tempo(tempo, now)
                s.recorder.set_origin(s.time_of(0.0))
            self._recorded_tempo = tempo
        elif abs(tempo / self._recorded_tempo - 1.0) > TEMPO_WRITTEN:
            self._recorded_tempo = tempo
            s.recorder.tempo(tempo, now)
