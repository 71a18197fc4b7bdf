import queue

import pytest

from improv.config import Config, load_config
from improv.live.controls import ControlMap, learn_next, parse_binding, write_binding
from improv.errors import ConfigError


def test_bindings_parse():
    assert parse_binding("cc 20") == ("cc", 20) and parse_binding(" Note 36 ") == ("note", 36)
    assert parse_binding("") is None
    for bad in ("cc", "cc 200", "knob 3"):
        with pytest.raises(ConfigError, match="expected"):
            parse_binding(bad)


def test_map_fires_actions():
    m = ControlMap({"daring": "cc 20", "comp": "note 36", "panic": "cc 64", "bass": ""})
    assert m.event([0xB0, 20, 127]).value == 1.0 and m.event([0xB3, 20, 0]).action == "daring"
    assert m.event([0x90, 36, 100]).action == "comp" and m.event([0x90, 36, 0]) is None
    assert m.event([0xB0, 64, 127]).action == "panic" and m.event([0xB0, 64, 0]) is None
    assert m.event([0x90, 60, 100]) is None and not m.bound([0x90, 60, 100]) and m.bound([0x80, 36, 0])
    with pytest.raises(ConfigError, match="both"):
        ControlMap({"comp": "cc 1", "bass": "cc 1"})
    assert ControlMap.from_settings(Config().controls).event([0xB0, 1, 1]) is None


def test_learn_writes_the_next_control_to_toml(tmp_path):
    q = queue.Queue()
    q.put((0.0, [0xF8]))
    q.put((0.1, [0xB0, 21, 5]))
    assert learn_next(q, 0.5) == "cc 21"
    assert learn_next(q, 0.05) is None
    path = tmp_path / "mine.toml"
    path.write_text('[timing]\ntempo = 140.0\n\n[controls]\nbass = "cc 21"\n')
    write_binding(path, "comp", "cc 21")
    write_binding(path, "panic", "note 108")
    cfg = load_config(path)
    assert cfg.timing.tempo == 140.0 and cfg.controls.comp == "cc 21" and cfg.controls.bass == ""
    assert cfg.controls.panic == "note 108"
