"""The sentinel (improv/sentinel.py): a process that silences a command's MIDI outputs when
the command dies without closing, and only then. Over JACK, `improv play` killed outright
is tests/test_play.py's; here its two endings, with an output that is not there."""

from __future__ import annotations

import io
import time

from improv.sentinel import CLOSED, Sentinel, watch

GONE = (("", "no such synth anywhere"),)


def test_a_command_that_closed_ends_its_sentinel_with_no_panic(capfd):
    s = Sentinel.start("the test", GONE)
    proc = s.proc
    assert proc is not None and proc.poll() is None  # (watching)
    time.sleep(0.3)  # (its Python up and reading: the word must get there either way)
    s.close()
    assert proc.wait(10) == 0
    assert s.proc is None
    s.close()  # (twice is once)
    assert "ended without closing" not in capfd.readouterr().err


def test_a_command_that_died_has_its_outputs_silenced_and_said(capfd):
    """Its stdin ends with no word (what a kill does to a pipe): the panic runs; an output
    that cannot be opened is said in one line with the command to run by hand."""
    s = Sentinel.start("the test", GONE)
    s.proc.stdin.close()  # (the command's end of the pipe gone, as at SIGKILL)
    assert s.proc.wait(60) == 0
    err = capfd.readouterr().err
    assert err.startswith("improv: the test ended without closing: its MIDI output 'no such synth anywhere' could "
                          "not be silenced ("), err
    assert err.endswith("): `improv panic --out 'no such synth anywhere'`\n") and err.count("\n") == 1, err


def test_only_the_last_word_counts():
    assert watch(io.BytesIO(CLOSED))
    assert not watch(io.BytesIO(b""))
    assert not watch(io.BytesIO(b"clo"))  # (died while saying it)
    assert watch(io.BytesIO(b"x" * 100 + CLOSED))
    assert not watch(io.BytesIO(CLOSED + b"more"))
