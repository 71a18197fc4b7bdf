"""The live session: the player's notes in, the partner's answers out, on the beat.

Data flows one way (see ../shared/STYLE.md):

    port callback -> InputQueue -> conductor: thru to the sinks, segmenter (+ harmony)
        -> responder worker (learn, answer) -> Scheduler -> sinks
    with the recorder hearing the player (arrival times) and the partner (send times).

Threads: the conductor is whoever calls `run()` (the main thread in `improv jam`); the
responder works on "improv-responder" (between calls it reads the session so far, and the
call under way in the player's rests: improv/partner/readahead.py); the scheduler on
"improv-scheduler". Timeline:
beat 0 is `t0` (bar 1 of the chart, which loops); beats map to seconds through the tempo
and the swing ratio. Every exit path ends in `close()`: note-offs for every note the
partner or the passthrough started, then the recorder's file.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Protocol

import mido

from improv.config import Config
from improv.core.theory.chart import Chart, single_chord_chart
from improv.core.embrace.strategies import AnswerPlan, EmbraceSettings, embraced_answer
from improv.core.embrace.explain import explain
from improv.core.listen.harmony import HarmonyTracker
from improv.core.theory.notes import Phrase, pitch_name, seconds_to_beats
from improv.core.respond.base import AnswerSettings, Responder, SessionMemory
from improv.core.listen.segment import Call, Segmenter, SegmentSettings
from improv.errors import ConfigError, ImprovError
from improv.live.band import Band, BandParts
from improv.live.clock import Clock
from improv.live.conductor import run_conductor
from improv.live.controls import ControlEvent, ControlMap, adjust
from improv.live.midisync import ClockSender, ExternalClock, FixedTimeline, TapTempo
from improv.live.ports import InputQueue
from improv.partner.readahead import ReadAhead
from improv.live.scheduler import Scheduler, phrase_to_events
from improv.live.status import Display, Snapshot, percentile

log = logging.getLogger("improv.session")

ANSWER_LEAD_S = 0.06  # least time between noticing a call's end and its answer's first note
WATCH_EVERY_S = 0.5  # how often ports are checked for having vanished


class Sink(Protocol):
    """Where notes go: a MIDI output or the built-in synth."""

    def send(self, msg: mido.Message) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class _Job:
    number: int
    call: Call
    chart: Chart
    settings: AnswerSettings
    generation: int
    noticed: float  # seconds on the session clock
    embrace: EmbraceSettings  # the outside-note mode when the call ended


_READ = "read"  # a job-queue marker: read the call under way (`ReadAhead.run`)


def segment_settings(cfg: Config) -> SegmentSettings:
    """The call segmenter's settings from the config, checked (the jam calls this before it
    opens any port, so a bad value is reported first).

    Raises:
        ConfigError: a timing, phrase or channel value out of range, named.
    """
    t, p = cfg.timing, cfg.phrase
    if not (t.tempo > 0 and t.swing > 0 and t.beats_per_bar > 0):
        raise ConfigError(f"timing: tempo, swing and beats_per_bar must be > 0, found {t.tempo:g}, "
                          f"{t.swing:g}, {t.beats_per_bar}")
    for key in ("player_channel", "partner_channel"):
        if not 1 <= getattr(cfg.midi, key) <= 16:
            raise ConfigError(f"midi.{key}: expected 1-16, found {getattr(cfg.midi, key)}")
    try:
        return SegmentSettings(
            gap_beats=p.gap_beats, end_cc=p.end_cc, max_call_bars=p.max_call_bars, answer_on=p.answer_on,
            answer_bars=p.answer_bars, max_answer_bars=p.max_answer_bars, beats_per_bar=t.beats_per_bar,
            lead_beats=seconds_to_beats(ANSWER_LEAD_S, t.tempo))
    except ValueError as e:
        raise ConfigError(f"phrase: {e}") from None


class Session:
    """One jam. Build it, then `run()` it (or `start()` and `step()` it in tests).

    Args:
        cfg: the settings.
        clock: the session clock.
        inq: the input hand-off the port callback (or a scripted player) feeds.
        sinks: where thru and partner notes go (may be empty: record only).
        responder: the partner.
        chart: the chart to play over, or None to infer the harmony live.
        recorder_factory: called with t0 (and the chart) at start to make the recorder, or None.
        watched: ports checked for having vanished (objects with `name` and `alive()`).
        display: the terminal display, or None for silence.
        threaded: False runs the responder inline and sends due notes in `step()`, for tests
            with a ManualClock.
        seed: the base seed of the answers.
    """

    def __init__(
        self,
        cfg: Config,
        clock: Clock,
        inq: InputQueue,
        sinks: list[Sink],
        responder: Responder,
        *,
        chart: Chart | None = None,
        recorder_factory: Callable[[float, Chart | None], Any] | None = None,
        watched: list[Any] | None = None,
        display: Display | None = None,
        threaded: bool = True,
        seed: int = 0,
        external: ExternalClock | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.inq = inq
        self.sinks = list(sinks)
        self.responder = responder
        self.chart = chart
        self.watched = list(watched or [])
        self.display = display
        self.threaded = threaded
        self.seed = seed
        t = cfg.timing
        self.bpb = t.beats_per_bar
        self.player_ch = cfg.midi.player_channel - 1
        self.partner_ch = cfg.midi.partner_channel - 1
        self.segmenter = Segmenter(segment_settings(cfg))
        self.harmony = HarmonyTracker(beats_per_bar=self.bpb)
        self.scheduler = Scheduler(clock, self._send_partner, late_threshold_ms=t.late_threshold_ms,
                                   late_policy=t.late_policy, on_sent=self._partner_sent)
        self._recorder_factory = recorder_factory
        self.recorder: Any = None
        self.record_path: Any = None
        self.t0 = 0.0
        # beats <-> seconds, shared with the band: improv's own time, or a DAW's MIDI clock
        self.external = external
        self.timeline: Any = FixedTimeline(0.0, t.tempo, t.swing)
        if external is not None:
            self.timeline = external.timeline
            self.timeline.swing = t.swing
        self.running = external is None  # an external clock runs from its Start
        self.controls = ControlMap.from_settings(cfg.controls)
        self.tap = TapTempo()
        self.band: Band | None = None
        self.clock_sender: ClockSender | None = None
        self._band_overrides: deque[tuple[float, float, Chart]] = deque()  # responder -> conductor
        self._recent_onsets: deque[float] = deque(maxlen=64)  # player onsets (beats), for the band's density
        self.calls = self.answers = self.yields = self.malformed = self.failed_answers = 0
        self.memory = SessionMemory()  # calls and answers so far (responder thread only)
        self.last_call_bars = 0
        self.ready_ms: deque[float] = deque(maxlen=10_000)  # call noticed -> answer scheduled
        self.thru_ms: deque[float] = deque(maxlen=100_000)  # player message arrival -> sent on
        self.stop_reason = ""
        self._started = self._closed = False
        self._onsets: dict[int, tuple[float, int]] = {}
        self._thru_sounding: set[tuple[int, int]] = set()
        self._jobs: queue.Queue[_Job | str | None] = queue.Queue(maxsize=8)
        self.read_ahead = ReadAhead(responder, self.memory, self._post_read if threaded else None)
        self._chord_charts: dict[Any, Chart] = {}
        self._in_flight = 0
        self._flight_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._next_watch = 0.0
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
        """Warm the responder up, fix beat 0 at now, start the threads (calling thread)."""
        if self._started:
            return
        self._warm_up()
        self.t0 = self.clock.now()
        if self.external is None:
            self.timeline.t0 = self.t0
        if self._recorder_factory is not None:
            self.recorder = self._recorder_factory(self.t0, self.chart)
        self.band = self._make_band()
        if self.cfg.band.send_clock and self.external is None:  # a DAW or drum machine follows improv's beat
            self.clock_sender = ClockSender(self.clock, self._send_all, self.tempo, start=self.t0)
        if self.threaded:
            self.scheduler.start()
            if self.band is not None:
                self.band.start()
            if self.clock_sender is not None:
                self.clock_sender.start_thread()
            self._worker = threading.Thread(target=self._work_loop, name="improv-responder", daemon=True)
            self._worker.start()
        self._started = True
        self._say(f"jamming at {self.tempo:g} bpm over {self._harmony_text(0.0, chart_name=True)}; "
                  f"partner: {getattr(self.responder, 'name', type(self.responder).__name__)}")

    def _make_band(self) -> Band | None:
        """The rhythm section under the free jam (`--comp`, `--bass`, `--click`), or None."""
        b = self.cfg.band
        if not (b.comp or b.bass or b.click):
            return None
        if self.chart is None:
            self._say("comping and bass follow a chart: give --tune or --chords to hear them")
            return None
        from improv.core.band.comping import CompSettings

        parts = BandParts(comp=b.comp, bass=b.bass, click=b.click, comp_channel=b.comp_channel - 1,
                          bass_channel=b.bass_channel - 1, click_channel=b.click_channel - 1,
                          comp_settings=CompSettings(style=b.comp_style))
        return Band(self.chart, self.clock, self._send_all, self.timeline, parts, seed=self.seed,
                    on_sent=self._partner_sent, late_threshold_ms=self.cfg.timing.late_threshold_ms)

    def _warm_up(self) -> None:
        """One throw-away answer, so the first real one pays no import or compile costs."""
        call = Phrase.of([(60, 0.0, 0.5), (64, 0.5, 0.5), (67, 1.0, 1.0)])
        chart = self.chart or single_chord_chart(None, self.bpb)
        try:
            self.responder.answer(call, chart, self._answer_settings(4.0, 4.0, 0))
        except Exception as e:  # noqa: BLE001 - a responder that cannot answer is reported per call
            log.warning("partner warm-up failed: %s", e)

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
            self.inq.drain(self._handle)
        now = self.clock.now()
        if self.external is not None:
            for ev in self.external.poll():
                self._on_clock(ev.kind, ev.beat, now)
        if self.in_time:
            call = self.segmenter.tick(self.beat_at(now))
            if call is not None:
                self._on_call(call, now)
            elif self.read_ahead.enabled:
                self.read_ahead.in_rest(self.segmenter, self.beat_at(now), self._chart_now)
            if self.band is not None:
                self._pump_band(now)
        if not self.threaded:
            self.scheduler.poll()
            if self.band is not None:
                self.band.scheduler.poll()
            if self.clock_sender is not None:
                self.clock_sender.run_until(now + 1e-9)
        if now >= self._next_watch:
            self._next_watch = now + WATCH_EVERY_S
            for w in self.watched:
                if not w.alive():
                    self._say(getattr(w, "failed", "") or f"MIDI port {w.name!r} disappeared")
                    self.stop("port gone")
        if self._errors:
            self.stop(self._errors[0])
        self._show(now)

    def close(self) -> None:
        """End cleanly (idempotent, calling thread): stop the threads, release every note
        the partner or thru started, close the sinks, write the recording."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._drain_jobs()
            self._jobs.put(None)
            self._worker.join(timeout=5.0)
        self.scheduler.close()  # note-offs for sounding partner notes (recorded)
        if self.band is not None:
            self.band.close()  # and for the rhythm section's
        if self.clock_sender is not None:
            self.clock_sender.stop()  # MIDI Stop: a following DAW stops too
        now = self.clock.now()
        for ch, pitch in sorted(self._thru_sounding):
            msg = mido.Message("note_off", channel=ch, note=pitch, velocity=0)
            self._send_all(msg)
            if self.recorder is not None:
                self.recorder.event("player", msg, now)
        self._thru_sounding.clear()
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:  # noqa: BLE001 - closing the others matters more
                log.warning("closing %s failed: %s", type(sink).__name__, e)
        if self.recorder is not None:
            self.record_path = self.recorder.close()
        if self._started and self.display is not None:
            self._show(now, force=True)
            self.display.finish()

    def _drain_jobs(self) -> None:
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                return

    # --- the player ------------------------------------------------------------------
    def _handle(self, t: float, data: list[int]) -> None:
        """One input message that arrived at `t` seconds (conductor thread)."""
        try:
            msg = mido.Message.from_bytes(data)
        except (ValueError, TypeError, IndexError):
            self.malformed += 1  # truncated, bad status, data bytes out of range
            return
        if not hasattr(msg, "channel"):
            return  # clock, start/stop, song position: not the player's music
        if self.controls.bound(data):  # a knob or pad bound in [controls]: not music
            ev = self.controls.event(data)
            if ev is not None:
                self._control(ev, t)
            return
        msg = msg.copy(channel=self.player_ch)
        if self.cfg.midi.thru:
            self._thru(msg)
            self.thru_ms.append((self.clock.now() - t) * 1000.0)
        if self.recorder is not None:
            self.recorder.event("player", msg, t)
        if not self.in_time:
            return  # before the DAW's Start: thru and the recording only
        beat = self.beat_at(t)
        call = None
        if msg.type == "note_on" and msg.velocity > 0:
            call = self.segmenter.note_on(msg.note, beat, msg.velocity)
            self._onsets[msg.note] = (beat, msg.velocity)
            self._recent_onsets.append(beat)
            if call is not None:
                self._on_call(call, t)
                call = None
            if self.cfg.phrase.on_interrupt == "yield" and self._partner_busy():
                self._yield(t)
        elif msg.type in ("note_on", "note_off"):
            call = self.segmenter.note_off(msg.note, beat)
            onset = self._onsets.pop(msg.note, None)
            if onset is not None:
                self.harmony.add(msg.note, onset[0], max(beat - onset[0], 0.0), onset[1])
        elif msg.type == "control_change":
            call = self.segmenter.control(msg.control, msg.value, beat)
        if call is not None:
            self._on_call(call, t)

    def _control(self, ev: ControlEvent, t: float) -> None:
        """A knob, pedal or pad bound in [controls] moved (conductor thread)."""
        changed = adjust(ev, self.cfg)
        if changed is not None:
            self.cfg, text = changed
            if ev.action == "answer_length":
                self.segmenter.s = replace(self.segmenter.s, answer_bars=self.cfg.phrase.answer_bars)
        elif ev.action in ("comp", "bass"):
            if self.band is None:
                text = f"{ev.action}: no rhythm section (start with --comp/--bass and a chart)"
            else:
                on = not getattr(self.band.parts, ev.action)
                self.band.set_part(ev.action, on)
                text = f"{ev.action} {'on' if on else 'off'}"
        elif ev.action == "end_of_call":
            call = self.segmenter.end_call(self.beat_at(t))
            if call is not None:
                self._on_call(call, t)
            text = "end of call"
        elif ev.action == "panic":
            self._panic()
            text = "panic: all notes off"
        elif ev.action == "tap":
            if self.external is not None:
                return  # the DAW keeps the tempo
            bpm = self.tap.tap(t)
            if bpm is None:
                return
            self.timeline.set_tempo(bpm, t)
            if self.clock_sender is not None:
                self.clock_sender.set_tempo(bpm, t)
            if self.recorder is not None:
                self.recorder.tempo(bpm, t)
            text = f"tempo {bpm:.1f} bpm (tapped)"
        else:
            return
        self._say(f"{self._bar_beat(t)}  {text}")

    def _on_clock(self, kind: str, beat: float, now: float) -> None:
        """The external clock's Start, Stop or Continue (conductor thread)."""
        if kind == "stop":
            self.running = False
            self.scheduler.cancel()  # silence the partner at once
            if self.band is not None:
                self.band.stop()
            self.segmenter = Segmenter(self.segmenter.s)  # a call cut by Stop is not answered
            self._say("clock stopped: silence")
        elif kind in ("start", "continue"):
            self.running = True
            if self.band is not None:
                self.band.restart_at(beat)
            self._say(f"clock {kind}: from bar {int(beat // self.bpb) + 1}")

    def _panic(self) -> None:
        """Silence everything the session started, at once (conductor thread)."""
        self.scheduler.cancel()
        if self.band is not None and self.in_time:
            self.band.restart_at(self.beat_at(self.clock.now()) + self.bpb)
        for ch, pitch in sorted(self._thru_sounding):
            self._send_all(mido.Message("note_off", channel=ch, note=pitch, velocity=0))
        self._thru_sounding.clear()
        for ch in range(16):
            self._send_all(mido.Message("control_change", channel=ch, control=123, value=0))

    def _pump_band(self, now: float) -> None:
        """Hand the rhythm section its next notes (conductor thread)."""
        assert self.band is not None
        while self._band_overrides:
            self.band.override(*self._band_overrides.popleft())
        beat = self.beat_at(now)
        while self._recent_onsets and self._recent_onsets[0] < beat - 4.0:
            self._recent_onsets.popleft()
        self.band.set_density(len(self._recent_onsets) / 4.0)
        self.band.pump(beat)

    def _thru(self, msg: mido.Message) -> None:
        if msg.type == "note_on" and msg.velocity > 0:
            self._thru_sounding.add((msg.channel, msg.note))
        elif msg.type in ("note_on", "note_off"):
            self._thru_sounding.discard((msg.channel, msg.note))
        self._send_all(msg)

    def _partner_busy(self) -> bool:
        with self._flight_lock:
            pending = self._in_flight > 0
        return pending or self.scheduler.busy()

    def _yield(self, t: float) -> None:
        self.scheduler.cancel()
        self.yields += 1
        if self.recorder is not None:
            self.recorder.marker("partner yields", t)
        self._say(f"{self._bar_beat(t)}  you came back in: partner yields")

    # --- the partner -----------------------------------------------------------------
    def _answer_settings(self, start: float, length: float, number: int) -> AnswerSettings:
        r = self.cfg.responder
        return AnswerSettings(start=start, length=length, seed=self.seed + number, temperature=r.temperature,
                              top_p=r.top_p, low=r.low, high=r.high, beats_per_bar=self.bpb)

    def _chart_now(self) -> Chart:
        """The chart an answer plays over: the session's, or the chord inferred so far (the
        same Chart object for the same chord, so the responder's caches hold)."""
        if self.chart is not None:
            return self.chart
        chord = self.harmony.current()[0]
        chart = self._chord_charts.get(chord)
        if chart is None:
            if len(self._chord_charts) > 256:
                self._chord_charts.clear()
            chart = self._chord_charts[chord] = single_chord_chart(chord, self.bpb)
        return chart

    def _post_read(self) -> bool:
        """Ask the responder thread to read the call under way (conductor thread)."""
        try:
            self._jobs.put_nowait(_READ)
            return True
        except queue.Full:
            return False

    def _on_call(self, call: Call, t: float) -> None:
        """A call ended (conductor thread): hand it to the responder."""
        self.calls += 1
        self.last_call_bars = call.bars
        chart = self._chart_now()
        job = _Job(self.calls, call, chart, self._answer_settings(call.answer_start, call.answer_length, self.calls),
                   self.scheduler.generation, t, self.cfg.embrace)
        if self.recorder is not None:
            self.recorder.marker(f"call {job.number}: {call.bars} bar(s), {len(call.phrase)} notes", t)
        self._say(f"{self._bar_beat(t)}  heard call {job.number}: {call.bars} bar(s), {len(call.phrase)} notes; "
                  f"answering at {self._bar_beat(self.time_of(call.answer_start))} for "
                  f"{int(call.answer_length // self.bpb)} bar(s)")
        if not self.threaded:
            with self._flight_lock:
                self._in_flight += 1
            self._work(job)
            return
        try:
            with self._flight_lock:
                self._in_flight += 1
            self._jobs.put_nowait(job)
        except queue.Full:
            with self._flight_lock:
                self._in_flight -= 1
            log.warning("the partner is still thinking about earlier calls: call %d is not answered", job.number)

    def _work_loop(self) -> None:
        """The responder thread: learn and answer, one call at a time."""
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job is _READ:
                self.read_ahead.run()
            else:
                self._work(job)  # type: ignore[arg-type]

    def _work(self, job: _Job) -> None:
        try:
            self.responder.learn(job.call.phrase, job.chart)
            settings = self.memory.with_history(job.settings)
            answer, plan = embraced_answer(self.responder, job.call.phrase, job.chart, settings, job.embrace)
            ready = self.clock.now()
            self.ready_ms.append((ready - job.noticed) * 1000.0)
            answer = replace(answer, start=job.settings.start) if answer.start != job.settings.start else answer
            events = phrase_to_events(answer, self.time_of, self.partner_ch)
            if self.scheduler.play(events, generation=job.generation):
                self.answers += 1
                self._explain(plan, job.chart, answer)
                names = " ".join(pitch_name(n.pitch, flats=True) for n in answer.notes[:8])
                self._say(f"{self._bar_beat(self.time_of(answer.start))}  answer {job.number}: {len(answer)} notes "
                          f"({names}{' ...' if len(answer) > 8 else ''}), ready in {self.ready_ms[-1]:.1f} ms")
                if self.recorder is not None:
                    self.recorder.marker(f"answer {job.number}: {len(answer)} notes", self.time_of(answer.start))
                if events and events[0][0] < ready:
                    log.warning("answer %d was ready %.0f ms after its first note was due",
                                job.number, (ready - events[0][0]) * 1000.0)
                self.memory.add(job.call.phrase, answer)
            else:
                self.memory.add(job.call.phrase)
            self.memory.prime(self.responder, job.chart)  # read the session so far before the next call
        except ImprovError as e:
            self.failed_answers += 1
            log.warning("the partner could not answer call %d: %s", job.number, e)
        except Exception as e:  # noqa: BLE001 - one bad answer must not end the jam
            self.failed_answers += 1
            log.exception("the partner could not answer call %d: %s", job.number, e)
        finally:
            with self._flight_lock:
                self._in_flight -= 1

    def _explain(self, plan: AnswerPlan, chart: Chart, answer: Phrase) -> None:
        """Say what the answer does with the player's outside note (status log and a
        marker in the recording), and let the rhythm section play a substitute chord
        (responder thread; the band hears of it on the conductor thread)."""
        if not plan.handled:
            return
        t = self.time_of(answer.start)
        for line in explain(plan, chart):
            self._say(line)
            if self.recorder is not None:
                self.recorder.marker(line, t)
        if plan.chart is not chart and self.band is not None:
            self._band_overrides.append((answer.start, answer.end, plan.chart))

    def _send_partner(self, msg: mido.Message) -> None:
        self._send_all(msg)

    def _partner_sent(self, msg: mido.Message, t: float) -> None:
        if self.recorder is not None:
            self.recorder.event("partner", msg, t)

    def _send_all(self, msg: mido.Message) -> None:
        """To every sink (conductor or scheduler thread); a failing sink ends the session."""
        for sink in self.sinks:
            try:
                sink.send(msg)
            except Exception as e:  # noqa: BLE001
                if not self._errors:
                    self._errors.append(f"output failed: {e}")

    # --- display ---------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """True when no answer is being computed, pending or sounding."""
        return not self._partner_busy()

    @property
    def dropped(self) -> int:
        """Input messages dropped or unreadable, plus partner notes dropped as late."""
        return self.inq.dropped + self.malformed + self.segmenter.dropped + self.scheduler.dropped

    def _bar_beat(self, t: float) -> str:
        beat = max(0.0, self.beat_at(t))
        return f"{int(beat // self.bpb) + 1}:{int(beat % self.bpb) + 1}"

    def _harmony_text(self, beat: float, chart_name: bool = False) -> str:
        if self.chart is not None:
            if chart_name:
                return f"{self.chart.title or 'the chart'} ({self.chart.bars} bars, looping)"
            chord = self.chart.chord_at(beat)
            return str(chord) if chord is not None else "N.C."
        if chart_name:
            return "harmony inferred from your playing"
        chord, key = self.harmony.current()
        return " ".join(x for x in (str(chord) if chord else "", f"({key})" if key else "") if x)

    def snapshot(self, now: float) -> Snapshot:
        beat = max(0.0, self.beat_at(now))
        med, p99, n = self.scheduler.timing_ms(last=500)
        return Snapshot(self.tempo, int(beat // self.bpb) + 1, int(beat % self.bpb) + 1,
                        self._state(), self._harmony_text(self.beat_at(now)),
                        self.last_call_bars, med, p99, n, self.dropped, self._mode_text())

    def _state(self) -> str:
        if not self.in_time:
            return "waiting"  # for the external clock's Start
        return "answering" if self._partner_busy() else "listening"

    def _mode_text(self) -> str:
        e = self.cfg.embrace
        return e.mode if e.mode == "off" else f"{e.mode} {e.daring:.1f}"

    def _show(self, now: float, force: bool = False) -> None:
        if self.display is None:
            return
        state = self._state()
        changed = state != self._last_state
        self._last_state = state
        force = force or (changed and not self.display.tty)
        if force or self.display.due(now):  # the snapshot costs a sort: build it only when shown
            self.display.update(now, self.snapshot(now), force=force)

    def _say(self, text: str) -> None:
        if self.display is not None:
            self.display.log(text)

    def summary(self) -> str:
        """One line on how the session went."""
        med, p99, n = self.scheduler.timing_ms()
        return (f"{self.calls} call(s), {self.answers} answer(s), {self.yields} yield(s); partner timing "
                f"median {med:.2f} ms, p99 {p99:.2f} ms over {n} notes; answer ready p99 "
                f"{percentile(self.ready_ms, 0.99):.1f} ms; thru in-process p99 {percentile(self.thru_ms, 0.99):.2f} ms; "
                f"dropped {self.dropped} (queue {self.inq.dropped}, unreadable {self.malformed}, "
                f"late {self.scheduler.dropped})")
