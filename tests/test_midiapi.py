"""Choosing the MIDI backend (improv/live/midiapi.py): the one in use is named, a fallback
to another backend or to a virtual input is said once in one line, and no backend at all is
one line naming each missing system. A fake rtmidi module stands in for the real one."""

import pytest

from improv.errors import PortError
from improv.live import midiapi, ports
from improv.live.clock import ManualClock

from test_ports import FakeRtIn, FakeRtOut


class FakeRtmidi:
    """Stands in for the rtmidi module: ALSA (2) and JACK (3) compiled in; the APIs in
    `failing` raise RtMidiError when a client is opened on them, as rtmidi does when the
    ALSA sequencer or the JACK server is missing."""

    API_UNSPECIFIED, API_MACOSX_CORE, API_LINUX_ALSA, API_UNIX_JACK, API_WINDOWS_MM = 0, 1, 2, 3, 4

    class RtMidiError(Exception):
        pass

    def __init__(self, failing=(), names=()):
        self.failing = set(failing)
        self.names = list(names)
        self.opened = []
        fake = self

        class Client(FakeRtIn, FakeRtOut):
            def __init__(self, api, name):
                if api in fake.failing:
                    raise fake.RtMidiError(f"api {api} failed")
                FakeRtIn.__init__(self, fake.names)
                FakeRtOut.__init__(self, fake.names)
                fake.opened.append(api)
                self.api = api

            def open_virtual_port(self, name):
                self.virtual = name

            def open_port(self, i, name):
                self.port = i

            def get_current_api(self):
                return 0  # (not JACK: the input guard and the server watch stay out of these tests)

        self.MidiIn = self.MidiOut = Client

    @staticmethod
    def get_compiled_api():
        return [2, 3]


@pytest.fixture
def fake_rtmidi(monkeypatch, tmp_path):
    import sys

    def install(failing=(), names=()):
        fake = FakeRtmidi(failing, names)
        monkeypatch.setitem(sys.modules, "rtmidi", fake)
        monkeypatch.setattr(midiapi, "_said", set())
        monkeypatch.setattr(midiapi, "ALSA_SEQ", str(tmp_path / "snd" / "seq"))  # missing
        monkeypatch.delenv(ports.ENV_API, raising=False)
        monkeypatch.setenv("JACK_DEFAULT_SERVER", "stage")
        return fake

    return install


def test_the_fallback_to_jack_and_to_a_virtual_input_are_each_said_once(fake_rtmidi, tmp_path):
    fake = fake_rtmidi(failing={2})
    said = []
    mi = ports.open_input(ports.InputQueue(ManualClock()), say=said.append)
    assert mi.virtual and mi.name == "improv in" and set(fake.opened) == {3}  # (the input, and the client that lists ports: on JACK only)
    seq = tmp_path / "snd" / "seq"
    assert said == [f"MIDI: using JACK, since no ALSA sequencer: {seq} is missing (load the snd-seq kernel module)",
                    "MIDI: no hardware input on JACK: play into the virtual input 'improv in' "
                    "(connect your keyboard to it, or give --in PORT)"]
    ports.open_output(virtual="improv out", say=said.append)
    assert len(said) == 2  # the same fallback is not said again
    ports.open_input(ports.InputQueue(ManualClock()), virtual="keys", say=said.append)
    assert len(said) == 2  # a virtual input asked for is no fallback


def test_the_platform_backend_is_named_and_nothing_is_said(fake_rtmidi):
    fake_rtmidi(names=["Keys 24:0"])
    said = []
    mi = ports.open_input(ports.InputQueue(ManualClock()), say=said.append)
    assert said == [] and mi.name == "Keys 24:0" and not mi.virtual
    client, system = ports.open_client("out", "")
    assert system.describe() == "ALSA (the platform default)"
    assert ports.open_client("out", "jack")[1].describe() == "JACK (asked for)"


def test_no_backend_is_one_line_naming_each_missing_system(fake_rtmidi):
    fake_rtmidi(failing={2, 3})
    with pytest.raises(PortError) as e:
        ports.open_input(ports.InputQueue(ManualClock()), say=print)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("no MIDI system to open an input on: no ALSA sequencer: ")
    assert msg.endswith("no JACK server 'stage' running (start one: jackd, QjackCtl or pipewire-jack)")
    with pytest.raises(PortError, match="^cannot open a MIDI output on JACK: no JACK server 'stage' running"):
        ports.open_output("jack", virtual="x")
    listing = ports.list_ports("")
    assert listing["system"] == "none" and listing["inputs"] == []
    assert listing["problems"][:2] == [
        f"no ALSA sequencer: {midiapi.ALSA_SEQ} is missing (load the snd-seq kernel module)",
        "no JACK server 'stage' running (start one: jackd, QjackCtl or pipewire-jack)"]


def test_list_ports_names_the_fallback(fake_rtmidi):
    fake_rtmidi(failing={2}, names=["system:midi_capture_1"])
    listing = ports.list_ports("")
    assert listing["api"] == "jack" and listing["system"].startswith("JACK, since no ALSA sequencer")
    assert listing["inputs"] == ["system:midi_capture_1"]
    midi_problems = [p for p in listing["problems"] if not p.startswith("no audio output")]  # (audio is not faked)
    assert not any("ALSA" in p for p in midi_problems), midi_problems  # said once, in "system"


def test_jack_arrivals_place_a_burst_back_from_its_read_in_order_and_never_after_it():
    """rtmidi's gaps leave out what it skipped (active sensing, sysex chunks): they are lower
    bounds, summed within a burst only, so a lost gap can never push later messages back."""
    from improv.live.midiapi import JackArrivals

    arr = JackArrivals()
    assert arr.place([0.0], 100.0) == [100.0]  # read on its own: its read time
    # an active sensing every 0.3 s was skipped between these: their gaps are short
    assert arr.place([0.001], 101.0) == [101.0]
    assert arr.place([0.001], 102.0) == [102.0]  # not 100.002: never drifts into the past
    burst = arr.place([5.0, 0.1, 0.2], 103.0)  # read at once after a hold
    assert burst == pytest.approx([102.7, 102.8, 103.0])
    # a gap longer than the time since the previous message: not placed before it
    assert arr.place([9.0, 0.5], 103.2) == pytest.approx([103.0, 103.2])


def test_jack_arrivals_keep_jacks_timing_when_the_reader_reads_late():
    """MIDI clock at 120 bpm (20.8 ms a tick) read by a reader held up 0-15 ms at random:
    placed within the bounds of its looks, each tick keeps JACK's time (to within the
    promptest look's 0.1 ms), not its read's."""
    import random

    from improv.live.midiapi import JackArrivals

    rng, tick = random.Random(3), 60 / 120 / 24
    true = [10.0 + k * tick for k in range(200)]
    # held up 0-15 ms, a prompt look now and then
    reads = [t + (0.0001 if k % 10 == 0 else rng.uniform(0, 0.015)) for k, t in enumerate(true)]
    bounded, unbounded = JackArrivals(), JackArrivals()
    placed, at_read, looked = [], [], 9.99
    for k, read in enumerate(reads):
        gap = [tick if k else 0.0]
        placed += bounded.place(gap, read, after=looked)
        at_read += unbounded.place(gap, read)  # no look known: each at its read
        looked = read  # it found nothing more at once
    errors = [p - t for p, t in zip(placed, true)]
    assert max(errors) < 0.00011 and min(errors) > -1e-9  # as late as the promptest look, no later
    assert max(a - t for a, t in zip(at_read, true)) > 0.01


def test_jack_arrivals_a_chain_missing_gaps_is_held_by_the_last_empty_look():
    """Gaps rtmidi left out (active sensing ignored) make the chain run early: it is never
    placed before the reader's last look that found nothing."""
    from improv.live.midiapi import JackArrivals

    arr = JackArrivals()
    assert arr.place([0.0], 100.0, after=99.9999) == [100.0]
    # 0.3 s later, its gap counted only from an ignored active sensing 0.001 s before it
    assert arr.place([0.001], 100.3002, after=100.3) == pytest.approx([100.3])
    # one look held up 5 ms: a message with its whole gap keeps it
    assert arr.place([0.02], 100.325, after=100.31) == pytest.approx([100.32])


def test_with_no_hardware_input_the_software_inputs_there_are_named(fake_rtmidi):
    """A software keyboard or a DAW's output is not taken unasked, but `improv learn` and the jam
    waited on 'improv in' with nothing connected while one was there: the line names it."""
    fake_rtmidi(failing={2}, names=["Midi Through:Midi Through Port-0", "FakeKnobs:midi_out"])  # (Through: never)
    said = []
    mi = ports.open_input(ports.InputQueue(ManualClock()), say=said.append)
    assert mi.virtual and said[-1] == ("MIDI: no hardware input on JACK: play into the virtual input 'improv in' "
                                       "(connect your keyboard to it, or give --in PORT; inputs here: "
                                       "'FakeKnobs:midi_out')")


class WindowsRtmidi(FakeRtmidi):
    """python-rtmidi as built for Windows: Windows MM alone, which refuses virtual ports
    (rtmidi raises NotImplementedError for them there)."""

    def __init__(self, names=()):
        super().__init__(names=names)

        class Client(self.MidiIn):
            def open_virtual_port(self, name):
                raise NotImplementedError("Virtual ports are not supported by the Windows MultiMedia API.")

        self.MidiIn = self.MidiOut = Client

    @staticmethod
    def get_compiled_api():
        return [FakeRtmidi.API_WINDOWS_MM]


def test_on_windows_mm_a_virtual_port_is_refused_saying_what_to_do(fake_rtmidi, monkeypatch):
    """Windows MM makes no virtual ports: `improv jam` with no keyboard connected (the README's
    'else a virtual "improv in"'), --virtual-in, --virtual-out and --clock external without
    --clock-in ended in rtmidi's own words ('cannot open MIDI input 'improv in' on Windows MM:
    Virtual ports are not supported by the Windows MultiMedia API.'), with no way out; each
    now says what to connect or make, and the flag that takes it."""
    import sys

    from improv.live.midisync import open_clock_input

    fake_rtmidi()
    monkeypatch.setitem(sys.modules, "rtmidi", WindowsRtmidi())
    with pytest.raises(PortError) as e:
        ports.open_input(ports.InputQueue(ManualClock()), say=lambda s: None)
    assert str(e.value).startswith("no MIDI input on Windows MM, and it cannot make a virtual one ('improv in') to "
                                   "play into: connect your keyboard, or make a port with loopMIDI")
    assert "--in PORT" in str(e.value)
    with pytest.raises(PortError, match=r"^--virtual-in 'keys': Windows MM cannot make virtual MIDI ports; make a port "
                                        r"with loopMIDI .* and give --in PORT"):
        ports.open_input(ports.InputQueue(ManualClock()), virtual="keys", say=lambda s: None)
    with pytest.raises(PortError, match=r"^--virtual-out 'partner': Windows MM cannot make virtual MIDI ports; .* "
                                        r"give --out PORT"):
        ports.open_output(virtual="partner")
    with pytest.raises(PortError, match=r"^--clock external without --clock-in .* give --clock-in PORT"):
        open_clock_input(ManualClock())
    monkeypatch.setitem(sys.modules, "rtmidi", WindowsRtmidi(names=["USB Keys 1"]))
    mi = ports.open_input(ports.InputQueue(ManualClock()), say=lambda s: None)
    assert mi.name == "USB Keys 1" and not mi.virtual  # (a keyboard there is taken, as on every backend)
