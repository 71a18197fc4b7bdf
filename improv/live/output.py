"""What a session sends besides the player's and the partner's notes, and what it hears of
its sends: the rhythm section, the MIDI clock sent out, a panic's silence, the recorder's
view of the partner's and the band's messages, and their failures.

`SessionOutput(session)` is set up with the session (improv/live/session.py), which still
owns the sinks and `send_all` (the hot path: every message, on every thread that sends)
and keeps `band` and `clock_sender` as its own attributes, which the policies, the
controls and the display read.

Threads: `make_band`, `make_clock_sender`, `silence`, `watch_listeners` and
`report_failures` run on the conductor (the calling thread at start); `partner_sent` and `band_sent` on the schedulers'.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import mido

from improv.core.theory.notes import count_notes
from improv.live.band import Band, BandParts
from improv.live.midisync import ClockSender
from improv.live.midiout import MidiOutSink, silence_messages

if TYPE_CHECKING:
    from improv.live.session import Session


class Sink(Protocol):
    """Where notes go: a MIDI output or the built-in synth. `at` is when a player's message
    arrived (the clock's seconds; None for the partner's and the band's, sent when due): the
    synth, which buffers a block, places the note by it, so that the moment the passthrough
    got to it adds no jitter; a port sends at once and needs no time."""

    def send(self, msg: mido.Message, at: float | None = None) -> None: ...

    def close(self) -> None: ...


class SessionOutput:
    """The session's band, clock out, silence and send reports (see the module docstring)."""

    def __init__(self, session: "Session") -> None:
        self.s = session
        self._failures_seen: dict[str, int] = {}
        self._listeners: dict[int, frozenset[str]] = {}  # id(sink) -> the ports it was heard by last look
        self._told: tuple[tuple[str, str], ...] = ()  # the ports the partner's worker silences should the jam die

    def make_band(self) -> Band | None:
        """The rhythm section (`--comp`, `--bass`, `--click`, and the click of trading's
        count-in, which a player must hear even with no click), or None."""
        s = self.s
        b = s.cfg.band
        if not (b.comp or b.bass or b.click or s.counts_in):
            return None
        if s.chart is None:
            asked = " and ".join(w for w, on in (("comping", b.comp), ("bass", b.bass), ("the click", b.click)) if on)
            s.say(f"{asked or 'the count-in'} {'follow' if ' and ' in asked else 'follows'} a chart: give --tune "
                  "or --chords to hear it")
            return None
        from improv.core.band.comping import CompSettings

        parts = BandParts(comp=b.comp, bass=b.bass, click=b.click, comp_channel=b.comp_channel - 1,
                          bass_channel=b.bass_channel - 1, click_channel=b.click_channel - 1,
                          comp_program=b.comp_program - 1 if b.comp_program else None,  # (GM's 1-128; 0: none)
                          bass_program=b.bass_program - 1 if b.bass_program else None,
                          comp_settings=CompSettings(style=b.comp_style), count_in=s.counts_in)
        return Band(s.chart, s.clock, s.send_all, s.timeline, parts, seed=s.seed,
                    start_beat=s.policy.band_start, lookahead=s.policy.band_lookahead,
                    on_sent=self.band_sent, late_threshold_ms=s.cfg.timing.late_threshold_ms)

    def make_clock_sender(self) -> ClockSender | None:
        """MIDI clock out (`--send-clock`, on improv's own clock), or None: a DAW or drum
        machine follows improv's beat."""
        s = self.s
        if not (s.cfg.band.send_clock and s.external is None):
            return None
        first = s.policy.band_start
        if first > 0:  # a session that starts mid-song: from the next sixteenth, a song position
            first = math.ceil(4 * first - 1e-9) / 4
        return ClockSender(s.clock, s.send_all, s.tempo, start=s.time_of(first),
                           position=first)  # (below 0: the count-in's, Start at bar 1)

    def silence(self) -> None:
        """Silence and reset every channel of every sink, then set the band's sounds again
        (a module reset to get out of trouble is on its pianos again)."""
        s = self.s
        for ch in range(16):
            for data in silence_messages(ch):
                s.send_all(mido.Message.from_bytes(data))
        if s.band is not None:
            s.band.send_programs()

    def output_back(self, sink: Any) -> int:
        """An output opened again after it was unplugged (`MidiOutSink.reconnect`): the band's
        sounds set there again (on any backend), and who hears it now taken as seen, so that
        the synth it connected to is not a join at the next look too. Returns how many
        program changes went out."""
        look = getattr(sink, "listeners", None)
        now = look() if look is not None else None
        if now is not None:
            self._listeners[id(sink)] = now
        return self.s.band.send_programs() if self.s.band is not None else 0

    def watch_listeners(self) -> int:
        """Who hears each output, looked at again: the band's sounds are set again when a
        synth was connected to an output since the last look (a General MIDI module wired
        in a patchbay after the session started, or one that quit and came back, heard no
        program change and played the bass on a piano), and the partner's worker is told
        the ports to silence should the jam die unclosed when they changed
        (`silence_targets`). Returns how many program changes went out. Called when the
        band sets its sounds (the first look: what hears them then) and on each watch round
        (`WATCH_EVERY_S`), not on the notes' way. An output that cannot tell who hears it
        (`listeners` None: not on JACK, the built-in synth) is not watched."""
        s = self.s
        joined = False
        for sink in s.sinks:
            look = getattr(sink, "listeners", None)
            now = look() if look is not None else None
            if now is None:
                continue
            before = self._listeners.get(id(sink))
            self._listeners[id(sink)] = now
            joined = joined or (before is not None and bool(now - before))
        targets = self.silence_targets()
        if targets != self._told:
            self._told = targets
            s.partner.silence(targets)
        return s.band.send_programs() if joined and s.band is not None else 0

    def silence_targets(self) -> tuple[tuple[str, str], ...]:
        """(MIDI backend, port) of what the partner's worker silences should the jam die
        without closing (`Setup.silence`): each MIDI output opened by name, and the ports
        wired to a virtual one at the last look (on JACK: `MidiOutSink.listeners` tells no
        other backend's). The built-in synth stops with the jam."""
        out: list[tuple[str, str]] = []
        for sink in self.s.sinks:
            if not isinstance(sink, MidiOutSink):
                continue
            if not sink.virtual:
                out.append((sink.api, sink.name))
            else:
                out += [(sink.api, port) for port in sorted(self._listeners.get(id(sink), ()))]
        return tuple(out)

    def silence_for_setup(self) -> tuple[tuple[str, str], ...]:
        """`silence_targets` for a (new) worker's `Setup`: from then on, a change is sent it."""
        self._told = self.silence_targets()
        return self._told

    def report_failures(self) -> None:
        """Say when the partner's or the band's notes could not be sent (they are counted,
        and the rest plays on; a bad setting would otherwise go silent unnoticed)."""
        s = self.s
        for who, sched in (("the partner", s.scheduler), ("the rhythm section", getattr(s.band, "scheduler", None))):
            if sched is None:
                continue
            seen = self._failures_seen.get(who, 0)
            if sched.failures > seen:
                self._failures_seen[who] = sched.failures
                s.problem(f"{who} could not play {count_notes(sched.failures - seen)}: {sched.last_failure}")

    def partner_sent(self, msg: mido.Message, t: float) -> None:
        """A partner message went out (the scheduler's thread): recorded."""
        if self.s.recorder is not None:
            self.s.recorder.event("partner", msg, t)

    def band_sent(self, part: str, msg: mido.Message, t: float) -> None:
        """A band message went out (a scheduler thread): recorded as its own part (the
        count-in's clicks fall before the file's origin at bar 1: see `Session.start`)."""
        if self.s.recorder is not None:
            self.s.recorder.event(part, msg, t)
