"""A training checkpoint (`.pt`, torch) -> the weights file the partner reads (`.npz`,
numpy only: `improv.core.model.weights`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from improv.core.model.weights import as_weights, save_weights
from improv.train.model import load_checkpoint


CHECKPOINT_FIX = "give a .pt that `improv train` wrote, e.g. runs/phrase/best.pt"


def export(checkpoint: str | Path, out: str | Path | None = None, feel: dict | None = None) -> Path:
    """Write the weights of `checkpoint` beside it (or to `out`) as `.npz`, with the time
    feel it was trained with (or `feel`, `FeelModel.to_dict()`, e.g. for a checkpoint
    made before feels were learned); returns the path.

    Raises:
        ModelError: the checkpoint is missing or unreadable.
    """
    checkpoint = Path(checkpoint)
    model, ckpt = load_checkpoint(checkpoint, fix=CHECKPOINT_FIX)
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]
    meta = {"exported_from": checkpoint.name, "checkpoint_sha256_16": digest}
    for key in ("train_state", "train_config", "data", "feel"):
        if isinstance(ckpt.get(key), (dict, str, int, float)):
            meta[key] = ckpt[key]
    if feel is not None:
        meta["feel"] = feel
    return save_weights(Path(out) if out else checkpoint.with_suffix(".npz"), as_weights(model), meta)


def load_responder(path: str | Path | None = None):
    """A `ModelResponder` from shipped weights (`.npz`) or a training checkpoint (`.pt`)."""
    from improv.core.model.responder import ModelResponder

    if path is not None and Path(path).suffix == ".pt":
        from improv.core.model.responder import feel_of

        model, ckpt = load_checkpoint(path)
        r = ModelResponder(model, path, feel_of(ckpt, path))
        r.warm_up()
        return r
    return ModelResponder.load(path)
