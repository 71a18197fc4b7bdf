"""`improv train` on the fixture with the tiny config: checkpoints, resume, config errors."""

from __future__ import annotations

import os
import signal
import time
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


def _tiny(tmp_path, name="tiny.toml", **train):
    """The tiny config with some [train] keys replaced."""
    text = TINY.read_text()
    for key, value in train.items():
        text = "\n".join(f"{key} = {value}" if line.split("=")[0].strip() == key else line
                         for line in text.splitlines())
    path = tmp_path / name
    path.write_text(text + "\n")
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_saves_last_pt_and_resumes(sig, tmp_path, capsys, monkeypatch):
    import improv.commands.train as command

    def log_then_signal(text, **kw):  # the signal arrives while step 2 is being validated
        print(text, **kw)
        if text.startswith("valid step 2:"):
            os.kill(os.getpid(), sig)

    def guard(signum, frame):  # (SIGTERM's default would end pytest itself)
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "print", log_then_signal, raising=False)
    out = tmp_path / "run"
    cfg = _tiny(tmp_path, eval_every_steps=2)
    before = signal.signal(sig, guard)
    try:
        assert main(["train", "--data", str(MINI), "--config", str(cfg), "--out", str(out)]) == 130
        assert signal.getsignal(sig) is guard  # the handler was put back
    finally:
        signal.signal(sig, before)
    err = capsys.readouterr().err
    # (with its --config: resumed without it, a run went on with the default recipe, saying nothing)
    assert err == (f"improv train: interrupted at step 3; last.pt saved: resume with --resume {out / 'last.pt'} "
                   f"--config {cfg}\n")
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["train_state"]["step"] == 3 and "optimizer" in last  # the step in hand was finished, then saved
    monkeypatch.undo()
    more = _tiny(tmp_path, "more.toml", max_steps=5)
    assert main(["train", "--data", str(MINI), "--config", str(more), "--out", str(out),
                 "--resume", str(out / "last.pt")]) == 0
    assert "resumed" in capsys.readouterr().out
    assert torch.load(out / "last.pt", weights_only=True)["train_state"]["step"] == 5


def test_an_interrupted_and_resumed_run_trains_the_same_weights_as_one_run(tmp_path, capsys, monkeypatch):
    """Resumed mid-epoch, a run began a new epoch with its data order seeded afresh (and its
    dropout masks): it trained again on batches it had seen and never on others."""
    import improv.commands.train as command

    cfg = _tiny(tmp_path, batch_size=1, max_steps=6, eval_every_steps=2)  # two batches an epoch
    assert main(["train", "--data", str(MINI), "--config", str(cfg), "--out", str(tmp_path / "whole")]) == 0

    def log_then_signal(text, **kw):  # stopped at step 3, in the middle of an epoch
        print(text, **kw)
        if text.startswith("valid step 2:"):
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(command, "print", log_then_signal, raising=False)
    out = tmp_path / "stopped"
    assert main(["train", "--data", str(MINI), "--config", str(cfg), "--out", str(out)]) == 130
    monkeypatch.undo()
    assert main(["train", "--data", str(MINI), "--config", str(cfg), "--out", str(out),
                 "--resume", str(out / "last.pt")]) == 0
    capsys.readouterr()
    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    resumed = torch.load(out / "last.pt", weights_only=True)
    assert resumed["train_state"]["step"] == whole["train_state"]["step"] == 6
    for key, value in whole["model"].items():
        assert torch.equal(resumed["model"][key], value), key


def test_interrupted_while_reading_the_data_is_one_line(tmp_path, capsys, monkeypatch):
    import improv.train.data as data

    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "PairData", interrupted)
    assert main(["train", "--data", str(MINI), "--config", str(TINY), "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == "improv train: interrupted before training began; nothing saved\n"
    assert not (tmp_path / "run").exists()


def test_a_second_signal_stops_at_once_but_not_the_same_one_twice():
    from improv.train.stopping import REPEAT_S, StopRequest

    before = signal.getsignal(signal.SIGINT)  # (ignored when pytest was started in the background by a shell)
    with StopRequest() as stop:
        with pytest.raises(KeyboardInterrupt):  # (reading the data: nothing to wait for)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        stop.armed = True  # (the training loop runs)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # `timeout -s INT` sends its signal to the child and its group
        assert stop.asked
        stop._first -= REPEAT_S  # a second Ctrl-C, a moment later
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # (the handler runs at the next bytecode: this sleep is cut short)
    assert signal.getsignal(signal.SIGINT) is before  # put back as it was


def test_resuming_a_finished_run_stops_at_once(tmp_path, capsys):
    out = tmp_path / "run"
    cfg = _tiny(tmp_path, max_steps=4)
    assert main(["train", "--data", str(MINI), "--config", str(cfg), "--out", str(out)]) == 0
    before = (out / "last.pt").read_bytes()
    capsys.readouterr()
    rc = main(["train", "--data", str(tmp_path / "not-read"), "--config", str(cfg), "--out", str(out),
               "--resume", str(out / "last.pt")])  # (it stops before the data: none is needed)
    err = capsys.readouterr().err
    assert rc == 2 and "already at step 4 of 4 (max_steps)" in err and len(err.splitlines()) == 1
    assert (out / "last.pt").read_bytes() == before  # not one step more (it went to step 5)


def test_distributed_processes_agree_on_why_they_stop():
    from improv.train import distributed as D

    assert D.agree(1.5, D.STOP_ASKED, D.Dist()) == (1.5, D.STOP_ASKED)
    assert D.agree(1.5, D.GO_ON, D.Dist()) == (1.5, D.GO_ON)


def test_a_run_scheduled_by_epochs_says_so_not_a_budget_of_0_min(tmp_path, capsys):
    """The shipped recipe (no time cap, the schedule in epochs) printed "budget 0 min" and
    "ETA 0.0 min" on every progress line of a 38-minute run."""
    cfg = _tiny(tmp_path, max_minutes=0.0, schedule_epochs=100000.0, max_steps=30)
    assert main(["train", "--data", str(MINI), "--config", str(cfg), "--out", str(tmp_path / "run")]) == 0
    text = capsys.readouterr().out
    assert "100000 epochs, no time cap" in text and "budget 0 min" not in text
    step25 = next(line for line in text.splitlines() if line.startswith("step 25 "))
    assert "ETA 0.0 min" not in step25 and "ETA nan" not in step25 and "ETA" in step25


def test_collating_in_worker_processes_trains_the_same_weights(tmp_path, capsys):
    """`workers` only moves the collation into other processes: the same batches, in the same
    order, so the same weights as collating in the training process."""
    weights = []
    for workers in (0, 2):
        out = tmp_path / f"w{workers}"
        assert main(["train", "--data", str(MINI), "--config", str(_tiny(tmp_path, f"w{workers}.toml", max_steps=12,
                     workers=workers, threads=1)), "--out", str(out)]) == 0
        weights.append(torch.load(out / "last.pt", weights_only=True)["model"])
    capsys.readouterr()
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), name


def test_worker_collation_keeps_the_batches_order():
    """A slow batch first and quick ones after: the workers hand them back in order."""
    from improv.train.data import PairData
    from improv.train.model import collate
    from improv.train.trainer import _Collating

    cfg, tcfg = load_train_config(TINY)
    seqs = PairData(MINI, lambda msg: None).training_sequences(cfg, tcfg, None, "train")
    shares = [seqs * 40] + [[seqs[i % len(seqs)]] for i in range(6)]
    collating = _Collating(2, 0.5, cfg)
    try:
        made = list(collating.batches(shares, "cpu"))
    finally:
        collating.close()
    assert len(made) == len(shares)
    for share, b in zip(shares, made):
        want = collate(share, 0.5, "cpu", cfg)
        assert all((x is None and y is None) or torch.equal(x, y) for x, y in zip(want, b))
