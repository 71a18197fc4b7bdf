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
(held-out solos, controls hidden, no augmentation) reports the answer NLL per note;
`last.pt` (with optimizer state, for `--resume`) is written every few minutes and
`best.pt` whenever the validation NLL improves.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, fields
from pathlib import Path

from improv.errors import ConfigError



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


def load_train_config(path: str | Path | None):
    """A training TOML -> (ModelConfig, TrainConfig); unknown keys are errors naming the file."""
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
    return out[0], out[1]


class PairData:
    """Training / validation pairs and turning them into batches."""

    def __init__(self, data_path: str | Path, log=print) -> None:
        from improv.core.formats.wjazzd import call_answer_pairs, load_corpus, phrase_runs

        corpus = load_corpus(data_path)
        if not corpus.solos:
            from improv.errors import DataError

            raise DataError(f"{data_path}: no usable 4/4 solos found")
        for what, n in sorted(corpus.warnings.items()):
            log(f"data: {n} {what}")
        self.train = [p for s in corpus.split("train") for p in call_answer_pairs(s)]
        self.valid = [p for s in corpus.split("valid") for p in call_answer_pairs(s)]
        # for window training: (runs of consecutive phrases, chart, solo name) per split
        self.train_runs = [(r, s.chart, s.name) for s in corpus.split("train") for r in phrase_runs(s) if len(r) > 1]
        self.valid_runs = [(r, s.chart, s.name) for s in corpus.split("valid") for r in phrase_runs(s) if len(r) > 1]
        log(f"data: {len(corpus.solos)} solos, {len(self.train)} training pairs, {len(self.valid)} validation pairs "
            f"({len(corpus.split('valid'))} held-out solos)")
        self._charts: dict = {}

    def _chart(self, solo: str, chart, k: int):
        key = (solo, k)
        c = self._charts.get(key)
        if c is None:
            c = self._charts[key] = chart.transpose(k) if k else chart
        return c

    def training_sequences(self, cfg, tcfg: TrainConfig, rng: random.Random | None, split: str = "train"):
        """One epoch's sequences: windows of consecutive phrases when `window_notes` is set,
        else single (call, answer) pairs. `rng` None = no augmentation, controls hidden."""
        if tcfg.window_notes <= 0:
            pairs = self.train if split == "train" else self.valid
            if split != "train" and tcfg.valid_limit:
                pairs = pairs[:tcfg.valid_limit]
            return self.sequences(pairs, cfg, tcfg, rng)
        runs = self.train_runs if split == "train" else self.valid_runs
        return self.windows(runs, cfg, tcfg, rng)

    def windows(self, runs, cfg, tcfg: TrainConfig, rng: random.Random | None):
        """Each run of phrases cut into windows of at most `window_notes` notes (a random
        size from half that up, so boundaries move between epochs). Each window begins with
        the last phrase of the one before as its call; every later phrase is an answer to
        all the phrases before it in the window."""
        from improv.core.model.inputs import Controls, window_steps

        wrng = rng or random.Random(1)  # validation: the same windows every time
        out = []
        for run, chart, solo in runs:
            i = 0
            while i < len(run) - 1:
                size = wrng.randint(tcfg.window_notes // 2, tcfg.window_notes)
                j, n = i + 1, len(run[i]) + len(run[i + 1])
                while j + 1 < len(run) and n + len(run[j + 1]) <= size:
                    j += 1
                    n += len(run[j])
                phrases, harmony = run[i:j + 1], chart
                i = j
                if rng is None:
                    out.append(window_steps(phrases, harmony, [Controls()] * len(phrases), cfg.max_answer,
                                            max_call=cfg.max_call))
                    continue
                if tcfg.augment and not (tcfg.written_key and rng.random() < tcfg.written_key):
                    k = rng.randrange(-6, 6)
                    if k:
                        phrases, harmony = [p.transpose(k) for p in phrases], self._chart(solo, chart, k)
                first_is_call = rng.random() >= tcfg.call_dropout  # else: answer from the chords alone
                hide_all = rng.random() < tcfg.controls_hidden
                ctrls = [self._controls(p, tcfg, rng, hide_all) for p in phrases]
                out.append(window_steps(phrases, harmony, ctrls, cfg.max_answer, first_is_call, cfg.max_call))
        return out

    @staticmethod
    def _controls(answer, tcfg: TrainConfig, rng: random.Random, hide_all: bool = False):
        from improv.core.model.inputs import Controls, answer_controls

        full = answer_controls(answer)
        drop = 1.0 if hide_all else tcfg.control_dropout
        return Controls(None if rng.random() < drop else full.density,
                        None if rng.random() < drop else full.center,
                        None if rng.random() < drop else full.bars)

    def sequences(self, pairs, cfg, tcfg: TrainConfig, rng: random.Random | None):
        """(steps, complete) per pair; `rng` None = no augmentation, controls hidden."""
        from improv.core.model.inputs import Controls, pair_steps
        from improv.core.theory.notes import Phrase

        out = []
        for p in pairs:
            call, answer, harmony = p.call, p.answer, p.harmony
            ctrl = Controls()
            if rng is not None:
                if tcfg.augment:
                    k = rng.randrange(-6, 6)
                    if k:
                        call, answer = call.transpose(k), answer.transpose(k)
                        harmony = self._chart(p.solo, p.harmony, k)
                if rng.random() < tcfg.call_dropout:  # sometimes no call: answer from the chords alone
                    call = Phrase((), call.start, 0.0)
                ctrl = self._controls(answer, tcfg, rng, rng.random() < tcfg.controls_hidden)
            out.append(pair_steps(call, answer, harmony, ctrl, cfg.max_call, cfg.max_answer))
        return out


def batches(seqs, batch_size: int, rng: random.Random):
    """Similar-length sequences together (less padding), batches in random order."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]) + rng.random() * 8)
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return [[seqs[i] for i in g] for g in groups]


def evaluate(model, seqs, device, batch_size: int = 128) -> float:
    """Mean answer NLL per note (nats; END not counted) over validation sequences."""
    import torch

    from improv.train.model import collate
    from improv.core.model.inputs import ANSWER

    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(seqs), batch_size):
            ints, chords, prev, weight = collate(seqs[i:i + batch_size], call_weight=0.0, device=device)
            nll = model(ints, chords, prev, weight)["nll"]
            is_ans = ints[:, 1:, 0] == ANSWER
            total += float(nll[is_ans].sum())
            count += int(is_ans.sum())
    model.train()
    return total / count if count else math.nan


def train(data: str | Path, config: str | Path | None = None, out: str | Path = "runs/phrase",
          resume: str | Path | None = None, log=print) -> Path:
    """Train; returns the path of the best checkpoint."""
    import torch

    from improv.train.model import PhraseModel, collate, load_checkpoint, save_checkpoint

    cfg, tcfg = load_train_config(config)
    threads = tcfg.threads or len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, int(threads or 1)))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(tcfg.seed)
    torch.manual_seed(tcfg.seed)
    pd = PairData(data, log)
    valid_seqs = pd.training_sequences(cfg, tcfg, None, "valid")

    model = PhraseModel(cfg)
    step, epoch, elapsed, best = 0, 0, 0.0, math.inf
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    if resume:
        model, ck = load_checkpoint(resume)
        cfg = model.cfg
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
        if "optimizer" in ck:
            opt.load_state_dict(ck["optimizer"])
        st = ck.get("train_state", {})
        step, epoch, elapsed, best = int(st.get("step", 0)), int(st.get("epoch", 0)), float(
            st.get("elapsed_s", 0.0)), float(st.get("best_valid", math.inf))
        rng.seed(tcfg.seed + step)
        log(f"resumed {resume} at step {step}, epoch {epoch}, {elapsed / 60:.1f} min trained")
    model.to(device).train()
    ema = None  # the weights' moving average: what is validated and kept as best.pt
    if tcfg.ema_decay > 0:
        import copy

        ema = copy.deepcopy(model).eval()
        if resume and "ema" in ck:
            ema.load_state_dict(ck["ema"])
        for p in ema.parameters():
            p.requires_grad_(False)
    kept = ema if ema is not None else model
    log(f"model: GRU {cfg.n_layers}x{cfg.d_model}, {model.n_params():,} parameters; device {device}, "
        f"{torch.get_num_threads()} threads; budget {tcfg.max_minutes:g} min")
    budget = tcfg.max_minutes * 60.0
    # the cosine spans `schedule_epochs` epochs when set, else the time budget
    n_seqs = len(pd.train) if tcfg.window_notes <= 0 else len(pd.windows(pd.train_runs, cfg, tcfg, None))
    sched_steps = int(tcfg.schedule_epochs * math.ceil(n_seqs / tcfg.batch_size))

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
                                "valid_nll_per_note": valid, "train_config": {f.name: getattr(tcfg, f.name)
                                                                              for f in fields(tcfg)}}}

    t0 = time.perf_counter() - elapsed
    last_eval = last_ckpt = time.perf_counter()
    notes_seen, t_rate, loss_avg = 0, time.perf_counter(), None
    valid = math.nan
    done = False
    while not done and epoch < tcfg.max_epochs:
        for batch in batches(pd.training_sequences(cfg, tcfg, rng), tcfg.batch_size, rng):
            ints, chords, prev, weight = collate(batch, tcfg.call_weight, device)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, elapsed)
            loss = model(ints, chords, prev, weight)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for pe, p in zip(ema.parameters(), model.parameters()):
                        pe.lerp_(p, 1.0 - tcfg.ema_decay)
            step += 1
            notes_seen += int((weight > 0).sum())
            lv = float(loss.detach())
            loss_avg = lv if loss_avg is None else 0.95 * loss_avg + 0.05 * lv
            now = time.perf_counter()
            elapsed = now - t0
            if step % 25 == 0:
                rate = notes_seen / max(1e-9, now - t_rate)
                notes_seen, t_rate = 0, now
                eta = max(0.0, budget - elapsed)
                log(f"step {step} epoch {epoch} loss {loss_avg:.3f} lr {lr_at(step, elapsed):.2e} "
                    f"{rate:,.0f} notes/s elapsed {elapsed / 60:.1f} min ETA {eta / 60:.1f} min")
            over = ((budget > 0 and elapsed >= budget) or (tcfg.max_steps and step >= tcfg.max_steps)
                    or (sched_steps and step >= sched_steps))
            due = step % tcfg.eval_every_steps == 0 if tcfg.eval_every_steps else \
                now - last_eval >= tcfg.eval_every_minutes * 60
            if over or due:
                valid = evaluate(kept, valid_seqs, device)
                last_eval = time.perf_counter()
                better = valid < best or (math.isnan(valid) and not (out / "best.pt").exists())
                best = valid if valid < best else best
                log(f"valid step {step}: answer NLL {valid:.4f} nats/note{' (best)' if better else ''}")
                if better:
                    save_checkpoint(out / "best.pt", kept, state(valid))
            if over or now - last_ckpt >= tcfg.checkpoint_every_minutes * 60:
                save_checkpoint(out / "last.pt", model, {**state(valid), "optimizer": opt.state_dict(),
                                                         **({"ema": ema.state_dict()} if ema is not None else {})})
                last_ckpt = time.perf_counter()
            if over:
                done = True
                break
        else:
            epoch += 1
    if not (out / "best.pt").exists():
        valid = evaluate(kept, valid_seqs, device)
        best = valid
        save_checkpoint(out / "best.pt", kept, state(valid))
    save_checkpoint(out / "last.pt", model, {**state(valid), "optimizer": opt.state_dict(),
                                             **({"ema": ema.state_dict()} if ema is not None else {})})
    log(f"done: {step} steps, {epoch} epochs, {elapsed / 60:.1f} min; best validation NLL {best:.4f} nats/note; "
        f"checkpoints in {out}")
    return out / "best.pt"
