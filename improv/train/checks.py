"""What `improv train` checks before it reads any data (about 15 s for the WJazzD archive):
every number of the training config in its range, the `--out` folder, and where the run
it resumes stands. Each failure is one line naming the key or the flag.

`improv.config.build` checks the types of a training config (its ranges table covers the
jam's settings only); the ranges of the [model] and [train] keys are here.
"""

from __future__ import annotations

import math
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from improv.core import limits
from improv.errors import ConfigError

MINUTES = (0.0, 7 * 24 * 60.0)  # a week
STEPS = (0, 10**9)
SHARE = (0.0, 1.0)  # a probability or a share

# key -> ((lowest, highest), what the bounds mean); every numeric key of ModelConfig and
# TrainConfig has one (a test holds them to it)
MODEL_RANGES: dict[str, tuple[tuple[float, float], str]] = {
    "d_model": ((1, 4096), ""),
    "n_layers": ((1, 16), ""),
    "head_hidden": ((1, 4096), ""),
    "dropout": ((0.0, 0.95), ""),
    "max_call": ((1, 4096), "notes"),
    "max_answer": ((1, 4096), "notes"),
    "attention_heads": ((0, 64), "(0 = no attention)"),
    "weight_drop": ((0.0, 0.95), ""),
    "copy_pitch": ((0, 16), "intervals (0 = off)"),
    "copy_shift": ((0, 16), "gaps (0 = off)"),
    "tempo_edges": (limits.FILE_TEMPO_BPM, "bpm"),
}
TRAIN_RANGES: dict[str, tuple[tuple[float, float], str]] = {
    "batch_size": ((1, 65536), "sequences"),
    "lr": ((1e-9, 1.0), ""),
    "min_lr": ((0.0, 1.0), ""),
    "warmup_steps": (STEPS, "steps"),
    "weight_decay": ((0.0, 1.0), ""),
    "grad_clip": ((1e-6, 1e6), "(gradient norm)"),
    "max_minutes": (MINUTES, "minutes (0 = no time limit)"),
    "schedule_epochs": ((0.0, 1e6), "epochs (0 = over the time budget)"),
    "max_epochs": ((1, 10**6), "epochs"),
    "max_steps": (STEPS, "steps (0 = no limit)"),
    "call_weight": ((0.0, 10.0), ""),
    "control_dropout": (SHARE, ""),
    "controls_hidden": (SHARE, ""),
    "call_dropout": (SHARE, ""),
    "written_key": (SHARE, ""),
    "eval_every_minutes": (MINUTES, "minutes"),
    "eval_every_steps": (STEPS, "steps (0 = by minutes)"),
    "checkpoint_every_minutes": (MINUTES, "minutes"),
    "seed": ((0, 2**31 - 1), ""),
    "threads": ((0, 1024), "(0 = all cores)"),
    "valid_limit": (STEPS, "pairs (0 = all)"),
    "window_notes": ((0, 100000), "notes (0 = single pairs)"),
    "ema_decay": ((0.0, 0.99999), "(0 = off)"),
    "tempo_dropout": (SHARE, ""),
    "workers": ((0, 256), "processes (0 = collate in the training process)"),
}


def check_config(model: Any, train: Any, path: str | Path) -> None:
    """Every number of a training config within its range, and the keys that must agree.

    Raises:
        ConfigError: "FILE: section key: expected lo to hi, found x" (or the two keys that
            disagree), one line.
    """
    for section, obj, ranges in (("model", model, MODEL_RANGES), ("train", train, TRAIN_RANGES)):
        for f in fields(obj):
            value = getattr(obj, f.name)
            if f.name not in ranges:
                continue
            bounds, unit = ranges[f.name]
            for v in value if isinstance(value, tuple) else (value,):
                limits.check_range(f"{path}: {section} {f.name}", v, bounds, unit)
    if model.attention_heads and model.d_model % model.attention_heads:
        raise ConfigError(f"{path}: model d_model ({model.d_model}) is not a multiple of attention_heads "
                          f"({model.attention_heads}); each head takes an equal share: change one of them")
    edges = model.tempo_edges
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ConfigError(f"{path}: model tempo_edges must rise from band to band, found {list(edges)}")
    if train.min_lr > train.lr:
        raise ConfigError(f"{path}: train min_lr ({train.min_lr:g}) is above lr ({train.lr:g}): the learning rate "
                          "decays from lr down to min_lr; give min_lr <= lr")


def check_out(out: Path, resume: str | Path | None) -> None:
    """`--out` can hold this run's checkpoints: a folder (or one that can be made) that
    holds no earlier run, unless that run is being resumed.

    Raises:
        ConfigError: one line naming the folder and what to give instead.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: that is a file, not a folder; give a folder for the checkpoints")
    near = next((p for p in (out, *out.parents) if p.exists()), Path("."))  # the nearest that is there
    if not near.is_dir():
        raise ConfigError(f"--out {out}: {near} is a file, not a folder; give a folder path for the checkpoints")
    if not os.access(near, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: the folder {near} is not writable; give another --out")
    held = [name for name in ("best.pt", "last.pt") if (out / name).exists()]
    if held and resume is None:  # a new run would overwrite them, a better best.pt too
        go_on = f"continue it with --resume {out / 'last.pt'}, or " if "last.pt" in held else ""
        raise ConfigError(f"--out {out} already holds a run ({', '.join(held)}), which this one would overwrite: "
                          f"{go_on}give another --out")


def check_same_model(model: Any, resumed: Any, config: str | Path | None, resume: str | Path) -> None:
    """A resumed run goes on training the model its checkpoint holds: a [model] section (or,
    with no --config, the built-in defaults) that describes another would be ignored.

    Raises:
        ConfigError: "--resume CKPT: that run's model has d_model 32, --config FILE gives 64; ...".
    """
    for f in fields(resumed):
        mine, theirs = getattr(resumed, f.name), getattr(model, f.name)
        if mine != theirs:
            given = f"--config {config} gives" if config else "the built-in defaults (no --config) have"
            raise ConfigError(f"--resume {resume}: that run's model has {f.name} {mine!r}, {given} {theirs!r}: "
                              "resume with the config the run was trained with (its [train] settings, such as max_steps, may change)")


def limit_reached(train: Any, step: int, epoch: int, elapsed_s: float, sched_steps: int = 0) -> str:
    """Which of the run's limits `step` / `epoch` / `elapsed_s` has reached ("" = none):
    the training loop stops on it, and a resumed run that is already there does not start."""
    if train.max_steps and step >= train.max_steps:
        return f"at step {step} of {train.max_steps} (max_steps)"
    if sched_steps and step >= sched_steps:
        return f"at step {step} of {sched_steps} ({train.schedule_epochs:g} schedule_epochs)"
    if train.max_minutes > 0 and elapsed_s >= train.max_minutes * 60.0:
        return f"{elapsed_s / 60:.1f} of {train.max_minutes:g} minutes in (max_minutes)"
    if epoch >= train.max_epochs:
        return f"at epoch {epoch} of {train.max_epochs} (max_epochs)"
    return ""


def check_not_finished(train: Any, state: dict, resume: str | Path, sched_steps: int = 0) -> None:
    """A resumed run must have steps left to train (else it would train one step too many).

    Raises:
        ConfigError: "--resume CKPT: the run is already at step 12 of 12 (max_steps); ...".
    """
    step, epoch = int(state.get("step", 0)), int(state.get("epoch", 0))
    elapsed = float(state.get("elapsed_s", 0.0))
    reached = limit_reached(train, step, epoch, elapsed if math.isfinite(elapsed) else 0.0, sched_steps)
    if reached:
        raise ConfigError(f"--resume {resume}: that run is already {reached}: nothing to train; raise that "
                          "limit in the --config to train on")
