"""The crash-proof session journal: an append-only file of JSON lines.

Callers (MIDI callbacks, the scheduler) hand lines to `Journal.write`, which only puts them
on a `queue.Queue`; a writer thread appends them to the file, flushes after each batch
and fsyncs at least every `sync_s` seconds, so that a kill -9 loses nothing already
written and a power cut loses at most the last second. The writer holds an advisory lock
on the file while it runs, so `recover` can tell a live journal from a crashed one.

Nothing here raises mid-set, and nothing fails quietly:
- a write that fails (a full disk, an I/O error) is reported at once (`error`, the `warn`
  line and the `on_fail` callback); the lines keep coming into a bounded backlog in
  memory, retried every `RETRY_S` seconds, so that a disk that frees up loses nothing;
- a journal whose file or folder is deleted mid-set is noticed within `sync_s` and written
  again in its place (its lines so far are copied from the open file);
- what cannot reach the journal by `close()` is rescued into a copy elsewhere
  (`rescued`): the record folder, else the temporary folder, else the home folder.
Only the file's creation raises (the recorder checks its folder before a session starts).
"""

from __future__ import annotations

import errno
import json
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from improv.core.formats.paths import sync_folder

try:  # advisory locks exist on Unix; elsewhere recovery simply skips the live check
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

_STOP = object()
RETRY_S = 1.0  # after a failed write, seconds between attempts
MAX_BACKLOG_BYTES = 32 * 1024 * 1024  # lines held in memory while the disk refuses them (~1M lines)
_COPY_CHUNK = 1 << 20
RESCUE_NAMES = 1000  # -rescued, -rescued-2, ... tried in each folder


def warn_stderr(text: str) -> None:
    """The default warning sink: one line on stderr."""
    print(f"improv: warning: {text}", file=sys.stderr, flush=True)


def _write_all(fd: int, data: bytes | bytearray) -> int:
    """os.write until everything is written; returns bytes written. Raises OSError with
    the count so far in `.written` (a full disk takes part of a buffer)."""
    view = bytes(data)  # a copy: a bytearray with a live memoryview export could not shrink afterwards
    done = 0
    while done < len(view):
        try:
            n = os.write(fd, view[done:] if done else view)
        except OSError as e:
            e.written = done  # type: ignore[attr-defined]
            raise
        if n <= 0:  # pragma: no cover - os.write raises rather than return 0 on a full disk
            err = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            err.written = done  # type: ignore[attr-defined]
            raise err
        done += n
    return done


def _read_at(fd: int, n: int, offset: int) -> bytes:
    """Up to `n` bytes of `fd` from `offset`: `os.pread` where there is one; elsewhere
    (Windows) a seek and a read, which the writer thread alone may do (its appends go to
    the end wherever the file's position is)."""
    if hasattr(os, "pread"):
        return os.pread(fd, n, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, n)


class Journal:
    """An append-only JSON-lines file fed through a queue by a writer thread.

    Args:
        path: the journal file (its folder is created if needed).
        header: a dict written as the first line.
        sync_s: most seconds between fsyncs (and between checks that the file still exists).
        warn: called with one line when journalling fails, recovers or is rescued
            (writer or calling thread).
        on_fail: called once with the same line when the first write fails (writer thread):
            the session shows it at once.

    Raises:
        OSError: the file cannot be created (its folder cannot be made or written).
    """

    def __init__(
        self,
        path: Path,
        header: dict[str, Any],
        sync_s: float = 0.5,
        warn: Callable[[str], None] = warn_stderr,
        on_fail: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.sync_s = sync_s
        self._warn = warn
        self._on_fail = on_fail
        self._queue: queue.Queue = queue.Queue()
        self.error = ""  # what is wrong now ("" while lines reach the file)
        self.failed = ""  # the first failure, kept for the report at the end ("" if none)
        self.lines_written = 0
        self.lost = 0  # lines that never reached any file (backlog full)
        self.rescued: Path | None = None  # where the journal went when its own file could not take it
        self._pending = bytearray()  # encoded lines not yet written
        self._pending_lines = 0
        self._fd = self._create(self.path, (json.dumps(header, separators=(",", ":")) + "\n").encode())
        self._closed = False
        self._hold = False  # keep the file open and locked after close, until `release`
        self._thread = threading.Thread(target=self._run, name="improv-journal", daemon=True)
        self._thread.start()

    @staticmethod
    def _create(path: Path, first: bytes) -> int:
        """Create `path` (and its folder), lock it, write `first`; the open descriptor."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _write_all(fd, first)
            os.fsync(fd)
            sync_folder(path.parent)  # the journal's name survives a power cut, not only its bytes
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return fd

    def write(self, record: list | dict) -> None:
        """Queue one line (any JSON-able value). Any thread; never blocks, never raises."""
        if not self._closed:
            self._queue.put_nowait(record)

    def close(self, hold: bool = False) -> bool:
        """Write what is queued, fsync, close and release the file (calling thread;
        idempotent). What the file cannot take is rescued (see `rescued`).

        Args:
            hold: keep the file locked until `release` (the session still turns it into its
                .mid: an `improv recover` run meanwhile must leave it alone).

        Returns:
            True if every line reached the journal file.
        """
        if not self._closed:
            self._hold = hold and fcntl is not None
            self._closed = True
            self._queue.put_nowait(_STOP)
        self._thread.join()
        return not self._pending and self.lost == 0 and self.rescued is None and not self.error

    def release(self) -> None:
        """Close the file a `close(hold=True)` kept locked (idempotent)."""
        if self._hold:
            self._hold = False
            try:
                os.close(self._fd)
            except OSError:
                pass

    # --- the writer thread -------------------------------------------------------------
    def _run(self) -> None:
        """Writer thread: `_loop`, and whatever goes wrong in it is reported, not fatal to the
        thread that holds the session's recording."""
        while True:
            try:
                self._loop()
                return
            except Exception as e:  # noqa: BLE001 - a bug here must not lose the rest of the set
                self._problem(f"recording hit an error ({type(e).__name__}: {e}); carrying on")
                if self._closed and self._queue.empty():
                    try:
                        self._finish()
                    except Exception:  # noqa: BLE001
                        pass
                    return

    def _loop(self) -> None:
        """Batch what is queued and write it; fsync and check the file every `sync_s`; retry
        a failed write every `RETRY_S`; rescue what is left at the end."""
        last_sync = time.monotonic()
        next_try = 0.0
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
            self._encode(batch)
            now = time.monotonic()
            if self._pending and (not self.error or now >= next_try or stop):
                if self._flush():
                    dirty = True
                else:
                    next_try = now + RETRY_S
            if stop or now - last_sync >= self.sync_s:
                self._check_still_there()
                if dirty:
                    try:
                        os.fsync(self._fd)  # on the disk now: survives a power cut
                        dirty = False
                    except OSError as e:
                        self._problem(f"cannot sync {self.path} ({e.strerror or e})")
                last_sync = now
        self._finish()

    def _encode(self, batch: list[Any]) -> None:
        for record in batch:
            try:
                line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
            except (TypeError, ValueError):
                self.lost += 1
                continue
            if len(self._pending) + len(line) > MAX_BACKLOG_BYTES:
                self.lost += 1  # the disk has refused lines for so long that memory would run out
                continue
            self._pending += line
            self._pending_lines += 1

    def _flush(self) -> bool:
        """Write the backlog; True if all of it went. A partial write keeps the rest."""
        try:
            _write_all(self._fd, self._pending)
        except OSError as e:
            written = getattr(e, "written", 0)
            if written:
                self.lines_written += self._pending[:written].count(b"\n")
                self._pending_lines -= self._pending[:written].count(b"\n")
                del self._pending[:written]
            self._problem(f"recording cannot write {self.path} ({e.strerror or e}); keeping the notes in memory "
                          "and retrying")
            return False
        self.lines_written += self._pending_lines
        self._pending.clear()
        self._pending_lines = 0
        if self.error:
            self._warn(f"recording resumed: {self.path} takes lines again, nothing lost so far")
            self.error = ""
        return True

    def _problem(self, text: str) -> None:
        """Enter the failed state: warn (once per failure), and tell `on_fail` the first time."""
        if self.error:
            return
        self.error = text
        self._warn(text)
        if not self.failed:
            self.failed = text
            if self._on_fail is not None:
                try:
                    self._on_fail(text)
                except Exception:  # noqa: BLE001 - the session's display must not stop the journal
                    pass

    def _check_still_there(self) -> None:
        """A journal whose file was deleted (its folder removed) is written again in place."""
        try:
            if os.fstat(self._fd).st_nlink > 0:
                return
        except OSError:
            return
        try:
            fd = self._copy_to(self.path)
        except OSError as e:
            self._problem(f"the journal {self.path} was deleted and cannot be written again ({e.strerror or e}); "
                          "keeping it open and retrying")
            return
        os.close(self._fd)
        self._fd = fd
        self._warn(f"the journal {self.path} was deleted mid-session: written again in its place, nothing lost")

    def _rescue_copy(self, folder: Path) -> Path | None:
        """The journal so far plus the backlog, in a new file in `folder` (the first free
        `-rescued` name: a name taken meanwhile by another session's rescue is left to it);
        None when the folder cannot take it (nothing of it is left there)."""
        for n in range(1, RESCUE_NAMES + 1):
            target = folder / f"{self.path.stem}-rescued{f'-{n}' if n > 1 else ''}{self.path.suffix}"
            try:
                fd = self._copy_to(target)
            except FileExistsError:
                continue  # (not ours: never removed)
            except OSError:
                return None
            try:
                _write_all(fd, self._pending)
                os.fsync(fd)
            except OSError:
                os.close(fd)
                target.unlink(missing_ok=True)  # (ours: made by `_copy_to` just now)
                return None
            os.close(fd)
            return target
        return None

    def _copy_to(self, target: Path) -> int:
        """A new file at `target` holding what the open journal holds; its descriptor."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError as e:  # (a file where the folder should be: not a name taken)
            raise NotADirectoryError(e.errno, "not a folder", str(target.parent)) from None
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            offset = 0
            while True:
                chunk = _read_at(self._fd, _COPY_CHUNK, offset)
                if not chunk:
                    break
                _write_all(fd, chunk)
                offset += len(chunk)
            os.fsync(fd)
            sync_folder(target.parent)  # (its name too, before the original may be removed)
        except BaseException:
            os.close(fd)
            target.unlink(missing_ok=True)
            raise
        return fd

    def _finish(self) -> None:
        """Last write; if the journal file cannot take everything, rescue a full copy."""
        if self._pending:
            self._flush()
        self._check_still_there()
        orphan = os.fstat(self._fd).st_nlink == 0
        if self._pending or orphan:
            self._rescue()
        try:
            os.fsync(self._fd)
        except OSError:
            pass
        if not self._hold:
            os.close(self._fd)

    def _rescue(self) -> None:
        """Write the journal so far plus the backlog to a new file, in the first of the
        record folder, the temporary folder and the home folder that takes it."""
        for folder in (self.path.parent, *rescue_folders()):
            target = self._rescue_copy(folder)
            if target is None:
                continue
            self.lines_written += self._pending_lines
            self._pending.clear()
            self._pending_lines = 0
            self.rescued = target
            self._warn(f"the journal could not be completed in {self.path}: a full copy is in {target}")
            if os.fstat(self._fd).st_nlink > 0:
                try:
                    self.path.unlink()  # the copy holds all of it (and a full disk gets the room back)
                except OSError:
                    pass
            return
        self.lost += self._pending_lines
        self._pending.clear()
        self._pending_lines = 0


def rescue_folders() -> tuple[Path, ...]:
    """Where a journal its record folder cannot take is completed (after that folder):
    the temporary folder, then the home folder (when there is one); `improv recover`
    looks there too."""
    try:
        return Path(tempfile.gettempdir()), Path.home()
    except RuntimeError:  # (no home folder: HOME unset and no passwd entry)
        return (Path(tempfile.gettempdir()),)


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


def read_journal(path: Path) -> tuple[dict[str, Any] | None, list[Any], int]:
    """The header, the records and the count of damaged lines of a journal: a torn last
    line (a crash mid-write) and any other line that is not JSON are skipped and counted."""
    header: dict[str, Any] | None = None
    records: list[Any] = []
    damaged = 0
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f):
            try:
                value = json.loads(line)
            except ValueError:
                damaged += 1
                continue
            if i == 0 and isinstance(value, dict):
                header = value
            elif i > 0:
                records.append(value)
    return header, records, damaged
