"""The rhythm section player: comping, walking bass and a click, scheduled along the timeline.

Parts are rendered a bar or two ahead in *beats* (pure `improv.core.band.comping` / `bass`)
and handed to a `Scheduler` in seconds only a short lookahead before they sound, through
a `Timeline` (beats <-> seconds). With an external MIDI clock the timeline follows tempo
changes, so converting late keeps every note on the clock's grid.

Threads: `pump()`, `override()`, `set_density()`, `stop()` run on the conductor thread;
the scheduler sends on its own thread. `stop()` silences everything at once.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol

import mido

from improv.core.band.bass import BassSettings, walk
from improv.core.theory.chart import Chart
from improv.core.theory.chords import Chord
from improv.core.band.comping import CompSettings, comp
from improv.core.respond.base import cut_at_repeats
from improv.core.theory.notes import Phrase
from improv.live.clock import Clock
from improv.live.scheduler import Scheduler

BeatNote = tuple[float, float, int, int, int]  # (on beat, off beat, channel 0-15, pitch, velocity)
CLICK_HIGH, CLICK_LOW = 76, 77  # GM hi/lo wood block: bar downbeat, other beats
# Held notes (from a partner turn's downbeat on, in trading) are handed to the scheduler this
# long before they sound instead of the lookahead's beat: the answer, and with it a substitute
# chord for the turn's first bar, reaches the band ~0.1 s before the turn.
HOLD_S = 0.04
OVERRIDES_KEPT = 16  # substitutes remembered (each lasts a bar at most)


class Timeline(Protocol):
    """Beats <-> seconds on the session clock."""

    def time_of(self, beat: float) -> float: ...

    def beat_at(self, t: float) -> float: ...


class BeatFeeder:
    """Notes in beats, handed to a scheduler in seconds once they are within `lookahead`
    beats of now (conductor thread)."""

    def __init__(self, scheduler: Scheduler, timeline: Timeline, lookahead: float = 1.0) -> None:
        self.scheduler = scheduler
        self.timeline = timeline
        self.lookahead = lookahead
        self._pending: list[BeatNote] = []
        self._cuts: list[tuple[float, int]] = []  # (beat, channel): what the channel holds ends there
        self._lock = threading.Lock()
        self.handed_to = -math.inf  # the latest onset (beats) handed to the scheduler
        self.handed: dict[int, float] = {}  # ... of each channel

    def add(self, notes: list[BeatNote]) -> None:
        with self._lock:
            self._pending.extend(notes)
            self._pending.sort()

    def pump(self, now_beat: float, hold: float | None = None, generation: int | None = None) -> int:
        """Hand over what starts before now + lookahead; returns how many notes. Notes from
        beat `hold` on wait until they are `HOLD_S` from sounding: an answer about to arrive
        may still change what the band plays there (trading's partner turn). With
        `generation`, the scheduler refuses them if it was cancelled since (`Scheduler.play`)."""
        tl = self.timeline
        held_from = math.inf
        if hold is not None and hold > now_beat:
            held_from = max(hold, tl.beat_at(tl.time_of(now_beat) + HOLD_S))
        with self._lock:
            k = 0
            while k < len(self._pending) and self._pending[k][0] < min(now_beat + self.lookahead, held_from - 1e-9):
                k += 1
            due, self._pending = self._pending[:k], self._pending[k:]
            if due:
                self.handed_to = max(self.handed_to, due[-1][0])
            for on, _, ch, _, _ in due:
                self.handed[ch] = max(self.handed.get(ch, -math.inf), on)
            limit = min(now_beat + self.lookahead, held_from - 1e-9)
            cuts = [c for c in self._cuts if c[0] < limit]
            self._cuts = [c for c in self._cuts if c[0] >= limit]
        for beat, ch in cuts:  # (before the notes: a stab at the cut's time sounds after it)
            self.scheduler.cut(tl.time_of(beat), ch)
        events = []
        for on, off, ch, pitch, vel in due:
            t_on = tl.time_of(on)
            events.append((t_on, max(t_on + 0.005, tl.time_of(off) - 0.001), ch, pitch, vel))
        if events:
            self.scheduler.play(events, generation)
        return len(events)

    def cut(self, beat: float, channel: int) -> None:
        """End what `channel` holds at `beat` (a note started before it and sounding past it),
        made seconds with the notes handed out with it, so that a stab at `beat` comes after
        it whatever the timeline does meanwhile (`Scheduler.cut`)."""
        with self._lock:
            self._cuts.append((beat, channel))

    def clear(self, channel: int | None = None) -> None:
        """Forget pending notes and cuts (of one channel, or all)."""
        with self._lock:
            self._pending = [n for n in self._pending if channel is not None and n[2] != channel]
            self._cuts = [c for c in self._cuts if channel is not None and c[1] != channel]

    def clear_from(self, beat: float) -> None:
        """Forget pending notes and cuts at or after `beat` (they are about to be re-rendered)."""
        with self._lock:
            self._pending = [n for n in self._pending if n[0] < beat - 1e-9]
            self._cuts = [c for c in self._cuts if c[0] < beat - 1e-9]

    def reset(self) -> None:
        """Forget everything pending and handed out (a stop: a jump back hands those beats out again)."""
        self.clear()
        self.handed_to, self.handed = -math.inf, {}

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)


def phrase_notes(phrase: Phrase, channel: int) -> list[BeatNote]:
    """A phrase -> notes in timeline beats; a note ends where the same pitch starts again."""
    return [(n.start, n.end, channel, n.pitch, n.velocity) for n in cut_at_repeats(list(phrase.absolute()))]


@dataclass
class BandParts:
    """Which parts play, on which MIDI channels (0-15); `count_in`: the click sounds the
    bars before bar 1 (trading's count-in) even when it is off. `comp_program` and
    `bass_program`: the General MIDI program (0-127) each part's channel is set to when it
    comes in (`Band.send_programs`), None to leave the instrument's own sound."""

    comp: bool = False
    bass: bool = False
    click: bool = False
    count_in: bool = False
    comp_channel: int = 2
    bass_channel: int = 3
    click_channel: int = 9
    comp_program: int | None = None
    bass_program: int | None = None
    comp_settings: CompSettings = field(default_factory=CompSettings)
    bass_settings: BassSettings = field(default_factory=BassSettings)


class Band:
    """The rhythm section.

    Args:
        chart: the tune.
        clock: the session clock.
        send: where messages go (the sinks); called on the scheduler thread.
        timeline: beats <-> seconds.
        parts: which parts, on which channels.
        seed: the session's seed.
        start_beat: the first beat to play (negative: the click counts in from there).
        lookahead: beats between handing a note to the scheduler and its onset.
        on_sent: called with (part, message, time) after each send, on the scheduler
            thread (the recorder): part is "comp", "bass" or "click" (`part_of`), time in
            seconds on the session clock. (A callable taking only (message, time) is
            still called that way, until the sessions pass the part on.)
    """

    def __init__(
        self,
        chart: Chart,
        clock: Clock,
        send: Callable[[mido.Message], None],
        timeline: Timeline,
        parts: BandParts,
        *,
        seed: int = 0,
        start_beat: float = 0.0,
        lookahead: float = 1.0,
        on_sent: Callable[[str, mido.Message, float], None] | None = None,
        late_threshold_ms: float = 10.0,
    ) -> None:
        self.chart = chart
        self.parts = parts
        self.seed = seed
        self.bpb = chart.beats_per_bar
        self.clock = clock
        self._send = send
        self._on_sent = on_sent
        self.scheduler = Scheduler(clock, send, late_threshold_ms=late_threshold_ms,
                                   on_sent=self._sent if on_sent is not None else None, name="band")
        self.feeder = BeatFeeder(self.scheduler, timeline, lookahead)
        self.density = 0.0
        self._overrides: list[tuple[float, float, Chord | None]] = []  # (start, end, substitute chord)
        self._rendered_to = math.floor(start_beat / self.bpb) * self.bpb
        self._voicing: tuple[int, ...] | None = None
        self._bass: int | None = None
        # the voicing / bass note each rendered bar ended on, for rendering a bar again
        self._voicing_after: dict[float, tuple[int, ...] | None] = {}
        self._bass_after: dict[float, int | None] = {}
        self._density_at: dict[float, float] = {}  # the density each rendered bar was comped with
        # what the comp held over each bar line it played to: (the chord, its pitches, whether
        # it was an anticipation of a change), (None, (), False) where it held nothing; the
        # bar after is planned knowing it
        self._tied: dict[float, tuple[Chord | None, tuple[int, ...], bool]] = {}
        self.stopped = False
        # notes before this beat are past, not late: those of the bar the session (or a
        # Continue) starts in before it starts
        self._resume_from = start_beat
        self._again = False  # bars were rendered again since the last pump (`_render_again`)

    def part_of(self, channel: int) -> str:
        """The part ("comp", "bass" or "click") that plays on `channel` (0-15): a part that
        is on first, so that a channel left by a part turned off goes to the one playing."""
        p = self.parts
        for on_only in (True, False):
            for part in ("comp", "bass", "click"):
                if (getattr(p, part) or not on_only) and channel == getattr(p, f"{part}_channel"):
                    return part
        return "comp"

    def _sent(self, msg: mido.Message, t: float) -> None:
        """The scheduler sent `msg` at `t` (scheduler thread): tell `on_sent` whose it was."""
        assert self._on_sent is not None
        self._on_sent(self.part_of(msg.channel), msg, t)

    # --- control (conductor thread) ---------------------------------------------------
    def set_density(self, notes_per_beat: float) -> None:
        """The player's recent density: busier means sparser comping (bars rendered later)."""
        self.density = max(0.0, notes_per_beat)

    def override(self, start: float, end: float, chart: Chart) -> None:
        """Play `chart` over timeline beats [start, end) (a reharmonised span). Bars from
        the one holding `start` are rendered again, so the rhythm section plays the
        substitute with the partner; in a bar already being handed to the scheduler, what
        was handed stays and the rest of the bar follows the substitute."""
        self._overrides.append((start, end, chart.chord_at(start)))  # (the tune but for that span's chord)
        del self._overrides[:-OVERRIDES_KEPT]
        # from the bar before a substitute on a bar line: its anticipation, if not handed
        # out yet, voices the substitute (if it was, the next bar cuts it: `_comp_bar`)
        self._render_again(start - 0.5)

    def _render_again(self, beat: float) -> None:
        """Render the bars from the one holding `beat` again, but for what was handed out
        already (a bar being handed keeps those notes and follows the new rendering after)."""
        bpb = self.bpb
        handed = self.feeder.handed_to
        redo = math.floor(beat / bpb) * bpb
        if math.isfinite(handed):
            redo = max(redo, math.floor(handed / bpb) * bpb)
        if redo < self._rendered_to:
            self.feeder.clear_from(redo)  # (only notes not handed yet are pending)
            self._voicing = self._voicing_after.get(redo - bpb)
            self._bass = self._bass_after.get(redo - bpb)
            self._rendered_to = redo  # (what was handed out is not played twice: `_kept_from`)
            self._again = True

    def _kept_from(self, channel: int) -> float:
        """The first beat a note rendered now may start on for `channel`: after what it was
        handed out (a bar rendered again keeps what it handed and follows the new rendering
        after), not before the session (or a Continue) starts, nor before now (`pump`)."""
        return max(self._resume_from, self.feeder.handed.get(channel, -math.inf) + 1e-6)

    def chart_for(self, bar_start: float) -> Chart:
        """The chart the bar from `bar_start` is played over: the tune with every substitute
        known that falls in the bar or the next (an answer that starts on beat 3 re-harmonises
        from beat 3; the bass walks into a substitute that starts the next bar)."""
        chart = self.chart
        for s, e, chord in self._overrides:  # in the order they came: two in one bar both sound
            if s < bar_start + 2 * self.bpb - 1e-9 and e > bar_start + 1e-9:  # (and the next bar's: the bass
                chart = chart.with_overlay(s, e, chord)  # walks into it)
        return chart

    def set_part(self, part: str, on: bool) -> None:
        """Turn "comp", "bass" or "click" on or off; off drops its pending notes, on comes in
        with its next note from now (the bars ahead were rendered without it and are rendered
        again: it came in up to two bars after the press)."""
        setattr(self.parts, part, on)
        if not on:
            self.feeder.clear(getattr(self.parts, f"{part}_channel"))
        else:
            self.send_programs((part,))  # (it may have been off when the session set them)
            handed = self.feeder.handed_to
            self._render_again(handed if math.isfinite(handed) else self._resume_from)

    def program_messages(self, parts: tuple[str, ...] = ("comp", "bass")) -> list[mido.Message]:
        """The program changes that set the channels of `parts` that play to their sounds
        (`BandParts.comp_program`, `bass_program`); none for a part given no program. The
        click has none: on General MIDI's drum channel a program picks the drum kit."""
        p = self.parts
        out = []
        for part in parts:
            program = getattr(p, f"{part}_program", None)
            if getattr(p, part) and program is not None:
                out.append(mido.Message("program_change", channel=getattr(p, f"{part}_channel"), program=program))
        return out

    def send_programs(self, parts: tuple[str, ...] = ("comp", "bass")) -> int:
        """Send the program changes of `parts` (`program_messages`) now, each told to
        `on_sent` as its part's (so the recording opens on them); returns how many. Conductor
        thread: at the session's start, after a panic, when a part is turned on. A General
        MIDI module or a DAW's GM instrument otherwise played the walking bass on a piano."""
        msgs = self.program_messages(parts)
        for msg in msgs:
            self._send(msg)
            if self._on_sent is not None:
                self._sent(msg, self.clock.now())
        return len(msgs)

    # --- playing ---------------------------------------------------------------------
    def render_bar(self, bar_start: float) -> list[BeatNote]:
        """The notes of the bar starting at `bar_start` (timeline beats)."""
        p = self.parts
        end = bar_start + self.bpb
        out: list[BeatNote] = []
        if p.click or (p.count_in and bar_start < 0):
            for b in range(int(bar_start), int(end)):
                down = (b - int(bar_start)) == 0
                out.append((float(b), b + 0.1, p.click_channel, CLICK_HIGH if down else CLICK_LOW, 100 if down else 75))
        if bar_start >= 0:
            chart = self.chart_for(bar_start)
            # a bar rendered again whose last note was handed out before ends on what it played then
            played = bar_start in self._voicing_after and bar_start in self._bass_after
            if p.comp:
                notes = self._comp_bar(chart, bar_start)
                if played and notes and notes[-1][0] < self._kept_from(p.comp_channel):
                    self._voicing = self._voicing_after[bar_start]
                out += notes
            if p.bass:
                ph, self._bass = walk(chart, bar_start, end, self.seed, self._bass, p.bass_settings)
                notes = phrase_notes(ph, p.bass_channel)
                if played and notes and notes[-1][0] < self._kept_from(p.bass_channel):
                    self._bass = self._bass_after[bar_start]
                out += notes
        if bar_start < 0 or not p.comp:
            self._tied[end] = (None, (), False)  # (the comp comes in on a downbeat)
        self._voicing_after[bar_start] = self._voicing
        self._bass_after[bar_start] = self._bass
        self._voicing_after.pop(bar_start - 8 * self.bpb, None)  # keep a few bars only
        self._bass_after.pop(bar_start - 8 * self.bpb, None)
        self._density_at.pop(bar_start - 8 * self.bpb, None)
        self._tied.pop(bar_start - 8 * self.bpb, None)
        return out

    def _comp_bar(self, chart: Chart, bar_start: float) -> list[BeatNote]:
        """The comp's notes of the bar from `bar_start` over `chart`, planned knowing what the
        bar before held over the bar line: a chord held that `chart` no longer has there (a
        substitute that came after it was handed out) ends on the downbeat (or now, in a bar
        under way), and the bar is comped as not anticipated, over the substitute. Its first
        stab ends whatever the comp still holds (a stab handed out before the bar was
        rendered again, an anticipation tied over the bar line), as a comper's hands do."""
        p, end, ch = self.parts, bar_start + self.bpb, self.parts.comp_channel
        handing = self.feeder.handed_to >= bar_start  # a bar being handed out again: as it was planned
        density = self._density_at.get(bar_start, self.density) if handing else self.density
        kept_from = self._kept_from(ch)
        anticipated = None  # (nothing known of the bar before: as the chart says)
        if bar_start in self._tied:
            held, _, early = self._tied[bar_start]
            anticipated = early and held == chart.chord_at(bar_start)
            if held is not None and held != chart.chord_at(bar_start):
                self.feeder.cut(max(bar_start, kept_from), ch)
        ph, self._voicing = comp(chart, bar_start, end, self.seed, density, self._voicing, p.comp_settings,
                                 self._density_at.get(bar_start - self.bpb), anticipated)
        self._density_at[bar_start] = density
        notes = phrase_notes(ph, ch)
        first = next((n[0] for n in notes if n[0] >= kept_from), None)
        if first is not None:
            self.feeder.cut(first, ch)
        over = [(on, pitch) for on, off, _, pitch, _ in notes if off > end + 1e-9]
        tied = tuple(pitch for on, pitch in over if on >= kept_from)
        if tied or not handing or end not in self._tied:  # (what was handed out before stays known)
            # notes held over a chord change are an anticipation (others end at the change)
            early = bool(tied) and chart.chord_at(end - 1e-4) != chart.chord_at(end)
            self._tied[end] = (chart.chord_at(end) if tied else None, tied, early)
        return notes

    def pump(self, now_beat: float, hold: float | None = None) -> int:
        """Render bars up to a bar ahead of `now_beat`, hand due notes to the scheduler
        (from beat `hold` on only just in time: see `BeatFeeder.pump`)."""
        if self.stopped:
            return 0
        if self._again:  # bars rendered again: what they have before now is past, not late, even in a
            self._again = False  # bar that had handed nothing out yet (a comp's rest, every part off)
            self._resume_from = max(self._resume_from, now_beat)
        while self._rendered_to < now_beat + self.bpb + self.feeder.lookahead:
            if self.feeder.handed_to >= self._rendered_to:  # a bar rendered again (a substitute came):
                self._resume_from = max(self._resume_from, now_beat)  # what it has before now is past
            bar = self.render_bar(self._rendered_to)
            kept_from = {ch: self._kept_from(ch) for ch in {n[2] for n in bar}}
            self.feeder.add([n for n in bar if n[0] >= kept_from[n[2]]])
            self._rendered_to += self.bpb
        return self.feeder.pump(now_beat, hold)

    def start(self) -> None:
        self.stopped = False
        self.scheduler.start()

    def stop(self) -> int:
        """Silence at once: note-offs for everything sounding, pending notes forgotten."""
        self.stopped = True
        self.feeder.reset()  # (a jump back hands those beats out again)
        return self.scheduler.cancel()

    def restart_at(self, beat: float) -> None:
        """Carry on from `beat` (after an external Stop/Continue or song position)."""
        self.stop()
        self._rendered_to = math.floor(beat / self.bpb) * self.bpb  # the bar renders whole (its voicing)...
        self._resume_from = beat  # ...and plays from `beat` on: what came before it is not late, it is past
        self._voicing, self._bass = None, None
        self._tied.clear()  # (the bar before is not what was played before the jump)
        self._again = False  # (every bar renders afresh from `beat`)
        self.stopped = False

    def close(self) -> int:
        self.stopped = True
        self.feeder.clear()
        return self.scheduler.close()
