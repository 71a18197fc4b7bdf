"""Waiting for a JACK server that takes the connection and never answers
(improv/live/jackwatch.py: `shared_watch`, `server_answers`, `give_up_waiting`).

libjack's handshake with such a server (stopped, or stuck on a busy machine) never returns,
and python-rtmidi waits in it with the GIL held: a jam froze at its start. The watch is
opened on a thread of its own, so the caller's wait is bounded, said once, and ended by a
stop signal. A stand-in `JackWatch` that blocks until released plays the server here;
tests/test_server_lost.py does it with a real, stopped server."""

from __future__ import annotations

import signal
import threading
import time

import pytest

import improv.live.jackwatch as jackwatch
from improv.errors import PortError


class Server:
    """The JACK server as the stand-in watches see it: answers once `answer` is set."""

    def __init__(self) -> None:
        self.answer = threading.Event()
        self.running = True
        self.opened: list["FakeWatch"] = []
        server = self

        class FakeWatch:
            def __init__(self) -> None:
                server.answer.wait(30)  # (libjack's handshake: no answer, no return)
                if not server.running:
                    raise OSError("no JACK server runs (status 0x11)")
                self.alive = True
                self.closed = False
                server.opened.append(self)

            def close(self) -> None:
                self.closed = True
                self.alive = False

        self.Watch = FakeWatch


@pytest.fixture
def server(monkeypatch):
    s = Server()
    monkeypatch.setattr(jackwatch, "JackWatch", s.Watch)
    monkeypatch.setattr(jackwatch, "_WATCHES", {})
    monkeypatch.setattr(jackwatch, "_OPENING", {})
    monkeypatch.setattr(jackwatch, "_GIVE_UP", threading.Event())
    monkeypatch.setattr(jackwatch, "OPEN_WAIT_S", 0.6)
    monkeypatch.setattr(jackwatch, "SAY_WAIT_S", 0.1)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "stage")
    yield s
    s.answer.set()  # (the opening threads end: before the next test's state is set up)
    for t in threading.enumerate():
        if t.name == "improv-jack-open":
            t.join(5)


def test_a_server_that_never_answers_is_said_once_then_refused_in_one_line(server, monkeypatch):
    monkeypatch.setattr(jackwatch, "OPEN_WAIT_S", 1.5)
    said = []
    t0 = time.monotonic()
    with pytest.raises(PortError) as e:
        jackwatch.server_answers(said.append)
    took = time.monotonic() - t0
    assert 1.45 <= took < 5.0, took
    assert said == ["waiting for the JACK server 'stage' to answer (busy, or stopped?); Ctrl-C gives up"]
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("the JACK server 'stage' does not answer (waited 2 s): ")
    # a second client (the output after the input) is refused at once: the wait is the opening's, not each caller's
    (opening,) = jackwatch._OPENING.values()
    t0 = time.monotonic()
    with pytest.raises(PortError):
        jackwatch.server_answers(said.append)
    assert time.monotonic() - t0 < 1.0 and len(said) == 1
    assert list(jackwatch._OPENING.values()) == [opening]  # (no second handshake begun)
    assert jackwatch.shared_watch() is None


def test_a_server_that_answers_late_is_used_once_it_does(server, monkeypatch):
    monkeypatch.setattr(jackwatch, "OPEN_WAIT_S", 10.0)
    said = []
    threading.Timer(0.3, server.answer.set).start()
    jackwatch.server_answers(said.append)  # (within the wait: no error)
    assert len(said) == 1 and len(server.opened) == 1
    assert jackwatch.shared_watch() is server.opened[0]  # kept for the process: no second handshake
    assert len(server.opened) == 1


def test_a_server_that_answers_after_the_wait_is_still_taken_up(server):
    with pytest.raises(PortError):
        jackwatch.server_answers()
    server.answer.set()
    deadline = time.monotonic() + 2
    while not server.opened and time.monotonic() < deadline:
        time.sleep(0.01)
    assert jackwatch.shared_watch() is server.opened[0]
    jackwatch.server_answers()  # (no error now)


def test_no_server_at_all_is_not_a_silent_one(server, monkeypatch):
    monkeypatch.setattr(jackwatch, "OPEN_WAIT_S", 10.0)
    server.running = False
    server.answer.set()
    said = []
    t0 = time.monotonic()
    jackwatch.server_answers(said.append)  # (rtmidi finds there is none, at once, and says so itself)
    assert time.monotonic() - t0 < 2.0 and said == []
    assert jackwatch.shared_watch() is None


def test_a_watch_that_fails_otherwise_ends_the_wait_at_once(server, monkeypatch):
    class Broken:
        def __init__(self) -> None:
            raise AttributeError("a stand-in rtmidi module with no __file__")

    monkeypatch.setattr(jackwatch, "JackWatch", Broken)
    monkeypatch.setattr(jackwatch, "OPEN_WAIT_S", 10.0)
    t0 = time.monotonic()
    jackwatch.server_answers()
    assert time.monotonic() - t0 < 2.0


def test_a_watch_opened_only_to_ask_is_closed_again(server):
    server.answer.set()
    jackwatch.server_answers(keep=False)  # (PortAudio's start on a jam whose MIDI is on ALSA)
    assert len(server.opened) == 1 and server.opened[0].closed
    assert jackwatch._WATCHES == {}
    jackwatch.server_answers()
    kept = server.opened[1]
    jackwatch.server_answers(keep=False)  # (one the jam keeps is not closed by the question)
    assert not kept.closed and jackwatch._WATCHES == {"stage": kept}


def test_the_bench_takes_a_server_that_never_answers_as_no_jack_and_opens_no_client_on_it(server, monkeypatch):
    """`improv bench` (and the JACK tests' skip check) opened its probe client on the server
    directly: on a stopped one it waited for ever."""
    from improv.bench import jackprobe

    opened = []

    class Probe:
        def __init__(self, name: str) -> None:
            opened.append(name)

        def close(self) -> None:
            pass

    monkeypatch.setattr(jackprobe, "Patchbay", Probe)
    monkeypatch.setattr(jackprobe, "_LIB", object())  # (libjack's presence is not what is tested)
    rtmidi = pytest.importorskip("rtmidi")
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        pytest.skip("python-rtmidi was built without the JACK API")
    said = []
    reason = jackprobe.jack_unavailable(said.append)
    assert reason is not None and reason.startswith("the JACK server 'stage' does not answer"), reason
    assert said == ["waiting for the JACK server 'stage' to answer (busy, or stopped?); Ctrl-C gives up"]
    assert opened == []
    server.answer.set()  # the server wakes: the bench measures on it
    deadline = time.monotonic() + 2
    while not server.opened and time.monotonic() < deadline:
        time.sleep(0.01)
    assert jackprobe.jack_unavailable() is None and opened == ["improv-probe"]


def test_a_stop_signal_at_the_start_ends_the_wait(server, monkeypatch):
    """A jam remembers a stop signal while it starts (`EarlyStop`, which does not raise): the
    wait ends at it, not 30 s later."""
    from improv.live.conductor import EarlyStop

    monkeypatch.setattr(jackwatch, "OPEN_WAIT_S", 30.0)
    early = EarlyStop()
    try:
        threading.Timer(0.2, early._on_signal, args=(signal.SIGINT, None)).start()
        t0 = time.monotonic()
        with pytest.raises(PortError):  # (the jam then says the session ended before it started)
            jackwatch.server_answers()
        assert time.monotonic() - t0 < 10.0
        assert early.reason
    finally:
        early.restore()
    assert not jackwatch._GIVE_UP.is_set()  # (the next command's start waits again)


def test_a_stop_signal_does_not_cut_short_a_server_that_answers(server, monkeypatch):
    """A stop signal already caught as a command starts does not leave a server that answers
    in the middle of a handshake: its open is waited out (the command then stops, as before)."""
    monkeypatch.setattr(jackwatch, "OPEN_WAIT_S", 10.0)
    monkeypatch.setattr(jackwatch, "SAY_WAIT_S", 2.0)
    jackwatch.give_up_waiting()
    threading.Timer(0.2, server.answer.set).start()
    said = []
    jackwatch.server_answers(said.append)  # (no error: the server answered)
    assert said == [] and len(server.opened) == 1 and jackwatch._OPENING == {}


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_asking_a_real_server_leaves_the_main_threads_signals_alone():
    """libjack keeps the signal mask of the thread that opens its first client and puts it
    back on the thread that closes its last: with the stop signals blocked on the opening
    thread, a synth's question to the server (a watch opened there, closed here) left
    Ctrl-C and SIGTERM blocked on the main thread, and a jam started after it could not be
    stopped. Needs a JACK server (skipped without one)."""
    from jackutil import require_jack

    require_jack()
    stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
    assert not stops & signal.pthread_sigmask(signal.SIG_BLOCK, set())
    for keep in (False, True):
        jackwatch.server_answers(keep=keep)
        assert not stops & signal.pthread_sigmask(signal.SIG_BLOCK, set()), keep
    watch = jackwatch.shared_watch()
    assert watch is not None
    jackwatch._WATCHES.pop(jackwatch.server_name(), None)
    watch.close()  # (the process's last client of that libjack: its mask is put back here)
    assert not stops & signal.pthread_sigmask(signal.SIG_BLOCK, set())
