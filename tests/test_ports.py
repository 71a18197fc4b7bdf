"""Ports: choosing the backend, finding ports, the bounded input hand-off, the output sink.

Fakes stand in for rtmidi; one test uses real JACK ports and skips when no JACK server runs.
"""

import queue
import shutil
import subprocess
import threading
import time

import mido
import pytest

from improv.errors import ConfigError, PortError
from improv.live import midiout, ports
from improv.live.clock import ManualClock, RealClock


class FakeRtOut:
    """Stands in for rtmidi.MidiOut: records the bytes it is sent."""

    def __init__(self, names=("Synth 20:0",), fail=False):
        self.names = list(names)
        self.sent = []
        self.fail = fail
        self.closed = False

    def send_message(self, data):
        if self.fail:
            raise RuntimeError("port gone")
        self.sent.append(list(data))

    def get_ports(self):
        return list(self.names)

    def close_port(self):
        self.closed = True

    def delete(self):
        pass


class FakeRtIn:
    def __init__(self, names=("Keys 24:0",)):
        self.names = list(names)
        self.callback = None
        self.ignored = None

    def ignore_types(self, **kw):
        self.ignored = kw

    def set_callback(self, cb):
        self.callback = cb

    def cancel_callback(self):
        self.callback = None

    def get_ports(self):
        return list(self.names)

    def close_port(self):
        pass

    def delete(self):
        pass


def test_api_name_from_flag_env_or_default(monkeypatch):
    monkeypatch.delenv(ports.ENV_API, raising=False)
    assert ports.api_name("") == ""
    assert ports.api_name("JACK") == "jack"
    monkeypatch.setenv(ports.ENV_API, "alsa")
    assert ports.api_name("") == "alsa"
    assert ports.api_name("jack") == "jack"  # the flag wins
    monkeypatch.setenv(ports.ENV_API, "midiman")
    with pytest.raises(ConfigError, match="IMPROV_MIDI_API"):
        ports.api_name("")
    with pytest.raises(ConfigError, match="--midi-api"):
        ports.api_name("beos")


def test_find_port_by_index_or_substring_and_one_line_error():
    names = ["Midi Through:Midi Through Port-0 14:0", "Keystation 49:Keystation MIDI 1 24:0"]
    assert ports.find_port(names, "1", "input") == 1
    assert ports.find_port(names, "keystation", "input") == 1
    with pytest.raises(PortError) as e:
        ports.find_port(names, "Nord", "input")
    msg = str(e.value)
    assert "'Nord'" in msg and "0: Midi Through" in msg and "1: Keystation" in msg and "\n" not in msg
    assert msg.endswith("(give one's number or part of its name)")  # how to fix it, not only what is wrong
    assert e.value.exit_code == 2
    with pytest.raises(PortError) as e:
        ports.find_port([], "0", "output")
    # `improv jam --out nosuch` with no port at all said "MIDI outputs: none" and stopped there
    msg = str(e.value)
    assert "MIDI outputs: none (connect the device, or start the program that makes the port, and run again" in msg
    assert "`improv ports`" in msg and "\n" not in msg


def test_improvs_own_guard_port_is_never_offered_nor_chosen():
    """`--clock-in nosuch` listed "0: improv-01:improv sysex guard" (the jam's own input
    guard) among the inputs to choose, and `--clock-in 0` would have taken it."""
    names = ["improv-01:improv sysex guard", "a2j:DAW clock out"]
    for spec in ("0", "improv", "guard"):
        with pytest.raises(PortError) as e:
            ports.find_port(names, spec, "input")
        assert "sysex guard" not in str(e.value) and "1: a2j:DAW clock out" in str(e.value)
    assert ports.find_port(names, "1", "input") == 1 and ports.find_port(names, "clock", "input") == 1


@pytest.mark.parametrize("name,api,hw", [
    ("Midi Through:Midi Through Port-0 14:0", "alsa", False),
    ("Keystation 49:Keystation MIDI 1 24:0", "alsa", True),
    ("improv:improv out 130:0", "alsa", False),
    ("system:midi_capture_1", "jack", True),
    ("a2j:Keystation [24] (capture): Keystation MIDI 1", "jack", True),
    # (a2jmidid lists ALSA's Midi Through first: taken as the keyboard, it left the keys unheard)
    ("a2j:Midi Through [14] (capture): Midi Through Port-0", "jack", False),
    ("a2j:Midi Through (capture): Midi Through Port-0", "jack", False),  # (a2jmidid -u: no client numbers)
    ("a2j:FLUID Synth (1234) [130] (capture): Synth input port", "jack", False),  # (a program's ALSA port)
    ("a2j:Keystation (capture): Keystation MIDI 1", "jack", True),
    ("improv-01:improv out", "jack", False),
    ("Keystation 49 MIDI 1", "coremidi", True),
    ("IAC Driver Bus 1", "coremidi", False),  # (between programs: a DAW's output, or improv's own routed there)
    ("Network Session 1", "coremidi", False),
    ("loopMIDI Port", "winmm", False),
    ("LoopBe Internal MIDI", "winmm", False),
    ("MPD218", "winmm", True),
])
def test_hardware_guess(name, api, hw):
    assert ports.is_hardware(name, api) is hw


def test_input_queue_is_bounded_and_counts_drops():
    clock = ManualClock(3.0)
    q = ports.InputQueue(clock, maxsize=100)
    for i in range(2000):
        q.push([0x90, 60, 100])
    assert q.queue.qsize() == 100 and q.dropped == 1900
    assert q.queue.get_nowait() == (3.0, [0x90, 60, 100])


def test_input_callback_only_stamps_and_enqueues_and_drops_sysex():
    clock = ManualClock(1.5)
    q = ports.InputQueue(clock)
    raw = FakeRtIn()
    mi = ports.MidiInput(q, raw, "Keys 24:0", virtual=False)
    # sysex reaches us (see wire.py), and active sensing (`sensing_stopped`)
    assert raw.ignored == {"sysex": False, "timing": True, "active_sense": False}
    raw.callback(([0xFE], 0.0), None)  # active sensing: noted, not queued
    raw.callback(([0x90, 60, 100], 0.0), None)
    raw.callback(([0xF0, 0x7D, 1, 2, 0xF7], 0.0), None)  # a whole sysex: counted, dropped
    raw.callback(([0xF7], 0.0), None)  # the guard's lone end of sysex: dropped
    raw.callback(([0x90], 0.0), None)  # truncated: the conductor drops it, not the callback
    assert [q.queue.get_nowait() for _ in range(2)] == [(1.5, [0x90, 60, 100]), (1.5, [0x90])]
    assert q.queue.empty() and mi.sysex == 1 and mi.sysex_cut == 0
    assert mi.alive()
    raw.names = []  # unplugged
    assert not mi.alive()
    mi.close()
    assert raw.callback is None


def test_a_keyboard_whose_active_sensing_stops_has_what_it_held_released():
    """A DIN cable pulled out of a keyboard that sends active sensing, through a USB-MIDI
    interface that stays plugged in: the port stays, and a key held hung (on the thru, and in
    the call) until the session ended. As a synth does, a source that sent active sensing
    and then nothing for `SENSING_S` has what it held released, once."""
    from improv.live.midiinput import SENSING_S

    q = ports.InputQueue(ManualClock(1.5))
    raw = FakeRtIn()
    mi = ports.MidiInput(q, raw, "Keys 24:0", virtual=False)
    raw.callback(([0xFE], 0.0), None)
    raw.callback(([0x90, 60, 100], 0.0), None)
    raw.callback(([0xB0, 64, 127], 0.0), None)
    t = time.monotonic()
    assert mi.sensing_stopped(t + SENSING_S - 0.05) == ""  # (the keyboard's next sensing may still come)
    assert mi.sensing_stopped(t + SENSING_S + 0.2) == ("MIDI input 'Keys 24:0' stopped its active sensing (a cable "
                                                      "out?): 1 key and the sustain pedal it held released")
    assert [q.queue.get_nowait()[1] for _ in range(4)] == [[0x90, 60, 100], [0xB0, 64, 127], [0x80, 60, 0],
                                                          [0xB0, 64, 0]]
    assert mi.sensing_stopped(t + 60) == ""  # once
    raw.callback(([0xFE], 0.0), None)  # the cable back in: watched again, nothing held
    assert mi.sensing_stopped(time.monotonic() + 1) == "" and q.queue.empty()
    quiet = ports.MidiInput(q, FakeRtIn(), "Other 20:0", virtual=False)  # a source that never sent sensing
    quiet._in.callback(([0x90, 62, 100], 0.0), None)
    assert quiet.sensing_stopped(time.monotonic() + 60) == ""  # is not taken for cut off
    mi.close()
    quiet.close()


class FakeJackIn(FakeRtIn):
    """A JACK rtmidi input in queue mode: `get_message` hands out what `arrive` queued."""

    def __init__(self):
        super().__init__(names=("improv in",))
        self.queued = queue.SimpleQueue()

    def get_current_api(self):
        import rtmidi

        return rtmidi.API_UNIX_JACK

    def arrive(self, data, delta):
        self.queued.put((list(data), delta))

    def get_message(self):
        try:
            return self.queued.get_nowait()
        except queue.Empty:
            return None


def test_on_jack_a_reader_thread_stamps_messages_with_when_they_arrived_and_survives_errors():
    """On JACK no callback is set (none runs on JACK's thread): the reader takes rtmidi's
    queue and stamps a burst it reads at once (as after the process held the GIL) with
    JACK's spacing, not all at the time it got to them; a message it cannot take costs
    that message only."""
    clock = ManualClock(10.0)
    q = ports.InputQueue(clock)

    def thru(data, t):
        if data[1] == 61:
            raise RuntimeError("a broken thru")

    q.thru = thru
    raw = FakeJackIn()
    mi = ports.MidiInput(q, raw, "improv in", virtual=True)
    try:
        assert raw.callback is None
        raw.arrive([0x90, 60, 100], 0.0)
        t, data = q.get(timeout=2)
        assert data == [0x90, 60, 100] and t == pytest.approx(10.0, abs=0.01)  # read on its own: arrived now
        time.sleep(0.6)
        clock.set(10.6)  # (the session's clock moves on too: stamps keep arrival order)
        raw.arrive([0x90, 61, 100], 0.1)  # raises in thru: skipped, the input goes on
        raw.arrive([0x90, 62, 100], 0.1)  # three read at once, 0.1 and 0.2 s apart by JACK's clock
        raw.arrive([0x90, 63, 100], 0.2)  # the last: read at once, "now"
        got = [q.get(timeout=2) for _ in range(2)]
        assert [d for _, d in got] == [[0x90, 62, 100], [0x90, 63, 100]]
        assert got[0][0] == pytest.approx(10.4, abs=0.01) and got[1][0] == pytest.approx(10.6, abs=0.01)
    finally:
        mi.close()


def test_sink_tracks_notes_and_close_releases_everything():
    raw = FakeRtOut()
    sink = ports.MidiOutSink(raw, "Synth 20:0", virtual=False)
    sink.send(mido.Message("note_on", channel=0, note=60, velocity=90))
    sink.send(mido.Message("note_on", channel=1, note=64, velocity=90))
    sink.send(mido.Message("note_on", channel=1, note=67, velocity=90))
    sink.send(mido.Message("note_on", channel=1, note=67, velocity=0))  # = note-off
    assert sink.sounding == {(0, 60), (1, 64)}
    raw.sent.clear()
    sink.close()
    assert raw.sent[:2] == [[0x80, 60, 0], [0x81, 64, 0]]
    ccs = {(d[0] & 0x0F, d[1], d[2]) for d in raw.sent[2:] if d[0] & 0xF0 == 0xB0}
    assert ccs == {(ch, cc, 0) for ch in range(16) for cc in (64, 120, 121, 123)}
    # the order matters (a set hid a reversed one): after the note-offs, on each channel the
    # sustain pedal up (64) first, else All Notes Off (123) leaves held notes sounding, then
    # All Sound Off (120), then the controllers reset (121) and the bend centred (a player's
    # bend passed through left the synth detuned)
    assert raw.sent[2:] == [m for ch in range(16) for m in
                            [[0xB0 | ch, cc, 0] for cc in (64, 123, 120, 121)] + [[0xE0 | ch, 0, 64]]]
    assert raw.closed and sink.sounding == set()
    n = len(raw.sent)
    sink.close()
    sink.send(mido.Message("note_on", note=1))
    assert len(raw.sent) == n  # closed: nothing more goes out


def test_sink_survives_a_failing_port_and_reports_it():
    raw = FakeRtOut(fail=True)
    sink = ports.MidiOutSink(raw, "Synth 20:0", virtual=False)
    sink.send(mido.Message("note_on", note=60))
    assert not sink.alive() and "Synth" in sink.failed
    sink.close()


def test_sink_is_whole_under_two_threads():
    raw = FakeRtOut()
    sink = ports.MidiOutSink(raw, "x", virtual=True)

    def play(ch):
        for p in range(100):
            sink.send(mido.Message("note_on", channel=ch, note=p, velocity=64))
            sink.send(mido.Message("note_off", channel=ch, note=p))

    ts = [threading.Thread(target=play, args=(ch,)) for ch in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(raw.sent) == 400 and all(len(m) == 3 for m in raw.sent) and sink.sounding == set()


def jack_running():
    if not shutil.which("jack_lsp"):
        return False
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.jack
def test_real_jack_ports_round_trip():
    if not jack_running():
        pytest.skip("no JACK server running (start one: jackd -S --no-realtime -d dummy -r 48000 -p 128)")
    import rtmidi

    clock = RealClock()
    q = ports.InputQueue(clock)
    mi = ports.open_input(q, api="jack", virtual="improv test in")
    sink = ports.open_output(api="jack", virtual="improv test out")
    probe_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "probe")
    probe_out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "probe")
    try:
        probe_out.open_port(ports.find_port(probe_out.get_ports(), "improv test in", "output"))
        probe_in.open_port(ports.find_port(probe_in.get_ports(), "improv test out", "input"))
        time.sleep(0.1)
        for _ in range(20):  # a busy shared server may take a moment to wire a new connection
            probe_out.send_message([0x90, 61, 99])
            try:
                t, data = q.queue.get(timeout=0.25)
                break
            except queue.Empty:
                continue
        else:
            pytest.fail("nothing arrived on the virtual input in 5 s")
        assert data == [0x90, 61, 99] and t <= clock.now()
        sink.send(mido.Message("note_on", channel=1, note=70, velocity=80))
        got = None
        for _ in range(200):
            got = probe_in.get_message()
            if got:
                break
            time.sleep(0.01)
        assert got and got[0] == [0x91, 70, 80]
        with pytest.raises(PortError, match="not found"):
            ports.open_output(api="jack", port="no such port at all")
        listing = ports.list_ports("jack")
        assert any("improv test in" in n for n in listing["outputs"])
    finally:
        mi.close()
        sink.close()
        probe_in.delete()
        probe_out.delete()


@pytest.mark.jack
def test_the_players_jack_input_loses_nothing_while_the_jam_holds_the_gil():
    """No Python runs on JACK's thread for the player's input: what arrives while the jam's
    process holds the GIL waits in rtmidi's queue and is stamped with when it arrived."""
    from improv.bench.jackprobe import Patchbay
    from jackutil import SenderProcess, hold_the_gil, require_jack, unique
    from test_jackprobe import assert_all_but_an_xrun, assert_spaced

    require_jack()
    n, spacing = 120, 0.004
    clock = RealClock()
    q = ports.InputQueue(clock, maxsize=1000)
    name = unique("improv gil in")
    mi = ports.open_input(q, api="jack", virtual=name)
    try:
        with Patchbay(unique("t-patch")) as pb, SenderProcess(n, spacing) as sender:
            pb.connect(pb.wait_for(f"{sender.client}:out", inputs=False, timeout=5),
                       pb.wait_for(name, inputs=True, timeout=5))
            time.sleep(0.2)  # a connection takes effect at the server's next graph change
            sender.go()
            time.sleep(0.1)
            held = hold_the_gil(0.4)  # (through some 95 of the 120)
        got = []
        while len(got) < n:
            try:
                item = q.get(timeout=2)
            except queue.Empty:
                break
            if item[1][0] == 0x90:  # (not the guard's releases of the keys the sender left held)
                got.append(item)
    finally:
        mi.close()
    assert held > 0.35
    assert_all_but_an_xrun([tuple(d) for _, d in got], sender.expected)
    assert_spaced([t for t, _ in got], spacing)


@pytest.mark.jack
def test_closing_a_jack_output_delivers_its_note_offs():
    if not jack_running():
        pytest.skip("no JACK server running (start one: jackd -S --no-realtime -d dummy -r 48000 -p 128)")
    import rtmidi

    sink = ports.open_output(api="jack", virtual="improv close test")
    probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "closeprobe")
    got = []
    probe.set_callback(lambda ev, _d: got.append(ev[0]))
    try:
        probe.open_port(ports.find_port(probe.get_ports(), "improv close test", "input"))
        deadline = time.monotonic() + 3.0  # the connection is up once a message gets through
        while not got and time.monotonic() < deadline:
            sink.send(mido.Message("control_change", channel=15, control=3, value=0))
            time.sleep(0.02)
        assert got, "the JACK connection never carried a message"
        got.clear()
        for p in range(40):
            sink.send(mido.Message("note_on", channel=1, note=40 + p, velocity=90))
        sink.close()  # at once: the offs are still in rtmidi's buffer
        deadline = time.monotonic() + 3.0
        while ([0xB1, 123, 0] not in got or len({m[1] for m in got if m[0] == 0x81}) < 40) \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        offs = {m[1] for m in got if m[0] == 0x81}
        assert offs == set(range(40, 80))
        assert [0xB1, 123, 0] in got
    finally:
        probe.delete()


@pytest.mark.parametrize("data, release", [
    ([0x80, 60, 0], True), ([0x93, 60, 0], True), ([0x90, 60, 1], False),
    ([0xB0, 64, 63], True), ([0xB0, 64, 64], False), ([0xB0, 64, 0], True), ([0xB0, 64, 127], False),
    ([0xB5, 123, 0], True), ([0xB0, 120, 0], True), ([0xB0, 1, 0], False), ([0xE0, 0, 64], False), ([0xF8], False),
    ([0xB0, 121, 0], True), ([0xB2, 124, 0], True), ([0xB0, 127, 0], True), ([0xB0, 122, 0], False),
])
def test_what_counts_as_a_release(data, release):
    """A release is kept through a flood: note-offs (either form), the pedal coming up (a
    value under 64: MIDI reads 64 and above as down) and all-notes/sound-off."""
    from improv.live.inputqueue import is_release

    assert is_release(data) is release


def test_a_flood_never_drops_a_release_and_order_is_kept():
    clock = ManualClock(1.0)
    q = ports.InputQueue(clock, maxsize=4)
    for i in range(10):  # a flood: keys down, more than the queue holds
        clock.advance(0.001)
        q.push([0x90, 60 + i, 100])
    clock.advance(0.001)
    q.push([0x80, 60, 0])  # the queue is full: the release must still get through
    q.push([0xB0, 64, 0])
    q.push([0xB0, 1, 5])  # not a release: dropped and counted
    assert q.dropped == 7
    got = []
    while True:
        try:
            got.append(q.get_nowait())
        except queue.Empty:
            break
    assert [d for _, d in got] == [[0x90, 60, 100], [0x90, 61, 100], [0x90, 62, 100], [0x90, 63, 100],
                                   [0x80, 60, 0], [0xB0, 64, 0]]
    assert [t for t, _ in got] == sorted(t for t, _ in got)


# --- an input that cannot go deaf -------------------------------------------------------------
from improv.live.portnames import port_short_name, unique_port_name  # noqa: E402
from improv.live.wire import channel_messages, split_sysex  # noqa: E402


@pytest.mark.parametrize("data, cut, rest", [
    ([0xF0, 0x7D, 1, 2, 0xF7], False, []),  # a whole sysex
    ([0xF0, 0x7D, 1, 0xF8, 2, 0xF7], False, []),  # a clock tick inside one is allowed
    # RtMidi's JACK input, the guard's 0xF7 ending a sysex that swallowed two notes
    ([0xF0, 0x7D, 1, 2, 3, 0x90, 62, 100, 0x80, 62, 0, 0xF7], True, [[0x90, 62, 100], [0x80, 62, 0]]),
    ([0xF0, 0x7D, 1, 0x90, 62, 100], True, [[0x90, 62, 100]]),  # ALSA glues the next message on
    ([0xF0, 1, 2, 0xF7, 0x90, 60, 1], True, [[0x90, 60, 1]]),  # ended, then more
    ([0xF0, 1, 2], True, []),
    ([0xF0, 1, 0xB0, 64, 0, 0xF2, 1, 2, 0xF0, 5, 0xE0, 0, 64, 0xF7], True, [[0xB0, 64, 0], [0xE0, 0, 64]]),
])
def test_split_sysex_finds_the_messages_a_cut_sysex_swallowed(data, cut, rest):
    assert split_sysex(data) == (cut, rest)


def test_channel_messages_split_at_status_bytes():
    assert channel_messages([5, 0x90, 60, 90, 0xF8, 0x80, 60]) == [[0x90, 60, 90], [0x80, 60]]


def test_a_cut_sysex_is_counted_and_what_it_swallowed_is_played():
    q = ports.InputQueue(ManualClock(2.0))
    raw = FakeRtIn()
    mi = ports.MidiInput(q, raw, "Keys 24:0", virtual=False)
    raw.callback(([0xF0, 0x7D, 1, 2, 3, 0x90, 62, 100, 0x80, 62, 0, 0x90, 64, 90, 0xF7], 0.0), None)
    got = [q.queue.get_nowait()[1] for _ in range(3)]
    assert got == [[0x90, 62, 100], [0x80, 62, 0], [0x90, 64, 90]] and q.queue.empty()
    assert mi.sysex_cut == 1 and mi.sysex == 0


def test_keys_held_by_a_player_who_left_are_released_through_the_queue():
    q = ports.InputQueue(ManualClock(2.0))
    raw = FakeRtIn()
    mi = ports.MidiInput(q, raw, "improv in", virtual=True)
    for data in ([0x90, 60, 90], [0x91, 50, 90], [0x90, 62, 90], [0x80, 62, 0], [0xB0, 64, 127], [0x92, 70, 80],
                 [0xB2, 123, 0]):  # all notes off on channel 3 lets go of its key
        raw.callback((data, 0.0), None)
    while not q.queue.empty():
        q.queue.get_nowait()
    assert mi.release_held() == 3
    released = sorted(q.queue.get_nowait()[1] for _ in range(3))
    assert released == [[0x80, 60, 0], [0x81, 50, 0], [0xB0, 64, 0]]
    assert mi.release_held() == 0 and mi.released == 3


class FakeWatch:
    def __init__(self):
        self.lost = ""
        self.conns = ["player:out", "improv-guard:improv sysex guard"]

    def connections(self, port):
        return list(self.conns)


def test_the_guard_releases_keys_when_a_source_leaves_and_ends_open_sysex():
    from improv.live.inputguard import InputGuard

    q = ports.InputQueue(ManualClock(2.0))
    raw = FakeRtIn()
    mi = ports.MidiInput(q, raw, "improv in", virtual=True)
    kicker, watch = FakeRtOut(), FakeWatch()
    guard = InputGuard(mi, "improv:improv in", kicker, watch)
    mi.guard = guard
    raw.callback(([0x90, 50, 80], 0.0), None)
    q.queue.get_nowait()
    guard.tick()
    assert kicker.sent == [[0xF7]] and q.queue.empty()  # every round ends any open sysex
    watch.conns = ["improv-guard:improv sysex guard"]  # the player's program quit
    guard.tick()
    assert q.queue.get_nowait()[1] == [0x80, 50, 0]
    assert mi.alive()
    watch.lost = "JACK server has been closed"
    assert not mi.alive() and "JACK server stopped" in mi.failed
    mi.close()
    assert kicker.closed


def test_the_guard_says_what_a_leaving_player_held_naming_the_port_once(caplog):
    from improv.live.inputguard import InputGuard

    q = ports.InputQueue(ManualClock(2.0))
    raw = FakeRtIn()
    mi = ports.MidiInput(q, raw, "player:out", virtual=False)  # opened with --in: named as its source
    watch = FakeWatch()
    guard = InputGuard(mi, "improv:improv in", FakeRtOut(), watch)
    for data in ([0x90, 50, 80], [0x90, 53, 80], [0xB0, 64, 127]):
        raw.callback((data, 0.0), None)
    guard.tick()
    watch.conns = ["improv-guard:improv sysex guard"]
    with caplog.at_level("WARNING"):
        guard.tick()
    assert "player:out left holding 2 keys and the sustain pedal: released" in caplog.text, caplog.text
    mi.close()


@pytest.mark.parametrize("full, short", [("improv:improv in", "improv in"), ("improv:improv in 128:0", "improv in"),
                                         ("IAC Driver Bus 1", "IAC Driver Bus 1")])
def test_port_short_names(full, short):
    assert port_short_name(full) == short


def test_a_taken_port_name_gets_a_number():
    taken = ["improv:improv in", "improv-01:improv in 2", "x:keys 128:0"]
    assert unique_port_name("improv in", taken) == "improv in 3"
    assert unique_port_name("keys", taken) == "keys 2"
    assert unique_port_name("free", taken) == "free"


def test_an_output_reports_a_dead_server():
    out = ports.MidiOutSink(FakeRtOut(), "partner", virtual=True, watch=FakeWatch())
    assert out.alive()
    out.watch.lost = "gone"
    assert not out.alive() and "JACK server stopped" in out.failed


def test_jack_ports_are_closed_apart_so_libjack_handles_each_change_first(monkeypatch):
    """libjack crashes when a port is closed while its client still handles the latency update
    of the previous close (JackClient::HandleLatencyCallback): close_client spaces JACK closes
    JACK_SETTLE_S apart, and leaves other APIs alone."""
    import time

    import rtmidi

    from improv.live import midiapi

    calls = []

    class Fake:
        def __init__(self, api):
            self.api = api

        def get_current_api(self):
            return self.api

        def cancel_callback(self):
            calls.append(("cancel", time.monotonic()))

        def close_port(self):
            calls.append(("close", time.monotonic()))

        def delete(self):
            calls.append(("delete", time.monotonic()))

    midiapi.close_client(Fake(rtmidi.API_UNIX_JACK), cancel_callback=True)
    midiapi.close_client(Fake(rtmidi.API_UNIX_JACK))
    assert [c[0] for c in calls] == ["cancel", "close", "delete", "close", "delete"]
    jack_changes = [t for what, t in calls if what != "cancel"]
    gaps = [b - a for a, b in zip(jack_changes, jack_changes[1:])]
    assert min(gaps) >= midiapi.JACK_SETTLE_S * 0.99, gaps
    calls.clear()
    slept = []
    monkeypatch.setattr(midiapi.time, "sleep", slept.append)
    midiapi.jack_port_changed()  # a JACK change just now: an ALSA close still does not wait
    midiapi.close_client(Fake(rtmidi.API_LINUX_ALSA))
    assert [c[0] for c in calls] == ["close", "delete"] and slept == []
    midiapi.close_client(None)  # nothing to close: fine


def test_a_missing_output_is_refused_before_the_input_opens(monkeypatch, capsys):
    """`--out nosuchport` said so after "listening on ...", and listed the jam's own input
    among the outputs to choose from."""
    from improv.cli import main
    from improv.live import ports as ports_mod

    class FakeOut:
        def get_ports(self):
            return ["system:midi_playback_1", "synth:in"]

    closed = []
    monkeypatch.setattr(ports_mod, "open_client", lambda kind, api: (FakeOut(), None))
    monkeypatch.setattr(ports_mod, "close_client", lambda c: closed.append(c))
    monkeypatch.setattr(ports_mod, "open_input", lambda *a, **k: pytest.fail("the input was opened first"))
    assert main(["jam", "--out", "nosuchport", "--no-record"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MIDI output 'nosuchport' not found" in err and "synth:in" in err, err
    assert "listening" not in err and len(closed) == 1


@pytest.mark.jack
def test_two_jams_virtual_outputs_of_one_name_are_told_apart():
    """Two jams with the same --virtual-out both got 'partner', with no word (the input
    became 'keys 2' with a warning)."""
    if not jack_running():
        pytest.skip("no JACK server running (start one: jackd -S --no-realtime -d dummy -r 48000 -p 128)")
    said: list[str] = []
    first = ports.open_output(api="jack", virtual="improv twin out")
    try:
        second = ports.open_output(api="jack", virtual="improv twin out", say=said.append)
        try:
            assert first.name == "improv twin out" and second.name == "improv twin out 2"
            assert len(said) == 1 and "exists already" in said[0] and "'improv twin out 2'" in said[0]
        finally:
            second.close()
    finally:
        first.close()


def test_stamps_keep_arrival_order_when_the_clock_is_read_late():
    """The JACK reader hands each message its age, and the queue stamps it `now - age`,
    reading `now` per message: a note-off read in the same period as its note-on (the same
    age) but stamped after a thread switch came out microseconds before its note-on, and the
    recording wrote it first, so a flicked note rang on in the file to the key's next release
    (14 of 20 zero-length notes in a live test)."""
    # both arrived at 10.0; the reader took the note-on's age at 10.000040 and the queue read
    # `now` 10 us later, the note-off's age at 10.000051 and `now` 1 us later
    reads = iter([10.000050, 10.000052, 10.000060])

    class Clock:
        def now(self):
            return next(reads)

    q = ports.InputQueue(Clock())
    q.push([0x90, 60, 90], age=0.000040)
    q.push([0x80, 60, 0], age=0.000051)  # arrived with it
    q.push([0x90, 62, 90], age=0.0)
    stamps = [q.queue.get_nowait()[0] for _ in range(3)]
    assert stamps == sorted(stamps) and stamps[0] == stamps[1] == pytest.approx(10.00001)


@pytest.mark.jack
def test_a_jack_output_tells_which_synths_are_connected_to_it():
    """The session sends the band's programs again to a synth wired to its output after the
    start (`SessionOutput.watch_listeners`): the output must tell who is connected to it, a
    virtual one wired in a patchbay as well as the port named by --out, whose "improv out"
    is told apart from another jam's by what it is wired to."""
    import rtmidi
    from improv.bench.jackprobe import Patchbay
    from jackutil import require_jack, unique

    require_jack()
    name = unique("improv wired out")
    names = [unique("gm module"), unique("other module")]
    synths = []
    for n in names:
        synths.append(rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "gm"))
        synths[-1].open_virtual_port(n)
    sink = ports.open_output(api="jack", virtual=name)
    sinks = [sink]

    def wait_for(s, want):
        deadline = time.monotonic() + 3.0
        while s.listeners() != want and time.monotonic() < deadline:
            time.sleep(0.02)
        return s.listeners()

    try:
        with Patchbay(unique("t-patch")) as pb:
            gm, other = (pb.wait_for(n, inputs=True, timeout=5) for n in names)
            assert sink.listeners() == frozenset()
            pb.connect(pb.wait_for(name, inputs=False, timeout=5), gm)
            assert wait_for(sink, {gm}) == {gm}
            direct = [ports.open_output(api="jack", port=n) for n in names]  # (two jams' "improv out")
            sinks += direct
            assert wait_for(direct[0], {gm}) == {gm}
            assert wait_for(direct[1], {other}) == {other}
    finally:
        for s in sinks:
            s.close()
        for s in synths:
            s.delete()
    assert sink.listeners() is None  # closed: nobody to tell of


class StallingWatch:
    """A JACK watch whose server stands still (a synchronous server waiting out a dead
    client) until `resume` is set, then cycles again."""

    def __init__(self):
        self.lost = ""
        self.period_frames = 128
        self.frames = 1000
        self.resume = threading.Event()
        self.period_s = 128 / 48000

    def frame(self):
        if self.resume.is_set():
            self.frames += self.period_frames
        return self.frames


def test_an_output_finishing_on_a_stalled_server_waits_for_its_note_offs_to_leave(monkeypatch):
    """A jam stopped while a synchronous JACK server waited out a dead client (about 5 s)
    closed its port with the note-offs still queued: the key stayed down on the synth.
    `finish` now waits (bounded, said after a second) for the server to begin a cycle after
    the last note-off; a server stuck for good is given up on; with no note-off, no wait."""
    monkeypatch.setattr(midiout, "DRAIN_SAY_S", 0.05)
    watch = StallingWatch()
    said = []
    sink = ports.MidiOutSink(FakeRtOut(), "improv out", virtual=True, watch=watch, say=said.append)
    sink.send(mido.Message("note_on", note=50, velocity=80))
    threading.Timer(0.3, watch.resume.set).start()
    t0 = time.monotonic()
    sink.finish()  # (the held key's note-off, the silence messages, then the wait)
    took = time.monotonic() - t0
    assert 0.25 <= took < 3.0, took
    assert len(said) == 1 and "waiting for the JACK server to take the last note-offs" in said[0], said

    monkeypatch.setattr(midiout, "DRAIN_WAIT_S", 0.3)
    stuck = ports.MidiOutSink(FakeRtOut(), "improv out", virtual=True, watch=StallingWatch(), say=said.append)
    stuck.send(mido.Message("note_on", note=50, velocity=80))
    stuck.send(mido.Message("note_off", note=50))
    t0 = time.monotonic()
    stuck.finish()
    assert 0.25 <= time.monotonic() - t0 < 3.0  # given up on at DRAIN_WAIT_S

    quiet = ports.MidiOutSink(FakeRtOut(), "improv out", virtual=True, watch=StallingWatch(), say=said.append)
    t0 = time.monotonic()
    quiet.finish()  # nothing was played: nothing to wait for
    assert time.monotonic() - t0 < 0.2
