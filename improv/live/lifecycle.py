"""A live session's start and end around its conductor loop (improv/live/session.py).

`open_recording` opens the recorder where its journal must begin: a count-in, or what was
played while the partner warmed up, goes beside bar 1, never lost, with bar 1 the file's
origin. `start_line` is the line that says how the jam runs: trading or jamming, at what
tempo or following whom, over which chart, with which partner. `close_session` is where
every exit path ends: note-offs for every note the partner, the band or the passthrough
started, then the recording, the sinks' last messages, the status line and the partner, each
step run whatever the one before it raised. A MIDI port is not closed here but by whoever
opened it (`improv jam`, after its report, within a deadline): on a busy machine a JACK
server can take seconds to let a port go.

Threads: the one that calls `Session.start` and `Session.close` (the conductor's in
`improv jam`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from improv.core.theory.chart import Chart
from improv.core.theory.notes import counted
from improv.live.follow import FOLLOW_BPM
from improv.live.trade import TradePolicy

if TYPE_CHECKING:
    from improv.live.session import Session

log = logging.getLogger("improv.session")


def open_recording(s: Session, factory: Callable[[float, Chart | None], Any], now: float) -> None:
    """Open `s.recorder` with `factory` at the session's start, `now` the clock's seconds
    (after the policy has started: its band start and `s.t0`, bar 1, are known)."""
    # Trading counts in before bar 1: the journal starts with the count-in, the file at
    # bar 1 (its origin); a pickup played in the count-in goes beside it, never lost.
    # So does what was played while the partner warmed up when a band or a count-in
    # puts bar 1 later: the journal starts at its first message, not squashed to 0.
    # A free jam's band starts a moment after now (`FreePolicy.start`): what is played in
    # that moment goes beside it too (it was clamped onto the file's first tick, cut short).
    begin = s.time_of(s.policy.band_start) if s.counts_in else s.t0
    waited = s.inq.first_waiting() if s.external is None else None
    if waited is not None:
        begin = min(begin, waited)
    if s.external is None:
        begin = min(begin, now)
    s.recorder = factory(begin, s.chart)
    # (bar 1 set by the player's first note: that sets the file's beat 0, which only
    # the first `set_origin` can; a pedal or a knob touched while the partner warmed up
    # set it here, and the whole file's bars were off from what was played)
    later = s.hearing is not None and s.hearing.bar_one
    if (s.counts_in or begin < s.t0) and not later and hasattr(s.recorder, "set_origin"):
        s.recorder.set_origin(s.t0)
    if s.daw is not None and hasattr(s.recorder, "follow"):
        s.recorder.follow(s.daw.song_beat)  # the file on the DAW's song position


def start_line(s: Session) -> str:
    """The line said at the start: what is played, at what pace, over what, with whom."""
    metre = f" in {s.bpb}/4" if s.bpb != 4 else ""  # (a forgotten --time 3/4 showed only when the band played)
    over = f"{s.chart.title or 'the chart'} ({counted(s.chart.bars, 'bar')}{metre}, looping)" \
        if s.chart is not None else f"harmony inferred from your playing{metre}"
    what = f"trading {counted(s.policy.form.trade_bars, 'bar')}" if isinstance(s.policy, TradePolicy) \
        else "jamming"
    pace = f"following your tempo (from {s.tempo:g} bpm{s.timeline.level_hint})" if s.following else \
        "on the DAW's clock" if s.external is not None else f"at {s.tempo:g} bpm"
    if s.unfollowed:
        pace += f" (not following your tempo: the follower hears {FOLLOW_BPM[0]:g}-{FOLLOW_BPM[1]:g} bpm)"
    weights = f" ({s.cfg.responder.model})" if s.cfg.responder.model and s.partner.name == "model" else ""
    return f"{what} {pace} over {over}; partner: {s.partner.name}{weights}"


def close_session(s: Session) -> None:
    """`Session.close` (idempotent): the steps in the order that puts the music and the
    file first (see the module docstring)."""
    if s.closing:
        return
    s.closing = True
    s.inq.thru = None
    s.notes_released = False  # (a third Ctrl-C waits for this: see install_signal_handlers)
    _safely("what you played last", s.player.record_waiting)
    _safely("the partner's hand-off", s.exchange.close)  # answers arriving from now on are not played
    _safely("the partner's queued notes", s.feeder.clear)
    _safely("the scheduler", s.scheduler.close)  # note-offs for sounding partner notes (recorded)
    if s.band is not None:
        _safely("the band", s.band.close)  # and for the rhythm section's
    if s.clock_sender is not None:
        _safely("the MIDI clock", s.clock_sender.stop)  # MIDI Stop: a following DAW stops too
    _safely("the player's held notes", s.player.release)
    if s.started and s.display is not None:  # the last status line, then what became of the recording
        _safely("the status line", lambda: _last_status(s))
    if s.recorder is not None:  # written before the ports close: libjack can crash in a port's close
        if s.following:  # (the tempo followed up to the end)
            _safely("the recording's tempo", lambda: s.player.write_file_tempo(s.clock.now(), 0.0))
        _safely("the recording", lambda: _close_recorder(s))
    for sink in s.sinks:  # (a MIDI port's last messages; whoever opened it closes it: see `improv.commands.jam`)
        _safely(type(sink).__name__, getattr(sink, "finish", sink.close))
    s.notes_released = True
    if s.display is not None:  # (only now wait for the terminal to take the lines: see Display.finish)
        _safely("the terminal", s.display.finish)
    _safely("the partner", s.partner.close)


def _safely(what: str, step: Callable[[], Any]) -> None:
    """Run one step of `close_session`; a failure is logged, and the next step runs."""
    try:
        step()
    except Exception as e:  # noqa: BLE001 - the steps after it (note-offs, the recording) matter more
        log.warning("closing %s failed: %s", what, e)


def _last_status(s: Session) -> None:
    assert s.display is not None
    s.show_status(s.clock.now(), force=True)
    s.display.end_line()


def _close_recorder(s: Session) -> None:
    assert s.recorder is not None
    s.record_path = s.recorder.close()
