"""A session's start and end (improv/live/lifecycle.py): the line said at the start, and
close's steps, each run whatever the one before it raised, on the in-process session of
tests/test_session.py (fake sink and recorder, a ManualClock)."""

import logging
from pathlib import Path

import pytest

from improv.config import override
from improv.live.lifecycle import close_session, start_line

from test_session import config, make


@pytest.mark.parametrize("band, chart, line", [
    ({}, "F7 | Bb7", "jamming following your tempo (from 120 bpm; say yours with --tempo to keep the chart's bars "
                     "at it) over the chart (2 bars, looping); partner: step"),
    ({"trade_bars": 4}, "F7 | Bb7", "trading 4 bars at 120 bpm over the chart (2 bars, looping); partner: step"),
    ({}, None, "jamming following your tempo (from 120 bpm) over harmony inferred from your playing; partner: step"),
])
def test_the_start_line_says_what_is_played_at_what_pace_over_what_with_whom(band, chart, line):
    s, *_ = make(override(config(), "band", **band) if band else config(), chart=chart)
    s.start()
    assert start_line(s) == line


def test_a_close_step_that_fails_leaves_the_note_offs_and_the_recording_to_the_steps_after_it(caplog):
    s, clock, inq, sink, rec = make()
    s.start()
    inq.push([0x90, 60, 100])  # a note the player holds, passed through to the sink
    s.step()
    assert sink.sounding() == {(0, 60)}

    def broken() -> None:
        raise RuntimeError("stuck")

    s.scheduler.close = broken
    with caplog.at_level(logging.WARNING, logger="improv.session"):
        close_session(s)
    assert "closing the scheduler failed: stuck" in caplog.text
    assert sink.sounding() == set() and sink.closed  # the player's held note released, then the sink closed
    assert rec[0].closed and s.record_path == Path("sessions/fake.mid") and s.closed
    close_session(s)  # (idempotent: a second close does nothing more)
    assert caplog.text.count("failed") == 1
