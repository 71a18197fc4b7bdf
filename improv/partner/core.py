"""The partner's thinking, the same in the worker process and in process (tests, `respond`):
learn the call, answer it as the embrace mode plans, remember the exchange, and read the
session so far (and the call under way) ahead of time when the responder can.

A responder that reads ahead and learns nothing from a call (the model) also drafts: a
`Read` in the player's rest may carry the `Job` the call becomes if the rest ends it; the
answer is decoded then and kept, and the `Job` that comes at the call's end is answered at
once when it is that one and nothing else has changed (the session so far). The answer is
the one decoding it then would give (the same inputs and seed); any other `Job` is decoded
as ever.

Pure given its inputs: no clocks, ports or threads (the caller measures time).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

from improv.core.embrace.explain import explain
from improv.core.embrace.plan import AnswerPlan, embraced_answer
from improv.core.model.inputs import CALL_NOTES
from improv.core.respond.base import SESSION_PHRASES, AnswerSettings, Interrupted, Responder, SessionMemory
from improv.core.theory.chart import Chart, single_chord_chart
from improv.core.theory.notes import Phrase
from improv.errors import ImprovError
from improv.partner.protocol import Job, Read, Result, Setup, unpacked

log = logging.getLogger("improv.partner")


def substitute_span(plan: AnswerPlan, answer: Phrase) -> tuple[float, float, Chart]:
    """(start, end, chart) of the substitute chord a re-harmonised answer opens over, for the
    band: the span of the chord it stands in for (at most a bar), within the answer. The
    band played it for the whole answer, where the answer itself went back to the tune's
    changes after that bar (a bar of F7 for Bb7 became four, under Bdim7, F7 and D7)."""
    end = answer.start + answer.length
    a, b = next((h.substitute_span for h in plan.handled if h.substitute_span is not None), (answer.start, end))
    return max(a, answer.start), min(b, end), plan.chart


class PartnerCore:
    """One partner: a responder and the exchange so far.

    Args:
        responder: the partner that answers (`learn`, `answer`, and `prime` if it reads ahead).
    """

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.memory = SessionMemory(keep=SESSION_PHRASES)
        self.reads_ahead = callable(getattr(responder, "prime", None))
        # drafting in rests: answers depend on nothing but the job and the session so far
        self.drafts = self.reads_ahead and getattr(responder, "learns", True) is False
        self._played: dict[int, tuple[Phrase, Phrase]] = {}  # job number -> (call, answer) of recent answers
        self._draft: tuple[Job, tuple[Phrase, ...], Result] | None = None  # (job, session so far, its answer)

    @property
    def name(self) -> str:
        return str(getattr(self.responder, "name", type(self.responder).__name__))

    def setup(self, s: Setup) -> None:
        """Start from the session so far (a fresh partner, or one replacing a lost worker)."""
        self.memory.clear()
        self.memory.add(*s.history)
        for call, chart, tempo in map(unpacked, s.calls):
            self.responder.learn(call, chart, tempo=tempo)
        self.warm_up(s.chart, s.beats_per_bar)
        if s.history and s.chart is not None:
            self.memory.prime(self.responder, s.chart)

    def warm_up(self, chart: Chart | None, beats_per_bar: int = 4) -> None:
        """One throw-away answer, so the first real one pays no lazy set-up (caches, pages)."""
        call = Phrase.of([(60, 0.0, 0.5), (64, 0.5, 0.5), (67, 1.0, 1.0)])
        chart = chart or single_chord_chart(None, beats_per_bar)
        try:
            self.responder.answer(call, chart, AnswerSettings(start=4.0, length=4.0, beats_per_bar=beats_per_bar))
        except Exception as e:  # noqa: BLE001 - a responder that cannot answer is reported per call
            log.warning("partner warm-up failed: %s", e)
        forget = getattr(self.responder, "forget", None)
        if forget is not None:
            forget()

    def read(self, r: Read, interrupt: Callable[[Job], bool] | None = None) -> None:
        """Read the call so far (never the whole session again: that waits for the call's end),
        and draft the answer to `r.draft` when there is one. `interrupt(draft)`: True once
        something other than the draft's own job waits for the partner; the draft is then
        given up between two notes (a stale draft must not hold up the call that came)."""
        if not self.reads_ahead:
            return
        try:
            self.memory.prime(self.responder, r.chart, r.call, max_read=CALL_NOTES + 1)
        except Exception as e:  # noqa: BLE001 - only a head start: a failure costs time at the call's end
            log.debug("reading the call ahead failed: %s", e)
        self._draft = None
        if r.draft is None or not self.drafts:
            return
        draft = r.draft
        hook = hasattr(self.responder, "interrupt") and interrupt is not None
        if hook:
            self.responder.interrupt = lambda: interrupt(draft)  # type: ignore[attr-defined,misc]
        try:
            self._draft = (draft, self.memory.phrases, self._decode(draft))
        except Interrupted:
            log.debug("a draft given up: something newer came")
        except Exception as e:  # noqa: BLE001 - the call's end decodes it again, and says what failed
            log.debug("drafting the answer failed: %s", e)
        finally:
            if hook:
                self.responder.interrupt = None  # type: ignore[attr-defined]

    def _decode(self, job: Job) -> Result:
        """The answer to `job` with the session so far (nothing remembered).

        Raises:
            ImprovError: the responder cannot answer (said to the player); or anything else
                a responder raises.
        """
        settings = self.memory.with_history(job.settings, job.call)
        answer, plan = embraced_answer(self.responder, job.call, job.chart, settings, job.embrace)
        notes = answer.notes
        if job.cut is not None:
            notes = tuple(n for n in notes if n.start < job.cut - 1e-9)
        answer = Phrase(notes, job.settings.start, job.cut if job.cut is not None else answer.length)
        lines = tuple(explain(plan, job.chart)) if plan.handled else ()
        sub = substitute_span(plan, answer) if plan.chart != job.chart else None  # (by value)
        return Result(job.number, answer, lines, sub)

    def answer(self, job: Job) -> Result:
        """Learn the call and answer it (the answer joins the exchange; `dropped` takes it back):
        the draft made in the rest when it is this job over the same session, else decoded now."""
        draft, self._draft = self._draft, None
        try:
            if job.call.notes:
                self.responder.learn(job.call, job.chart, tempo=job.settings.tempo)
            if draft is not None and draft[0] == job and draft[1] == self.memory.phrases:
                result = replace(draft[2], drafted=True)
            else:
                result = self._decode(job)
        except ImprovError as e:
            self.memory.add(job.call)
            return Result(job.number, None, error=str(e))
        except Exception as e:  # noqa: BLE001 - one bad answer must not end the jam
            log.exception("the partner could not answer call %d", job.number)
            self.memory.add(job.call)
            return Result(job.number, None, error=f"{type(e).__name__}: {e}")
        answer = result.answer
        assert answer is not None
        self.memory.add(job.call, answer)
        self._played[job.number] = (job.call, answer)
        while len(self._played) > 8:
            self._played.pop(next(iter(self._played)))
        return result

    def after(self, chart: Chart) -> None:
        """Read the session so far before the next call (after the result has gone out)."""
        if self.reads_ahead:
            try:
                self.memory.prime(self.responder, chart)
            except Exception as e:  # noqa: BLE001
                log.debug("reading the session ahead failed: %s", e)

    def rehome(self, phrases: tuple[Phrase, ...]) -> None:
        """The session so far on bars counted again (`History`): it replaces the exchange
        remembered here, phrase for phrase, so an answer played before is still taken back
        by `dropped`; a draft made on the old bars is forgotten."""
        old = self.memory.phrases
        moved = {id(a): b for a, b in zip(old, phrases)} if len(old) == len(phrases) else {}
        self.memory.clear()
        self.memory.add(*phrases)
        self._played = {n: (call, moved[id(answer)]) for n, (call, answer) in self._played.items()
                        if id(answer) in moved}
        self._draft = None

    def dropped(self, number: int) -> None:
        """The answer to call `number` was never played: it leaves the exchange."""
        got = self._played.pop(number, None)
        if got is not None:
            self.memory.discard(got[1])
