"""`improv train --data PATH [--config FILE] [--out DIR] [--resume CKPT]`: train the phrase model.

On a GPU when torch sees one; on several processes with
`torchrun --nproc_per_node N -m improv train ...` (GPUs, or CPU cores with gloo).
Ctrl-C (or SIGTERM) writes last.pt after the step in hand and says how to resume.
"""

from __future__ import annotations

import argparse
import os

# what a run without --config trains (the dataclass defaults: ModelConfig, TrainConfig; a test
# holds this text to them). The shipped config is not in an installed package, so it is named.
DEFAULTS = ("the built-in defaults: a 2x256 GRU on single call/answer pairs, for up to 55 minutes; "
            "the shipped model's recipe is --config configs/train/shipped.toml")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="PATH",
                   help="the WJazzD solos: wjazzd-solos.tar.gz or its unpacked folder")
    p.add_argument("--config", metavar="FILE", help=f"a training config (default: {DEFAULTS})")
    p.add_argument("--out", default="runs/phrase", metavar="DIR",
                   help="where checkpoints go (default runs/phrase); a folder holding an earlier run is refused "
                        "unless --resume continues it")
    p.add_argument("--resume", metavar="CKPT",
                   help="continue from a last.pt checkpoint (written every few minutes, and on Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    from improv.commands.common import require_torch

    require_torch("training")
    from improv.train.stopping import Interrupted
    from improv.train.trainer import train

    main_rank = int(os.environ.get("RANK", "0") or 0) == 0  # under torchrun, rank 0 speaks for the run
    try:
        best = train(args.data, args.config, args.out, args.resume, log=lambda s: print(s, flush=True))
    except Interrupted as e:
        if main_rank:
            raise
        return e.exit_code
    if main_rank:
        print(f"best checkpoint: {best}")
    return 0
