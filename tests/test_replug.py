"""A keyboard or synth unplugged mid-set and plugged back in, a keyboard plugged in late, and
a cable pulled with the port still there: improv/live/replug.py, `MidiOutSink.reconnect`,
and the session playing on through each (tests/test_stress.py plays them over JACK)."""

from improv.live.ports import same_device
from improv.live.replug import DeviceWatch, ReplugInput, device_name
from test_session import make, play, play_more


class Keys:
    """A device `MidiInput` as the replug sees it."""

    def __init__(self, name, held=(0, 0), failed=""):
        self.name, self.notice, self.guard, self.virtual = name, "", None, False
        self.plugged, self.failed, self.closed = True, failed, False
        self.held, self.released_last = held, (0, 0)

    def alive(self):
        return self.plugged and not self.failed

    def sensing_stopped(self):
        return ""

    def release_held(self):
        self.released_last = self.held
        n, self.held = sum(self.held), (0, 0)
        return n

    def close(self):
        self.closed = True


class Backend:
    """The ports listed and the inputs opened again."""

    def __init__(self, names=()):
        self.names, self.opened, self.refuse = list(names), [], ""

    def ports(self):
        return list(self.names)

    def reopen(self, name):
        if self.refuse:
            raise RuntimeError(self.refuse)
        self.opened.append(Keys(name))
        return self.opened[-1]


def test_device_names_leave_out_the_numbers_a_device_plugged_in_again_may_get():
    assert device_name("nanoKEY2:nanoKEY2 MIDI 1 24:0") == device_name("nanoKEY2:nanoKEY2 MIDI 1 28:0")
    assert device_name("a2j:nanoKEY2 [24] (capture): nanoKEY2 MIDI 1") == "a2j:nanoKEY2 (capture): nanoKEY2 MIDI 1"
    assert device_name("keys:out") == "keys:out"
    assert device_name("Keystation 49:Keystation 49 MIDI 1 20:0") != device_name("Keystation 61:Keystation 61 MIDI 1 20:0")


def test_an_unplugged_keyboard_is_let_go_with_its_keys_released_and_opened_again_when_it_is_back():
    keys, backend = Keys("Keys:Keys MIDI 1 24:0", held=(2, 1)), Backend()
    inp = ReplugInput(keys, backend.ports, backend.reopen)
    assert inp.reconnect() == "" and inp.alive() and not inp.gone
    keys.plugged = False
    said = inp.reconnect()
    assert "MIDI input 'Keys:Keys MIDI 1 24:0' is gone" in said and "the partner plays on" in said, said
    assert "2 keys and the sustain pedal it held released" in said, said
    assert keys.closed and keys.held == (0, 0) and inp.gone and inp.alive()
    backend.names = ["Other:Other MIDI 1 20:0"]  # another device is not taken for it
    assert inp.reconnect() == "" and backend.opened == []
    backend.names.append("Keys:Keys MIDI 1 28:0")  # back, with a new ALSA client number
    assert inp.reconnect() == "MIDI input 'Keys:Keys MIDI 1 28:0' is back: play on"
    assert [k.name for k in backend.opened] == ["Keys:Keys MIDI 1 28:0"] and inp.name == "Keys:Keys MIDI 1 28:0"
    assert not inp.gone and inp.alive()
    assert inp.reconnect() == ""  # (it is watched again)
    backend.opened[0].plugged = False  # and unplugged again, nothing held
    said = inp.reconnect()
    assert "is gone" in said and "held" not in said and backend.opened[0].closed, said


def test_a_port_back_that_will_not_open_is_tried_again_and_said_once():
    keys, backend = Keys("Keys 24:0"), Backend(["Keys 24:0"])
    inp = ReplugInput(keys, backend.ports, backend.reopen)
    keys.plugged = False
    backend.names = []
    assert "is gone" in inp.reconnect()
    backend.names, backend.refuse = ["Keys 25:0"], "device busy"
    assert inp.reconnect() == "MIDI input 'Keys 25:0' is back but could not be opened (device busy); trying again"
    assert inp.reconnect() == ""  # (the same failure is not said twice)
    backend.refuse = ""
    assert "is back: play on" in inp.reconnect() and inp.alive()


def test_a_midi_server_that_stops_still_ends_the_session():
    keys = Keys("system:midi_capture_1", failed="MIDI input 'system:midi_capture_1' is gone: the JACK server stopped")
    keys.plugged = False
    inp = ReplugInput(keys, Backend().ports, Backend().reopen)
    assert inp.reconnect() == "" and not inp.alive() and "JACK server stopped" in inp.failed

    class Lost:
        lost = "shut down"

    keys = Keys("system:midi_capture_1")
    keys.guard = type("Guard", (), {"watch": Lost()})()
    inp = ReplugInput(keys, Backend().ports, Backend().reopen)
    keys.plugged = False
    assert "is gone" in inp.reconnect() and inp.alive()  # (unplugged: waited for)...
    assert inp.reconnect() == "" and not inp.alive()  # ...until the server is seen stopped
    assert inp.failed == "MIDI input 'system:midi_capture_1' is gone: the JACK server stopped (shut down)"


def test_closing_lets_go_of_the_input_and_the_listing():
    closed = []
    keys = Keys("Keys 24:0")
    inp = ReplugInput(keys, Backend().ports, Backend().reopen, on_close=lambda: closed.append(1))
    inp.close()
    inp.close()
    assert keys.closed and closed == [1]


def test_a_keyboard_plugged_in_after_the_jam_started_is_opened_and_then_watched_as_any():
    """No keyboard as the jam started: it made a virtual input and said to connect one to it
    (`aconnect`, a patchbay: more than a musician should need). The first device input that
    appears is opened beside the virtual one, and handed to the session to be watched on its
    own: unplugged, it is waited for by name, and opened again by itself, not by the watch."""
    base, backend = Keys("improv:improv in 128:0"), Backend(["Midi Through:Midi Through Port-0 14:0"])
    base.virtual = True
    closed = []
    watch = DeviceWatch([base], backend.ports, backend.reopen, lambda n: "Keys" in n or "Pads" in n, same_device,
                        on_close=lambda: closed.append(1))
    assert watch.reconnect() == "" and watch.arrived() == [] and not watch.gone and watch.alive()
    backend.names.append("Keys:Keys MIDI 1 24:0")
    backend.refuse = "busy"
    said = watch.reconnect()
    assert said == "MIDI input 'Keys:Keys MIDI 1 24:0' is plugged in but could not be opened (busy); trying again"
    assert watch.reconnect() == "" and watch.arrived() == []  # (said once, tried again)
    backend.refuse = ""
    assert watch.reconnect() == ("MIDI input 'Keys:Keys MIDI 1 24:0' plugged in: play (the virtual input "
                                 "'improv:improv in 128:0' still listens too)")
    (keys,) = watch.arrived()
    assert isinstance(keys, ReplugInput) and keys.current is backend.opened[0] and watch.arrived() == []
    assert watch.reconnect() == "" and len(backend.opened) == 1
    backend.opened[0].plugged, backend.names = False, []
    assert "MIDI input 'Keys:Keys MIDI 1 24:0' is gone" in keys.reconnect() and keys.gone and keys.alive()
    assert watch.reconnect() == ""
    backend.names = ["Keys:Keys MIDI 1 25:0"]  # back, with a new client number: its own input opens it
    assert watch.reconnect() == "" and len(backend.opened) == 1
    assert keys.reconnect() == "MIDI input 'Keys:Keys MIDI 1 25:0' is back: play on" and not keys.gone
    watch.close()
    watch.close()
    assert backend.opened[1].closed and closed == [1] and not base.closed  # (the jam closes its own input)


def test_every_device_plugged_in_mid_set_is_opened_but_not_those_there_at_the_start():
    """Only the first device plugged in after a start with none was opened, and none beside a
    keyboard improv found: a pad controller plugged in mid-set went unheard, without a word.
    Each is opened now, but not a device's second port (its DAW-control port, the same ALSA
    client), nor one listed as the jam started (named then, with the flags that play it)."""
    first = Keys("Keys:Keys MIDI 1 24:0")
    backend = Backend(["Keys:Keys MIDI 1 24:0", "Synth:Synth MIDI 1 20:0"])
    watch = DeviceWatch([first], backend.ports, backend.reopen, lambda n: "Midi Through" not in n, same_device)
    backend.names += ["Pads:Pads MIDI 1 28:0", "Pads:Pads MIDI 2 28:1", "Keys2:Keys2 MIDI 1 32:0"]
    said = watch.reconnect()
    assert said == ("MIDI input 'Pads:Pads MIDI 1 28:0' plugged in: play; "
                    "MIDI input 'Keys2:Keys2 MIDI 1 32:0' plugged in: play"), said
    assert [k.name for k in backend.opened] == ["Pads:Pads MIDI 1 28:0", "Keys2:Keys2 MIDI 1 32:0"]
    assert [d.name for d in watch.arrived()] == ["Pads:Pads MIDI 1 28:0", "Keys2:Keys2 MIDI 1 32:0"]
    backend.names.remove("Synth:Synth MIDI 1 20:0")  # (there as the jam started, unplugged, plugged in again)
    assert watch.reconnect() == ""
    backend.names.append("Synth:Synth MIDI 1 20:0")
    assert watch.reconnect() == "MIDI input 'Synth:Synth MIDI 1 20:0' plugged in: play"
    first.plugged = False  # the jam's own keyboard, unplugged and back: its own input opens it again
    backend.names.remove("Keys:Keys MIDI 1 24:0")
    assert watch.reconnect() == ""
    backend.names.append("Keys:Keys MIDI 1 36:0")
    assert watch.reconnect() == "" and len(backend.opened) == 3
    watch.close()
    assert all(k.closed for k in backend.opened) and not first.closed


def test_a_device_plugged_in_mid_set_is_watched_by_the_session_on_its_own():
    """The session watches what the watch opened: unplugged, it is said and counted under
    its own name (not the virtual input's, as when one object stood for both)."""
    s, clock, inq, sink, rec = make()
    base, backend = Keys("improv:improv in 128:0"), Backend()
    base.virtual = True
    watch = DeviceWatch([base], backend.ports, backend.reopen, lambda n: "Pads" in n, same_device)
    s.watched += [base, watch]
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, [], until=1.0)
    backend.names = ["Pads:Pads MIDI 1 28:0"]
    play_more(s, clock, inq, [], start=1.01, until=2.0)
    assert any("MIDI input 'Pads:Pads MIDI 1 28:0' plugged in: play" in line for line in said), said
    backend.opened[0].plugged, backend.names = False, []
    play_more(s, clock, inq, [], start=2.01, until=3.0)
    assert not s.stop_reason, s.stop_reason
    assert "'Pads:Pads MIDI 1 28:0' unplugged 1 time" in s.summary(), s.summary()
    s.close()
    watch.close()


def test_the_session_plays_on_through_an_unplugged_keyboard_and_hears_it_when_it_is_back():
    """An unplugged keyboard ended the session ("port gone"): the set stopped for a loose
    cable. The session goes on, says so, and takes the keyboard back when it returns."""
    s, clock, inq, sink, rec = make()
    keys, backend = Keys("Keys:Keys MIDI 1 24:0", held=(1, 0)), Backend()
    inp = ReplugInput(keys, backend.ports, backend.reopen)
    s.watched.append(inp)
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, [], until=1.0)
    keys.plugged = False
    play_more(s, clock, inq, [], start=1.01, until=2.0)
    backend.names = ["Keys:Keys MIDI 1 25:0"]
    play_more(s, clock, inq, [], start=2.01, until=3.0)
    assert not s.stop_reason, s.stop_reason
    gone = [line for line in said if "is gone" in line]
    back = [line for line in said if "is back: play on" in line]
    assert len(gone) == 1 and "(1 key it held released)" in gone[0] and len(back) == 1, said
    assert gone[0] in s.errors  # (on the stage view's recent problems too)
    assert inp.current is backend.opened[0] and not inp.gone
    keys2 = inp.current
    keys2.plugged = False  # unplugged again: the session's last line counts both (a loose cable, over a set)
    play_more(s, clock, inq, [], start=3.01, until=4.0)
    assert "'Keys:Keys MIDI 1 24:0' unplugged 1 time; 'Keys:Keys MIDI 1 25:0' unplugged 1 time" in s.summary(), \
        s.summary()
    s.close()


class RtOut:
    """rtmidi's MidiOut as the output's replug uses it: the ports listed, opened, sent to."""

    def __init__(self, names):
        self.names, self.sent, self.opened, self.refuse = list(names), [], [], ""

    def get_ports(self):
        return list(self.names)

    def send_message(self, data):
        self.sent.append(list(data))

    def close_port(self):
        pass

    def open_port(self, i, name):
        if self.refuse:
            raise RuntimeError(self.refuse)
        self.opened.append((self.names[i], name))


def test_an_unplugged_synth_is_waited_for_and_silenced_when_it_is_back():
    """A device output that disappeared (`--out` a synth, or the player's own keyboard on one
    USB cable with its input) ended the session. Now nothing is sent while it is gone, and
    when it is back every channel is silenced before the session plays on there."""
    import mido

    from improv.live.midiout import MidiOutSink, silence_messages

    raw = RtOut(["Synth:Synth MIDI 1 20:0"])
    sink = MidiOutSink(raw, "Synth:Synth MIDI 1 20:0", virtual=False)
    sink.send(mido.Message("note_on", channel=1, note=64, velocity=90))
    assert sink.reconnect() == "" and sink.alive()
    raw.names = ["Other:Other MIDI 1 24:0"]
    said = sink.reconnect()
    assert "MIDI output 'Synth:Synth MIDI 1 20:0' is gone" in said and sink.gone and sink.alive(), said
    assert sink.sounding == set()
    n = len(raw.sent)
    sink.send(mido.Message("note_on", channel=1, note=65, velocity=90))
    assert len(raw.sent) == n and sink.reconnect() == "" and raw.opened == []  # (nothing sent; no other synth taken)
    raw.names.append("Synth:Synth MIDI 1 28:0")
    raw.refuse = "busy"
    assert sink.reconnect() == "MIDI output 'Synth:Synth MIDI 1 28:0' is back but could not be opened (busy); trying again"
    assert sink.reconnect() == "" and sink.gone  # (said once)
    raw.refuse = ""
    assert sink.reconnect() == "MIDI output 'Synth:Synth MIDI 1 28:0' is back: every channel silenced, play on"
    assert raw.opened == [("Synth:Synth MIDI 1 28:0", "improv out")] and not sink.gone
    assert raw.sent[n:] == [m for ch in range(16) for m in silence_messages(ch)]
    sink.send(mido.Message("note_on", channel=1, note=66, velocity=90))
    assert raw.sent[-1] == [0x91, 66, 90] and sink.sounding == {(1, 66)}
    virtual = MidiOutSink(RtOut([]), "improv out", virtual=True)
    assert virtual.reconnect() == "" and virtual.alive()  # (a virtual port goes only with the server)


def test_the_session_plays_on_through_an_unplugged_output():
    from improv.live.midiout import MidiOutSink

    s, clock, inq, sink, rec = make()
    raw = RtOut(["Synth 20:0"])
    out = MidiOutSink(raw, "Synth 20:0", virtual=False)
    s.sinks.append(out)
    s.watched.append(out)
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, [], until=1.0)
    raw.names = []
    play_more(s, clock, inq, [], start=1.01, until=2.0)
    raw.names = ["Synth 21:0"]
    play_more(s, clock, inq, [], start=2.01, until=3.0)
    assert not s.stop_reason, s.stop_reason
    assert [line.split("  ", 1)[1][:30] for line in said if "MIDI output" in line] == [
        "MIDI output 'Synth 20:0' is go", "MIDI output 'Synth 21:0' is ba"], said
    s.close()


def test_the_watch_round_says_an_input_whose_active_sensing_stopped():
    """(`MidiInput.sensing_stopped`, tests/test_ports.py: a cable out, the port still there.)"""
    s, clock, inq, sink, rec = make()
    lines = ["MIDI input 'Keys 24:0' stopped its active sensing (a cable out?): 1 key it held released"]

    class Cut(Keys):
        def sensing_stopped(self):
            return lines.pop() if lines else ""

    keys = Cut("Keys 24:0")
    s.watched.append(ReplugInput(keys, Backend(["Keys 24:0"]).ports, Backend().reopen))
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, [], until=1.5)
    cut = [line for line in said if "active sensing" in line]
    assert len(cut) == 1 and cut[0] in s.errors and not s.stop_reason, said
    assert "'Keys 24:0' went silent 1 time (its active sensing stopped: a cable out?)" in s.summary(), s.summary()
    s.close()
