"""The phrase model's weights as the partner reads them: numpy arrays in an `.npz` file,
with the architecture and the token vocabulary beside them, no torch needed.

The file holds one array per torch parameter (the names of `PhraseModel.state_dict()`)
and three JSON strings: `format`, `config` (a `ModelConfig`) and `vocab` (the
representation it was trained with, compared with this code's on load). It is read with
`allow_pickle=False`: a weights file cannot run code. `improv export` writes one from a
training checkpoint (`improv/train/export.py`).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from improv.core.model.config import FORMAT, ModelConfig, vocabulary
from improv.errors import ModelError


@dataclass(frozen=True)
class ModelWeights:
    """A model's architecture and its parameters (float32 arrays by parameter name)."""

    cfg: ModelConfig
    arrays: Mapping[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.arrays[name]
        except KeyError:
            raise ModelError(f"the model weights have no {name!r}: they do not match the model code") from None

    def has(self, name: str) -> bool:
        return name in self.arrays

    @property
    def n_params(self) -> int:
        return int(sum(a.size for a in self.arrays.values()))


def as_weights(model: Any) -> ModelWeights:
    """`ModelWeights`, or a trained module (anything with `cfg` and `state_dict()` of
    tensors, e.g. `PhraseModel`) read into them."""
    if isinstance(model, ModelWeights):
        return model
    arrays = {k: np.ascontiguousarray(v.detach().cpu().numpy().astype(np.float32))
              for k, v in model.state_dict().items()}
    return ModelWeights(model.cfg, arrays)


def save_weights(path: str | Path, weights: ModelWeights, meta: Mapping[str, Any] | None = None) -> Path:
    """Write `weights` (+ JSON-able `meta`: where they came from) to `path` atomically.

    Raises:
        OSError: it cannot be written (no temporary file is left behind).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "config": weights.cfg.to_dict(), "vocab": vocabulary(), "meta": dict(meta or {})}
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, __header__=np.array(json.dumps(header, sort_keys=True)),
                     **{k: np.asarray(v, dtype=np.float32) for k, v in weights.arrays.items()})
        tmp.replace(path)
    except BaseException:  # a full disk, a folder in the way: nothing half-written is left
        tmp.unlink(missing_ok=True)
        raise
    return path


SHIPPED_NAME = "improv-phrase-v2.npz"  # the weights improv ships (models/, or share/improv/models once installed)


def load_weights(path: str | Path) -> tuple[ModelWeights, dict]:
    """Read an `.npz` weights file -> (weights, its header: format, config, vocab, meta).

    Raises:
        ModelError: the file is missing, damaged, of another format, or made with another
            token vocabulary (one line naming the file and what to do).
    """
    path = Path(path)
    if not path.is_file():
        if path.name == SHIPPED_NAME:  # (the shipped weights: an install that lost them, not a user's export)
            raise ModelError(f"the shipped model weights {path} are missing: reinstall improv (pip install --force-"
                             "reinstall improv, or from its folder), or play with --responder markov")
        raise ModelError(f"model weights {path} not found: export them with `improv export CHECKPOINT.pt` "
                         "or give --model PATH")
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["__header__"]))
            arrays = {k: np.ascontiguousarray(z[k], dtype=np.float32) for k in z.files if k != "__header__"}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ModelError(f"model weights {path} cannot be read ({type(e).__name__}): the file is damaged or "
                         "not improv weights; re-download or re-export it") from None
    damaged = next((k for k, a in arrays.items() if not np.isfinite(a).all()), None)
    if damaged is not None:
        raise ModelError(f"model weights {path}: {damaged!r} holds NaN or infinite values (a training run that "
                         "diverged, or a damaged file); re-export them from a good checkpoint")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelError(f"model weights {path} are not {FORMAT} weights")
    if header.get("vocab") != vocabulary():
        raise ModelError(f"model weights {path} were trained with another token vocabulary; retrain them")
    try:
        cfg = ModelConfig.from_dict(header["config"])
    except (KeyError, TypeError) as e:
        raise ModelError(f"model weights {path} have no usable config ({e})") from None
    return ModelWeights(cfg, arrays), header
