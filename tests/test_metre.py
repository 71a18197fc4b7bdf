"""A time signature read alike by `--time`, a tune file's and a config file's `beats_per_bar`."""

import argparse

import pytest

from improv.commands.common import metre
from improv.config import load_config
from improv.core.theory.chart import tune_from_dict
from improv.core.theory.metre import metre_beats
from improv.errors import ConfigError

READ = [("4/4", 4), ("3/4", 3), ("2/4", 2), ("5/4", 5), ("3", 3), (" 7/4 ", 7)]
# (text, what --time's refusal says to give, what a file's says)
REFUSED = [("2/2", "--time 4/4 (the default)", "beats_per_bar = 4 (the default)"),
           ("cut", "--time 4/4 (the default)", "beats_per_bar = 4 (the default)"),
           ("alla breve", "--time 4/4 (the default)", "beats_per_bar = 4 (the default)"),
           ("3/2", "--time 6/4", "beats_per_bar = 6"), ("6/8", "plays as --time 3/4", "plays as beats_per_bar = 3"),
           ("12/8", "12/8 as --time 4/4", "12/8 as beats_per_bar = 4"), ("waltz", "such as 3/4", "such as 3/4")]


def _tune(value):
    return tune_from_dict({"title": "T", "beats_per_bar": value, "bars": "C | F"}, "t.toml")


def _config(tmp_path, value):
    path = tmp_path / "c.toml"
    path.write_text(f"[timing]\nbeats_per_bar = {value!r}\n".replace("'", '"'))
    return load_config(path)


@pytest.mark.parametrize("text, beats", READ)
def test_a_time_signature_is_quarter_note_beats_wherever_it_is_given(text, beats, tmp_path):
    """A tune file's `beats_per_bar = 2` played in 2/4, where `--time` took only text and a
    file only a number: a chart's "3/4" copied into a tune file was refused as no whole number."""
    assert metre_beats(text) == metre(text) == beats
    assert _tune(text).beats_per_bar == beats and _config(tmp_path, text).timing.beats_per_bar == beats


def test_two_four_is_two_beats_in_a_tune_file_as_on_the_command_line(tmp_path):
    assert _tune(2).beats_per_bar == _tune("2/4").beats_per_bar == metre("2/4") == 2
    assert _config(tmp_path, 2).timing.beats_per_bar == 2


@pytest.mark.parametrize("text, cli_says, file_says", REFUSED)
def test_cut_time_and_eighths_are_refused_alike_naming_what_to_give(text, cli_says, file_says, tmp_path):
    """`--time 2/2` was refused naming the bar in quarters and the tempo to give, while a tune
    file's "2/2" was told only that it is no whole number: now each place says it in its own
    words (`--time 4/4`, `beats_per_bar = 4`), in one line."""
    with pytest.raises(argparse.ArgumentTypeError) as cli:
        metre(text)
    with pytest.raises(ConfigError) as tune:
        _tune(text)
    with pytest.raises(ConfigError) as cfg:
        _config(tmp_path, text)
    for e, says in ((cli, cli_says), (tune, file_says), (cfg, file_says)):
        msg = str(e.value)
        assert repr(text) in msg and says in msg and "\n" not in msg, msg
    assert str(tune.value).startswith("t.toml: beats_per_bar ") and "timing.beats_per_bar" in str(cfg.value)
    if text in ("2/2", "cut"):
        for e, tempo, two in ((cli, "--tempo 300", "--time 2/4"), (tune, "tempo = 300", "beats_per_bar = 2")):
            assert tempo in str(e.value) and f"a tune in two quarter-note beats is {two}" in str(e.value)
