"""End to end over real JACK MIDI ports, with the partner a user gets (the model, in its
worker process): trading along the form (a call on the grid, and a soloist's phrase played
with its own timing), a worker killed mid-session (the jam plays on,
a new worker answers the next call, nothing hangs, the recording is whole), and the jam
itself killed mid-answer (its worker silences the synth)."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from improv.bench.jackprobe import Arrival, sounding_notes
from jackutil import Jam, check_transport, note_events, require_jam, wired
from test_e2e_human import CALLS
from test_e2e_human import events as played_events
from test_e2e_jack import CALL, FEEL_S, TEMPO, note_ons, read_recording, wait_for_log

pytestmark = pytest.mark.jack

SPB = 60.0 / TEMPO
TRADE_BARS = 2
TURN = TRADE_BARS * 4  # beats
COUNT_IN_S = 0.25 + 4 * SPB  # improv/live/trade.py LEAD_S, then one bar of count-in at 120 bpm


def played_call(band: str = "medium", beats: float = 6.5) -> list[tuple[float, list[int]]]:
    """A soloist's phrase as recorded (tests/data/human), its seconds scaled from the
    soloist's tempo to the trading tempo: the player's own placement around the beat and
    uneven swing kept, nothing on a grid; the notes within the first `beats` beats."""
    call = CALLS[band]
    scale = call["tempo"] / TEMPO
    notes = [[on * scale, dur * scale, pitch, vel] for on, dur, pitch, vel in call["notes"] if on * scale < beats * SPB]
    return played_events(notes)


@pytest.mark.parametrize("played", [False, True], ids=["grid-call", "played-call"])
def test_trading_with_the_default_partner_answers_in_its_own_bars(tmp_path, played):
    require_jam()
    flags = ["--tempo", f"{TEMPO:g}", "--seed", "4", "--tune", "blues-f", "--trade-bars", str(TRADE_BARS), "--bass"]
    call = played_call() if played else note_events(CALL, TEMPO)
    with Jam(tmp_path, duration=19, extra=flags) as jam:
        seen = wait_for_log(jam, "trading", timeout=30)
        beat0 = seen + COUNT_IN_S  # the form's beat 0, give or take the log's delay
        for turn in (0, 2):  # the player's turns; the partner has 1 and 3
            jam.player.play(call, start=beat0 + (turn * TURN + 0.5) * SPB)
        rc = jam.wait(timeout=30)
        jam.listener.wait_quiet(0.2, timeout=2)
        arrivals = list(jam.listener.arrivals)
        recs = jam.recordings()
        sent = list(jam.player.sent)
        log = jam.stderr()
    assert rc == 0, log[-2000:]
    check_transport(sent, recs[0], arrivals)
    assert "partner: model" in log and "2 answers" in log, log[-2000:]
    assert not sounding_notes(arrivals), sounding_notes(arrivals)
    rec = read_recording(recs[0])  # the file's beat 0 is the form's beat 0
    partner = [t / SPB for t, _ in note_ons(rec["partner"])]
    assert partner, log[-2000:]
    # Each partner note starts in the partner's turns (1 and 3), judged on the recording's
    # beats: the listener's are off by the log line's delay (about 0.03 beat), which would
    # put a note the partner plays just before the player's turn into it. A note may start
    # ahead of its turn's downbeat by the model's time feel; it is cut at the turn's end.
    ahead, late = FEEL_S / SPB, 0.01
    for b in partner:
        assert any(k * TURN - ahead <= b < (k + 1) * TURN + late for k in (1, 3)), \
            f"a partner note at beat {b:.3f}, outside its turns ({TURN}-{2 * TURN}, {3 * TURN}-{4 * TURN})"
    print("partner note-ons (beats):", [round(b, 3) for b in partner])
    # both its turns answered (a note is its turn's: one in the last moment of turn 1 is not turn 2's)
    assert {k for b in partner for k in (1, 3) if k * TURN - ahead <= b < (k + 1) * TURN + late} == {1, 3}, \
        [round(b, 3) for b in partner]
    # each answer starts on its turn's downbeat (the jam's log line: "3:1  answer 1: ...") ...
    placed = [(int(bar) - 1) * 4 + int(beat) - 1 for bar, beat in re.findall(r"(\d+):(\d+)  answer \d+: ", log)]
    assert placed == [TURN, 3 * TURN], log[-2000:]
    # ... and the file marks each at its first note (it may rest a beat in, or come in ahead by its feel)
    answered = [t / SPB for t, text in rec["markers"] if text.startswith("answer")]
    firsts = [min(b for b in partner if k * TURN - ahead <= b < (k + 1) * TURN + late) for k in (1, 3)]
    assert len(answered) == 2 and all(abs(a - b) < 0.01 for a, b in zip(answered, firsts)), (answered, firsts)


def test_a_killed_partner_is_replaced_and_the_jam_plays_on(tmp_path):
    require_jam()
    flags = ["--tempo", f"{TEMPO:g}", "--seed", "6"]
    with Jam(tmp_path, duration=60, extra=flags) as jam:
        wait_for_log(jam, "jamming", timeout=30)
        wired(jam)
        workers = jam.children()
        assert len(workers) == 1, f"expected one partner process, found {workers}"
        os.kill(workers[0], signal.SIGKILL)
        t_kill = time.perf_counter()
        mark = time.perf_counter()
        jam.player.play(note_events(CALL, TEMPO), start=mark + 0.2)  # a call while the partner is gone
        wired(jam)  # passthrough never stopped
        back = wait_for_log(jam, "the partner is back", timeout=10)
        assert back - t_kill < 3.0 + 0.6, f"replaced {back - t_kill:.2f} s after the kill (3 s + one health check)"
        assert jam.children() and jam.children() != workers
        time.sleep(3 * SPB)  # the first call's answer (if any) is over
        mark = time.perf_counter()
        jam.player.play(note_events(CALL, TEMPO), start=mark + 0.2)
        answered = jam.listener.wait(lambda a: any(x.t > mark and x.channel == 2 and x.is_note_on for x in a),
                                     timeout=8)
        rc = jam.stop(signal.SIGTERM, timeout=10)
        jam.listener.wait_quiet(0.2, timeout=2)
        arrivals = list(jam.listener.arrivals)
        recs = jam.recordings()
        log = jam.stderr()
    assert answered, f"the new partner did not answer:\n{log[-3000:]}"
    assert rc == 0, log[-2000:]
    assert "starting a new one" in log and "partner restarted 1 time" in log, log[-2000:]
    assert not sounding_notes(arrivals), sounding_notes(arrivals)
    assert not any(p for p in jam.children())  # the worker ended with the jam
    rec = read_recording(recs[0])
    assert [m.note for _, m in note_ons(rec["player"])] == [p for p, _, _ in CALL] * 2  # the recording heard it all
    assert not sounding_notes([Arrival(t, tuple(m.bytes())) for t, m in rec["partner"] + rec["player"]])


@pytest.mark.parametrize("wired", ["out", "virtual-out"])
def test_a_jam_killed_mid_answer_leaves_nothing_sounding_on_its_synth(tmp_path, wired):
    """A jam that dies without closing (SIGKILL here; an out-of-memory kill or a crash in
    native code alike) sends no note-off: the note of the answer it was playing (or a key the
    player held, passed through) hung on the synth, opened with `--out`, or wired to the
    jam's `--virtual-out` in a JACK patchbay after it started. Its partner's worker outlives
    it by a moment: it hears its stdin end with no `Closing` before, runs `improv panic` on
    that port (every channel), says so on the jam's terminal, and ends. (Within half a second
    over JACK here; CI's synchronous server stalls some 25 s as it waits out the dead jam's
    clients, and the silence comes when it answers again.)"""
    from improv.bench.jackprobe import Listener, unique

    require_jam()
    name = unique("killed-synth")
    own = Listener(name) if wired == "out" else None
    try:
        with Jam(tmp_path, duration=60, extra=["--tempo", f"{TEMPO:g}", "--seed", "3"],
                 out_port=f"{name}:in" if own is not None else "") as jam:
            synth = own or jam.listener
            deadline = time.monotonic() + 10  # (a probe through the jam, heard on the synth: wired)
            while time.monotonic() < deadline:
                mark = jam.player.send([0xB0, 7, 100])
                if synth.wait(lambda a: any(x.t > mark and x.data == (0xB0, 7, 100) for x in a), timeout=0.2):
                    break
            wait_for_log(jam, "jamming", timeout=30)
            workers = jam.children()
            assert len(workers) == 1, workers
            jam.player.play(played_call(), start=time.perf_counter() + 0.2)  # (a soloist's phrase as played)
            assert synth.wait(lambda a: any(ch == 2 for ch, _ in sounding_notes(a)), timeout=15), jam.stderr()
            port = f"{name}:in" if own is not None else f"{synth.client}:{synth.port_name}"
            jam.proc.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            silenced = synth.wait(lambda a: not sounding_notes(a) and {x.channel for x in a if x.t > killed and
                                  x.data[0] & 0xF0 == 0xB0 and x.data[1] == 123} == set(range(1, 17)), timeout=60)
            took = time.perf_counter() - killed
            arrivals = list(synth.arrivals)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and running(workers[0]):
                time.sleep(0.05)
            worker_left = running(workers[0])
            rc = jam.proc.wait(timeout=5)
            log = jam.stderr()
    finally:
        if own is not None:
            own.close()
    assert rc == -signal.SIGKILL
    assert silenced, f"still sounding {took:.1f} s after the kill: {sounding_notes(arrivals)}\n{log[-2000:]}"
    assert not worker_left, "the worker outlived the jam"
    assert f"the jam ended without closing: all notes off on '{port}' (16 channels)" in log, log[-2000:]


def running(pid: int) -> bool:
    """Whether process `pid` runs (Linux /proc; a zombie, or one reaped meanwhile, does not)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
