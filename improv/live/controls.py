"""Live controls: what a fired control changes (`adjust`), and `learn` (binding a knob to an
action in the user's config file). The bindings themselves are improv/core/listen/controls.py.

The `[controls]` config section binds each action to `"cc N"` (a controller), `"note N"`
(a key) or `""` (nothing). Continuous actions (daring, temperature, answer length) take
a controller's value 0-127; toggles (comp, bass) and triggers (end of call, panic, tap)
fire on a key press or when a controller's value rises to 64. `mode` is the outside-note mode: a
controller picks it by value (low off, middle guide, high embrace), a key cycles
embrace -> guide -> off. `adjust` applies the actions that only change settings; the
sessions apply the rest (comp, bass, end of call, panic, tap), which act on what plays.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from improv.core.listen.controls import ACTIONS, CONTINUOUS, ControlEvent, ControlMap, check_binding, \
    parse_binding  # noqa: F401
from improv.core.theory.notes import counted
from improv.errors import ConfigError

if TYPE_CHECKING:
    from improv.config import Config

def adjust(ev: ControlEvent, cfg: "Config") -> tuple["Config", str] | None:
    """The settings after a control that only changes settings (mode, daring, temperature,
    answer length), and a line saying what changed; None for the other actions."""
    from dataclasses import replace

    from improv.core.embrace.strategies import mode_from_cc, next_mode

    if ev.action == "mode":
        e = cfg.embrace
        mode = mode_from_cc(round(ev.value * 127)) if ev.from_cc else next_mode(e.mode)
        return replace(cfg, embrace=replace(e, mode=mode)), f"outside notes: {mode}"
    if ev.action == "daring":
        daring = round(ev.value, 2)
        return replace(cfg, embrace=replace(cfg.embrace, daring=daring)), f"daring {daring:.2f}"
    if ev.action == "temperature":
        t = round(0.2 + 1.8 * ev.value, 2)
        return replace(cfg, responder=replace(cfg.responder, temperature=t)), f"temperature {t:.2f}"
    if ev.action == "answer_length":  # all the way down: as long as the call, as at the start
        bars = round(ev.value * cfg.phrase.max_answer_bars)
        said = f"answers {counted(bars, 'bar')} long" if bars else "answers as long as your call"
        return replace(cfg, phrase=replace(cfg.phrase, answer_bars=bars)), said
    return None


def apply_control(s: Any, ev: ControlEvent, t: float) -> str | None:
    """Apply a fired control to the session `s` (conductor thread): settings through
    `adjust` (and the policy, for answer length), the band's comp and bass, panic, tap
    tempo, the end of a call. Returns the line to show, or None."""
    changed = adjust(ev, s.cfg)
    if changed is not None:
        s.cfg, text = changed
        return s.policy.control(ev.action, t) or text
    if ev.action in ("comp", "bass"):
        if s.band is None:
            return f"{ev.action}: no rhythm section (start with --comp/--bass and a chart)"
        on = not getattr(s.band.parts, ev.action)
        s.band.set_part(ev.action, on)
        return f"{ev.action} {'on' if on else 'off'}"
    if ev.action == "panic":
        s.panic()
        return "panic: all notes off"
    if ev.action == "tap":
        if s.external is not None:
            return None  # the DAW keeps the tempo
        bpm = s.tap.tap(t)
        if bpm is None:
            return None
        s.timeline.set_tempo(bpm, t)
        if s.hearing is not None:
            s.hearing.tapped(bpm)
        if s.clock_sender is not None:
            s.clock_sender.set_tempo(bpm, t)
        if s.recorder is not None and not s.following:  # (following, the file's tempo map is fitted to
            s.recorder.tempo(bpm, t)  # the timeline, the tap with it: player.write_file_tempo)
        return f"tempo {bpm:.1f} bpm (tapped)"
    return s.policy.control(ev.action, t)


# Messages `learn_next` passes over, saying so: improv binds controllers and keys only
UNBINDABLE = {0xE0: "the pitch bend wheel", 0xC0: "a program change", 0xD0: "aftertouch", 0xA0: "aftertouch"}
BANK_SELECT = (0, 32)  # CC 0 and CC 32 (bank select MSB and LSB): a pad's program change sends them just before it
BANK_WAIT_S = 0.2  # a bank select with no program change this soon after it is a controller (a knob sending CC 0)
SETTLE_S = 0.5  # a controller moving this soon after the prompt was moving before it (a jittering mod wheel)...
DELIBERATE = 8  # ...and is taken only once it leaves the values it streamed by more than this (moved on purpose)


def learn_next(q: "queue.Queue[tuple[float, list[int]]]", timeout: float,
               say: Callable[[str], None] | None = None, action: str = "",
               taken: dict[int, str] | None = None, since: float | None = None) -> str | None:
    """Wait (calling thread) for the next moved controller or pressed key on the input
    queue; its binding text (`"cc 20"`, `"note 36"`), or None on timeout. A pedal (or a
    channel mode message) is passed over, said once on `say`: it plays the music. So are
    pitch bend, aftertouch and a program change (`UNBINDABLE`: they cannot be bound), and a
    key when `action` is set by a controller's value (`CONTINUOUS`): it takes a knob; and a
    controller in `taken` (number -> what it does already, e.g. the config's phrase.end_cc).

    A bank select (CC 0 or 32) followed by a program change within `BANK_WAIT_S` is part of
    the program change (a pad or button that sends one sent CC 0 first, and it was bound).
    `since`: when the player was asked (the queue's clock): a controller already streaming
    then (a message within `SETTLE_S` of it: a mod wheel's jitter) is taken only once its
    value leaves the range it streamed in by more than `DELIBERATE`, moved on purpose."""
    import time

    from improv.core.listen.controls import RESERVED_CC

    passed: set[int] = set()
    keys_said = False
    unbindable_said: set[str] = set()
    what = "move a knob or slider" if action in CONTINUOUS else "move a knob or press a key"
    streaming: dict[int, tuple[int, int]] = {}  # controller -> (lowest, highest) value it streamed at the prompt
    pending: tuple[float, int] | None = None  # a bank select, until what follows it says what it was

    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return f"cc {pending[1]}" if pending is not None else None
        try:
            t, data = q.get(timeout=min(left, BANK_WAIT_S) if pending is not None else left)
        except queue.Empty:
            if pending is not None:  # nothing followed it: a controller of its own
                return f"cc {pending[1]}"
            return None
        if pending is not None:
            if data and data[0] & 0xF0 == 0xC0 and t - pending[0] <= BANK_WAIT_S:
                pending = None
                name = "a program change"
                if name not in unbindable_said:
                    unbindable_said.add(name)
                    if say is not None:
                        say(f"that is a bank select and {name}, which cannot be bound: {what} (or set the pad to "
                            "send a note or a controller)")
                continue
            is_bank = len(data) >= 3 and data[0] & 0xF0 == 0xB0 and data[1] in BANK_SELECT
            if not (is_bank and t - pending[0] <= BANK_WAIT_S):  # (MSB then LSB: still the program change's)
                return f"cc {pending[1]}"
        if len(data) >= 3 and data[0] & 0xF0 == 0xB0:
            cc, value = data[1], data[2]
            if cc in RESERVED_CC:
                if say is not None and cc not in passed:
                    say(f"that is {RESERVED_CC[cc]}, which plays the music: {what}")
                passed.add(cc)
                continue
            if taken and cc in taken:
                if say is not None and cc not in passed:
                    say(f"that is CC {cc}, {taken[cc]}: {what}")
                passed.add(cc)
                continue
            if since is not None and t < since + SETTLE_S:  # moving as the player was asked: not moved for it
                lo, hi = streaming.get(cc, (value, value))
                streaming[cc] = (min(lo, value), max(hi, value))
                continue
            if cc in streaming:
                lo, hi = streaming[cc]
                if lo - DELIBERATE <= value <= hi + DELIBERATE:
                    continue  # (its jitter)
            if cc in BANK_SELECT:
                pending = (t, cc)
                continue
            return f"cc {cc}"
        if len(data) >= 3 and data[0] & 0xF0 == 0x90 and data[2] > 0:
            if action in CONTINUOUS:
                if say is not None and not keys_said:
                    say(f"that is a key, and {action} is set by a controller's value: move a knob or slider")
                keys_said = True
                continue
            return f"note {data[1]}"
        name = UNBINDABLE.get(data[0] & 0xF0) if data else None
        if name is not None and name not in unbindable_said:
            unbindable_said.add(name)
            if name == "aftertouch" and keys_said:
                continue  # (a key's pressure: the key was said)
            if say is not None:
                hint = " (or set the pad to send a note or a controller)" if name == "a program change" else ""
                say(f"that is {name}, which cannot be bound: {what}{hint}")


def write_binding(path: str | Path, action: str, binding: str) -> list[str]:
    """Set `[controls] action = binding` in a TOML file, editing it in place: comments,
    layout, other tables and keys stay as they were (tomlkit round-trips the file). Another
    action bound to the same control is unbound (set to ""). A missing file is created.
    The file is replaced atomically, so a failure leaves the old one whole. Returns the
    actions unbound so.

    Raises:
        ConfigError: an unknown action, a bad binding, the file is not TOML, its
            `controls` is not a table, or it cannot be written.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from improv.core.formats.paths import whole_or_nothing

    if action not in ACTIONS:
        raise ConfigError(f"unknown action {action!r}: choose one of {', '.join(ACTIONS)}")
    check_binding(action, binding, action)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig") if path.exists() else ""  # (-sig: a BOM, as Notepad saves it)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}; fix it or give another --file") from None
    if "controls" not in doc:
        if text and not text.endswith("\n\n"):
            doc.add(tomlkit.nl())
        doc["controls"] = tomlkit.table()
    controls = doc["controls"]
    if not isinstance(controls, dict):
        raise ConfigError(f"{path}: controls is {type(controls).__name__}, expected a table ([controls])")
    unbound = []
    bound = parse_binding(binding)
    for key, value in list(controls.items()):
        if key != action and isinstance(value, str) and _same(value, bound):  # ("CC 021" is cc 21 too)
            controls[key] = ""
            unbound.append(key)
    controls[action] = binding
    try:
        with whole_or_nothing(path) as tmp:
            tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}; give --file a path in a writable folder") from None
    return unbound


def _same(text: str, bound: tuple[str, int] | None) -> bool:
    """Whether a binding as the file spells it (any case, spaces, leading zeros) is `bound`."""
    try:
        return parse_binding(text) == bound
    except ConfigError:  # (not a binding: the file's own check names it)
        return False
