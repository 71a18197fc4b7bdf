"""The stage view: a full-screen terminal view readable from a metre away (`improv jam
--view`, or `[display] view = true`).

    tempo (big), how sure · bar:beat (big), chorus, section and bar of the form
    the chord now (big) and the next one · whose turn (big)
    what the partner heard and did with the last outside note
    the live controls' values · recent problems · the log

It draws `Snapshot`s (improv/live/status.py) with rich, in a child process: the jam only
writes a JSON line down a pipe (non-blocking: a view that falls behind loses snapshots, it
never holds the jam up), so rendering never takes the real-time process's GIL. The child
owns the terminal: it switches to the alternate screen and hides the cursor, and restores
both in `finally` when the pipe closes (the jam ended, crashed or was killed), on SIGTERM,
or on its own error. It ignores Ctrl-C, which belongs to the jam: the jam ends the session
and closes the pipe.

`StageView` is the jam's side, with the interface of `status.Display` (`update`, `log`,
`finish`), so the session takes either; `make_display` picks one from the config.
"""

from __future__ import annotations


import atexit
import dataclasses
import importlib.util
import json
import math
import os
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Sequence, TextIO

from improv.live.status import Display, Snapshot

REFRESH_S = 0.1  # how often the jam sends a snapshot (and at most how often the child draws)
LOG_LINES = 50  # log lines kept (and printed again once the view closes)
MAX_MESSAGE = 4000  # bytes: under PIPE_BUF, so every write to the pipe is whole or not at all
VIEW_INSTALL = "pip install 'improv[view]' (or pip install rich)"

# A 3 x 5 pixel font for the big figures: "#" is a pixel. Glyphs not here fall back to the
# upper-case one, then to a blank box.
FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "# #", "# #", "# #", "###"), "1": (" # ", "## ", " # ", " # ", "###"),
    "2": ("###", "  #", "###", "#  ", "###"), "3": ("###", "  #", " ##", "  #", "###"),
    "4": ("# #", "# #", "###", "  #", "  #"), "5": ("###", "#  ", "###", "  #", "###"),
    "6": ("###", "#  ", "###", "# #", "###"), "7": ("###", "  #", "  #", " # ", " # "),
    "8": ("###", "# #", "###", "# #", "###"), "9": ("###", "# #", "###", "  #", "###"),
    "A": ("###", "# #", "###", "# #", "# #"), "B": ("## ", "# #", "## ", "# #", "## "),
    "C": ("###", "#  ", "#  ", "#  ", "###"), "D": ("## ", "# #", "# #", "# #", "## "),
    "E": ("###", "#  ", "###", "#  ", "###"), "F": ("###", "#  ", "###", "#  ", "#  "),
    "G": ("###", "#  ", "# #", "# #", "###"), "H": ("# #", "# #", "###", "# #", "# #"),
    "I": ("###", " # ", " # ", " # ", "###"), "J": ("  #", "  #", "  #", "# #", "###"),
    "K": ("# #", "# #", "## ", "# #", "# #"), "L": ("#  ", "#  ", "#  ", "#  ", "###"),
    "M": ("# #", "###", "###", "# #", "# #"), "N": ("## ", "# #", "# #", "# #", "# #"),
    "O": ("###", "# #", "# #", "# #", "###"), "P": ("###", "# #", "###", "#  ", "#  "),
    "Q": ("###", "# #", "# #", "###", "  #"), "R": ("###", "# #", "## ", "# #", "# #"),
    "S": ("###", "#  ", "###", "  #", "###"), "T": ("###", " # ", " # ", " # ", " # "),
    "U": ("# #", "# #", "# #", "# #", "###"), "V": ("# #", "# #", "# #", "# #", " # "),
    "W": ("# #", "# #", "###", "###", "# #"), "X": ("# #", "# #", " # ", "# #", "# #"),
    "Y": ("# #", "# #", " # ", " # ", " # "), "Z": ("###", "  #", " # ", "#  ", "###"),
    "a": ("   ", "## ", " ##", "# #", "###"), "b": ("#  ", "#  ", "###", "# #", "###"),
    "d": ("  #", "  #", "###", "# #", "###"), "i": (" # ", "   ", " # ", " # ", " # "),
    "j": (" # ", "   ", " # ", " # ", "## "), "l": ("## ", " # ", " # ", " # ", "###"),
    "m": ("   ", "   ", "###", "###", "# #"), "n": ("   ", "   ", "## ", "# #", "# #"),
    "o": ("   ", "   ", "###", "# #", "###"), "s": ("   ", " ##", "#  ", "  #", "## "),
    "t": (" # ", "###", " # ", " # ", " ##"), "u": ("   ", "   ", "# #", "# #", "###"),
    "#": ("# #", "###", "# #", "###", "# #"), "+": ("   ", " # ", "###", " # ", "   "),
    "-": ("   ", "   ", "###", "   ", "   "), "/": ("  #", "  #", " # ", "#  ", "#  "),
    "%": ("# #", "  #", " # ", "#  ", "# #"), "(": (" #", "# ", "# ", "# ", " #"),
    ")": ("# ", " #", " #", " #", "# "), ",": ("  ", "  ", "  ", " #", "# "),
    ":": (" ", "#", " ", "#", " "), ".": (" ", " ", " ", " ", "#"), " ": ("  ",) * 5,
    "ø": ("  #", "###", "# #", "###", "#  "), "°": ("###", "# #", "###", "   ", "   "),
    "?": ("###", "  #", " ##", "   ", " # "),
}


def big(text: str, scale: int = 1) -> list[str]:
    """`text` in the block font: 5 lines, each pixel `scale` cells wide, one blank column
    (times `scale`) between glyphs."""
    rows = [""] * 5
    for k, ch in enumerate(text):
        glyph = FONT.get(ch) or FONT.get(ch.upper()) or FONT["?"]
        for r in range(5):
            gap = " " * scale if k else ""
            rows[r] += gap + "".join(("█" if px == "#" else " ") * scale for px in glyph[r])
    return rows


def big_width(text: str, scale: int = 1) -> int:
    """Cells `big(text, scale)` takes across."""
    return len(big(text, scale)[0]) if text else 0


# --- drawing (pure: a Snapshot and the log -> a rich renderable) --------------------------------
def _big_text(text: str, width: int, style: str) -> Any:
    """The largest block-font rendering of `text` that fits `width` cells, else plain bold."""
    from rich.text import Text

    for scale in (2, 1):
        if big_width(text, scale) <= width:
            return Text("\n".join(big(text, scale)), style=style, no_wrap=True)
    return Text(text, style=f"bold {style}", no_wrap=True)


def _turn(s: Snapshot) -> tuple[str, str]:
    """(word, colour) for whose turn it is."""
    turn = s.turn or ("partner" if s.state == "answering" else "you" if s.state == "listening" else s.state)
    return {"you": ("YOU", "green"), "partner": ("PARTNER", "dark_orange"),
            "count-in": ("COUNT-IN", "yellow")}.get(turn, (turn.upper() or "-", "white"))


def _tempo_line(s: Snapshot) -> str:
    if s.tempo_heard > 0:
        sure = f", {100 * s.tempo_sure:.0f}% sure" if s.tempo_sure >= 0 else ""
        return f"heard {s.tempo_heard:.0f} bpm{sure}"
    return "bpm (set)" if s.tempo_sure < 0 else f"bpm, {100 * s.tempo_sure:.0f}% sure"


def _form_line(s: Snapshot) -> str:
    parts = []
    if s.chorus:
        parts.append(f"chorus {s.chorus}")
    if s.section:
        parts.append(f"[{s.section}]")
    if s.form_bar and s.form_bars:
        parts.append(f"{s.form_bar}/{s.form_bars}")
    return " ".join(parts) or "bar:beat"


def beats_text(beats: float) -> str:
    """Beats still to go, as a musician counts them: whole beats, the one under way counted
    ("in 2 beats" at 1.7 to go), never "in 0"."""
    n = max(1, math.ceil(beats - 1e-6))
    return f"{n} beat{'s' if n != 1 else ''}"


def render_view(s: Snapshot, log: Sequence[str] = (), width: int = 100, height: int = 30) -> Any:
    """The stage view of a snapshot, for a terminal of `width` x `height` cells: big figures
    when there is room, a compact table when there is not."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    word, colour = _turn(s)
    harmony = s.harmony or "-"
    nxt = f"next {s.chord_next}" + (f" in {beats_text(s.next_in_beats)}" if s.chord_next and s.next_in_beats > 0
                                     else "") if s.chord_next else ""
    turn_left = f"{beats_text(s.turn_beats_left)} left" if s.turn_beats_left > 0 else s.state
    controls = "   ".join(f"{k} [bold]{v}[/]" for k, v in s.controls) or s.mode or "-"
    outside = Text()
    if s.heard:
        outside.append("heard ", style="dim").append(s.heard, style="bold")
        if s.did:
            outside.append("\n-> ", style="dim").append(s.did, style="bold cyan")
    else:
        outside.append("no outside note yet", style="dim")
    extra = []  # problems (red), then the log's last lines, only when there are any
    if s.errors:
        extra.append(Text("\n".join(s.errors[-3:]), style="bold red"))
    log_lines = [Text("\n".join(log[-max(1, height - 24):]), style="dim")] if log else []
    if width < 60 or height < 22:  # a small terminal: the same facts, in plain text
        t = Table.grid(padding=(0, 2))
        t.add_row(Text(f"{s.tempo:g}", style="bold"), Text(_tempo_line(s)),
                  Text(f"{s.bar}:{s.beat}", style="bold"), Text(_form_line(s)))
        t.add_row(Text(harmony, style="bold"), Text(nxt), Text(word, style=f"bold {colour}"), Text(turn_left))
        return Group(t, outside, *extra, Text.from_markup(controls), *log_lines)
    third = (width - 4) // 3
    top = Table.grid(expand=True)
    for _ in range(3):
        top.add_column(ratio=1)
    top.add_row(_big_text(f"{s.tempo:g}", third, "bold white"), _big_text(f"{s.bar}:{s.beat}", third, "bold white"),
                _big_text(word, third, f"bold {colour}"))
    top.add_row(Text(_tempo_line(s), style="dim"), Text(_form_line(s), style="dim"), Text(turn_left, style="dim"))
    chord = Table.grid(expand=True)
    chord.add_column(ratio=3)
    chord.add_column(ratio=1, vertical="bottom")
    chord.add_row(_big_text(harmony, (width - 4) * 3 // 4, "bold bright_yellow"), Text(nxt, style="yellow"))
    return Group(  # most important first: a short terminal crops the bottom
        Panel(top, title="tempo · bar:beat · turn", title_align="left", border_style="grey50"),
        Panel(chord, title="chord", title_align="left", border_style="grey50"),
        Panel(outside, title="outside note", title_align="left", border_style="grey50"),
        *extra,
        Panel(Text.from_markup(controls), title="controls", title_align="left", border_style="grey50"),
        *log_lines)


# --- the child process: owns the terminal -----------------------------------------------------
def _reader(stream: Any, inbox: "deque[dict]", wake: threading.Event) -> None:
    """The child's stdin, line by line, into `inbox`; an empty dict at the end (EOF)."""
    try:
        for line in stream:
            try:
                inbox.append(json.loads(line))
            except ValueError:
                continue
            wake.set()
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


def main() -> int:
    """The view process: draw each snapshot read on stdin on the terminal (its stderr)
    until stdin closes; the terminal is restored on every way out."""
    import signal
    import time

    from rich.console import Console
    from rich.live import Live

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the jam's; it closes our pipe

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    console = Console(file=sys.stderr)
    inbox: deque[dict] = deque(maxlen=1000)
    wake = threading.Event()
    threading.Thread(target=_reader, args=(sys.stdin, inbox, wake), daemon=True).start()
    log: deque[str] = deque(maxlen=LOG_LINES)
    snap: Snapshot | None = None
    live = Live(console=console, screen=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
    try:
        live.start()
        ended = False
        while not ended:
            wake.wait(1.0)
            wake.clear()
            while inbox:
                msg = inbox.popleft()
                if not msg:
                    ended = True
                elif "snapshot" in msg:
                    snap = snapshot_from(msg["snapshot"])
                elif "log" in msg:
                    log.append(str(msg["log"]))
            if snap is not None and not ended:
                size = console.size
                live.update(render_view(snap, list(log), size.width, size.height), refresh=True)
                time.sleep(REFRESH_S / 2)  # at most ~20 draws a second, whatever arrives
    finally:
        try:
            live.stop()  # leaves the alternate screen, shows the cursor
        finally:
            console.set_alt_screen(False)
            console.show_cursor(True)
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
        self._fallback.log(f"the stage view stopped (exit {code}); showing the status line instead")
        if snapshot is not None:
            self._fallback.update(now, snapshot, force=True)

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
    return Display(stream, tty=False)


def view_unavailable(stream: TextIO) -> str:
    """Why the stage view cannot run on `stream` ("" when it can)."""
    if not stream.isatty():
        return "the stage view needs a terminal (stderr is not one)"
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
