"""Several MIDI inputs at once (improv/live/playerinputs.py): `--in` given for each, or
`[midi] input` as a list; what is opened, what is refused, what is said. Over JACK, a
keyboard and a pad controller played together is tests/test_e2e_inputs.py's."""

from __future__ import annotations

import pytest

from improv.cli import build_parser
from improv.commands.jam import jam_settings
from improv.config import load_config
from improv.errors import ConfigError, PortError
from improv.live import ports
from improv.live.playerinputs import listening_line, open_player_inputs, watch_for_devices


class FakeInput:
    def __init__(self, name, virtual=False):
        self.name, self.virtual, self.notice, self.closed = name, virtual, "", False

    def close(self):
        self.closed = True


class Wrapped:
    """`replugging`'s input, as the jam gets it."""

    def __init__(self, kind, mi):
        self.kind, self.mi, self.name, self.virtual = kind, mi, mi.name, mi.virtual

    def close(self):
        self.mi.close()


class Opened:
    """`ports.open_input` as the jam calls it, on a system with these devices."""

    def __init__(self, monkeypatch, devices):
        self.devices, self.calls, self.made = devices, [], []
        monkeypatch.setattr(ports, "open_input", self)
        import improv.live.replug as replug

        monkeypatch.setattr(replug, "replugging", lambda mi, inq, api: Wrapped("replug", mi))
        monkeypatch.setattr(replug, "watching_for_devices", lambda inputs, inq, api: ("watch", inputs))

    def __call__(self, inq, api, port="", virtual="", default_virtual="improv in", later=False, several=False):
        self.calls.append((port, virtual, later, several))
        if port:
            found = [d for d in self.devices if port.lower() in d.lower()]
            if not found:
                raise PortError(f"MIDI input {port!r} not found")
            mi = FakeInput(found[0])
        elif self.devices and not virtual:
            mi = FakeInput(self.devices[0])
        else:
            mi = FakeInput(virtual or default_virtual, virtual=True)
        self.made.append(mi)
        return mi


def test_each_input_named_is_opened_in_order_and_watched_for_unplugging(monkeypatch):
    opened = Opened(monkeypatch, ["Keystation:Keystation MIDI 1 24:0", "MPD218:MPD218 MIDI 1 28:0"])
    got = open_player_inputs(None, "alsa", ("keystation", "mpd"))
    assert [(w.kind, w.mi) for w in got] == [("replug", opened.made[0]), ("replug", opened.made[1])]
    assert [c[0] for c in opened.calls] == ["keystation", "mpd"]


def test_no_input_named_opens_the_first_device_or_waits_for_one_on_a_virtual_input(monkeypatch):
    Opened(monkeypatch, ["Keystation:Keystation MIDI 1 24:0"])
    (w,) = open_player_inputs(None, "alsa", ())
    assert w.kind == "replug" and w.name.startswith("Keystation")
    assert watch_for_devices([w], None, "alsa", ()) == ("watch", [w])  # (and one plugged in later, beside it)
    Opened(monkeypatch, [])
    (mi,) = open_player_inputs(None, "alsa", ())
    assert mi.virtual and mi.name == "improv in"
    assert watch_for_devices([mi], None, "alsa", ()) == ("watch", [mi])  # (the keyboard plugged in late)
    (mi,) = open_player_inputs(None, "alsa", (), virtual="my in")  # (asked for: no device is taken unasked)
    assert mi.virtual and mi.name == "my in"
    assert watch_for_devices([mi], None, "alsa", (), virtual="my in") is None  # (nor later)
    assert watch_for_devices([w], None, "alsa", ("keystation",)) is None  # (--in chose: nothing else is opened)


def test_two_names_for_one_port_are_refused_and_nothing_stays_open(monkeypatch):
    opened = Opened(monkeypatch, ["Keystation:Keystation MIDI 1 24:0", "MPD218:MPD218 MIDI 1 28:0"])
    with pytest.raises(ConfigError) as e:
        open_player_inputs(None, "alsa", ("keystation", "MIDI 1 24"))
    assert str(e.value).startswith("the inputs 'keystation' and 'MIDI 1 24' (--in, or [midi] input) both open the "
                                   "MIDI input 'Keystation:Keystation MIDI 1 24:0'"), str(e.value)
    assert all(mi.closed for mi in opened.made)


def test_an_input_that_is_not_there_closes_those_opened_before_it(monkeypatch):
    opened = Opened(monkeypatch, ["Keystation:Keystation MIDI 1 24:0"])
    with pytest.raises(PortError, match="'pads' not found"):
        open_player_inputs(None, "alsa", ("keystation", "pads"))
    assert opened.made[0].closed


def test_the_listening_line_names_every_input():
    keys, pads, virt = FakeInput("Keys"), FakeInput("Pads"), FakeInput("improv in", virtual=True)
    assert listening_line([keys]) == "listening on MIDI input 'Keys'"
    assert listening_line([virt]) == "listening on virtual MIDI input 'improv in'"
    assert listening_line([keys, pads]) == "listening on MIDI inputs 'Keys' and 'Pads'"
    assert listening_line([keys, pads, FakeInput("Launchpad")]) == ("listening on MIDI inputs 'Keys', 'Pads' and "
                                                                    "'Launchpad'")


def test_the_first_device_taken_names_the_others_and_how_to_play_them_too():
    line = ports.also_here("Keystation:Keystation MIDI 1 24:0", ["MPD218:MPD218 MIDI 1 28:0"], several=True)
    assert line == ("MIDI: playing from 'Keystation:Keystation MIDI 1 24:0', the first input found; also here, not "
                    "opened: 'MPD218:MPD218 MIDI 1 28:0' (to play them too: --in 'Keystation MIDI 1' "
                    "--in 'MPD218 MIDI 1', or [midi] input = [...] in a --config file)")
    assert ports.also_here("A", ["B"], several=False).endswith("(--in PORT picks another)")


def test_in_given_twice_asks_for_both_and_once_for_one():
    p = build_parser("jam")
    assert jam_settings(p.parse_args(["jam", "--in", "Keys", "--in", "Pads"])).midi.inputs == ("Keys", "Pads")
    cfg = jam_settings(p.parse_args(["jam", "--in", "Keys"]))
    assert cfg.midi.input == "Keys" and cfg.midi.inputs == ("Keys",)
    assert jam_settings(p.parse_args(["jam"])).midi.inputs == ()


def test_a_config_file_names_several_inputs_as_a_list(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[midi]\ninput = ["Keystation", " ", "MPD218"]\n')
    assert load_config(f).midi.inputs == ("Keystation", "MPD218")
    f.write_text("[midi]\ninput = [1]\n")
    with pytest.raises(ConfigError, match=r"midi.input: expected text in quotes or a list of them, found \[1\]"):
        load_config(f)
    f.write_text(f'[midi]\ninput = ["Keys", "{"x" * 101}"]\n')
    with pytest.raises(ConfigError, match="at most 100 characters, found 101"):
        load_config(f)


def test_the_jam_taking_the_first_device_says_which_others_are_there(monkeypatch):
    """Two devices plugged in (a keyboard, and a pad controller the system listed first) and
    no --in: the first found was opened and the other said nothing, so a musician played keys
    that nobody heard. The line names both and the flags that play them together."""
    import rtmidi

    from improv.live.midiapi import MidiSystem

    class RtIn:
        def __init__(self):
            self.opened = None

        def get_ports(self):
            return ["Midi Through:Midi Through Port-0 14:0", "MPD218:MPD218 MIDI 1 28:0",
                    "Keystation 49:Keystation MIDI 1 24:0"]

        def open_port(self, i, name):
            self.opened = (i, name)

        def get_current_api(self):
            return rtmidi.API_LINUX_ALSA

        def ignore_types(self, **kw):
            pass

        def set_callback(self, cb):
            pass

        def cancel_callback(self):
            pass

        def close_port(self):
            pass

        def delete(self):
            pass

    class Lister(RtIn):
        def get_ports(self):
            return []

    raw = RtIn()
    monkeypatch.setattr(ports, "open_client", lambda kind, api: (raw, MidiSystem("alsa")))
    monkeypatch.setattr(ports, "_open_client", lambda kind, api: Lister())
    said = []
    mi = ports.open_input(None, "alsa", say=said.append, several=True)
    try:
        assert mi.name == "MPD218:MPD218 MIDI 1 28:0" and raw.opened[0] == 1
        assert said == ["MIDI: playing from 'MPD218:MPD218 MIDI 1 28:0', the first input found; also here, not opened: "
                        "'Keystation 49:Keystation MIDI 1 24:0' (to play them too: --in 'MPD218 MIDI 1' --in "
                        "'Keystation MIDI 1', or [midi] input = [...] in a --config file)"], said
        said.clear()
        ports.open_input(None, "alsa", port="keystation", say=said.append, several=True).close()
        assert said == []  # (asked for by name: nothing to say)
    finally:
        mi.close()


@pytest.mark.parametrize("a, b, same", [
    ("KeyLab mkII 61:KeyLab mkII 61 MIDI 24:0", "KeyLab mkII 61:KeyLab mkII 61 DAW 24:1", True),  # (its DAW port)
    ("KeyLab mkII 61:KeyLab mkII 61 MIDI 24:0", "MPD218:MPD218 MIDI 1 28:0", False),
    ("a2j:KeyLab [24] (capture): KeyLab MIDI", "a2j:KeyLab [24] (capture): KeyLab DAW", True),
    ("a2j:KeyLab [24] (capture): KeyLab MIDI", "a2j:MPD218 [28] (capture): MPD218 MIDI 1", False),
    ("system:midi_capture_1", "system:midi_capture_2", False),
    ("KeyLab mkII 61 MIDI", "KeyLab mkII 61 DAW", True),  # (CoreMIDI: the device's name, then the port's)
    ("Launchkey MK3 49 LKMK3 MIDI Out", "Launchkey MK3 49 LKMK3 DAW Out", True),
    ("nanoKEY2 MIDI 1", "nanoKEY2 MIDI 2", True),
    ("Keystation 49 MK3 0", "MIDIIN2 (Keystation 49 MK3) 1", True),  # (WinMM, with rtmidi's index)
    ("MIDIIN2 (Keystation 49 MK3) 1", "Keystation 49 MK3 0", True),
    ("Keystation 49 MK3 0", "MPD218 1", False),
    ("Keystation 49", "Keystation 61", False),
    ("KeyLab mkII 61 MIDI", "KeyLab mkII 49 MIDI", False),
    ("MIDIIN2 (Keystation 49 MK3) 1", "MIDIIN3 (MPD218) 2", False),
    ("KeyLab mkII 61:KeyLab mkII 61 MIDI 24:0", "KeyLab mkII 61 DAW", False),  # (a client number on one side only)
    ("MIDI In", "MIDI Out 2", False),  # (no device's name to go by)
])
def test_a_devices_second_port_is_not_named_as_another_device(a, b, same):
    assert ports.same_device(a, b) is same
