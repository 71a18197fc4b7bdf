"""The player's live controls as data: which MIDI controller or key is bound to which
action (`[controls]`: `"cc N"`, `"note N"` or `""`), and what a message does. Continuous
actions (daring, temperature, answer length) take a controller's value 0-127; toggles
(comp, bass) and triggers (end of call, panic, tap) fire on a key press or when a
controller's value rises to 64 or above (once: a knob turned through 64, or a button held,
fires once, and fires again only once it has come back under `REARM_BELOW`: a fader
jittering about the middle, or a pad's contact bouncing 127, 60, 127, is one press), and
never twice within `DEBOUNCE_S` (a pad's key bouncing); `mode` (the outside-note mode) is picked by a controller's value or cycled by
a key. No I/O: the live session applies what fires (improv/live/controls.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from improv.errors import ConfigError

ACTIONS = ("mode", "daring", "temperature", "answer_length", "comp", "bass", "end_of_call", "panic", "tap")
CONTINUOUS = ("daring", "temperature", "answer_length")
_BINDING = re.compile(r"^(cc|note)\s+(\d{1,3})$")
REARM_BELOW = 32  # a toggle's or trigger's controller fires again once it has fallen under this
DEBOUNCE_S = 0.05  # a toggle or trigger fired this soon after the last is a bounce, not a press
# Controllers a keyboard uses for playing, not for knobs: binding one would take it from the
# music (the sustain pedal would stop holding notes and ending calls).
RESERVED_CC = {64: "the sustain pedal (CC 64)", 66: "the sostenuto pedal (CC 66)", 67: "the soft pedal (CC 67)",
               **{n: f"a channel mode message (CC {n}: all notes off and the like)" for n in range(120, 128)}}


def parse_binding(text: str, where: str = "controls") -> tuple[str, int] | None:
    """`"cc 20"` -> ("cc", 20); `"note 36"` -> ("note", 36); `""` -> None.

    Raises:
        ConfigError: anything else (one line, with an example).
    """
    text = text.strip().lower()
    if not text:
        return None
    m = _BINDING.match(text)
    if not m or int(m.group(2)) > 127:
        raise ConfigError(f"{where}: expected \"cc N\" or \"note N\" (N 0-127) or \"\", found {text!r}")
    kind, number = m.group(1), int(m.group(2))
    if kind == "cc" and number in RESERVED_CC:
        raise ConfigError(f"{where}: {text!r} is {RESERVED_CC[number]}, which plays the music: bind a knob, "
                          "a slider or a key instead")
    return kind, number


def check_binding(action: str, text: str, where: str = "controls") -> tuple[str, int] | None:
    """`parse_binding`, and a key refused for a continuous action (a key press would jump
    it to its maximum): those take a knob or slider.

    Raises:
        ConfigError: one line naming `where` (e.g. "controls.temperature").
    """
    b = parse_binding(text, where)
    if b is not None and b[0] == "note" and action in CONTINUOUS:
        raise ConfigError(f"{where}: {text.strip()!r} is a key, but {action} is set by a controller's value (a key "
                          "would jump it to its maximum): bind a knob or slider (\"cc N\")")
    return b


@dataclass(frozen=True)
class ControlEvent:
    """An action fired by a control: `value` is 0..1 for continuous actions (and for `mode`
    from a controller), 1.0 for triggers; `from_cc` tells a controller from a key."""

    action: str
    value: float
    from_cc: bool = False


class ControlMap:
    """Bindings -> actions. `event(status, data1, data2)` answers what a message does."""

    def __init__(self, bindings: dict[str, str]) -> None:
        self._by: dict[tuple[str, int], str] = {}
        self._up: set[int] = set()  # toggle and trigger controllers that fired and have not come back down
        self._fired: dict[str, float] = {}  # toggle or trigger -> when it last fired (seconds)
        for action, text in bindings.items():
            if action not in ACTIONS:
                raise ConfigError(f"controls: unknown action {action!r} (known: {', '.join(ACTIONS)})")
            b = check_binding(action, text, f"controls.{action}")
            if b is not None:
                if b in self._by:
                    raise ConfigError(f"controls: {b[0]} {b[1]} is bound to both {self._by[b]} and {action}: one "
                                      f"control does one thing; give {action} another control (or \"\" for none)")
                self._by[b] = action

    @classmethod
    def from_settings(cls, settings: object) -> "ControlMap":
        return cls({f.name: getattr(settings, f.name) for f in fields(settings)})  # type: ignore[arg-type]

    def event(self, data: list[int], t: float | None = None) -> ControlEvent | None:
        """The action a raw MIDI message fires, or None (not bound, a release, a toggle's or
        trigger's controller that has not come back under `REARM_BELOW` since it fired, or
        a bounce within `DEBOUNCE_S` of the last firing; `t`: the message's time, seconds).
        One thread (it keeps where each such controller stands)."""
        if len(data) < 3:
            return None
        kind = data[0] & 0xF0
        if kind == 0xB0:
            action = self._by.get(("cc", data[1]))
            if action is None:
                return None
            if action in CONTINUOUS or action == "mode":
                return ControlEvent(action, data[2] / 127.0, from_cc=True)
            if data[2] < REARM_BELOW:
                self._up.discard(data[1])
                return None
            if data[2] < 64 or data[1] in self._up:
                return None
            self._up.add(data[1])
            return self._fire(action, t, from_cc=True)
        if kind == 0x90 and data[2] > 0:
            action = self._by.get(("note", data[1]))
            return self._fire(action, t) if action else None
        return None

    def _fire(self, action: str, t: float | None, from_cc: bool = False) -> ControlEvent | None:
        last = self._fired.get(action)
        if t is not None:
            if last is not None and 0 <= t - last < DEBOUNCE_S:
                return None
            self._fired[action] = t
        return ControlEvent(action, 1.0, from_cc=from_cc)

    def bound(self, data: list[int]) -> bool:
        """True if the message belongs to a control (so it is not music)."""
        kind = data[0] & 0xF0 if data else 0
        if kind == 0xB0 and len(data) > 1:
            return ("cc", data[1]) in self._by
        if kind in (0x80, 0x90, 0xA0) and len(data) > 1:  # (0xA0: the key's pressure, as a pad sends it)
            return ("note", data[1]) in self._by
        return False
