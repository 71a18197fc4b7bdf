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


def test_unknown_key_names_file_and_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[timing]\ntempo = 100\ntempoo = 3\n")
    with pytest.raises(ConfigError, match=r"bad.toml.*timing.*'tempoo'"):
        load_config(p)


def test_wrong_type_names_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[timing]\ntempo = "fast"\n')
    with pytest.raises(ConfigError, match=r"timing.tempo: expected float"):
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
