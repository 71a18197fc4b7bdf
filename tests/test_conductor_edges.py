"""Conductor and signal-handling edge cases a mutation audit found untested (each test fails under its mutation): a stop before the start, time kept moving under a flood, Ctrl-C as a KeyboardInterrupt, the fifth press, and the early handlers' signal and restore."""

import signal

import pytest

from improv.live.clock import ManualClock
from improv.live.conductor import EarlyStop, install_signal_handlers, run_conductor
from improv.live.inputqueue import InputQueue


class FakeSession:
    """What run_conductor needs: counts the messages handled before each step."""

    def __init__(self, stop_reason=""):
        self.clock = ManualClock(0.0)
        self.inq = InputQueue(self.clock)
        self.stop_reason = stop_reason
        self.started = self.closed = False
        self.handled, self.steps = 0, []
        self.notes_released = True
        self.player = self  # (the session's player input: `player.handle`)

    def start(self):
        self.started = True

    def handle(self, t, data):
        self.handled += 1

    def step(self):
        self.steps.append(self.handled)
        self.clock.advance(0.01)

    def stop(self, reason):
        self.stop_reason = self.stop_reason or reason

    def close(self):
        self.closed = True

    def say(self, text):
        pass


@pytest.fixture
def handlers_kept():
    """The test's signal handlers are put back whatever it does."""
    kept = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    yield kept
    for s, h in kept.items():
        signal.signal(s, h)


def test_a_session_stopped_in_its_setup_is_closed_without_starting():
    """Catches start() run after a signal in the setup: Ctrl-C while ports opened still warmed the partner up and started the jam."""
    s = FakeSession(stop_reason="interrupted")
    assert run_conductor(s) == "interrupted"
    assert not s.started and s.closed and s.steps == []


def test_time_moves_on_under_a_flood_of_input():
    """Catches the burst drained without a bound: under a flood the conductor never let time pass (no answer placed, no band pumped)."""
    s = FakeSession()
    for i in range(1000):
        s.inq.push([0xB0, 1, i % 128])
    assert run_conductor(s, until=lambda: len(s.steps) >= 1) == "done"
    assert s.steps[0] <= 257 and s.closed


def test_a_keyboard_interrupt_in_the_loop_is_an_interruption():
    """Catches Ctrl-C (a KeyboardInterrupt with no handlers of the session's) reported as an error."""
    s = FakeSession()

    def interrupted(t, data):
        raise KeyboardInterrupt

    s.handle = interrupted
    s.inq.push([0x90, 60, 90])
    assert run_conductor(s) == "interrupted" and s.closed


def test_the_fifth_ctrl_c_abandons_even_while_notes_are_being_released(handlers_kept):
    """Catches the fifth press left out: a close stuck releasing notes could not be interrupted at all."""
    s = FakeSession(stop_reason="interrupted")
    s.notes_released = False
    restore = install_signal_handlers(s)
    try:
        on_signal = signal.getsignal(signal.SIGINT)
        for _ in range(4):
            on_signal(signal.SIGINT, None)  # the third and fourth wait for the notes' release
        with pytest.raises(KeyboardInterrupt):
            on_signal(signal.SIGINT, None)
    finally:
        restore()


def test_a_signal_in_the_setup_stops_the_session_and_the_first_one_counts(handlers_kept):
    """Catches the early handlers' signal not handed to the session (the jam played on to its end), a later signal replacing the first, and restore() not putting back the handlers from before the setup."""
    early = EarlyStop()
    try:
        on_early = signal.getsignal(signal.SIGINT)
        on_early(signal.SIGINT, None)
        on_early(signal.SIGTERM, None)
        assert (early.reason, early.signum) == ("interrupted", signal.SIGINT)
        s = FakeSession()
        restore = install_signal_handlers(s, early=early)
        assert s.stop_reason == "interrupted"
        restore()
        assert all(signal.getsignal(sig) is h for sig, h in handlers_kept.items())
    finally:
        early.restore()


def test_ctrl_z_does_not_stop_the_jam_and_says_how_to_end_it():
    """Ctrl-Z stopped the jam process with notes sounding on the synth, and under JACK the
    stopped client's ports were dropped: the jam plays on, and the conductor says (once per
    press, from its loop, not from the handler) that Ctrl-C ends it."""
    import os

    from improv.live.conductor import CTRL_Z_HINT

    kept = signal.getsignal(signal.SIGTSTP)
    early = EarlyStop()
    try:
        assert signal.getsignal(signal.SIGTSTP) is signal.SIG_IGN  # (else the kill would stop the tests)
        os.kill(os.getpid(), signal.SIGTSTP)  # in the setup: ignored
        s = FakeSession()
        said = []
        s.say = said.append
        restore = install_signal_handlers(s, early=early)
        assert callable(signal.getsignal(signal.SIGTSTP))
        os.kill(os.getpid(), signal.SIGTSTP)  # (delivered at once: the process is not stopped)
        assert s.ctrl_z and not s.stop_reason

        def until():
            return len(s.steps) >= 3

        run_conductor(s, until=until)
        assert said == [CTRL_Z_HINT] and "Ctrl-C ends the session" in CTRL_Z_HINT
        restore()
        assert signal.getsignal(signal.SIGTSTP) is kept
    finally:
        early.restore()
        signal.signal(signal.SIGTSTP, kept)


@pytest.fixture
def windows_signals(monkeypatch):
    """The signal module as Windows has it: no SIGQUIT, SIGHUP nor SIGTSTP, and a SIGBREAK
    (Ctrl-Break), played here by SIGUSR1, which Linux delivers as Windows delivers Ctrl-Break."""
    kept = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    for name in ("SIGQUIT", "SIGHUP", "SIGTSTP"):
        monkeypatch.delattr(signal, name)
    monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)
    yield signal.SIGUSR1
    for s, h in kept.items():
        signal.signal(s, h)


def test_on_windows_ctrl_break_stops_the_session_cleanly(windows_signals):
    """Windows' Ctrl-Break was left to its default, which ends the process at once: notes
    hanging on a MIDI synth, the recording left as a journal. With no SIGQUIT, SIGHUP or
    SIGTSTP, the handlers install, and Ctrl-Break (in the setup, and in the session) stops
    the session as Ctrl-\\ does, by its own name."""
    import os

    early = EarlyStop()
    try:
        assert callable(signal.getsignal(windows_signals))  # (else the kill would end the tests, as Ctrl-Break the jam)
        os.kill(os.getpid(), windows_signals)  # in the setup: remembered
        assert (early.reason, early.signum) == ("SIGBREAK", windows_signals)
        s = FakeSession()
        restore = install_signal_handlers(s, early=early)
        assert s.stop_reason == "SIGBREAK"
        s2 = FakeSession()
        restore()
        restore = install_signal_handlers(s2)
        assert callable(signal.getsignal(windows_signals))
        os.kill(os.getpid(), windows_signals)  # in the session: it stops, and closes
        assert run_conductor(s2) == "SIGBREAK" and s2.closed
        restore()
    finally:
        early.restore()


def test_on_windows_ctrl_break_stops_play_and_the_offline_commands_too(windows_signals):
    """`improv play` stops on Ctrl-Break with every note released, as on Ctrl-C; the other
    commands (a render) take it as SIGTERM, so that their part files are removed."""
    from improv.cli import _stop_on_termination
    from improv.commands.play import StopFlag

    stop = StopFlag()
    old = stop.install()
    try:
        assert signal.getsignal(windows_signals) is stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    restore = _stop_on_termination()
    try:
        assert callable(signal.getsignal(windows_signals))
        with pytest.raises(KeyboardInterrupt):  # (raised where the command is, as Ctrl-C is)
            signal.getsignal(windows_signals)(windows_signals, None)
    finally:
        restore()
