"""The live session core: the player's notes in, the partner's answers out, on the beat.

Written once for both ways of playing; a policy decides when a call ends and where its
answer goes: `FreePolicy` (improv/live/free.py: call and response as the player phrases
it) or `TradePolicy` (improv/live/trade.py: N bars each along the form). Data flows one
way (see ../shared/STYLE.md):

    port callback -> InputQueue -> conductor: the player's input (improv/live/player.py:
        thru to the sinks, recording, the follower, the policy)
        -> partner (a worker process: improv/partner) -> answers -> BeatFeeder -> Scheduler -> sinks
    with the recorder hearing the player (arrival times) and the partner (send times).

The rhythm section, the MIDI clock sent out, a panic's silence and what the recorder hears
of the partner's and the band's sends are set up in improv/live/output.py.

Threads: the conductor is whoever calls `run()` (the main thread in `improv jam`); the
partner's answers arrive on its receiving thread ("improv-partner-rx", or the in-process
partner's "improv-responder"); the schedulers send on "improv-scheduler". Time: one
timeline the session owns (beats <-> seconds: improv's own `FixedTimeline`, or a DAW's MIDI
clock); answers stay in beats until shortly before they sound, so they follow it. Every exit
path ends in `close()`: note-offs for every note the partner, the band or the passthrough
started, then the recorder's file. Its steps, the recording's opening and the line said at
the start are in improv/live/lifecycle.py.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import Any, Callable

import mido

from improv.config import Config
from improv.core.theory.chart import Chart
from improv.core.theory.notes import Phrase
from improv.live.band import Band, BeatFeeder
from improv.live.clock import Clock
from improv.live.conductor import run_conductor
from improv.live.controls import ControlMap
from improv.live.daw import DawFollowing
from improv.live.exchange import Exchange
from improv.live.follow import FOLLOW_BPM, FollowingTimeline, PlayerHearing
from improv.live.free import FreePolicy
from improv.live.midisync import ClockSender, ExternalClock, FixedTimeline, TapTempo
from improv.live.output import SessionOutput, Sink
from improv.live.player import Player
from improv.live.inputqueue import InputQueue, is_note_on
from improv.live.lifecycle import close_session, open_recording, start_line
from improv.live.scheduler import Scheduler
from improv.live.snapshot import session_state, snapshot, summary
from improv.live.status import Display, Snapshot
from improv.live.trade import TradePolicy

WATCH_EVERY_S = 0.5  # how often ports and the partner are checked
PARTNER_LOOKAHEAD = 0.5  # beats: answer notes become seconds this close to sounding


class Session:
    """One jam (free or trading, by `cfg.band.trade_bars`). Build it, then `run()` it (or
    `start()` and `step()` it in tests).

    Args:
        cfg: the settings.
        clock: the session clock.
        inq: the input hand-off the port callback (or a scripted player) feeds.
        sinks: where thru, partner and band notes go (may be empty: record only).
        partner: a `ProcessPartner` (the jam), an `InlinePartner`, or a bare responder
            (answering in this process: on a thread, or inline when not `threaded`).
        chart: the chart to play over, or None to infer the harmony live (free jam only).
        recorder_factory: called with t0 (beat 0) and the chart at start, or None.
        watched: ports checked for having vanished (objects with `name` and `alive()`); one
            with `arrived()` hands over the inputs it opened, to be watched too.
        display: the terminal display, or None for silence.
        threaded: False sends due notes in `step()` and answers inline, for tests with a
            ManualClock.
        seed: the base seed of the answers.
        external: a DAW's MIDI clock to follow, or None for improv's own time.
        start_beat: the free jam's timeline beat at `start()` (0: it starts on bar 1; the
            demo starts just before its script's first note).
        tempo_guess: the tempo the player was said to play at (`--tempo`, a tune's), the
            follower's first guess; None: no guess (it starts at `cfg.timing.tempo`).
    """

    def __init__(self, cfg: Config, clock: Clock, inq: InputQueue, sinks: list[Sink], partner: Any, *,
                 chart: Chart | None = None, recorder_factory: Callable[[float, Chart | None], Any] | None = None,
                 watched: list[Any] | None = None, display: Display | None = None, threaded: bool = True,
                 seed: int = 0, external: ExternalClock | None = None, start_beat: float = 0.0,
                 tempo_guess: float | None = None) -> None:
        if not hasattr(partner, "submit"):  # a responder object: it answers in this process
            from improv.partner.inline import InlinePartner

            partner = InlinePartner(partner, threaded)
        self.cfg, self.clock, self.inq, self.sinks, self.partner = cfg, clock, inq, list(sinks), partner
        self.responder = getattr(partner, "responder", None)
        self.chart, self.watched, self.display, self.threaded, self.seed = chart, list(watched or []), display, \
            threaded, seed
        t = cfg.timing
        self.bpb = chart.beats_per_bar if chart is not None else t.beats_per_bar
        self.player_ch, self.partner_ch = cfg.midi.player_channel - 1, cfg.midi.partner_channel - 1
        self.external = external
        self.start_beat = start_beat
        b = cfg.band
        band = (b.comp or b.bass or b.click) and chart is not None  # (with no chart no band plays: see _make_band)
        self.following = (external is None and t.follow and b.trade_bars <= 0 and not band
                          and not b.send_clock)  # the player leads: nothing else does
        # a tempo said beyond what the follower hears (a 40 bpm ballad) is played at, not followed
        # (the follower refused it as a first guess: a traceback at the jam's start)
        self.unfollowed = self.following and tempo_guess is not None and not (
            FOLLOW_BPM[0] <= tempo_guess <= FOLLOW_BPM[1])
        self.following = self.following and not self.unfollowed
        if external is not None:
            self.timeline: Any = external.timeline
        elif self.following:
            # the tempo said keeps the level, in the free jam too: a player who said --tempo 114
            # was heard at 1.5 times it and answered at 166 (over a chart: the chart's bars)
            self.timeline = FollowingTimeline(0.0, t.tempo, t.swing, tempo_guess, keep_level=True,
                                              over_chart=chart is not None)
        else:
            self.timeline = FixedTimeline(0.0, t.tempo, t.swing)
        self.timeline.swing = t.swing
        self.player = Player(self)  # the player's input: improv/live/player.py
        p = self.player
        self.hearing = PlayerHearing(self.timeline, chart is not None and t.bar_one == "first_note",
                                     p.bar_one_heard, None, p.may_recount,
                                     p.recounted, self.bpb) if self.following else None
        self.running = external is None  # an external clock runs from its Start
        self.policy: FreePolicy | TradePolicy = TradePolicy(self) if cfg.band.trade_bars > 0 else FreePolicy(self)
        self.output = SessionOutput(self)  # the band, clock out, silence, what was sent: improv/live/output.py
        self.scheduler = Scheduler(clock, self.send_all, late_threshold_ms=t.late_threshold_ms,
                                   late_policy=t.late_policy, on_sent=self.output.partner_sent)
        self.feeder = BeatFeeder(self.scheduler, self.timeline,
                                 PARTNER_LOOKAHEAD if external is None else self.policy.band_lookahead)
        self._recorder_factory = recorder_factory
        self.recorder: Any = None
        self.record_path: Any = None
        self.t0 = 0.0
        self.controls = ControlMap.from_settings(cfg.controls)
        self.tap = TapTempo()
        self.band: Band | None = None
        self.clock_sender: ClockSender | None = None
        self.daw = DawFollowing(self, external) if external is not None else None
        self.exchange = Exchange(self)  # calls out, answers in
        self.stop_reason = ""
        self.started = self.closing = False
        self.notes_released = True  # False while close() releases them
        self.started_at = float("inf")  # when the session started
        self.errors: deque[str] = deque(maxlen=4)  # recent problems, for the stage view
        self.cut_off: Counter[tuple[str, str]] = Counter()  # (port, how) -> times a device was lost mid-set
        self._next_watch = 0.0
        self.shown_beat = 0.0  # the beat shown: where time stood last (a DAW's Stop freezes it)
        self._last_state = ""
        self._errors: list[str] = []

    # --- time ------------------------------------------------------------------------
    @property
    def tempo(self) -> float:
        """Beats per minute now (a tapped tempo or the external clock changes it)."""
        return self.timeline.tempo or self.cfg.timing.tempo

    @property
    def in_time(self) -> bool:
        """True when beats mean something: always on improv's own clock; on an external
        one, between its Start and Stop once its tempo is known."""
        return self.running and self.timeline.tempo is not None

    def beat_at(self, t: float) -> float:
        """Session clock seconds -> straight timeline beats (swing removed)."""
        return self.timeline.beat_at(t)

    def time_of(self, beat: float) -> float:
        """Straight timeline beats -> session clock seconds (swing applied)."""
        return self.timeline.time_of(beat)

    # --- life cycle ------------------------------------------------------------------
    def start(self) -> None:
        """Start the partner (and wait for its warm-up), fix the timeline, start the threads
        (calling thread).

        Raises:
            ModelError: the partner cannot start (e.g. the model's weights are missing).
        """
        if self.started:
            return
        self.partner.start(self.exchange.setup, self.exchange.on_result, self.say)
        if self.stop_reason:  # (Ctrl-C while the partner warmed up: nothing more starts, as after `EarlyStop`)
            return
        now = self.clock.now()
        self.started_at = now
        # the first note played while it started (the partner warming up): see FreePolicy.start
        first = self.inq.first_waiting(is_note_on) if self.external is None else None
        self.policy.start(now, first)
        self.t0 = self.time_of(0.0) if self.external is None else now
        if self._recorder_factory is not None:
            open_recording(self, self._recorder_factory, now)
        self.band = self.output.make_band()
        if self.band is not None:  # (a General MIDI module played the walking bass on a piano)
            self.band.send_programs()
            self.output.watch_listeners()  # (who heard them: one wired later is sent them then)
        self.clock_sender = self.output.make_clock_sender()
        if self.threaded:
            self.scheduler.start()
            if self.band is not None:
                self.band.start()
            if self.clock_sender is not None:
                self.clock_sender.start_thread()
        self.started = True
        if self.cfg.midi.thru and self.threaded:
            # the player's notes go out on the port's own thread; what waits goes first
            self.inq.start_thru(self.player.fast_thru)
        self.say(start_line(self))

    @property
    def counts_in(self) -> bool:
        """improv counts bars in before bar 1 (trading on its own clock; a DAW counts its own)."""
        return self.external is None and self.policy.band_start < 0

    def stop(self, reason: str) -> None:
        """Ask the session to end (any thread, signal handlers too)."""
        if not self.stop_reason:
            self.stop_reason = reason

    def run(self, duration: float | None = None, until: Callable[[], bool] | None = None) -> str:
        """The conductor loop (see `run_conductor`) on the calling thread. Returns why it stopped."""
        return run_conductor(self, duration, until)

    def step(self) -> None:
        """One conductor round without waiting: drain the input, let time pass (conductor)."""
        if not self.threaded:
            self.inq.drain(self.player.handle)
        now = self.clock.now()
        if self.daw is not None:
            self.daw.step(now)
        if self.in_time:
            beat = self.beat_at(now)
            self.shown_beat = beat
            self.policy.tick(now, beat)
            # the hold before the substitutes: an answer that lands in between is held to the next round
            hold = self.policy.band_hold(beat) if self.band is not None else None
            while self.exchange.band_overrides and self.band is not None:
                self.band.override(*self.exchange.band_overrides.popleft())
            if self.band is not None:
                self.band.set_density(self.player.density(beat))
                self.band.pump(beat, hold)
            self.feeder.pump(beat)
            if self.following:
                self.player.write_file_tempo(now)
        if not self.threaded:
            self.scheduler.poll()
            if self.band is not None:
                self.band.scheduler.poll()
            if self.clock_sender is not None:
                self.clock_sender.run_until(now + 1e-9)
        if now >= self._next_watch:
            self._next_watch = now + WATCH_EVERY_S
            if self.recorder is not None and hasattr(self.recorder, "alive"):
                self.recorder.alive(now)  # (a crash's held notes end here, not at the last message)
            self.partner.check(now)
            self.output.report_failures()
            self.output.watch_listeners()  # (the band's sounds, and what the worker silences should the jam die)
            if self.external is not None and (said := self.external.watch()):
                (self.problem if self.external.gone else self.say)(said)
            for w in list(self.watched):
                cut = w.sensing_stopped() if hasattr(w, "sensing_stopped") else ""  # (a cable out: midiinput.py)
                if cut:
                    self.problem(f"{self.bar_beat(now)}  {cut}")
                    self.cut_off[(w.name, "went silent")] += 1
                was_gone = getattr(w, "gone", False)
                said = w.reconnect() if hasattr(w, "reconnect") else ""  # (a keyboard unplugged: replug.py)
                if said:
                    (self.problem if w.gone else self.say)(f"{self.bar_beat(now)}  {said}")
                    self.watched.extend(w.arrived() if hasattr(w, "arrived") else ())  # (devices plugged in: replug.py)
                    if w.gone and not was_gone:
                        self.cut_off[(w.name, "unplugged")] += 1
                    if not w.gone and w in self.sinks:
                        self.output.output_back(w)
                if not w.alive():
                    self.problem(getattr(w, "failed", "") or f"MIDI port {w.name!r} disappeared (unplugged, or its "
                                 "program quit): the session ends here; plug it back in and start again "
                                 "(`improv ports` lists the ports)")
                    self.stop("port gone")
        self.player.settle_knobs(now)
        if self._errors:
            self.stop(self._errors[0])
        self.show_status(now)

    @property
    def closed(self) -> bool:
        """`close` has finished: every note released, the recording written."""
        return self.closing and self.notes_released

    def close(self) -> None:
        """End cleanly (idempotent, calling thread): release every note the partner, the
        band or thru started, write the recording, finish the sinks (a MIDI port's last
        messages: its opener closes it; the synth is closed), then end the status line
        (a terminal stopped by Ctrl-S holds it: the music and the file do not wait for it)
        and stop the partner (killed if its process has not ended in half a second). Each step runs whatever
        the one before it raised."""
        close_session(self)

    def panic(self, stand_down: bool = True) -> None:
        """Silence everything the session started, at once (conductor thread). `stand_down`:
        the player slammed panic, so a call still being heard is not answered either; False: a
        MIDI loop was found, and the call being played is still the player's."""
        self.exchange.silence()
        if stand_down:
            self.policy.on_panic()
        if self.band is not None and self.in_time:
            beat = self.beat_at(self.clock.now())
            # a bar's breath, but in the count-in: its clicks go on from the next beat, so bar 1
            # comes where the player counted it (the rest of the count and bar 1's downbeat were lost)
            self.band.restart_at(math.ceil(beat - 1e-6) if beat < 0 else beat + self.bpb)
        self.player.release(record=False)
        self.output.silence()  # (and the band's sounds set again)

    # --- the partner (the exchange: improv/live/exchange.py) ------------------------
    def ask(self, call: Phrase, chart: Chart, start: float, length: float, t: float, *,
            cut: float | None = None, text: str = "") -> None:
        """Hand a call to the partner (conductor); see `Exchange.ask`."""
        self.exchange.ask(call, chart, start, length, t, cut=cut, text=text)

    def yield_to_player(self, t: float) -> None:
        """The player came back in: the partner stops at once (conductor)."""
        self.exchange.yield_to_player(t)

    def partner_busy(self) -> bool:
        """True while an answer is being computed, waiting to sound, or sounding."""
        return self.exchange.busy()

    @property
    def calls(self) -> int:
        return self.exchange.calls

    @property
    def answers(self) -> int:
        return self.exchange.answers

    @property
    def yields(self) -> int:
        return self.exchange.yields

    @property
    def failed_answers(self) -> int:
        return self.exchange.failed

    @property
    def ready_ms(self) -> deque[float]:
        return self.exchange.ready_ms

    @property
    def last_call_bars(self) -> int:
        return self.exchange.last_call_bars

    @last_call_bars.setter
    def last_call_bars(self, bars: int) -> None:
        self.exchange.last_call_bars = bars

    def send_all(self, msg: mido.Message, at: float | None = None) -> None:
        """To every sink (conductor or a scheduler thread); a failing sink ends the session.
        `at`: when a player's message arrived (the clock's seconds), see `Sink`."""
        if self.sinks:
            self.player.loop.sent(bytes(msg.bin()), self.clock.now())
        for sink in self.sinks:
            try:
                sink.send(msg, at)
            except Exception as e:  # noqa: BLE001
                if not self._errors:
                    self._errors.append(f"output failed: {e}")

    # --- display ---------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """True when no answer is being computed, pending or sounding."""
        return not self.partner_busy()

    @property
    def dropped(self) -> int:
        """Input messages dropped or unreadable, plus partner and band notes dropped as late.
        (Notes past a call's note cap are not: they were passed through and recorded, only not
        heard as part of the call; `policy.dropped` counts them.)"""
        return self.inq.dropped + self.player.malformed + self.late_dropped

    @property
    def late_dropped(self) -> int:
        """Partner and band notes dropped as late: at the send, or left out of an answer that
        came back after they were due."""
        return (self.scheduler.dropped + (self.band.scheduler.dropped if self.band is not None else 0)
                + self.exchange.left_out)

    def bar_beat(self, t: float) -> str:
        """"bar:beat" (from 1:1) of time `t`; a beat is reached within a microbeat, so that a
        beat given in beats and turned into seconds (`time_of`) reads back as itself."""
        beat = max(0.0, self.beat_at(t) + 1e-6)
        return f"{int(beat // self.bpb) + 1}:{int(beat % self.bpb) + 1}"

    def snapshot(self, now: float) -> Snapshot:
        """What the status line and the stage view show now (conductor): improv/live/snapshot.py."""
        return snapshot(self, now)

    def show_status(self, now: float, force: bool = False) -> None:
        """Bring the status line up to date, every round or now with `force` (conductor)."""
        if self.display is None:
            return
        state = session_state(self, self.beat_at(now) if self.in_time else self.shown_beat)
        changed = state != self._last_state
        self._last_state = state
        force = force or (changed and not self.display.tty)
        if force or self.display.due(now):  # the snapshot costs a sort: build it only when shown
            self.display.update(now, self.snapshot(now), force=force)

    def say(self, text: str) -> None:
        """A log line on the display (any thread)."""
        if self.display is not None:
            self.display.log(text)

    def problem(self, text: str) -> None:
        """A log line that the stage view also keeps among its recent errors (any thread)."""
        self.errors.append(text)
        self.say(text)

    def summary(self) -> str:
        """One line on how the session went (improv/live/snapshot.py)."""
        return summary(self)
