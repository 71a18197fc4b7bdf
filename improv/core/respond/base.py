"""The responder interface: `answer(call, harmony, settings) -> Phrase`, all in beats.

Every partner (the session-learning Markov responder, the learned phrase model) has this
shape, so the live engine, `improv respond` and the benchmarks treat them alike.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol, runtime_checkable

from improv.core.theory.chart import Chart
from improv.core.theory.notes import Note, Phrase


@dataclass(frozen=True)
class Constraints:
    """What the answer must or should do, set by the embrace / guide modes.

    Responders honour these inside their own generation (as a forced opening the rest
    continues from, or as weights while sampling), never by overwriting notes afterwards.

    Attributes:
        opening: notes the answer must begin with (starts relative to the answer's start,
            in beats); the responder continues from them.
        favour_pcs: pitch classes to prefer while sampling (e.g. an embraced outside note).
        chord_pcs: chord tones to prefer beside them (embrace: of the answer's first bar),
            at `chord_strength`; a pitch class in both takes the larger weight, so that
            `strength` alone says how much the favoured note stands out among them.
        avoid_pcs: pitch classes to avoid (guide mode steers away from the outside note).
        avoid_everywhere: avoid them over every chord; False: only over a chord whose scale
            does not hold them (guide: a wrong A over Bb7 is still the third of F7).
        strength: how strongly favour/avoid weigh, 0 (ignore) .. 1 (hard).
        chord_strength: how strongly `chord_pcs` weigh, 0 .. 1.
        favour_until: favour (and `chord_pcs`) applies to notes starting before this many beats into the
            answer (inf: the whole answer); avoid applies everywhere. An embraced note is
            welcome where it was made to fit, not over every later chord.
        changes: from `favour_until` on, favour the chord tones of the chord under each
            note, 0 (not at all) .. 1 (strongly): the answer leads back to the changes
            after the moment it built on the player's note.
    """

    opening: tuple[Note, ...] = ()
    favour_pcs: frozenset[int] = frozenset()
    avoid_pcs: frozenset[int] = frozenset()
    strength: float = 0.5
    favour_until: float = math.inf
    changes: float = 0.0
    chord_pcs: frozenset[int] = frozenset()  # (these three last: the fields before keep their places)
    chord_strength: float = 0.0
    avoid_everywhere: bool = True


@dataclass(frozen=True)
class AnswerSettings:
    """How to answer.

    Attributes:
        start: where the answer begins on the session timeline, in beats.
        length: how long the answer lasts, in beats.
        seed: random seed; the same inputs and seed give the same answer.
        temperature: sampling temperature (1.0 = as learned).
        top_p: nucleus sampling mass.
        low, high: the MIDI range the answer stays in.
        density: wanted notes per beat, or None to follow the call and the style.
        beats_per_bar: metre.
        constraints: the embrace / guide mode's wishes.
        history: earlier phrases of the session (the player's calls and the partner's
            answers, oldest first, on the same timeline): context the phrase model reads
            before the call; other responders ignore it.
        tempo: the session's tempo in bpm where the call was played, or None if unknown:
            hearing the call's outside notes scales its on-beat tolerance with it, and the
            phrase model's time feel (swing and lag depend on it) and tempo input read it.
        feel: how much of the learned time feel the phrase model plays with, 0 (on the
            grid, as written) .. 1 (as soloists play); set 0 when the timeline already
            swings (`[timing] swing` other than 1). Others ignore it.
        fill: the share of the span the answer goes on into at least: the phrase model
            does not end it while its notes so far start before this (a trading turn is
            played through, not left after a motif: 0 = it may end after its first note).
            Others fill their span anyway.
    """

    start: float
    length: float
    seed: int = 0
    temperature: float = 1.0
    top_p: float = 0.95
    low: int = 48
    high: int = 84
    density: float | None = None
    beats_per_bar: int = 4
    constraints: Constraints = field(default_factory=Constraints)
    history: tuple[Phrase, ...] = ()
    tempo: float | None = None
    feel: float = 1.0
    fill: float = 0.0


class Interrupted(Exception):
    """An answer given up part-way: it was a draft, and something newer came for the partner
    (`improv.partner.core.PartnerCore.read`)."""


@runtime_checkable
class Responder(Protocol):
    """A partner that answers calls. Pure: no clocks, no threads; deterministic per seed."""

    name: str

    def learn(self, call: Phrase, harmony: Chart, tempo: float | None = None) -> None:
        """Hear a call the player played (the Markov responder learns from it). `tempo`: the
        session's where the call was played (bpm; None: not known), which a responder that
        reads the call's line reads it at (a legato overlap is a share of a beat only at a tempo)."""

    def answer(self, call: Phrase, harmony: Chart, settings: AnswerSettings) -> Phrase:
        """The answer: a Phrase with `start == settings.start`, notes inside
        [0, settings.length) beats, pitches inside [low, high]."""
        ...


def fit_answer(notes: list[Note], settings: AnswerSettings) -> Phrase:
    """Clip notes to the answer's span and range: the common last step of every responder."""
    out = []
    for n in notes:
        if n.start < 0 or n.start >= settings.length - 1e-9:
            continue
        pitch = n.pitch
        if pitch < settings.low:
            pitch += 12 * -(-(settings.low - pitch) // 12)
        if pitch > settings.high:
            pitch -= 12 * -(-(pitch - settings.high) // 12)
        pitch = max(settings.low, min(settings.high, pitch))  # a range under an octave
        dur = min(n.duration, settings.length - n.start)
        if dur <= 0:
            continue
        out.append(Note(n.start, pitch, dur, n.velocity))
    return Phrase.of(cut_at_repeats(out), start=settings.start, length=settings.length)


def cut_at_repeats(notes: list[Note]) -> list[Note]:
    """The notes in onset order, each held into the next onset of its own pitch ended there:
    a note-off of the first would cut the second short (in a file, on a synth)."""
    out = sorted(notes, key=lambda n: n.start)
    nxt: dict[int, float] = {}
    for k in range(len(out) - 1, -1, -1):
        n = out[k]
        after = nxt.get(n.pitch)
        if after is not None and n.start < after < n.start + n.duration:
            out[k] = Note(n.start, n.pitch, after - n.start, n.velocity)
        nxt[n.pitch] = n.start
    return out


def resumes(call: Phrase, before: Phrase) -> bool:
    """Whether `call` is `before` played on: the same start, its notes first, then more (the
    free jam's resumed call, `FreePolicy._resume`)."""
    k = len(before.notes)
    return 0 < k < len(call.notes) and call.start == before.start and call.notes[:k] == before.notes


# The phrases of the session the partner keeps (calls and answers): more than the model's
# window reads (`max_call` notes, however short the phrases). Its cache of licks keeps the
# pitches of every phrase that left the window (`ModelResponder._runs_before`), so the
# partner need not keep the phrases themselves: the garbage collector walks each note (after
# 300 calls, a full collection took 0.91 ms with 600 phrases kept, 0.26 ms with 160, 0.12 ms
# with 16: models/eval/gc-session.json).
SESSION_PHRASES = 160


class SessionMemory:
    """The session so far as the partner reads it: the last `keep` phrases played (the
    player's calls and the partner's answers), for `AnswerSettings.history`."""

    def __init__(self, keep: int = 16) -> None:
        self._phrases: deque[Phrase] = deque(maxlen=max(0, keep))

    def add(self, *phrases: Phrase) -> None:
        """Remember phrases in the order played; a call that resumes the phrase remembered
        last (`resumes`: the free jam's phrase played on before its answer began) takes its
        place, so its first part is not read twice."""
        for p in phrases:
            if not p.notes:
                continue
            if self._phrases and resumes(p, self._phrases[-1]):
                self._phrases.pop()
            self._phrases.append(p)

    def discard(self, phrase: Phrase) -> None:
        """Forget a phrase added before (by identity): an answer that was never played."""
        for i in range(len(self._phrases) - 1, -1, -1):
            if self._phrases[i] is phrase:
                del self._phrases[i]
                return

    def clear(self) -> None:
        self._phrases.clear()

    def remap(self, beat_of: Callable[[float], float]) -> None:
        """Move every phrase to new timeline beats (`beat_of(old beat)`): the bars were
        counted again on the player's tempo, and what was heard keeps its place in time."""
        moved = []
        for p in self._phrases:
            start = beat_of(p.start)
            notes = [Note(beat_of(n.start) - start, n.pitch, max(beat_of(n.end) - beat_of(n.start), 1e-3), n.velocity)
                     for n in p.absolute()]
            moved.append(Phrase.of(notes, start=start, length=max(beat_of(p.start + p.length) - start, 0.0)))
        self._phrases = deque(moved, maxlen=self._phrases.maxlen)

    @property
    def phrases(self) -> tuple[Phrase, ...]:
        return tuple(self._phrases)

    def with_history(self, settings: AnswerSettings, call: Phrase | None = None) -> AnswerSettings:
        """`settings` with the session so far as its history (`history_for(call)`)."""
        return replace(settings, history=self.history_for(call))

    def history_for(self, call: Phrase | None = None) -> tuple[Phrase, ...]:
        """The session so far as `call`'s answer reads it: but for the phrase `call` resumes,
        which the call holds whole (the model read its notes twice: once in the history,
        once in the call)."""
        history = self.phrases
        if call is not None and history and resumes(call, history[-1]):
            history = history[:-1]
        return history

    def prime(self, responder: Responder, harmony: Chart, call: Phrase | None = None,
              max_read: int | None = None) -> None:
        """Let a responder that can (the model) read the history, and the opening of the
        `call` under way, before the call ends, so the answer reads only what came since: the
        history its answer reads (`history_for`: a call resuming the phrase remembered last
        was read after it, and its answer read the whole session again at the call's end).
        `max_read`: skip a read-ahead longer than this many steps (see `ModelResponder.prime`)."""
        prime = getattr(responder, "prime", None)
        if prime is not None:
            prime(call if call is not None else Phrase((), 0.0, 0.0), harmony, self.history_for(call),
                  max_read=max_read)
