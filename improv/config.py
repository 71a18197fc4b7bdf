"""Settings: TOML files -> frozen dataclasses. The dataclass defaults are the single source
of truth; `configs/default.toml` repeats them with a comment per key.

Unknown keys, wrong types and values out of range are errors that name the file (or the
flag) and the key. Every value is checked here, once, whether it comes from a file or a
flag (`build` checks what `load_config` reads and what `override` lays over it), by the
rules of `improv.configrules`: ranges and finiteness from `improv.core.limits`, choices,
the few rules that tie two keys together (low <= high, band channels apart); those across
sections (every channel in use its own) are `_check_config` here. `was_set` tells what
the file itself set.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from improv.configrules import as_written, check_key, check_section, check_value, did_you_mean
from improv.core import limits
from improv.core.embrace.strategies import EmbraceSettings
from improv.core.tomlfile import read_toml
from improv.errors import ChordError, ConfigError


@dataclass(frozen=True)
class MidiSettings:
    api: str = ""  # "", "alsa", "jack", "coremidi", "winmm"; "" = platform default or $IMPROV_MIDI_API
    input: str | tuple[str, ...] = ""  # port index or name substring, or a list of them to play from several
    # (a keyboard and a pad controller: ["Keystation", "MPD218"]); "" = first hardware input, else a virtual one
    output: str = ""  # port index or name substring; "" = built-in synth (or virtual_out)
    virtual_in: str = "improv in"
    virtual_out: str = ""  # create a virtual output port with this name ("" = none)
    thru: bool = True  # pass the player's notes straight to the output
    drum_pads: bool = True  # notes coming in on channel 10 (a keyboard's drum pads) are drums: passed through and
    # recorded on channel 10, not heard in the call (where improv follows the player, their time is followed)
    player_channel: int = 1  # 1-16, channel of the player's notes on the output
    partner_channel: int = 2  # 1-16, channel of the partner's notes

    @property
    def inputs(self) -> tuple[str, ...]:
        """The input ports `input` names, in order (none: the first hardware input)."""
        names = (self.input,) if isinstance(self.input, str) else self.input
        return tuple(n for n in names if n.strip())


@dataclass(frozen=True)
class TimingSettings:
    tempo: float = 120.0  # beats per minute
    beats_per_bar: int = 4
    swing: float = 1.0  # long:short ratio of eighth pairs (1.0 straight, 2.0 triplet feel)
    late_threshold_ms: float = 10.0  # a note later than this is reported...
    late_policy: str = "drop"  # ...and "drop"ped or "shift"ed to now
    spin_ms: float = 1.0  # the scheduler sleeps until this close to a deadline, then spins
    realtime: bool = True  # the jam's timing threads ask for real-time priority (Linux; improv/realtime.py)
    follow: bool = True  # free jam with nothing else leading: find the tempo and beat in the player's notes
    bar_one: str = "first_note"  # following over a chart: "first_note" sets bar 1, "start" = the session's start


@dataclass(frozen=True)
class PhraseSettings:
    gap_beats: float = 1.0  # silence (no key or pedal held) that ends a call
    end_cc: int = -1  # a CC number that ends the call at once (-1 = none)
    max_call_bars: int = 8  # a call longer than this is cut and answered
    answer_on: str = "beat"  # answer starts on the next "beat" or "bar"
    answer_bars: int = 0  # answer length in bars; 0 = as long as the call
    max_answer_bars: int = 8
    on_interrupt: str = "yield"  # player comes back while partner plays: "yield" or "overlap"
    vamp: str = "line"  # "line": the line's rest ends a call over an accompaniment going on, which never makes
    # the partner yield; "all": a call ends only when every key rests, and every note makes it yield


@dataclass(frozen=True)
class ResponderSettings:
    name: str = "model"  # "model" (learned from jazz solos) or "markov" (learns the player's phrases live)
    seed: int = -1  # -1 = a fresh seed per session
    temperature: float = 1.0
    top_p: float = 1.0
    low: int = 48  # lowest MIDI note the partner plays
    high: int = 84  # highest MIDI note the partner plays
    markov_order: int = 3  # longest context the Markov responder matches
    model: str = ""  # the phrase model's weights (a .npz from `improv export`); "" = the shipped one


@dataclass(frozen=True)
class HarmonySettings:
    chords: str = ""  # a chart such as "Dm7 G7 | Cmaj7 | %"; "" = use tune or infer live
    tune: str = ""  # a tune name (see `improv tunes`) or a .toml path


@dataclass(frozen=True)
class RecordSettings:
    enabled: bool = True
    folder: str = "sessions"


@dataclass(frozen=True)
class SynthSettings:
    device: str = ""  # audio output: index or name substring; "" = the default device
    sample_rate: int = 48000  # Hz
    block_size: int = 128  # frames per audio callback (128 at 48 kHz = 2.7 ms)
    volume: float = 0.8  # 0..1
    player_voice: str = "organ"  # "organ", "epiano" or "vibes"
    partner_voice: str = "epiano"
    polyphony: int = 32  # voices at once; one more steals the oldest or quietest
    soundfont: str = ""  # a General MIDI .sf2 file instead of the built-in voices ("" = built-in)
    # The output latency asked of the audio device: "low" or "high" (PortAudio's figures for the
    # device) or seconds, e.g. 0.005. Under JACK the server's period decides it.
    latency: str | float = "low"


@dataclass(frozen=True)
class DisplaySettings:
    view: bool = False  # a full-screen stage view (big tempo, bar:beat, chords, turn) instead of the status line


@dataclass(frozen=True)
class BandSettings:
    trade_bars: int = 0  # 0 = free call-and-response; 2, 4, 8 = trade N bars along the tune's form
    comp: bool = False  # comping chords under the solos
    bass: bool = False  # a walking bass
    comp_channel: int = 3  # 1-16
    bass_channel: int = 4  # 1-16
    comp_style: str = "rootless"  # "rootless", "shell" or "guide"
    click: bool = False  # a click on every beat (and the count-in) on its own channel
    click_channel: int = 10  # 1-16 (10 = General MIDI drums)
    comp_program: int = 5  # General MIDI program (1-128) sent on the comp's channel: 5 = electric piano 1; 0 = none
    bass_program: int = 33  # ... on the bass's: 33 = acoustic bass; 0 = none (the instrument's own sound)
    clock: str = "internal"  # "internal" (improv keeps time) or "external" (follow MIDI clock)
    clock_in: str = ""  # MIDI input of the external clock: index or name substring; "" = a virtual input "improv clock"
    send_clock: bool = False  # internal clock: send MIDI clock and Start/Stop on the outputs


@dataclass(frozen=True)
class ControlSettings:
    mode: str = ""  # each: "cc N" (a controller), "note N" (a key) or "" (none); see `improv learn`
    daring: str = ""
    temperature: str = ""
    answer_length: str = ""
    comp: str = ""
    bass: str = ""
    end_of_call: str = ""
    panic: str = ""
    tap: str = ""


@dataclass(frozen=True)
class Config:
    midi: MidiSettings = field(default_factory=MidiSettings)
    timing: TimingSettings = field(default_factory=TimingSettings)
    phrase: PhraseSettings = field(default_factory=PhraseSettings)
    responder: ResponderSettings = field(default_factory=ResponderSettings)
    harmony: HarmonySettings = field(default_factory=HarmonySettings)
    record: RecordSettings = field(default_factory=RecordSettings)
    synth: SynthSettings = field(default_factory=SynthSettings)
    embrace: EmbraceSettings = field(default_factory=EmbraceSettings)
    band: BandSettings = field(default_factory=BandSettings)
    controls: ControlSettings = field(default_factory=ControlSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)


TRAIN_SECTIONS = ("model", "train")  # a training run's config (configs/train/), given to `--config` of the jam


def _sections_with(key: str, cls: type) -> list[str]:
    """The sections of `Config` (other than `cls`) that have a key `key`: `tempo = 100` at the
    top of a file, or under [midi], is [timing]'s."""
    if cls is not Config and _SECTION_NAMES.get(cls) in (None, "controls"):  # ([controls] names actions to bind)
        return []
    return [name for name, typ in typing.get_type_hints(Config).items()
            if dataclasses.is_dataclass(typ) and typ is not cls and name != "controls"
            and key in {f.name for f in dataclasses.fields(typ)}]



def build(cls: type, data: dict, where: str, flags: dict[str, str] | None = None) -> Any:
    """Turn a (nested) dict into dataclass `cls`, rejecting unknown keys, wrong types and
    values out of range.

    Args:
        cls: `Config` or one of its sections.
        data: the values (from TOML or flags).
        where: the file (ending in ":") or flag prefix the messages name.
        flags: key -> the command-line flag that gave it, named in its error instead.

    Raises:
        ConfigError: one line naming the file or flag, the key, what was expected and found.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, found {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    section = _SECTION_NAMES.get(cls, "")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            if cls is Config and isinstance(value, dict) and key in TRAIN_SECTIONS:
                raise ConfigError(f"{where.removesuffix(':')}: [{key}] is a section of a training run's config "
                                  "(`improv train --config`), not of the settings; give a settings file (see "
                                  "configs/default.toml)")
            home = _sections_with(key, cls) if not (cls is Config and isinstance(value, dict)) else []
            hint = f", it goes under {' or '.join(f'[{h}]' for h in home)}" if home else did_you_mean(key, names)
            raise ConfigError(f"{where.removesuffix(':')}: unknown key {key!r}{hint} "
                              f"(known: {', '.join(sorted(names))})")
        typ = hints[key]
        sub = f"{where} {key}" if where.endswith(":") else (f"{where}.{key}" if where else key)
        if flags and key in flags:
            sub = f"{flags[key]} ({section}.{key})"
        if dataclasses.is_dataclass(typ):
            kwargs[key] = build(typ, value, sub)
        else:
            kwargs[key] = check_value(sub, as_written(section, key, value, sub), typ)
            check_key(section, key, kwargs[key], sub)
    try:
        obj = cls(**kwargs)  # (a section may check itself: the embrace settings do)
    except ConfigError as e:
        source = where.split(":", 1)[0] if ":" in where else ""
        if source and not str(e).startswith(source):
            raise ConfigError(f"{source}: {e}") from None  # name the file the value came from
        raise
    if section:
        check_section(section, obj, where, flags)
    if cls is Config:
        _check_config(obj, where.removesuffix(":"))
    return obj


def _check_config(cfg: Config, where: str) -> None:
    """The rules that tie keys of different sections together (raises ConfigError naming
    both keys): every MIDI channel in use is its own, and the controller that ends a call
    is bound to nothing else."""
    b = cfg.band
    band_on = b.comp or b.bass or b.click
    used = [("midi.player_channel", cfg.midi.player_channel), ("midi.partner_channel", cfg.midi.partner_channel)]
    counts_in = b.trade_bars > 0 and b.clock != "external"  # trading's count-in clicks, on improv's own clock
    for part in ("comp", "bass", "click"):  # on, or to be switched on by a live control while the band plays
        if getattr(b, part) or (band_on and getattr(cfg.controls, part, "")) or (part == "click" and counts_in):
            used.append((f"band.{part}_channel", getattr(b, f"{part}_channel")))
    for i, (key, ch) in enumerate(used):
        for other, other_ch in used[:i]:
            if ch == other_ch:
                why = " (trading counts in with the click)" if key == "band.click_channel" and not b.click else ""
                raise ConfigError(f"{where}: {other} and {key} are both {ch}{why}: the two parts would play on one "
                                  "channel; give each its own")
    if cfg.phrase.end_cc >= 0:
        from improv.core.listen.controls import ACTIONS, parse_binding

        for action in ACTIONS:
            text = getattr(cfg.controls, action)
            if text and parse_binding(text) == ("cc", cfg.phrase.end_cc):
                raise ConfigError(f"{where}: phrase.end_cc and controls.{action} are both CC {cfg.phrase.end_cc}: "
                                  "one controller would do both; give them different controllers")


def was_set(cfg: Config, section: str, key: str) -> bool:
    """True if the config file `cfg` was read from set `[section] key` (even to its default
    value); False for a default. Flags are the commands' to ask about (their args)."""
    return f"{section}.{key}" in getattr(cfg, "_from_file", ())


def load_config(path: str | Path | list[str | Path] | None = None) -> Config:
    """Read a TOML config; missing keys take the dataclass defaults. None -> all defaults.

    `path` may be a list (`--config` given more than once, e.g. a preset then your own
    file): each file is laid over the ones before it, as flags are laid over a file, and a
    bad value is named with the file that gave it.
    """
    if path is None:
        return Config()
    if isinstance(path, (list, tuple)):
        cfg = Config()
        for one in path:
            cfg = _load_over(cfg, one)
        return cfg
    return _load_over(Config(), path)


def _load_over(base: Config, path: str | Path) -> Config:
    """The config file `path` laid over the settings `base` (the defaults, or the files given
    before it): its keys replace theirs; a chart it gives replaces their tune and the other
    way round, as --chords and --tune do."""
    data = _beside_config(Path(path).parent, _home_expanded(read_toml(path, "config file",
                                                                      "pass an existing .toml file (see configs/)")))
    merged: dict[str, Any] = {name: dataclasses.asdict(getattr(base, name)) for name in _SECTION_NAMES.values()}
    for section, table in data.items():
        merged[section] = {**merged[section], **table} if section in merged and isinstance(table, dict) else table
    harmony = data.get("harmony") if isinstance(data.get("harmony"), dict) else {}
    for mine, theirs in (("chords", "tune"), ("tune", "chords")):
        if harmony.get(mine) and theirs not in harmony and isinstance(merged.get("harmony"), dict):
            merged["harmony"] = {**merged["harmony"], theirs: ""}
    cfg = build(Config, merged, f"{path}:")
    if cfg.harmony.chords and cfg.harmony.tune:
        raise ConfigError(f"{path}: harmony.chords and harmony.tune are both set: give one (chords for a chart of "
                          "your own, tune for a shipped or .toml tune)")
    if cfg.harmony.chords:  # read now, so that a bad symbol names the file and the key, as a tune file's does
        from improv.core.theory.chart import parse_chart

        try:
            parse_chart(cfg.harmony.chords, cfg.timing.beats_per_bar)
        except ChordError as e:
            raise ConfigError(f"{path}: harmony.chords: {e}") from None
    given = frozenset(f"{section}.{key}" for section, table in data.items() if isinstance(table, dict) for key in table)
    object.__setattr__(cfg, "_from_file", given | getattr(base, "_from_file", frozenset()))  # (`was_set`; no setting)
    return cfg


FILE_KEYS = (("harmony", "tune"), ("responder", "model"), ("synth", "soundfont"))  # settings that name a file to read


def _home_expanded(data: dict) -> dict:
    """The file settings (`FILE_KEYS`) and the record folder with a leading `~` taken as the
    home folder, as the shell takes it in a flag: in a file nothing expanded it, so a tune
    or SoundFont at "~/..." was not found, and `folder = "~/sessions"` recorded into a
    folder named "~" in the current one."""
    for section, key in (*FILE_KEYS, ("record", "folder")):
        table = data.get(section)
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, str) and value.startswith("~"):
            data = {**data, section: {**table, key: os.path.expanduser(value)}}
    return data


def _beside_config(folder: Path, data: dict) -> dict:
    """The file settings (`FILE_KEYS`) of a config in `folder`: a relative path that is not
    there from the current folder but is beside the config file is taken from there (a
    preset shared with its tune: `tune = "waltz.toml"` next to it works from anywhere)."""
    for section, key in FILE_KEYS:
        table = data.get(section)
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, str) and value and not Path(value).is_absolute() and not Path(value).exists() \
                and (folder / value).exists():
            data = {**data, section: {**table, key: str(folder / value)}}
    return data


def override(config: Config, section: str, flags: dict[str, str] | None = None, **values: Any) -> Config:
    """A copy of `config` with some keys of one section replaced (None values are skipped),
    checked as a file's values are.

    Args:
        config: the settings so far.
        section: e.g. "timing".
        flags: key -> the command-line flag that gave it (named in errors), e.g.
            {"tempo": "--tempo"}.
        **values: the keys to replace.

    Raises:
        ConfigError: a value out of range or of the wrong type (one line).
    """
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return config
    current = getattr(config, section)
    where = f"--{section}"
    flags = {k: v for k, v in (flags or {}).items() if k in values}
    checked = build(type(current), {**dataclasses.asdict(current), **values}, where, flags)
    new = dataclasses.replace(config, **{section: checked})
    _check_config(new, ", ".join(flags.values()) or where)  # (a clash made by a flag names it)
    if hasattr(config, "_from_file"):
        object.__setattr__(new, "_from_file", config._from_file)  # type: ignore[attr-defined]
    return new


def check_flag(flag: str, value: float | None, bounds: tuple[float, float], unit: str = "") -> float | None:
    """A command's own numeric flag (one that is not a config key, e.g. `--duration`),
    checked like a config value; None (not given) passes.

    Raises:
        ConfigError: "--flag: expected lo to hi unit, found x" (NaN and infinities too).
    """
    if value is None:
        return None
    return float(limits.check_range(flag, value, bounds, unit))


_SECTION_NAMES: dict[type, str] = {typ: name for name, typ in typing.get_type_hints(Config).items()}


def to_toml(obj: Any, prefix: str = "") -> str:
    """Write a config dataclass as TOML that `load_config` reads back to an equal value."""
    lines: list[str] = []
    tables: list[str] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            name = f"{prefix}{f.name}"
            tables.append(f"[{name}]\n" + to_toml(value, name + "."))
        else:
            lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines + ([""] if lines and tables else []) + tables) + ("\n" if lines else "")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)
