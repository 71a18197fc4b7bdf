"""The stage view: a full-screen terminal view readable from a metre away (`improv jam
--view`, or `[display] view = true`).

    whose turn (big, first) · tempo (big), how sure · bar:beat (big; the count-in's beats
    left while trading counts in), chorus, section and bar of the form
    the chord now (big) and the next one
    what the partner heard and did with the last outside note
    the live controls' values · recent problems · the log

It draws `Snapshot`s (improv/live/status.py) with rich, in a child process: the jam only
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
import math
import os
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Mapping, NamedTuple, Sequence, TextIO

from improv.live.status import Display, Snapshot

REFRESH_S = 0.1  # how often the jam sends a snapshot (and at most how often the child draws)
POLL_S = 0.5  # the child looks this often (at least) whether the jam is still there
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


def big(text: str, scale: int = 1, pixel: str = "█") -> list[str]:
    """`text` in the block font: 5 lines, each pixel `scale` cells of `pixel` wide, one blank
    column (times `scale`) between glyphs."""
    rows = [""] * 5
    for k, ch in enumerate(text):
        glyph = FONT.get(ch) or FONT.get(ch.upper()) or FONT["?"]
        for r in range(5):
            gap = " " * scale if k else ""
            rows[r] += gap + "".join((pixel if px == "#" else " ") * scale for px in glyph[r])
    return rows


def big_width(text: str, scale: int = 1) -> int:
    """Cells `big(text, scale)` takes across."""
    return len(big(text, scale)[0]) if text else 0


# --- drawing (pure: a Snapshot and the log -> a rich renderable) --------------------------------
GAP = 2  # cells between the figures of the top row
TURN_RESERVE = "PARTNER"  # the widest turn word (YOU, PARTNER, COUNT in trading's count-in):
# the top row keeps room for it, so the tempo and bar:beat keep their size and place when the
# turn changes


def _cells(text: str, scale: int) -> int:
    """Cells `text` takes across at `scale` (0 = plain text)."""
    return big_width(text, scale) if scale else len(text)


def _figure(text: str, scale: int, style: str, pixel: str) -> Any:
    from rich.text import Text

    if scale:
        return Text("\n".join(big(text, scale, pixel)), style=style, no_wrap=True)
    return Text(text, style=style, no_wrap=True)


def _big_text(text: str, width: int, style: str, pixel: str = "█") -> Any:
    """The largest block-font rendering of `text` that fits `width` cells, else plain bold."""
    for scale in (2, 1):
        if big_width(text, scale) <= width:
            return _figure(text, scale, style, pixel)
    return _figure(text, 0, f"bold {style}", pixel)


def _turn(s: Snapshot) -> tuple[str, str]:
    """(word, colour) for whose turn it is."""
    turn = s.turn or ("partner" if s.state == "answering" else "you" if s.state == "listening" else s.state)
    return {"you": ("YOU", "green"), "partner": ("PARTNER", "dark_orange"),
            "count-in": ("COUNT", "yellow")}.get(turn, (turn.upper() or "-", "white"))


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


class Shown(NamedTuple):
    """What the view shows of a snapshot, as it shows it: snapshots with the same `Shown`
    draw the same, so the view redraws only when this (or the log, or the terminal's size)
    changes."""

    turn: str
    colour: str
    turn_line: str
    tempo: str
    tempo_line: str
    position: str  # bar:beat, or the count-in's beats left while trading counts in
    position_line: str
    harmony: str
    next_chord: str
    heard: str
    did: str
    controls: tuple[tuple[str, str], ...]
    mode: str
    errors: tuple[str, ...]


def shown(s: Snapshot) -> Shown:
    """What `render_view` shows of `s`: the tempo in whole bpm (rounded), beats to go in
    whole beats, the count-in's beats left in place of bar:beat while trading counts in."""
    word, colour = _turn(s)
    if s.turn == "count-in" and s.turn_beats_left > 0:  # bar:beat stands still at 1:1 until bar 1
        n = max(1, math.ceil(s.turn_beats_left - 1e-6))
        position, position_line = str(n), f"beat{'s' if n != 1 else ''} to bar 1"
    else:
        position, position_line = f"{s.bar}:{s.beat}", _form_line(s)
    nxt = ""
    if s.chord_next:
        nxt = f"next {s.chord_next}" + (f" in {beats_text(s.next_in_beats)}" if s.next_in_beats > 0 else "")
    turn_line = f"{beats_text(s.turn_beats_left)} left" if s.turn_beats_left > 0 else s.state
    return Shown(word, colour, turn_line, f"{s.tempo:.0f}", _tempo_line(s), position, position_line,
                 s.harmony or "-", nxt, s.heard, s.did, tuple(tuple(c) for c in s.controls),
                 "" if s.controls else s.mode, tuple(s.errors[-3:]))


def _scales(texts: Sequence[str], width: int) -> list[int]:
    """Block-font scales (2, 1; 0 = plain text) for the top row's figures, the first (whose
    turn, which keeps room for `TURN_RESERVE` too) as large as fits with the others as plain
    text, then the others at one scale, the largest that fits and no larger than the first's;
    failing that, each in order as large as fits."""
    def fits(scales: Sequence[int]) -> bool:
        cells = [max(_cells(t, sc), _cells(TURN_RESERVE, sc) if k == 0 else 0)
                 for k, (t, sc) in enumerate(zip(texts, scales))]
        return sum(cells) + GAP * (len(texts) - 1) <= width

    rest = len(texts) - 1
    first = next((sc for sc in (2, 1) if fits([sc] + [0] * rest)), 0)
    for sc in range(first, 0, -1):
        if fits([first] + [sc] * rest):
            return [first] + [sc] * rest
    scales = [first] + [0] * rest
    for k in range(1, len(texts)):
        scales[k] = next((sc for sc in range(first, 0, -1) if fits(scales[:k] + [sc] + scales[k + 1:])), 0)
    return scales


def _top_row(sh: Shown, width: int, pixel: str) -> Any:
    """Whose turn, the tempo and bar:beat, big (whose turn first and at least as big as the
    others), each over its dim line, in `width` cells."""
    from rich.table import Table
    from rich.text import Text

    items = [(sh.turn, f"bold {sh.colour}", sh.turn_line), (sh.tempo, "bold white", sh.tempo_line),
             (sh.position, "bold white", sh.position_line)]
    scales = _scales([text for text, _, _ in items], width)
    # each figure after the first starts with GAP - 1 blank cells, its dim line one cell apart
    lead = " " * (GAP - 1)
    widths = [max(_cells(text, sc), _cells(TURN_RESERVE, sc) if k == 0 else 0) + (len(lead) if k else 0)
              for k, ((text, _, _), sc) in enumerate(zip(items, scales))]
    spare = max(0, width - sum(widths) - (len(items) - 1))
    for k in (1, 2, 0):  # room for the dim lines first (the tempo's, bar:beat's), then evenly
        more = min(spare, max(0, len(items[k][2]) - widths[k]))
        widths[k] += more
        spare -= more
    widths = [w + spare // len(widths) + (spare % len(widths) if k == len(widths) - 1 else 0)
              for k, w in enumerate(widths)]
    row = Table.grid(padding=(0, 1, 0, 0), pad_edge=False)
    for w in widths:
        row.add_column(width=w)  # a dim line too long wraps under itself
    figures = [_figure(text, sc, style, pixel) for (text, style, _), sc in zip(items, scales)]
    for k, figure in enumerate(figures[1:], 1):
        figures[k] = Text("\n".join(lead + line for line in figure.plain.split("\n")), style=figure.style,
                          no_wrap=True)
    row.add_row(*figures)
    row.add_row(*(Text(line, style="dim") for _, _, line in items))
    return row


def _controls(sh: Shown) -> Any:
    from rich.text import Text

    if not sh.controls:
        return Text(sh.mode or "-")
    out = Text()
    for k, (name, value) in enumerate(sh.controls):
        out.append(("   " if k else "") + f"{name} ").append(str(value), style="bold")
    return out


def render_view(s: Snapshot, log: Sequence[str] = (), width: int = 100, height: int = 30,
                ascii_only: bool = False) -> Any:
    """The stage view of a snapshot, for a terminal of `width` x `height` cells: big figures
    when there is room, a compact table when there is not; whose turn first. `ascii_only`:
    for a terminal that is not UTF-8 ('#' for the big figures' pixels, ASCII boxes)."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    sh = shown(s)
    pixel, dot, frame = ("#", "-", box.ASCII) if ascii_only else ("█", "·", box.ROUNDED)
    overflow = "crop" if ascii_only else "ellipsis"  # (an ellipsis is not ASCII)
    outside = Text()
    if sh.heard:
        outside.append("heard ", style="dim").append(sh.heard, style="bold")
        if sh.did:
            outside.append("\n-> ", style="dim").append(sh.did, style="bold cyan")
    else:
        outside.append("no outside note yet", style="dim")
    extra = []  # problems (red), then the log's last lines, only when there are any
    if sh.errors:
        extra.append(Text("\n".join(sh.errors), style="bold red"))
    log_lines = [Text("\n".join(log[-max(1, height - 24):]), style="dim")] if log else []
    if width < 60 or height < 22:  # a small terminal: the same facts, in plain text, whose turn first
        turn = Text(no_wrap=True, overflow=overflow)
        turn.append(sh.turn, style=f"bold {sh.colour}").append(f"  {sh.turn_line}")
        t = Table.grid(padding=(0, 2))
        for _ in range(2):
            t.add_column(no_wrap=True)  # the figures whole; their lines give way
            t.add_column(overflow=overflow)
        t.add_row(Text(sh.tempo, style="bold"), Text(sh.tempo_line), Text(sh.position, style="bold"),
                  Text(sh.position_line))
        t.add_row(Text(sh.harmony, style="bold"), Text(sh.next_chord))
        return Group(turn, t, outside, *extra, _controls(sh), *log_lines)
    chord = Table.grid(expand=True)
    chord.add_column(ratio=3)
    chord.add_column(ratio=1, vertical="bottom")
    chord.add_row(_big_text(sh.harmony, (width - 4) * 3 // 4, "bold bright_yellow", pixel),
                  Text(sh.next_chord, style="yellow"))

    def panel(body: Any, title: str) -> Any:
        return Panel(body, title=title, title_align="left", border_style="grey50", box=frame)

    return Group(  # most important first: a short terminal crops the bottom
        panel(_top_row(sh, width - 4, pixel), f"turn {dot} tempo {dot} bar:beat"),
        panel(chord, "chord"),
        panel(outside, "outside note"),
        *extra,
        panel(_controls(sh), "controls"),
        *log_lines)


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


DUMB_TERMS = ("", "dumb", "unknown")  # TERM values of a terminal that cannot draw a full screen


def view_unavailable(stream: TextIO, environ: Mapping[str, str] | None = None) -> str:
    """Why the stage view cannot run on `stream` ("" when it can): not a terminal, a
    terminal that cannot draw a full screen (TERM dumb, unknown, empty or unset: rich would
    draw nothing at all there; `environ`: os.environ), or no rich."""
    if not stream.isatty():
        return "the stage view needs a terminal (stderr is not one)"
    term = (os.environ if environ is None else environ).get("TERM", "")
    if term in DUMB_TERMS and sys.platform != "win32":  # (Windows consoles set no TERM)
        said = f"TERM={term}" if term else "TERM is not set"
        return f"the stage view needs a terminal that can draw a full screen ({said})"
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
