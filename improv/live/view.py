"""The stage view: a full-screen terminal view readable from a metre away (`improv jam
--view`, or `[display] view = true`).

    whose turn (big, first) · tempo (big), how sure · bar:beat (big; the count-in's beats
    left while trading counts in), chorus, section and bar of the form
    the chord now (big) and the next one
    what the partner heard and did with the last outside note
    the live controls' values · recent problems · the log

It draws `Snapshot`s (improv/live/status.py) with rich (the drawing itself:
improv/live/stage.py), in a child process: the jam only
writes a JSON line down a pipe (non-blocking: a view that falls behind loses snapshots, it
never holds the jam up), so rendering never takes the real-time process's GIL. The child
owns the terminal: it switches to the alternate screen and hides the cursor, and restores
both in `finally` when the pipe closes (the jam ended, crashed or was killed), when the jam
is gone (its parent changed), on SIGTERM, or on its own error. It ignores Ctrl-C, which
belongs to the jam: the jam ends the session and closes the pipe. It draws only when what it
shows changed (the snapshot as shown, the log, the terminal's size), at most every
`REFRESH_S`. On a terminal that is not UTF-8 (see `needs_ascii`) it draws with ASCII only.

`StageView` is the jam's side, with the interface of `status.Display` (`update`, `log`,
`finish`), so the session takes either; `make_display` picks one from the config.
"""

from __future__ import annotations


import atexit
import codecs
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Mapping, TextIO

from improv.live.stage import render_view, shown
from improv.live.status import Display, Snapshot

REFRESH_S = 0.1  # how often the jam sends a snapshot (and at most how often the child draws)
POLL_S = 0.5  # the child looks this often (at least) whether the jam is still there
LOG_LINES = 50  # log lines kept (and printed again once the view closes)
MAX_MESSAGE = 4000  # bytes: under PIPE_BUF, so every write to the pipe is whole or not at all
VIEW_INSTALL = "pip install 'improv[view]' (or pip install rich)"

# --- the child process: owns the terminal -----------------------------------------------------
COERCED = ("C.UTF-8", "C.utf8", "UTF-8")  # what Python sets LC_CTYPE to when the locale is C (PEP 538)


def _says_utf8(locale_name: str) -> bool:
    return "utf8" in locale_name.lower().replace("-", "").replace("_", "")


def needs_ascii(encoding: str | None, environ: Mapping[str, str]) -> bool:
    """Whether the view must draw with ASCII only on a stream with this `encoding`: when the
    stream does not write UTF-8, or when the locale (LC_ALL, else LC_CTYPE, else LANG, as
    the C library reads them) says the terminal is not UTF-8: under LANG=C LC_ALL=C Python's
    UTF-8 mode writes UTF-8 to a terminal that said it is not. With no locale set at all (as
    macOS and Windows terminals often leave it) the stream's encoding decides."""
    try:
        if codecs.lookup(encoding or "ascii").name != "utf-8":
            return True
    except LookupError:
        return True
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(name, "")
        if value:
            if name == "LC_CTYPE" and value in COERCED and environ.get("LANG", "") in ("C", "POSIX"):
                return True  # LANG said C: Python itself set this LC_CTYPE, the terminal did not
            return not _says_utf8(value)
    return False


def _terminal(stream: TextIO) -> tuple[TextIO, bool]:
    """The stream to draw on and whether with ASCII only: on a terminal that is not UTF-8, the
    same terminal written in its own encoding (ASCII when the stream would write UTF-8),
    a character it cannot show becoming '?'."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    if not needs_ascii(encoding, os.environ):
        return stream, False
    try:
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "ascii"
    except LookupError:
        encoding = "ascii"
    try:
        return open(stream.fileno(), "w", encoding=encoding, errors="replace", closefd=False), True
    except (AttributeError, OSError, ValueError):
        return stream, True


def _reader(stream: Any, inbox: "deque[dict]", wake: threading.Event, at_end: Any = None) -> None:
    """The child's stdin, line by line, into `inbox`; at the end (EOF), `at_end()` first of
    all (leaving the full screen: a killed jam's shell prints its prompt at once), then an
    empty dict."""
    try:
        for line in stream:
            try:
                inbox.append(json.loads(line))
            except ValueError:
                continue
            wake.set()
    finally:
        try:
            if at_end is not None:
                at_end()
        finally:
            inbox.append({})
            wake.set()


def snapshot_from(data: dict) -> Snapshot:
    """A Snapshot from its JSON form (lists back to tuples; unknown keys ignored)."""
    names = {f.name for f in dataclasses.fields(Snapshot)}
    kw = {k: v for k, v in data.items() if k in names}
    kw["controls"] = tuple(tuple(pair) for pair in kw.get("controls", ()))
    kw["errors"] = tuple(kw.get("errors", ()))
    return Snapshot(**kw)


class Screen:
    """What the view process shows: the jam's latest snapshot and log lines (`take` each
    message read from the pipe), and what it drew last. `frame` gives what to draw now, or
    None when that would draw the same as last time (nothing shown changed, nor the
    terminal's size): an idle view writes nothing.

    Args:
        ascii_only: draw for a terminal that is not UTF-8 (see `render_view`).
    """

    def __init__(self, ascii_only: bool = False) -> None:
        self.ascii_only = ascii_only
        self.snapshot: Snapshot | None = None
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.ended = False  # the pipe closed
        self._drawn: tuple | None = None

    def take(self, msg: dict) -> None:
        """One message from the jam: a snapshot, a log line, or {} (the pipe closed)."""
        if not msg:
            self.ended = True
        elif "snapshot" in msg:
            self.snapshot = snapshot_from(msg["snapshot"])
        elif "log" in msg:
            self.log.append(str(msg["log"]))

    def frame(self, width: int, height: int) -> Any:
        """What to draw on a `width` x `height` terminal, or None: nothing to draw yet, the
        pipe closed, or the same as the last frame."""
        if self.snapshot is None or self.ended:
            return None
        key = (shown(self.snapshot), tuple(self.log), width, height)
        if key == self._drawn:
            return None
        self._drawn = key
        return render_view(self.snapshot, list(self.log), width, height, self.ascii_only)


class Terminal:
    """The view's hold on the terminal: the alternate screen with the cursor hidden from
    `enter` to `leave`. `leave` may come from any thread (the pipe's reader leaves the moment
    the pipe closes, whatever the drawing thread is doing) and at any time: a frame is
    written whole or not at all, never half on the alternate screen and half on the shell's.
    """

    ENTER = "\x1b[?1049h\x1b[H\x1b[?25l"  # alternate screen, cursor home, cursor hidden
    LEAVE = "\x1b[?1049l\x1b[?25h"  # main screen (as it was), cursor shown

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.on = False
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal is gone: nothing to draw on or restore
            pass

    def enter(self) -> None:
        with self._lock:
            self.on = True
            self._write(self.ENTER)

    def draw(self, text: str) -> None:
        """One frame (rendered beforehand: only the write happens under the lock)."""
        with self._lock:
            if self.on:
                self._write("\x1b[H" + text)

    def leave(self) -> None:
        with self._lock:
            if self.on:
                self.on = False
                self._write(self.LEAVE)


def main() -> int:
    """The view process: draw what the snapshots read on stdin show on the terminal (its
    stderr), when it changed, until stdin closes or the jam is gone; the terminal is
    restored on every way out, the moment the pipe closes first of all."""
    import signal
    import time

    from rich.console import Console
    from rich.screen import Screen as Full

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the jam's; it closes our pipe
    for name in ("SIGQUIT", "SIGBREAK"):  # so are Ctrl-\ (it left the terminal in the full screen) and
        if hasattr(signal, name):  # Windows' Ctrl-Break, which the console sends us too
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    if hasattr(signal, "SIGTSTP"):  # and Ctrl-Z, which the jam does not stop for (stopped, the view was left
        signal.signal(signal.SIGTSTP, signal.SIG_IGN)  # on the shell's screen, the cursor hidden)

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    parent = os.getppid()  # the jam: when it is gone (killed, while another process still holds
    # our pipe open, so no end of it comes), our parent changes
    stream, ascii_only = _terminal(sys.stderr)
    console = Console(file=stream)
    terminal = Terminal(stream)
    inbox: deque[dict] = deque(maxlen=1000)
    wake = threading.Event()
    if hasattr(signal, "SIGWINCH"):
        signal.signal(signal.SIGWINCH, lambda *_: wake.set())  # resized: draw the new size now
    screen = Screen(ascii_only)
    try:
        terminal.enter()
        threading.Thread(target=_reader, args=(sys.stdin, inbox, wake, terminal.leave), daemon=True).start()
        timeout, next_draw = POLL_S, 0.0
        while True:
            wake.wait(timeout)
            wake.clear()
            while inbox and not screen.ended:
                screen.take(inbox.popleft())
            if screen.ended or os.getppid() != parent:
                break  # the jam is over
            now = time.monotonic()
            if now < next_draw:  # drew less than REFRESH_S ago: what changed is drawn then
                timeout = next_draw - now
                continue
            timeout = POLL_S
            size = console.size
            frame = screen.frame(size.width, size.height)
            if frame is not None:
                with console.capture() as capture:  # rendered here; only the write takes the lock
                    console.print(Full(frame), end="")
                terminal.draw(capture.get())
                next_draw = now + REFRESH_S
    finally:
        terminal.leave()
    return 0


# --- the jam's side ---------------------------------------------------------------------------
class StageView:
    """The jam's handle on the view process, with `status.Display`'s interface.

    `update` and `log` write one JSON line to the child's pipe without blocking (a full pipe
    drops the line and counts it); if the child has gone, the view falls back to the status
    line on `stream`. `finish` closes the pipe, waits (bounded) for the child to restore the
    terminal, then prints again the log lines the view showed.

    Args:
        stream: the terminal the view takes over (stderr).
        every_s: seconds between snapshots.
    """

    tty = True

    def __init__(self, stream: TextIO | None = None, every_s: float = REFRESH_S) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.dropped = 0
        self._last = -1e9
        self._shown: deque[str] = deque(maxlen=LOG_LINES)
        self._fallback: Display | None = None
        self._finished = False
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = subprocess.Popen(
            [sys.executable, "-m", "improv.live.view"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=self.stream, close_fds=True)
        self._fd = self._proc.stdin.fileno()
        os.set_blocking(self._fd, False)
        atexit.register(self.finish)

    def due(self, now: float) -> bool:
        """Whether `update` would send a snapshot at `now` (seconds)."""
        return now - self._last >= self.every_s

    def update(self, now: float, snapshot: Snapshot, force: bool = False) -> None:
        """Send the snapshot if it is time to (conductor thread; never blocks)."""
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        if self._fallback is not None:
            self._fallback.update(now, snapshot, force)
            return
        self._send({"snapshot": dataclasses.asdict(snapshot)}, snapshot=snapshot, now=now)

    def log(self, text: str) -> None:
        """One log line (any thread): shown in the view, printed again when it closes."""
        if self._finished or self._fallback is not None:
            (self._fallback or _plain(self.stream)).log(text)
            return
        self._shown.append(text)
        self._send({"log": text[:MAX_MESSAGE // 2]})

    def _send(self, msg: dict, snapshot: Snapshot | None = None, now: float = 0.0) -> None:
        data = (json.dumps(msg, default=str) + "\n").encode("utf-8", "replace")
        if len(data) > MAX_MESSAGE:
            self.dropped += 1
            return
        try:
            os.write(self._fd, data)  # whole or not at all: under PIPE_BUF
        except BlockingIOError:
            self.dropped += 1  # the view is behind: this line is lost, the jam goes on
        except (BrokenPipeError, OSError, ValueError):
            self._fall_back(snapshot, now)

    def _fall_back(self, snapshot: Snapshot | None, now: float) -> None:
        with self._lock:
            if self._fallback is not None:
                return
            code = self._proc.poll() if self._proc is not None else None
            self._fallback = Display(self.stream)
        if code is None or code < 0:  # killed (-9): it could not give the terminal back, so we do
            try:
                self.stream.write(Terminal.LEAVE)
                self.stream.flush()
            except (OSError, ValueError):
                pass
        for line in self._shown:  # what the view showed, on the main screen too (as `finish` does)
            self._fallback.log(line)
        self._fallback.log(f"the stage view stopped (exit {code}); showing the status line instead")
        if snapshot is not None:
            self._fallback.update(now, snapshot, force=True)

    def end_line(self) -> None:
        """The session is closing: the view stays up until `finish` (its plain fallback ends
        its status line here)."""
        if self._fallback is not None:
            self._fallback.end_line()

    def finish(self) -> None:
        """Close the view (calling thread; idempotent): the child restores the terminal; the
        log lines it showed are printed again."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(2.0)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(2.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(2.0)
        if self._fallback is not None:
            self._fallback.finish()
            return
        for line in self._shown:
            self.stream.write(line + "\n")
        self.stream.flush()

    def __enter__(self) -> "StageView":
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


def _plain(stream: TextIO) -> Display:
    return Display(stream, tty=False, background=False)  # the music is over: at once, in order


DUMB_TERMS = ("", "dumb", "unknown")  # TERM values of a terminal that cannot draw a full screen


def view_unavailable(stream: TextIO, environ: Mapping[str, str] | None = None) -> str:
    """Why the stage view cannot run on `stream` ("" when it can): not a terminal, a
    terminal that cannot draw a full screen (TERM dumb, unknown, empty or unset: rich would
    draw nothing at all there; `environ`: os.environ), a Python that cannot write to a pipe
    without waiting (Windows before 3.12), or no rich."""
    if not stream.isatty():
        return "the stage view needs a terminal (stderr is not one)"
    term = (os.environ if environ is None else environ).get("TERM", "")
    if term in DUMB_TERMS and sys.platform != "win32":  # (Windows consoles set no TERM)
        said = f"TERM={term}" if term else "TERM is not set"
        return f"the stage view needs a terminal that can draw a full screen ({said})"
    if not hasattr(os, "set_blocking"):  # (Windows before Python 3.12: the jam could not write to the view's
        # pipe without waiting on it, and a view that fell behind would hold the music up)
        return (f"the stage view needs Python 3.12 or newer on Windows (this is {sys.version_info[0]}."
                f"{sys.version_info[1]})")
    if importlib.util.find_spec("rich") is None:
        return f"the stage view needs rich: {VIEW_INSTALL}"
    return ""


def make_display(cfg: Any, stream: TextIO | None = None) -> Display | StageView:
    """The jam's display: the stage view when `[display] view` (or `--view`) asks for it and
    it can run, else the status line (saying in one line why the view could not run)."""
    stream = stream or sys.stderr
    if not cfg.display.view:
        return Display(stream)
    why = view_unavailable(stream)
    if not why:
        try:
            return StageView(stream)
        except OSError as e:  # no process could be started: the jam goes on without the view
            why = f"the stage view could not start ({e})"
    print(f"{why}; showing the status line", file=stream, flush=True)
    return Display(stream)


if __name__ == "__main__":
    sys.exit(main())
