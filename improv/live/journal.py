"""The crash-proof session journal: an append-only file of JSON lines.

Callers (MIDI callbacks, the scheduler) hand lines to `Journal.write`, which only puts them
on a `queue.Queue`; a writer thread appends them to the file, flushes after each batch
and fsyncs at least every `sync_s` seconds, so that a kill -9 loses nothing already
flushed and a power cut loses at most the last second. The writer holds an advisory lock
on the file while it runs, so `recover` can tell a live journal from a crashed one.

Nothing here ever raises mid-set: a folder that cannot be created or written, or a full
disk, gives one warning line and the journal goes quiet (it keeps draining its queue so
that callers never block or grow memory without bound).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, TextIO

try:  # advisory locks exist on Unix; elsewhere recovery simply skips the live check
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

_STOP = object()


def warn_stderr(text: str) -> None:
    """The default warning sink: one line on stderr."""
    print(f"improv: warning: {text}", file=sys.stderr, flush=True)


class Journal:
    """An append-only JSON-lines file fed through a queue by a writer thread.

    Args:
        path: the journal file (its folder is created if needed).
        header: a dict written as the first line.
        sync_s: most seconds between fsyncs.
        warn: called (on the caller's or the writer's thread) with one line when
            journalling fails; the journal then drops everything quietly.
    """

    def __init__(
        self,
        path: Path,
        header: dict[str, Any],
        sync_s: float = 0.5,
        warn: Callable[[str], None] = warn_stderr,
    ) -> None:
        self.path = Path(path)
        self.sync_s = sync_s
        self._warn = warn
        self._queue: queue.Queue = queue.Queue()
        self._file: TextIO | None = None
        self.failed = False
        self.lines_written = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = open(self.path, "x", encoding="utf-8")
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            f.write(json.dumps(header, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
            self._file = f
        except OSError as e:
            self._fail(f"cannot record to {self.path.parent} ({e.strerror or e}); the session goes on without recording")
        self._thread = threading.Thread(target=self._run, name="improv-journal", daemon=True)
        self._thread.start()

    def write(self, record: list | dict) -> None:
        """Queue one line (any JSON-able value). Any thread; never blocks, never raises."""
        if not self.failed:
            self._queue.put_nowait(record)

    def close(self) -> bool:
        """Write what is queued, fsync, close and release the file (calling thread).

        Returns:
            True if every line reached the file.
        """
        self._queue.put_nowait(_STOP)
        self._thread.join()
        return not self.failed

    def _fail(self, text: str) -> None:
        if not self.failed:
            self.failed = True
            self._warn(text)
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def _run(self) -> None:
        """Writer thread: batch what is queued, write, flush; fsync every `sync_s`."""
        last_sync = time.monotonic()
        dirty = False
        stop = False
        while not stop:
            try:
                batch = [self._queue.get(timeout=self.sync_s / 2)]
            except queue.Empty:
                batch = []
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if any(item is _STOP for item in batch):
                stop = True
                batch = [item for item in batch if item is not _STOP]
            if self._file is None:
                continue  # failed: keep draining so callers never pile up memory
            try:
                if batch:
                    self._file.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in batch))
                    self._file.flush()  # in the OS now: survives a kill -9 of this process
                    self.lines_written += len(batch)
                    dirty = True
                now = time.monotonic()
                if dirty and (stop or now - last_sync >= self.sync_s):
                    os.fsync(self._file.fileno())  # on the disk now: survives a power cut
                    last_sync, dirty = now, False
            except (OSError, ValueError) as e:
                self._fail(f"recording stopped: cannot write {self.path} ({getattr(e, 'strerror', None) or e}); "
                           "the session goes on without recording")
        if self._file is not None:
            try:
                self._file.close()
            except OSError as e:
                self._fail(f"cannot close {self.path} ({e})")
            self._file = None


def journal_is_live(path: Path) -> bool:
    """True if a running journal writer holds `path` (its lock is taken)."""
    if fcntl is None:  # pragma: no cover
        return False
    try:
        with open(path, "r", encoding="utf-8") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def read_journal(path: Path) -> tuple[dict[str, Any] | None, list[Any]]:
    """The header and the records of a journal; a torn last line (a crash mid-write) and
    any other unreadable line are skipped."""
    header: dict[str, Any] | None = None
    records: list[Any] = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if i == 0 and isinstance(value, dict):
                header = value
            elif i > 0:
                records.append(value)
    return header, records
