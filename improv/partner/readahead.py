"""The call under way, read by the responder in the player's rests.

A responder that can read ahead (`prime`: the model) then has only to decode when the
call ends. The reads wait for a rest, not each note: a read holds the GIL (0.3 ms for a
note, 2-4 ms for a long call), and the JACK callback that brings the player's next note
waits for it; read at every note-off, the passthrough p99 rose by up to a period. A call
ends with a rest of `gap_beats`, so its read is done by then. A read extends what was
read before (the session so far, read after each answer) and never reads the whole
session again (the inferred chord changed, say: that is left to the call's end).

Threads: `in_rest` on the conductor, `run` on the responder thread (the conductor asks
for it through `post`, at most one request waiting; without `post`, inline).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from improv.core.theory.chart import Chart
from improv.core.model.inputs import CALL_NOTES
from improv.core.theory.notes import Phrase
from improv.core.respond.base import SessionMemory
from improv.core.listen.segment import Segmenter

log = logging.getLogger("improv.session")

REST_BEATS = 0.25  # a rest this long (or half the call-ending gap, if shorter) starts a read


class ReadAhead:
    """Reads the call under way once a rest (see the module doc).

    Args:
        responder: the partner; nothing is read unless it has `prime`.
        memory: the session so far (responder thread only).
        post: asks for one `run` on the responder thread; False if it could not. None:
            `run` inline (tests with a ManualClock).
    """

    def __init__(self, responder: Any, memory: SessionMemory, post: Callable[[], bool] | None) -> None:
        self.responder, self.memory, self._post = responder, memory, post
        self.enabled = callable(getattr(responder, "prime", None))
        self._pending: tuple[Phrase, Chart] | None = None  # the latest call so far, for `run`
        self._posted = False  # a `run` is asked for and has not yet begun
        self._rest: float | None = None  # the rest (its first beat) last read in

    def in_rest(self, segmenter: Segmenter, beat: float, chart: Callable[[], Chart]) -> None:
        """Time passed to `beat` (conductor thread): in a long enough rest of a call, hand
        the call so far (and the chart it is read over) to the responder, once a rest."""
        rest = segmenter.silence_since
        if (not self.enabled or rest is None or rest == self._rest
                or beat - rest < min(REST_BEATS, segmenter.s.gap_beats / 2)):
            return
        self._rest = rest
        so_far = segmenter.call_so_far()
        if so_far is None:
            return
        self._pending = (so_far, chart())
        if self._post is None:
            self.run()
        elif not self._posted:
            self._posted = True
            if not self._post():
                self._posted = False

    def run(self) -> None:
        """Read the call handed over (responder thread). Only a head start: a failure
        costs nothing but time at the call's end."""
        self._posted = False
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            self.memory.prime(self.responder, pending[1], pending[0], max_read=CALL_NOTES + 1)
        except Exception as e:  # noqa: BLE001
            log.debug("reading the call ahead failed: %s", e)
