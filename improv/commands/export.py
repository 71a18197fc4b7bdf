"""`improv export CHECKPOINT.pt [-o OUT.npz]`: turn a training checkpoint into the weights
file the partner loads without torch."""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", metavar="CKPT", help="a training checkpoint, e.g. runs/phrase/best.pt")
    p.add_argument("-o", "--out", metavar="FILE", help="where the .npz goes (default: beside the checkpoint)")


def run(args: argparse.Namespace) -> int:
    from improv.commands.common import require_torch

    require_torch("exporting a checkpoint")
    from improv.train.export import export

    print(f"wrote {export(args.checkpoint, args.out)}")
    return 0
