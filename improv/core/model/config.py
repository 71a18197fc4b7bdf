"""The phrase model's architecture settings and the representation it was trained with,
without torch: the shipped weights carry both, and both are checked on load."""

from __future__ import annotations

import math
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
        copy_pitch: the pitch head also weighs which intervals followed the last 1..k
            intervals earlier in the context (`improv.core.model.copying`), with gates
            read from its state: it learns to take up the call's cells; 0 = off (older
            checkpoints).
        copy_shift: the same for onset gaps after the last 1..k gaps (rhythm cells).
        tempo_edges: bpm edges of tempo bands read as an input at every step (the last
            band index = unknown); () = no tempo input (older checkpoints).
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
    copy_pitch: int = 0
    copy_shift: int = 0
    tempo_edges: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        kept = {k: v for k, v in d.items() if k in names}
        if "tempo_edges" in kept:
            kept["tempo_edges"] = tuple(float(x) for x in kept["tempo_edges"])
        return cls(**kept)

    def tempo_band(self, tempo: float | None) -> int:
        """The tempo input's band for a tempo (bpm); None or nonsense -> the "unknown" band."""
        edges = self.tempo_edges
        if tempo is None or not math.isfinite(tempo) or tempo <= 0:
            return len(edges) + 1
        return sum(1 for e in edges if tempo >= e)


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
