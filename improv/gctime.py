"""Python's cyclic garbage collector kept off the timed paths.

The collector runs when enough objects have been made, on whichever thread makes the one
that tips it over, and holds the GIL while it walks the objects of the generations it
collects. A full collection walks every object the process holds: the modules, the
settings, the model's tables, about 25,000-35,000 objects in the jam's processes. In the
demo's process, mid-session, one took a median 8.5 ms on the 2-core development machine
(7.6-18.8; 0.09 ms with the set-up frozen: figures/gc-ab.json): the timing threads wait
that long for the GIL, whenever one falls: in a 20-minute soak, once in the jam's process and
twice in the worker's, 12-13 ms each (figures/gc-soak.json; none mid-session with this).

- `settle()`, once a process has set up (imports, ports, the model read and warmed up):
  collect once, then freeze what exists, so that later collections walk only what the
  session itself makes (`gc.freeze`: nothing frozen is freed by the collector, so the
  garbage of the set-up is collected first).
- `release()` when the session has ended: the frozen objects go back to the collector (a
  process that runs one session after another, as the tests do, frees each one's cycles).
- `IdleCollector` in the partner's worker: no collection starts inside an answer or the
  reading of the call that asks it; they run when the worker has nothing to do. Reference
  counting still frees everything but cycles meanwhile, and an answer's cycles are few.

The jam and the demo settle before their session starts (`improv.commands.jam`), `improv play`
before it plays the file, the bench's timing section before it measures; the worker settles
once warmed up.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect the set-up's garbage, then freeze every object left (see the module doc)."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Give the frozen objects back to the collector (`settle` undone)."""
    gc.unfreeze()


class IdleCollector:
    """Automatic collection off for a process that waits for work, run instead when it is
    idle: `idle()` before it waits runs the young generations' collection once enough objects
    have been made since the last (as automatic collection would have), and a full one every
    `FULL_EVERY` of those (cheap after `settle`). A process that is never idle still collects
    once `BACKLOG` times the threshold has piled up (`busy()`), so nothing grows unbounded."""

    FULL_EVERY = 10
    BACKLOG = 20

    def __init__(self) -> None:
        self._young = 0
        gc.disable()

    def idle(self) -> None:
        """Nothing waits: collect if it is due."""
        if gc.get_count()[0] >= max(1, gc.get_threshold()[0]):
            self._collect()

    def busy(self) -> None:
        """Between two pieces of work with more waiting: collect only if far overdue."""
        if gc.get_count()[0] >= self.BACKLOG * max(1, gc.get_threshold()[0]):
            self._collect()

    def _collect(self) -> None:
        self._young += 1
        gc.collect(2 if self._young % self.FULL_EVERY == 0 else 1)
