"""What `improv train`, `export` and `embrace-bench` refuse, in one line and before any data
is read (the data given is a path that does not exist: an error about it means the check
came too late). Seconds in all."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from improv.commands.common import TRAIN_INSTALL

torch = pytest.importorskip("torch", reason=f"needs torch (the train extra): {TRAIN_INSTALL}")

from improv.cli import main
from improv.core.model.config import ModelConfig
from improv.errors import ConfigError
from improv.train.checks import MODEL_RANGES, TRAIN_RANGES
from improv.train.trainer import TrainConfig, load_train_config

ROOT = Path(__file__).resolve().parents[1]
MINI = Path(__file__).parent / "data" / "wjazzd-mini"
TINY = ROOT / "configs" / "train" / "tiny.toml"


def _with(tmp_path: Path, section: str, key: str, value: str) -> Path:
    """The tiny config with one key of one section set (added when it is not there)."""
    lines, at = TINY.read_text().splitlines(), None
    for i, line in enumerate(lines):
        if line.split("=")[0].strip() == key:
            lines[i] = f"{key} = {value}"
            break
        if line.strip() == f"[{section}]":
            at = i
    else:
        lines.insert(at + 1, f"{key} = {value}")
    path = tmp_path / "cfg.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _refused(argv: list[str], capsys) -> str:
    """The one line `improv ARGV` stops with (status 2)."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "not found: give the wjazzd" not in err  # (the data was never looked at)
    return err


def _train(tmp_path: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(tmp_path / "no-data.tar.gz"), *extra]


def test_every_numeric_training_setting_has_a_range():
    for cls, ranges in ((ModelConfig, MODEL_RANGES), (TrainConfig, TRAIN_RANGES)):
        hints = typing.get_type_hints(cls)
        numeric = {f.name for f in dataclasses.fields(cls) if hints[f.name] in (int, float, tuple[float, ...])}
        assert numeric == set(ranges), cls


@pytest.mark.parametrize("section, key, value, says", [
    ("train", "lr", "-5e-3", "train lr: expected 1e-09 to 1"),  # (ValueError from AdamW, after the data)
    ("train", "batch_size", "0", "train batch_size: expected 1 to 65536"),  # (ZeroDivisionError)
    ("model", "d_model", "-4", "model d_model: expected 1 to 4096"),  # (RuntimeError from torch)
    ("train", "max_steps", "-1", "train max_steps: expected 0 to"),
    ("train", "call_dropout", "1.5", "train call_dropout: expected 0 to 1"),
    ("train", "min_lr", "0.5", "min_lr (0.5) is above lr"),
    ("model", "attention_heads", "3", "d_model (32) is not a multiple of attention_heads (3)"),
    ("model", "tempo_edges", "[120.0, 90.0]", "tempo_edges must rise"),
    ("model", "tempo_edges", "[0.0]", "model tempo_edges: expected 1 to 1000 bpm"),
])
def test_config_values_out_of_range_are_refused_before_the_data(section, key, value, says, tmp_path, capsys):
    cfg = _with(tmp_path, section, key, value)
    with pytest.raises(ConfigError, match=f"cfg.toml: .*{re.escape(says.split(':')[0])}"):
        load_train_config(cfg)
    err = _refused(_train(tmp_path, "--config", str(cfg), "--out", str(tmp_path / "run")), capsys)
    assert says in err
    assert not (tmp_path / "run").exists()  # no empty folder left behind


@pytest.mark.parametrize("name", ["tiny.toml", "shipped.toml", "v1.toml"])
def test_the_committed_training_configs_are_in_range(name):
    load_train_config(ROOT / "configs" / "train" / name)


def test_out_that_is_a_file_or_under_one(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    err = _refused(_train(tmp_path, "--config", str(TINY), "--out", str(afile)), capsys)
    assert f"--out {afile}: that is a file" in err
    err = _refused(_train(tmp_path, "--config", str(TINY), "--out", str(afile / "sub" / "run")), capsys)
    assert f"{afile} is a file, not a folder" in err


def test_out_holding_a_run_is_refused_unless_resumed(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.pt").write_bytes(b"a better model")
    (out / "last.pt").write_bytes(b"its state")
    err = _refused(_train(tmp_path, "--config", str(TINY), "--out", str(out)), capsys)
    assert f"--out {out} already holds a run" in err and f"--resume {out / 'last.pt'}" in err
    assert "another --out" in err
    assert (out / "best.pt").read_bytes() == b"a better model"


def test_a_missing_resume_checkpoint_is_reported_first_with_the_right_flag(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    err = _refused(_train(tmp_path, "--config", str(TINY), "--out", str(tmp_path / "run"),
                          "--resume", str(missing)), capsys)
    assert f"{missing} not found" in err and "--resume" in err and "--model" not in err


def test_resuming_from_exported_weights_says_what_they_are(tmp_path, capsys):
    """`improv train --resume models/improv-phrase-v2.npz` said the file was damaged."""
    weights = tmp_path / "mine.npz"
    weights.write_bytes((Path(__file__).resolve().parents[1] / "models" / "improv-phrase-v2.npz").read_bytes())
    err = _refused(_train(tmp_path, "--config", str(TINY), "--out", str(tmp_path / "run"), "--resume", str(weights)),
                   capsys)
    assert "is exported weights" in err and "last.pt" in err and "damaged" not in err


def test_help_says_what_no_config_trains():
    from improv.commands.train import DEFAULTS, configure

    import argparse

    p = argparse.ArgumentParser()
    configure(p)
    text = " ".join(p.format_help().split())
    assert "--config configs/train/shipped.toml" in text and "shipped.toml values" not in text
    m, t = ModelConfig(), TrainConfig()
    assert f"a {m.n_layers}x{m.d_model} GRU" in DEFAULTS and f"up to {t.max_minutes:g} minutes" in DEFAULTS
    assert "single call/answer pairs" in DEFAULTS and t.window_notes == 0


def test_export_says_what_is_wrong_in_its_own_terms(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    err = _refused(["export", str(missing), "--feel-data", str(tmp_path / "no-data.tar.gz")], capsys)
    assert f"{missing} not found" in err and "--model" not in err
    weights = tmp_path / "w.npz"
    weights.write_bytes(b"PK")
    err = _refused(["export", str(weights)], capsys)
    assert "already exported weights" in err and "that is the input file" not in err
    other = tmp_path / "other.pt"
    torch.save({"a": torch.zeros(2)}, other)
    err = _refused(["export", str(other)], capsys)
    assert f"{other} is not an improv training checkpoint" in err and "improv-phrase-v1" not in err
    torch.save({"format": "improv-phrase-v0"}, other)
    assert "of another format ('improv-phrase-v0'" in _refused(["export", str(other)], capsys)
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"format": "improv-phrase-v0"}, run / "last.pt")  # stopped before its first validation
    err = _refused(["export", str(run / "best.pt")], capsys)
    assert "the run stopped before it validated" in err and str(run / "last.pt") in err


def test_export_never_writes_over_its_feel_data_nor_weights_already_there(tmp_path, capsys, monkeypatch):
    """`-o data.tar.gz` with `--feel-data data.tar.gz` replaced the dataset with the weights,
    and with no -o an existing CKPT.npz was replaced without a word (render and respond write
    beside it instead)."""
    from improv.train import export as export_mod

    ckpt, data = tmp_path / "best.pt", tmp_path / "data.tar.gz"
    data.write_bytes(b"the dataset")
    monkeypatch.setattr("improv.train.model.load_checkpoint", lambda path, fix=None: None)
    err = _refused(["export", str(ckpt), "--feel-data", str(data), "-o", str(data)], capsys)
    assert "that is the input file" in err and data.read_bytes() == b"the dataset"
    (tmp_path / "best.npz").write_bytes(b"earlier weights")
    written = []
    monkeypatch.setattr(export_mod, "export", lambda c, out, feel: written.append(out) or out)
    assert main(["export", str(ckpt)]) == 0
    assert written == [tmp_path / "best-2.npz"] and (tmp_path / "best.npz").read_bytes() == b"earlier weights"


def test_eval_names_the_argument_that_is_missing(tmp_path, capsys):
    """`improv eval nope` said "baseline training data nope not found: pass --train-data",
    blaming a flag never given (and "pass --train-data" when it was)."""
    def refused(argv):
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and len(err.splitlines()) == 1, err
        return err

    missing = tmp_path / "nope.tar.gz"
    err = refused(["eval", str(missing)])
    assert f"data {missing} not found" in err and "--train-data" not in err
    data = tmp_path / "data.tar.gz"
    data.write_bytes(b"")
    err = refused(["eval", str(data), "--train-data", str(missing)])
    assert f"--train-data {missing} not found" in err and "pass --train-data" not in err


def test_a_cut_archive_is_one_line_in_every_command(tmp_path, capsys):
    import tarfile

    whole = tmp_path / "whole.tar.gz"
    with tarfile.open(whole, "w:gz") as tar:
        tar.add(MINI, arcname="wjazzd-solos")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[:-200])
    ckpt = tmp_path / "run" / "last.pt"
    from improv.train.model import PhraseModel, save_checkpoint

    save_checkpoint(ckpt, PhraseModel(ModelConfig(d_model=8, head_hidden=8, n_layers=1)))
    for argv in (["train", "--data", str(cut), "--config", str(TINY), "--out", str(tmp_path / "new")],
                 ["eval", str(cut), "--no-generate", "--baseline", str(tmp_path / "b.npz"), "--train-data", str(cut)],
                 ["embrace-bench", str(cut)],
                 ["export", str(ckpt), "--feel-data", str(cut)]):
        rc = main(argv)
        err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("reading ")]
        assert rc == 2 and len(err) == 1 and f"{cut} is damaged or cut short" in err[0], (argv, err)


def test_embrace_bench_model_implies_the_model_responder(tmp_path, capsys, monkeypatch):
    from improv.core.model.responder import ModelResponder
    from improv.errors import ModelError

    def load(path):  # (the checkpoint is read before the data)
        raise ModelError(f"loading {path}")

    monkeypatch.setattr(ModelResponder, "load", staticmethod(load))
    weights = tmp_path / "w.npz"
    err = _refused(["embrace-bench", str(MINI), "--model", str(weights)], capsys)
    assert f"loading {weights}" in err  # (it ran the markov responder, silently)
    err = _refused(["embrace-bench", str(MINI), "--model", str(weights), "--responder", "markov"], capsys)
    assert "--responder markov" in err and "--model" in err


@pytest.mark.parametrize("flags, said", [
    (["--top-p", "2"], "--top-p must be above 0 and at most 1 (1 keeps every note), got 2.0"),
    (["--temperature", "-1"], "--temperature must be a number above 0 (1 samples as the model learned), got -1.0"),
    (["--temperature", "nan"], "--temperature must be a number above 0"),
])
def test_eval_names_the_decoding_flag_that_is_wrong_and_its_value(flags, said, tmp_path, capsys):
    from improv.cli import main

    assert main(["eval", str(tmp_path / "data.tar.gz")] + flags) == 2
    assert said in capsys.readouterr().err


def test_resuming_with_another_model_section_or_none_is_refused(tmp_path, capsys):
    """The run's own model went on training, the [model] given (or, with no --config, the
    default 2x256 GRU) ignored without a word, and with no --config the default recipe."""
    from improv.train.model import PhraseModel, save_checkpoint

    last = tmp_path / "run" / "last.pt"
    save_checkpoint(last, PhraseModel(load_train_config(TINY)[0]), {"train_state": {"step": 3}})
    wider = _with(tmp_path, "model", "d_model", "64")
    err = _refused(_train(tmp_path, "--config", str(wider), "--out", str(last.parent), "--resume", str(last)), capsys)
    assert f"--resume {last}: that run's model has d_model 32, --config {wider} gives 64" in err
    err = _refused(_train(tmp_path, "--out", str(last.parent), "--resume", str(last)), capsys)
    assert "the built-in defaults (no --config) have 256" in err
