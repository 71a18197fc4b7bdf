"""The free jam's policy over the session core: the player plays a phrase and stops; after
a silence (`--gap`) the partner answers on the next beat or bar, for as long as the call.

A call ends in the segmenter (improv/core/listen/segment.py); with no chart the harmony is
inferred from what the player plays. In the player's rests the call so far is handed to
the partner to read ahead, with the call it becomes if the rest lasts the gap: a model
partner drafts its answer to that in the rest, and answers at once when the call does end
so. Reads wait for a rest, not each note, because a read in this process once held the GIL from the JACK
input callback; in the worker process it costs only a small pickle here, and rests keep it
to one read per rest. Playing again while the partner answers makes it yield
(`on_interrupt = "yield"`); a left hand going on under the line (`[phrase] vamp = "line"`)
does not: the call ended when the line rested, and the line's next note makes it yield.

Threads: every method runs on the conductor.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable

import mido

from improv.config import Config
from improv.core.formats.midifile import HEARD
from improv.core.listen.harmony import HarmonyTracker, voiced_chart, voiced_changes
from improv.core.listen.segment import Call, Segmenter, SegmentSettings, played_bars
from improv.core.theory.chart import Chart, single_chord_chart
from improv.core.theory.notes import Phrase, count_notes, counted, pitch_name, seconds_to_beats
from improv.errors import ConfigError

ANSWER_LEAD_S = 0.06  # least time between noticing a call's end and its answer's first note...
MAX_ANSWER_LEAD_S = 0.5  # ...or longer, up to this, where answers come back slower (`FreePolicy._placed`)
LEAD_MARGIN_S = 0.02
REST_BEATS = 0.25  # a rest this long (or half the call-ending gap, if shorter) starts a read
PEDAL_HINT_BARS = 2  # the sustain pedal down this long with no key played: say why no answer comes...
PEDAL_HINT_S = 4.0  # ...and this many seconds (2 bars at 120): a phrase left to ring under the pedal for a few
# seconds is playing, not a stuck pedal (2 bars at 250 bpm are 1.9 s: a jam over JACK said "a pedal stuck down?"
# after each of a pianist's ring-outs)
KEY_HINT_BARS = 4  # a key held this long with nothing else played (a long tone is rarely this long): say so


def segment_settings(cfg: Config, beats_per_bar: int | None = None) -> SegmentSettings:
    """The call segmenter's settings from the config, checked (the jam calls this before it
    opens any port, so a bad value is reported first). `beats_per_bar`: the chart's metre,
    where it has one (a 3/4 tune's bars are the call's, whatever [timing] says).

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
            answer_bars=p.answer_bars, max_answer_bars=p.max_answer_bars, beats_per_bar=beats_per_bar or t.beats_per_bar,
            lead_beats=seconds_to_beats(ANSWER_LEAD_S, t.tempo), vamp=p.vamp)
    except ValueError as e:
        raise ConfigError(f"phrase: {e}") from None


BAND_LEAD_S = 0.25  # from start() to the band's first downbeat (as trading's count-in waits)


class FreePolicy:
    """Call and response as the player phrases it (see the module doc).

    Args:
        s: the session core (improv/live/session.py).
    """

    name = "free"

    def __init__(self, s: Any) -> None:
        self.s = s
        self.segmenter = Segmenter(segment_settings(s.cfg, s.bpb))
        self.harmony = HarmonyTracker(beats_per_bar=s.bpb)
        self._onsets: dict[int, tuple[float, int]] = {}
        self._chord_charts: dict[Any, Chart] = {}
        self._rest: float | None = None  # the rest (its first beat) last read in
        self._last_key = 0.0  # beat of the last key down or up
        self._lead_tempo = s.tempo  # the tempo the segmenter's answer lead (in beats) was set for
        self._pedal_hint = False  # said for this pedal press
        self._key_hint = False  # said for this held key (until a key moves)
        self._drafted: Call | None = None  # the call the partner was last handed to draft
        self._cut_until: float | None = None  # the last call was cut at its longest: its answer's first beat
        self._vamp_hint = False  # said once: playing on through every cut, the partner always yields
        self._cut_pedal = False  # the sustain pedal held the last call open to its longest, through a rest
        self._voiced: tuple[Any, list] | None = None  # (call, its voicings' chords) last heard (`chart_for`)
        # (from, to, chart): the last answer's chart, from its call's end to the answer's end (`harmony_text`)
        self._answering: tuple[float, float, Chart] | None = None
        self._marked: Any = None  # the chord last marked in the recording as heard (`_mark_heard`)
        self._last_call: Call | None = None  # the call last asked
        self._resumed: Call | None = None  # ...which the player played on before its answer began (`_resume`)

    @property
    def band_lookahead(self) -> float:
        """Beats ahead the band's notes are timed: with a DAW's clock, late enough to follow its
        tempo change at a beat (a beat ahead, the next note came at the old tempo, 137 ms late
        after 90 -> 112.5 bpm), as trading does."""
        return 1.0 if self.s.external is None else 0.125

    def band_hold(self, beat: float) -> float | None:
        """No beat is held back: an answer is asked for in the player's rest, within a beat
        of its start (a substitute then re-renders the rest of its bar: `Band.override`)."""
        return None

    @property
    def band_start(self) -> float:
        """The beat the band starts on: where the session starts (the demo starts a beat
        before its first note), or beat 0 of an external clock's Start."""
        return self.s.start_beat if self.s.external is None else 0.0

    def start(self, now: float, first_heard: float | None = None) -> None:
        """The timeline's beat `start_beat` is now (on improv's own clock; an external one
        sets beat 0 at its Start), or `BAND_LEAD_S` from now when a rhythm section or a
        clock sent out starts with it: its first downbeat must not be due before the band's
        threads are running (it was dropped as late in two starts of three).

        With nothing keeping time but the player, a player who began while the session was
        still starting (`first_heard`, seconds: the partner warming up) began it: the
        timeline starts at their first note, so those notes are heard, answered and recorded
        where they were played."""
        if self.s.external is None:
            b = self.s.cfg.band
            lead = BAND_LEAD_S if (b.comp or b.bass or b.click or b.send_clock) else 0.0
            if not lead and first_heard is not None:
                now = min(now, first_heard)
            self.s.timeline.t0 = now + lead - self.s.start_beat * 60.0 / self.s.tempo

    def on_message(self, msg: mido.Message, beat: float, t: float) -> None:
        """A player's message in time (conductor)."""
        seg = self.segmenter
        call = None
        if msg.type in ("note_on", "note_off"):
            self._last_key = beat
            self._key_hint = False
        if msg.type == "note_on" and msg.velocity > 0:
            call = seg.note_on(msg.note, beat, msg.velocity)
            self._onsets[msg.note] = (beat, msg.velocity)
            if call is not None:
                self._ask(call, t)
                call = None
            # the left hand going on under the answer (`Segmenter.accompanies`: under the line
            # of the call it answers) is no cue: the right hand's note is
            if self.s.cfg.phrase.on_interrupt == "yield" and self.s.partner_busy() and not seg.accompanies(msg.note):
                if self._cut_until is not None and beat < self._cut_until and not self._vamp_hint:
                    self._vamp_hint = True
                    bars = self.segmenter.s.max_call_bars
                    why = f"the sustain pedal held down through {bars} bars kept your call open (it counts as " \
                        "playing)" if self._cut_pedal else f"you played on through {bars} bars without a rest (a " \
                        "long line, a vamp or an ostinato)"
                    stop = "lift the pedal between phrases for the gap (--gap)" if self._cut_pedal else \
                        "stop for the gap (--gap)"
                    self.s.say(f"{self.s.bar_beat(t)}  {why}, so each call is cut at {bars} bars and the partner "
                               f"yields as you play on: it answers when you {stop}; [phrase] on_interrupt = "
                               "\"overlap\" lets it answer over you")
                last = self._last_call
                if last is not None and beat < last.answer_start:  # (the phrase goes on: see `_resume`)
                    self._resumed = last
                self.s.yield_to_player(t)
        elif msg.type in ("note_on", "note_off"):
            call = seg.note_off(msg.note, beat)
            onset = self._onsets.pop(msg.note, None)
            if onset is not None:
                self.harmony.add(msg.note, onset[0], max(beat - onset[0], 0.0), onset[1])
        elif msg.type == "control_change":
            call = seg.control(msg.control, msg.value, beat)
        if call is not None:
            self._ask(call, t)

    def tick(self, now: float, beat: float) -> None:
        """Time passed (conductor): a call ends in silence, or a rest is long enough to read in."""
        tempo = self.s.tempo
        if abs(tempo / self._lead_tempo - 1.0) > 0.03:  # following the player: keep the lead in seconds
            self._lead_tempo = tempo
            self.segmenter.s = replace(self.segmenter.s, lead_beats=seconds_to_beats(ANSWER_LEAD_S, tempo))
        call = self.segmenter.tick(beat)
        if call is not None:
            self._ask(call, now)
        elif self.s.partner.reads_ahead:
            self._read_in_rest(beat)
        self._watch_pedal(beat)
        self._watch_key(beat)

    def _watch_key(self, beat: float) -> None:
        """A key held (or stuck) with nothing else played keeps the call open to the cap (16 s
        at 120 bpm, with no word): say so once, if the cap is further off than the hint."""
        seg = self.segmenter
        bars = seg.s.max_call_bars
        if self._key_hint or not seg.held or not seg.in_call or bars <= KEY_HINT_BARS \
                or beat - self._last_key < KEY_HINT_BARS * self.s.bpb:
            return
        self._key_hint = True
        keys = ", ".join(pitch_name(p) for p in sorted(seg.held))
        self.s.say(f"{self.s.bar_beat(self.s.time_of(beat))}  {keys} held with nothing else played for "
                   f"{KEY_HINT_BARS} bars: your call ends when {'it comes' if len(seg.held) == 1 else 'they come'} "
                   f"up, or at {bars} bars (a key stuck? the end-of-call control ends a call too)")

    def _watch_pedal(self, beat: float) -> None:
        """A pedal held (or stuck, or inverted) with no key played keeps the call open: say so
        once, until a key is played or the call ends (a half-pedalled ring-out brings the pedal
        back past the middle again and again: the hint was said at each)."""
        seg = self.segmenter
        wait = max(PEDAL_HINT_BARS * self.s.bpb, seconds_to_beats(PEDAL_HINT_S, self.s.tempo))
        if not seg.in_call or beat - self._last_key < wait:
            self._pedal_hint = False
            return
        if not self._pedal_hint and seg.pedal and not seg.held:
            self._pedal_hint = True
            self.s.say(f"{self.s.bar_beat(self.s.time_of(beat))}  the sustain pedal is down with no key played for "
                       f"{counted(math.ceil(wait / self.s.bpb - 1e-9), 'bar')}: your call ends when it comes up (a "
                       f"pedal stuck down or wired inverted? the end-of-call control ends a call too)")

    def _read_in_rest(self, beat: float) -> None:
        seg = self.segmenter
        rest = seg.silence_since
        if rest is None or rest == self._rest or beat - rest < min(REST_BEATS, seg.s.gap_beats / 2):
            return
        self._rest = rest
        so_far = seg.call_so_far()
        if so_far is not None:
            # the call this rest would end, for a partner that drafts (placed as a drafted answer needs);
            # both as they will be asked: with the call they resume in front (`_resume`)
            call = seg.call_if_silent() if getattr(self.s.partner, "drafts", False) else None
            whole = self._merged(self._resumed, call) if self._resumed is not None and call is not None else None
            if whole is not None:  # (drafted as the segmenter's, it was decoded at its end: 36 ms, up to 103)
                call, so_far = whole, whole.phrase
            self._drafted = call
            then = (call.phrase, call.answer_start, call.answer_length, None) if call is not None else None
            self.s.exchange.read_ahead(so_far, self.chart_for(so_far), then)  # (in a rest: the same notes)

    def _placed(self, call: Call, t: float) -> Call:
        """The call with its answer placed late enough to be ready: on a machine where
        answers come back slower than `ANSWER_LEAD_S` allows (`Exchange.expected_ready_s`
        for an answer this long, up to `MAX_ANSWER_LEAD_S`), on a later beat or bar. Long
        answers under load were ready after they had begun, their first notes left out.
        The call the partner drafted in the rest keeps its place: its answer is back at once
        (placed later, every drafted answer came a beat late after one slow undrafted one).
        Its place is the draft's, noticed the moment the gap was full, while that is still
        half the lead away: a conductor round a few ms late could cross a beat, and the
        answer, now to another job than the draft, was decoded again and came a beat late."""
        d = self._drafted
        if d is not None and self.s.exchange.drafted_as(call.phrase, self.chart_for(call.phrase), d.answer_start,
                                                         call.answer_length):  # (the call, at the draft's place)
            if d.answer_start == call.answer_start:
                return call
            if d.answer_start < call.answer_start and self.s.time_of(d.answer_start) - t >= ANSWER_LEAD_S / 2:
                return replace(call, detected=d.detected, answer_start=d.answer_start)
        need = self.s.exchange.expected_ready_s(call.answer_length) + LEAD_MARGIN_S
        if need <= ANSWER_LEAD_S:
            return call
        seg = self.segmenter
        lead = seconds_to_beats(min(need, MAX_ANSWER_LEAD_S), self.s.tempo)
        start = seg.meter.next_boundary(call.detected + lead, seg.s.answer_on)
        return replace(call, answer_start=start) if start > call.answer_start else call

    def _resume(self, call: Call) -> tuple[Call, str]:
        """The call with the one before it in front, when the player played on before that
        one's answer began (a breath a little longer than the gap, then the phrase's last note
        or two): the phrase goes on, and the answer answers all of it. A soloist's phrase whose
        last note came after a 0.6 s breath was answered as a call of one note. Not past the
        longest call (`max_call_bars`); also the note after the breath that begins a phrase
        of its own is heard with the one before, as a player taking the answer's place means."""
        before, self._resumed = self._resumed, None
        whole = self._merged(before, call) if before is not None else None
        return (whole, f" (call {self.s.exchange.calls} resumed)") if whole is not None else (call, "")

    def _merged(self, before: Call, call: Call) -> Call | None:
        """`call` with `before` in front, its answer placed anew (`_resume`), or None where
        it is not heard so. Changes nothing: the rest's draft asks it too (`_read_in_rest`)."""
        seg = self.segmenter
        if not call.phrase.notes or not before.phrase.notes:
            return None
        first = before.phrase.start
        if call.ended - first > seg.s.max_call_bars * seg.s.beats_per_bar + 1e-9:
            return None
        shift = call.phrase.start - first
        notes = before.phrase.notes + tuple(replace(n, start=n.start + shift) for n in call.phrase.notes)
        # (to the call's end, as the segmenter's own calls: with no length, every phrase made whole
        # was counted as one bar, and its answer was a bar long)
        phrase = Phrase(tuple(sorted(notes, key=lambda n: (n.start, n.pitch))), first, shift + call.phrase.length)
        bars = played_bars(phrase, seg.s.beats_per_bar)
        start, length = seg.answer_place(phrase, call.detected, bars)
        return replace(call, phrase=phrase, answer_start=start, answer_length=length, bars=bars)

    def _ask(self, call: Call, t: float) -> None:
        s = self.s
        call, resumed = self._resume(call)
        call = self._placed(call, t)
        self._last_call = call  # (its answer's place as placed: a slow machine's later beat)
        self._cut_until = call.answer_start if call.reason == "max" else None
        self._cut_pedal = call.reason == "max" and self.segmenter.cut_by_pedal
        self._drafted = None
        s.last_call_bars = call.bars
        cut = " (cut: the longest call)" if call.reason == "max" else ""  # (played on with no rest: not drafted)
        text = (f"{counted(call.bars, 'bar')}{cut}, {count_notes(len(call.phrase))}{resumed}; answering at "
                f"{s.bar_beat(s.time_of(call.answer_start))} for {counted(int(call.answer_length // s.bpb), 'bar')}")
        chart = self.chart_for(call.phrase)
        self._answering = (call.detected, call.answer_start + call.answer_length, chart)
        self._mark_heard(call, chart)
        s.ask(call.phrase, chart, call.answer_start, call.answer_length, t, text=text)

    def _mark_heard(self, call: Call, chart: Chart) -> None:
        """With no chart, the chords the call was heard over (`chart_for`: the chord inferred,
        and the chords its voicings spell where its left hand struck them) into the recording
        as chord markers "(heard) Dm7", each where it begins under the call, from its first
        note; a chord the same as the one marked last is not marked again. The file had no
        chords at all without a chart, though the status line showed the ones inferred."""
        s = self.s
        if s.chart is not None or s.recorder is None or not call.phrase.notes:
            return
        start = call.phrase.start
        for span in chart.changes_between(start, call.answer_start + call.answer_length):
            if span.chord is not None and span.chord != self._marked:
                self._marked = span.chord
                s.recorder.marker(f"{HEARD}{span.chord}", s.time_of(span.start), "chord")

    def chart_now(self) -> Chart:
        """The chart an answer plays over: the session's, or the chord inferred so far (the
        same Chart object for the same chord, so what is cached on it holds)."""
        if self.s.chart is not None:
            return self.s.chart
        return self._chord_chart(self.harmony.current()[0])

    def _chord_chart(self, chord: Any) -> Chart:
        """A one-chord chart, the same object for the same chord."""
        chart = self._chord_charts.get(chord)
        if chart is None:
            if len(self._chord_charts) > 256:
                self._chord_charts.clear()
            chart = self._chord_charts[chord] = single_chord_chart(chord, self.s.bpb)
        return chart

    def chart_for(self, call: Phrase) -> Chart:
        """The chart a call is heard and answered over: the session's; with none, the chord
        inferred so far (`chart_now`), and under the call the chords its own voicings spell
        (`voiced_changes`: a left hand's G7 under the line's Ab, where the chord inferred at
        the call's end was a Cmaj7 that made the Ab a mistake), the answer over the last of
        them (a left hand's A7, where the line's C naturals made the inferred chord Am7).
        Depends on the call's notes alone, so a call read ahead in a rest and the call that
        rest ends get the same."""
        chart = self.chart_now()
        if self.s.chart is not None:
            return chart
        key = (call.start, call.notes, self.s.tempo)  # (a rest's read and the call it ends: the same notes)
        if self._voiced is None or self._voiced[0] != key:
            self._voiced = (key, voiced_changes(call, self.s.tempo, self.s.bpb))
        return voiced_chart(chart, self._voiced[1], call.end, self._chord_chart)

    def on_clock(self, kind: str, beat: float) -> None:
        """An external Start/Continue/Stop (conductor): a call cut by Stop is not answered."""
        if kind == "stop":
            self.segmenter = Segmenter(self.segmenter.s)
        elif self.s.band is not None:
            self.s.band.restart_at(beat)

    def on_panic(self) -> None:
        """Panic (conductor): the call heard so far is forgotten, not answered."""
        self.segmenter = Segmenter(self.segmenter.s)

    def control(self, action: str, t: float) -> str | None:
        """A live control the policy answers (conductor); returns the line to show, or None."""
        if action == "end_of_call":
            call = self.segmenter.end_call(self.s.beat_at(t))
            if call is not None:
                self._ask(call, t)
            return "end of call"
        if action == "answer_length":
            self.segmenter.s = replace(self.segmenter.s, answer_bars=self.s.cfg.phrase.answer_bars)
        return None

    @property
    def in_call(self) -> bool:
        return self.segmenter.in_call

    def remap(self, beat_of: Callable[[float], float]) -> None:
        """The bars were counted again (between calls): the beats kept here move with them."""
        self._last_key = beat_of(self._last_key)
        self._rest = None
        self._answering = None  # (counted again as the next call begins: the answer is over)
        self._last_call = self._resumed = None  # (on the old bars)
        if self.segmenter.silence_since is not None:
            self.segmenter.silence_since = beat_of(self.segmenter.silence_since)

    def state(self, beat: float) -> str:
        if self.s.partner_busy():
            return "answering"
        return "pedal held" if self._pedal_hint else "key held" if self._key_hint else "listening"

    def view_fields(self, beat: float) -> dict[str, Any]:
        """The stage view's fields this policy knows (free play: none; `state` says who plays)."""
        return {}

    def harmony_text(self, beat: float | None = None) -> str:
        """The chord (and key) the status line shows at `beat`: from a call's end to its
        answer's end, while the player does not play on, the chord the answer is built over
        (`chart_for`: a left hand's A7, where the inferred chord was Am7, the status line said
        Am7 under an answer over A7); else the chord inferred so far."""
        chord, key = self.harmony.current()
        a = self._answering
        if beat is not None and a is not None and a[0] <= beat < a[1] and not self.segmenter.in_call:
            chord = a[2].chord_at(beat)
            within, sub = self.s.exchange.substitute_at(beat)  # (re-harmonised: what it opens over)
            chord = sub if within else chord
        return " ".join(x for x in (str(chord) if chord else "", f"({key})" if key else "") if x)

    @property
    def dropped(self) -> int:
        return self.segmenter.dropped
