"""Several devices, one key: `KeyMerge`, which keeps the notes of several MIDI inputs from
cutting each other off.

Every input feeds one queue and one passthrough, and the player's notes all go out on the
player's channel (improv/live/player.py). So when a second keyboard (or a pad controller
playing notes, or a DAW on the virtual input) struck a key the first one held, the first
release ended the note for both: on the synth, in the call and in the recording, while the
other key was still down. A merge box does what a musician expects:

- a key sounds as long as any device holds it: a device's release is let go only when it
  was the last to hold the key (a release of a key it never struck is let go too, unless
  another device holds that key: a stray note-off would cut that device's note);
- a device striking a key another holds strikes it again: a note-off goes out just before
  its note-on, so that every note-on reaching the synth is matched by one note-off (a synth
  that stacks voices would otherwise hang one), and the call hears the key struck again;
  struck within `LAYERED_S` of the other's strike it is the same note (two players, or a
  keyboard and a sequencer, on the downbeat together): not struck twice;
- an all-notes-off (or all-sound-off, or a mode message) from a device lets go the keys it
  held: as sent when no other device holds a key, else as a note-off for each key it alone
  held, so that one keyboard's panic button (or a DAW stopping) does not cut the notes
  another is playing;
- the sustain pedal is held the same way: the synth gets the deepest pedal of any device,
  so one device's pedal let up (or a device plugged in mid-set sending its pedal's rest
  position) does not lift another's still down, and a half-pedal does not either; a reset
  (which lifts the synth's pedal) is followed by the others' pedal.

One device alone is never changed: its messages go through as they come, a key struck
twice without a release included (a layered keyboard's two channels, a pad's note repeat).
Keys are told by pitch, and apart on the drum channel: the player's channel is one, so two
devices on different channels collide on the same key too.
"""

from __future__ import annotations

from collections.abc import Hashable

from improv.core.formats.midifile import GM_DRUM_CHANNEL, LAYERED_S
from improv.core.listen.segment import ALL_OFF_CCS, PEDAL_CC, RESET_CC

Key = tuple[bool, int]


def _key(status: int, pitch: int) -> Key:
    """A key as the merge tells it: (on the drum channel, pitch)."""
    return (status & 0x0F == GM_DRUM_CHANNEL, pitch)


class KeyMerge:
    """Which device holds which key (under the `InputQueue`'s lock: one caller at a time).

    `take` turns one device's message into what goes on: none, itself, or a note-off before
    it. `merged` counts the messages held back or added.
    """

    def __init__(self) -> None:
        self.holders: dict[Key, set[Hashable]] = {}  # key -> the devices holding it
        self.struck: dict[Key, float] = {}  # key -> when a device last struck it
        # (drum channel) -> each device's sustain pedal where not at rest, and the value sent
        self.pedals: dict[bool, dict[Hashable, int]] = {False: {}, True: {}}
        self.pedal_sent: dict[bool, int] = {False: 0, True: 0}
        self.merged = 0

    def take(self, data: list[int], source: Hashable, t: float) -> list[list[int]]:
        """What goes on for `data` from device `source`, arrived at `t` (seconds)."""
        if len(data) != 3:
            return [data]
        kind = data[0] & 0xF0
        if kind == 0x90 and data[2] > 0:
            return self._strike(data, source, t)
        if kind in (0x80, 0x90):
            return self._release(data, source)
        if kind != 0xB0:
            return [data]
        drums = data[0] & 0x0F == GM_DRUM_CHANNEL
        if data[1] == PEDAL_CC:
            return self._pedal(data, source, drums)
        if data[1] in ALL_OFF_CCS:
            return self._all_off(data, source, drums)
        if data[1] == RESET_CC:
            pedals = self.pedals[drums]
            pedals.pop(source, None)
            deepest = max(pedals.values(), default=0)
            self.pedal_sent[drums] = deepest
            if deepest:
                self.merged += 1
                return [data, [data[0], PEDAL_CC, deepest]]  # (the reset lifted the others' pedal)
        return [data]

    def _pedal(self, data: list[int], source: Hashable, drums: bool) -> list[list[int]]:
        pedals = self.pedals[drums]
        others = max((v for s, v in pedals.items() if s != source), default=0)
        if data[2]:
            pedals[source] = data[2]
        else:
            pedals.pop(source, None)
        if not others:
            self.pedal_sent[drums] = data[2]
            return [data]
        deepest = max(others, data[2])
        if deepest == self.pedal_sent[drums]:
            self.merged += 1
            return []  # (another device's pedal is down deeper)
        self.pedal_sent[drums] = deepest
        if deepest == data[2]:
            return [data]
        self.merged += 1
        return [[data[0], data[1], deepest]]

    def _all_off(self, data: list[int], source: Hashable, drums: bool) -> list[list[int]]:
        keys = [k for k in self.holders if k[0] == drums]
        others = any(self.holders[k] - {source} for k in keys)
        alone = [k for k in keys if self.holders[k] == {source}]
        for key in keys:
            self._let_go(key, source)
        if not others:
            return [data]
        self.merged += 1
        return [[0x80 | (data[0] & 0x0F), pitch, 0] for _, pitch in alone]  # (another device plays on)

    def _strike(self, data: list[int], source: Hashable, t: float) -> list[list[int]]:
        key = _key(data[0], data[1])
        held = self.holders.setdefault(key, set())
        others = bool(held - {source})
        held.add(source)
        if not others:
            self.struck[key] = t
            return [data]
        self.merged += 1
        if t - self.struck.get(key, float("-inf")) < LAYERED_S:
            return []  # (the same note, struck together)
        self.struck[key] = t
        return [[0x80 | (data[0] & 0x0F), data[1], 0], data]

    def _release(self, data: list[int], source: Hashable) -> list[list[int]]:
        key = _key(data[0], data[1])
        held = self.holders.get(key)
        if not held or held == {source}:
            self._let_go(key, source)
            return [data]
        held.discard(source)
        self.merged += 1
        return []  # (another device still holds it)

    def _let_go(self, key: Key, source: Hashable) -> None:
        held = self.holders.get(key)
        if held is not None:
            held.discard(source)
            if not held:
                del self.holders[key]
                self.struck.pop(key, None)
