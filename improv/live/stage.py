"""What the stage view draws (`improv jam --view`; the process and terminal side is
improv/live/view.py): a `Snapshot` and the log -> a rich renderable, pure and
deterministic, so that tests render it at any size without a terminal.

    whose turn (big, first) · tempo (big), how sure · bar:beat (big; the count-in's beats
    left while trading counts in), chorus, section and bar of the form
    the chord now (big) and the next one
    what the partner heard and did with the last outside note
    the live controls' values · recent problems · the log

Big figures are drawn in a 3 x 5 pixel font (`big`), as large as the width allows.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

from improv.live.status import Snapshot, beats_text

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
    "c": ("   ", "   ", "###", "#  ", "###"), "e": ("   ", "###", "###", "#  ", "###"),
    "f": (" ##", " # ", "###", " # ", " # "), "g": ("   ", "###", "# #", "###", "###"),
    "h": ("#  ", "#  ", "###", "# #", "# #"), "k": ("#  ", "# #", "## ", "## ", "# #"),
    "p": ("   ", "###", "# #", "###", "#  "), "q": ("   ", "###", "# #", "###", "  #"),
    "r": ("   ", "   ", "###", "#  ", "#  "), "v": ("   ", "   ", "# #", "# #", " # "),
    "w": ("   ", "   ", "# #", "###", "###"), "x": ("   ", "   ", "# #", " # ", "# #"),
    "y": ("   ", "# #", "###", "  #", "###"), "z": ("   ", "   ", "###", " # ", "###"),
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
    if s.tempo_from:
        return f"bpm ({s.tempo_from})"
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
    failing that, all three at scale 1 when they fit (read from a metre away, bar:beat in
    plain text is lost: 80 x 24 showed it so); failing that, each in order as large as fits."""
    def fits(scales: Sequence[int]) -> bool:
        cells = [max(_cells(t, sc), _cells(TURN_RESERVE, sc) if k == 0 else 0)
                 for k, (t, sc) in enumerate(zip(texts, scales))]
        return sum(cells) + GAP * (len(texts) - 1) <= width

    rest = len(texts) - 1
    first = next((sc for sc in (2, 1) if fits([sc] + [0] * rest)), 0)
    for sc in range(first, 0, -1):
        if fits([first] + [sc] * rest):
            return [first] + [sc] * rest
    if fits([1] * len(texts)):
        return [1] * len(texts)
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
