"""The phrase model: a GRU over compound note steps with a factorised note head.

One sequential step per note. The GRU reads the step embeddings (kind + note tokens +
position in the bar + chord at the onset + the SEP step's controls); from its output
`h` the head decodes the next note in four small, chained parts:

    shift  = Head(h) + copy gates(h) . gap cells          (or END)
    g1     = h + E(shift) + E(position) + W chord    (the chord under the sampled onset)
    pitch  = Head(g1) + interval bias (vs the previous pitch; plus copy gates(g1) . interval
             cells) + chord-pitch-class bias
    g2     = g1 + E(pitch);  dur = Head(g2)
    g3     = g2 + E(dur);    vel = Head(g3)

so p(note) = p(shift) p(pitch | shift, chord) p(dur | ...) p(vel | ...), the same
factorisation as the flat tokens (`improv.core.model.tokens`). The cells
(`improv.core.model.copying`, with `copy_pitch` / `copy_shift`) say which intervals and
gaps followed the last few earlier in the context; the gates learn when to take them up.
With `tempo_edges`, the tempo band is read at every step. Inference keeps the GRU state
(no re-reading of the context), so a step costs one GRU cell and four small heads.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from improv.core.model.inputs import (
    CENTER_LOW, CENTER_STEP, END, MAX_BARS, N_CENTER, N_DENSITY, N_KIND, NONE_PITCH, SEP,
)
from improv.core.model.config import FORMAT, LAYER_NORM_EPS, MAX_INTERVAL, ModelConfig, center_of, vocabulary
from improv.core.model.copying import N_INTERVALS, CopyIndex
from improv.core.model.tokens import BAR_TICKS, N_CHORD_FEATURES, N_DUR, N_SHIFT, N_VEL

class Head(nn.Module):
    """LayerNorm -> Linear -> GELU (tanh form, which the numpy decoder matches) -> Linear."""

    def __init__(self, d: int, hidden: int, n: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        self.fc = nn.Linear(d, hidden)
        self.out = nn.Linear(hidden, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.gelu(self.fc(self.norm(x)), approximate="tanh"))


class ContextAttention(nn.Module):
    """Causal multi-head self-attention over the GRU's outputs, added to them (pre-norm,
    residual). It reads the recurrent state but does not feed back into it, so decoding
    keeps one GRU step per note plus one attention query over the cached keys."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"d_model {d} is not a multiple of attention_heads {heads}")
        self.heads, self.p = heads, dropout
        self.norm = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, T, d = h.shape
        q, k, v = self.qkv(self.norm(h)).view(B, T, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p if self.training else 0.0)
        return h + self.proj(y.transpose(1, 2).reshape(B, T, d))


class PhraseModel(nn.Module):
    """GRU phrase model; see the module docstring. Shapes: B batch, T steps."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, hh = cfg.d_model, cfg.head_hidden
        # input embeddings (one extra "none" row each for START / SEP steps)
        self.e_kind = nn.Embedding(N_KIND, d)
        self.e_shift = nn.Embedding(N_SHIFT + 2, d)
        self.e_pitch = nn.Embedding(129, d)
        self.e_dur = nn.Embedding(N_DUR + 1, d)
        self.e_vel = nn.Embedding(N_VEL + 1, d)
        self.e_pos = nn.Embedding(BAR_TICKS + 1, d)
        self.e_dens = nn.Embedding(N_DENSITY + 1, d)
        self.e_center = nn.Embedding(N_CENTER + 1, d)
        self.e_bars = nn.Embedding(MAX_BARS + 1, d)
        self.chord_in = nn.Linear(N_CHORD_FEATURES, d)
        self.rnn = nn.GRU(d, d, cfg.n_layers, batch_first=True, dropout=cfg.dropout if cfg.n_layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.attn = ContextAttention(d, cfg.attention_heads, cfg.dropout) if cfg.attention_heads else None
        # the chained output head
        self.o_shift = Head(d, hh, N_SHIFT + 1)
        self.t_shift = nn.Embedding(N_SHIFT + 1, d)
        self.t_pos = nn.Embedding(BAR_TICKS, d)
        self.t_chord = nn.Linear(N_CHORD_FEATURES, d)
        self.o_pitch = Head(d, hh, 128)
        self.o_interval = Head(d, hh, 2 * MAX_INTERVAL + 2)
        self.o_pcw = nn.Linear(d, 3)
        if cfg.chord_degrees:
            self.e_deg = nn.Embedding(13, d)  # pitch above the chord root, 12 = none / no chord
            self.o_deg = nn.Linear(d, 12)
        if cfg.copy_pitch:
            self.o_copy_pitch = nn.Linear(d, cfg.copy_pitch)
            nn.init.zeros_(self.o_copy_pitch.weight)
            nn.init.constant_(self.o_copy_pitch.bias, 0.5)
        if cfg.copy_shift:
            self.o_copy_shift = nn.Linear(d, cfg.copy_shift)
            nn.init.zeros_(self.o_copy_shift.weight)
            nn.init.constant_(self.o_copy_shift.bias, 0.5)
        if cfg.tempo_edges:
            self.e_tempo = nn.Embedding(len(cfg.tempo_edges) + 2, d)  # the last band: tempo unknown
        self.t_pitch = nn.Embedding(128, d)
        self.o_dur = Head(d, hh, N_DUR)
        self.t_dur = nn.Embedding(N_DUR, d)
        self.o_vel = Head(d, hh, N_VEL)
        self.register_buffer("pc_index", torch.arange(128) % 12, persistent=False)
        self.register_buffer("pitch_range", torch.arange(128), persistent=False)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------ pieces shared with inference

    def embed(self, ints: torch.Tensor, chords: torch.Tensor) -> torch.Tensor:
        """ints (..., 9): kind shift pitch dur vel pos dens center bars; chords (..., 37) -> (..., d)."""
        k, s, p, du, v, pos, de, ce, ba = ints.unbind(-1)
        x = (self.e_kind(k) + self.e_shift(s) + self.e_pitch(p) + self.e_dur(du) + self.e_vel(v)
             + self.e_pos(pos) + self.e_dens(de) + self.e_center(ce) + self.e_bars(ba) + self.chord_in(chords))
        if self.cfg.chord_degrees:
            root, has = chords[..., :12].argmax(-1), chords[..., :12].sum(-1) > 0
            x = x + self.e_deg(torch.where(has & (p < NONE_PITCH), (p - root) % 12, torch.full_like(p, 12)))
        return x

    def g1(self, h: torch.Tensor, shift: torch.Tensor, pos: torch.Tensor, chords: torch.Tensor) -> torch.Tensor:
        return h + self.t_shift(shift) + self.t_pos(pos) + self.t_chord(chords)

    def shift_logits(self, h: torch.Tensor, copy_shift: torch.Tensor | None = None) -> torch.Tensor:
        """(..., N_SHIFT + 1): the next onset gap or END, plus the gated gap cells (..., k, N_SHIFT)."""
        logits = self.o_shift(h)
        if self.cfg.copy_shift and copy_shift is not None:
            cells = (self.o_copy_shift(h).unsqueeze(-1) * copy_shift).sum(-2)
            logits = torch.cat([logits[..., :N_SHIFT] + cells, logits[..., N_SHIFT:]], -1)
        return logits

    def pitch_logits(self, g1: torch.Tensor, prev_pitch: torch.Tensor, chords: torch.Tensor,
                     copy_pitch: torch.Tensor | None = None) -> torch.Tensor:
        """(..., 128): absolute pitch + interval from `prev_pitch` (128 = none; plus the gated
        interval cells (..., k, 49)) + chord pitch classes."""
        logits = self.o_pitch(g1)
        iv = self.o_interval(g1)  # (..., 2M+2); last class = far / no previous note
        if self.cfg.copy_pitch and copy_pitch is not None:
            cells = (self.o_copy_pitch(g1).unsqueeze(-1) * copy_pitch).sum(-2)
            iv = torch.cat([iv[..., :2 * MAX_INTERVAL + 1] + cells, iv[..., 2 * MAX_INTERVAL + 1:]], -1)
        rel = self.pitch_range - prev_pitch.unsqueeze(-1) + MAX_INTERVAL
        far = 2 * MAX_INTERVAL + 1
        idx = torch.where((rel >= 0) & (rel <= 2 * MAX_INTERVAL) & (prev_pitch.unsqueeze(-1) < NONE_PITCH), rel,
                          torch.full_like(rel, far))
        logits = logits + torch.gather(iv, -1, idx.expand(*iv.shape[:-1], 128))
        blocks = chords[..., :36].unflatten(-1, (3, 12))[..., self.pc_index]  # (..., 3, 128)
        logits = logits + (self.o_pcw(g1).unsqueeze(-1) * blocks).sum(-2)
        if self.cfg.chord_degrees:  # a bias per degree above the chord's root (none without a chord)
            root, has = chords[..., :12].argmax(-1, keepdim=True), chords[..., :12].sum(-1, keepdim=True)
            deg = (self.pc_index - root) % 12
            logits = logits + torch.gather(self.o_deg(g1), -1, deg) * has
        return logits

    # ------------------------------------------------------------ training

    def recur(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The GRU over `x`; in training with `weight_drop`, through dropped recurrent weights."""
        p = self.cfg.weight_drop
        if not (self.training and p > 0):
            return self.rnn(x)
        params = {k: F.dropout(w, p) if k.startswith("weight_hh") else w for k, w in self.rnn.named_parameters()}
        return functional_call(self.rnn, params, (x,))

    def forward(self, ints: torch.Tensor, chords: torch.Tensor, prev_pitch: torch.Tensor,
                weight: torch.Tensor, tempo: torch.Tensor | None = None, copy_pitch: torch.Tensor | None = None,
                copy_shift: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Teacher-forced losses.

        Args:
            ints: (B, T+1, 9) steps; the last step may be END / padding.
            chords: (B, T+1, 37) chord features per step.
            prev_pitch: (B, T) the last note pitch at or before step t (128 = none).
            weight: (B, T) loss weight of predicting step t+1 from step t.
            tempo: (B,) tempo band of each sequence (with `tempo_edges`; None = unknown).
            copy_pitch, copy_shift: (B, T, k, 49) and (B, T, k, N_SHIFT) cells after step t
                (with `copy_pitch` / `copy_shift`; see `collate`).

        Returns:
            'loss' (weighted mean NLL per predicted note), per-position NLLs 'nll' (B, T)
            summed over the note's parts, and 'parts' (B, T, 4): the shift (or END), pitch,
            duration and velocity parts (0 where no note is predicted).
        """
        x = self.embed(ints[:, :-1], chords[:, :-1])
        if self.cfg.tempo_edges:
            if tempo is None:
                unknown = len(self.cfg.tempo_edges) + 1
                tempo = torch.full((ints.shape[0],), unknown, dtype=torch.long, device=ints.device)
            x = x + self.e_tempo(tempo).unsqueeze(1)
        x = self.drop(x)
        h, _ = self.recur(x)
        h = self.drop(h)
        if self.attn is not None:
            h = self.attn(h)
        tgt = ints[:, 1:]
        tk, ts, tp, td, tv, tpos = (tgt[..., i] for i in range(6))
        is_end = (tk == END) | (tk == SEP)  # a note before a SEP ends its phrase
        shift_t = torch.where(is_end, torch.full_like(ts, N_SHIFT), ts.clamp(max=N_SHIFT))
        nll = F.cross_entropy(self.shift_logits(h, copy_shift).transpose(1, 2), shift_t, reduction="none")
        note = (~is_end) & (weight > 0)
        safe = lambda t, hi: torch.where(note, t, torch.zeros_like(t)).clamp(max=hi)  # noqa: E731
        g1 = self.g1(h, safe(shift_t, N_SHIFT), safe(tpos, BAR_TICKS - 1), chords[:, 1:])
        pl = self.pitch_logits(g1, prev_pitch, chords[:, 1:], copy_pitch)
        p_t = safe(tp, 127)
        nll_p = F.cross_entropy(pl.transpose(1, 2), p_t, reduction="none")
        g2 = g1 + self.t_pitch(p_t)
        d_t = safe(td, N_DUR - 1)
        nll_d = F.cross_entropy(self.o_dur(g2).transpose(1, 2), d_t, reduction="none")
        g3 = g2 + self.t_dur(d_t)
        nll_v = F.cross_entropy(self.o_vel(g3).transpose(1, 2), safe(tv, N_VEL - 1), reduction="none")
        zero = torch.zeros_like(nll)
        parts = torch.stack([nll] + [torch.where(note, x, zero) for x in (nll_p, nll_d, nll_v)], -1)
        nll = parts.sum(-1)
        loss = (nll * weight).sum() / weight.sum().clamp(min=1e-6)
        return {"loss": loss, "nll": nll, "parts": parts}


class Batch(NamedTuple):
    """A padded batch, in `PhraseModel.forward`'s argument order (`model(*batch)`)."""

    ints: torch.Tensor
    chords: torch.Tensor
    prev_pitch: torch.Tensor
    weight: torch.Tensor
    tempo: torch.Tensor | None = None
    copy_pitch: torch.Tensor | None = None
    copy_shift: torch.Tensor | None = None


def collate(seqs: list[tuple], call_weight: float = 0.5, device: str | torch.device = "cpu",
            cfg: ModelConfig | None = None) -> Batch:
    """Sequences of steps (`model_input.pair_steps`) -> a padded `Batch`.

    A complete sequence gets an END step to predict; call notes weigh `call_weight`,
    answer notes and END weigh 1. A note followed by a SEP predicts END (its phrase is
    over) with its own note's weight; START followed by SEP predicts nothing. Each
    sequence is (steps, complete) or (steps, complete, tempo in bpm or None). With `cfg`
    the batch also carries what that model reads beside the steps: the tempo band of each
    sequence and the copy cells after every step.
    """
    from improv.core.model.inputs import ANSWER, CALL, NONE_DUR, NONE_POS, NONE_SHIFT, NONE_VEL, PADK

    pad_ints = [PADK, NONE_SHIFT, NONE_PITCH, NONE_DUR, NONE_VEL, NONE_POS, N_DENSITY, N_CENTER, MAX_BARS]
    end_ints = [END] + pad_ints[1:]
    T1 = max(len(sq[0]) + (1 if sq[1] else 0) for sq in seqs)
    B = len(seqs)
    ints = np.tile(np.array(pad_ints, dtype=np.int64), (B, T1, 1))  # (numpy: filled element by element)
    chords = np.zeros((B, T1, N_CHORD_FEATURES), dtype=np.float32)
    chords[..., -1] = 1.0
    prev = np.full((B, T1 - 1), NONE_PITCH, dtype=np.int64)
    weight = np.zeros((B, T1 - 1), dtype=np.float32)
    kp, ks = (cfg.copy_pitch, cfg.copy_shift) if cfg is not None else (0, 0)
    cp = np.zeros((B, T1 - 1, kp, N_INTERVALS), dtype=np.float32) if kp else None
    cs = np.zeros((B, T1 - 1, ks, N_SHIFT), dtype=np.float32) if ks else None
    for b, (steps, complete, *_) in enumerate(seqs):
        rows = [list(s[:9]) for s in steps] + ([end_ints] if complete else [])
        ints[b, :len(rows)] = rows
        if steps:
            chords[b, :len(steps)] = [s[9] for s in steps]
        last = NONE_PITCH
        index = CopyIndex(kp, ks) if kp or ks else None
        prev_b, weight_b = prev[b], weight[b]
        for t in range(len(rows) - 1):
            k, nk = rows[t][0], rows[t + 1][0]
            if k in (CALL, ANSWER):
                last = rows[t][2]
                if index is not None:
                    index.push(rows[t][2], rows[t][1])
            prev_b[t] = last
            if nk == SEP:
                w = call_weight if k == CALL else (1.0 if k == ANSWER else 0.0)
            else:
                w = call_weight if nk == CALL else (1.0 if nk in (ANSWER, END) else 0.0)
            weight_b[t] = w
            if index is not None and w > 0:
                if cp is not None:
                    index.pitch_features(cp[b, t])
                if cs is not None:
                    index.shift_features(cs[b, t])
    tempo = None
    if cfg is not None and cfg.tempo_edges:
        tempo = torch.tensor([cfg.tempo_band(sq[2] if len(sq) > 2 else None) for sq in seqs], dtype=torch.long
                             ).to(device)
    ints, chords, prev, weight = (torch.from_numpy(a).to(device) for a in (ints, chords, prev, weight))
    return Batch(ints, chords, prev, weight, tempo,
                 None if cp is None else torch.from_numpy(cp).to(device),
                 None if cs is None else torch.from_numpy(cs).to(device))


__all__ = ["ModelConfig", "PhraseModel", "Head", "Batch", "collate", "MAX_INTERVAL", "center_of", "CENTER_LOW", "CENTER_STEP",
           "FORMAT", "vocabulary", "load_checkpoint", "save_checkpoint", "from_weights"]


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(path, model: PhraseModel, extra: dict | None = None) -> None:
    """Write model weights + config + vocabulary (+ `extra`, e.g. training state) atomically."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"format": FORMAT, "config": model.cfg.to_dict(), "vocab": vocabulary(),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    ckpt.update(extra or {})
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)


def load_checkpoint(path, fix: str = "train one with `improv train` or give --model PATH") -> tuple[PhraseModel, dict]:
    """Read a checkpoint with `weights_only=True` -> (model in eval mode, the whole dict).

    Args:
        path: the `.pt` file.
        fix: what to do when it is missing or not a checkpoint, in the caller's own flags
            (the default names `--model`, which `train` and `export` do not have).

    Raises:
        ModelError: the file is missing, unreadable, or from another format or vocabulary.
    """
    from pathlib import Path

    from improv.errors import ModelError

    path = Path(path)
    if not path.is_file():
        last = path.with_name("last.pt")
        if path.name == "best.pt" and last.is_file():  # stopped before its first validation: no best yet
            raise ModelError(f"model checkpoint {path} not found: the run stopped before it validated; {last} is "
                             "there (its latest weights): give that, or train on")
        raise ModelError(f"model checkpoint {path} not found: {fix}")
    if path.suffix.lower() == ".npz":  # (torch read it as a damaged file)
        raise ModelError(f"{path} is exported weights, what the partner plays with, not a training checkpoint "
                         f"(.pt): {fix}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a damaged file
        raise ModelError(f"model checkpoint {path} cannot be read ({type(e).__name__}): the file is damaged or "
                         "not a checkpoint; re-download or retrain it") from None
    found = ckpt.get("format") if isinstance(ckpt, dict) else None
    if isinstance(found, str) and found.startswith("improv-") and found != FORMAT:
        raise ModelError(f"{path} is an improv checkpoint of another format ({found!r}; this version reads "
                         f"{FORMAT!r}): retrain it, or use the improv version that wrote it")
    if found != FORMAT:
        raise ModelError(f"{path} is not an improv training checkpoint: {fix}")
    if ckpt.get("vocab") != vocabulary():
        raise ModelError(f"model checkpoint {path} was trained with another token vocabulary; retrain it")
    try:
        model = PhraseModel(ModelConfig.from_dict(ckpt["config"]))
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise ModelError(f"model checkpoint {path} does not match the model code: {str(e).splitlines()[0]}") from None
    model.eval()
    return model, ckpt


def from_weights(weights) -> PhraseModel:
    """A `PhraseModel` (eval mode) holding `ModelWeights` (e.g. the shipped `.npz`), for
    scoring and fine-tuning."""
    model = PhraseModel(weights.cfg)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.arrays.items()})
    return model.eval()
