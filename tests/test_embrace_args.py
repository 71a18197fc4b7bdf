"""The shared --outside / --daring / --explain / --explain-json flags, and the jam's --mode free|trade."""

import argparse
import io
import json

import pytest

from improv.commands.embrace_args import add_embrace_args, embrace_settings_from_args, report_plans
from improv.config import Config, override
from improv.errors import ConfigError
from improv.core.theory.chart import parse_chart
from improv.core.embrace.plan import plan_answer
from improv.core.embrace.strategies import EmbraceSettings
from improv.core.theory.notes import Phrase


def parse(argv):
    p = argparse.ArgumentParser()
    add_embrace_args(p)
    return p.parse_args(argv)


def test_flags_override_the_config():
    cfg = override(Config(), "embrace", daring=0.2, mode="guide")
    assert embrace_settings_from_args(parse([]), cfg) == cfg.embrace
    s = embrace_settings_from_args(parse(["--outside", "off", "--daring", "0.9"]), cfg)
    assert (s.mode, s.daring) == ("off", 0.9)


def test_bad_values_are_rejected(capsys):
    for argv in (["--outside", "fix"], ["--mode", "fix"], ["--daring", "2"], ["--daring", "lots"], ["--daring", "nan"]):
        with pytest.raises(SystemExit):
            parse(argv)
    assert "0 to 1" in capsys.readouterr().err


def test_explain_and_json(tmp_path):
    chart = parse_chart("Cmaj7 | Dm7 | G7 | Cmaj7")
    call = Phrase.of([(61, 0, 2), (64, 2, 0.5), (62, 2.5, 0.5), (67, 3, 1)])
    plan = plan_answer(call, chart, 4.0, 8.0, EmbraceSettings(strategies=("echo",)), 0)
    out = io.StringIO()
    path = tmp_path / "why.json"
    report_plans(parse(["--explain", "--explain-json", str(path)]), [plan], chart, out)
    assert out.getvalue().startswith("bar 1: heard C# over Cmaj7 (outside, long, beat 1) -> echo: answer starts on C#")
    (rec,) = json.loads(path.read_text())
    assert rec["strategy"] == "echo" and rec["pitch"] == 61 and rec["substitute"] is None
    out = io.StringIO()
    report_plans(parse(["--explain"]), [], chart, out)
    assert "no outside note handled" in out.getvalue()


# --- one question per flag: --outside and --mode free|trade; the old spellings for a release


def jam_args(argv):
    from improv.cli import build_parser

    return build_parser("jam").parse_args(["jam", *argv])


def test_outside_sets_the_outside_note_mode(capsys):
    s = embrace_settings_from_args(parse(["--outside", "guide", "--daring", "0.3"]), Config())
    assert (s.mode, s.daring) == ("guide", 0.3)
    assert capsys.readouterr().err == ""
    with pytest.raises(SystemExit):
        parse(["--outside", "trade"])
    assert embrace_settings_from_args(parse(["--outside", "Guide"]), Config()).mode == "guide"  # (as --mode takes it)


def test_the_old_mode_spelling_still_works_and_says_what_to_write(capsys):
    s = embrace_settings_from_args(parse(["--mode", "off"]), Config())
    assert s.mode == "off"
    assert capsys.readouterr().err == (
        "improv: --mode off is deprecated and goes in the next release: use --outside off\n")
    with pytest.raises(ConfigError, match="--outside guide and --mode off"):  # two answers: refused, in any order
        embrace_settings_from_args(parse(["--mode", "off", "--outside", "guide"]), Config())
    assert embrace_settings_from_args(parse(["--mode", "off", "--outside", "off"]), Config()).mode == "off"


@pytest.mark.parametrize("argv, trade_bars, outside, note", [
    (["--mode", "trade"], 4, "embrace", ""),
    (["--mode", "trade", "--outside", "guide"], 4, "guide", ""),
    (["--mode", "trade", "--trade-bars", "2"], 2, "embrace", ""),
    (["--mode", "free"], 0, "embrace", ""),
    (["--outside", "off"], 0, "off", ""),
    (["--mode", "trade", "--mode", "guide"], 4, "guide", "--mode guide is deprecated"),  # the old "give it twice"
    (["--mode", "embrace"], 0, "embrace", "--mode embrace is deprecated"),
])
def test_jam_mode_and_outside_ask_one_question_each(capsys, argv, trade_bars, outside, note):
    from improv.commands.jam import jam_settings

    cfg = jam_settings(jam_args(argv))
    assert (cfg.band.trade_bars, cfg.embrace.mode) == (trade_bars, outside)
    err = capsys.readouterr().err
    assert (note in err and len(err.splitlines()) == 1) if note else err == ""


def test_jam_mode_rejects_anything_else_in_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        jam_args(["--mode", "fast"])
    assert e.value.code == 2
    assert "argument --mode: expected free or trade (--outside takes embrace, guide or off), found 'fast'" in \
        capsys.readouterr().err
