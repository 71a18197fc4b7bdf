"""What the MIDI wire can carry into our input callback, sorted out: complete sysex, and
sysex that was cut short with other messages glued on behind it.

RtMidi treats everything after a sysex start (0xF0) as more sysex until a byte 0xF7 ends
it. A sysex cut short (a cable pulled mid-dump, a crashed sender) would thus swallow every
later message: on JACK all of them, until some message ends in 0xF7; on ALSA the next one.
improv's input asks RtMidi to pass sysex through and ends any open one itself within a
bound (improv/live/inputguard.py sends a lone 0xF7 to its own input every `SYSEX_BOUND_S`);
what then arrives is one long "sysex" with the swallowed messages inside it.
`split_sysex` finds them again: by the MIDI spec any status byte other than a real-time
one ends a sysex, so a status byte inside one marks the cut, and what follows it are
ordinary messages, each starting at its status byte.
"""

from __future__ import annotations

SYSEX_START, SYSEX_END = 0xF0, 0xF7
SYSEX_BOUND_S = 0.1  # an unterminated sysex is cut off within this many seconds (JACK)


def is_realtime(byte: int) -> bool:
    """Clock, start, stop and the like (0xF8-0xFF): allowed anywhere, even inside a sysex."""
    return byte >= 0xF8


def split_sysex(data: list[int]) -> tuple[bool, list[list[int]]]:
    """A message that starts with 0xF0 -> (was it cut short?, the channel messages that
    came after the cut, in order).

    A complete sysex (data bytes only, ending in 0xF7) gives (False, []). Real-time bytes
    inside are skipped; system messages after the cut (a lone 0xF7, another sysex, song
    position...) are dropped: improv plays only channel messages.
    """
    n = len(data)
    i = 1
    while i < n and (data[i] < 0x80 or is_realtime(data[i])):
        i += 1
    if i >= n:
        return True, []  # no end at all (ALSA may deliver a chunk like this): cut, nothing behind it
    if data[i] == SYSEX_END and i == n - 1:
        return False, []
    if data[i] == SYSEX_END:
        i += 1  # ended, then more glued on
    return True, channel_messages(data[i:])


def channel_messages(stream: list[int]) -> list[list[int]]:
    """Split a byte stream at its status bytes and keep the channel messages (0x80-0xEF
    with their data bytes); real-time bytes and system messages are dropped, and so are
    data bytes with no status before them (running status is not used on these ports)."""
    out: list[list[int]] = []
    current: list[int] | None = None
    for b in stream:
        if is_realtime(b):
            continue
        if b >= 0x80:
            if current:
                out.append(current)
            current = [b] if b < 0xF0 else None
        elif current is not None:
            current.append(b)
    if current:
        out.append(current)
    return out
