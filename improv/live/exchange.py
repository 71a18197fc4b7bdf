"""The exchange with the partner, seen from the real-time process: calls handed over,
answers put on the timeline, the partner silenced when the player comes back in, and the
session so far kept for a partner that has to start again.

Threads: `ask`, `yield_to_player`, `silence` on the conductor; `on_result` on the partner's
receiving thread (or inline). A lock keeps a yield from slipping in between an answer's
check and its hand-over to the feeder.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from improv.core.formats.midifile import HEARD, SUBSTITUTE
from improv.core.respond.base import SessionMemory
from improv.core.theory.chart import Chart
from improv.core.theory.notes import Phrase, count_notes, pitch_name
from improv.live.band import phrase_notes
from improv.partner.protocol import Job, PackedCall, Read, Result, Setup, answer_settings, packed

log = logging.getLogger("improv.session")
# The notes of the latest calls a replacement partner learns again: about what the Markov
# partner's session table holds (`markov_memory.SESSION_SIZE` continuations); it kept the last
# 64 calls, and a worker replaced an hour in had forgotten all the player's style before them
KEEP_NOTES = 20_000
PACE_ANSWERS = 8  # the answers, and the calls, `expected_ready_s` looks back on
SUBSTITUTES_SHOWN = 8  # the last substitutes the status line may still be within
# A job's tempo is the timeline's, held while that moves by less than this share: an external
# clock's tempo, fitted again on every tick, jitters by a few hundredths of a bpm, and a draft's
# job never equalled its call's (every answer decoded again, at the call's end)
JOB_TEMPO_HOLD = 0.005


@dataclass(frozen=True)
class _Asked:
    """A call handed to the partner, waiting for its answer."""

    noticed: float  # seconds on the session clock
    generation: int  # the yield count when asked: a later yield drops its answer
    call: Phrase
    chart: Chart
    restarts: int = 0  # the partner's restarts when asked: one since, and its time is no pace
    tempo: float | None = None  # the tempo its job was answered at (the partner learned the call at it)


class Exchange:
    """Calls out, answers in (see the module doc).

    Args:
        s: the session core (improv/live/session.py): its config, clock, partner, feeder,
            scheduler, recorder, timeline and display.
    """

    def __init__(self, s: Any) -> None:
        self.s = s
        self.calls = self.answers = self.yields = self.failed = 0
        self.drafted = 0  # answers the partner had ready from the player's rest (`Read.draft`)
        self.last_call_bars = 0
        self.last_explanation = ""  # what the partner last did with an outside note (for the stage view)
        self.memory = SessionMemory()  # calls and answers so far (changed under `_lock`: answers land on another thread)
        self.left_out = 0  # answer notes left out: the answer came back after they were due
        self.ready_ms: deque[float] = deque(maxlen=10_000)  # call noticed -> answer handed to the feeder (played ones)
        # (call number, seconds to ready a beat of answer) of the last answers decoded at their call's end
        self.pace: deque[tuple[int, float]] = deque(maxlen=PACE_ANSWERS)
        # ... and of the last answers drafted, for trading (`expected_ready_s(drafted=True)`)
        self.drafted_pace: deque[tuple[int, float]] = deque(maxlen=PACE_ANSWERS)
        self.band_overrides: deque[tuple[float, float, Chart]] = deque()  # partner thread -> conductor
        # (start, end, chord) of the last substitutes answers opened over, for the status line (a
        # tuple replaced whole: read on the conductor while the partner's thread lays one on)
        self.substitutes: tuple[tuple[float, float, Any], ...] = ()
        self.draft: Job | None = None  # the job last handed to the partner to draft (`read_ahead`)
        self._job_tempo: float | None = None
        self._learnt: deque[tuple[PackedCall, int]] = deque()  # (call, its notes): `KEEP_NOTES` at most in all
        self._learnt_notes = 0
        self._asked: dict[int, _Asked] = {}
        self._landing = 0  # answers back and being put on the timeline (`on_result`)
        self._generation = 0
        # the last answer put on the timeline (a yield before it sounds takes it back): number, phrase,
        # first note's time, drafted, notes left out
        self._last: tuple[int, Phrase, float, bool, int] | None = None
        self._closed = False
        self._lock = threading.Lock()

    def setup(self) -> Setup:
        """What a (new) partner starts from: the session so far (conductor)."""
        s, r = self.s, self.s.cfg.responder
        calls = tuple(c for c, _ in self._learnt)
        return Setup(r.name, r.markov_order, s.seed, self.memory.phrases, calls, s.chart, s.bpb, r.model,
                     s.output.silence_for_setup())

    def ask(self, call: Phrase, chart: Chart, start: float, length: float, t: float, *,
            cut: float | None = None, text: str = "") -> None:
        """Hand a call to the partner (conductor): its answer goes at timeline beats
        [start, start + length). `t`: when the call's end was noticed (seconds)."""
        s = self.s
        self.calls += 1
        n = self.calls
        job = self._job(n, call, chart, start, length, cut)
        with self._lock:
            self._asked[n] = _Asked(t, self._generation, call, chart, getattr(s.partner, "restarts", 0),
                                    job.settings.tempo)
        if s.recorder is not None:  # at the call's first note, where an editor looks for it (not its end)
            first = min((x.start for x in call.notes), default=0.0)
            s.recorder.marker(f"call {n}: {count_notes(len(call))}", s.time_of(call.start + first) if call.notes else t)
        s.say(f"{s.bar_beat(t)}  heard call {n}: {text}")
        s.partner.submit(job, s.clock.now())

    def _job(self, n: int, call: Phrase, chart: Chart, start: float, length: float, cut: float | None) -> Job:
        s = self.s
        feel = 1.0 if s.cfg.timing.swing == 1.0 else 0.0  # a swung timeline already places the off-beats
        tempo = s.tempo
        if self._job_tempo is None or abs(tempo / self._job_tempo - 1.0) > JOB_TEMPO_HOLD:
            self._job_tempo = tempo
        settings = answer_settings(start, length, s.seed + n, s.cfg.responder, s.bpb, self._job_tempo, feel,
                                   turn=cut is not None)
        return Job(n, call, chart, settings, s.cfg.embrace, cut)

    def drafted_as(self, call: Phrase, chart: Chart, start: float, length: float, cut: float | None = None) -> bool:
        """Whether the next call, asked so, is the job the partner was last handed to draft:
        its answer then comes back at once (conductor)."""
        return self.draft is not None and self.draft == self._job(self.calls + 1, call, chart, start, length, cut)

    def read_ahead(self, so_far: Phrase, chart: Chart,
                   then: tuple[Phrase, float, float, float | None] | None = None) -> None:
        """Hand the call so far to the partner to read in the player's rest (conductor);
        `then`: (call, start, length, cut) as `ask` would be given them if this rest ends
        the call, for a partner that drafts to answer now (`Read.draft`)."""
        draft = None
        if then is not None and getattr(self.s.partner, "drafts", False):
            call, start, length, cut = then
            draft = self._job(self.calls + 1, call, chart, start, length, cut)
        self.draft = draft
        self.s.partner.read(Read(so_far, chart, draft))

    def substitute_at(self, beat: float) -> tuple[bool, Any]:
        """(True, the chord) when `beat` is within the span of a substitute an answer opened
        over (the band plays it, the file's chords say it), else (False, None)."""
        for a, b, chord in reversed(self.substitutes):
            if a <= beat < b:
                return True, chord
        return False, None

    def expected_ready_s(self, beats: float, drafted: bool = False) -> float:
        """How long an answer `beats` long may take to be ready, by the answers of the last
        `PACE_ANSWERS` calls decoded at their call's end (the second slowest per beat of
        answer, so that one outlier does not count; drafted ones cost only the pipe): 0
        without any. The policies place the answer (free jam) or hand the call (trading) so
        that it is back in time on a machine slower than the partner's budget (conductor).
        `drafted`: the drafted answers count too, as long as each took: trading drafts the
        call again at every key in its turn's last beat, so the draft of the call as handed
        over may still be decoding then, and comes back as late as an answer decoded then."""
        paces = [*self.pace, *self.drafted_pace] if drafted else self.pace
        pace = sorted(p for n, p in paces if self.calls - n < PACE_ANSWERS)  # (the last calls' only)
        return pace[max(0, len(pace) - 2)] * max(1.0, beats) if pace else 0.0

    def on_result(self, res: Result) -> None:
        """The partner's answer to call `res.number` (its thread, or inline). It is awaited
        until it is on the timeline with its substitute queued for the band: trading's band
        holds the partner's downbeat until then (it handed it out over the written chord when
        a conductor round came between)."""
        with self._lock:
            asked = self._asked.pop(res.number, None)
            if asked is None:
                return
            self._landing += 1
        try:
            self._land(res, asked)
        finally:
            with self._lock:
                self._landing -= 1

    def _land(self, res: Result, asked: _Asked) -> None:
        s = self.s
        with self._lock:  # the worker learned the call whatever became of its answer: a replacement does too
            self._learnt.append((packed(asked.call, asked.chart, asked.tempo), len(asked.call)))
            self._learnt_notes += len(asked.call)
            while self._learnt_notes > KEEP_NOTES and len(self._learnt) > 1:
                self._learnt_notes -= self._learnt.popleft()[1]
        ready = s.clock.now()
        if res.answer is None:  # (not timed: an answer that never came is no answer-ready figure)
            self.failed += 1
            with self._lock:
                self.memory.add(asked.call)
            log.warning("the partner could not answer call %d: %s", res.number, res.error)
            s.errors.append(f"call {res.number} not answered: {res.error}")
            return
        waited_ms = (ready - asked.noticed) * 1000.0
        # the pace is what a call whose end came unforeseen costs: a draft's is the pipe's, and one
        # answered across a partner's restart waited for it (after a worker was killed, every
        # later answer was placed a beat late)
        if getattr(s.partner, "restarts", 0) == asked.restarts:
            (self.drafted_pace if res.drafted else self.pace).append(
                (res.number, (ready - asked.noticed) / max(1.0, res.answer.length)))
        answer, missed = self._still_due(res.answer, ready)
        with self._lock:
            played = not self._closed and asked.generation == self._generation
            if played:  # (under the lock: a yield cannot slip in between, and it sees this answer as the last)
                s.feeder.add(phrase_notes(answer, s.partner_ch))
                cancelled = s.scheduler.generation  # a yield from here on cancels the scheduler...
                self.answers += 1
                self.drafted += res.drafted
                self.left_out += missed
                # timed only when played: an answer the player came back in before was waited for by nobody
                self.ready_ms.append(waited_ms)
                first = answer.start + (answer.notes[0].start if answer.notes else 0.0)
                self._last = (res.number, answer, s.time_of(first), res.drafted, missed)
                self.memory.add(asked.call, answer)
        if not played:
            s.partner.dropped(res.number)
            with self._lock:
                self.memory.add(asked.call)
            return
        # the first notes may be due before the next round (...which then refuses them)
        s.feeder.pump(s.beat_at(s.clock.now()), generation=cancelled)
        self._tell(res, answer, ready, waited_ms, missed)

    def _still_due(self, answer: Phrase, ready: float) -> tuple[Phrase, int]:
        """The answer without the notes already past due when it is ready (an answer that
        comes late, e.g. from a partner restarted while it thought): it comes in where it
        is, on its beats, as a player who missed the start would; and how many were left out."""
        s = self.s
        late_s = s.scheduler.late_s
        kept = tuple(n for n in answer.notes if s.time_of(answer.start + n.start) >= ready - late_s)
        if len(kept) == len(answer.notes):
            return answer, 0
        return Phrase(kept, answer.start, answer.length), len(answer.notes) - len(kept)

    def _tell(self, res: Result, answer: Phrase, ready: float, waited_ms: float, missed: int = 0) -> None:
        """The log lines and the recording's markers for an answer put on the timeline. The
        answer's marker and what it did with the call go at its first note (a call's marker
        sits at its first note too): an answer that rests a beat or two in was marked where
        its span began, and an editor looking for it found silence there."""
        s = self.s
        at = s.time_of(answer.start)
        first = s.time_of(answer.start + min(n.start for n in answer.notes)) if answer.notes else at
        for line in res.lines:
            self.last_explanation = line
            s.say(line)
            if s.recorder is not None:
                s.recorder.marker(line, first)
        if res.substitute is not None:
            a, b, chart = res.substitute
            self.substitutes = (*self.substitutes[-(SUBSTITUTES_SHOWN - 1):], (a, b, chart.chord_at(a)))
            if s.band is not None:
                self.band_overrides.append(res.substitute)  # the rhythm section plays the substitute too
            if s.recorder is not None:  # the file's chords say so: the substitute, then the tune's again
                # (with no chart, the file's chords are those heard, "(heard) F7": the substitute says what it
                # is, the partner's, "(substitute) B7", and the heard chord comes back as heard)
                labels = ("", "") if s.chart is not None else (SUBSTITUTE, HEARD)
                for beat, label in zip((a, b), labels):
                    chord = chart.chord_at(beat)
                    if chord is not None:
                        s.recorder.marker(f"{label}{chord}", s.time_of(beat), "chord")
        names = " ".join(pitch_name(n.pitch, flats=True) for n in answer.notes[:8])
        heard = getattr(s.timeline, "estimate", None) is not None
        pace = (f", at {s.tempo:.1f} bpm ({'heard' if heard else 'your tempo not heard yet: the first guess'})"
                if s.following else "")
        s.say(f"{s.bar_beat(at)}  answer {res.number}: {count_notes(len(answer))} "
              f"({names}{' ...' if len(answer) > 8 else ''}), ready in {waited_ms:.1f} ms"
              f"{' (drafted in your rest)' if res.drafted else ''}{pace}")
        if s.recorder is not None:
            s.recorder.marker(f"answer {res.number}: {count_notes(len(answer))}", first)
        if missed:
            first = s.time_of(answer.start)
            log.warning("answer %d was ready %.0f ms after it began: its first %s left out", res.number,
                        (ready - first) * 1000.0, count_notes(missed))
        elif answer.notes:
            due = s.time_of(answer.start + answer.notes[0].start)
            if due < ready:
                log.warning("answer %d was ready %.0f ms after its first note was due", res.number,
                            (ready - due) * 1000.0)

    def yield_to_player(self, t: float) -> None:
        """The player came back in: the partner stops at once (conductor)."""
        s = self.s
        with self._lock:  # (an answer being put on the timeline now is either this last one or refused)
            unsounded = self._last if self._last is not None and self._last[2] > t else None
            self._generation += 1
        self.silence()
        self.yields += 1
        if s.recorder is not None:
            s.recorder.marker("partner yields", t)
        if unsounded is None:
            s.say(f"{s.bar_beat(t)}  you came back in: partner yields")
            return
        # It was put on the timeline but not one note of it sounded: not an answer played.
        n, answer, first, drafted, missed = unsounded
        self.answers -= 1
        self.drafted -= drafted
        self.left_out -= missed
        if self.ready_ms:  # (its time, appended with it under the lock: nobody waited for it either)
            self.ready_ms.pop()
        with self._lock:
            self.memory.discard(answer)
        self._last = None
        s.partner.dropped(n)  # (the partner's own history forgets it too)
        if s.recorder is not None:
            s.recorder.marker(f"answer {n} not played: you came back in first", first)
        s.say(f"{s.bar_beat(t)}  you came back in before answer {n} began: partner yields, answer {n} not played")

    def remap(self, beat_of: Any) -> None:
        """The bars were counted again (conductor): the calls and answers so far move with
        them, under the lock, as an answer landing on the partner's thread adds to them; and
        so do the partner's own (it kept them on the old bars, and read the player's calls
        so far over the wrong chords) and the last answer a yield may still take back."""
        with self._lock:
            old = self.memory.phrases
            self.memory.remap(beat_of)
            phrases = self.memory.phrases
            if self._last is not None:
                moved = next((b for a, b in zip(old, phrases) if a is self._last[1]), None)
                if moved is not None:
                    self._last = (self._last[0], moved, *self._last[2:])
        rehome = getattr(self.s.partner, "rehome", None)
        if rehome is not None:
            rehome(phrases)

    def silence(self) -> None:
        """Silence the partner now; answers on their way are not played (conductor)."""
        with self._lock:
            self._generation += 1
            self.s.feeder.clear()
        self.s.scheduler.cancel()

    def close(self) -> None:
        """From now on, arriving answers are not played."""
        with self._lock:
            self._closed = True

    def awaited(self) -> bool:
        """True while an answer asked for has not come back, or is being put on the
        timeline (any thread)."""
        with self._lock:
            return bool(self._asked) or self._landing > 0

    def busy(self) -> bool:
        """True while an answer is being computed, waiting to sound, or sounding. An answer
        a yield already dropped is none of these: a player playing on while it was still
        computed made the partner "yield" again at every note (each said, marked and counted)."""
        with self._lock:
            asked = any(a.generation == self._generation for a in self._asked.values()) or self._landing > 0
        return asked or self.s.feeder.pending() > 0 or self.s.scheduler.busy()
