"""`improv export CHECKPOINT.pt [-o OUT.npz] [--feel-data ARCHIVE]`: turn a training
checkpoint into the weights file the partner loads without torch, with the time feel
the run learned (or, for a checkpoint from before feels were learned, one learned now
from the archive's training split)."""

from __future__ import annotations

import argparse

from improv.errors import DataError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", metavar="CKPT", help="a training checkpoint, e.g. runs/phrase/best.pt")
    p.add_argument("-o", "--out", metavar="FILE", help="where the .npz goes (default: beside the checkpoint, -2 added if a file is there)")
    p.add_argument("--feel-data", metavar="ARCHIVE",
                   help="learn the time feel from this WJazzD archive's training split (default: the checkpoint's)")


def run(args: argparse.Namespace) -> int:
    from improv.commands.common import require_torch

    require_torch("exporting a checkpoint")
    from pathlib import Path

    from improv.core.formats.paths import beside, writable_output
    from improv.errors import ConfigError
    from improv.train.export import CHECKPOINT_FIX, export
    from improv.train.model import load_checkpoint

    ckpt = Path(args.checkpoint)
    if ckpt.is_dir():
        raise DataError(f"{ckpt} is a folder: give a training checkpoint file, e.g. runs/phrase/best.pt")
    if ckpt.suffix.lower() == ".npz":  # (the default output would be the input itself)
        raise ConfigError(f"{ckpt} is already exported weights, what the partner loads (e.g. improv jam --model "
                          f"{ckpt}); export takes the training checkpoint (.pt) they came from")
    load_checkpoint(ckpt, fix=CHECKPOINT_FIX)  # a wrong file fails now, not after --feel-data is read
    # (no -o: beside the checkpoint, never over weights already there, as render and respond do)
    out = writable_output(args.out or beside(ckpt.with_suffix(".npz")), "-o",
                          (ckpt, *([args.feel_data] if args.feel_data else [])))

    feel = None
    if args.feel_data:
        from improv.core.formats.wjazzd import load_corpus
        from improv.train.feel import fit_feel

        try:
            feel = fit_feel(load_corpus(args.feel_data).split("train")).to_dict()
        except ValueError as e:
            raise DataError(f"{args.feel_data}: {e}") from None
    try:
        written = export(ckpt, out, feel)
    except OSError as e:
        raise ConfigError(f"cannot write {out} ({e.strerror or e}); nothing was left behind: give -o another "
                          "path") from None
    print(f"wrote {written}")
    return 0
