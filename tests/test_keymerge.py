"""Several devices on one key (improv/live/keymerge.py): a key sounds while any device holds
it, a key struck by a second device is struck again with its note-off first, and one device
alone goes through untouched. Each test drives the real `InputQueue` (what the passthrough
sends and what the conductor takes) or a real `MidiInput` with a fake rtmidi port."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from improv.core.listen.segment import ALL_OFF_CCS
from improv.live.clock import ManualClock
from improv.live.inputqueue import InputQueue
from improv.live.ports import MidiInput
from test_ports import FakeRtIn

ON, OFF = 0x90, 0x80


def queue_with_thru():
    clock = ManualClock(0.0)
    q = InputQueue(clock)
    sent: list[list[int]] = []
    q.start_thru(lambda data, t: sent.append(list(data)))
    return q, clock, sent


def taken(q: InputQueue) -> list[list[int]]:
    out: list[list[int]] = []
    q.drain(lambda t, data: out.append(list(data)))
    return out


def sounding_after(sent: list[list[int]]) -> dict[tuple[bool, int], int]:
    """Each key's voices on a synth that stacks them: note-ons less note-offs (never below 0);
    an all-notes-off silences every key on its channel's side (drums or not)."""
    on: dict[tuple[bool, int], int] = {}
    for d in sent:
        drums = d[0] & 0x0F == 9
        if d[0] & 0xF0 == 0xB0:
            if d[1] in ALL_OFF_CCS:
                on = {k: (0 if k[0] == drums else v) for k, v in on.items()}
            continue
        k = (drums, d[1])
        on[k] = max(0, on.get(k, 0) + (1 if d[0] & 0xF0 == ON else -1))
    return on


def pedal_after(sent: list[list[int]], drums: bool = False) -> int:
    """The synth's sustain pedal: the last value sent (a reset lifts it)."""
    value = 0
    for d in sent:
        if d[0] & 0xF0 == 0xB0 and (d[0] & 0x0F == 9) == drums and d[1] in (64, 121):
            value = d[2] if d[1] == 64 else 0
    return value


def test_a_key_held_on_a_second_device_sounds_until_its_own_release():
    """Before the merge, the keyboard's release ended middle C on the synth and in the call
    while the second keyboard still held it."""
    q, clock, sent = queue_with_thru()
    q.push([ON, 60, 90], source="Keys")
    clock.set(0.5)
    q.push([ON, 60, 70], source="Keys 2")  # struck again: its note-off first, then its note-on
    clock.set(1.0)
    q.push([OFF, 60, 0], source="Keys")  # the other still holds it: held back
    assert sent == [[ON, 60, 90], [OFF, 60, 0], [ON, 60, 70]]
    clock.set(2.0)
    q.push([OFF, 60, 0], source="Keys 2")  # the last release ends it
    assert sent[-1] == [OFF, 60, 0] and len(sent) == 4 and not any(sounding_after(sent).values())
    assert taken(q) == sent  # the call and the recording hear what the synth does
    assert q.merge.merged == 2 and q.merge.holders == {}


def test_one_device_alone_goes_through_untouched():
    """A key struck twice without a release (a layered keyboard's two channels, a pad's note
    repeat) and a stray release go on as they came, when only one device plays."""
    q, _, sent = queue_with_thru()
    played = [[ON, 60, 90], [ON | 1, 60, 90], [OFF, 60, 0], [OFF | 1, 60, 0], [OFF, 62, 0], [0xB0, 64, 127]]
    for d in played:
        q.push(d, source="Keys")
    assert sent == played and q.merge.merged == 0


def test_two_devices_striking_a_key_together_make_one_note():
    """Struck within LAYERED_S of each other (two players on the downbeat), the key is struck
    once and let go at the last release, whichever device lets go first."""
    q, clock, sent = queue_with_thru()
    q.push([ON, 64, 90], source="Keys")
    clock.set(0.01)
    q.push([ON, 64, 80], source="Pads")
    clock.set(0.5)
    q.push([OFF, 64, 0], source="Pads")
    clock.set(0.8)
    q.push([OFF, 64, 0], source="Keys")
    assert sent == [[ON, 64, 90], [OFF, 64, 0]]


def test_channels_collide_but_the_drum_channel_is_apart():
    """Every device is moved to the player's channel, so a second device on channel 2 holding
    the key is the same key; a pad on channel 10 with that pitch is a drum, not the key."""
    q, clock, sent = queue_with_thru()
    q.push([ON, 60, 90], source="Keys")
    q.push([ON | 9, 60, 90], source="Pads")  # a drum: apart
    clock.set(0.3)
    q.push([ON | 1, 60, 90], source="Keys 2")  # channel 2: the same key
    clock.set(0.6)
    q.push([OFF, 60, 0], source="Keys")
    q.push([OFF | 9, 60, 0], source="Pads")
    assert sent == [[ON, 60, 90], [ON | 9, 60, 90], [OFF | 1, 60, 0], [ON | 1, 60, 90], [OFF | 9, 60, 0]]


def test_a_stray_release_never_cuts_another_devices_note():
    """A release of a key the device never struck is held back while another holds that key,
    and let through when nobody does (a key pressed before the jam, let go in it)."""
    q, _, sent = queue_with_thru()
    q.push([ON, 60, 90], source="Keys")
    q.push([OFF, 60, 0], source="Keys 2")
    q.push([OFF, 67, 0], source="Keys 2")
    assert sent == [[ON, 60, 90], [OFF, 67, 0]]


def test_all_notes_off_lets_go_what_its_device_held():
    """After one device's all-notes-off, the key both held is the other's alone: struck
    again and let go on it, it ends (kept as the first device's, its release was held back
    and the note hung)."""
    q, clock, sent = queue_with_thru()
    q.push([ON, 60, 90], source="Keys")
    clock.set(0.5)
    q.push([ON, 60, 90], source="Keys 2")
    q.push([0xB0, 123, 0], source="Keys")
    q.push([OFF, 60, 0], source="Keys 2")
    clock.set(1.0)
    q.push([ON, 60, 90], source="Keys 2")
    q.push([OFF, 60, 0], source="Keys 2")
    assert sent[-3:] == [[OFF, 60, 0], [ON, 60, 90], [OFF, 60, 0]] and q.merge.holders == {}


@pytest.mark.parametrize("cc", ALL_OFF_CCS)
def test_one_devices_panic_does_not_cut_anothers_notes(cc):
    """A DAW stopping (or a panic button) on one device while the keyboard holds a chord: the
    device's own keys end, one note-off each, and the keyboard's chord sounds on (before, the
    all-notes-off went out as sent and cut it). With nobody else playing it goes out as sent."""
    q, clock, sent = queue_with_thru()
    for pitch in (60, 64, 67):
        q.push([ON, pitch, 90], source="Keys")
    q.push([ON, 48, 90], source="DAW")
    q.push([ON | 9, 36, 90], source="DAW")  # (a drum: the other side of the channels)
    clock.set(0.5)
    before = len(sent)
    q.push([0xB0, cc, 0], source="DAW")
    assert sent[before:] == [[OFF, 48, 0]]
    voices = sounding_after(sent)
    assert sorted(p for (_, p), n in voices.items() if n) == [36, 60, 64, 67]
    q.push([0xB0 | 9, cc, 0], source="DAW")  # nobody else plays a drum: as sent
    assert sent[-1] == [0xB0 | 9, cc, 0]
    assert taken(q) == sent  # the call hears the chord held on, too
    for pitch in (60, 64, 67):
        q.push([OFF, pitch, 0], source="Keys")
    q.push([0xB0, cc, 0], source="Keys")  # alone now: as sent
    assert sent[-1] == [0xB0, cc, 0] and q.merge.holders == {}


def test_one_devices_pedal_let_up_does_not_lift_anothers():
    """The keyboard's pedal is down; the second keyboard lets its pedal up (or, plugged in
    mid-set, sends its pedal's rest position): held back. The pedal lifts when the last
    device down lets it up; a reset from a device lets its pedal go."""
    q, _, sent = queue_with_thru()
    q.push([0xB0, 64, 127], source="Keys")
    q.push([0xB0, 64, 0], source="Keys 2")
    q.push([0xB0, 64, 100], source="Keys 2")
    q.push([0xB0, 64, 0], source="Keys")
    assert sent == [[0xB0, 64, 127], [0xB0, 64, 100]]
    q.push([0xB0, 121, 0], source="Keys 2")
    q.push([0xB0, 64, 0], source="Keys")
    assert sent[-2:] == [[0xB0, 121, 0], [0xB0, 64, 0]] and q.merge.pedals == {False: {}, True: {}}


def test_the_synth_gets_the_deepest_half_pedal_and_a_reset_keeps_the_others():
    """Continuous pedals: the synth's pedal is the deepest of any device's, so one device's
    half-pedal never lifts another's pedal held down (before, its values went out as they
    came); a reset from one device, which lifts the synth's pedal, is followed by the
    others'."""
    q, _, sent = queue_with_thru()
    q.push([0xB0, 64, 127], source="Keys")
    for v in (30, 80, 50):
        q.push([0xB0, 64, v], source="Piano")
    assert pedal_after(sent) == 127 and len(sent) == 1
    q.push([0xB0, 64, 0], source="Keys")  # down to the piano's half-pedal
    q.push([0xB0, 64, 70], source="Piano")
    assert sent[1:] == [[0xB0, 64, 50], [0xB0, 64, 70]]
    q.push([0xB0, 64, 127], source="Keys")
    q.push([0xB0, 121, 0], source="Keys")
    assert sent[-2:] == [[0xB0, 121, 0], [0xB0, 64, 70]] and pedal_after(sent) == 70
    q.push([0xB0, 64, 0], source="Piano")
    assert pedal_after(sent) == 0
    assert q.merge.merged == 5  # (three held back, one lowered, one added after the reset)


def test_an_unplugged_device_releases_only_what_nobody_else_holds():
    """A keyboard unplugged holding two keys and its pedal, one key and the pedal also held
    on the other keyboard: its release lifts the key only it held; the rest sounds on until
    the other keyboard's own releases."""
    q, clock, sent = queue_with_thru()
    a = MidiInput(q, FakeRtIn(), "Keys 24:0", virtual=False)
    b = MidiInput(q, FakeRtIn(["Keys2 28:0"]), "Keys2 28:0", virtual=False)
    a._callback(([ON, 60, 90], 0.0))
    a._callback(([ON, 64, 90], 0.0))
    a._callback(([0xB0, 64, 127], 0.0))
    clock.set(0.4)
    b._callback(([ON, 64, 90], 0.0))
    b._callback(([0xB0, 64, 127], 0.0))
    before = len(sent)
    assert a.release_held() == 3
    assert sent[before:] == [[OFF, 60, 0]]  # (64 sounds on: the second keyboard holds it, and its pedal)
    b._callback(([OFF, 64, 0], 0.0))
    b._callback(([0xB0, 64, 0], 0.0))
    assert sent[-2:] == [[OFF, 64, 0], [0xB0, 64, 0]] and not any(sounding_after(sent).values())


SOURCES = st.sampled_from(["Keys", "Keys 2", "Pads"])
CHANNELS = st.sampled_from([0, 1, 9])
GAPS = st.sampled_from([0.0, 0.005, 0.3])
KEYS = st.tuples(st.just("key"), SOURCES, st.booleans(), st.sampled_from([60, 61]), CHANNELS, GAPS)
PANICS = st.tuples(st.just("panic"), SOURCES, st.sampled_from([120, 123]), CHANNELS)
PEDALS = st.tuples(st.just("pedal"), SOURCES, st.sampled_from([0, 40, 100, 127, None]), CHANNELS)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.one_of(KEYS, KEYS, KEYS, PANICS, PEDALS), max_size=40))
def test_any_play_on_several_devices_sounds_a_key_exactly_while_one_holds_it(play):
    """Whatever the devices press and let go, in any order, with stray releases, strikes
    together, panics and pedals: after each message a key sounds on the synth (one voice, even
    on a synth that stacks them) exactly while some device holds it, the synth's pedal is the
    deepest any device holds down (None: a reset), and once every device has let go nothing
    sounds. (A device striking a key it holds is its own business, left as sent:
    `test_one_device_alone_goes_through_untouched`.)"""
    q, clock, sent = queue_with_thru()
    held: set[tuple[str, bool, int]] = set()  # what each device holds, by the key the merge tells
    pedals: dict[tuple[str, bool], int] = {}
    t = 0.0
    for action in play:
        source, ch = action[1], action[-1] if action[0] != "key" else action[4]
        drums = ch == 9
        if action[0] == "key":
            _, _, strike, pitch, _, gap = action
            key = (source, drums, pitch)
            if strike and key in held:
                continue
            t += gap
            clock.set(t)
            q.push([(ON if strike else OFF) | ch, pitch, 90 if strike else 0], source=source)
            (held.add if strike else held.discard)(key)
        elif action[0] == "panic":
            q.push([0xB0 | ch, action[2], 0], source=source)
            held -= {k for k in held if k[:2] == (source, drums)}
        else:
            value = action[2]
            q.push([0xB0 | ch, 121 if value is None else 64, value or 0], source=source)
            pedals[source, drums] = value or 0
        voices = sounding_after(sent)
        for side in (False, True):
            assert pedal_after(sent, side) == max((v for k, v in pedals.items() if k[1] == side), default=0), \
                (play, sent)
            for p in (60, 61):
                anyone = any(k[1:] == (side, p) for k in held)
                assert voices.get((side, p), 0) == (1 if anyone else 0), (play, sent)
    for source, drums, pitch in sorted(held):
        q.push([OFF | (9 if drums else 0), pitch, 0], source=source)
    assert not any(sounding_after(sent).values()) and q.merge.holders == {}
