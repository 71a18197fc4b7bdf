"""The shared --mode / --daring / --explain / --explain-json flags."""

import argparse
import io
import json

import pytest

from improv.commands.embrace_args import add_embrace_args, embrace_settings_from_args, report_plans
from improv.config import Config, override
from improv.core.theory.chart import parse_chart
from improv.core.embrace.strategies import EmbraceSettings, plan_answer
from improv.core.theory.notes import Phrase


def parse(argv):
    p = argparse.ArgumentParser()
    add_embrace_args(p)
    return p.parse_args(argv)


def test_flags_override_the_config():
    cfg = override(Config(), "embrace", daring=0.2, mode="guide")
    assert embrace_settings_from_args(parse([]), cfg) == cfg.embrace
    s = embrace_settings_from_args(parse(["--mode", "off", "--daring", "0.9"]), cfg)
    assert (s.mode, s.daring) == ("off", 0.9)


def test_bad_values_are_rejected(capsys):
    for argv in (["--mode", "fix"], ["--daring", "2"], ["--daring", "lots"]):
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
