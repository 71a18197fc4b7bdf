"""Training on several processes (`torchrun`), on GPUs when there are any.

`improv train` run under `torchrun --nproc_per_node N` (or across machines, with
`--nnodes` and a rendezvous) finds RANK / WORLD_SIZE / LOCAL_RANK in its environment and
joins a process group: NCCL on GPUs, gloo on CPUs. Every process builds the same epoch of
batches (same seeds) and takes its share of each batch, so a step is the same step
whatever the number of processes (the schedule, counted in epochs, is unchanged);
`DistributedDataParallel` averages the gradients. Only rank 0 validates, logs and
writes checkpoints. Run alone, nothing here does anything.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class Dist:
    """This process's place: rank (0 = the one that logs and saves), world size, local
    rank (its GPU on this machine) and torch device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup() -> Dist:
    """Join the process group if `torchrun` started this process; pick the device."""
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    rank = int(os.environ.get("RANK", "0") or 0)
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    cuda = torch.cuda.is_available()
    device = f"cuda:{local % max(1, torch.cuda.device_count())}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        import torch.distributed as td

        if not td.is_initialized():
            td.init_process_group(backend="nccl" if cuda else "gloo")
    return Dist(rank, world, local, device)


def cleanup(dist: Dist) -> None:
    """Leave the process group (a no-op when running alone)."""
    if dist.world > 1:
        import torch.distributed as td

        if td.is_initialized():
            td.destroy_process_group()


def wrap(model: Any, dist: Dist) -> Any:
    """The model as the training step calls it: under DistributedDataParallel when there
    are several processes, else itself."""
    if dist.world <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[dist.local_rank] if dist.device.startswith("cuda") else None)


def shard(batch: Sequence, dist: Dist) -> list:
    """This process's share of a batch (every process holds the same batch)."""
    return list(batch[dist.rank::dist.world])


GO_ON, STOP_LIMIT, STOP_ASKED = 0, 1, 2  # why a process wants to stop: the strongest reason wins


def agree(elapsed: float, stop: int, dist: Dist) -> tuple[float, int]:
    """(the longest elapsed time of any process, the strongest reason any has to stop:
    `GO_ON`, `STOP_LIMIT` (a limit of the run reached) or `STOP_ASKED` (Ctrl-C or SIGTERM,
    which may reach one process only)): every process then sets the same learning rate (a
    schedule over the time budget) and stops at the same step, for the same reason."""
    if dist.world <= 1:
        return elapsed, int(stop)
    import torch
    import torch.distributed as td

    t = torch.tensor([elapsed, float(stop)], dtype=torch.float64, device=dist.device)
    td.all_reduce(t, op=td.ReduceOp.MAX)
    return float(t[0].item()), int(t[1].item())


def digest(model: Any) -> str:
    """A short hash of a model's weights (processes of one run must agree on it)."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
