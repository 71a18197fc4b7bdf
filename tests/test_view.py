"""The stage view: drawn headless from snapshots (rich's recording console), its pipe never
blocks the jam, it draws only what changed, and in a real terminal (tmux) it updates, draws
with ASCII on a terminal that is not UTF-8, and leaves the terminal clean (the shell's prompt
on it) on Ctrl-C, on a crash and when the jam is killed."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from improv.config import Config, override
from improv.live.status import Display, Snapshot, control_values, explanation_fields

rich = pytest.importorskip("rich", reason="the view extra (rich) is not installed")

from rich.console import Console  # noqa: E402

from improv.live.stage import FONT, big, render_view, shown  # noqa: E402
from improv.live.view import Screen, StageView, Terminal, make_display, needs_ascii, snapshot_from, view_unavailable  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FULL = Snapshot(120.0, 15, 1, "answering", "F7", 1, 0.05, 0.3, 40, 0, "embrace 0.5", tempo_heard=118.4,
                tempo_sure=0.82, chorus=2, section="A", form_bar=3, form_bars=12, chord_next="Cm7",
                next_in_beats=4.0, heard="bar 15: E over F7 (outside, long, beat 1, accented)",
                did="reharmonise as Gb7 (tritone substitute into F7) -> answer opens on E",
                controls=(("outside", "embrace"), ("daring", "0.50"), ("comp", "on")),
                errors=("MIDI input 'keys' gone",))


def drawn(snapshot, log=(), width=100, height=30, ascii_only=False) -> str:
    console = Console(record=True, width=width, height=height, file=open(os.devnull, "w"))
    console.print(render_view(snapshot, list(log), width, height, ascii_only))
    return console.export_text()


def snap(**changes) -> Snapshot:
    return Snapshot(**{**FULL.__dict__, **changes})


def has_big(text: str, figure: str, scale: int, pixel: str = "█") -> bool:
    """Whether `text` shows `figure` in the block font at `scale`, its rows one above another."""
    rows = big(figure, scale, pixel)
    lines = text.splitlines()
    for k, line in enumerate(lines[:-4]):
        col = line.find(rows[0])
        while col >= 0:
            if all(lines[k + r][col:col + len(rows[r])] == rows[r] for r in range(5)):
                return True
            col = line.find(rows[0], col + 1)
    return False


def test_big_font_draws_every_glyph_five_rows_high():
    for ch, glyph in FONT.items():
        assert len(glyph) == 5 and len({len(row) for row in glyph}) == 1, ch
    rows = big("120", 2)
    assert len(rows) == 5 and rows[0] == "  ██    ██████  ██████"
    assert big("b", 1) == big("b") and big("?") == big("€")  # unknown glyphs are boxed, not dropped


def test_the_view_shows_what_a_musician_needs_in_big_figures():
    text = drawn(FULL, ["answer 4: 6 notes"])
    lines = text.splitlines()
    assert any(line.count("██████") >= 3 for line in lines[1:6])  # the tempo, big
    assert "heard 118 bpm, 82% sure" in text and "chorus 2 [A] 3/12" in text
    assert "PARTNER" in text.replace(" ", "") or any("█" in line for line in lines[1:6])
    assert "next Cm7 in 4 beats" in text
    assert "heard bar 15: E over F7 (outside, long, beat 1, accented)" in text
    assert "-> reharmonise as Gb7 (tritone substitute into F7) -> answer opens on E" in text
    assert "outside embrace   daring 0.50   comp on" in text
    assert "MIDI input 'keys' gone" in text and "answer 4: 6 notes" in text
    assert text.index("MIDI input 'keys' gone") < text.index("controls")  # problems before the knobs


def test_beats_to_go_are_whole_beats_with_their_unit():
    """It showed 'next Bb7 in 1.71803' (a raw count of beats, no unit)."""
    from improv.live.stage import beats_text

    assert [beats_text(b) for b in (1.71803, 0.266384, 1.0, 4.0, 3.0000001)] == \
        ["2 beats", "1 beat", "1 beat", "4 beats", "3 beats"]
    text = drawn(Snapshot(**{**FULL.__dict__, "next_in_beats": 1.71803, "turn_beats_left": 5.5}))
    assert "next Cm7 in 2 beats" in text and "1.71803" not in text


def test_a_changed_snapshot_draws_differently():
    a = drawn(FULL)
    b = drawn(Snapshot(**{**FULL.__dict__, "bar": 16, "beat": 2, "harmony": "Bb7", "turn": "you"}))
    assert a != b and not has_big(a, "YOU", 2)
    assert has_big(b, "16:2", 1) and has_big(b, "YOU", 2)  # the new bar:beat and turn, big
    assert has_big(drawn(snap(bar=16, beat=2), width=140), "16:2", 2)  # bigger on a wider terminal


def test_the_big_tempo_is_whole_bpm_rounded():
    """While following the player it showed the tempo's raw decimals ("237.528")."""
    for tempo, whole in ((237.52834, "238"), (119.6, "120"), (96.4, "96")):
        s = snap(tempo=tempo)
        assert shown(s).tempo == whole
        text = drawn(s)
        assert has_big(text, whole, 1) and not has_big(text, str(tempo)[:5], 1), tempo
        assert whole in drawn(s, width=50, height=15) and str(tempo) not in drawn(s, width=50, height=15)


def test_whose_turn_is_big_first_and_never_smaller_than_the_tempo():
    """It showed the tempo and bar:beat at scale 2 and PARTNER at scale 1 (100 x 30), and "PA..."
    at 20 x 5."""
    text = drawn(FULL)
    assert has_big(text, "PARTNER", 2) and has_big(text, "120", 1) and not has_big(text, "120", 2)
    lines = text.splitlines()
    assert lines[1].index(big("PARTNER", 2)[0]) < lines[1].index(big("120", 1)[0])  # first, leftmost
    wide = drawn(FULL, width=140)
    assert has_big(wide, "PARTNER", 2) and has_big(wide, "120", 2)
    for width, height in ((60, 22), (80, 24), (100, 30), (140, 40), (300, 80)):
        for s in (FULL, snap(turn="you"), snap(tempo=238.0, bar=129, beat=3)):
            t = drawn(s, width=width, height=height)
            word = "PARTNER" if s.turn != "you" else "YOU"
            scale = max(sc for sc in (1, 2, 3) if sc == 1 or has_big(t, word, sc))
            assert has_big(t, word, scale) and not has_big(t, f"{s.tempo:.0f}", scale + 1), (width, s.turn)
    # the tempo keeps its place and size when the turn changes
    you = drawn(snap(turn="you")).splitlines()
    assert you[1].index(big("120", 1)[0]) == lines[1].index(big("120", 1)[0])
    for width, height in ((20, 5), (50, 15), (59, 30), (100, 12)):
        first = drawn(FULL, width=width, height=height).splitlines()[0]
        assert first.startswith("PARTNER"), (width, height, first)


def test_the_lower_case_a_chord_or_key_name_uses_has_its_own_glyphs():
    from improv.live.stage import FONT

    assert all(ch in FONT for ch in "abcdefghijklmnopqrstuvwxyz")  # "A minoR" before: r fell back to R


def test_on_an_80_by_24_terminal_bar_beat_is_big_too():
    """At 80 x 24 the turn took scale 2 and left bar:beat in plain text, unreadable from a
    metre away; all three fit at scale 1."""
    t = drawn(snap(bar=83, beat=1), width=80, height=24)
    assert has_big(t, "83:1", 1) and has_big(t, "PARTNER", 1) and has_big(t, "120", 1)


def test_trading_count_in_shows_the_beats_left_big():
    """It showed a frozen "1:1" through the count-in."""
    count = snap(bar=1, beat=1, turn="count-in", turn_beats_left=3.4, state="count-in", chorus=0, form_bar=0)
    text = drawn(count)
    assert has_big(text, "COUNT", 2) and has_big(text, "4", 2) and not has_big(text, "1:1", 1)
    assert "beats to bar 1" in text and "4 beats left" in text
    assert has_big(drawn(snap(**{**count.__dict__, "turn_beats_left": 0.5})), "1", 2)
    small = drawn(count, width=50, height=15)
    assert small.splitlines()[0].startswith("COUNT  4 beats left") and "1:1" not in small and "beats to bar 1" in small


def test_a_terminal_that_is_not_utf8_gets_ascii_figures_and_boxes():
    """With an ASCII stream every pixel printed as a literal \\u2588; under LANG=C LC_ALL=C
    (Python's UTF-8 mode) the view sent UTF-8 to a terminal that said it is not UTF-8."""
    utf8 = {"LANG": "en_US.UTF-8"}
    assert not needs_ascii("utf-8", utf8) and not needs_ascii("UTF8", {"LC_ALL": "C.utf8", "LANG": "C"})
    assert not needs_ascii("utf-8", {})  # no locale at all (macOS, Windows terminals): the stream decides
    assert not needs_ascii("utf-8", {"LC_ALL": "", "LC_CTYPE": "", "LANG": "de_DE.utf8"})
    assert not needs_ascii("utf-8", {"LC_CTYPE": "C.UTF-8"})  # Python's coercion of an unset locale
    assert needs_ascii("ascii", utf8) and needs_ascii("latin-1", utf8) and needs_ascii(None, utf8)
    assert needs_ascii("utf-8", {"LC_ALL": "C", "LANG": "C"})  # UTF-8 mode
    assert needs_ascii("utf-8", {"LC_ALL": "POSIX", "LANG": "en_US.UTF-8"})  # LC_ALL wins
    assert needs_ascii("utf-8", {"LC_CTYPE": "en_US.ISO-8859-1", "LANG": "en_US.UTF-8"})  # then LC_CTYPE
    assert needs_ascii("utf-8", {"LC_CTYPE": "C.UTF-8", "LANG": "C"})  # LANG=C, coerced by Python itself
    for width, height in ((100, 30), (50, 15)):
        text = drawn(snap(harmony="F7"), ["a log line"], width=width, height=height, ascii_only=True)
        assert text.isascii(), [ch for ch in text if not ch.isascii()]
        assert ("PARTNER" in text or has_big(text, "PARTNER", 2, "#")) and "next Cm7" in text
        assert "daring 0.50" in text
    text = drawn(FULL, ascii_only=True)
    assert has_big(text, "PARTNER", 2, "#") and has_big(text, "120", 1, "#") and "+- turn - tempo" in text


def test_a_small_terminal_gets_the_same_facts_in_plain_text():
    text = drawn(FULL, width=50, height=15)
    assert "█" not in text
    for fact in ("120", "15:1", "F7", "next Cm7", "PARTNER", "E over F7", "daring 0.50", "keys' gone"):
        assert fact in text, fact


def test_a_bare_snapshot_as_the_session_makes_it_today_draws():
    text = drawn(Snapshot(96.0, 1, 1, "listening", "", 0, 0.0, 0.0, 0, 0))
    assert "no outside note yet" in text and "bpm (set)" in text
    # a DAW's tempo is the DAW's, not a setting (it read "bpm (set)")
    assert "bpm (DAW)" in drawn(Snapshot(96.0, 1, 1, "listening", "", 0, 0.0, 0.0, 0, 0, tempo_from="DAW"))


def test_snapshot_survives_the_pipe_as_json():
    import dataclasses
    import json

    assert snapshot_from(json.loads(json.dumps(dataclasses.asdict(FULL)))) == FULL


def test_session_helpers_fill_the_new_fields():
    heard, did = explanation_fields("bar 15: heard E over F7 (outside, long) -> reharmonise as Gb7 (tritone "
                                    "substitute into F7) -> answer opens on E")
    assert heard == "bar 15: E over F7 (outside, long)"
    assert did == "reharmonise as Gb7 (tritone substitute into F7) -> answer opens on E"
    cfg = override(override(Config(), "embrace", mode="guide", daring=0.25), "phrase", answer_bars=2)
    assert control_values(cfg, comp=True) == (("outside", "guide"), ("daring", "0.25"), ("temp", "1.00"),
                                              ("answer", "2 bars"), ("comp", "on"))
    # trading: the form sets the answer's length (the knob's "answer 4 bars" was not in effect)
    trade = override(cfg, "band", trade_bars=2)
    assert dict(control_values(trade, trading=True))["answer"] == "2-bar turns"


def test_only_what_is_shown_changing_draws_again():
    """The view redrew the whole screen 10 times a second when nothing had changed."""
    screen = Screen()
    assert screen.frame(100, 30) is None  # nothing to show yet
    screen.take({"snapshot": __import__("dataclasses").asdict(FULL)})
    assert screen.frame(100, 30) is not None
    assert screen.frame(100, 30) is None  # the same again: nothing written
    unseen = snap(timing_median_ms=3.0, timing_p99_ms=9.0, timed=99, dropped=4, call_bars=3,
                  next_in_beats=3.6, tempo=120.2, tempo_heard=118.3)  # nothing shown changes
    assert shown(unseen) == shown(FULL)
    screen.snapshot = unseen
    assert screen.frame(100, 30) is None
    screen.snapshot = snap(beat=2)
    assert screen.frame(100, 30) is not None and screen.frame(100, 30) is None
    assert screen.frame(120, 30) is not None  # resized
    screen.take({"log": "a line"})
    assert screen.frame(120, 30) is not None and screen.frame(120, 30) is None
    screen.take({})
    assert screen.ended and screen.frame(80, 24) is None  # the pipe closed: nothing more


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("term", ["dumb", "", None, "unknown"])
def test_a_terminal_that_cannot_draw_a_full_screen_gets_the_status_line(term, monkeypatch):
    """Under TERM=dumb the session showed nothing but "listening on..." (no view, no status line)."""
    if term is None:
        monkeypatch.delenv("TERM", raising=False)
    else:
        monkeypatch.setenv("TERM", term)
    stream = FakeTerminal()
    display = make_display(override(Config(), "display", view=True), stream)
    assert type(display) is Display and display.tty
    said = f"TERM={term}" if term else "TERM is not set"
    assert stream.getvalue() == \
        f"the stage view needs a terminal that can draw a full screen ({said}); showing the status line\n"
    assert view_unavailable(stream, {"TERM": "xterm-256color"}) == ""


class TtyFile(io.TextIOWrapper):
    """A file that says it is a terminal (a real descriptor: the view's process can draw on it)."""

    def isatty(self) -> bool:
        return True


def test_on_windows_before_python_3_12_the_view_says_why_it_cannot_run(tmp_path, monkeypatch):
    """`os.set_blocking` came to Windows in Python 3.12: on 3.10 and 3.11 `improv jam --view`
    ended in an AttributeError traceback (its view process already drawing); it says why in
    one line and keeps the status line."""
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.delenv("TERM", raising=False)  # (Windows consoles set none)
    monkeypatch.delattr(os, "set_blocking")
    with TtyFile(open(tmp_path / "err.txt", "wb"), encoding="utf-8") as stream:
        display = make_display(override(Config(), "display", view=True), stream)
        assert type(display) is Display
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert (tmp_path / "err.txt").read_text() == (f"the stage view needs Python 3.12 or newer on Windows (this is "
                                                  f"{minor}); showing the status line\n")


def test_make_display_falls_back_to_the_status_line_off_a_terminal(tmp_path):
    cfg = override(Config(), "display", view=True)
    with open(tmp_path / "err.txt", "w") as stream:
        display = make_display(cfg, stream)
        assert type(display) is Display
    assert (tmp_path / "err.txt").read_text() == \
        "the stage view needs a terminal (stderr is not one); showing the status line\n"
    assert type(make_display(Config(), sys.stderr)) is Display


def test_the_view_never_blocks_the_jam_even_when_it_stops_reading(tmp_path):
    with open(tmp_path / "screen.txt", "w") as stream:
        view = StageView(stream)
        try:
            os.kill(view._proc.pid, signal.SIGSTOP)  # a view that has stopped reading its pipe
            start = time.perf_counter()
            for k in range(3000):
                view.update(float(k), FULL, force=True)
                view.log(f"line {k} " + "x" * 200)
            took = time.perf_counter() - start
            assert view.dropped > 0 and took < 5.0
        finally:
            os.kill(view._proc.pid, signal.SIGCONT)
            view.finish()
    assert "line 2999" in (tmp_path / "screen.txt").read_text()  # printed again after the view closed


def test_what_is_logged_after_the_view_closed_comes_at_once_in_order(tmp_path):
    """The jam's last lines (the summary, where the recording went, what was played before
    bar 1) come after the view closed: each went through a writer thread of its own, so
    "recorded to ..." came before "session ended ...", or after the shell's prompt."""
    class SlowTerminal:  # a terminal that takes its time over the first of those lines
        def __init__(self, f):
            self.f = f

        def fileno(self):
            return self.f.fileno()

        def isatty(self):
            return False

        def write(self, text):
            if text.startswith("session ended"):
                time.sleep(0.2)
            self.f.write(text)

        def flush(self):
            self.f.flush()

    with open(tmp_path / "screen.txt", "w") as f:
        view = StageView(SlowTerminal(f))
        view.log("before")
        view.finish()
        view.log("session ended (duration): 1 call")
        view.log("recorded to x.mid")
        f.flush()
        text = (tmp_path / "screen.txt").read_text()
    assert text.endswith("before\nsession ended (duration): 1 call\nrecorded to x.mid\n"), text


def test_a_dead_view_falls_back_to_the_status_line(tmp_path):
    with open(tmp_path / "screen.txt", "w") as stream:
        view = StageView(stream)
        view.log("before")
        view._proc.kill()
        view._proc.wait(5)
        for k in range(3):
            view.update(float(k), FULL, force=True)
        view.log("after")
        view.finish()
    text = (tmp_path / "screen.txt").read_text()
    fell = text.index("the stage view stopped (exit -9); showing the status line instead")
    assert "120 bpm (heard 118, 82% sure)   15:1  answering" in text and "after" in text
    # killed, the view could not give the terminal back (main screen, cursor shown): the jam
    # does, and what the view showed is said on the main screen too
    assert Terminal.LEAVE in text[:fell] and "before" in text[:fell]


# --- in a real terminal: tmux ------------------------------------------------------------------
class Tmux:
    """A private tmux server with one 100 x 30 window running an interactive shell."""

    def __init__(self) -> None:
        self.socket = f"improv-test-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
        env.update(PS1="ready$ ", TERM="xterm-256color")
        self.env = env
        self.tmux("new-session", "-d", "-s", "view", "-x", "100", "-y", "30", "bash --norc --noprofile")
        self.wait_for(lambda: self.capture().strip(), 10, "shell")
        self.send("PS1='ready$ '; clear", "Enter")
        self.wait_for(lambda: "ready$" in self.capture(), 10, "the shell prompt")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=self.env,
                              timeout=10, check=True).stdout

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "view", *keys)

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "view")

    def flag(self, name: str) -> str:
        return self.tmux("display-message", "-p", "-t", "view", f"#{{{name}}}").strip()

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"no {what} in {timeout:g} s; the pane shows:\n{self.capture()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def term():
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    t = Tmux()
    try:
        yield t
    finally:
        t.close()


def start_driver(term: Tmux, *args: str, env: str = "") -> None:
    term.send(f"cd {ROOT} && {env} {sys.executable} tests/view_driver.py {' '.join(args)}", "Enter")
    term.wait_for(lambda: term.flag("alternate_on") == "1" and "tempo" in term.capture()
                  and "bar:beat" in term.capture(), 20, "stage view on the alternate screen")


def assert_terminal_clean(term: Tmux) -> None:
    term.wait_for(lambda: term.flag("alternate_on") == "0", 10, "return to the main screen")
    assert term.flag("cursor_flag") == "1", "the cursor is still hidden"
    term.send("echo prompt-$((6*7))", "Enter")
    term.wait_for(lambda: "prompt-42" in term.capture(), 10, "usable prompt")


def test_the_view_updates_and_ctrl_c_leaves_the_terminal_clean(term):
    start_driver(term, "run")
    first = term.capture()
    assert term.flag("cursor_flag") == "0"  # hidden while the view is up
    term.wait_for(lambda: term.capture() != first, 5, "the view updating")
    term.send("C-c")
    assert_terminal_clean(term)
    screen = term.capture()
    assert "driver: interrupted, terminal restored" in screen and "driver line" in screen


def test_ctrl_z_leaves_the_view_drawing_and_ctrl_c_still_ends_it(term):
    """Ctrl-Z stopped the view on the alternate screen: the shell's prompt came up over the
    view, with the cursor hidden. The jam does not stop for Ctrl-Z (it says how to end), and
    neither does its view."""
    start_driver(term, "run")
    term.send("C-z")
    seen = term.capture()
    term.wait_for(lambda: term.capture() != seen, 10, "the view still drawing")
    assert term.flag("alternate_on") == "1" and "Stopped" not in term.capture()
    term.send("C-c")
    assert_terminal_clean(term)


def test_a_crash_leaves_the_terminal_clean_and_the_traceback_readable(term):
    start_driver(term, "crash")
    assert_terminal_clean(term)
    assert "RuntimeError: scripted crash" in term.capture()


def test_a_killed_jam_still_leaves_the_terminal_clean(term, tmp_path):
    pidfile = tmp_path / "pid"
    start_driver(term, "hang", str(pidfile))
    os.kill(int(pidfile.read_text()), signal.SIGKILL)  # no finally runs in the jam: the view sees its pipe close
    assert_terminal_clean(term)


def test_a_view_that_outlives_a_killed_jam_leaves_the_full_screen(term, tmp_path):
    """Another process holds the view's pipe open, so the view sees no end of it when the jam is
    killed: it went on drawing over the shell (its prompt on the alternate screen) until that
    process ended."""
    pidfile = tmp_path / "pid"
    start_driver(term, "hang", str(pidfile), "hold")
    try:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        assert_terminal_clean(term)  # (the holder still runs: the view left when its parent went)
    finally:
        os.kill(int(Path(f"{pidfile}.holder").read_text()), signal.SIGKILL)


def test_the_view_leaves_the_full_screen_the_moment_its_pipe_closes():
    """On the pipe's end the reader thread leaves the alternate screen itself, before the end is
    even queued for the drawing thread (which may be busy drawing): a killed jam's shell prints
    its prompt at once, and a prompt printed on the alternate screen vanishes with it. A frame
    is never written after that."""
    from improv.live.view import Terminal, _reader

    out = io.StringIO()
    terminal = Terminal(out)
    terminal.enter()
    terminal.draw("frame 1")
    inbox, wake, seen = __import__("collections").deque(), __import__("threading").Event(), []
    _reader(io.StringIO('{"log": "a"}\n'), inbox, wake, lambda: (seen.append(list(inbox)), terminal.leave()))
    assert seen == [[{"log": "a"}]] and list(inbox) == [{"log": "a"}, {}]
    terminal.draw("frame 2")  # the drawing thread, a moment late
    terminal.leave()
    assert out.getvalue() == Terminal.ENTER + "\x1b[Hframe 1" + Terminal.LEAVE


@pytest.mark.parametrize("env", ["LANG=C LC_ALL=C", "LANG=C LC_ALL=C PYTHONIOENCODING=ascii", "LANG=C"])
def test_a_terminal_that_is_not_utf8_gets_an_ascii_view(term, env):
    """Under LANG=C LC_ALL=C (Python's UTF-8 mode) it wrote UTF-8 blocks and boxes to a terminal
    that said it is not UTF-8; with an ASCII stream every pixel was a literal \\u2588."""
    start_driver(term, "run", env=env)
    screen = term.capture()
    assert "+- turn - tempo - bar:beat" in screen and screen.count("###") >= 6, screen
    assert "\u2588" not in screen and "\\u2588" not in screen and "\u256d" not in screen
    term.send("C-c")
    assert_terminal_clean(term)


@pytest.mark.parametrize("command", ["jam", "demo"])
def test_view_flag_and_setting_ask_for_the_view(command, tmp_path):
    from improv.cli import build_parser
    from improv.commands.jam import jam_settings

    assert jam_settings(build_parser(command).parse_args([command, "--view"])).display.view is True
    assert jam_settings(build_parser(command).parse_args([command])).display.view is False
    path = tmp_path / "c.toml"
    path.write_text("[display]\nview = true\n")
    assert jam_settings(build_parser(command).parse_args([command, "--config", str(path)])).display.view is True
