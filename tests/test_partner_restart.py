"""The partner's worker dying or failing (improv/partner/process.py), with stand-in workers:
a call a dead worker had not answered goes to the next one, once; a partner given up on is
tried again after the restart window, and while it is down calls fail at once."""

from __future__ import annotations

import os
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from improv.core.theory.notes import Phrase
from improv.partner.health import Vitals
from improv.partner.process import RESTART_WINDOW_S, RESTARTS, ProcessPartner
from improv.partner.protocol import Job, Ready, Result, Setup, unpacked


class FakeWorker:
    """Takes messages, answers nothing by itself; `die()` ends it."""

    made: list["FakeWorker"] = []

    def __init__(self, partner: ProcessPartner, start_ok: bool = True) -> None:
        self.sent: list = []
        self.ready = threading.Event()
        self.hello = Ready("fake", False) if start_ok else None
        self.ready.set()
        self.dead = False
        self.partner = partner
        self.proc = type("P", (), {"pid": 1000 + len(FakeWorker.made), "poll": lambda _: -9})()
        FakeWorker.made.append(self)

    def send(self, msg) -> bool:
        self.sent.append(msg)
        return True

    def alive(self) -> bool:
        return not self.dead

    def waiting_s(self) -> float:
        return 0.0

    vitals = Vitals(-1)  # (it never pulses, and the system shows nothing of it)

    def stop(self, kill: bool = False, wait_s: float = 2.0) -> None:
        self.dead = True

    def die(self) -> None:
        self.dead = True

    def answer(self, number: int) -> None:
        self.partner._message(self, Result(number, Phrase((), 0.0, 4.0)))


@pytest.fixture
def partner(monkeypatch):
    FakeWorker.made = []
    p = ProcessPartner("markov")
    starts = {"ok": True}
    monkeypatch.setattr(p, "_launch", lambda setup: FakeWorker(p, starts["ok"]))
    results: list[Result] = []
    said: list[str] = []
    p.start(lambda: None, results.append, said.append)
    p.results, p.said, p.starts = results, said, starts  # type: ignore[attr-defined]
    yield p
    p.close()


def _job(n: int) -> Job:
    return Job(n, Phrase((), 0.0, 4.0), None, None, None, None)  # type: ignore[arg-type]


def _wait_state(p: ProcessPartner, state: str) -> None:
    end = time.monotonic() + 5
    while p.state != state and time.monotonic() < end:
        time.sleep(0.01)
    assert p.state == state


def _wait_ready(p: ProcessPartner) -> None:
    _wait_state(p, "ready")


def _replaced(p: ProcessPartner, now: float) -> tuple[FakeWorker, FakeWorker]:
    """The worker dies and is replaced: (the dead one, the new one)."""
    first = FakeWorker.made[-1]
    first.die()
    p.check(now)
    _wait_ready(p)
    return first, FakeWorker.made[-1]


def test_a_call_a_dead_worker_had_not_answered_goes_to_the_next_one_once(partner):
    partner.submit(_job(1), 0.0)
    first, second = _replaced(partner, 0.1)
    assert second is not first and any(isinstance(m, Job) and m.number == 1 for m in second.sent)
    assert partner.results == []  # not failed: sent again
    second.answer(1)
    assert [r.number for r in partner.results] == [1] and partner.results[0].answer is not None
    # a call two workers died on is given up with an error, not sent a third time
    partner.submit(_job(2), 1.0)
    second.die()
    partner.check(1.1)
    _wait_ready(partner)
    third = FakeWorker.made[-1]
    third.die()
    partner.check(1.2)
    _wait_ready(partner)
    assert [(r.number, r.answer is None) for r in partner.results] == [(1, False), (2, True)]
    assert not any(isinstance(m, Job) and m.number == 2 for m in FakeWorker.made[-1].sent)


def test_an_answer_from_a_worker_given_up_on_is_ignored(partner):
    """A stuck worker replaced while it still thought: its late answer to the call (sent
    again to the new one) would be played too, or instead of the new one's."""
    partner.submit(_job(1), 0.0)
    first, second = _replaced(partner, 0.1)
    first.answer(1)  # the old worker's answer arrives after all
    assert partner.results == [] and partner.busy
    second.answer(1)
    assert [r.number for r in partner.results] == [1] and not partner.busy


def test_a_stalled_worker_s_call_is_not_sent_again(partner):
    partner.submit(_job(1), 0.0)
    partner.check(0.0)  # (calls are timed from the first check after a worker is taken)
    partner.check(partner.stall_s + 0.1)  # alive, but sat on the call
    _wait_ready(partner)
    assert [(r.number, r.answer is None) for r in partner.results] == [(1, True)]
    assert not any(isinstance(m, Job) for m in FakeWorker.made[-1].sent)


def test_the_restart_is_said_before_the_call_it_cost(monkeypatch):
    """The log read backwards: 'could not answer call 1: the partner's process was restarted',
    then 'the partner did not answer for 2.4 s: starting a new one'."""
    FakeWorker.made = []
    p = ProcessPartner("markov")
    monkeypatch.setattr(p, "_launch", lambda setup: FakeWorker(p))
    order: list[str] = []
    p.start(lambda: None, lambda r: order.append(f"failed {r.number}"), order.append)
    try:
        p.submit(_job(1), 0.0)
        p.check(0.0)
        p.check(p.stall_s + 0.1)
        _wait_ready(p)
        assert order[0].endswith("starting a new one") and order[1] == "failed 1", order
    finally:
        p.close()


def _restarting(partner, monkeypatch, start_ok: bool = True) -> FakeWorker:
    """Kill the partner's worker: the new one it starts gets ready (or fails, `start_ok`
    False) only when the test sets its `ready`; returns it."""
    made = []

    def launch(setup):
        w = FakeWorker(partner, start_ok)
        w.ready.clear()
        made.append(w)
        return w

    monkeypatch.setattr(partner, "_launch", launch)
    FakeWorker.made[-1].die()
    partner.check(0.1)
    end = time.monotonic() + 5
    while not made and time.monotonic() < end:  # (the new worker is launched on a thread of its own)
        time.sleep(0.005)
    assert partner.state == "restarting" and made
    return made[-1]


def test_the_rest_the_player_is_in_while_a_new_worker_starts_reaches_it(partner, monkeypatch):
    """Reads sent while a new worker started were dropped: the first call after a restart
    was never drafted (the latest read is what the player's rest so far is: only it goes)."""
    from improv.partner.protocol import Read

    new = _restarting(partner, monkeypatch)
    reads = [Read(Phrase((), 0.0, float(n)), None, _job(3)) for n in (1, 2)]  # type: ignore[arg-type]
    partner.read(reads[0])
    partner.submit(_job(2), 0.2)
    partner.read(reads[1])
    new.ready.set()
    _wait_ready(partner)
    assert new.sent == [_job(2), reads[1]]


def test_a_read_kept_for_a_worker_that_could_not_start_is_not_sent_to_the_next(partner, monkeypatch):
    """The next worker is tried a minute later: the read of a rest long past was sent to it."""
    from improv.partner.protocol import Read

    failing = _restarting(partner, monkeypatch, start_ok=False)
    old = Read(Phrase((), 0.0, 1.0), None, _job(3))  # type: ignore[arg-type]
    partner.read(old)
    failing.ready.set()
    _wait_state(partner, "down")
    monkeypatch.setattr(partner, "_launch", lambda setup: FakeWorker(partner))
    partner.check(10.0)
    partner.check(10.0 + RESTART_WINDOW_S)
    _wait_ready(partner)
    assert old not in FakeWorker.made[-1].sent


def test_a_partner_given_up_on_fails_calls_at_once_and_is_tried_again_later(partner):
    now = 0.0
    for _ in range(RESTARTS + 1):
        FakeWorker.made[-1].die()
        now += 1.0
        partner.check(now)
        if partner.state != "down":
            _wait_ready(partner)
    assert partner.state == "down" and "without answers" in partner.said[-1]
    partner.submit(_job(7), now)
    assert [(r.number, r.answer is None) for r in partner.results] == [(7, True)] and not partner.busy
    partner.check(now + RESTART_WINDOW_S / 2)
    assert partner.state == "down"
    partner.check(now + RESTART_WINDOW_S + 0.1)
    _wait_ready(partner)
    assert "trying it again" in " ".join(partner.said)


def test_a_partner_that_cannot_start_again_is_tried_again_after_the_window(partner):
    partner.starts["ok"] = False
    FakeWorker.made[-1].die()
    partner.check(1.0)
    _wait_state(partner, "down")
    partner.check(2.0)  # the wait starts on the session's clock
    partner.starts["ok"] = True
    partner.check(2.0 + RESTART_WINDOW_S + 0.1)
    _wait_ready(partner)




def test_a_replacement_that_cannot_even_be_launched_leaves_the_partner_down_not_restarting(partner, monkeypatch):
    """Popen failing (out of memory after the OOM killer took the worker, the interpreter
    gone) killed the starter thread: the partner stayed "restarting" for the rest of the jam,
    its calls never answered, never tried again."""
    def cannot(setup):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(partner, "_launch", cannot)
    partner.submit(_job(1), 0.5)
    FakeWorker.made[-1].die()
    partner.check(1.0)
    _wait_state(partner, "down") and not partner.busy
    assert [r.number for r in partner.results if r.error] == [1]
    assert any("Cannot allocate memory" in line and "goes on without answers" in line for line in partner.said)
    partner.check(2.0)
    monkeypatch.setattr(partner, "_launch", lambda setup: FakeWorker(partner))
    partner.check(2.0 + RESTART_WINDOW_S + 0.1)  # tried again after the window
    _wait_ready(partner)


def test_a_replacement_that_cannot_build_its_partner_says_why(partner, monkeypatch):
    """(The weights deleted since the jam began, say: the line said only "could not start".)"""
    def broken(setup):
        w = FakeWorker(partner)
        w.hello = Ready("model", False, error="model weights models/x.npz not found")
        return w

    monkeypatch.setattr(partner, "_launch", broken)
    FakeWorker.made[-1].die()
    partner.check(1.0)
    _wait_state(partner, "down")
    assert any("could not start again (model weights models/x.npz not found)" in line for line in partner.said)


def test_closing_while_a_replacement_starts_slowly_does_not_wait_for_it(tmp_path):
    """The starter waited up to 30 s for the new worker's warm-up and closing joined it: the
    player saw no "session ended" for 30 s, and Ctrl-C could not cut it short."""
    slow = tmp_path / "slow-python"
    flag = tmp_path / "slow"
    pidfile = tmp_path / "pid"
    slow.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nif [ -e {flag} ]; then exec sleep 300; fi\n"
                    f"exec {sys.executable} \"$@\"\n")
    slow.chmod(0o755)
    p = ProcessPartner("markov", python=str(slow))
    p.start(lambda: Setup("markov"), lambda r: None)
    flag.touch()
    p._w.stop(kill=True)  # the worker dies; its replacement will take 300 s to get ready
    p.check(1.0)
    end = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip() != str(p.pid)) and time.monotonic() < end:
        time.sleep(0.02)
    assert p.state == "restarting"
    pid = int(pidfile.read_text())
    t = time.monotonic()
    p.close()
    assert time.monotonic() - t < 5.0
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):  # the replacement starting was killed
        os.kill(pid, 0)


STUCK_WORKER = """#!{python}
# a worker that gets ready, then never reads its stdin again (a hung read-ahead, say)
import sys, time
sys.path.insert(0, {root!r})
from improv.partner import wire
from improv.partner.protocol import Ready
wire.recv(sys.stdin.buffer)  # the Setup
wire.send(sys.stdout.buffer, Ready("stuck", True, pid=0))
time.sleep(3600)
"""


def test_a_worker_that_stops_reading_never_blocks_the_conductor_and_is_replaced(tmp_path):
    """A worker stuck reading ahead filled its stdin pipe (64 KB: about 18 reads of a long
    staccato call), and the conductor then blocked writing the next read, for good: no
    answer, no band, no end of the set. Writes now go out on a thread of their own, a newer
    read replaces one still waiting, and a worker that takes nothing for `stall_s` is
    replaced even with no call outstanding."""
    import sys
    from pathlib import Path

    from improv.core.theory.chart import parse_chart
    from improv.partner.protocol import Read

    script = tmp_path / "python"
    script.write_text(STUCK_WORKER.format(python=sys.executable, root=str(Path(__file__).resolve().parents[1])))
    script.chmod(0o755)
    chart = parse_chart("Cmaj7 | Am7 | Dm7 | G7 | Em7 | A7 | Dm7 | G7")
    said: list[str] = []
    p = ProcessPartner("markov", python=str(script), stall_s=0.5)
    p.start(lambda: None, lambda r: None, said.append)
    try:
        first = p.pid
        notes: list = []
        slowest = 0.0
        end = time.monotonic() + 8
        while p.pid == first and time.monotonic() < end:  # a staccato line, a read in each rest
            notes.append((60 + (len(notes) * 5) % 12, len(notes) * 0.5, 0.2, 90))
            t0 = time.monotonic()
            p.read(Read(Phrase.of(notes[-64:]), chart))
            p.check(time.monotonic())
            slowest = max(slowest, time.monotonic() - t0)
            if p._w is not None and p._w.proc.pid == first:
                assert sum(isinstance(m, Read) for _, m in p._w._outbox) <= 1  # the newest read only
            time.sleep(0.01)
        assert slowest < 1.0  # (blocked for good before, once the pipe was full)
        assert p.pid != first, said
        assert any("took nothing it was sent" in line for line in said), said
    finally:
        t0 = time.monotonic()
        p.close()
        assert time.monotonic() - t0 < 10


ECHO_WORKER = """#!{python}
# a worker that answers every call at once with an empty phrase
import sys
sys.path.insert(0, {root!r})
from improv.core.theory.notes import Phrase
from improv.partner import wire
from improv.partner.protocol import Job, Ready, Result
wire.recv(sys.stdin.buffer)  # the Setup
wire.send(sys.stdout.buffer, Ready("echo", True, pid=0))
while True:
    msg = wire.recv(sys.stdin.buffer)
    if isinstance(msg, Job):
        wire.send(sys.stdout.buffer, Result(msg.number, Phrase((), 0.0, 4.0)))
"""


def test_a_session_error_handling_an_answer_is_not_taken_for_a_dead_worker(tmp_path, caplog):
    """An exception in the session's own handling of a result (on the receiving thread)
    stopped the reader, and the healthy worker was counted dead and replaced: the bug was
    never said. Now it is logged and the next answer arrives from the same worker."""
    import sys
    from pathlib import Path

    script = tmp_path / "python"
    script.write_text(ECHO_WORKER.format(python=sys.executable, root=str(Path(__file__).resolve().parents[1])))
    script.chmod(0o755)
    got: list[int] = []

    def on_result(r: Result) -> None:
        if r.number == 1:
            raise ValueError("a bug in the session")
        got.append(r.number)

    p = ProcessPartner("markov", python=str(script))
    p.start(lambda: None, on_result, lambda line: None)
    try:
        first = p.pid
        p.submit(_job(1), 0.0)
        p.submit(_job(2), 0.0)
        end = time.monotonic() + 10
        while not got and time.monotonic() < end:
            time.sleep(0.01)
        p.check(time.monotonic())
        assert got == [2] and p.pid == first and p._w is not None and not p._w.gone
        assert "a bug in the session" in caplog.text
    finally:
        p.close()


def test_the_worker_loads_the_weights_the_session_was_given(tmp_path):
    """`--model` (or [responder] model) reached `respond` but not the jam's worker, which
    played the shipped model while the jam named the given file."""
    from improv.config import Config, override
    from improv.errors import ModelError
    from improv.partner.protocol import Setup

    bad = tmp_path / "bad.npz"  # (a zip with the header's name: the settings take it, the worker cannot load it)
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("__header__.npy", b"MThd not weights")
    cfg = override(Config(), "responder", model=str(bad))
    from tests.test_session import make

    s, *_ = make(cfg)
    assert s.exchange.setup().model == str(bad)
    p = ProcessPartner("model")
    with pytest.raises(ModelError, match="bad.npz"):
        p.start(lambda: Setup("model", model=str(bad)), lambda r: None)
    p.close()


def _exchange_on_markov():
    """An `Exchange` over a stand-in session whose partner answers inline with a Markov
    `PartnerCore` (`worker`), the answer kept in `s.partner.last` to hand back when a test says."""
    from types import SimpleNamespace as NS

    from improv.config import Config
    from improv.core.respond.markov import MarkovResponder
    from improv.core.theory.chart import parse_chart
    from improv.live.exchange import Exchange
    from improv.partner.core import PartnerCore

    chart = parse_chart("Dm7 G7 | Cmaj7")
    worker = PartnerCore(MarkovResponder(3, 0))

    class Partner:
        def submit(self, job, now):
            self.last = worker.answer(job)

        def dropped(self, n):
            worker.dropped(n)

    class Nothing:
        def __getattr__(self, k):
            return lambda *a, **kw: 0

    s = NS(cfg=Config(), seed=0, chart=chart, bpb=4, output=NS(silence_for_setup=lambda: ()), clock=NS(now=lambda: 0.0),
           recorder=None, say=lambda *_: None,
           partner=Partner(), feeder=Nothing(), errors=[], tempo=120.0, band=None, following=False, timeline=None,
           scheduler=NS(generation=0, late_s=0.05, cancel=lambda: None, busy=lambda: False),
           time_of=lambda b: b * 0.5, bar_beat=lambda t: "1:1", beat_at=lambda t: t * 2, partner_ch=0)
    return Exchange(s), s, worker


def test_a_replacement_partner_learns_every_call_the_first_one_did():
    """A call whose answer was dropped (the player came back in first) was learned by the
    worker but left out of the Setup a replacement starts from: a Markov partner restarted
    after a crash had forgotten it."""
    from improv.core.respond.markov import MarkovResponder
    from improv.core.theory.chart import parse_chart
    from improv.partner.core import PartnerCore

    ex, s, worker = _exchange_on_markov()
    chart = parse_chart("Dm7 G7 | Cmaj7")
    first = Phrase.of([(62 + k, 0.5 * k, 0.5) for k in range(8)], start=0.0)
    second = Phrase.of([(65 - k, 0.25 * k, 0.25) for k in range(12)], start=16.0)
    ex.ask(first, chart, 8.0, 8.0, 4.0)
    dropped = s.partner.last
    ex.yield_to_player(4.5)  # the player came back in before the answer arrived
    ex.on_result(dropped)
    ex.ask(second, chart, 24.0, 8.0, 12.0)
    ex.on_result(s.partner.last)
    replacement = PartnerCore(MarkovResponder(3, 0))
    replacement.setup(ex.setup())
    assert [unpacked(c)[0] for c in ex.setup().calls] == [first, second]
    assert replacement.responder.session_notes == worker.responder.session_notes


def test_a_replacement_partner_learns_the_whole_session_not_its_last_64_calls(monkeypatch):
    """A worker replaced after a crash learned only the last 64 calls again: an hour in, the
    Markov partner had forgotten the player's style from before them. It learns again the
    calls of the last `KEEP_NOTES` notes, about what the session's table holds."""
    from improv.core.respond.markov import MarkovResponder
    from improv.core.theory.chart import parse_chart
    from improv.live import exchange
    from improv.partner.core import PartnerCore

    ex, s, worker = _exchange_on_markov()
    chart = parse_chart("Dm7 G7 | Cmaj7")
    calls = [Phrase.of([(60 + (k * 5 + i * (1 + k % 4)) % 24, 0.5 * i, 0.5) for i in range(8)], start=16.0 * k)
             for k in range(100)]
    for k, call in enumerate(calls):
        ex.ask(call, chart, 16.0 * k + 8.0, 8.0, 8.0 * k + 4.0)
        ex.on_result(s.partner.last)
    assert [unpacked(c)[0] for c in ex.setup().calls] == calls
    replacement = PartnerCore(MarkovResponder(3, 0))
    replacement.setup(ex.setup())
    assert replacement.responder.session_notes == worker.responder.session_notes == 800
    monkeypatch.setattr(exchange, "KEEP_NOTES", 60)  # the bound: the oldest calls go first, whole
    ex.ask(calls[0], chart, 16.0 * 100 + 8.0, 8.0, 804.0)
    ex.on_result(s.partner.last)
    assert [unpacked(c)[0] for c in ex.setup().calls] == calls[-6:] + calls[:1]


def test_an_answer_the_player_came_back_in_before_is_not_timed():
    """The session summary's "answer ready p99" is what the player waited for: an answer
    dropped because the player came back in first (often the slow one: it came late because
    it was long) counted in it, 103 ms in a soak whose played answers' p99 was 60."""
    from improv.core.theory.chart import parse_chart

    ex, s, _ = _exchange_on_markov()
    chart = parse_chart("Dm7 G7 | Cmaj7")
    now = [0.0]
    s.clock.now = lambda: now[0]
    ex.ask(Phrase.of([(62 + k, 0.5 * k, 0.5) for k in range(8)], start=0.0), chart, 8.0, 8.0, 4.0)
    dropped = s.partner.last
    ex.yield_to_player(4.5)
    now[0] = 4.6
    ex.on_result(dropped)
    assert list(ex.ready_ms) == [] and ex.answers == 0
    ex.ask(Phrase.of([(65 - k, 0.25 * k, 0.25) for k in range(12)], start=16.0), chart, 24.0, 8.0, 12.0)
    now[0] = 12.02  # noticed at 12 s
    ex.on_result(s.partner.last)
    assert ex.answers == 1 and list(ex.ready_ms) == pytest.approx([20.0])


def test_notes_left_out_of_a_late_answer_are_counted_as_late():
    """An answer back after its first notes were due comes in where it is, its past notes
    left out; the summary's "late" said 0 while the log said a note was left out."""
    from improv.core.theory.chart import parse_chart

    ex, s, _ = _exchange_on_markov()
    now = [4.0]
    s.clock.now = lambda: now[0]
    ex.ask(Phrase.of([(62 + k, 0.5 * k, 0.5) for k in range(8)], start=0.0), parse_chart("Dm7 G7 | Cmaj7"),
           8.0, 8.0, 4.0)
    answer = s.partner.last.answer
    now[0] = 5.0  # beat 10: two beats into the answer
    ex.on_result(s.partner.last)
    past = sum(1 for n in answer.notes if (answer.start + n.start) * 0.5 < 5.0 - 0.05)
    assert past > 0 and ex.answers == 1 and ex.left_out == past


def test_an_answer_taken_back_before_it_sounded_is_not_timed_either():
    """A yield before the first note of an answer already on the timeline takes the answer
    back ("answer n not played": not counted), but its answer-ready time stayed, and the
    summary read "0 answers; answer ready p99 20.0 ms" (found in review)."""
    from improv.core.theory.chart import parse_chart

    ex, s, _ = _exchange_on_markov()
    now = [4.0]
    s.clock.now = lambda: now[0]
    ex.ask(Phrase.of([(62 + k, 0.5 * k, 0.5) for k in range(8)], start=0.0), parse_chart("Dm7 G7 | Cmaj7"),
           8.0, 8.0, 4.0)
    now[0] = 4.02
    ex.on_result(s.partner.last)
    assert ex.answers == 1 and list(ex.ready_ms) == pytest.approx([20.0])
    ex.yield_to_player(ex._last[2] - 0.1)  # before its first note sounds
    assert ex.answers == 0 and list(ex.ready_ms) == [] and ex.left_out == 0


@pytest.mark.parametrize("responder", ["markov", "model"])
def test_a_worker_that_ends_as_it_starts_is_said_so_not_called_slow(tmp_path, responder):
    """A worker that died at once (a crash before its warm-up: the OOM killer, a broken
    library) was reported as 'did not start within 30 s (exit code 3)' the moment it died,
    and a Markov jam was told to try --responder markov."""
    from improv.errors import ModelError

    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho 'worker: crashed' >&2\nexit 3\n")
    script.chmod(0o755)
    p = ProcessPartner(responder, python=str(script))
    with pytest.raises(ModelError) as e:
        p.start(lambda: Setup(responder), lambda r: None)
    p.close()
    said = str(e.value)
    assert "ended as it started (exit code 3" in said and "within" not in said, said
    assert ("--responder markov" in said) == (responder == "model"), said


def test_an_answer_taken_back_after_the_bars_were_counted_again_leaves_both_copies_of_the_session():
    """The bars counted again at a call's first note, which also makes the partner yield:
    the answer not yet sounded was taken back by identity, and the session's copy, moved to
    the new bars, no longer held that object: the unplayed answer stayed in it (and in the
    partner's), and a replacement worker started from it."""
    from improv.core.theory.chart import parse_chart

    ex, s, worker = _exchange_on_markov()
    s.partner.rehome = worker.rehome
    now = [4.0]
    s.clock.now = lambda: now[0]
    call = Phrase.of([(62 + k, 0.5 * k, 0.5) for k in range(8)], start=0.0)
    ex.ask(call, parse_chart("Dm7 G7 | Cmaj7"), 8.0, 8.0, 4.0)
    now[0] = 4.02
    ex.on_result(s.partner.last)
    assert len(ex.memory.phrases) == 2
    ex.remap(lambda beat: beat * 0.8)
    assert [p.start for p in worker.memory.phrases] == [p.start for p in ex.memory.phrases] == [0.0, 6.4]
    ex.yield_to_player(ex._last[2] - 0.1)  # before its first note sounds
    pitches = [n.pitch for n in call.notes]  # (the call only, on the new bars)
    assert [[n.pitch for n in p.notes] for p in ex.memory.phrases] == [pitches]
    assert [[n.pitch for n in p.notes] for p in worker.memory.phrases] == [pitches]
    assert [[n.pitch for n in p.notes] for p in ex.setup().history] == [pitches]


def test_the_session_on_new_bars_reaches_a_worker_starting_but_never_overtakes_a_later_setup(partner, monkeypatch):
    """Bars counted again while a new worker starts: its `Setup` was made on the old bars, so
    the `History` waits for it. Should it fail to start, the next one, tried later, starts
    from the session as it is then: the `History` kept from before would have put it back
    to an older session (every call played while the partner was down forgotten)."""
    from improv.partner.protocol import History

    gate = threading.Event()
    made = partner._launch

    def slow(setup):
        gate.wait(5)
        return made(setup)

    monkeypatch.setattr(partner, "_launch", slow)
    FakeWorker.made[-1].die()
    partner.check(1.0)
    assert partner.state == "restarting"
    partner.rehome((Phrase.of([(60, 0.0, 1.0)]),))
    gate.set()
    _wait_ready(partner)
    assert [m for m in FakeWorker.made[-1].sent if isinstance(m, History)]  # (after its Setup: it is needed)
    gate.clear()
    partner.starts["ok"] = False
    FakeWorker.made[-1].die()
    partner.check(2.0)
    partner.rehome((Phrase.of([(62, 0.0, 1.0)]),))
    gate.set()
    _wait_state(partner, "down")
    partner.check(3.0)
    partner.starts["ok"] = True
    partner.check(3.0 + RESTART_WINDOW_S + 0.1)
    _wait_ready(partner)
    assert not [m for m in FakeWorker.made[-1].sent if isinstance(m, History)]


def test_the_readme_says_how_long_a_hung_partner_holds_a_call():
    """The README had a new partner taking over 'within a second or so' of a death or a
    hang: a hung worker is noticed only by a call it leaves unanswered for `STALL_S`, and
    that call is not answered (SIGSTOP on the worker: 'did not answer for 2.1 s')."""
    from pathlib import Path

    from improv.partner.process import SLOW_S, STALL_S

    text = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert f"a call unanswered for {STALL_S:g} s (that call goes unanswered)" in text
    assert f"it is let finish (up to {SLOW_S:g} s late)" in text


def test_a_stop_asked_while_the_worker_starts_gives_the_start_up_at_once(tmp_path, monkeypatch):
    """Ctrl-C while the model loaded (seconds, on a cold disk) waited for the warm-up, up to
    `READY_TIMEOUT_S`, and then said the partner was not ready: `stop_asked` (the session's
    stop) now gives the start up at once, the worker killed."""
    import improv.partner.process as process

    monkeypatch.setattr(process, "READY_TIMEOUT_S", 5.0)  # (before: 5 s, then a ModelError)
    slow = tmp_path / "slow-python"
    pidfile = tmp_path / "pid"
    slow.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 300\n")  # a worker that never gets ready
    slow.chmod(0o755)
    p = ProcessPartner("model", python=str(slow))
    asked = threading.Event()
    p.stop_asked = asked.is_set
    threading.Timer(0.3, asked.set).start()
    t = time.monotonic()
    p.start(lambda: Setup("model"), lambda r: None)
    assert time.monotonic() - t < 1.5
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):  # (killed and reaped: nothing left behind)
        os.kill(pid, 0)
    results = []
    p._on_result = results.append
    p.submit(_job(1), 1.0)  # a call now gets its error at once
    assert p.state == "down" and results and results[0].error
    p.check(100.0)  # and no other start is tried
    assert p.state == "down" and p._starter is None
    t = time.monotonic()
    p.close()
    assert time.monotonic() - t < 0.5


def test_an_interrupt_raised_while_the_worker_starts_leaves_no_worker_behind(tmp_path):
    """A KeyboardInterrupt out of the warm-up wait (a third Ctrl-C raises one) left the worker
    running: it was not yet the partner's, so closing the partner did not end it."""
    slow = tmp_path / "slow-python"
    pidfile = tmp_path / "pid"
    slow.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 300\n")
    slow.chmod(0o755)
    p = ProcessPartner("model", python=str(slow))
    began = time.monotonic()

    def third_ctrl_c() -> bool:
        if time.monotonic() - began > 0.3:
            raise KeyboardInterrupt
        return False

    p.stop_asked = third_ctrl_c
    with pytest.raises(KeyboardInterrupt):
        p.start(lambda: Setup("model"), lambda r: None)
    p.close()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


PULSING_WORKER = """#!{python}
# a worker that pulses as the real one does, and answers each call after `work`
import sys, time
sys.path.insert(0, {root!r})
from improv.core.theory.notes import Phrase
from improv.partner import wire
from improv.partner.protocol import Job, Ready, Result
from improv.partner.worker import Outbox, pulse
out = Outbox(sys.stdout.buffer)
wire.recv(sys.stdin.buffer)  # the Setup
out.send(Ready("pulsing", True, pid=0))
pulse(out, every=0.05)
while True:
    msg = wire.recv(sys.stdin.buffer)
    if isinstance(msg, Job):
{work}
        out.send(Result(msg.number, Phrase((), 0.0, 4.0)))
"""
WORK = {
    # a busy machine: a quarter of a core, for 2.5 s (an answer takes milliseconds on an idle one)
    "slow": """        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            t = time.perf_counter()
            while time.perf_counter() - t < 0.01:
                pass
            time.sleep(0.03)""",
    "blocked": "        time.sleep(3600)",  # waiting on something that never comes: no CPU
    "loop": """        while True:
            pass""",  # a core spent on one call
}


def _pulsing(tmp_path, work: str, **kw) -> tuple[ProcessPartner, list, list]:
    import sys
    from pathlib import Path

    script = tmp_path / "python"
    script.write_text(PULSING_WORKER.format(python=sys.executable, root=str(Path(__file__).resolve().parents[1]),
                                            work=WORK[work]))
    script.chmod(0o755)
    results: list[Result] = []
    said: list[str] = []
    p = ProcessPartner("markov", python=str(script), **kw)
    p.start(lambda: None, results.append, said.append)
    return p, results, said


def _run(p: ProcessPartner, results: list, until_s: float, first: int | None = None) -> None:
    """Check the partner as the conductor does until a result comes, the worker is replaced, or `until_s`."""
    end = time.monotonic() + until_s
    while time.monotonic() < end and not results and (first is None or p.pid == first):
        p.check(time.monotonic())
        time.sleep(0.02)


def test_a_worker_slow_because_the_machine_is_busy_is_let_finish_not_replaced(tmp_path):
    """In a free jam under load (a sweep on the 2 cores), the partner's worker was killed as
    stuck 12 times in 8 minutes: each call it was late with by 2 s cost a new worker, which
    read the whole session again on the same busy cores, and after 3 in a minute the jam went
    on without answers for a minute. A worker that pulses and keeps working is slow, not stuck."""
    p, results, said = _pulsing(tmp_path, "slow", stall_s=1.0, slow_s=8.0)
    try:
        first = p.pid
        p.submit(_job(1), time.monotonic())
        _run(p, results, 7.0, first)
        assert p.pid == first and p.restarts == 0, said
        assert [(r.number, r.error) for r in results] == [(1, "")]
        assert any("the partner is slow, the machine is busy" in line for line in said), said
        assert not p.slow or not p.busy
    finally:
        p.close()


@pytest.mark.parametrize("work", ["blocked", "loop"])
def test_a_pulsing_worker_that_is_stuck_is_still_replaced(tmp_path, work):
    """Its pulse comes, but its CPU time stands still (blocked) or runs at a core's pace (a
    loop, on an idle machine; on a busy one it looks slow, so `slow_s` bounds the wait)."""
    p, results, said = _pulsing(tmp_path, work, stall_s=1.0, slow_s=4.0)
    try:
        first = p.pid
        t0 = time.monotonic()
        p.submit(_job(1), t0)
        _run(p, results, 8.0, first)
        assert p.pid != first or p.state == "restarting", said
        assert time.monotonic() - t0 < 4.0 + 1.0
        assert any("did not answer for" in line for line in said), said
        if work == "blocked":  # (the loop may get less than half a core on a busy test machine)
            assert time.monotonic() - t0 < 1.0 + 1.0 and not any("slow" in line for line in said), said
    finally:
        p.close()


def _judged(samples=(), pulses=()) -> bool:
    """`Vitals.working` over a 2 s window, on samples and pulses that ended just now."""
    from collections import deque

    v = Vitals(-1)  # (no process: only what it was told)
    now = time.monotonic()
    v.samples = deque((now - ago, cpu, state) for ago, cpu, state in samples)
    v.pulses = deque((now - ago, 1000.0 - ago, cpu) for ago, cpu in pulses)
    return v.working(2.0)


@pytest.mark.parametrize("samples, slow", [
    ([(2.0, 1.0, "R"), (1.0, 1.01, "R"), (0.0, 1.02, "R")], True),  # waiting for a CPU, getting 1 %
    ([(2.0, 1.0, "R"), (1.0, 1.0, "R"), (0.0, 1.0, "R")], True),  # runnable, given nothing yet
    ([(2.0, 1.0, "S"), (1.0, 1.1, "R"), (0.0, 1.3, "S")], True),  # working in turns
    ([(2.0, 1.0, "S"), (1.0, 1.0, "S"), (0.0, 1.0, "S")], False),  # asleep on a late call: blocked
    ([(2.0, 1.0, "R"), (1.0, 1.5, "R"), (0.0, 2.0, "R")], False),  # a core's worth: a loop
    ([(2.0, 1.0, "R"), (1.0, 1.1, "R"), (0.0, 1.1, "T")], False),  # stopped (SIGSTOP)
    ([(3.0, 1.0, "R")], False),  # (the look is old: nothing known)
    ([(2.0, 1.0, "S"), (1.0, 1.0, "S"), (0.0, 1.0, "r")], False),  # blocked; its pulse thread woke at this look
    ([(2.0, 1.0, "S"), (1.0, 1.0, "r"), (0.0, 1.0, "r")], True),  # waiting for the GIL its other thread holds
])
def test_a_late_worker_is_told_slow_or_stuck_from_its_cpu_time_and_state(samples, slow):
    assert _judged(samples=samples) is slow


@pytest.mark.parametrize("pulses, slow", [
    ([(1.5, 1.0), (1.0, 1.05), (0.5, 1.1), (0.1, 1.15)], True),  # a tenth of a core
    ([(1.5, 1.0), (1.0, 1.0), (0.5, 1.0), (0.1, 1.0)], False),  # its CPU time stands still
    ([(1.5, 1.0), (1.0, 1.5), (0.5, 2.0), (0.1, 2.4)], False),  # a core's worth
    ([(3.0, 1.0), (2.5, 1.1)], False),  # its pulse gone
    ([(0.1, 1.0)], False),  # one pulse: nothing to tell yet
])
def test_where_the_system_shows_nothing_the_pulses_tell(pulses, slow):
    """macOS and Windows have no /proc: the pulse carries the CPU time, measured on the
    worker's own clock (on a busy machine pulses arrive in bursts)."""
    assert _judged(pulses=pulses) is slow


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="the system shows no threads (not Linux)")
def test_a_blocked_worker_reads_blocked_however_busy_its_other_threads_are():
    """CI once read a blocked worker as working (1.0 s late, "slow, the machine is busy"): its
    CPU time was the process's, and its pulse thread's few microseconds a wake, counted in
    whole clock ticks, moved it. What counts is the main thread's, the one that decodes.
    Here another thread spends a fifth of a core while the main thread sleeps."""
    import subprocess

    busy = ("import threading, time\n"
            "def run():\n"
            "    while True:\n"
            "        t = time.perf_counter()\n"
            "        while time.perf_counter() - t < 0.002: pass\n"
            "        time.sleep(0.008)\n"
            "threading.Thread(target=run, daemon=True).start()\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", busy], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        v = Vitals(proc.pid)
        for _ in range(4):
            v.sample(threads=False)
            time.sleep(0.25)
        v.sample(threads=True)
        assert len(v.samples) == 5
        assert v.cpu_share(1.0) < 0.005, list(v.samples)
        assert v.samples[-1][2] in ("S", "r")  # (its other thread may be running at that look)
        v.samples[-2] = (*v.samples[-2][:2], "S")  # (the look before saw no other thread: not believed)
        assert not v.working(1.0), list(v.samples)
    finally:
        proc.kill()
        proc.wait()


def test_a_slow_partner_is_said_once_a_minute_at_most(partner, monkeypatch):
    """Under two busy processes a 4-minute jam said "the partner is slow" 9 times."""
    w = FakeWorker.made[-1]
    monkeypatch.setattr(w, "vitals", Vitals(-1))
    monkeypatch.setattr(w.vitals, "working", lambda window: True)
    slow = lambda: [line for line in partner.said if "the partner is slow" in line]  # noqa: E731
    partner.check(0.0)
    for n, at in ((1, 0.0), (2, 10.0), (3, RESTART_WINDOW_S + 1.0)):
        partner.submit(_job(n), at)
        partner.check(at + partner.stall_s + 0.1)
        partner.check(at + partner.stall_s + 0.6)  # (the same spell: not said again)
        assert partner.slow and partner.restarts == 0
        w.answer(n)
        partner.check(at + partner.stall_s + 1.0)
        assert not partner.slow
    assert len(slow()) == 2 and "2.1 s late and still working" in slow()[0], partner.said


def test_a_look_delayed_on_a_busy_machine_still_measures_the_worker():
    """The conductor's looks are 0.5 s apart; on a busy machine one came 2.5 s after the one
    before, and with no sample inside the window the worker's share of a core was unknown:
    a worker working in turns, asleep at that look, read as blocked and was replaced."""
    assert _judged(samples=[(2.5, 1.0, "S"), (0.0, 1.4, "S")]) is True  # 0.16 of a core, in turns
    assert _judged(samples=[(2.5, 1.0, "S"), (0.0, 1.0, "S")]) is False  # asleep: blocked


@pytest.mark.parametrize("how", ["mid-answer", "stopped"])
def test_closing_kills_a_worker_that_does_not_end_by_itself_promptly(tmp_path, how):
    """A jam stopped on a busy machine while the partner was mid-answer (or with its worker
    stopped) waited 2 s for the worker to end, then 2 s more after killing it, before "session
    ended": closing gives it `CLOSE_WAIT_S` (half a second), then kills it."""
    import signal

    p, results, said = _pulsing(tmp_path, "blocked")
    pid = p.pid
    p.submit(_job(1), time.monotonic())
    if how == "stopped":
        os.kill(pid, signal.SIGSTOP)
    t = time.monotonic()
    p.close()
    took = time.monotonic() - t
    assert took < 1.5, f"closing took {took:.2f} s"  # (half a second, and a kill: room for a busy machine)
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left either
        os.waitpid(pid, os.WNOHANG)


def test_a_dead_jams_port_that_cannot_be_silenced_is_said_with_the_command_to_run(capsys):
    """The worker of a jam that died runs `improv panic` on the jam's ports; one that cannot
    be opened (the synth gone with the jam, the MIDI system too) is said in one line with
    the command to run by hand, not a traceback, and the worker still ends."""
    from improv.sentinel import silence

    silence((("", "no such synth anywhere"),))
    err = capsys.readouterr().err
    assert err.startswith("improv: the jam ended without closing: its MIDI output 'no such synth anywhere' could "
                          "not be silenced ("), err
    assert err.endswith("): `improv panic --out 'no such synth anywhere'`\n") and err.count("\n") == 1, err
