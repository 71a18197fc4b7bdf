"""The phrase model's architecture settings and the representation it was trained with,
without torch: the shipped weights carry both, and both are checked on load."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from improv.core.model import inputs as mi
from improv.core.model import tokens as tk

FORMAT = "improv-phrase-v1"
MAX_INTERVAL = 24  # the interval bias covers +-2 octaves; farther leaps share one class
LAYER_NORM_EPS = 1e-5  # torch's LayerNorm default, which training uses


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and sequence limits (saved with every set of weights).

    Attributes:
        d_model: width of embeddings and GRU state.
        n_layers: GRU layers.
        head_hidden: hidden width of each output head.
        dropout: dropout in training.
        max_call: the call's most recent notes the model reads.
        max_answer: the most answer notes the model writes.
        chord_degrees: also read and predict pitches as degrees above the chord root
            (an input embedding and a 12-way pitch bias); off in older checkpoints.
        attention_heads: heads of a causal attention over the GRU outputs so far (a
            readout: the output heads can look back at, and copy from, any earlier note of
            the context); 0 = none, as in older checkpoints.
        weight_drop: in training, drop this share of the GRU's recurrent weights (one mask
            per batch, as DropConnect / AWD-LSTM): it regularises the recurrence itself,
            which activation dropout does not reach. No effect on inference.
    """

    d_model: int = 256
    n_layers: int = 2
    head_hidden: int = 256
    dropout: float = 0.1
    max_call: int = 64
    max_answer: int = 64
    chord_degrees: bool = False
    attention_heads: int = 0
    weight_drop: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def center_of(low: int, high: int) -> float:
    """The register centre the responder asks for, given the allowed range."""
    return (low + high) / 2


def vocabulary() -> dict:
    """The representation constants a model was trained with (checked on load)."""
    return {
        "ticks_per_beat": tk.TICKS_PER_BEAT, "max_shift_ticks": tk.MAX_SHIFT_TICKS,
        "max_dur_ticks": tk.MAX_DUR_TICKS, "velocities": list(tk.VELOCITIES),
        "n_chord_features": tk.N_CHORD_FEATURES, "density_edges": list(mi.DENSITY_EDGES),
        "center": [mi.CENTER_LOW, mi.CENTER_STEP, mi.N_CENTER], "max_bars": mi.MAX_BARS,
        "max_interval": MAX_INTERVAL, "kinds": ["START", "CALL", "SEP", "ANSWER", "END", "PAD"],
    }
