"""The partner in the real-time process itself: on a thread of its own, or called inline
(tests on a `ManualClock`, where everything must happen within `step()`).

The same `PartnerCore` as the worker process and the same interface as `ProcessPartner`,
for tests with fake responders and for measuring the partner without a pipe. The jam
uses `ProcessPartner`: a partner computing here shares the GIL with the real-time threads.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from improv.core.respond.base import Responder
from improv.partner.core import PartnerCore
from improv.core.theory.notes import Phrase
from improv.partner.protocol import Dropped, History, Job, Read, Result, Setup

_READ = "read"


class InlinePartner:
    """A responder object as the session's partner.

    Args:
        responder: the partner that answers.
        threaded: answer on a thread ("improv-responder"); False: inline, in `submit`.
    """

    state = "ready"

    def __init__(self, responder: Responder, threaded: bool = True) -> None:
        self.core = PartnerCore(responder)
        self.responder = responder
        self.threaded = threaded
        self.name = self.core.name
        self.reads_ahead = self.core.reads_ahead
        self.drafts = self.core.drafts
        self._on_result: Callable[[Result], None] = lambda r: None
        self._jobs: queue.Queue[Any] = queue.Queue(maxsize=8)
        self._pending_read: Read | None = None
        self._read_posted = False
        self._busy = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, make_setup: Callable[[], Setup], on_result: Callable[[Result], None],
              say: Callable[[str], None] = lambda s: None) -> None:
        self._on_result = on_result
        self.core.setup(make_setup())
        if self.threaded:
            self._thread = threading.Thread(target=self._loop, name="improv-responder", daemon=True)
            self._thread.start()

    def submit(self, job: Job, now: float) -> None:
        with self._lock:
            self._busy += 1
        if not self.threaded:
            self._answer(job, last=True)
            return
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self._done(Result(job.number, None, error="the partner is still thinking about earlier calls"))

    def read(self, r: Read) -> None:
        if not self.threaded:
            self.core.read(r)
            return
        self._pending_read = r  # only the freshest read matters: one request waits at most
        if not self._read_posted:
            self._read_posted = True
            try:
                self._jobs.put_nowait(_READ)
            except queue.Full:
                self._read_posted = False

    def dropped(self, number: int) -> None:
        if self.threaded and threading.current_thread() is not self._thread:
            self._jobs.put(Dropped(number))
        else:  # (inline, or from `on_result` on the responder's own thread: a put could wait on itself)
            self.core.dropped(number)

    def rehome(self, phrases: tuple[Phrase, ...]) -> None:
        if self.threaded and threading.current_thread() is not self._thread:
            self._jobs.put(History(tuple(phrases)))
        else:
            self.core.rehome(tuple(phrases))

    def silence(self, targets: tuple[tuple[str, str], ...]) -> None:
        """Nothing to do: in process, the partner dies with the jam (`Setup.silence` is the worker's)."""

    def check(self, now: float) -> None:
        """Nothing to watch: a failure here is an exception, reported per call."""

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._busy > 0

    def close(self) -> None:
        if self._thread is not None:
            while True:  # calls not begun are not answered any more
                try:
                    self._jobs.get_nowait()
                except queue.Empty:
                    break
            self._jobs.put(None)
            self._thread.join(timeout=5.0)
            self._thread = None

    def _loop(self) -> None:
        while True:
            m = self._jobs.get()
            if m is None:
                return
            if m is _READ:
                self._read_posted = False
                r, self._pending_read = self._pending_read, None
                if r is not None:  # (a draft gives way to anything queued behind it but its own job)
                    self.core.read(r, self._newer_than)
            elif isinstance(m, Dropped):
                self.core.dropped(m.number)
            elif isinstance(m, History):
                self.core.rehome(m.phrases)
            else:
                self._answer(m, last=self._jobs.empty())

    def _newer_than(self, draft: Job) -> bool:
        with self._jobs.mutex:
            waiting = list(self._jobs.queue)
        return self._pending_read is not None or any(m != draft for m in waiting)

    def _answer(self, job: Job, last: bool) -> None:
        self._done(self.core.answer(job))
        if last:
            self.core.after(job.chart)

    def _done(self, result: Result) -> None:
        try:
            self._on_result(result)
        finally:
            with self._lock:
                self._busy -= 1
