"""Bad input over the real input path: malformed and truncated messages, sysex floods,
2,000 messages a second, a player port that vanishes. No crash, bounded queues (the
dropped counters grow instead), the partner still answers afterwards, no hanging note.

In process (always): the engine's own input queue, fed as the port callback feeds it.
Over JACK (when a server runs): `improv jam` in a subprocess, fed by real JACK clients.
The bench (`improv bench`) runs the full 60 s flood.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import mido
import pytest

from improv.config import Config, override
from improv.core.respond.markov import MarkovResponder
from improv.bench.jack import flood, flood_messages
from improv.live.clock import ManualClock
from improv.bench.jackprobe import Arrival, Patchbay, sounding_notes, unique
from improv.live.inputqueue import InputQueue
from improv.live.session import Session
from jackutil import ROOT, Jam, note_events, require_jam, wired

pytestmark = pytest.mark.jack  # (over the JACK server: skipped when none runs, rerun after a failure)

TEMPO = 120.0
SPB = 60.0 / TEMPO
CALL = [(65, 0.0, 0.45), (69, 0.5, 0.45), (72, 1.0, 0.45), (75, 1.5, 0.9)]
MALFORMED = [
    [0x90, 60], [0x90], [0x80, 61], [60, 100], [0x7F], [0x90, 200, 255], [0x90, 60, 128], [0xB0, 64],
    [0xC0], [0xE0, 1], [0xF0, 1, 2, 3], [0xF7], [0xFF], [0xF2, 1], [0xF1], [], [0x90, 60, 100, 5],
    [0xF0] + [0x55] * 5000 + [0xF7],  # a 5 KB sysex
]
SUMMARY = re.compile(r"dropped (\d+) \(queue (\d+), unreadable (\d+), late (\d+)\)")


class Sink:
    """A fake output that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[mido.Message] = []
        self.closed = False

    def send(self, msg: mido.Message, at: float | None = None) -> None:
        self.sent.append(msg)

    def close(self) -> None:
        self.closed = True

    def arrivals(self) -> list[Arrival]:
        return [Arrival(float(i), tuple(m.bytes())) for i, m in enumerate(self.sent)]


# --- in process ----------------------------------------------------------------------------
def test_in_process_garbage_and_a_burst_are_bounded_counted_and_the_partner_still_answers():
    cfg = override(Config(), "timing", tempo=TEMPO)
    clock = ManualClock(100.0)
    inq = InputQueue(clock)
    sink = Sink()
    session = Session(cfg, clock, inq, [sink], MarkovResponder(seed=1), threaded=False, seed=1)
    session.start()
    try:
        # Garbage, then a burst far bigger than the queue, all arriving before the conductor runs.
        clock.advance(0.1)
        for data in MALFORMED:
            inq.push(list(data))
        burst = [m for i in range(1200) for m in flood_messages(i, malformed=True)]
        for data in burst:
            inq.push(data)
        assert inq.queue.qsize() == inq.maxsize, "the input queue must stay bounded"
        assert len(inq.releases) <= inq.maxsize, "so must the releases kept aside"
        # what did not fit is dropped and counted, except releases (kept so no note hangs)
        assert inq.dropped + len(inq.releases) == len(MALFORMED) + len(burst) - inq.maxsize
        assert inq.releases and inq.dropped > 0
        for _ in range(400):  # let 2 s pass: the flood's own call ends and is dealt with
            clock.advance(0.005)
            session.step()
        assert inq.queue.qsize() == 0 and not inq.releases
        assert session.player.malformed > 0, "unreadable messages are counted"
        assert session.dropped >= inq.dropped + session.player.malformed
        clock.advance(4.0)
        for _ in range(400):
            clock.advance(0.01)
            session.step()
        assert session.idle

        # A clean call afterwards is answered on the partner's channel.
        before = len([m for m in sink.sent if m.type == "note_on" and m.channel == 1])
        t_call = clock.now()
        for offset, data in note_events(CALL, TEMPO):
            clock.set(t_call + offset)
            inq.push(data)
            session.step()
        for _ in range(800):
            clock.advance(0.01)
            session.step()
        after = [m for m in sink.sent if m.type == "note_on" and m.velocity and m.channel == 1]
        assert len(after) > before, "no answer after the flood"
    finally:
        session.close()
    assert not sounding_notes(sink.arrivals()), sounding_notes(sink.arrivals())


# --- over JACK ---------------------------------------------------------------------------------
def summary_counts(log: str) -> tuple[int, int, int, int]:
    found = SUMMARY.findall(log)
    assert found, f"the jam printed no summary with its dropped counts:\n{log[-1500:]}"
    return tuple(int(x) for x in found[-1])  # type: ignore[return-value]


def play_call_and_expect_answer(jam: Jam) -> tuple[bool, bool]:
    """Play CALL; (its notes came through, an answer to it began after its end + the gap)."""
    mark = time.perf_counter()
    jam.player.play(note_events(CALL, TEMPO), start=mark + 0.01)
    end = mark + 0.01 + (max(s + d for _, s, d in CALL) + 1.0) * SPB  # last release + the gap
    heard = jam.listener.wait(lambda a: sorted(x.data[1] for x in a if x.t > mark and x.channel == 1
                                               and x.is_note_on) == sorted(p for p, _, _ in CALL), timeout=3)
    answered = heard and jam.listener.wait(
        lambda a: any(x.t > end and x.channel == 2 and x.is_note_on for x in a), timeout=8)
    return heard, answered


def test_jack_garbage_sysex_flood_and_2000_per_second_then_still_answers(tmp_path):
    require_jam()
    # (--no-follow: the flood is no one's playing, and the call after it is judged in 120 bpm bars)
    with Jam(tmp_path, duration=70, extra=["--tempo", f"{TEMPO:g}", "--seed", "2", "--no-follow"]) as jam:
        wired(jam)
        for data in MALFORMED:
            try:
                jam.player.send(data)
            except (ValueError, OverflowError):
                pass  # rtmidi refuses some of these itself; what it lets through is the test
            time.sleep(0.002)
        for i in range(200):  # a sysex flood: 200 KB in about a second
            jam.player.send([0xF0, 0x7D] + [i % 128] * 1021 + [0xF7])
            time.sleep(0.005)
        rss_before = jam.rss_kb()
        sent = flood(jam.player, rate=2000, seconds=3.0, malformed=True)
        rss_after = jam.rss_kb()
        assert sent >= 5500
        assert jam.proc.poll() is None, f"the jam died under the flood:\n{jam.stderr()[-2000:]}"
        for attempt in range(1, 4):
            # Close a truncated sysex the flood may have left open (see the xfail test below),
            # and lift every key it pressed: JACK may drop MIDI on this shared machine (see
            # tests/jackutil.py check_transport), and a lost release would hold the call open
            # (up to max_call_bars), taking in the next try's notes too; so before each try.
            jam.player.send([0xF7])
            for pitch in range(128):  # (a mangled message may have pressed a key outside the flood's range)
                jam.player.send([0x80, pitch, 0])
            jam.player.send([0xB0, 64, 0])  # pedal up, and all notes off: the player's own "panic"
            jam.player.send([0xB0, 123, 0])
            time.sleep(2.5)  # the flood's (or the last try's) call ends; its answer (if any) is under way
            heard, answered = play_call_and_expect_answer(jam)
            if heard and answered:
                break
            # One call in some thirty lost a note on this loaded 2-core machine (in the
            # non-real-time JACK server or in the jam's input, with the callback and with the
            # reader alike): the claim here is that the jam still hears and answers, so the
            # player plays the call again, as a musician would.
            time.sleep(0.5)
        rc = jam.stop(signal.SIGTERM, timeout=10)
        jam.listener.wait_quiet(0.2, timeout=2)
        arrivals = list(jam.listener.arrivals)
        log = jam.stderr()
    assert heard, f"the call after the flood did not come through in {attempt} tries:\n{log[-2000:]}"
    assert answered, f"no answer to the call after the flood in {attempt} tries:\n{log[-2000:]}"
    assert re.findall(r"heard call \d+: 1 bar, 4 notes", log), log[-2000:]
    assert rc == 0, log[-2000:]
    assert not sounding_notes(arrivals), sounding_notes(arrivals)
    dropped, queue_drops, unreadable, late = summary_counts(log)
    assert unreadable > 0, "malformed messages must be counted as unreadable"
    assert dropped >= queue_drops + unreadable + late
    # Bounded memory: the flood may grow the heap a little, not by what it sent.
    assert rss_after - rss_before < 64 * 1024, f"RSS grew {rss_after - rss_before} KiB during the flood"


def test_a_truncated_sysex_does_not_silence_the_player(tmp_path):
    """A sysex cut short (F0 7D 01 02 03, no F7) swallows every later message in RtMidi's JACK
    input; improv's input guard ends it within ~0.1 s: the note played into it comes out
    (late, not lost), the cut is counted in the log, and later calls are heard and answered."""
    require_jam()
    with Jam(tmp_path, duration=20, extra=["--tempo", f"{TEMPO:g}", "--seed", "4"]) as jam:
        wired(jam)
        mark = time.perf_counter()
        jam.player.send([0xF0, 0x7D, 1, 2, 3])  # a sysex cut short (a cable pulled mid-dump)
        jam.player.send([0xB0, 7, 99])  # swallowed by the open sysex, then taken out of it
        assert jam.listener.wait(lambda a: any(x.t > mark and x.data == (0xB0, 7, 99) for x in a), timeout=2), \
            f"the message inside the open sysex never came through:\n{jam.stderr()[-2000:]}"
        heard, answered = play_call_and_expect_answer(jam)
        jam.stop(signal.SIGTERM, timeout=10)
        log = jam.stderr()
    assert heard and answered, log[-2000:]
    assert "cut off" in log, log[-2000:]


PLAYER = """
import sys, time
from improv.bench.jackprobe import Player
p = Player(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
p.send([0x90, 50, 80])  # a key pressed and never released: the player's process dies or quits
print("sent", flush=True)
if sys.stdin.readline().strip() == "quit":  # (a kill never gets here)
    p.close()
    print("closed", flush=True)
    sys.exit(0)
time.sleep(60)
"""


class PlayerProcess:
    """A player client in its own process, so that killing it makes its port vanish."""

    def __init__(self) -> None:
        self.client = unique("stress-player")
        self.port = f"{self.client}:out"
        self.proc = subprocess.Popen([sys.executable, "-c", PLAYER, self.client], cwd=ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def expect(self, word: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=0.1):
                line = self.proc.stdout.readline()
                if line.strip() == word:
                    return
                if not line:
                    break
        pytest.fail(f"the player process never said {word!r}")

    def _press(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        self.expect("sent")
        time.sleep(0.2)

    def press_and_die(self) -> None:
        self._press()
        self.proc.kill()
        self.proc.wait(5)

    def press_and_quit(self) -> None:
        """As `press_and_die`, but the player's program quits, closing its JACK client. (A
        killed client stalls a synchronous JACK server, as CI's is, for its time-out of
        about 5 s: no message moves in that time, the jam's release included.)"""
        self._press()
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.expect("closed")
        self.proc.wait(5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@contextmanager
def jam_with_player(tmp_path):
    """A `PlayerProcess` wired to a jam's virtual input: yields (player, jam); the player
    is killed after, if still there."""
    require_jam()
    player = PlayerProcess()
    try:
        player.expect("ready")
        with Jam(tmp_path, duration=30, extra=["--tempo", f"{TEMPO:g}"]) as jam:
            with Patchbay(unique("stress-patch")) as pb:
                pb.connect(pb.wait_for(player.port, inputs=False, timeout=10), jam.jam_in)
            yield player, jam
    finally:
        player.close()


def test_player_vanishing_from_the_virtual_input_leaves_the_session_running_and_clean(tmp_path):
    with jam_with_player(tmp_path) as (player, jam):
        player.press_and_die()
        assert jam.listener.wait(lambda a: any(x.channel == 1 and x.is_note_on for x in a), timeout=5)
        time.sleep(0.7)
        assert jam.proc.poll() is None, f"the jam ended when a player left its virtual input:\n{jam.stderr()}"
        rc = jam.stop(signal.SIGTERM, timeout=10)
        jam.listener.wait_quiet(0.2, timeout=2)
        arrivals = list(jam.listener.arrivals)
        log = jam.stderr()
    assert rc == 0, log[-2000:]
    assert not sounding_notes(arrivals), f"hanging: {sounding_notes(arrivals)}"


def answered_then_stopped(jam, player) -> tuple:
    """Play `CALL` on `player` (a JACK `Player` the jam has just opened), wait for the answer
    at the jam's listener, let it play, stop the jam: (answered, exit status, arrivals, the
    jam's log, its recordings)."""
    time.sleep(0.3)  # (connected as the jam says so; a little slack for the server)
    start = time.perf_counter() + 0.2
    player.play(note_events(CALL, TEMPO), start=start)
    answered = jam.listener.wait(lambda a: any(x.channel == 2 and x.is_note_on and x.t > start for x in a), timeout=15)
    time.sleep(2.0)  # the answer plays on
    rc = jam.stop(signal.SIGTERM, timeout=10)
    jam.listener.wait_quiet(0.2, timeout=2)
    return answered, rc, list(jam.listener.arrivals), jam.stderr(), jam.recordings()


def test_an_opened_input_unplugged_and_plugged_back_in_is_played_on(tmp_path):
    """A port opened with `--in` that vanished (a keyboard unplugged, its key down) ended the
    session: a loose cable stopped the set. The jam plays on: the key is released, the jam
    says the keyboard is gone, and when a port of that name is back it is opened again and
    a call played into it is answered; one recording holds it all (improv/live/replug.py)."""
    from improv.bench.jackprobe import Player
    from test_e2e_jack import wait_for_log

    require_jam()
    player, back = PlayerProcess(), None
    try:
        player.expect("ready")
        with Patchbay(unique("stress-patch")) as pb:
            pb.wait_for(player.port, inputs=False, timeout=10)
        with Jam(tmp_path, duration=40, extra=["--tempo", f"{TEMPO:g}"], in_port=player.port) as jam:
            time.sleep(0.5)  # the jam opens the player's port and connects to it
            player.press_and_quit()  # unplugged with a key down
            wait_for_log(jam, "is gone (unplugged", timeout=10)
            released = jam.listener.wait(lambda a: any(x.channel == 1 and x.data[1] == 50 for x in a)
                                         and (1, 50) not in sounding_notes(a), timeout=5)
            back = Player(player.client)  # plugged back in: a port of the same name
            wait_for_log(jam, "is back: play on", timeout=10)
            answered, rc, arrivals, log, recs = answered_then_stopped(jam, back)
    finally:
        player.close()
        if back is not None:
            back.close()
    assert released, log[-2000:]
    assert rc == 0 and "port gone" not in log, f"exit {rc}:\n{log[-2000:]}"
    assert answered, log[-2000:]
    ended = [line for line in log.splitlines() if line.startswith("session ended")]
    assert ended and f"{player.port!r} unplugged 1 time" in ended[0], log[-2000:]  # (the set's last line)
    assert not sounding_notes(arrivals), f"hanging: {sounding_notes(arrivals)}"
    assert len(recs) == 1, "one recording, before and after"
    played = sorted(m.note for m in mido.MidiFile(recs[0]).tracks[1] if m.type == "note_on" and m.velocity)
    assert played == sorted([50] + [p for p, _, _ in CALL]), played


@contextmanager
def jam_without_a_keyboard(tmp_path):
    """A jam started with no keyboard there (no --in, no --virtual-in): its virtual input,
    named for this test (not another jam's), once it says it is jamming."""
    from test_e2e_jack import wait_for_log

    require_jam()
    config = tmp_path / "in.toml"
    config.write_text(f'[midi]\nvirtual_in = "{unique("improv in")}"\n')
    with Jam(tmp_path, duration=40, extra=["--tempo", f"{TEMPO:g}", "--config", str(config)], in_port=None) as jam:
        wait_for_log(jam, "jamming", timeout=30)
        yield jam


def assert_the_call_answered(answered, rc, arrivals, log, recs) -> None:
    """What `answered_then_stopped` gave, for `CALL` played on a device plugged in late: the
    jam answered it, ended cleanly with nothing sounding, and recorded the call."""
    assert rc == 0, f"exit {rc}:\n{log[-2000:]}"
    assert answered, log[-2000:]
    assert not sounding_notes(arrivals), f"hanging: {sounding_notes(arrivals)}"
    played = sorted(m.note for m in mido.MidiFile(recs[0]).tracks[1] if m.type == "note_on" and m.velocity)
    assert played == sorted(p for p, _, _ in CALL), played


def test_a_keyboard_plugged_in_after_the_jam_started_is_played_on(tmp_path):
    """No keyboard as the jam started (no --in, no --virtual-in): it made its virtual input and
    said to connect one to it. A device input that appears later (a JACK client named a2j, as
    a2jmidid names the ALSA devices it bridges) is opened, and a call played on it answered."""
    from improv.bench.jackprobe import Player
    from test_e2e_jack import wait_for_log

    keys = None
    try:
        with jam_without_a_keyboard(tmp_path) as jam:
            assert "a keyboard plugged in later is opened as it appears" in jam.stderr(), jam.stderr()
            keys = Player("a2j", unique("Keys MIDI 1"))
            assert keys.client == "a2j"
            wait_for_log(jam, "plugged in: play", timeout=10)
            result = answered_then_stopped(jam, keys)
    finally:
        if keys is not None:
            keys.close()
    assert_the_call_answered(*result)


def test_another_device_plugged_in_mid_set_is_opened_and_played_on(tmp_path):
    """Only the first device plugged in after a start with none was opened: unplugged, it was
    waited for, and another device plugged in then (the pad controller, a second keyboard)
    went unheard. Each device plugged in is opened now, and a call played on the second is
    answered, with the first still waited for (improv/live/replug.py, `DeviceWatch`)."""
    from improv.bench.jackprobe import Player
    from test_e2e_jack import wait_for_log

    keys = pads = None
    try:
        with jam_without_a_keyboard(tmp_path) as jam:
            keys = Player("a2j", unique("Keys MIDI 1"))
            wait_for_log(jam, f"'a2j:{keys.port_name}' plugged in: play", timeout=10)
            keys.close()  # unplugged (a2j's client goes with its last device)
            keys = None
            wait_for_log(jam, "is gone (unplugged", timeout=10)
            pads = Player("a2j", unique("Pads MIDI 1"))
            wait_for_log(jam, f"'a2j:{pads.port_name}' plugged in: play", timeout=10)
            result = answered_then_stopped(jam, pads)
    finally:
        for player in (keys, pads):
            if player is not None:
                player.close()
    assert_the_call_answered(*result)


def test_an_output_unplugged_and_plugged_back_in_is_silenced_and_played_on(tmp_path):
    """A port opened with `--out` that vanished (a synth, or the player's own keyboard, unplugged)
    ended the session. The jam plays on: when a port of that name is back it is opened again,
    every channel is silenced first (a note cut off by the unplug may still sound there), and
    the next call's answer is heard on it."""
    from improv.bench.jackprobe import Listener
    from test_e2e_jack import wait_for_log

    require_jam()
    name = unique("stress-synth")
    synth, back = Listener(name), None
    try:
        with Jam(tmp_path, duration=40, extra=["--tempo", f"{TEMPO:g}"], out_port=f"{name}:in") as jam:
            deadline = time.monotonic() + 10  # (as `wired` waits for a probe through the jam, heard on the synth)
            while time.monotonic() < deadline:
                mark = jam.player.send([0xB0, 7, 100])
                if synth.wait(lambda a: any(x.t > mark and x.data == (0xB0, 7, 100) for x in a), timeout=0.2):
                    break
            jam.player.play(note_events(CALL, TEMPO), start=time.perf_counter() + 0.2)
            assert synth.wait(lambda a: any(x.channel == 2 and x.is_note_on for x in a), timeout=15), jam.stderr()
            synth, gone = None, synth
            gone.close()  # unplugged, most likely mid-answer (closed once: a second close crashes rtmidi)
            wait_for_log(jam, "is gone (unplugged", timeout=10)
            back = Listener(name)
            wait_for_log(jam, "is back: every channel silenced", timeout=10)
            start = time.perf_counter() + 0.3
            jam.player.play(note_events(CALL, TEMPO), start=start)
            answered = back.wait(lambda a: any(x.channel == 2 and x.is_note_on and x.t > start for x in a), timeout=15)
            time.sleep(2.0)  # the answer plays on
            rc = jam.stop(signal.SIGTERM, timeout=10)
            back.wait_quiet(0.2, timeout=2)
            arrivals = list(back.arrivals)
            log = jam.stderr()
    finally:
        for client in (synth, back):
            if client is not None:
                client.close()
    assert rc == 0 and "port gone" not in log, f"exit {rc}:\n{log[-2000:]}"
    assert "ended without closing" not in log, log[-2000:]  # (the worker's panic is for a jam that died)
    first = [a for a in arrivals if a.t < start]
    silenced = {a.channel for a in first if a.data[0] & 0xF0 == 0xB0 and a.data[1] == 123}
    assert silenced == set(range(1, 17)), (silenced, log[-2000:])
    assert answered, log[-2000:]
    assert not sounding_notes(arrivals), f"hanging: {sounding_notes(arrivals)}"


def test_a_key_held_when_the_keyboards_active_sensing_stops_is_released(tmp_path):
    """A keyboard that sends active sensing, its DIN cable pulled with a key down while the
    USB-MIDI interface (the port) stays: the key hung on the thru until the session ended.
    Its sensing stopping is heard as the cable gone: the key is released within a second, said,
    and the session goes on (improv/live/midiinput.py, `sensing_stopped`)."""
    from test_e2e_jack import wait_for_log

    require_jam()
    with Jam(tmp_path, duration=30, extra=["--tempo", f"{TEMPO:g}"]) as jam:
        wired(jam)
        for k in range(10):  # sensing every 100 ms (a keyboard's is every 300 ms at most), a key pressed midway
            jam.player.send([0xFE])
            if k == 4:
                jam.player.send([0x90, 50, 80])
            time.sleep(0.1)
        pulled = time.perf_counter()  # nothing more: the cable is out
        released = jam.listener.wait(lambda a: any(x.t > pulled and x.channel == 1 and x.data[:2] == (0x80, 50)
                                                   for x in a), timeout=5)
        took = time.perf_counter() - pulled
        wait_for_log(jam, "stopped its active sensing (a cable out?): 1 key it held released", timeout=5)
        time.sleep(0.3)
        still = jam.proc.poll() is None
        rc = jam.stop(signal.SIGTERM, timeout=10)
        log = jam.stderr()
    assert released and took < 1.5, (took, log[-2000:])
    assert still and rc == 0, log[-2000:]


def test_a_key_held_by_a_player_that_vanished_is_released_while_the_session_goes_on(tmp_path):
    with jam_with_player(tmp_path) as (player, jam):
        player.press_and_quit()  # its program quits with the key down
        time.sleep(2.0)  # a musician would call anything longer a hanging note
        still = sounding_notes(jam.listener.arrivals)
        jam.stop(signal.SIGTERM, timeout=10)
    assert (1, 50) not in still


def test_a_key_held_by_a_player_that_was_killed_is_released_while_the_session_goes_on(tmp_path):
    """As above, the player's process killed: a synchronous JACK server (CI's) stalls for
    the dead client's time-out, about 5 s, before anything moves again, so the release is
    waited for longer; the jam must still send it by itself, long before it is stopped."""
    with jam_with_player(tmp_path) as (player, jam):
        player.press_and_die()
        released = jam.listener.wait(lambda a: (1, 50) not in sounding_notes(a)
                                     and any(x.channel == 1 and x.data[1] == 50 for x in a), timeout=8.0)
        deadline = time.monotonic() + 2.0  # the guard says so just after the release went out
        while "released" not in jam.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = jam.stderr()
        jam.stop(signal.SIGTERM, timeout=10)
    assert released, log[-2000:]
    assert "released" in log, log[-2000:]


BYSTANDER = """
import sys
from improv.bench.jackprobe import Player
Player(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
"""


def test_a_jam_stopped_while_the_server_waits_out_a_dead_client_still_sends_its_note_offs(tmp_path):
    """A synchronous JACK server (CI's, and `jackd -S`) stops cycling for about 5 s when a
    client dies. A jam stopped in that time closed its port with its last note-offs still
    queued in it, exited, and the key stayed down on the synth (the player-vanishing test
    above met it now and then). The jam now waits for the server to take them."""
    with jam_with_player(tmp_path) as (player, jam):
        player._press()  # the player holds a key (it stays: nothing releases it before the stop)
        assert jam.listener.wait(lambda a: (1, 50) in sounding_notes(a), timeout=10), jam.stderr()[-2000:]
        other = subprocess.Popen([sys.executable, "-c", BYSTANDER, unique("stress-bystander")], cwd=ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert other.stdout.readline().strip() == "ready"
            other.kill()  # another program on the server dies: a synchronous server stalls
            other.wait(5)
            time.sleep(0.2)
            rc = jam.stop(signal.SIGTERM, timeout=20)
        finally:
            if other.poll() is None:
                other.kill()
        jam.listener.wait(lambda a: (1, 50) not in sounding_notes(a), timeout=10)
        arrivals = list(jam.listener.arrivals)
        log = jam.stderr()
    assert rc == 0, log[-2000:]
    assert not sounding_notes(arrivals), f"hanging: {sounding_notes(arrivals)}\n{log[-2000:]}"
