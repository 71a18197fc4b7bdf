"""`improv train` on the fixture with the tiny config: checkpoints, resume, config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from improv.cli import main
from improv.errors import ConfigError
from improv.train import load_train_config

ROOT = Path(__file__).resolve().parents[1]
MINI = Path(__file__).parent / "data" / "wjazzd-mini"
TINY = ROOT / "configs" / "train" / "tiny.toml"


def test_train_saves_checkpoints_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(MINI), "--config", str(TINY), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "step 25" in text and "notes/s" in text and "ETA" in text
    last = torch.load(out / "last.pt", weights_only=True)
    best = torch.load(out / "best.pt", weights_only=True)
    assert last["train_state"]["step"] == 30 and "optimizer" in last and "optimizer" not in best
    assert last["config"]["d_model"] == 32 and last["vocab"]["ticks_per_beat"] == 12
    cfg = tmp_path / "more.toml"
    cfg.write_text(TINY.read_text().replace("max_steps = 30 ", "max_steps = 35 "))
    assert main(["train", "--data", str(MINI), "--config", str(cfg), "--out", str(out),
                 "--resume", str(out / "last.pt")]) == 0
    assert "resumed" in capsys.readouterr().out
    assert torch.load(out / "last.pt", weights_only=True)["train_state"]["step"] == 35


def test_config_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nbatch = 3\n")
    with pytest.raises(ConfigError, match="bad.toml.*train.*'batch'"):
        load_train_config(bad)
    with pytest.raises(ConfigError, match="nope.toml"):
        load_train_config(tmp_path / "nope.toml")
    assert main(["train", "--data", str(tmp_path / "none"), "--config", str(TINY), "--out", str(tmp_path)]) == 2


def test_shipped_config_reads():
    model, train = load_train_config(ROOT / "configs" / "train" / "shipped.toml")
    assert model.d_model > 0 and train.max_minutes > 0
