"""The stage view: drawn headless from snapshots (rich's recording console), its pipe never
blocks the jam, and in a real terminal (tmux) it updates and leaves the terminal clean on
Ctrl-C, on a crash and when the jam is killed."""

from __future__ import annotations

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

from improv.live.view import FONT, StageView, big, make_display, render_view, snapshot_from  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FULL = Snapshot(120.0, 15, 1, "answering", "F7", 1, 0.05, 0.3, 40, 0, "embrace 0.5", tempo_heard=118.4,
                tempo_sure=0.82, chorus=2, section="A", form_bar=3, form_bars=12, chord_next="Cm7",
                next_in_beats=4.0, heard="bar 15: E over F7 (outside, long, beat 1, accented)",
                did="reharmonise as Gb7 (tritone substitute into F7) -> answer opens on E",
                controls=(("outside", "embrace"), ("daring", "0.50"), ("comp", "on")),
                errors=("MIDI input 'keys' gone",))


def drawn(snapshot, log=(), width=100, height=30) -> str:
    console = Console(record=True, width=width, height=height, file=open(os.devnull, "w"))
    console.print(render_view(snapshot, list(log), width, height))
    return console.export_text()


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
    from improv.live.view import beats_text

    assert [beats_text(b) for b in (1.71803, 0.266384, 1.0, 4.0, 3.0000001)] == \
        ["2 beats", "1 beat", "1 beat", "4 beats", "3 beats"]
    text = drawn(Snapshot(**{**FULL.__dict__, "next_in_beats": 1.71803, "turn_beats_left": 5.5}))
    assert "next Cm7 in 2 beats" in text and "1.71803" not in text


def test_a_changed_snapshot_draws_differently():
    a = drawn(FULL)
    b = drawn(Snapshot(**{**FULL.__dict__, "bar": 16, "beat": 2, "harmony": "Bb7", "turn": "you"}))
    assert a != b and "YOU" not in a
    assert big("16:2", 2)[0] in b  # the new bar:beat, big


def test_a_small_terminal_gets_the_same_facts_in_plain_text():
    text = drawn(FULL, width=50, height=15)
    assert "█" not in text
    for fact in ("120", "15:1", "F7", "next Cm7", "PARTNER", "E over F7", "daring 0.50", "keys' gone"):
        assert fact in text, fact


def test_a_bare_snapshot_as_the_session_makes_it_today_draws():
    text = drawn(Snapshot(96.0, 1, 1, "listening", "", 0, 0.0, 0.0, 0, 0))
    assert "no outside note yet" in text and "bpm (set)" in text


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


def test_a_dead_view_falls_back_to_the_status_line(tmp_path):
    with open(tmp_path / "screen.txt", "w") as stream:
        view = StageView(stream)
        view._proc.kill()
        view._proc.wait(5)
        for k in range(3):
            view.update(float(k), FULL, force=True)
        view.log("after")
        view.finish()
    text = (tmp_path / "screen.txt").read_text()
    assert "the stage view stopped (exit -9); showing the status line instead" in text
    assert "120 bpm (heard 118, 82% sure)   15:1  answering" in text and "after" in text


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


def start_driver(term: Tmux, *args: str) -> None:
    term.send(f"cd {ROOT} && {sys.executable} tests/view_driver.py {' '.join(args)}", "Enter")
    term.wait_for(lambda: term.flag("alternate_on") == "1" and "tempo · bar:beat" in term.capture(), 20,
                  "stage view on the alternate screen")


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


def test_a_crash_leaves_the_terminal_clean_and_the_traceback_readable(term):
    start_driver(term, "crash")
    assert_terminal_clean(term)
    assert "RuntimeError: scripted crash" in term.capture()


def test_a_killed_jam_still_leaves_the_terminal_clean(term, tmp_path):
    pidfile = tmp_path / "pid"
    start_driver(term, "hang", str(pidfile))
    os.kill(int(pidfile.read_text()), signal.SIGKILL)  # no finally runs in the jam: the view sees its pipe close
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
