import argparse
import tomllib
from pathlib import Path

import pytest

from improv.config import Config, build, load_config, override, to_toml
from improv.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_round_trip_through_toml():
    cfg = Config()
    assert build(Config, tomllib.loads(to_toml(cfg)), "x:") == cfg


def test_shipped_presets_load():
    presets = sorted((ROOT / "configs").glob("*.toml"))
    assert presets, "configs/default.toml is missing"
    for p in presets:
        load_config(p)
    # default.toml holds every setting, and its values are the dataclass defaults
    assert load_config(ROOT / "configs" / "default.toml") == Config()
    text = (ROOT / "configs" / "default.toml").read_text()
    assert to_toml(Config()).count(" = ") == sum(1 for line in text.splitlines() if " = " in line and not line.lstrip().startswith("#"))


@pytest.mark.parametrize("name", ["ballad", "uptempo"])
def test_each_preset_holds_only_what_differs_and_plays(name):
    """A preset's header says it holds only the keys that differ from default.toml (uptempo's
    temperature = 1.0 did not); and it loads into the jam's settings, its tune found."""
    from improv.cli import build_parser
    from improv.commands.jam import checked_settings

    path = ROOT / "configs" / f"{name}.toml"
    assert "Only the keys that differ" in path.read_text()
    data, defaults = tomllib.loads(path.read_text()), Config()
    same = [f"{section}.{key}" for section, table in data.items() for key, value in table.items()
            if getattr(getattr(defaults, section), key) == value]
    assert not same, f"{path.name} sets the default {same}"
    cfg, chart = checked_settings(build_parser("jam").parse_args(["jam", "--config", str(path), "--no-record"]))
    assert chart is not None and cfg.timing.tempo == data["timing"]["tempo"]
    assert (cfg.timing.tempo < 80) if name == "ballad" else (cfg.timing.tempo > 200)


def test_unknown_key_names_file_and_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[timing]\ntempo = 100\ntempoo = 3\n")
    with pytest.raises(ConfigError, match=r"bad.toml.*timing.*'tempoo'"):
        load_config(p)


def test_a_key_named_as_its_flag_is_pointed_to_the_settings_name(tmp_path):
    """`[phrase] gap = 0.5`, as `--gap` is spelt, said only "unknown key 'gap'": the key is gap_beats."""
    p = tmp_path / "bad.toml"
    p.write_text("[phrase]\ngap = 0.5\n")
    with pytest.raises(ConfigError, match=r"bad.toml: phrase: unknown key 'gap', did you mean 'gap_beats' "
                                          r"\(what --gap sets\)\?"):
        load_config(p)


@pytest.mark.parametrize("section, key, value, setting, flag", [
    ("phrase", "bars", "2", "answer_bars", "--bars"),
    ("timing", "time", "3", "beats_per_bar", "--time"),
    ("midi", "in", '"keys"', "input", "--in"),
    ("midi", "virtual-out", '"p"', "virtual_out", "--virtual-out"),
    ("record", "record", '"takes"', "folder", "--record"),
    ("responder", "responder", '"markov"', "name", "--responder"),
])
def test_any_key_spelt_as_a_flag_is_pointed_to_the_setting_that_flag_sets(tmp_path, section, key, value, setting,
                                                                          flag):
    """`[phrase] bars = 2` and `[timing] time = 3` (as --bars and --time are spelt) got no hint at all:
    the settings are answer_bars and beats_per_bar, too far from the flags' names for a spelling match."""
    p = tmp_path / "bad.toml"
    p.write_text(f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=rf"bad.toml: {section}: unknown key '{key}', did you mean '{setting}' "
                                          rf"\(what {flag} sets\)\?"):
        load_config(p)


def test_wrong_type_names_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[timing]\ntempo = "fast"\n')
    with pytest.raises(ConfigError, match=r"timing.tempo: expected a number, found 'fast'"):
        load_config(p)


def test_choices_checked():
    with pytest.raises(ConfigError, match="answer_on"):
        override(Config(), "phrase", answer_on="bars")


def test_override_ignores_none_and_coerces_ints():
    cfg = override(Config(), "timing", tempo=90, swing=None)
    assert cfg.timing.tempo == 90.0 and isinstance(cfg.timing.tempo, float)
    assert cfg.timing.swing == Config().timing.swing


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    p = tmp_path / "x.toml"
    p.write_text("[timing\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


# --- every value checked, once, here -----------------------------------------------------------


@pytest.mark.parametrize("section, key, value, match", [
    ("timing", "tempo", 1e9, "20 to 600 bpm, found 1e\\+09"),
    ("timing", "tempo", float("inf"), "found inf"),
    ("timing", "tempo", 0.0, "found 0"),
    ("timing", "swing", float("inf"), "swing"),
    ("timing", "swing", float("nan"), "found nan"),
    ("timing", "beats_per_bar", 0, "beats_per_bar"),
    ("timing", "spin_ms", -5.0, "spin_ms: expected 0 to 20 ms, found -5"),
    ("timing", "late_threshold_ms", float("nan"), "late_threshold_ms"),
    ("phrase", "gap_beats", float("nan"), "gap_beats"),
    ("phrase", "gap_beats", -1.0, "gap_beats"),
    ("phrase", "answer_bars", -3, "answer_bars: expected 0 to 64"),
    ("phrase", "max_call_bars", 0, "max_call_bars"),
    ("phrase", "end_cc", 128, "end_cc"),
    ("phrase", "vamp", "left", "phrase.vamp: expected one of .line., .all., found .left."),
    ("responder", "temperature", -1.0, "temperature"),
    ("responder", "temperature", float("nan"), "temperature"),
    ("responder", "top_p", 0.0, "top_p"),
    ("responder", "name", "gpt", "'model', 'markov'"),
    ("responder", "low", 128, "low"),
    ("responder", "seed", -2, "seed"),
    ("midi", "player_channel", 0, "player_channel: expected 1 to 16, found 0"),
    ("midi", "partner_channel", 17, "partner_channel"),
    ("midi", "virtual_in", "", "virtual_in"),
    ("midi", "virtual_in", "a\x00b", "control characters"),
    ("band", "comp_channel", 0, "comp_channel: expected 1 to 16"),
    ("band", "click_channel", 17, "click_channel"),
    ("band", "bass_program", 129, "bass_program: expected 0 to 128"),
    ("band", "comp_program", -1, "comp_program"),
    ("band", "trade_bars", 3, "trade_bars"),
    ("synth", "volume", 2.0, "volume"),
    ("synth", "block_size", 4, "block_size"),
    ("record", "folder", "  ", "folder"),
    ("controls", "tap", "knob 3", "controls.tap"),
])
def test_values_out_of_range_are_refused_naming_the_key(section, key, value, match):
    with pytest.raises(ConfigError, match=match) as e:
        override(Config(), section, **{key: value})
    assert "\n" not in str(e.value)


def test_keys_that_belong_together_are_checked_together():
    with pytest.raises(ConfigError, match=r"low \(90\) is above high \(60\)"):
        override(Config(), "responder", low=90, high=60)
    assert override(Config(), "responder", low=60, high=60).responder.low == 60
    with pytest.raises(ConfigError, match="answer_bars .* more than max_answer_bars"):
        override(Config(), "phrase", answer_bars=12)
    with pytest.raises(ConfigError, match="comp_channel and bass_channel are both 5"):
        override(Config(), "band", comp=True, bass=True, comp_channel=5, bass_channel=5)
    # parts that are off may share a channel: nothing plays on it twice
    assert override(Config(), "band", comp=True, comp_channel=5, bass_channel=5).band.comp_channel == 5
    with pytest.raises(ConfigError, match="bound to both"):
        override(Config(), "controls", tap="note 40", panic="note 40")
    with pytest.raises(ConfigError, match="player_channel and partner_channel are both 2"):
        override(Config(), "midi", player_channel=2)


@pytest.mark.parametrize("text, says", [
    ("[nosuch]\nx = 1\n", "unknown key 'nosuch'"),  # the file named once, not "x.toml::"
    ("[embrace]\nstrength = 5.0\n", "embrace.strength"),  # a section that checks itself
])
def test_a_bad_file_value_is_named_with_the_file_once(tmp_path, text, says):
    p = tmp_path / "x.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}: {says}")


def test_a_file_value_is_named_with_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[band]\ncomp_channel = 0\n")
    with pytest.raises(ConfigError, match=r"bad.toml: band.comp_channel: expected 1 to 16, found 0"):
        load_config(p)
    p.write_text("[timing]\nspin_ms = -5\n")
    with pytest.raises(ConfigError, match="spin_ms"):
        load_config(p)
    p.write_text("[timing]\ntempo = nan\n")
    with pytest.raises(ConfigError, match="tempo.*found nan"):
        load_config(p)


def test_a_flag_value_is_named_with_the_flag():
    with pytest.raises(ConfigError, match=r"^--tempo \(timing.tempo\): expected 20 to 600 bpm, found inf$"):
        override(Config(), "timing", {"tempo": "--tempo"}, tempo=float("inf"))


CALL = Path(__file__).resolve().parent.parent / "examples" / "demo_calls.mid"


@pytest.mark.parametrize("flags", [
    ["--swing", "inf"], ["--tempo", "1e9"], ["--tempo", "inf"], ["--tempo", "nan"], ["--bars", "-3"],
    ["--temperature", "-1"], ["--temperature", "nan"], ["--seed", "-5"],
])
def test_every_command_refuses_what_jam_refuses(flags, capsys, tmp_path):
    """jam, respond and render take the same shared flags through the same checks: the same
    bad value gives the same one line and exit 2 everywhere, before any work."""
    from improv.cli import main

    commands = {
        "jam": ["jam", "--no-record", "--duration", "0"],
        "respond": ["respond", str(CALL), "-o", str(tmp_path / "a.mid"), "--responder", "markov"],
    }
    lines = {}
    for name, argv in commands.items():
        assert main(argv + flags) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, (name, err)
        lines[name] = err.split(": ", 1)[1]
    assert lines["jam"] == lines["respond"]


@pytest.mark.parametrize("command, flags", [
    ("jam", ["--gap", "nan"]), ("jam", ["--gap", "-1"]), ("jam", ["--duration", "nan"]),
    ("jam", ["--duration", "-1"]), ("render", ["--tail", "inf"]), ("play", ["--from", "nan"]),
    ("play", ["--from", "-1"]), ("play", ["--from", "3600"]), ("demo", ["--duration", "nan"]),
    ("respond", ["--chords", " "]), ("jam", ["--tune", " "]),
    ("learn", ["--timeout", "nan"]),
])
def test_command_flags_of_their_own_are_checked_too(command, flags, capsys, tmp_path):
    from improv.cli import main

    argv = ([command, *flags] if command in ("jam", "demo") else ["learn", "comp", *flags] if command == "learn"
            else [command, str(CALL), "-o", str(tmp_path / "a.mid"), *flags] if command == "respond"
            else [command, str(CALL), *flags])
    if command == "jam":
        argv += ["--no-record"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"improv {command}: {flags[0]}"), err


def test_a_bad_config_file_is_refused_by_every_command(tmp_path, capsys):
    from improv.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text("[responder]\nlow = 90\nhigh = 60\n")
    for argv in (["jam", "--no-record"], ["respond", str(CALL), "-o", str(tmp_path / "a.mid")],
                 ["render", str(CALL), "-o", str(tmp_path / "a.wav")], ["play", str(CALL)], ["recover", str(tmp_path)]):
        assert main([*argv, "--config", str(bad)]) == 2, argv
        assert "low (90) is above high (60)" in capsys.readouterr().err


@pytest.mark.parametrize("body, says", [
    ('[controls]\ndaring = "cc 300"\n', "controls.daring: expected \"cc N\""),
    ('[controls]\ndaring = "cc 20"\ntemperature = "cc 20"\n', "controls: cc 20 is bound to both daring and temperature"),
])
def test_a_bad_binding_in_a_config_file_names_the_file(tmp_path, body, says):
    """Two config errors said the key but not the file they came from."""
    path = tmp_path / "mine.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: ") and says in str(e.value), str(e.value)


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path):
    p = tmp_path / "notepad.toml"
    p.write_bytes(b"\xef\xbb\xbf[timing]\ntempo = 100\n")
    assert load_config(p).timing.tempo == 100


def test_a_config_setting_both_chords_and_a_tune_is_refused_naming_both(tmp_path):
    p = tmp_path / "both.toml"
    p.write_text('[harmony]\nchords = "C7"\ntune = "blues-f"\n')
    with pytest.raises(ConfigError, match=r"both.toml: harmony.chords and harmony.tune are both set: give one"):
        load_config(p)


def test_a_folder_given_as_the_config_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"is a folder: give the .toml file in it"):
        load_config(tmp_path)


def test_a_folder_given_as_the_config_says_so_on_windows_too(tmp_path, monkeypatch):
    """Windows opens a folder with PermissionError, not IsADirectoryError: `--config sessions`
    there said 'permission denied; check the file's permissions'."""
    read_bytes = Path.read_bytes

    def as_windows(self):
        if self.is_dir():
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", as_windows)
    with pytest.raises(ConfigError, match=r"is a folder: give the .toml file in it"):
        load_config(tmp_path)


def test_a_bad_chord_in_a_config_file_names_the_file_and_the_key(tmp_path):
    """It said only "bar 1: cannot read chord symbol 'Xm7'", where a tune file's names itself."""
    p = tmp_path / "mine.toml"
    p.write_text('[harmony]\nchords = "Dm7 | Xm7 G7"\n')
    with pytest.raises(ConfigError, match=r"mine.toml: harmony.chords: bar 2: cannot read chord symbol 'Xm7'") as e:
        load_config(p)
    assert "\n" not in str(e.value)


def test_a_tab_in_chords_is_a_space_and_a_bad_chart_names_the_flag():
    from improv.commands.common import settings_from_args

    args = argparse.Namespace(chords="C7\tF7", tune=None)
    assert settings_from_args(args).harmony.chords == "C7 F7"
    with pytest.raises(ConfigError, match=r"^--chords \(harmony.chords\): control characters"):
        settings_from_args(argparse.Namespace(chords="C7\x07", tune=None))


def test_a_folder_given_as_the_model_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"--model .*: that is a folder; give the .npz file"):
        override(Config(), "responder", {"model": "--model"}, model=str(tmp_path), name="model")


def test_a_file_that_is_not_weights_is_refused_before_anything_opens(tmp_path):
    """A text file (or any non-.npz) given as the model: refused with the settings, so the
    jam's first line is not the synth's or a port's before the partner fails in its process."""
    import zipfile

    text, other_zip = tmp_path / "notes.npz", tmp_path / "other.npz"
    text.write_text("not weights\n")
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("a.npy", b"")
    for bad in (text, other_zip):
        with pytest.raises(ConfigError, match=r"^--model .*: not improv weights"):
            override(Config(), "responder", {"model": "--model"}, model=str(bad), name="model")
    shipped = ROOT / "models" / "improv-phrase-v2.npz"
    assert override(Config(), "responder", {"model": "--model"}, model=str(shipped), name="model").responder.model


def test_files_a_config_names_are_found_beside_it_from_any_folder(tmp_path, monkeypatch):
    """`tune = "waltz.toml"` in cfg/mine.toml, with waltz.toml beside it: from any other
    folder the tune was looked for in the current one and not found."""
    from improv.config import load_config

    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    (cfg_dir / "waltz.toml").write_text('title = "Waltz"\nbeats_per_bar = 3\nchords = "C | G7 | C | C"\n')
    (cfg_dir / "mine.toml").write_text('[harmony]\ntune = "waltz.toml"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(cfg_dir / "mine.toml").harmony.tune == str(cfg_dir / "waltz.toml")
    (elsewhere / "waltz.toml").write_text('title = "Mine"\nchords = "F"\n')  # one in the current folder comes first
    assert load_config(cfg_dir / "mine.toml").harmony.tune == "waltz.toml"
    (cfg_dir / "named.toml").write_text('[harmony]\ntune = "blues-f"\n')  # a shipped tune's name stays a name
    assert load_config(cfg_dir / "named.toml").harmony.tune == "blues-f"


def test_sixteen_beats_a_bar_is_the_most_a_config_takes():
    """A 16/4 bar (a slow vamp counted in one) is accepted; 17 is refused naming the key."""
    assert override(Config(), "timing", beats_per_bar=16).timing.beats_per_bar == 16
    assert override(Config(), "timing", beats_per_bar=1).timing.beats_per_bar == 1
    with pytest.raises(ConfigError, match="beats_per_bar: expected 1 to 16 beats, found 17"):
        override(Config(), "timing", beats_per_bar=17)


def test_a_path_from_home_in_a_config_file_is_the_home_folder(tmp_path, monkeypatch):
    """`tune = "~/tunes/waltz.toml"` in a config: the shell expands a flag's ~, nothing
    expanded a file's, so the tune (model, SoundFont) was not found, and `folder =
    "~/sessions"` recorded into a folder named "~" in the current one."""
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    (home / "tunes").mkdir(parents=True)
    elsewhere.mkdir()
    (home / "tunes" / "waltz.toml").write_text('title = "Waltz"\nbeats_per_bar = 3\nform = ["A"]\n[sections]\nA = "C | G7"\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(elsewhere)
    cfg_file = tmp_path / "mine.toml"
    cfg_file.write_text('[harmony]\ntune = "~/tunes/waltz.toml"\n[record]\nfolder = "~/sessions"\n')
    cfg = load_config(cfg_file)
    assert cfg.harmony.tune == str(home / "tunes" / "waltz.toml")
    assert cfg.record.folder == str(home / "sessions")
    from improv.commands.common import chart_from_config

    assert chart_from_config(cfg).beats_per_bar == 3
    cfg_file.write_text('[synth]\nsoundfont = "~/gm.sf2"\n')  # (a missing one is named as the user wrote it)
    with pytest.raises(ConfigError, match="no such SoundFont file"):
        load_config(cfg_file)


def test_a_config_not_saved_as_utf8_says_to_save_it_as_utf8(tmp_path):
    """A config saved as Latin-1 (an accented letter in a comment) or as UTF-16 was "not a
    text file: pass an existing .toml file", of the file that was there; a binary file is
    still no text file."""
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes("[timing]\n# café\ntempo = 100\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml is not UTF-8 text \(line 2 has the byte 0xe9.*save it again "
                                          r"as UTF-8") as e:
        load_config(latin1)
    assert "existing" not in str(e.value)
    latin1.write_bytes(b"\xef\xbb\xbf" + "[timing]\n# café\ntempo = 100\n".encode("latin-1"))  # after a BOM
    with pytest.raises(ConfigError, match=r"line 2 has the byte 0xe9"):
        load_config(latin1)
    utf16 = tmp_path / "notepad.toml"
    utf16.write_bytes("[timing]\ntempo = 100\n".encode("utf-16"))  # (Notepad's "Unicode" is read)
    assert load_config(utf16).timing.tempo == 100
    utf16.write_bytes("[timing]\ntempo = 100\n".encode("utf-16") + b"\x00")  # (cut mid-character)
    with pytest.raises(ConfigError, match=r"notepad.toml is saved as UTF-16 and damaged: save it again as UTF-8"):
        load_config(utf16)
    with pytest.raises(ConfigError, match=r"demo_calls.mid is not a text file"):
        load_config(ROOT / "examples" / "demo_calls.mid")


def test_a_second_config_file_is_laid_over_the_first(tmp_path, capsys):
    """`--config configs/ballad.toml --config mine.toml` (a preset, then your knobs): the
    first file was dropped without a word, argparse keeping the last. Each file's keys now
    replace those before it; flags still come last; a bad value names its own file."""
    from improv.cli import build_parser, main
    from improv.commands.jam import jam_settings, tempo_asked

    mine = tmp_path / "mine.toml"
    mine.write_text('[controls]\ntap = "note 36"\n[timing]\nswing = 2.0\n')
    preset = str(ROOT / "configs" / "ballad.toml")
    args = build_parser("jam").parse_args(["jam", "--config", preset, "--config", str(mine), "--daring", "0.9"])
    cfg = jam_settings(args)
    assert cfg.controls.tap == "note 36" and cfg.timing.swing == 2.0  # mine
    assert cfg.timing.tempo == 66.0 and cfg.harmony.tune == "ballad-eb" and cfg.band.comp  # the preset's
    assert cfg.embrace.daring == 0.9 and tempo_asked(cfg, args)  # the flag; the preset's tempo is asked for
    mine.write_text('[harmony]\nchords = "Cmaj7 | A7"\n')  # a chart of mine over the preset's tune
    cfg = load_config([preset, mine])
    assert cfg.harmony.chords == "Cmaj7 | A7" and cfg.harmony.tune == ""
    mine.write_text("[responder]\nhigh = 50\n")  # under the preset's low = 52
    assert main(["jam", "--no-record", "--config", preset, "--config", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"improv jam: {mine}: ") and "low (52) is above high (50)" in err and err.count("\n") == 1


def test_a_training_config_given_as_the_settings_says_so(capsys):
    """`improv jam --config configs/train/shipped.toml` said "unknown key 'model', it goes
    under [responder]": a training run's [model] section taken for the weights file's key."""
    from improv.cli import main

    assert main(["jam", "--no-record", "--config", str(ROOT / "configs" / "train" / "shipped.toml")]) == 2
    err = capsys.readouterr().err
    assert "[model] is a section of a training run's config (`improv train --config`)" in err, err
    assert "[responder]" not in err and err.count("\n") == 1
