"""`improv train --data PATH [--config FILE] [--out DIR] [--resume CKPT]`: train the phrase model.

On a GPU when torch sees one; on several processes with
`torchrun --nproc_per_node N -m improv train ...` (GPUs, or CPU cores with gloo).
"""

from __future__ import annotations

import argparse
import os


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="PATH",
                   help="the WJazzD solos: wjazzd-solos.tar.gz or its unpacked folder")
    p.add_argument("--config", metavar="FILE", help="a training config (default: configs/train/shipped.toml values)")
    p.add_argument("--out", default="runs/phrase", metavar="DIR", help="where checkpoints go (default runs/phrase)")
    p.add_argument("--resume", metavar="CKPT", help="continue from a last.pt checkpoint")


def run(args: argparse.Namespace) -> int:
    from improv.commands.common import require_torch

    require_torch("training")
    from improv.train.trainer import train

    best = train(args.data, args.config, args.out, args.resume, log=lambda s: print(s, flush=True))
    if int(os.environ.get("RANK", "0") or 0) == 0:  # under torchrun, rank 0 speaks for the run
        print(f"best checkpoint: {best}")
    return 0
