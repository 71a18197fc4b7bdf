"""Trading along the form: a count-in, then the player's N bars and the partner's N bars,
chorus after chorus, with the rhythm section (comp, bass, click) under both.

Threads: the conductor is whoever calls `run()`/`step()`: it drains the input (thru,
recording, the player's notes in beats), pumps the band and the partner's notes into
their schedulers, and, once the player's last beat begins (`Turn.compute_by`), asks the
responder for the answer (inline: the Markov responder answers in milliseconds; the
answer is handed over a beat before its first downbeat). The schedulers send on their
own threads. With `--clock external` the timeline follows the MIDI clock; its Stop
silences everything at once and Start begins again with the count-in.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Callable

import mido

from improv.config import Config
from improv.core.theory.chart import Chart
from improv.core.embrace.strategies import embraced_answer
from improv.core.embrace.explain import explain
from improv.core.theory.form import PARTNER, TradingForm, count_in_bars
from improv.core.theory.notes import Phrase
from improv.core.respond.base import AnswerSettings, Responder, SessionMemory
from improv.live.band import Band, BandParts, BeatFeeder, phrase_notes
from improv.live.clock import Clock
from improv.live.controls import ControlEvent, ControlMap, adjust
from improv.live.midisync import ExternalClock, FixedTimeline
from improv.live.ports import InputQueue
from improv.live.scheduler import Scheduler
from improv.live.conductor import install_signal_handlers, run_conductor

log = logging.getLogger("improv.trade")
LEAD_S = 0.25  # from start() to the first count-in beat


class TradeSession:
    """One trading session. Build it, then `run()` it (or `start()` and `step()` in tests).

    Args:
        cfg: the settings ([band] trade_bars, comp, bass, click, channels).
        clock: the session clock.
        inq: the player's input hand-off.
        sinks: where all notes go.
        responder: the partner.
        chart: the tune.
        external: an `ExternalClock` to follow, or None for improv's own time.
        recorder_factory: called with (t0, chart) at start, or None.
        say: where status lines go.
        seed: the base seed.
    """

    def __init__(self, cfg: Config, clock: Clock, inq: InputQueue, sinks: list[Any], responder: Responder,
                 chart: Chart, *, external: ExternalClock | None = None,
                 recorder_factory: Callable[[float, Chart | None], Any] | None = None,
                 say: Callable[[str], None] = lambda s: None, seed: int = 0, threaded: bool = True) -> None:
        self.cfg, self.clock, self.inq, self.sinks = cfg, clock, inq, list(sinks)
        self.responder, self.chart, self.external, self.say, self.seed = responder, chart, external, say, seed
        self.threaded = threaded
        b = cfg.band
        self.bpb = chart.beats_per_bar
        n = b.trade_bars if b.trade_bars > 0 else 4
        self.form = TradingForm(chart, n, count_in_bars(cfg.timing.tempo))
        self.tempo = cfg.timing.tempo
        self.player_ch, self.partner_ch = cfg.midi.player_channel - 1, cfg.midi.partner_channel - 1
        self.timeline: Any = None
        self.band: Band | None = None
        self.partner = Scheduler(clock, self._send_all, late_threshold_ms=cfg.timing.late_threshold_ms,
                                 on_sent=lambda m, t: self._record("partner", m, t))
        self.feeder: BeatFeeder | None = None
        self._recorder_factory = recorder_factory
        self.recorder: Any = None
        self.player_notes: list[tuple[float, int, int, float]] = []  # (beat, pitch, velocity, dur)
        self._open: dict[int, tuple[float, int]] = {}
        self._thru: set[tuple[int, int]] = set()
        self._answered: set[int] = set()
        self.memory = SessionMemory()  # the turns so far, read by the model before each call
        self.answers: list[tuple[int, Phrase]] = []
        self._last_bar = None
        self.stop_reason = ""
        self._started = self._closed = False
        self.running = external is None
        from improv.live.midisync import TapTempo

        self.controls = ControlMap.from_settings(cfg.controls)
        self.tap = TapTempo()

    # --- time --------------------------------------------------------------------------
    def beat_now(self) -> float:
        return self.timeline.beat_at(self.clock.now())

    def start(self) -> None:
        """Fix the timeline (internal clock: the count-in starts LEAD_S from now) and start
        the schedulers."""
        now = self.clock.now()
        if self.external is None:
            t_first = now + LEAD_S
            self.timeline = FixedTimeline(t_first + 60.0 / self.tempo * -self.form.start, self.tempo,
                                          self.cfg.timing.swing)
        else:
            self.timeline = self.external.timeline
            self.timeline.offset = self.form.start
            self.timeline.swing = self.cfg.timing.swing
        b = self.cfg.band
        parts = BandParts(comp=b.comp, bass=b.bass, click=b.click, comp_channel=b.comp_channel - 1,
                          bass_channel=b.bass_channel - 1, click_channel=b.click_channel - 1)
        from improv.core.band.comping import CompSettings

        parts.comp_settings = CompSettings(style=b.comp_style)
        # Notes become seconds this many beats before they sound: late enough, with an
        # external clock, that a tempo change is already in the fit.
        lookahead = 1.0 if self.external is None else 0.125
        self.band = Band(self.chart, self.clock, self._send_all, self.timeline, parts, seed=self.seed,
                         start_beat=self.form.start, on_sent=lambda m, t: self._record("partner", m, t),
                         late_threshold_ms=self.cfg.timing.late_threshold_ms, lookahead=lookahead)
        self.feeder = BeatFeeder(self.partner, self.timeline, lookahead=lookahead)
        if self._recorder_factory is not None:
            self.recorder = self._recorder_factory(self.timeline.time_of(0.0), self.chart)
        if self.threaded:
            self.band.start()
            self.partner.start()
        self._started = True
        self.say(f"trading {self.form.trade_bars} bars over {self.chart.title or 'the chart'} "
                 f"({self.chart.bars} bars) at {self.tempo:g} bpm; count-in {self.form.count_in} bar(s)")

    # --- the loop ----------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Ask the session to end (any thread, signal handlers too)."""
        if not self.stop_reason:
            self.stop_reason = reason

    def run(self, duration: float | None = None, until: Callable[[], bool] | None = None) -> str:
        """The conductor loop (`run_conductor`, shared with the free jam); returns why it stopped."""
        return run_conductor(self, duration, until)

    def step(self) -> None:
        """One conductor round (conductor thread)."""
        if not self.threaded:
            self.inq.drain(self._handle)
        if self.external is not None:
            for ev in self.external.poll():
                self._on_clock(ev)
            if not self.running or self.timeline.tempo is None:
                return
        now_beat = self.beat_now()
        assert self.band is not None and self.feeder is not None
        self.band.set_density(self._density(now_beat))
        self.band.pump(now_beat)
        self._maybe_answer(now_beat)
        self.feeder.pump(now_beat)
        if not self.threaded:
            self.band.scheduler.poll()
            self.partner.poll()
        bar = int((now_beat - self.form.start) // self.bpb)
        if bar != self._last_bar:
            self._last_bar = bar
            pos = self.form.position(max(now_beat, self.form.start))
            chord = self.chart.chord_at(max(0.0, now_beat))
            self.say(f"{pos.label()}  {chord if chord and now_beat >= 0 else ''}".rstrip())

    def _on_clock(self, ev: Any) -> None:
        """External Start/Stop/Continue (conductor thread)."""
        if ev.kind == "stop":
            self.running = False
            self._silence()
            self.say("clock stopped: silence")
        elif ev.kind in ("start", "continue"):
            self.running = True
            beat = ev.beat + self.form.start
            if ev.kind == "start":
                self.player_notes.clear()
                self._answered.clear()
            assert self.band is not None
            self.band.restart_at(beat)
            self.say(f"clock {ev.kind}: from beat {beat:g}")

    def _silence(self) -> None:
        if self.band is not None:
            self.band.stop()
        if self.feeder is not None:
            self.feeder.clear()
        self.partner.cancel()

    def _density(self, now_beat: float) -> float:
        recent = [b for b, *_ in self.player_notes[-64:] if now_beat - 4.0 <= b <= now_beat]
        return len(recent) / 4.0

    def _maybe_answer(self, now_beat: float) -> None:
        if now_beat < 0:
            return
        turn = self.form.next_turn(now_beat - self.form.turn_beats, PARTNER)
        while turn.start <= now_beat:  # a partner turn already under way was too late
            self._answered.add(turn.index)
            turn = self.form.next_turn(turn.end, PARTNER)
        if turn.index in self._answered or now_beat < turn.compute_by:
            return
        self._answered.add(turn.index)
        call_start = turn.start - self.form.turn_beats
        notes = [(p, b - call_start, max(d, 0.05), v) for b, p, v, d in self.player_notes
                 if call_start <= b < turn.start]
        for p, (b, v) in self._open.items():  # still held: up to now
            if call_start <= b < turn.start:
                notes.append((p, b - call_start, max(now_beat - b, 0.05), v))
        call = Phrase.of(notes, start=call_start, length=self.form.turn_beats)
        r = self.cfg.responder
        settings = AnswerSettings(start=turn.start, length=self.form.turn_beats, seed=self.seed + turn.index,
                                  temperature=r.temperature, top_p=r.top_p, low=r.low, high=r.high,
                                  beats_per_bar=self.bpb)
        try:
            if len(call):
                self.responder.learn(call, self.chart)
            answer, plan = embraced_answer(self.responder, call, self.chart, self.memory.with_history(settings),
                                           self.cfg.embrace)
        except Exception as e:  # noqa: BLE001 - one failed answer must not end the session
            log.warning("the partner could not answer turn %d: %s", turn.index, e)
            return
        answer = Phrase.of([n for n in answer.notes if n.start < self.form.turn_beats - 1e-9],
                           start=turn.start, length=self.form.turn_beats)
        self.answers.append((turn.index, answer))
        self.memory.add(call, answer)
        assert self.feeder is not None
        self.feeder.add(phrase_notes(answer, self.partner_ch))
        if self.recorder is not None:
            self.recorder.marker(f"partner turn {turn.index}", self.timeline.time_of(turn.start))
        for line in explain(plan, self.chart):
            self.say(line)
            if self.recorder is not None:
                self.recorder.marker(line, self.timeline.time_of(turn.start))
        if plan.chart is not self.chart and self.band is not None:  # the rhythm section plays the substitute too
            self.band.override(turn.start, turn.end, plan.chart)

    # --- the player --------------------------------------------------------------------
    def _handle(self, t: float, data: list[int]) -> None:
        try:
            msg = mido.Message.from_bytes(data)
        except (ValueError, TypeError, IndexError):
            return
        if not hasattr(msg, "channel"):
            return
        if self.controls.bound(data):
            ev = self.controls.event(data)
            if ev is not None:
                self._control(ev, t)
            return
        msg = msg.copy(channel=self.player_ch)
        if self.cfg.midi.thru:
            if msg.type == "note_on" and msg.velocity > 0:
                self._thru.add((msg.channel, msg.note))
            elif msg.type in ("note_on", "note_off"):
                self._thru.discard((msg.channel, msg.note))
            self._send_all(msg)
        self._record("player", msg, t)
        if self.timeline is None or not self.running:
            return
        beat = self.timeline.beat_at(t)
        if msg.type == "note_on" and msg.velocity > 0:
            self._open[msg.note] = (beat, msg.velocity)
        elif msg.type in ("note_on", "note_off") and msg.note in self._open:
            b, v = self._open.pop(msg.note)
            self.player_notes.append((b, msg.note, v, beat - b))

    def _control(self, ev: ControlEvent, t: float) -> None:
        """A live control moved (conductor thread)."""
        action = ev.action
        changed = adjust(ev, self.cfg)
        if changed is not None and action != "answer_length":
            self.cfg, text = changed
            self.say(text)
        elif action == "panic":
            self._silence()
            for ch in range(16):
                self._send_all(mido.Message("control_change", channel=ch, control=123, value=0))
            if self.band is not None:
                self.band.restart_at(self.beat_now() + self.bpb)
            self.say("panic: all notes off")
        elif action in ("comp", "bass") and self.band is not None:
            on = not getattr(self.band.parts, action)
            self.band.set_part(action, on)
            self.say(f"{action} {'on' if on else 'off'}")
        elif action == "tap" and isinstance(self.timeline, FixedTimeline):
            bpm = self.tap.tap(t)
            if bpm is not None:
                self.timeline.set_tempo(bpm, t)
                self.tempo = bpm
                self.say(f"tempo {bpm:.1f} bpm (tapped)")
        else:
            self.say(f"{action} is not used while trading")

    def _record(self, part: str, msg: mido.Message, t: float) -> None:
        if self.recorder is not None:
            self.recorder.event(part, msg, t)

    def _send_all(self, msg: mido.Message) -> None:
        for sink in self.sinks:
            try:
                sink.send(msg)
            except Exception as e:  # noqa: BLE001
                if not self.stop_reason:
                    self.stop_reason = f"output failed: {e}"

    def close(self) -> None:
        """Every exit path: all notes off (band, partner, thru), sinks closed, file written."""
        if self._closed:
            return
        self._closed = True
        if self.band is not None:
            self.band.close()
        self.partner.close()
        now = self.clock.now()
        for ch, pitch in sorted(self._thru):
            msg = mido.Message("note_off", channel=ch, note=pitch, velocity=0)
            self._send_all(msg)
            self._record("player", msg, now)
        self._thru.clear()
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:  # noqa: BLE001
                log.warning("closing %s failed: %s", type(sink).__name__, e)
        if self.recorder is not None:
            self.recorder.close()


def run_trading(cfg: Config, args: argparse.Namespace) -> int:
    """`improv jam --trade-bars N` (and `--comp/--bass/--click/--clock`): the command's body."""
    from improv.commands.common import chart_from_config
    from improv.commands.jam import open_sinks, recorder_factory
    from improv.errors import ConfigError
    from improv.live.clock import RealClock
    from improv.live.midisync import open_clock_input
    from improv.live.ports import open_input
    from improv.partner.build import make_responder

    chart = chart_from_config(cfg)
    if chart is None:
        raise ConfigError("trading follows a tune's form: give --tune NAME or --chords \"...\"")
    clock = RealClock(cfg.timing.spin_ms)
    inq = InputQueue(clock)
    say = lambda s: print(s, file=sys.stderr)  # noqa: E731
    midi_in = open_input(inq, cfg.midi.api, port=cfg.midi.input, virtual=getattr(args, "virtual_in", None) or "",
                         default_virtual=cfg.midi.virtual_in)
    external = None
    try:
        if cfg.band.clock == "external":
            external = open_clock_input(clock, cfg.midi.api, cfg.band.clock_in)
            say(f"following MIDI clock on {external.name!r}: press play in your DAW")
        sinks = open_sinks(cfg, say)
        responder = make_responder(cfg.responder)
        seed = cfg.responder.seed if cfg.responder.seed >= 0 else int(getattr(responder, "seed", 0) or 0)
        session = TradeSession(cfg, clock, inq, sinks, responder, chart, external=external,
                               recorder_factory=recorder_factory(cfg), say=say, seed=seed)
        restore = install_signal_handlers(session)  # Ctrl-C and SIGTERM end it cleanly
        try:
            reason = session.run(duration=getattr(args, "duration", None))
        finally:
            restore()
    finally:
        midi_in.close()
        if external is not None:
            external.close()
    say(f"session ended ({reason}): {len(session.answers)} partner turn(s)")
    return 1 if reason.startswith("output failed") else 0
