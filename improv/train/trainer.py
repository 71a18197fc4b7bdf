"""Train the phrase model on WJazzD solos (`improv train`).

With `window_notes` set (the shipped config), each solo is cut into windows of
consecutive phrases, and every phrase in a window is an answer to all the phrases before
it: the model learns to answer a call after the solo so far, as it answers a player
after the session so far. Otherwise it trains on single (call, answer) pairs. Every
epoch each window (or pair) is transposed to a random key (pitches and chords together),
its answers' controls are shown or hidden at random, and sequences of similar length are
batched together. The learning rate follows a cosine over `schedule_epochs`
epochs, or else over the run's time budget (`max_minutes`, so a slow machine still ends
its run cooled down). Validation
(the valid split of `improv.core.formats.splits`, controls hidden, no augmentation;
the test split is never read) reports the answer NLL per note; `last.pt` (with optimizer
state, for `--resume`) is written every few minutes and when the run is stopped by hand
(`improv.train.stopping`), and `best.pt` whenever the validation NLL improves. Both
carry the time feel learned from the same training solos (`improv.train.feel`), which
the export puts beside the weights. What a run can be refused for (config values out of
range, an --out holding another run, a finished run to resume) is checked before the
data is read (`improv.train.checks`).

It trains on a GPU when torch sees one, and on several processes (GPUs or CPU cores,
one machine or several) under `torchrun` (`improv.train.distributed`).
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from improv.errors import ConfigError

STOP_NOTICE = "stopping after this step to save last.pt (a second Ctrl-C stops at once, unsaved)"
RESUME_FIX = "give --resume the last.pt of an earlier run, e.g. runs/phrase/last.pt"


@dataclass
class _Progress:
    """How far a run got, for the message when it is interrupted."""

    step: int = 0
    training: bool = False
    saved_step: int | None = None  # the step of the last.pt this run wrote
    config: str = ""  # the --config the run was given: a resume needs it again

    def resume_with(self, out: Path) -> str:
        """The flags that resume the run (its training settings come from its config)."""
        return f"--resume {out / 'last.pt'}" + (f" --config {self.config}" if self.config else "")

    def unsaved(self, out: Path) -> str:
        if not self.training:
            return "interrupted before training began; nothing saved"
        kept = (f"{out / 'last.pt'} holds step {self.saved_step}: resume with {self.resume_with(out)}"
                if self.saved_step is not None else "nothing saved")
        return f"interrupted at step {self.step} before last.pt was saved; {kept}"


@dataclass(frozen=True)
class TrainConfig:
    """The [train] section of a training config (see configs/train/shipped.toml)."""

    batch_size: int = 64
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    max_minutes: float = 55.0
    schedule_epochs: float = 0.0
    max_epochs: int = 1000
    max_steps: int = 0
    call_weight: float = 0.5
    control_dropout: float = 0.5
    controls_hidden: float = 0.0
    call_dropout: float = 0.05
    augment: bool = True
    written_key: float = 0.0  # with augment: chance a window stays in its written key (else a random one of 12)
    eval_every_minutes: float = 3.0
    eval_every_steps: int = 0
    checkpoint_every_minutes: float = 3.0
    seed: int = 0
    threads: int = 0
    valid_limit: int = 0
    window_notes: int = 0  # >0: train on windows of consecutive phrases of up to this many notes
    ema_decay: float = 0.0  # >0: validate and keep an exponential moving average of the weights
    tempo_dropout: float = 0.2  # with the model's tempo input: chance a sequence's tempo is hidden (as when unknown)
    workers: int = 0  # >0: batches are collated by this many worker processes while the model trains (GPU runs)


def load_train_config(path: str | Path | None) -> tuple[Any, "TrainConfig"]:
    """A training TOML -> (ModelConfig, TrainConfig); unknown keys and values out of range
    (`improv.train.checks`) are errors naming the file and the key."""
    from improv.train.model import ModelConfig

    if path is None:
        return ModelConfig(), TrainConfig()
    from improv.config import build, read_toml

    data = read_toml(path, "training config", "see configs/train/")
    out = []
    for section, cls in (("model", ModelConfig), ("train", TrainConfig)):
        out.append(build(cls, data.pop(section, {}), f"{path}: {section}"))
    if data:
        raise ConfigError(f"{path}: unknown section {sorted(data)[0]!r}; expected [model] and [train]")
    from improv.train.checks import check_config

    check_config(out[0], out[1], path)  # ranges: `build` checks only the types of these sections
    return out[0], out[1]


def evaluate(model: Any, seqs: list, device: Any, batch_size: int = 128) -> float:
    """Mean answer NLL per note (nats; END not counted) over validation sequences."""
    import torch

    from improv.core.model.inputs import ANSWER
    from improv.train.model import collate

    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(seqs), batch_size):
            batch = collate(seqs[i:i + batch_size], call_weight=0.0, device=device, cfg=model.cfg)
            nll = model(*batch)["nll"]
            is_ans = batch.ints[:, 1:, 0] == ANSWER
            total += float(nll[is_ans].sum())
            count += int(is_ans.sum())
    model.train()
    return total / count if count else math.nan


class _Collating:
    """Batches as `collate` makes them, in order: in this process (`workers` 0), or by a pool
    of worker processes that collate the next batches while the model trains on this one
    (on a GPU the step is quicker than the collation in Python). The same batches either way."""

    def __init__(self, workers: int, call_weight: float, cfg: Any) -> None:
        import functools

        from improv.train.model import collate

        self._collate = functools.partial(collate, call_weight=call_weight, device="cpu", cfg=cfg)
        self._pool = None
        if workers > 0:
            import multiprocessing
            import signal

            # spawn: a forked copy of a process that holds CUDA cannot use it, nor should it try;
            # Ctrl-C is the training process's to handle (it saves last.pt), not the workers'
            self._pool = multiprocessing.get_context("spawn").Pool(
                workers, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))

    def batches(self, shares: list, device: Any):
        from improv.train.model import Batch

        made = self._pool.imap(self._collate, shares) if self._pool is not None else map(self._collate, shares)
        for b in made:
            yield Batch(*(None if x is None else x.to(device, non_blocking=True) for x in b))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "_Collating":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # (also when training raises or is interrupted: no worker is left behind)


def train(data: str | Path, config: str | Path | None = None, out: str | Path = "runs/phrase",
          resume: str | Path | None = None, log: Any = print) -> Path:
    """Train; returns the path of the best checkpoint. Under `torchrun`, each process
    trains on its share of every batch (`improv.train.distributed`); rank 0 logs and saves.

    Raises:
        ConfigError: a config value out of range, an --out that cannot take the run or
            already holds one, a run to resume that has nothing left to train; all checked
            before the data is read.
        ModelError: the checkpoint to resume is missing or not a training checkpoint.
        DataError: the data cannot be read.
        Interrupted: Ctrl-C or SIGTERM; the first writes last.pt after the step in hand.
    """
    from improv.train import distributed as D
    from improv.train.checks import check_not_finished, check_out, check_same_model
    from improv.train.model import load_checkpoint
    from improv.train.stopping import Interrupted, StopRequest

    cfg, tcfg = load_train_config(config)
    out = Path(out)
    check_out(out, resume)
    resumed = load_checkpoint(resume, fix=RESUME_FIX) if resume else None
    if resumed is not None:
        check_same_model(cfg, resumed[0].cfg, config, resume)
        check_not_finished(tcfg, resumed[1].get("train_state", {}), resume)
    dist = D.setup()
    progress = _Progress(config=str(config) if config else "")
    try:
        model_cfg = resumed[0].cfg if resumed is not None else cfg  # (what the batches are made for)
        with StopRequest(STOP_NOTICE if dist.main else "") as stop, \
                _Collating(tcfg.workers, tcfg.call_weight, model_cfg) as collating:
            return _train(data, cfg, tcfg, out, resume, resumed, dist, log, progress, stop, collating)
    except KeyboardInterrupt:  # outside the training loop, or a second signal in it
        raise Interrupted(progress.unsaved(out)) from None


def _train(data: str | Path, cfg: Any, tcfg: TrainConfig, out: Path, resume: str | Path | None,
           resumed: tuple | None, dist: Any, log: Any, progress: _Progress, stop: Any, collating: _Collating) -> Path:
    """`train` once its arguments are checked; `stop`: the armed `StopRequest` says when
    Ctrl-C or SIGTERM asked the training loop to stop."""
    import torch

    from improv.train import distributed as D
    from improv.train.checks import check_not_finished, limit_reached
    from improv.train.data import PairData, batches
    from improv.train.feel import fit_feel
    from improv.train.model import PhraseModel, save_checkpoint
    from improv.train.stopping import Interrupted

    say = log if dist.main else (lambda msg: None)
    threads = tcfg.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    torch.set_num_threads(max(1, int(threads or 1) // (dist.world if not tcfg.threads else 1)))
    device = dist.device
    rng = random.Random(tcfg.seed)
    torch.manual_seed(tcfg.seed)
    pd = PairData(data, say)
    valid_seqs = pd.training_sequences(cfg, tcfg, None, "valid")
    feel = None
    if dist.main:
        try:  # the time feel the responder plays with, learned from the same training solos (seconds)
            feel = fit_feel(pd.train_solos).to_dict()
        except ValueError as e:
            say(f"no time feel learned: {e}")

    model = PhraseModel(cfg)
    step, epoch, elapsed, best = 0, 0, 0.0, math.inf
    epoch_step = 0  # the step this epoch began at: a run resumed mid-epoch goes on with its batches
    ck: dict = {}
    if resumed is not None:
        model, ck = resumed
        cfg = model.cfg
        st = ck.get("train_state", {})
        step, epoch, elapsed, best = int(st.get("step", 0)), int(st.get("epoch", 0)), float(
            st.get("elapsed_s", 0.0)), float(st.get("best_valid", math.inf))
        order = ck.get("data_order")
        if isinstance(order, dict) and "rng" in order:  # the epoch's batches again, from where it stopped
            rng.setstate(order["rng"])
            epoch_step = int(order["epoch_step"])
        else:  # (a last.pt from before the data order was saved: a new epoch)
            rng.seed(tcfg.seed + step)
            epoch_step = step
        say(f"resumed {resume} at step {step}, epoch {epoch}, {elapsed / 60:.1f} min trained")
    model.to(device).train()
    torch.manual_seed(tcfg.seed + 1000 * dist.rank + step)  # each process its own dropout masks
    if "torch_rng" in ck and dist.world == 1:  # (rank 0's alone is saved)
        torch.set_rng_state(ck["torch_rng"])
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    if "optimizer" in ck:
        opt.load_state_dict(ck["optimizer"])
    ema = None  # the weights' moving average (rank 0): what is validated and kept as best.pt
    if tcfg.ema_decay > 0 and dist.main:
        import copy

        ema = copy.deepcopy(model).eval()
        if "ema" in ck:
            ema.load_state_dict(ck["ema"])
        for p in ema.parameters():
            p.requires_grad_(False)
    kept = ema if ema is not None else model
    step_model = D.wrap(model, dist)
    procs = f", {dist.world} processes" if dist.world > 1 else ""
    say(f"model: GRU {cfg.n_layers}x{cfg.d_model}, {model.n_params():,} parameters; device {device}{procs}, "
        f"{torch.get_num_threads()} threads; "
        + (f"budget {tcfg.max_minutes:g} min" if tcfg.max_minutes > 0 else
           f"{tcfg.schedule_epochs or tcfg.max_epochs:g} epochs, no time cap"))
    budget = tcfg.max_minutes * 60.0
    # the cosine spans `schedule_epochs` epochs when set, else the time budget
    n_seqs = len(pd.train) if tcfg.window_notes <= 0 else len(pd.windows(pd.train_runs, cfg, tcfg, None))
    sched_steps = int(tcfg.schedule_epochs * math.ceil(n_seqs / tcfg.batch_size))
    if resumed is not None:  # (the schedule's length in steps is known only now, from the data)
        check_not_finished(tcfg, ck.get("train_state", {}), resume, sched_steps)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)  # (only now: a run refused earlier leaves no folder)

    def lr_at(step: int, elapsed: float) -> float:
        if step < tcfg.warmup_steps:
            return tcfg.lr * (step + 1) / tcfg.warmup_steps
        if sched_steps:
            frac = min(1.0, (step - tcfg.warmup_steps) / max(1, sched_steps - tcfg.warmup_steps))
        else:
            frac = min(1.0, elapsed / budget) if budget > 0 else 0.0
        return tcfg.min_lr + 0.5 * (tcfg.lr - tcfg.min_lr) * (1 + math.cos(math.pi * frac))

    def state(valid: float) -> dict:
        return {"train_state": {"step": step, "epoch": epoch, "elapsed_s": elapsed, "best_valid": best,
                                "valid_nll_per_note": valid, "processes": dist.world,
                                "train_config": {f.name: getattr(tcfg, f.name) for f in fields(tcfg)}},
                **({"feel": feel} if feel is not None else {})}

    def save_last(valid: float) -> None:
        save_checkpoint(out / "last.pt", model, {**state(valid), "optimizer": opt.state_dict(),
                                                 "data_order": {"rng": epoch_rng, "epoch_step": epoch_step},
                                                 "torch_rng": torch.get_rng_state(),
                                                 **({"ema": ema.state_dict()} if ema is not None else {})})
        progress.saved_step = step

    t0 = time.perf_counter() - elapsed
    last_eval = last_ckpt = time.perf_counter()
    notes_seen, t_rate, loss_avg = 0, time.perf_counter(), None
    valid = math.nan
    done = False
    progress.training, progress.step = True, step
    stop.armed = True  # from here the first Ctrl-C lets the step in hand finish, then saves
    epoch_rng = rng.getstate()
    while not done and epoch < tcfg.max_epochs:
        epoch_rng = rng.getstate()  # (saved in last.pt: a resumed run makes this epoch's batches again)
        epoch_batches = batches(pd.training_sequences(cfg, tcfg, rng), tcfg.batch_size, rng)
        shares = [D.shard(batch, dist) for batch in epoch_batches
                  if len(batch) >= dist.world]  # (a batch too small to share: every process skips it)
        shares = shares[step - epoch_step:]  # resumed mid-epoch: the batches it has not trained on
        for b in collating.batches(shares, device):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, elapsed)
            loss = step_model(*b)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for pe, p in zip(ema.parameters(), model.parameters()):
                        pe.lerp_(p, 1.0 - tcfg.ema_decay)
            step += 1
            notes_seen += int((b.weight > 0).sum()) * dist.world
            lv = float(loss.detach())
            loss_avg = lv if loss_avg is None else 0.95 * loss_avg + 0.05 * lv
            now = time.perf_counter()
            progress.step = step
            elapsed, why = D.agree(now - t0, D.STOP_ASKED if stop.asked else D.STOP_LIMIT if limit_reached(
                tcfg, step, epoch, now - t0, sched_steps) else D.GO_ON, dist)  # every process stops at one step
            if why == D.STOP_ASKED:  # by hand: save where it stands, as the periodic checkpoint does
                if dist.main:
                    save_last(valid)
                D.cleanup(dist)
                raise Interrupted(f"interrupted at step {step}; last.pt saved: resume with {progress.resume_with(out)}")
            over = why == D.STOP_LIMIT
            if step % 25 == 0:
                rate = notes_seen / max(1e-9, now - t_rate)
                notes_seen, t_rate = 0, now
                # what is left: of the time budget, or (no cap) of the schedule at the pace so far
                eta = max(0.0, budget - elapsed) if budget > 0 else \
                    elapsed / max(1, step) * max(0, sched_steps - step) if sched_steps else math.nan
                say(f"step {step} epoch {epoch} loss {loss_avg:.3f} lr {lr_at(step, elapsed):.2e} "
                    f"{rate:,.0f} notes/s elapsed {elapsed / 60:.1f} min ETA {eta / 60:.1f} min")
            due = step % tcfg.eval_every_steps == 0 if tcfg.eval_every_steps else \
                now - last_eval >= tcfg.eval_every_minutes * 60
            if dist.main and (over or due):
                valid = evaluate(kept, valid_seqs, device)
                last_eval = time.perf_counter()
                better = valid < best or (math.isnan(valid) and not (out / "best.pt").exists())
                best = valid if valid < best else best
                say(f"valid step {step}: answer NLL {valid:.4f} nats/note{' (best)' if better else ''}")
                if better:
                    save_checkpoint(out / "best.pt", kept, state(valid))
            if dist.main and (over or now - last_ckpt >= tcfg.checkpoint_every_minutes * 60):
                save_last(valid)
                last_ckpt = time.perf_counter()
            if over:
                done = True
                break
        else:
            epoch += 1
            epoch_step = step
    stop.armed = False
    if dist.main:
        if not (out / "best.pt").exists():
            valid = evaluate(kept, valid_seqs, device)
            best = valid
            save_checkpoint(out / "best.pt", kept, state(valid))
        save_last(valid)
    if dist.world > 1:
        log(f"rank {dist.rank}: weights {D.digest(model)}")
    D.cleanup(dist)
    say(f"done: {step} steps, {epoch} epochs, {elapsed / 60:.1f} min; best validation NLL {best:.4f} nats/note; "
        f"checkpoints in {out}")
    return out / "best.pt"
