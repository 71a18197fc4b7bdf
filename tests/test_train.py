"""`improv train` on the fixture with the tiny config: checkpoints, resume, config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from improv.commands.common import TRAIN_INSTALL

# Training-side tests: on a lean install (no torch) the whole module skips, saying how to add it.
torch = pytest.importorskip("torch", reason=f"needs torch (the train extra): {TRAIN_INSTALL}")

from improv.cli import main
from improv.errors import ConfigError
from improv.train.trainer import load_train_config

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
    assert model.d_model > 0 and train.schedule_epochs > 0 and model.copy_pitch and model.tempo_edges


def test_window_training_with_attention_runs_and_loads(tmp_path, capsys):
    cfg = tmp_path / "windows.toml"
    text = TINY.read_text().replace("max_call = 32 ", "max_call = 48 ").replace("max_steps = 30 ", "max_steps = 12 ")
    text = text.replace("[train]\n", "[train]\nwindow_notes = 40\nema_decay = 0.9\n").replace("max_answer = 32 ", "attention_heads = 2\nmax_answer = 32 ")
    cfg.write_text(text)
    out = tmp_path / "run"
    assert main(["train", "--data", str(MINI), "--config", str(cfg), "--out", str(out)]) == 0
    assert "valid step 12" in capsys.readouterr().out
    assert "ema" in torch.load(out / "last.pt", weights_only=True)  # the moving average resumes too
    from improv.core.theory.notes import Phrase
    from improv.train.export import load_responder

    r = load_responder(out / "best.pt")
    assert r.cfg.attention_heads == 2 and r.cfg.max_call == 48
    call = Phrase.of([(60, 0, 0.5), (62, 0.5, 0.5), (64, 1, 1)], start=4.0)
    earlier = Phrase.of([(67, 0, 1), (65, 1, 1)], start=0.0)
    from improv.core.respond.base import AnswerSettings

    assert r.answer(call, None, AnswerSettings(start=8.0, length=4.0, history=(earlier,))).start == 8.0
