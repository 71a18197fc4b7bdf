"""The rules a setting is checked by, whether it comes from a TOML file or a flag: each
key's type (`check_value`), its choices (`CHOICES`), range (`RANGES`, from
`improv.core.limits`) and text rules (`check_key`), and the rules that tie the keys of one
section together (`check_section`: low <= high, band channels apart, a model file that is
improv's weights). `improv.config` builds the settings and calls these; the rules across
sections (every channel in use its own) are its `_check_config`.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
import zipfile
from pathlib import Path
from typing import Any

from improv.core import limits
from improv.core.audio.soundfont import missing_soundfont
from improv.core.audio.synth import MAX_BLOCK
from improv.core.listen.controls import RESERVED_CC
from improv.core.theory.metre import metre_beats
from improv.errors import ConfigError

CHOICES = {
    ("midi", "api"): ("", "alsa", "jack", "coremidi", "winmm"),
    ("timing", "late_policy"): ("drop", "shift"),
    ("timing", "bar_one"): ("first_note", "start"),
    ("phrase", "answer_on"): ("beat", "bar"),
    ("phrase", "on_interrupt"): ("yield", "overlap"),
    ("phrase", "vamp"): ("line", "all"),
    ("responder", "name"): ("model", "markov"),
    ("synth", "player_voice"): ("organ", "epiano", "vibes"),
    ("synth", "partner_voice"): ("organ", "epiano", "vibes"),
    ("embrace", "mode"): ("embrace", "guide", "off"),
    ("band", "trade_bars"): (0, 1, 2, 4, 8),
    ("band", "clock"): ("internal", "external"),
    ("band", "comp_style"): ("rootless", "shell", "guide"),
}

# (section, key) -> (lowest, highest) and the unit shown in the error; every other number
# is still checked for finiteness.
RANGES: dict[tuple[str, str], tuple[tuple[float, float], str]] = {
    ("midi", "player_channel"): (limits.CHANNEL, ""),
    ("midi", "partner_channel"): (limits.CHANNEL, ""),
    ("timing", "tempo"): (limits.TEMPO_BPM, "bpm"),
    ("timing", "beats_per_bar"): (limits.BEATS_PER_BAR, "beats"),
    ("timing", "swing"): (limits.SWING, "(long:short eighths)"),
    ("timing", "late_threshold_ms"): (limits.LATE_THRESHOLD_MS, "ms"),
    ("timing", "spin_ms"): (limits.SPIN_MS, "ms"),
    ("phrase", "gap_beats"): (limits.GAP_BEATS, "beats"),
    ("phrase", "end_cc"): ((-1, 127), "(-1 = none)"),
    ("phrase", "max_call_bars"): (limits.BARS, "bars"),
    ("phrase", "answer_bars"): ((0, limits.BARS[1]), "bars (0 = as long as the call)"),
    ("phrase", "max_answer_bars"): (limits.BARS, "bars"),
    ("responder", "seed"): (limits.SEED, "(-1 = a fresh seed)"),
    ("responder", "temperature"): (limits.TEMPERATURE, ""),
    ("responder", "top_p"): (limits.TOP_P, ""),
    ("responder", "low"): (limits.PITCH, "(MIDI note)"),
    ("responder", "high"): (limits.PITCH, "(MIDI note)"),
    ("responder", "markov_order"): ((1, 8), "notes"),
    ("synth", "sample_rate"): ((8000, 192000), "Hz"),
    ("synth", "block_size"): ((16, MAX_BLOCK), "frames"),
    ("synth", "volume"): ((0.0, 1.0), ""),
    ("synth", "polyphony"): ((1, 256), "voices"),
    ("band", "comp_channel"): (limits.CHANNEL, ""),
    ("band", "bass_channel"): (limits.CHANNEL, ""),
    ("band", "click_channel"): (limits.CHANNEL, ""),
    ("band", "comp_program"): ((0, 128), "(a General MIDI program, 0 = send none)"),
    ("band", "bass_program"): ((0, 128), "(a General MIDI program, 0 = send none)"),
}

# config key -> the flag that sets it, so that a bad value's error names what the user typed, and a key
# spelt as its flag (`[phrase] bars`, `[timing] time`) is pointed to the setting (`did_you_mean`)
FLAGS = {"tempo": "--tempo", "swing": "--swing", "name": "--responder", "seed": "--seed", "model": "--model",
         "temperature": "--temperature", "answer_bars": "--bars", "gap_beats": "--gap", "answer_on": "--answer-on",
         "trade_bars": "--trade-bars", "folder": "--record", "input": "--in", "output": "--out", "clock": "--clock",
         "virtual_in": "--virtual-in", "virtual_out": "--virtual-out", "clock_in": "--clock-in",
         "beats_per_bar": "--time"}

PORT_NAMES = ("input", "output", "virtual_in", "virtual_out", "device", "clock_in")


_TYPE_WORDS = {float: "a number", int: "a whole number", str: "text in quotes", bool: "true or false"}


def _type_words(typ: Any) -> str:
    """One type of a union in a musician's words: "text in quotes or a list of them"
    (`[midi] input`, a port or several)."""
    if typing.get_origin(typ) is tuple:
        return "a list of them"
    return _TYPE_WORDS.get(typ, getattr(typ, "__name__", str(typ)))


def check_value(where: str, value: Any, typ: Any) -> Any:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        for t in typing.get_args(typ):
            try:
                return check_value(where, value, t)
            except ConfigError:
                pass
        words = " or ".join(_type_words(t) for t in typing.get_args(typ))
        raise ConfigError(f"{where}: expected {words}, found {value!r}")  # (not "str | float")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, found {value!r}")
        args = typing.get_args(typ)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(check_value(where, v, args[0]) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, found {len(value)}")
        return tuple(check_value(where, v, t) for v, t in zip(value, args))
    if typ is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if typ is type(None) and value is None:
        return None
    if isinstance(typ, type) and isinstance(value, typ) and not (typ is int and isinstance(value, bool)):
        return value
    name = _TYPE_WORDS.get(typ, getattr(typ, "__name__", str(typ)))
    raise ConfigError(f"{where}: expected {name}, found {value!r}")


def as_written(section: str, key: str, value: Any, where: str) -> Any:
    """A value as a chart writes it, read into its key's type: `[timing] beats_per_bar` as a
    time signature ("3/4"), by the rule `--time` and a tune file's `beats_per_bar` are read by
    (`metre_beats`: quarter-note beats, cut time refused naming the bar to give). Any other
    value is returned as it is, for `check_value`."""
    if (section, key) == ("timing", "beats_per_bar") and isinstance(value, str):
        try:
            return metre_beats(value, "beats_per_bar = {}", "tempo = {}")
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
    return value


def check_key(section: str, key: str, value: Any, where: str) -> None:
    """One key's choices, range and text rules (raises ConfigError naming `where`)."""
    choices = CHOICES.get((section, key))
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: expected one of {', '.join(repr(c) for c in choices)}, found {value!r}")
    rule = RANGES.get((section, key))
    if rule is not None:
        limits.check_range(where, value, rule[0], rule[1])
    elif isinstance(value, float):
        limits.finite_number(where, value)
    for text in value if key in PORT_NAMES and isinstance(value, tuple) else (value,):  # ([midi] input: a list too)
        if isinstance(text, str) and any(ord(c) < 32 for c in text):
            raise ConfigError(f"{where}: control characters are not allowed, found {text!r}")
        if key in PORT_NAMES and len(text) > 100:
            raise ConfigError(f"{where}: expected a port or device name of at most 100 characters, found {len(text)}")
    if (section, key) == ("synth", "latency"):
        if isinstance(value, str) and value not in ("low", "high"):
            raise ConfigError(f'{where}: expected "low", "high" or seconds (e.g. 0.005), found {value!r}')
        if not isinstance(value, str) and not (math.isfinite(value) and 0.0 < value <= 1.0):
            raise ConfigError(f'{where}: expected seconds from 0 to 1 (e.g. 0.005), or "low" or "high", found {value}')
    if (section, key) == ("embrace", "strategies"):
        from improv.core.embrace.strategies import STRATEGIES

        for name in value:
            if name not in STRATEGIES:
                raise ConfigError(f"{where}: unknown strategy {name!r}{did_you_mean(name, STRATEGIES)} "
                                  f"(known: {', '.join(STRATEGIES)})")


def did_you_mean(word: str, known: Any) -> str:
    """", did you mean 'x'?" for the closest of `known` to a misspelt `word`, else "". A word
    spelt as a flag's name (`bars`, `--time`, `virtual-out`) is pointed to the setting that flag
    sets, when it is among `known`: `[phrase] bars` is answer_bars, `[timing] time` beats_per_bar."""
    flag = "--" + word.removeprefix("--").replace("_", "-")
    setting = next((key for key, f in FLAGS.items() if f == flag and key in map(str, known)), None)
    if setting is not None and setting != word:
        return f", did you mean {setting!r} (what {flag} sets)?"
    close = difflib.get_close_matches(word, [str(k) for k in known], n=1)
    longer = [k for k in map(str, known) if k.startswith(f"{word}_")]  # gap (as --gap says it) -> gap_beats
    close = close or (longer if len(longer) == 1 else [])
    return f", did you mean {close[0]!r}?" if close else ""


def _looks_like_weights(path: Path) -> bool:
    """`path` is a zip holding the header `improv export` writes (the arrays are checked when
    the partner loads them: improv/core/model/weights.py)."""
    try:
        with zipfile.ZipFile(path) as z:
            return "__header__.npy" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def check_section(section: str, obj: Any, where: str, flags: dict[str, str] | None = None) -> None:
    """The rules that tie keys of one section together (raises ConfigError); `flags`: key ->
    the command-line flag that gave it, named instead of the section (a flag that clashes
    with a --config file's key was said as "--band: ...", a flag there is not)."""
    if flags:
        where = ", ".join(flags.values())
    if section == "responder" and obj.model and obj.name == "markov" and "name" not in (flags or {}):
        raise ConfigError(f"{where}: model = {obj.model!r} is the phrase model's weights, but name = \"markov\" does "
                          "not read them: leave one of them out")
    if section == "responder" and obj.model:
        model, name = Path(obj.model), (flags or {}).get("model") or f"{where}.model"
        if model.suffix == ".pt":
            raise ConfigError(f"{name} {obj.model}: that is a training checkpoint; export the weights the partner "
                              f"loads with `improv export {obj.model}` (needs torch) and give the .npz")
        if model.is_dir():
            raise ConfigError(f"{name} {obj.model}: that is a folder; give the .npz file that `improv export` wrote")
        if not model.is_file():
            raise ConfigError(f"{name} {obj.model}: no such weights file; give the .npz that `improv export` wrote "
                              "(or leave it out for the shipped model)")
        if not _looks_like_weights(model):  # (before a port or the synth opens: its line would come first)
            raise ConfigError(f"{name} {obj.model}: not improv weights (no .npz that `improv export` wrote); give "
                              "that file, or leave it out for the shipped model")
    if section == "responder" and obj.low > obj.high:
        raise ConfigError(f"{where}: low ({obj.low}) is above high ({obj.high}): the partner would have no notes "
                          "to play; give low <= high")
    if section == "phrase" and obj.answer_bars > obj.max_answer_bars and flags and "answer_bars" in flags:
        raise ConfigError(f"{flags['answer_bars']} {obj.answer_bars}: an answer lasts at most {obj.max_answer_bars} "
                          f"bars ([phrase] max_answer_bars); ask for fewer, or raise max_answer_bars in a --config file")
    if section == "phrase" and obj.answer_bars > obj.max_answer_bars:
        raise ConfigError(f"{where}: answer_bars ({obj.answer_bars}) is more than max_answer_bars "
                          f"({obj.max_answer_bars}); ask for fewer bars or raise max_answer_bars")
    if section == "midi" and not obj.virtual_in.strip():
        name = (flags or {}).get("virtual_in") or f"{where}.virtual_in"
        raise ConfigError(f"{name}: must name the virtual input (it is empty); give a name, e.g. \"improv in\"")
    if section == "midi" and obj.player_channel == obj.partner_channel:
        raise ConfigError(f"{where}: player_channel and partner_channel are both {obj.player_channel}: the partner's "
                          "notes would be recorded and played back as yours; give them different channels")
    if section == "synth" and obj.soundfont and (why := missing_soundfont(obj.soundfont)):
        name = (flags or {}).get("soundfont") or f"{where}.soundfont"
        why = "no such SoundFont file" if why == "not found" else why
        raise ConfigError(f"{name} {obj.soundfont}: {why}; give the path of a .sf2 file "
                          "(or leave it out for the built-in voices)")
    if section == "phrase" and obj.end_cc in RESERVED_CC:
        raise ConfigError(f"{where}: end_cc = {obj.end_cc} is {RESERVED_CC[obj.end_cc]}, which plays the music "
                          "(it would end calls while you play): give a knob, button or footswitch CC, or -1")
    if section == "band" and obj.clock == "external" and obj.send_clock:
        raise ConfigError(f"{where}: clock = \"external\" follows a DAW's MIDI clock, so send_clock (improv sending "
                          "its own clock) cannot be on: give one of them")
    if section == "record" and not obj.folder.strip():
        raise ConfigError(f"{where}: folder must name the folder sessions go to (it is empty); "
                          "use enabled = false (or --no-record) not to record")
    if section == "band":
        on = [p for p in ("comp", "bass", "click") if getattr(obj, p)]
        seen: dict[int, str] = {}
        for part in on:
            ch = getattr(obj, f"{part}_channel")
            if ch in seen:
                raise ConfigError(f"{where}: {seen[ch]}_channel and {part}_channel are both {ch}: each part of the "
                                  "band needs its own channel")
            seen[ch] = part
    if section == "controls":
        from improv.core.listen.controls import ControlMap  # checks each binding and that none is bound twice

        try:
            ControlMap.from_settings(obj)
        except ConfigError as e:  # its message names the key ("controls.daring: ..."): add the file
            text = str(e)
            if text.startswith("controls") and where.endswith("controls") and where != "controls":
                text = where + text[len("controls"):]
            raise ConfigError(text) from None
